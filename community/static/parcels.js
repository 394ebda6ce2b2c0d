// Courtyard community dashboard: the "Parcels / 快递" page. Plain JS, no build step.
// Which parcels wait in the lockers, for which home, whether the home was told and reminded,
// and when each was collected. Pickup codes are never shown: the community does not keep them.
// The page re-reads while it is open. Data from the server is only ever put in as text.
"use strict";

(() => {
  const I18N = {
    en: {
      tab: "Parcels", title: "Parcels", all: "All parcels", waiting: "Waiting", picked_up: "Collected",
      col_parcel: "Parcel", col_home: "Home", col_locker: "Locker", col_delivered: "Delivered",
      col_reminded: "Reminders", col_picked: "Collected", col_status: "Status",
      empty: "No parcels.", load_failed: "Could not load", summary: "{w} waiting · {n} in all",
      compartment: "compartment {c}", not_notified: "home not told",
    },
    zh: {
      tab: "快递", title: "快递", all: "全部快递", waiting: "待取", picked_up: "已取",
      col_parcel: "快递单号", col_home: "住户", col_locker: "快递柜", col_delivered: "投递时间",
      col_reminded: "提醒次数", col_picked: "取件时间", col_status: "状态",
      empty: "暂无快递。", load_failed: "加载失败", summary: "待取 {w} 件 · 共 {n} 件",
      compartment: "{c} 号格口", not_notified: "未通知住户",
    },
  };
  const POLL_MS = 3000;
  const $ = (sel) => document.querySelector(sel);
  const { el } = window.Kit;
  const state = { parcels: [], waiting: 0, total: 0, error: "", loaded: false };
  let timer = null;

  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  const t = (key, values) => Object.entries(values || {}).reduce(
    (text, [k, v]) => text.replace(`{${k}}`, v), I18N[lang()][key] || I18N.en[key] || key);
  const when = (iso) => (iso ? new Date(iso).toLocaleString(
    lang() === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "—");
  const onPage = () => location.hash === "#parcels";

  async function load() {
    const status = $("#pc-status").value;
    try {
      const res = await fetch(`/api/parcels?status=${encodeURIComponent(status)}`,
        { credentials: "same-origin" });
      if (res.status === 401) { location.href = "/login"; return; }
      const data = await res.json();
      if (!res.ok) throw new Error(data.error || String(res.status));
      Object.assign(state, { parcels: data.parcels, waiting: data.waiting, total: data.total,
        error: "", loaded: true });
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

  function row(p) {
    return el("tr", { "data-parcel": p.id, "data-status": p.status, "data-reminded": p.reminded },
      el("td", { "data-field": "parcel_id", text: p.parcel_id }),
      el("td", { "data-field": "home", text: p.home_id }),
      el("td", { "data-field": "locker" }, p.locker, el("small", { text: ` · ${t("compartment", { c: p.compartment })}` })),
      el("td", { "data-field": "delivered", text: when(p.delivered_at) }),
      el("td", { class: "num", "data-field": "reminded", text: String(p.reminded) }),
      el("td", { "data-field": "picked_up", text: when(p.picked_up_at) }),
      el("td", { "data-field": "status" }, el("span", { class: `pc-status ${p.status}`, text: t(p.status) }),
        p.notified ? null : el("small", { text: ` · ${t("not_notified")}` })));
  }

  function render() {
    const error = $("#pc-error");
    error.textContent = state.error;
    error.hidden = !state.error;
    $("#pc-table tbody").replaceChildren(...state.parcels.map(row));
    $("#pc-empty").hidden = !state.loaded || state.parcels.length > 0;
    $("#pc-summary").textContent = t("summary", { w: state.waiting, n: state.total });
  }

  function applyLanguage() {
    for (const node of document.querySelectorAll("[data-pc-i18n]")) {
      node.textContent = t(node.dataset.pcI18n);
    }
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#pc-status").addEventListener("change", load);
    document.addEventListener("courtyard:message", (ev) => {
      if (ev.detail && ev.detail.type === "snapshot" && onPage()) load();
    });
    window.addEventListener("hashchange", () => { if (onPage()) { load(); schedule(); } });
    new MutationObserver(applyLanguage).observe(document.documentElement,
      { attributes: true, attributeFilter: ["lang"] });
    applyLanguage();
    if (onPage()) { load(); schedule(); }
  });
})();
