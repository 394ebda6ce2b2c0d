// Courtyard home hub: the Charging and Notices tabs. The hub asks the community (which runs the
// charging shed) and shows its answers; every word from the community is put in as text.
"use strict";

window.CourtyardCharging = ({ t, api, locale }) => {
  const $ = (sel) => document.querySelector(sel);
  const state = { notices: [], unread: 0, sessions: [], requests: [], sending: false };

  const when = (ms) => new Date(ms).toLocaleString(locale(), {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const known = (group, key) => {
    const text = t(`ch.${group}.${key}`);
    return text === key ? null : text;
  };
  const reasonLabel = (reason) => (reason ? known("reason", reason) || reason : "");
  const portLabel = (params) => params.port_name || params.port || "";

  function noticeText(notice) {
    if (notice.category === "charging") {
      const template = known("code", notice.code);
      if (template) {
        return t(`ch.code.${notice.code}`, {
          port: portLabel(notice.params), reason: reasonLabel(notice.params.reason),
        });
      }
    }
    return notice.title || notice.code;
  }

  async function load() {
    const [notices, charging] = await Promise.all([api("GET", "/api/notices"), api("GET", "/api/charging")]);
    if (notices.ok) {
      state.notices = notices.body.notices;
      state.unread = notices.body.unread;
    }
    if (charging.ok) {
      state.sessions = charging.body.sessions;
      state.requests = charging.body.requests;
    }
    render();
  }

  function render() {
    const badge = $("#notices-unread");
    badge.textContent = String(state.unread);
    badge.hidden = state.unread === 0;
    renderSessions();
    renderRequests();
    renderNotices();
    if (window.CourtyardNoticeExtras) window.CourtyardNoticeExtras.update(state.notices);
  }

  function renderSessions() {
    $("#charging-empty").hidden = state.sessions.length > 0;
    $("#charging-sessions").replaceChildren(...state.sessions.map((session) => {
      const li = document.createElement("li");
      li.className = "session";
      li.dataset.port = session.port_id;
      li.dataset.status = session.status;
      const name = document.createElement("strong");
      name.textContent = session.port_name;
      const status = document.createElement("span");
      status.className = "badge";
      status.dataset.testid = "session-status";
      status.textContent = session.status === "active"
        ? t("ch.active_since", { time: when(session.since_ms) })
        : t("ch.ended", { reason: reasonLabel(session.reason) });
      li.append(name, " ", status);
      if (session.status === "active") {
        const stop = document.createElement("button");
        stop.type = "button";
        stop.className = "danger ghost";
        stop.dataset.testid = "stop-session";
        stop.textContent = t("ch.stop");
        stop.addEventListener("click", () => ask("stop", session.port_id));
        li.append(" ", stop);
      }
      return li;
    }));
  }

  function renderRequests() {
    const waiting = state.requests.filter((r) => r.answer == null);
    $("#charging-waiting").hidden = waiting.length === 0;
    $("#charging-waiting").textContent = waiting.length
      ? t("ch.waiting", { port: waiting[0].port_id }) : "";
  }

  function renderNotices() {
    $("#notices-empty").hidden = state.notices.length > 0;
    $("#notices").replaceChildren(...state.notices.map((notice) => {
      const li = document.createElement("li");
      li.className = "notice";
      li.dataset.noticeId = notice.notice_id;
      li.dataset.code = notice.code;
      li.dataset.read = String(notice.read);
      const time = document.createElement("time");
      time.textContent = when(notice.issued_ms);
      const text = document.createElement("span");
      text.className = "notice-text";
      text.textContent = noticeText(notice);
      li.append(time, " ", text);
      if (notice.category !== "charging" && notice.body) {
        const body = document.createElement("p");
        body.className = "muted notice-body";
        body.textContent = notice.body;
        li.append(body);
      }
      if (window.CourtyardNoticeExtras) window.CourtyardNoticeExtras.decorate(li, notice);
      if (!notice.read) {
        const read = document.createElement("button");
        read.type = "button";
        read.className = "link";
        read.dataset.testid = "mark-read";
        read.textContent = t("ch.mark_read");
        read.addEventListener("click", () => markRead(notice.notice_id));
        li.append(" ", read);
      }
      return li;
    }));
  }

  async function ask(action, portId) {
    const result = $("#charging-result");
    if (!portId) {
      result.textContent = t("ch.need_port");
      result.hidden = false;
      return;
    }
    state.sending = true;
    const answer = await api("POST", "/api/charging/requests", { action, port_id: portId });
    state.sending = false;
    result.hidden = false;
    result.dataset.outcome = answer.ok ? "sent" : "failed";
    result.textContent = answer.ok
      ? t(action === "start" ? "ch.start_sent" : "ch.stop_sent", { port: portId })
      : answer.body.error || t("err.protocol_error");
    await load();
  }

  async function markRead(noticeId) {
    const result = await api("POST", `/api/notices/${encodeURIComponent(noticeId)}/read`);
    if (result.ok) await load();
  }

  $("#charging-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask("start", $("#charging-port").value.trim());
  });

  return { load, render };
};
