// Courtyard home hub: the Visitors tab. The resident issues a time-limited pass for a visitor;
// the property signs it and the answer carries the pass code, which the visitor shows at the
// gate as a QR code (the gate checks it offline). Passes can be revoked here.
// Self-contained: its own strings (zh/en) and tab switching, so the shared page only needs a
// tab button, a section and this script. Everything from the community is put in as text.
"use strict";

(() => {
  const POLL_MS = 2000;
  const TEXT = {
    en: {
      tab: "Visitors", title: "Visitor passes",
      intro: "Give a visitor a pass for a time window. They show the code at the gate; the gate checks it on its own. Their name stays on this hub.",
      name: "Visitor's name", plate: "Car plate (optional)", from: "Valid from", to: "Valid until",
      entries: "Entries", issue: "Issue pass", mine: "My passes", none: "No passes yet.",
      sent: "Asked the property for a pass…", need: "Fill in the name and both times.",
      waiting: "Waiting for the property…", code: "Pass code (show as QR at the gate)",
      revoke: "Revoke", revoked: "Revoked", revoking: "Revoking…", refused: "Refused: {reason}",
      window: "{from} – {to}", n_entries: "{n} entries",
      reason: {
        window_backwards: "the end is before the start",
        window_too_long: "a pass may last at most 7 days",
        starts_in_past: "the time is in the past",
        starts_too_late: "the start is too far ahead",
        bad_time: "the time is not valid",
        bad_entries: "entries must be 1 to 20",
        bad_name: "the name is not valid",
        bad_plate: "the plate is not valid",
        too_many_passes: "you have too many open passes",
        unknown_home: "this hub is not registered with the property",
      },
    },
    zh: {
      tab: "访客", title: "访客通行证",
      intro: "为访客开具限时通行证。访客在门口出示通行码，门禁离线核验。访客姓名只保存在本网关。",
      name: "访客姓名", plate: "车牌（可选）", from: "生效时间", to: "失效时间",
      entries: "可进入次数", issue: "开具通行证", mine: "我的通行证", none: "暂无通行证。",
      sent: "已向物业申请通行证…", need: "请填写姓名和起止时间。",
      waiting: "等待物业答复…", code: "通行码（在门口以二维码出示）",
      revoke: "作废", revoked: "已作废", revoking: "正在作废…", refused: "被拒绝：{reason}",
      window: "{from} – {to}", n_entries: "{n} 次",
      reason: {
        window_backwards: "结束时间早于开始时间",
        window_too_long: "通行证最长 7 天",
        starts_in_past: "时间已过",
        starts_too_late: "开始时间太远",
        bad_time: "时间无效",
        bad_entries: "次数须为 1 到 20",
        bad_name: "姓名无效",
        bad_plate: "车牌无效",
        too_many_passes: "未到期的通行证太多",
        unknown_home: "本网关未在物业登记",
      },
    },
  };
  const $ = (sel) => document.querySelector(sel);
  const state = { passes: [], timer: null };

  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  function t(key, vars) {
    let value = TEXT[lang()];
    for (const part of key.split(".")) value = value == null ? undefined : value[part];
    if (value == null) return key.split(".").pop();
    return String(value).replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : ""));
  }
  const when = (iso) => new Date(iso).toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB", {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
        credentials: "same-origin",
      });
    } catch {
      return { ok: false, body: { error: "network" } };
    }
    let parsed = {};
    try { parsed = await response.json(); } catch { parsed = {}; }
    if (response.status === 401) location.assign("/login");
    return { ok: response.ok, body: parsed };
  }

  async function load() {
    const answer = await api("GET", "/api/visitors");
    if (answer.ok) state.passes = answer.body.passes;
    render();
  }

  function render() {
    $("#tab-visitors").textContent = t("tab");
    for (const el of document.querySelectorAll("#page-visitors [data-v]")) el.textContent = t(el.dataset.v);
    $("#visitors-empty").hidden = state.passes.length > 0;
    $("#visitors-passes").replaceChildren(...state.passes.map(passItem));
  }

  function passItem(pass) {
    const li = document.createElement("li");
    li.className = "visitor-pass";
    li.dataset.requestId = pass.request_id;
    li.dataset.passId = pass.pass_id;
    const status = pass.revoked ? "revoked" : pass.answer == null ? "waiting"
      : pass.answer === "issued" ? "issued" : "refused";
    li.dataset.status = status;
    const name = document.createElement("strong");
    name.textContent = pass.name + (pass.plate ? ` · ${pass.plate}` : "");
    const window_ = document.createElement("span");
    window_.className = "muted";
    window_.textContent = ` ${t("window", { from: when(pass.valid_from), to: when(pass.valid_to) })}`
      + ` · ${t("n_entries", { n: pass.entries })}`;
    li.append(name, window_);
    const line = document.createElement("p");
    line.dataset.testid = "pass-status";
    if (status === "waiting") line.textContent = t("waiting");
    else if (status === "refused") {
      line.className = "error";
      line.textContent = t("refused", { reason: t(`reason.${pass.reason}`) });
    } else if (status === "revoked") line.textContent = t("revoked");
    if (line.textContent) li.append(line);
    if (status === "issued") {
      const label = document.createElement("p");
      label.className = "muted small";
      label.textContent = t("code");
      const code = document.createElement("code");
      code.className = "pass-code";
      code.dataset.testid = "pass-code";
      code.style.wordBreak = "break-all";
      code.textContent = pass.qr;
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "danger ghost";
      revoke.dataset.testid = "revoke-pass";
      revoke.disabled = pass.revoking;
      revoke.textContent = pass.revoking ? t("revoking") : t("revoke");
      revoke.addEventListener("click", async () => {
        revoke.disabled = true;
        await api("POST", `/api/visitors/passes/${encodeURIComponent(pass.pass_id)}/revoke`);
        await load();
      });
      li.append(label, code, document.createElement("br"), revoke);
    }
    return li;
  }

  function show(visible) {
    $("#page-visitors").hidden = !visible;
    const tab = $("#tab-visitors");
    if (visible) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
    clearInterval(state.timer);
    state.timer = null;
    if (visible) {
      for (const main of document.querySelectorAll("main")) main.hidden = main.id !== "page-visitors";
      load();
      state.timer = setInterval(load, POLL_MS);
    }
  }

  async function issue(event) {
    event.preventDefault();
    const result = $("#visitors-result");
    const name = $("#visitor-name").value.trim();
    const from = $("#visitor-from").value;
    const to = $("#visitor-to").value;
    result.hidden = false;
    if (!name || !from || !to) {
      result.dataset.outcome = "failed";
      result.textContent = t("need");
      return;
    }
    const body = {
      name,
      valid_from: new Date(from).toISOString(),
      valid_to: new Date(to).toISOString(),
      entries: Number($("#visitor-entries").value) || 1,
    };
    const plate = $("#visitor-plate").value.trim();
    if (plate) body.plate = plate;
    const answer = await api("POST", "/api/visitors/passes", body);
    result.dataset.outcome = answer.ok ? "sent" : "failed";
    result.textContent = answer.ok ? t("sent") : answer.body.error || "error";
    if (answer.ok) $("#visitor-form").reset();
    await load();
  }

  function start() {
    for (const tab of document.querySelectorAll(".tab")) {
      tab.addEventListener("click", () => {
        if (tab.id === "tab-visitors") {
          for (const other of document.querySelectorAll(".tab")) if (other !== tab) other.removeAttribute("aria-current");
          history.replaceState(null, "", "#visitors");
        }
        show(tab.id === "tab-visitors");
      });
    }
    $("#lang-toggle").addEventListener("click", () => setTimeout(render, 0));
    $("#visitor-form").addEventListener("submit", issue);
    render();
    if (location.hash === "#visitors") show(true);
  }

  // After app.js (both deferred): app.js sets the language first.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
