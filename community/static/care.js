// Courtyard community dashboard: the "Care / 关怀" page. Plain JS, no build step.
// app.js switches pages (#care); this file lists the daily care checks that homes escalated
// beyond the home (the family told, the duty staff alarmed) and the meal, care-visit and
// child-care bookings residents made from their hubs. Staff see the home and the times only.
// Server data is only ever put in as text.
"use strict";

(() => {
  const I18N = {
    en: {
      tab: "Care", title: "Daily care checks", bookings: "Meal and care bookings",
      privacy: "A check shows here only after the resident did not answer at home; it says the home and the times, nothing else.",
      col_home: "Home", col_check: "Check time", col_asked: "Asked", col_family: "Family told",
      col_staff: "Alarm", col_status: "Status", col_service: "Service", col_date: "Date",
      col_time: "Time", col_note: "Note", none: "No missed checks.", no_bookings: "No bookings yet.",
      failed: "Could not load", st: { open: "Not answered", ok: "Resident is fine" },
      svc: { meal: "Meal assistance", care_visit: "Care visit", child_care: "Child care" },
    },
    zh: {
      tab: "关怀", title: "每日平安确认", bookings: "助餐与照护预约",
      privacy: "只有住户在家中未应答时才会出现在这里；只显示住户和时间，不含其他信息。",
      col_home: "住户", col_check: "确认时间", col_asked: "询问时间", col_family: "已通知家人",
      col_staff: "告警", col_status: "状态", col_service: "服务", col_date: "日期",
      col_time: "时间", col_note: "备注", none: "暂无未应答的确认。", no_bookings: "暂无预约。",
      failed: "加载失败", st: { open: "未应答", ok: "住户平安" },
      svc: { meal: "助餐", care_visit: "上门照护", child_care: "托育" },
    },
  };
  const POLL_MS = 3000;
  const $ = (sel) => document.querySelector(sel);
  const state = { checks: [], bookings: [], timer: null };

  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  const t = (key) => {
    let value = I18N[lang()];
    for (const part of key.split(".")) value = value == null ? undefined : value[part];
    return value == null ? key.split(".").pop() : String(value);
  };
  const when = (iso) => (iso ? new Date(iso).toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "—");
  const onPage = () => location.hash === "#care";

  function cell(text, testid) {
    const td = document.createElement("td");
    td.textContent = text;
    if (testid) td.dataset.testid = testid;
    return td;
  }

  async function call(url) {
    const res = await fetch(url, { credentials: "same-origin" });
    if (res.status === 401) { location.href = "/login"; throw new Error("signed out"); }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || String(res.status));
    return data;
  }

  async function load() {
    try {
      const [checks, bookings] = await Promise.all([call("/api/care"), call("/api/care/bookings")]);
      state.checks = checks.checks;
      state.bookings = bookings.bookings;
      $("#care-error").hidden = true;
    } catch (err) {
      $("#care-error").textContent = `${t("failed")}: ${err.message || err}`;
      $("#care-error").hidden = false;
    }
    render();
  }

  function render() {
    for (const el of document.querySelectorAll("[data-care-i18n]")) el.textContent = t(el.dataset.careI18n);
    $("#care-checks-empty").hidden = state.checks.length > 0;
    $("#care-checks tbody").replaceChildren(...state.checks.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.home = c.home;
      tr.dataset.status = c.status;
      tr.dataset.escalated = c.escalated_to.join(" ");
      tr.append(cell(c.home), cell(c.check_time || "—"), cell(when(c.asked_at)),
        cell(when(c.family_told_at)), cell(c.staff_alarm_id ? `#${c.staff_alarm_id}` : "—", "care-alarm"),
        cell(t(`st.${c.status}`), "care-status"));
      return tr;
    }));
    $("#care-bookings-empty").hidden = state.bookings.length > 0;
    $("#care-bookings tbody").replaceChildren(...state.bookings.map((b) => {
      const tr = document.createElement("tr");
      tr.dataset.service = b.service;
      tr.append(cell(b.home_id), cell(t(`svc.${b.service}`)), cell(b.date), cell(b.time), cell(b.note || "—"));
      return tr;
    }));
  }

  function follow() {
    clearInterval(state.timer);
    state.timer = null;
    if (onPage()) {
      load();
      state.timer = setInterval(load, POLL_MS);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.addEventListener("hashchange", follow);
    new MutationObserver(render).observe(document.documentElement,
      { attributes: true, attributeFilter: ["lang"] });
    render();
    follow();
  });
})();
