// Courtyard home hub: the Repairs tab. The resident reports a repair, then confirms and rates
// the work; the community's answers and staff's progress arrive as notices the hub keeps, and
// this page shows the hub's copy (refreshed every few seconds while the tab is open).
// Self-contained: its own strings (zh/en) and tab switching, so the shared page only needs a
// tab button, a section and this script. Everything from the community is put in as text.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const POLL_MS = 2000;
  const CATEGORIES = ["plumbing", "electrical", "lift", "safety_device", "repair", "cleaning",
    "noise_complaint", "other"];
  const TEXT = {
    en: {
      tab: "Repairs", title: "Repairs and complaints", intro: "Tell the property office what needs fixing; follow it here.",
      category: "Category", description: "What is wrong", room: "Room (optional)",
      preferred: "Preferred time (optional)", photo: "Photo link (optional)", photo_sha: "Photo SHA-256",
      send: "Report", sent: "Sent. Waiting for the property office…", mine: "My orders",
      none: "No orders yet.", waiting: "Waiting for the community: {action}",
      refused: "The community refused ({action}): {reason}", rating: "Rating",
      comment: "Comment (optional)", confirm: "Confirm it is fixed", rate: "Change rating",
      cancel: "Cancel", reopen: "Not fixed — reopen", reopen_note: "What is still wrong?",
      need: "Choose a category and describe the problem.", assignee: "Technician",
      scheduled: "Visit", resolution: "Done", rated: "Rated {rating}/5", overdue: "overdue",
      cat: { plumbing: "Plumbing", electrical: "Electrical", lift: "Lift", safety_device: "Safety device",
        repair: "Repair", cleaning: "Cleaning", noise_complaint: "Noise complaint", other: "Other" },
      state: { open: "Reported", triaged: "Reviewed", assigned: "Assigned", scheduled: "Scheduled",
        in_progress: "In progress", done: "Done — please confirm", confirmed: "Confirmed",
        reopened: "Reopened", cancelled: "Cancelled" },
      reason: { invalid: "the request is not valid", not_found: "no such order of your home",
        wrong_state: "not possible in the order's state", unknown_home: "this hub is not enrolled",
        service_error: "the community could not handle it" },
    },
    zh: {
      tab: "报修", title: "报修与投诉", intro: "告诉物业需要维修的地方，并在这里跟进进度。",
      category: "类别", description: "问题描述", room: "房间（可选）",
      preferred: "希望上门时间（可选）", photo: "照片链接（可选）", photo_sha: "照片 SHA-256",
      send: "提交报修", sent: "已发送，等待物业处理…", mine: "我的工单",
      none: "暂无工单。", waiting: "等待社区回复：{action}",
      refused: "社区拒绝了请求（{action}）：{reason}", rating: "评分",
      comment: "评价（可选）", confirm: "确认已修好", rate: "修改评分",
      cancel: "撤销", reopen: "没修好，重新打开", reopen_note: "还有什么问题？",
      need: "请选择类别并描述问题。", assignee: "维修人员",
      scheduled: "上门时间", resolution: "处理结果", rated: "已评 {rating}/5 分", overdue: "已超时",
      cat: { plumbing: "水暖", electrical: "电气", lift: "电梯", safety_device: "安全设备",
        repair: "维修", cleaning: "保洁", noise_complaint: "噪音投诉", other: "其他" },
      state: { open: "已报修", triaged: "已受理", assigned: "已派单", scheduled: "已预约",
        in_progress: "维修中", done: "已完成，请确认", confirmed: "已确认",
        reopened: "已重新打开", cancelled: "已撤销" },
      reason: { invalid: "请求无效", not_found: "没有这个属于您家的工单",
        wrong_state: "工单当前状态不允许此操作", unknown_home: "此网关未登记",
        service_error: "社区暂时无法处理" },
    },
  };
  const state = { orders: [], requests: [], timer: null };

  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  function t(key, vars) {
    let value = TEXT[lang()];
    for (const part of key.split(".")) value = value == null ? undefined : value[part];
    if (value == null) value = key.split(".").pop();
    return String(value).replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : ""));
  }

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

  async function load() {
    const answer = await api("GET", "/api/repairs");
    if (answer.ok) {
      state.orders = answer.body.orders;
      state.requests = answer.body.requests;
    }
    render();
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    node.append(...children);
    return node;
  }

  function render() {
    $("#tab-repairs").textContent = t("tab");
    for (const node of document.querySelectorAll("#page-repairs [data-r]")) node.textContent = t(node.dataset.r);
    const select = $("#repair-category");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "", textContent: "—" }),
      ...CATEGORIES.map((c) => el("option", { value: c, textContent: t(`cat.${c}`) })));
    select.value = chosen;
    const waiting = state.requests.filter((r) => r.answer == null);
    const refused = state.requests.filter((r) => r.answer === "refused").slice(0, 1);
    $("#repairs-waiting").hidden = waiting.length === 0;
    $("#repairs-waiting").textContent = waiting.length ? t("waiting", { action: waiting[0].action }) : "";
    $("#repairs-refused").hidden = refused.length === 0;
    $("#repairs-refused").textContent = refused.length
      ? t("refused", { action: refused[0].action, reason: t(`reason.${refused[0].reason}`) }) : "";
    $("#repairs-empty").hidden = state.orders.length > 0;
    $("#repairs-orders").replaceChildren(...state.orders.map(orderCard));
  }

  function orderCard(order) {
    const li = el("li", { className: "repair" });
    li.dataset.orderId = String(order.order_id);
    li.dataset.state = order.state;
    const head = el("p", {},
      el("strong", { textContent: `#${order.order_id} ${order.title}` }), " ",
      el("span", { className: "badge", textContent: t(`state.${order.state}`) }));
    head.lastChild.dataset.testid = "repair-state";
    if (order.overdue) head.append(" ", el("span", { className: "badge", textContent: t("overdue") }));
    li.append(head, el("p", { className: "muted", textContent:
      [t(`cat.${order.category}`), order.room].filter(Boolean).join(" · ") }));
    for (const [key, value] of [["assignee", order.assignee], ["scheduled", order.scheduled_at],
      ["resolution", order.resolution]]) {
      if (value) li.append(el("p", { className: "muted small", textContent: `${t(key)}: ${value}` }));
    }
    if (order.rating) {
      const rated = el("p", { className: "small", textContent: t("rated", { rating: order.rating }) });
      rated.dataset.testid = "repair-rating";
      li.append(rated);
    }
    const actions = order.resident_actions || [];
    if (actions.includes("confirm") || actions.includes("rate")) li.append(rateForm(order, actions));
    if (actions.includes("cancel")) li.append(button("cancel", () => ask({ action: "cancel", order_id: order.order_id })));
    if (actions.includes("reopen")) {
      li.append(button("reopen", () => {
        const note = window.prompt(t("reopen_note"));
        if (note && note.trim()) ask({ action: "reopen", order_id: order.order_id, note: note.trim() });
      }));
    }
    return li;
  }

  function button(key, onClick) {
    const node = el("button", { type: "button", className: "ghost", textContent: t(key) });
    node.dataset.testid = `repair-${key}`;
    node.addEventListener("click", onClick);
    return node;
  }

  function rateForm(order, actions) {
    const form = el("form", { className: "row" });
    form.dataset.testid = "repair-rate-form";
    const stars = el("select", { "aria-label": t("rating") },
      ...[5, 4, 3, 2, 1].map((n) => el("option", { value: String(n), textContent: "★".repeat(n) })));
    stars.dataset.testid = "repair-stars";
    const comment = el("input", { maxLength: 200, placeholder: t("comment") });
    comment.dataset.testid = "repair-comment";
    const action = actions.includes("confirm") ? "confirm" : "rate";
    const submit = el("button", { type: "submit", className: "primary", textContent: t(action) });
    submit.dataset.testid = `repair-${action}`;
    form.append(stars, comment, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { action, order_id: order.order_id, rating: Number(stars.value) };
      if (comment.value.trim()) body.comment = comment.value.trim();
      ask(body);
    });
    return form;
  }

  async function ask(body) {
    const result = $("#repairs-result");
    const answer = await api("POST", "/api/repairs/requests", body);
    result.hidden = false;
    result.dataset.outcome = answer.ok ? "sent" : "failed";
    result.textContent = answer.ok ? t("sent") : answer.body.error || "error";
    await load();
    return answer.ok;
  }

  function show(visible) {
    $("#page-repairs").hidden = !visible;
    const tab = $("#tab-repairs");
    if (visible) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
    clearInterval(state.timer);
    state.timer = null;
    if (visible) {
      for (const main of document.querySelectorAll("main")) main.hidden = main.id !== "page-repairs";
      load();
      state.timer = setInterval(load, POLL_MS);
    }
  }

  function start() {
    for (const tab of document.querySelectorAll(".tab")) {
      tab.addEventListener("click", () => {
        if (tab.id === "tab-repairs") {
          for (const other of document.querySelectorAll(".tab")) if (other !== tab) other.removeAttribute("aria-current");
          history.replaceState(null, "", "#repairs");
        }
        show(tab.id === "tab-repairs");
      });
    }
    $("#lang-toggle").addEventListener("click", () => setTimeout(render, 0));
    $("#repair-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const category = $("#repair-category").value;
      const description = $("#repair-description").value.trim();
      if (!category || !description) {
        $("#repairs-result").hidden = false;
        $("#repairs-result").dataset.outcome = "failed";
        $("#repairs-result").textContent = t("need");
        return;
      }
      const body = { action: "open", category, description };
      const room = $("#repair-room").value.trim();
      if (room) body.room = room;
      const when = $("#repair-time").value;
      if (when) body.preferred_time = new Date(when).toISOString();
      const uri = $("#repair-photo").value.trim();
      const sha = $("#repair-photo-sha").value.trim();
      if (uri) body.photos = [{ uri, sha256: sha }];
      if (await ask(body)) $("#repair-form").reset();
    });
    render();
    if (location.hash === "#repairs") show(true);
  }

  // After app.js (both deferred): app.js sets the language first.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
