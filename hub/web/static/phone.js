// Courtyard home hub: the phone page (/m). One column: alarms still on, unread notices, and
// repairs with a quick report form; the full page is one link away. Text only, no HTML.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const CATEGORIES = ["plumbing", "electrical", "lift", "safety_device", "repair", "cleaning",
    "noise_complaint", "other"];
  const TEXT = {
    en: {
      title: "My home", other: "中文", alarms: "Alarms", no_alarms: "All quiet.", repairs: "Repairs",
      send: "Report", no_orders: "No orders yet.", more: "All details", describe: "What is wrong?",
      notices: "{n} unread notice(s)", sent: "Sent.", need: "Choose a category and describe it.",
      cat: { plumbing: "Plumbing", electrical: "Electrical", lift: "Lift", safety_device: "Safety device",
        repair: "Repair", cleaning: "Cleaning", noise_complaint: "Noise", other: "Other" },
      state: { open: "Reported", triaged: "Reviewed", assigned: "Assigned", scheduled: "Scheduled",
        in_progress: "In progress", done: "Done — please confirm", confirmed: "Confirmed",
        reopened: "Reopened", cancelled: "Cancelled" },
    },
    zh: {
      title: "我的家", other: "English", alarms: "报警", no_alarms: "一切正常。", repairs: "报修",
      send: "提交报修", no_orders: "暂无工单。", more: "查看详情", describe: "有什么问题？",
      notices: "{n} 条未读通知", sent: "已发送。", need: "请选择类别并描述问题。",
      cat: { plumbing: "水暖", electrical: "电气", lift: "电梯", safety_device: "安全设备",
        repair: "维修", cleaning: "保洁", noise_complaint: "噪音", other: "其他" },
      state: { open: "已报修", triaged: "已受理", assigned: "已派单", scheduled: "已预约",
        in_progress: "维修中", done: "已完成，请确认", confirmed: "已确认",
        reopened: "已重新打开", cancelled: "已撤销" },
    },
  };
  let lang = localStorage.getItem("courtyard.lang")
    || ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");
  let data = { alarms: [], unread: 0, orders: [] };

  function t(key, vars) {
    let value = TEXT[lang];
    for (const part of key.split(".")) value = value == null ? undefined : value[part];
    if (value == null) value = key.split(".").pop();
    return String(value).replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : ""));
  }

  async function api(method, path, body) {
    try {
      const response = await fetch(path, {
        method, credentials: "same-origin",
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      if (response.status === 401) location.assign("/login");
      return { ok: response.ok, body: await response.json() };
    } catch {
      return { ok: false, body: {} };
    }
  }

  function item(text, testid) {
    const li = document.createElement("li");
    li.textContent = text;
    if (testid) li.dataset.testid = testid;
    return li;
  }

  function render() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    $("#m-title").textContent = t("title");
    $("#m-lang").textContent = t("other");
    for (const node of document.querySelectorAll("[data-m]")) node.textContent = t(node.dataset.m);
    $("#m-description").placeholder = t("describe");
    const select = $("#m-category");
    const chosen = select.value;
    select.replaceChildren(new Option("—", ""), ...CATEGORIES.map((c) => new Option(t(`cat.${c}`), c)));
    select.value = chosen;
    $("#m-no-alarms").hidden = data.alarms.length > 0;
    $("#m-alarms").replaceChildren(...data.alarms.map((a) => {
      const li = item(`${a.name} · ${a.room} · ${a.event}`, "m-alarm");
      li.dataset.priority = a.priority;
      return li;
    }));
    $("#m-notices").textContent = t("notices", { n: data.unread });
    $("#m-no-orders").hidden = data.orders.length > 0;
    $("#m-orders").replaceChildren(...data.orders.map((o) => {
      const li = item(`#${o.order_id} ${o.title} — ${t(`state.${o.state}`)}`, "m-order");
      li.dataset.state = o.state;
      return li;
    }));
  }

  async function load() {
    const answer = await api("GET", "/api/phone");
    if (answer.ok) data = answer.body;
    render();
  }

  $("#m-lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("courtyard.lang", lang);
    render();
  });
  $("#m-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const category = $("#m-category").value;
    const description = $("#m-description").value.trim();
    const result = $("#m-result");
    result.hidden = false;
    if (!category || !description) {
      result.textContent = t("need");
      return;
    }
    const answer = await api("POST", "/api/repairs/requests", { action: "open", category, description });
    result.textContent = answer.ok ? t("sent") : answer.body.error || "error";
    if (answer.ok) $("#m-form").reset();
    load();
  });
  load();
  setInterval(load, 3000);
})();
