// Courtyard community dashboard: the "Notices / 通知" page. Plain JS, no build step.
// The property manager publishes a notice to the community, a building or chosen homes and
// watches it reach the homes: each hub's receipt (delivered, read) shows up here. The page
// re-reads while it is open (receipts arrive from hubs at any time) and on every live snapshot.
// Data from the server is only ever put into the page as text.
"use strict";

(() => {
  const I18N = {
    en: {
      tab: "Notices", title: "Notices", publish: "Publish", new_notice: "New notice",
      f_title: "Title", f_body: "Text", f_scope: "To", f_building: "Building",
      f_homes: "Homes (comma separated)", f_urgent: "Urgent (hubs sound and show a banner)",
      scope_community: "Whole community", scope_building: "One building", scope_homes: "Chosen homes",
      col_title: "Notice", col_audience: "To", col_published: "Published", col_delivered: "Delivered",
      col_read: "Read", col_pending: "Waiting", empty: "No notices published yet.",
      urgent: "Urgent", published: "Notice published to {n} home(s)", failed: "Could not publish",
      load_failed: "Could not load", receipts: "Receipts", col_home: "Home", col_hub: "Hub",
      col_status: "Status", col_at: "When", building: "building {b}", homes: "{n} home(s)",
      st_pending: "Waiting for the hub", st_delivered: "Delivered", st_read: "Read",
    },
    zh: {
      tab: "通知", title: "通知", publish: "发布", new_notice: "发布通知",
      f_title: "标题", f_body: "内容", f_scope: "发送给", f_building: "楼栋",
      f_homes: "住户（以逗号分隔）", f_urgent: "紧急（网关会响铃并显示横幅）",
      scope_community: "全体住户", scope_building: "指定楼栋", scope_homes: "指定住户",
      col_title: "通知", col_audience: "对象", col_published: "发布时间", col_delivered: "已送达",
      col_read: "已读", col_pending: "待送达", empty: "尚未发布通知。",
      urgent: "紧急", published: "通知已发布给 {n} 户", failed: "发布失败",
      load_failed: "加载失败", receipts: "回执", col_home: "住户", col_hub: "网关",
      col_status: "状态", col_at: "时间", building: "{b} 号楼", homes: "{n} 户",
      st_pending: "等待网关接收", st_delivered: "已送达", st_read: "已读",
    },
  };
  const POLL_MS = 3000;
  const $ = (sel) => document.querySelector(sel);
  const { el, toast, call } = window.Kit;
  const state = { notices: [], error: "", loaded: false, detail: null };
  let timer = null;

  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  const t = (key, values) => Object.entries(values || {}).reduce(
    (text, [k, v]) => text.replace(`{${k}}`, v), I18N[lang()][key] || I18N.en[key] || key);
  const when = (iso) => (iso ? new Date(iso).toLocaleString(
    lang() === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "—");
  const onPage = () => location.hash === "#notices";

  function audience(a) {
    if (a.scope === "building") return t("building", { b: a.building });
    if (a.scope === "homes") return (a.homes || []).join(", ");
    return t("scope_community");
  }

  async function load() {
    try {
      const data = await call("GET", "/api/notices");
      Object.assign(state, { notices: data.notices, error: "", loaded: true });
      if (state.detail) state.detail = (await call("GET", `/api/notices/${state.detail.id}`)).notice;
    } catch (err) {
      Object.assign(state, { loaded: true, error: `${t("load_failed")}: ${err.message || err}` });
    }
    render();
  }

  function schedule() {
    clearTimeout(timer);
    if (!onPage()) return;
    timer = setTimeout(async () => { await load(); schedule(); }, POLL_MS);
  }

  function row(n) {
    return el("tr", { "data-notice-id": n.id, "data-urgent": String(n.urgent),
      class: state.detail && state.detail.id === n.id ? "selected" : null },
    el("td", {}, n.urgent ? el("span", { class: "nt-urgent", text: t("urgent") }) : null,
      el("span", { "data-field": "title", text: n.title })),
    el("td", { "data-field": "audience", text: audience(n.audience) }),
    el("td", { "data-field": "published", text: when(n.published_at) }),
    el("td", { class: "num", "data-field": "delivered", text: `${n.counts.delivered}/${n.counts.hubs}` }),
    el("td", { class: "num", "data-field": "read", text: String(n.counts.read) }),
    el("td", { class: "num", "data-field": "pending", text: String(n.counts.pending) }));
  }

  function render() {
    const error = $("#nt-error");
    error.textContent = state.error;
    error.hidden = !state.error;
    $("#nt-table tbody").replaceChildren(...state.notices.map(row));
    $("#nt-empty").hidden = !state.loaded || state.notices.length > 0;
    const d = state.detail;
    $("#nt-detail").hidden = !d;
    if (!d) return;
    $("#nt-detail").dataset.noticeId = d.id;
    $("#nt-detail-title").textContent = d.title;
    $("#nt-detail-body").textContent = d.body;
    $("#nt-receipts tbody").replaceChildren(...(d.receipts || []).map((r) => el("tr",
      { "data-home": r.home_id, "data-status": r.status },
      el("td", { text: r.home_id }), el("td", { text: r.hub_id }),
      el("td", { "data-field": "status", text: t(`st_${r.status}`) }),
      el("td", { text: when(r.read_at || r.delivered_at) }))));
  }

  function applyLanguage() {
    for (const node of document.querySelectorAll("[data-nt-i18n]")) {
      node.textContent = t(node.dataset.ntI18n);
    }
    render();
  }

  function showScopeFields() {
    const scope = $("#nt-scope").value;
    $("#nt-building-row").hidden = scope !== "building";
    $("#nt-homes-row").hidden = scope !== "homes";
  }

  async function publish(ev) {
    ev.preventDefault();
    const scope = $("#nt-scope").value;
    const target = { scope };
    if (scope === "building") target.building = $("#nt-building").value.trim();
    if (scope === "homes") {
      target.homes = $("#nt-homes").value.split(/[,，\s]+/).map((h) => h.trim()).filter(Boolean);
    }
    const body = { title: $("#nt-title").value.trim(), body: $("#nt-body").value,
      audience: target, urgent: $("#nt-urgent").checked };
    try {
      const data = await call("POST", "/api/notices", body);
      $("#nt-form").reset();
      showScopeFields();
      toast(t("published", { n: data.notice.homes }), false);
      state.detail = data.notice;
      await load();
    } catch (err) {
      toast(`${t("failed")}: ${err.message || err}`, true);
    }
  }

  async function open(id) {
    try {
      state.detail = (await call("GET", `/api/notices/${id}`)).notice;
    } catch (err) {
      toast(`${t("load_failed")}: ${err.message || err}`, true);
    }
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#nt-form").addEventListener("submit", publish);
    $("#nt-scope").addEventListener("change", showScopeFields);
    $("#nt-table tbody").addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-notice-id]");
      if (tr) open(tr.dataset.noticeId);
    });
    $("#nt-detail-close").addEventListener("click", () => { state.detail = null; render(); });
    document.addEventListener("courtyard:message", (ev) => {
      if (ev.detail && ev.detail.type === "snapshot" && onPage()) load();
    });
    window.addEventListener("hashchange", () => { if (onPage()) { load(); schedule(); } });
    new MutationObserver(applyLanguage).observe(document.documentElement,
      { attributes: true, attributeFilter: ["lang"] });
    showScopeFields();
    applyLanguage();
    if (onPage()) { load(); schedule(); }
  });
})();
