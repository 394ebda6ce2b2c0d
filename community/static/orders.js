// Courtyard community dashboard: the "Work orders / 工单" page. Plain JS, no build step.
// It lives beside app.js: app.js switches pages (#orders) and forwards every live message as
// a "courtyard:message" event; this file draws the page, in the language app.js chose.
// Data from the server is only ever put into the page as text (never as HTML).
"use strict";

(() => {
  const I18N = {
    en: {
      tab: "Work orders", title: "Work orders", new_order: "New order", search: "Search title, home, room, assignee…",
      all_statuses: "All statuses", all_categories: "All categories", overdue_only: "Overdue only",
      col_id: "#", col_title: "Order", col_category: "Category", col_status: "Status",
      col_assignee: "Assignee", col_due: "Due", empty: "No work orders match.",
      home: "Home", room: "Room", category: "Category", description: "What is wrong",
      create: "Open order", created: "Work order opened", failed: "Action failed",
      overdue: "Overdue", due_in: "due {t}", source: "Source", alarm: "Alarm", photos: "Photos",
      history: "History", assign_to: "Assign to…", text: "Note / resolution",
      from_alarm: "Work order", from_alarm_title: "Open a work order for this alarm (one click)",
      opened_from_alarm: "Work order #{id} opened", already_open: "Work order #{id} is already open",
      escalated: "Work order #{id} is overdue: {who} told", resolution: "Resolution",
      rating: "Rating", scheduled: "Scheduled", preferred: "Preferred time", created_by: "Opened by",
      closed: "Closed", range: "{a}–{b} of {n}", range_none: "0 of 0", prev: "Previous",
      next: "Next", updated: "updated {t}", load_failed: "Could not load",
      aud_duty_staff: "duty staff", aud_property_admin: "property admin",
      src_resident: "resident", src_staff: "staff", src_alarm: "alarm",
      st: {
        open: "Open", triaged: "Triaged", assigned: "Assigned", scheduled: "Scheduled",
        in_progress: "In progress", done: "Done", confirmed: "Confirmed", reopened: "Reopened",
        cancelled: "Cancelled",
      },
      cat: {
        plumbing: "Plumbing", electrical: "Electrical", lift: "Lift",
        safety_device: "Safety device", repair: "Repair", cleaning: "Cleaning",
        noise_complaint: "Noise complaint", other: "Other",
      },
      act: {
        triage: "Triage", assign: "Assign", schedule: "Schedule", start: "Start work",
        finish: "Finish", confirm: "Confirm", reopen: "Reopen", cancel: "Cancel order",
        created: "Opened", escalated: "Overdue – escalated",
      },
      need: { to: "Name the person to assign.", at: "Pick the time.", text: "Write a note first." },
    },
    zh: {
      tab: "工单", title: "工单", new_order: "新建工单", search: "搜索标题、住户、房间、处理人…",
      all_statuses: "全部状态", all_categories: "全部类别", overdue_only: "仅超时",
      col_id: "编号", col_title: "工单", col_category: "类别", col_status: "状态",
      col_assignee: "处理人", col_due: "时限", empty: "没有符合条件的工单。",
      home: "住户", room: "房间", category: "类别", description: "问题描述",
      create: "提交工单", created: "工单已创建", failed: "操作失败",
      overdue: "已超时", due_in: "时限 {t}", source: "来源", alarm: "报警", photos: "照片",
      history: "处理记录", assign_to: "指派给…", text: "备注 / 处理结果",
      from_alarm: "生成工单", from_alarm_title: "一键为此报警生成工单",
      opened_from_alarm: "已生成工单 #{id}", already_open: "工单 #{id} 已存在且未关闭",
      escalated: "工单 #{id} 已超时：已通知{who}", resolution: "处理结果",
      rating: "评分", scheduled: "预约时间", preferred: "期望时间", created_by: "创建人",
      closed: "关闭时间", range: "第 {a}–{b} 条，共 {n} 条", range_none: "共 0 条",
      prev: "上一页", next: "下一页", updated: "更新于 {t}", load_failed: "加载失败",
      aud_duty_staff: "值班人员", aud_property_admin: "物业管理员",
      src_resident: "住户报修", src_staff: "物业代报", src_alarm: "报警生成",
      st: {
        open: "待受理", triaged: "已受理", assigned: "已派单", scheduled: "已预约",
        in_progress: "处理中", done: "已完工", confirmed: "已确认", reopened: "已重开",
        cancelled: "已取消",
      },
      cat: {
        plumbing: "水暖", electrical: "电气", lift: "电梯", safety_device: "安全设备",
        repair: "维修", cleaning: "保洁", noise_complaint: "噪音投诉", other: "其他",
      },
      act: {
        triage: "受理", assign: "派单", schedule: "预约", start: "开始处理", finish: "完工",
        confirm: "确认", reopen: "重开", cancel: "取消工单", created: "创建",
        escalated: "超时升级",
      },
      need: { to: "请填写处理人。", at: "请选择时间。", text: "请先填写备注。" },
    },
  };
  const PAGE_SIZE = 25;
  const $ = (sel) => document.querySelector(sel);
  const { el, toast, call } = window.Kit;
  const state = { orders: [], total: 0, offset: 0, error: "", loaded: false, detail: null };
  let seq = 0;
  let timer = null;

  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  const t = (key) => {
    const table = I18N[lang()];
    return table[key] !== undefined ? table[key] : I18N.en[key] || key;
  };
  const sub = (group, key) => (I18N[lang()][group] || {})[key] || I18N.en[group][key] || key;
  const fill = (key, values) => Object.entries(values).reduce(
    (text, [k, v]) => text.replace(`{${k}}`, v), t(key));
  const when = (iso) => (iso ? new Date(iso).toLocaleString(
    lang() === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "");
  const onPage = () => location.hash === "#orders";

  // ---- labels ------------------------------------------------------------------------------
  function applyLanguage() {
    for (const node of document.querySelectorAll("[data-wo-i18n]")) {
      node.textContent = t(node.dataset.woI18n);
    }
    for (const node of document.querySelectorAll("[data-wo-placeholder]")) {
      node.placeholder = t(node.dataset.woPlaceholder);
    }
    for (const node of document.querySelectorAll("[data-wo-title]")) {
      node.title = t(node.dataset.woTitle);
    }
    fillSelect($("#wo-status"), "st", "all_statuses");
    fillSelect($("#wo-category"), "cat", "all_categories");
    fillSelect($("#wo-new-category"), "cat", null);
    render();
  }

  function fillSelect(select, group, allKey) {
    const chosen = select.value;
    const options = Object.keys(I18N.en[group]).map(
      (k) => el("option", { value: k, text: sub(group, k) }));
    if (allKey) options.unshift(el("option", { value: "", text: t(allKey) }));
    select.replaceChildren(...options);
    select.value = chosen || (allKey ? "" : "other");
  }

  // ---- list ----------------------------------------------------------------------------------
  function query() {
    const params = new URLSearchParams();
    const q = $("#wo-q").value.trim();
    if (q) params.set("q", q);
    if ($("#wo-status").value) params.set("status", $("#wo-status").value);
    if ($("#wo-category").value) params.set("category", $("#wo-category").value);
    if ($("#wo-overdue").checked) params.set("overdue", "true");
    params.set("limit", String(PAGE_SIZE));
    params.set("offset", String(state.offset));
    return params;
  }

  async function load() {
    const mine = ++seq;
    try {
      const data = await call("GET", `/api/orders?${query()}`);
      if (mine !== seq) return;
      Object.assign(state, { orders: data.orders, total: data.total, error: "", loaded: true });
      $("#wo-updated").textContent = fill("updated", { t: when(data.server_time) });
    } catch (err) {
      if (mine !== seq) return;
      Object.assign(state, { orders: [], total: 0, loaded: true,
        error: `${t("load_failed")}: ${err.message || err}` });
    }
    render();
  }

  function loadSoon() {
    clearTimeout(timer);
    timer = setTimeout(() => { if (onPage()) load(); }, 250);
  }

  function row(o) {
    return el("tr", { "data-order-id": o.id, "data-status": o.status,
      "data-overdue": String(Boolean(o.overdue)),
      class: state.detail && state.detail.id === o.id ? "selected" : null },
    el("td", { class: "num", text: `#${o.id}` }),
    el("td", { class: "home" }, el("span", { "data-field": "title", text: o.title }),
      el("small", { text: [o.home_id, o.room].filter(Boolean).join(" · ") })),
    el("td", { "data-field": "category", text: sub("cat", o.category) }),
    el("td", {}, el("span", { class: `wo-status ${o.status}`, "data-field": "status",
      text: sub("st", o.status) })),
    el("td", { "data-field": "assignee", text: o.assignee || "—" }),
    el("td", { "data-field": "due" }, o.overdue
      ? el("span", { class: "wo-overdue", text: t("overdue") }) : null,
    el("small", { text: when(o.due_at) })));
  }

  function render() {
    const error = $("#wo-error");
    error.textContent = state.error;
    error.hidden = !state.error;
    $("#wo-table tbody").replaceChildren(...state.orders.map(row));
    $("#wo-empty").hidden = !state.loaded || state.orders.length > 0;
    const first = state.total ? state.offset + 1 : 0;
    const last = state.offset + state.orders.length;
    $("#wo-range").textContent = state.total
      ? fill("range", { a: first, b: last, n: state.total }) : t("range_none");
    $("#wo-prev").disabled = state.offset === 0;
    $("#wo-next").disabled = last >= state.total;
    renderDetail();
  }

  // ---- detail ----------------------------------------------------------------------------------
  async function openOrder(id) {
    try {
      state.detail = await call("GET", `/api/orders/${id}`);
    } catch (err) {
      toast(`${t("failed")}: ${err.message || err}`, true);
      state.detail = null;
    }
    render();
  }

  function renderDetail() {
    const panel = $("#wo-detail");
    const o = state.detail;
    panel.hidden = !o;
    if (!o) return;
    panel.dataset.orderId = o.id;
    panel.dataset.status = o.status;
    $("#wo-detail-title").textContent = `#${o.id} ${o.title}`;
    const fields = [
      ["col_status", sub("st", o.status)], ["category", sub("cat", o.category)],
      ["home", o.home_id], ["room", o.room], ["description", o.description],
      ["source", t(`src_${o.source}`)], ["created_by", `${o.created_by} · ${when(o.created_at)}`],
      ["col_assignee", o.assignee], ["col_due", `${when(o.due_at)}${o.overdue ? ` · ${t("overdue")}` : ""}`],
      ["preferred", when(o.preferred_time)], ["scheduled", when(o.scheduled_at)],
      ["resolution", o.resolution], ["rating", o.rating ? `${"★".repeat(o.rating)} ${o.comment || ""}` : ""],
      ["closed", when(o.closed_at)],
    ].filter(([, v]) => v);
    $("#wo-detail-fields").replaceChildren(...fields.flatMap(([k, v]) =>
      [el("dt", { text: t(k) }), el("dd", { "data-field": k, text: v })]));
    const alarm = o.alarm;
    $("#wo-detail-alarm").replaceChildren(...(alarm ? [el("b", { text: `${t("alarm")} ` }),
      el("span", { "data-field": "alarm", text: `#${alarm.id} ${alarm.kind} · ${alarm.status}` })] : []));
    $("#wo-detail-photos").replaceChildren(...(o.photos || []).map((p) => el("li", {},
      p.uri, el("small", { text: ` · sha256 ${p.sha256.slice(0, 12)}…` }))));
    const actions = o.actions || [];
    $("#wo-detail-actions").replaceChildren(...actions.map((a) => el("button", {
      type: "button", "data-wo-action": a,
      class: a === "cancel" ? "secondary" : null, text: sub("act", a) })));
    $("#wo-inputs").hidden = actions.length === 0;
    $("#wo-detail-history").replaceChildren(...(o.history || []).map((h) => el("li", {},
      `${sub("act", h.action)} · ${h.by} `, el("small", { text: when(h.at) }),
      h.note ? el("div", { text: h.note }) : null)));
  }

  /** The body a transition needs, from the inputs under the buttons; null if one is missing. */
  function bodyFor(action) {
    const text = $("#wo-text").value.trim();
    if (action === "assign") {
      const to = $("#wo-to").value.trim();
      if (!to) { toast(sub("need", "to"), true); return null; }
      return text ? { to, note: text } : { to };
    }
    if (action === "schedule") {
      const at = $("#wo-at").value;
      if (!at) { toast(sub("need", "at"), true); return null; }
      return { at: new Date(at).toISOString() };
    }
    if (action === "finish") {
      if (!text) { toast(sub("need", "text"), true); return null; }
      return { resolution: text };
    }
    if (action === "cancel" || action === "reopen") {
      if (!text) { toast(sub("need", "text"), true); return null; }
      return { note: text };
    }
    return text ? { note: text } : {};
  }

  async function act(action) {
    const o = state.detail;
    if (!o) return;
    const body = bodyFor(action);
    if (body === null) return;
    try {
      const data = await call("POST", `/api/orders/${o.id}/${action}`, body);
      state.detail = data.order;
      $("#wo-text").value = "";
      $("#wo-to").value = "";
      toast(sub("st", data.order.status), false);
      load();
    } catch (err) {
      toast(`${t("failed")}: ${err.message || err}`, true);
    }
  }

  async function create(ev) {
    ev.preventDefault();
    const body = {
      home_id: $("#wo-new-home").value.trim(),
      category: $("#wo-new-category").value,
      description: $("#wo-new-description").value,
    };
    const room = $("#wo-new-room").value.trim();
    if (room) body.room = room;
    try {
      const data = await call("POST", "/api/orders", body);
      $("#wo-form").reset();
      $("#wo-form").hidden = true;
      toast(t("created"), false);
      state.detail = data.order;
      load();
    } catch (err) {
      toast(`${t("failed")}: ${err.message || err}`, true);
    }
  }

  /** One click on the selected alarm: its work order, new or the one already open. */
  async function fromAlarm() {
    const id = $("#detail").dataset.alarmId;
    if (!id) return;
    try {
      const data = await call("POST", `/api/alarms/${id}/work-order`, {});
      toast(fill(data.created ? "opened_from_alarm" : "already_open", { id: data.order.id }), false);
      state.detail = data.order;
      location.hash = "orders";
      load();
    } catch (err) {
      toast(`${t("failed")}: ${err.message || err}`, true);
    }
  }

  function onLive(msg) {
    if (msg.type === "work_order_overdue") {
      const who = t(`aud_${msg.audience}`);
      toast(fill("escalated", { id: msg.order.id, who }), true);
    }
    if (msg.type === "work_order" || msg.type === "work_order_overdue") {
      const order = msg.type === "work_order" ? msg.work_order : msg.order;
      if (state.detail && state.detail.id === order.id) openOrder(order.id);
      loadSoon();
    } else if (msg.type === "snapshot") {
      loadSoon();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["#wo-q", "#wo-status", "#wo-category", "#wo-overdue"]) {
      $(id).addEventListener("input", () => { state.offset = 0; loadSoon(); });
    }
    $("#wo-new").addEventListener("click", () => { $("#wo-form").hidden = !$("#wo-form").hidden; });
    $("#wo-form").addEventListener("submit", create);
    $("#wo-prev").addEventListener("click", () => {
      state.offset = Math.max(0, state.offset - PAGE_SIZE); load();
    });
    $("#wo-next").addEventListener("click", () => { state.offset += PAGE_SIZE; load(); });
    $("#wo-table tbody").addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-order-id]");
      if (tr) openOrder(Number(tr.dataset.orderId));
    });
    $("#wo-detail-actions").addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-wo-action]");
      if (button) act(button.dataset.woAction);
    });
    $("#wo-detail-close").addEventListener("click", () => { state.detail = null; render(); });
    $("#detail-work-order").addEventListener("click", fromAlarm);
    document.addEventListener("courtyard:message", (ev) => onLive(ev.detail));
    window.addEventListener("hashchange", () => { if (onPage()) load(); });
    new MutationObserver(applyLanguage).observe(document.documentElement,
      { attributes: true, attributeFilter: ["lang"] });
    applyLanguage();
    if (onPage()) load();
  });
})();
