// Courtyard home hub: the Care tab (daily "I'm fine" check, meal and care bookings).
// The resident opts in with a check time, two grace periods and the family member to tell; the
// consent that lets a missed check leave the home is signed here, in the browser, with the
// resident's own Ed25519 key (the same key the Privacy tab uses), never by the hub. When the
// hub asks, every page of the hub sounds (WebAudio) and shows a big "I'm fine" button.
// Self-contained: its own strings (zh/en) and tab switching, so the shared page only needs a
// tab button, a section, a dialog and this script. Everything from the hub is put in as text.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const POLL_MS = 2000;
  const DAYS = 365;
  const DAY_MS = 86400000;
  const DOMAIN = "courtyard-consent-v1\u0000";
  const NOTICE_VERSION = "hub-care-1";
  const DUTY = "property_duty:duty";
  const CATEGORY = "daily_check";
  const SERVICES = ["meal", "care_visit", "child_care"];
  const TEXT = {
    en: {
      tab: "Care", title: "Daily “I'm fine” check",
      intro: "If the home shows no sign of life (a door, a movement, the emergency button) by your check time, the hub asks you first; if nobody answers, it tells the family member you choose, then the duty staff. Only with your consent; they learn only your home, the check time and how far it went.",
      enabled: "Check on me every day", check_time: "Check time", ask_grace: "Minutes to answer before the family is told",
      family_grace: "Minutes before the duty staff are told", family: "Family member to tell",
      no_family: "Register a family member's key on the Privacy tab first.",
      save: "Save", saved: "Saved. The daily check is on.", saved_off: "Saved. The daily check is off; your consent was withdrawn.",
      next: "Next check: {time}", off: "The daily check is off.", last_activity: "Last sign of life: {time}",
      fine: "I'm fine", ask_title: "Are you all right?", ask_text: "Nobody has moved at home since this morning. Press the button to tell the hub you are fine.",
      fine_done: "Thank you. Nobody else will be told.",
      history: "Recent checks", no_history: "No checks yet.",
      audit: "What was shared, and with whom", no_audit: "Nothing has left the home.",
      status: { active: "fine (signs of life)", open: "waiting for you", fine: "you answered", cancelled: "switched off" },
      tier: { asked: "asked at home", family: "family told", duty_staff: "duty staff told" },
      sent: "sent", not_sent: "not sent (no consent)",
      notice: "Daily check: if I do not answer, my home, the check time and how far the check went may be told to {family} (sealed, only they can read it) and to the property duty staff, for {days} days. I can switch it off at any time.",
      book_title: "Meal and care bookings", service: "Service", date: "Date", time: "Time", note: "Note (optional)",
      book: "Book", booked: "Asked the property office…", no_bookings: "No bookings yet.",
      svc: { meal: "Meal assistance", care_visit: "Care visit", child_care: "Child care" },
      answer: { booked: "booked", refused: "refused" }, waiting: "waiting for the property office",
      no_webcrypto: "This browser cannot sign consents.",
    },
    zh: {
      tab: "关怀", title: "每日平安确认",
      intro: "如果到了确认时间家中仍没有任何动静（开关门、走动、紧急按钮），网关会先询问您；无人应答时，依次通知您指定的家人和物业值班人员。仅在您同意时发送，且只包含您的家、确认时间和进行到哪一步。",
      enabled: "每天确认我是否平安", check_time: "确认时间", ask_grace: "通知家人前等待（分钟）",
      family_grace: "通知值班人员前等待（分钟）", family: "要通知的家人",
      no_family: "请先在“隐私”页登记家人的密钥。",
      save: "保存", saved: "已保存，每日平安确认已开启。", saved_off: "已保存，每日平安确认已关闭，您的同意已撤回。",
      next: "下次确认：{time}", off: "每日平安确认未开启。", last_activity: "最近一次动静：{time}",
      fine: "我很好", ask_title: "您还好吗？", ask_text: "今天家中还没有任何动静。请按下按钮告诉网关您一切平安。",
      fine_done: "谢谢，不会再通知其他人。",
      history: "最近的确认", no_history: "暂无记录。",
      audit: "分享了什么、给了谁", no_audit: "没有任何信息离开家中。",
      status: { active: "平安（有动静）", open: "等待您应答", fine: "您已应答", cancelled: "已关闭" },
      tier: { asked: "已在家中询问", family: "已通知家人", duty_staff: "已通知值班人员" },
      sent: "已发送", not_sent: "未发送（未同意）",
      notice: "每日平安确认：如果我没有应答，我的家、确认时间和确认进行到哪一步可告知{family}（加密，仅其本人可读）和物业值班人员，期限 {days} 天。我可以随时关闭。",
      book_title: "助餐与照护预约", service: "服务", date: "日期", time: "时间", note: "备注（可选）",
      book: "预约", booked: "已发送给物业…", no_bookings: "暂无预约。",
      svc: { meal: "助餐", care_visit: "上门照护", child_care: "托育" },
      answer: { booked: "已预约", refused: "已拒绝" }, waiting: "等待物业回复",
      no_webcrypto: "此浏览器无法签署同意书。",
    },
  };
  const state = { view: null, privacy: null, timer: null, audio: null, beeping: null };
  const utf8 = new TextEncoder();

  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  const locale = () => (lang() === "zh" ? "zh-CN" : "en-GB");
  function t(key, vars) {
    let value = TEXT[lang()];
    for (const part of key.split(".")) value = value == null ? undefined : value[part];
    if (value == null) value = key.split(".").pop();
    return String(value).replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : ""));
  }
  const when = (ms) => new Date(ms).toLocaleString(locale(), { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method, credentials: "same-origin",
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      return { ok: false, body: { error: "network" } };
    }
    let parsed = {};
    try { parsed = await response.json(); } catch { parsed = {}; }
    if (response.status === 401) location.assign("/login");
    return { ok: response.ok, body: parsed };
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    node.append(...children);
    return node;
  }

  // --- the resident's signing key (the Privacy tab's, in IndexedDB) ---------------------------

  function canon(value) {
    if (Array.isArray(value)) return `[${value.map(canon).join(",")}]`;
    if (value !== null && typeof value === "object") {
      return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canon(value[k])}`).join(",")}}`;
    }
    return JSON.stringify(value);
  }
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
  const b64url = (buf) => b64(buf).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const sha256 = async (bytes) => hex(await crypto.subtle.digest("SHA-256", bytes));

  function keyStore(mode, work) {
    return new Promise((resolve, reject) => {
      const opened = indexedDB.open("courtyard-resident", 1);
      opened.onupgradeneeded = () => opened.result.createObjectStore("keys");
      opened.onerror = () => reject(opened.error);
      opened.onsuccess = () => {
        const tx = opened.result.transaction("keys", mode);
        const request = work(tx.objectStore("keys"));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error);
      };
    });
  }

  async function signer(privacy) {
    if (!window.crypto || !crypto.subtle) throw new Error(t("no_webcrypto"));
    const name = `${privacy.home}/${privacy.resident}`;
    let pair = await keyStore("readonly", (s) => s.get(name));
    if (!pair) {
      pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      await keyStore("readwrite", (s) => s.put(pair, name));
    }
    const kid = (await sha256(await crypto.subtle.exportKey("raw", pair.publicKey))).slice(0, 16);
    const der = b64(await crypto.subtle.exportKey("spki", pair.publicKey));
    const pem = `-----BEGIN PUBLIC KEY-----\n${der.match(/.{1,64}/g).join("\n")}\n-----END PUBLIC KEY-----\n`;
    const registered = await api("POST", "/api/privacy/resident", { subject: privacy.resident, public_key_pem: pem });
    if (!registered.ok) throw new Error(registered.body.error || "network");
    return async (record) => {
      const sig = await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, utf8.encode(DOMAIN + canon(record)));
      return { record, signer: kid, sig: b64url(sig) };
    };
  }

  const live = (r) => r.status === "granted" && Date.parse(r.expires_at) > Date.now()
    && r.categories.some((g) => g.category === CATEGORY);

  async function grant(privacy, sign, purpose, recipient, noticeText) {
    const now = new Date();
    const fields = [...privacy.categories[CATEGORY].fields].sort();
    return sign({
      v: 1,
      consent_id: crypto.randomUUID().replace(/-/g, ""),
      revision: 0,
      subject: privacy.resident,
      home: privacy.home,
      purpose,
      legal_basis: "consent",
      categories: [{ category: CATEGORY, sensitive: true, fields, retention_days: DAYS }],
      recipients: [recipient],
      granted_at: now.toISOString(),
      expires_at: new Date(now.getTime() + DAYS * DAY_MS).toISOString(),
      collection_method: "hub_ui",
      notice: { version: NOTICE_VERSION, sha256: await sha256(utf8.encode(noticeText)) },
      status: "granted",
      withdrawn_at: null,
    });
  }

  /** Make the consents match the choice: grant what is missing, withdraw what is not wanted. */
  async function syncConsents(enabled, family) {
    const answer = await api("GET", "/api/privacy");
    if (!answer.ok) throw new Error(answer.body.error || "network");
    const privacy = answer.body;
    const sign = await signer(privacy);
    const mine = privacy.consents.filter(live);
    const wanted = enabled ? [["family_notification", family], ["care_service", DUTY]] : [];
    const keep = (r) => wanted.some(([p, who]) => r.purpose === p && r.recipients.includes(who));
    for (const record of mine.filter((r) => !keep(r))) {
      const at = new Date(Math.max(Date.now(), Date.parse(record.granted_at)));
      const signed = await sign({ ...record, revision: record.revision + 1, status: "withdrawn", withdrawn_at: at.toISOString() });
      const done = await api("POST", "/api/privacy/consent", signed);
      if (!done.ok) throw new Error(done.body.error || "network");
    }
    const noticeText = t("notice", { family, days: DAYS });
    for (const [purpose, who] of wanted) {
      if (mine.some((r) => r.purpose === purpose && r.recipients.includes(who))) continue;
      const done = await api("POST", "/api/privacy/consent", await grant(privacy, sign, purpose, who, noticeText));
      if (!done.ok) throw new Error(done.body.error || "network");
    }
  }

  // --- the page -----------------------------------------------------------------------------

  async function load() {
    const answer = await api("GET", "/api/care");
    if (answer.ok) state.view = answer.body;
    render();
  }

  function render() {
    $("#tab-care").textContent = t("tab");
    for (const node of document.querySelectorAll("[data-c]")) node.textContent = t(node.dataset.c);
    const view = state.view;
    if (!view) return;
    renderSettings(view);
    renderAsk(view);
    renderHistory(view);
    renderBookings(view);
  }

  function renderSettings(view) {
    const s = view.settings;
    const select = $("#care-family");
    if (document.activeElement === select || $("#care-form").dataset.dirty === "1") return renderStatus(view);
    select.replaceChildren(...view.family_recipients.map((id) => el("option", { value: id, textContent: id.split(":")[1] })));
    if (s.family && view.family_recipients.includes(s.family)) select.value = s.family;
    $("#care-no-family").hidden = view.family_recipients.length > 0;
    $("#care-enabled").checked = s.enabled;
    $("#care-time").value = s.check_time;
    $("#care-ask-grace").value = String(Math.round(s.ask_grace_s / 60));
    $("#care-family-grace").value = String(Math.round(s.family_grace_s / 60));
    renderStatus(view);
  }

  function renderStatus(view) {
    const status = $("#care-status");
    const parts = [view.settings.enabled && view.next_check_ms ? t("next", { time: when(view.next_check_ms) }) : t("off")];
    if (view.last_activity_ms) parts.push(t("last_activity", { time: when(view.last_activity_ms) }));
    status.textContent = parts.join(" · ");
  }

  function renderAsk(view) {
    const dialog = $("#care-ask");
    const asking = view.asking;
    dialog.dataset.checkId = asking ? asking.check_id : "";
    if (asking && !dialog.open) dialog.showModal();
    if (!asking && dialog.open) dialog.close();
    if (asking) beep(); else quiet();
  }

  function beep() {
    document.body.dataset.careSounding = "true";
    if (state.beeping) return;
    const tone = () => {
      try {
        state.audio = state.audio || new AudioContext();
        if (state.audio.state === "suspended") state.audio.resume();
        const osc = state.audio.createOscillator();
        const gain = state.audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(state.audio.destination);
        osc.start();
        osc.stop(state.audio.currentTime + 0.4);
      } catch { /* no audio device: the dialog still shows */ }
    };
    tone();
    state.beeping = setInterval(tone, 1500);
  }

  function quiet() {
    delete document.body.dataset.careSounding;
    clearInterval(state.beeping);
    state.beeping = null;
  }

  function renderHistory(view) {
    $("#care-history-empty").hidden = view.checks.length > 0;
    $("#care-history").replaceChildren(...view.checks.map((c) => {
      const li = el("li", { className: "care-check" });
      li.dataset.status = c.status;
      li.dataset.tier = c.tier || "";
      const tiers = [];
      if (c.tier) tiers.push(t("tier.asked"));
      if (c.family_ms) tiers.push(`${t("tier.family")} (${t(c.family_sent ? "sent" : "not_sent")})`);
      if (c.staff_ms) tiers.push(`${t("tier.duty_staff")} (${t(c.staff_sent ? "sent" : "not_sent")})`);
      li.append(el("strong", { textContent: `${c.day} ${c.check_time}` }), " ",
        el("span", { className: "badge", textContent: t(`status.${c.status}`) }),
        tiers.length ? ` ${tiers.join(" → ")}` : "");
      return li;
    }));
    $("#care-audit-empty").hidden = view.audit.length > 0;
    $("#care-audit").replaceChildren(...view.audit.map((a) => {
      const li = el("li", {});
      li.dataset.action = a.action;
      li.append(el("span", { className: "muted", textContent: new Date(a.at).toLocaleString(locale()) }), " ",
        el("strong", { textContent: a.to }), ` ${a.what}`);
      return li;
    }));
  }

  function renderBookings(view) {
    const select = $("#care-service");
    if (!select.options.length || select.dataset.lang !== lang()) {
      const current = select.value;
      select.replaceChildren(...SERVICES.map((s) => el("option", { value: s, textContent: t(`svc.${s}`) })));
      if (current) select.value = current;
      select.dataset.lang = lang();
    }
    $("#care-bookings-empty").hidden = view.bookings.length > 0;
    $("#care-bookings").replaceChildren(...view.bookings.map((b) => {
      const li = el("li", { className: "care-booking" });
      li.dataset.answer = b.answer || "";
      const answer = b.answer ? t(`answer.${b.answer}`) : t("waiting");
      li.append(el("strong", { textContent: t(`svc.${b.body.service}`) }),
        ` ${b.body.date} ${b.body.time} · `, el("span", { className: "badge", textContent: answer }));
      return li;
    }));
  }

  function result(id, text, ok) {
    const node = $(id);
    node.textContent = text;
    node.dataset.outcome = ok ? "passed" : "failed";
    node.hidden = false;
  }

  async function save(event) {
    event.preventDefault();
    const enabled = $("#care-enabled").checked;
    const family = $("#care-family").value;
    const body = {
      enabled,
      check_time: $("#care-time").value,
      ask_grace_s: Math.round(Number($("#care-ask-grace").value) * 60),
      family_grace_s: Math.round(Number($("#care-family-grace").value) * 60),
      family,
    };
    const answer = await api("POST", "/api/care/settings", body);
    if (!answer.ok) return result("#care-result", answer.body.error || "network", false);
    try {
      await syncConsents(enabled, family);
    } catch (exc) {
      return result("#care-result", String(exc.message || exc), false);
    }
    $("#care-form").dataset.dirty = "0";
    result("#care-result", t(enabled ? "saved" : "saved_off"), true);
    await load();
  }

  async function fine() {
    await api("POST", "/api/care/fine", {});
    quiet();
    $("#care-ask").close();
    result("#care-result", t("fine_done"), true);
    await load();
  }

  async function book(event) {
    event.preventDefault();
    const body = { service: $("#care-service").value, date: $("#care-date").value, time: $("#care-book-time").value, note: $("#care-note").value };
    const answer = await api("POST", "/api/care/bookings", body);
    if (!answer.ok) return result("#care-book-result", answer.body.error || "network", false);
    result("#care-book-result", t("booked"), true);
    $("#care-book-form").reset();
    await load();
  }

  function show(visible) {
    $("#page-care").hidden = !visible;
    const tab = $("#tab-care");
    if (visible) {
      tab.setAttribute("aria-current", "page");
      for (const main of document.querySelectorAll("main")) main.hidden = main.id !== "page-care";
      load();
    } else {
      tab.removeAttribute("aria-current");
    }
  }

  function start() {
    for (const tab of document.querySelectorAll(".tab")) {
      tab.addEventListener("click", () => {
        if (tab.id === "tab-care") {
          for (const other of document.querySelectorAll(".tab")) if (other !== tab) other.removeAttribute("aria-current");
          history.replaceState(null, "", "#care");
        }
        show(tab.id === "tab-care");
      });
    }
    $("#lang-toggle").addEventListener("click", () => setTimeout(render, 0));
    $("#care-form").addEventListener("submit", save);
    $("#care-form").addEventListener("input", () => { $("#care-form").dataset.dirty = "1"; });
    $("#care-fine").addEventListener("click", fine);
    $("#care-fine-page").addEventListener("click", fine);
    $("#care-book-form").addEventListener("submit", book);
    render();
    if (location.hash === "#care") show(true);
    load();
    // The ask must reach the resident whichever tab is open.
    state.timer = setInterval(load, POLL_MS);
  }

  // After app.js (both deferred): app.js sets the language first.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
