// Courtyard community dashboard: the "Visitors / 访客" page. Plain JS, no build step.
// app.js switches pages (#visitors); this file draws the passes residents issued and the
// entries the gates logged, and lets staff revoke a pass. Staff never see a visitor's name or
// plate: the community keeps only hashes of them. Server data is only ever put in as text.
"use strict";

(() => {
  const I18N = {
    en: {
      tab: "Visitors", title: "Visitor passes", passes: "Passes", entries: "Gate entries",
      col_pass: "Pass", col_home: "Home", col_window: "Valid", col_used: "Entries used",
      col_status: "Status", col_plate: "Plate", col_at: "When", col_gate: "Gate",
      col_verdict: "Verdict", col_reason: "Reason", none: "No passes yet.", no_entries: "No entries yet.",
      revoke: "Revoke", revoked_ok: "Pass {id} revoked; the gates and the home are told.",
      failed: "Action failed", yes: "yes", no: "—", accepted: "Let in", refused: "Refused",
      privacy: "Names and plates stay with the resident; the property sees the home and the times only.",
      st: { active: "Active", upcoming: "Upcoming", used_up: "Used up", expired: "Expired", revoked: "Revoked" },
      rs: {
        accepted: "—", malformed: "unreadable code", bad_signature: "not signed by us (forged?)",
        wrong_community: "another community's pass", not_yet_valid: "not valid yet",
        expired: "expired", used_up: "no entries left", revoked: "revoked", wrong_plate: "plate does not match",
      },
    },
    zh: {
      tab: "访客", title: "访客通行证", passes: "通行证", entries: "门禁记录",
      col_pass: "通行证", col_home: "住户", col_window: "有效期", col_used: "已用次数",
      col_status: "状态", col_plate: "车牌", col_at: "时间", col_gate: "门禁",
      col_verdict: "结果", col_reason: "原因", none: "暂无通行证。", no_entries: "暂无门禁记录。",
      revoke: "作废", revoked_ok: "通行证 {id} 已作废，已通知门禁和住户。",
      failed: "操作失败", yes: "有", no: "—", accepted: "放行", refused: "拒绝",
      privacy: "访客姓名和车牌只保存在住户处；物业只看到住户和时间。",
      st: { active: "有效", upcoming: "未开始", used_up: "次数已用完", expired: "已过期", revoked: "已作废" },
      rs: {
        accepted: "—", malformed: "无法识别", bad_signature: "签名无效（伪造？）",
        wrong_community: "其他小区的通行证", not_yet_valid: "尚未生效",
        expired: "已过期", used_up: "次数已用完", revoked: "已作废", wrong_plate: "车牌不符",
      },
    },
  };
  const POLL_MS = 3000;
  const $ = (sel) => document.querySelector(sel);
  const { toast } = window.Kit;
  const state = { passes: [], entries: [], timer: null };

  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  const t = (key) => {
    let value = I18N[lang()];
    for (const part of key.split(".")) value = value == null ? undefined : value[part];
    return value == null ? key.split(".").pop() : String(value);
  };
  const when = (iso) => (iso ? new Date(iso).toLocaleString(
    lang() === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "");
  const onPage = () => location.hash === "#visitors";

  function cell(text, testid) {
    const td = document.createElement("td");
    td.textContent = text;
    if (testid) td.dataset.testid = testid;
    return td;
  }

  async function call(method, url) {
    const res = await fetch(url, { method, credentials: "same-origin" });
    if (res.status === 401) { location.href = "/login"; throw new Error("signed out"); }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || String(res.status));
    return data;
  }

  async function load() {
    try {
      const [passes, entries] = await Promise.all([
        call("GET", "/api/visitors/passes?limit=200"), call("GET", "/api/visitors/entries?limit=200"),
      ]);
      state.passes = passes.passes;
      state.entries = entries.entries;
      $("#vs-error").hidden = true;
    } catch (err) {
      $("#vs-error").textContent = `${t("failed")}: ${err.message || err}`;
      $("#vs-error").hidden = false;
    }
    render();
  }

  function render() {
    for (const el of document.querySelectorAll("[data-vs-i18n]")) el.textContent = t(el.dataset.vsI18n);
    $("#vs-passes-empty").hidden = state.passes.length > 0;
    $("#vs-passes tbody").replaceChildren(...state.passes.map((pass) => {
      const tr = document.createElement("tr");
      tr.dataset.passId = pass.pass_id;
      tr.dataset.status = pass.status;
      const action = document.createElement("td");
      if (pass.status !== "revoked" && pass.status !== "expired") {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary small";
        button.dataset.testid = "vs-revoke";
        button.textContent = t("revoke");
        button.addEventListener("click", () => revoke(pass.pass_id, button));
        action.append(button);
      }
      tr.append(
        cell(pass.pass_id), cell(pass.home_id),
        cell(`${when(pass.valid_from)} – ${when(pass.valid_to)}`),
        cell(`${pass.used} / ${pass.entries}`, "vs-used"),
        cell(pass.has_plate ? t("yes") : t("no")),
        cell(t(`st.${pass.status}`), "vs-status"), action,
      );
      return tr;
    }));
    $("#vs-entries-empty").hidden = state.entries.length > 0;
    $("#vs-entries tbody").replaceChildren(...state.entries.map((entry) => {
      const tr = document.createElement("tr");
      tr.dataset.passId = entry.pass_id;
      tr.dataset.accepted = String(entry.accepted);
      tr.dataset.reason = entry.reason;
      tr.append(
        cell(when(entry.at)), cell(entry.pass_id || "—"), cell(entry.home_id || "—"),
        cell(entry.device_id), cell(entry.accepted ? t("accepted") : t("refused"), "vs-verdict"),
        cell(t(`rs.${entry.reason}`)),
      );
      return tr;
    }));
  }

  async function revoke(passId, button) {
    button.disabled = true;
    try {
      await call("POST", `/api/visitors/passes/${encodeURIComponent(passId)}/revoke`);
      toast(t("revoked_ok").replace("{id}", passId), false);
    } catch (err) {
      toast(`${t("failed")}: ${err.message || err}`, true);
    }
    await load();
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
