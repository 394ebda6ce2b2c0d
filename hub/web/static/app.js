// Courtyard home hub: the resident's page. Plain JS, no build step; fed live by /api/live.
// Everything from the hub or a device is put into the page as text, never as HTML.
"use strict";

(() => {
  const DICT = window.COURTYARD_I18N;
  const ROOMS = ["kitchen", "living_room", "bedroom", "bathroom", "hallway", "study", "balcony", "other"];
  const SHOWN_FIELDS = [
    "expressed_state", "smoke_state", "gas_state", "lel_pct", "valve", "fall_state", "occupied",
    "pressed", "leak", "test_in_progress", "muted", "hardware_fault", "battery_pct",
  ];
  const UNDO_S = 6;
  const $ = (sel) => document.querySelector(sel);

  const model = { devices: new Map(), discovered: [], selfTests: new Map() };
  let lang = pickLanguage();
  let pairing = null;
  let snackTimer = null;
  let privacy = null;
  let charging = null;

  function pickLanguage() {
    const saved = localStorage.getItem("courtyard.lang");
    if (saved === "zh" || saved === "en") return saved;
    const first = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    return first.toLowerCase().startsWith("zh") ? "zh" : "en";
  }

  function t(key, vars) {
    const parts = key.split(".");
    let value = DICT[lang];
    for (const p of parts) value = value == null ? undefined : value[p];
    if (value == null) value = parts[parts.length - 1];
    return String(value).replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : ""));
  }

  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = `Courtyard · ${t("title")}`;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    $("#lang-toggle").textContent = t("other_lang");
    fillRooms($("#pair-room"));
    setLive($("#live-status").dataset.state);
    render();
  }

  function fillRooms(select) {
    const current = select.value;
    select.replaceChildren(...ROOMS.map((room) => {
      const option = document.createElement("option");
      option.value = room;
      option.textContent = t(`rooms.${room}`);
      return option;
    }));
    if (current) select.value = current;
  }

  const roomLabel = (room) => (DICT[lang].rooms[room] ? t(`rooms.${room}`) : room);
  const kindLabel = (kind) => t(`kinds.${kind}`);

  function valueLabel(field, value) {
    if (field === "battery_pct" || field === "lel_pct") return `${value}%`;
    const key = String(value);
    return DICT[lang].values[key] != null ? t(`values.${key}`) : key;
  }

  function timeLabel(ms) {
    const locale = lang === "zh" ? "zh-CN" : "en-GB";
    return new Date(ms).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  // --- rendering --------------------------------------------------------------------------

  function render() {
    renderDevices();
    renderDiscovered();
    if (privacy) privacy.render();
    if (charging) charging.render();
  }

  function showTab(name) {
    for (const tab of document.querySelectorAll(".tab")) {
      if (tab.dataset.tab === name) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    $("#page-home").hidden = name !== "home";
    $("#page-privacy").hidden = name !== "privacy";
    $("#page-charging").hidden = name !== "charging";
    $("#page-notices").hidden = name !== "notices";
    if (name === "privacy") privacy.load();
    if (name === "charging" || name === "notices") charging.load();
  }

  function renderDevices() {
    const shown = [...model.devices.values()]
      .filter((d) => d.removing_at == null)
      .sort((a, b) => a.name.localeCompare(b.name));
    $("#devices-empty").hidden = shown.length > 0;
    $("#devices").replaceChildren(...shown.map(deviceCard));
  }

  function deviceCard(device) {
    const card = $("#device-template").content.firstElementChild.cloneNode(true);
    card.dataset.deviceId = device.device_id;
    for (const el of card.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    card.querySelector(".device-name").textContent = device.name;
    card.querySelector(".device-room").textContent = roomLabel(device.room);
    card.querySelector(".device-kind").textContent = kindLabel(device.kind);
    const status = device.connected ? "connected" : device.online ? "online" : device.last_seen ? "offline" : "new";
    const badge = card.querySelector("[data-testid=device-status]");
    badge.textContent = t(`st_${status}`);
    badge.dataset.status = status;

    const state = card.querySelector(".state");
    for (const field of SHOWN_FIELDS) {
      if (!(field in device.state)) continue;
      const dt = document.createElement("dt");
      dt.textContent = t(`fields.${field}`);
      const dd = document.createElement("dd");
      dd.textContent = valueLabel(field, device.state[field]);
      dd.dataset.field = field;
      state.append(dt, dd);
    }

    const events = card.querySelector(".events");
    if (!device.events.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = t("no_events");
      events.append(li);
    }
    for (const ev of device.events) {
      const li = document.createElement("li");
      li.dataset.event = ev.event;
      li.dataset.priority = ev.priority;
      const when = document.createElement("time");
      when.textContent = timeLabel(ev.ts);
      const what = document.createElement("span");
      let text = t(`events.${ev.event}`);
      if (ev.event === "self_test" && ev.data && "passed" in ev.data) {
        text = ev.data.passed ? t("self_test_passed") : t("self_test_failed");
      } else if (ev.priority !== "info" || ev.event === "battery_low") {
        text += ` · ${ev.active ? t("active") : t("cleared")}`;
      }
      what.textContent = text;
      li.append(when, what);
      events.append(li);
    }

    const result = card.querySelector("[data-testid=command-result]");
    const test = model.selfTests.get(device.device_id);
    if (test) {
      result.hidden = false;
      result.textContent = test.text;
      result.dataset.outcome = test.outcome;
    }
    card.querySelector("[data-testid=self-test]").addEventListener("click", () => selfTest(device));
    card.querySelector("[data-testid=remove]").addEventListener("click", () => removeDevice(device));
    return card;
  }

  function renderDiscovered() {
    const shown = model.discovered.filter((d) => !d.paired);
    $("#discovered-empty").hidden = shown.length > 0;
    $("#discovered").replaceChildren(...shown.map((found) => {
      const card = $("#discovered-template").content.firstElementChild.cloneNode(true);
      card.dataset.deviceId = found.device_id;
      for (const el of card.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
      card.querySelector(".found-kind").textContent = kindLabel(found.kind);
      card.querySelector(".found-model").textContent = found.model;
      card.querySelector(".found-id").textContent = found.device_id;
      card.querySelector(".found-fp").textContent = found.fingerprint;
      card.querySelector(".found-window").textContent = found.window_open
        ? t("window_closes", { time: timeLabel(found.window_closes_at) })
        : t("window_closed");
      const button = card.querySelector("[data-testid=pair-button]");
      button.disabled = !found.window_open;
      button.addEventListener("click", () => openPairing(found));
      return card;
    }));
  }

  // --- the live feed ----------------------------------------------------------------------

  function setLive(state) {
    const el = $("#live-status");
    el.dataset.state = state || "connecting";
    el.textContent = t({ live: "live", closed: "reconnecting" }[state] || "connecting");
  }

  function connect(delay = 500) {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/live`);
    ws.onmessage = (frame) => {
      const msg = JSON.parse(frame.data);
      if (msg.type === "snapshot") {
        $("#hub-id").textContent = msg.hub_id;
        model.devices = new Map(msg.devices.map((d) => [d.device_id, d]));
        model.discovered = msg.discovered;
        setLive("live");
        delay = 500;
        charging.load();
      } else if (msg.type === "device") {
        model.devices.set(msg.device.device_id, msg.device);
        noteSelfTest(msg.device);
      } else if (msg.type === "device_removed") {
        model.devices.delete(msg.device_id);
      } else if (msg.type === "discovered") {
        model.discovered = msg.discovered;
      } else if (msg.type === "notices") {
        charging.load();
        return;
      }
      render();
    };
    ws.onclose = () => {
      setLive("closed");
      setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
    };
  }

  // --- actions ----------------------------------------------------------------------------

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
      return { ok: false, body: { code: "network" } };
    }
    let parsed = {};
    try { parsed = await response.json(); } catch { parsed = {}; }
    if (response.status === 401) location.assign("/login");
    return { ok: response.ok, body: parsed };
  }

  function errorText(body) {
    let text = DICT[lang].err[body.code] ? t(`err.${body.code}`) : body.error || t("err.protocol_error");
    if (body.code === "wrong_code" && typeof body.attempts_left === "number") {
      text += ` ${t("attempts_left", { n: body.attempts_left })}`;
    }
    return text;
  }

  function openPairing(found) {
    pairing = found;
    $("#pair-kind").textContent = kindLabel(found.kind);
    $("#pair-device-id").textContent = found.device_id;
    $("#pair-code").value = "";
    $("#pair-name").value = kindLabel(found.kind);
    fillRooms($("#pair-room"));
    $("#pair-room").value = "kitchen";
    $("#pair-error").hidden = true;
    $("#pair-status").hidden = true;
    $("#pair-submit").disabled = false;
    $("#pair-dialog").showModal();
    $("#pair-code").focus();
  }

  async function submitPairing(event) {
    event.preventDefault();
    if (!pairing) return;
    const error = $("#pair-error");
    error.hidden = true;
    $("#pair-status").textContent = t("pairing");
    $("#pair-status").hidden = false;
    $("#pair-submit").disabled = true;
    const result = await api("POST", "/api/pairing/pair", {
      device_id: pairing.device_id,
      fingerprint: pairing.fingerprint,
      code: $("#pair-code").value.replace(/[\s-]/g, ""),
      name: $("#pair-name").value.trim(),
      room: $("#pair-room").value,
    });
    $("#pair-status").hidden = true;
    $("#pair-submit").disabled = false;
    if (!result.ok) {
      error.textContent = errorText(result.body);
      error.hidden = false;
      $("#pair-code").select();
      return;
    }
    model.devices.set(result.body.device.device_id, result.body.device);
    model.discovered = model.discovered.filter((d) => d.device_id !== pairing.device_id);
    $("#pair-dialog").close();
    snack(t("paired", { name: result.body.device.name }));
    pairing = null;
    render();
  }

  async function selfTest(device) {
    model.selfTests.set(device.device_id, { text: t("self_test_sent"), outcome: "pending", since: Date.now() - 2000 });
    render();
    const result = await api("POST", `/api/devices/${encodeURIComponent(device.device_id)}/commands`, { command: "self_test" });
    if (!result.ok || !result.body.ok) {
      const why = result.body.error || result.body.code || "";
      model.selfTests.set(device.device_id, { text: t("command_failed", { error: why }), outcome: "failed" });
      render();
    }
  }

  function noteSelfTest(device) {
    const test = model.selfTests.get(device.device_id);
    if (!test || test.outcome !== "pending") return;
    const done = device.events.find((e) => e.event === "self_test" && e.ts >= test.since);
    if (done) {
      const passed = !done.data || done.data.passed !== false;
      model.selfTests.set(device.device_id, {
        text: passed ? t("self_test_passed") : t("self_test_failed"),
        outcome: passed ? "passed" : "failed",
      });
    }
  }

  async function removeDevice(device) {
    const result = await api("DELETE", `/api/devices/${encodeURIComponent(device.device_id)}?grace_s=${UNDO_S}`);
    if (!result.ok) {
      snack(errorText(result.body));
      return;
    }
    const current = model.devices.get(device.device_id);
    if (current) current.removing_at = result.body.final_at || Date.now();
    render();
    snack(t("removed", { name: device.name }), async () => {
      const undone = await api("POST", `/api/devices/${encodeURIComponent(device.device_id)}/undo-remove`);
      if (undone.ok) {
        const back = model.devices.get(device.device_id);
        if (back) back.removing_at = null;
        render();
        snack(t("restored", { name: device.name }));
      } else {
        snack(errorText(undone.body));
      }
    });
  }

  function snack(text, undo) {
    const bar = $("#snackbar");
    $("#snackbar-text").textContent = text;
    const button = $("#snackbar-undo");
    button.hidden = !undo;
    button.textContent = t("undo");
    button.onclick = undo ? () => { bar.hidden = true; undo(); } : null;
    bar.hidden = false;
    clearTimeout(snackTimer);
    snackTimer = setTimeout(() => { bar.hidden = true; }, (undo ? UNDO_S - 0.5 : 4) * 1000);
  }

  // --- start ------------------------------------------------------------------------------

  $("#lang-toggle").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("courtyard.lang", lang);
    applyLanguage();
  });
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      history.replaceState(null, "", tab.dataset.tab === "home" ? "/" : `#${tab.dataset.tab}`);
      showTab(tab.dataset.tab);
    });
  }
  $("#pair-form").addEventListener("submit", submitPairing);
  $("#pair-cancel").addEventListener("click", () => { pairing = null; $("#pair-dialog").close(); });
  privacy = window.CourtyardPrivacy({
    t, api, locale: () => (lang === "zh" ? "zh-CN" : "en-GB"),
  });
  charging = window.CourtyardCharging({
    t, api, locale: () => (lang === "zh" ? "zh-CN" : "en-GB"),
  });
  applyLanguage();
  const TABS = ["privacy", "charging", "notices"];
  const wanted = location.hash.slice(1);
  showTab(TABS.includes(wanted) ? wanted : "home");
  charging.load();
  connect();
})();
