// Courtyard community dashboard: a live alarm board fed by /api/ws. Plain JS, no build step.
// Data from the server is only ever put into the page as text (never as HTML).
"use strict";

(() => {
  const I18N = {
    en: {
      title: "Community alarm centre", subtitle: "Courtyard · live",
      connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…",
      on_duty: "On duty", logout: "Sign out",
      sound_hint: "Click anywhere to enable the alarm sound.",
      tile_critical: "Critical active", tile_alert: "Alerts active",
      tile_unacked: "Unacknowledged", tile_hubs: "Hubs online",
      search: "Search home, room, device, event…",
      f_open: "Needs attention", f_all: "All statuses", f_active: "Active",
      f_unacked: "Unacknowledged", f_cleared: "Cleared", f_all_sev: "All severities",
      sev_critical: "Critical", sev_alert: "Alert", sev_info: "Info",
      col_severity: "Severity", col_event: "Event", col_home: "Home", col_room: "Room",
      col_device: "Device", col_status: "Status", col_age: "Age", col_count: "Count",
      col_actions: "Actions",
      empty: "No alarms. All quiet.", no_match: "No alarms match the filters.",
      ack: "Acknowledge", clear: "Clear", detail: "Alarm details", note: "Note (optional)",
      history: "History", hubs: "Home hubs", no_hubs: "No hubs enrolled yet.",
      st_active: "Active", st_acknowledged: "Acknowledged",
      st_cleared_unacked: "Cleared · not acknowledged", st_cleared: "Cleared",
      by: "by", hub_online: "online", hub_offline: "offline", hub_unknown: "unknown",
      devices: "devices", last_seen: "last seen", never: "never",
      ack_first: "Acknowledge the alarm before clearing it.",
      failed: "Action failed", done_ack: "Acknowledged", done_clear: "Cleared",
      f_home: "Home", f_building: "Building", f_unit: "Unit", f_room: "Room",
      place_building: "Bldg {b}", place_unit: "Unit {u}", f_device_id: "Device id",
      f_device: "Device", f_hub: "Hub", f_raised: "Raised", f_last: "Last event",
      f_count: "Count", f_acked: "Acknowledged", f_cleared: "Cleared",
      h_raised: "Raised", h_repeated: "Repeated", h_acknowledged: "Acknowledged",
      h_cleared: "Cleared", device_word: "device",
      col_handling: "Handling", assign: "Assign", start: "Start", resolve: "Resolve",
      assign_title: "Assign to the person on duty",
      hd_new: "New", hd_assigned: "Assigned", hd_in_progress: "In progress",
      hd_resolved: "Resolved", tier_title: "Escalation tier (0 = first)",
      assignee_placeholder: "Assign to…",
      need_note: "Write what was done in the note, then press Resolve.",
      done_assign: "Assigned", done_start: "Work started", done_resolve: "Resolved",
      f_handling: "Handling", f_assignee: "Assignee", f_tier: "Escalation tier",
      f_resolution: "Resolution",
      h_assigned: "Assigned", h_started: "Work started", h_resolved: "Resolved",
      h_evidence: "Evidence", h_escalated: "Escalated", h_notified: "Notified",
      h_notify_failed: "Notification failed",
      supervision_word: "supervision", hub_word: "hub", escalation_word: "escalation",
      rules_word: "safety rules",
      tab_board: "Alarms", tab_shed: "Charging shed", tab_lanes: "Fire lanes",
      tab_history: "History",
      shed_title: "Charging shed", shed_empty: "No charging port has reported yet.",
      cuts_title: "Power cuts by the safety rules", cuts_empty: "No cuts so far.",
      col_when: "When", col_port: "Port", col_reason: "Reason", col_command: "Command",
      col_alarm: "Alarm", station: "Station", port_n: "Port {n}",
      m_power: "Power", m_temp: "Temperature", m_current: "Current", m_voltage: "Voltage",
      m_energy: "Energy", m_session: "Session", last_report: "last report",
      no_session: "none", last_cut: "Last cut",
      ps_idle: "Idle", ps_charging: "Charging", ps_full: "Full", ps_stopped: "Stopped",
      ps_fault: "Fault", ps_unknown: "Unknown",
      rs_overtemperature: "Over-temperature", rs_overpower: "Over-power",
      rs_abnormal_load: "Abnormal load (power strip)", rs_full: "Charged full",
      rs_too_long: "Charging too long", rs_shed_smoke: "Smoke in the shed",
      cs_asked: "Asked", cs_pending: "Sent · waiting", cs_overdue: "Overdue",
      cs_acked: "Done (confirmed)", cs_failed: "Failed",
      lanes_title: "Fire lanes", lanes_empty: "No fire-lane sensor has reported yet.",
      col_zone: "Zone", col_lane_state: "State", col_occupied: "Occupied for",
      col_threshold: "Alarm after",
      occ_clear: "Clear", occ_vehicle: "Vehicle", occ_object: "Object",
      occ_vehicle_and_object: "Vehicle and object",
      dwell_vehicle: "vehicle {s}", dwell_object: "object {s}", repeat_every: "repeat every {s}",
      no_alarm: "—", updated: "updated {t}", load_failed: "Could not load",
      f_all_kinds: "All events", f_ack_any: "Acknowledged or not", f_ack_yes: "Acknowledged",
      f_from: "From", f_to: "To", f_reset: "Reset", prev: "Previous", next: "Next",
      range: "{a}–{b} of {n}", range_none: "0 of 0",
      release: "Release car", done_release: "Car released",
      held_since: "Car held since {t}", released_by: "Released by {who} · {t}",
      command_word: "command", sealed_for: "{f}: sealed for {r}",
      ev: {
        smoke_alarm: "Smoke alarm", gas_alarm: "Gas leak", fall_detected: "Fall detected",
        emergency_call: "Emergency call", water_leak: "Water leak",
        device_offline: "Device offline", battery_low: "Battery low",
        hardware_fault: "Hardware fault", end_of_service: "End of service", tamper: "Tamper",
        hub_offline: "Hub offline",
        charger_overtemperature: "Charger over-temperature",
        charger_overpower: "Charger over-power", charger_abnormal_load: "Abnormal charging load",
        charge_too_long: "Charging too long", charging_shed_smoke: "Smoke in the charging shed",
        charger_command_unacknowledged: "Charger did not confirm a cut",
        elevator_ebike: "E-bike in an elevator", fire_lane_obstructed: "Fire lane obstructed",
      },
    },
    zh: {
      title: "社区报警中心", subtitle: "Courtyard · 实时",
      connecting: "正在连接…", live: "实时", reconnecting: "正在重连…",
      on_duty: "值班人员", logout: "退出",
      sound_hint: "点击页面任意位置以启用报警声音。",
      tile_critical: "紧急报警", tile_alert: "一般告警",
      tile_unacked: "未确认", tile_hubs: "在线网关",
      search: "搜索住户、房间、设备、事件…",
      f_open: "待处理", f_all: "全部状态", f_active: "报警中",
      f_unacked: "未确认", f_cleared: "已解除", f_all_sev: "全部级别",
      sev_critical: "紧急", sev_alert: "告警", sev_info: "提示",
      col_severity: "级别", col_event: "事件", col_home: "住户", col_room: "房间",
      col_device: "设备", col_status: "状态", col_age: "持续", col_count: "次数",
      col_actions: "操作",
      empty: "暂无报警，一切正常。", no_match: "没有符合筛选条件的报警。",
      ack: "确认", clear: "解除", detail: "报警详情", note: "备注（可选）",
      history: "处理记录", hubs: "家庭网关", no_hubs: "尚未登记网关。",
      st_active: "报警中", st_acknowledged: "已确认",
      st_cleared_unacked: "已解除 · 未确认", st_cleared: "已解除",
      by: "操作人", hub_online: "在线", hub_offline: "离线", hub_unknown: "未知",
      devices: "台设备", last_seen: "最近通信", never: "从未",
      ack_first: "请先确认报警，再解除。",
      failed: "操作失败", done_ack: "已确认", done_clear: "已解除",
      f_home: "住户", f_building: "楼栋", f_unit: "单元", f_room: "房间",
      place_building: "{b}栋", place_unit: "{u}单元", f_device_id: "设备编号",
      f_device: "设备", f_hub: "网关", f_raised: "报警时间", f_last: "最近事件",
      f_count: "次数", f_acked: "确认", f_cleared: "解除",
      h_raised: "报警", h_repeated: "重复报警", h_acknowledged: "确认", h_cleared: "解除",
      device_word: "设备",
      col_handling: "处置", assign: "指派", start: "开始处置", resolve: "办结",
      assign_title: "指派给当前值班人员",
      hd_new: "待指派", hd_assigned: "已指派", hd_in_progress: "处置中",
      hd_resolved: "已办结", tier_title: "升级级别（0 为第一级）",
      assignee_placeholder: "指派给…",
      need_note: "请先在备注中填写处置结果，再点击办结。",
      done_assign: "已指派", done_start: "已开始处置", done_resolve: "已办结",
      f_handling: "处置状态", f_assignee: "处置人", f_tier: "升级级别",
      f_resolution: "处置结果",
      h_assigned: "指派", h_started: "开始处置", h_resolved: "办结",
      h_evidence: "证据", h_escalated: "升级通知", h_notified: "已通知",
      h_notify_failed: "通知失败",
      supervision_word: "系统监测", hub_word: "网关", escalation_word: "升级",
      rules_word: "安全规则",
      tab_board: "报警", tab_shed: "充电棚", tab_lanes: "消防通道", tab_history: "历史记录",
      shed_title: "充电棚", shed_empty: "尚无充电端口上报数据。",
      cuts_title: "安全规则执行的断电", cuts_empty: "暂无断电记录。",
      col_when: "时间", col_port: "端口", col_reason: "原因", col_command: "指令",
      col_alarm: "报警", station: "充电站", port_n: "{n}号端口",
      m_power: "功率", m_temp: "温度", m_current: "电流", m_voltage: "电压",
      m_energy: "电量", m_session: "充电会话", last_report: "最近上报",
      no_session: "无", last_cut: "最近断电",
      ps_idle: "空闲", ps_charging: "充电中", ps_full: "已充满", ps_stopped: "已停止",
      ps_fault: "故障", ps_unknown: "未知",
      rs_overtemperature: "温度过高", rs_overpower: "功率过高",
      rs_abnormal_load: "负载异常（插线板）", rs_full: "已充满",
      rs_too_long: "充电时间过长", rs_shed_smoke: "充电棚烟雾",
      cs_asked: "已请求", cs_pending: "已发送 · 等待确认", cs_overdue: "超时未确认",
      cs_acked: "已执行（已确认）", cs_failed: "失败",
      lanes_title: "消防通道", lanes_empty: "尚无消防通道传感器上报数据。",
      col_zone: "区域", col_lane_state: "状态", col_occupied: "占用时长",
      col_threshold: "报警阈值",
      occ_clear: "畅通", occ_vehicle: "有车辆", occ_object: "有杂物",
      occ_vehicle_and_object: "有车辆和杂物",
      dwell_vehicle: "车辆 {s}", dwell_object: "杂物 {s}", repeat_every: "每 {s} 重复",
      no_alarm: "—", updated: "更新于 {t}", load_failed: "加载失败",
      f_all_kinds: "全部事件", f_ack_any: "全部确认状态", f_ack_yes: "已确认",
      f_from: "从", f_to: "至", f_reset: "重置", prev: "上一页", next: "下一页",
      range: "第 {a}–{b} 条，共 {n} 条", range_none: "共 0 条",
      release: "放行", done_release: "已放行",
      held_since: "电梯自 {t} 起被锁定", released_by: "{who} 已放行 · {t}",
      command_word: "指令", sealed_for: "{f}：已加密，仅 {r} 可读",
      ev: {
        smoke_alarm: "烟雾报警", gas_alarm: "燃气泄漏", fall_detected: "跌倒检测",
        emergency_call: "紧急呼叫", water_leak: "漏水报警",
        device_offline: "设备离线", battery_low: "电量低",
        hardware_fault: "硬件故障", end_of_service: "寿命到期", tamper: "防拆报警",
        hub_offline: "网关离线",
        charger_overtemperature: "充电过温", charger_overpower: "充电功率过高",
        charger_abnormal_load: "充电负载异常", charge_too_long: "充电时间过长",
        charging_shed_smoke: "充电棚烟雾报警", charger_command_unacknowledged: "充电桩未确认断电",
        elevator_ebike: "电梯内电动车", fire_lane_obstructed: "消防通道占用",
      },
    },
  };
  const SEVERITY_RANK = { critical: 0, alert: 1, info: 2 };

  const $ = (sel) => document.querySelector(sel);
  const { el } = window.Kit;
  const alarms = new Map();
  const hubs = new Map();
  let lang = initialLanguage();
  let clockOffset = 0; // server time minus browser time, ms
  let selectedId = null;
  let audio = null;
  let socket = null;
  let retryDelay = 500;
  let firstSnapshot = true;

  function initialLanguage() {
    const saved = localStorage.getItem("courtyard.lang");
    if (saved === "en" || saved === "zh") return saved;
    const prefs = navigator.languages || [navigator.language || "en"];
    return prefs.some((l) => /^zh\b/i.test(l)) ? "zh" : "en";
  }
  const t = (key) => (I18N[lang][key] !== undefined ? I18N[lang][key] : I18N.en[key] || key);
  /** "Bldg 1 · Unit 2" / "1栋 · 2单元": bare numbers next to a flat number are unreadable. */
  const place = (building, unit) => [
    building ? t("place_building").replace("{b}", building) : "",
    unit ? t("place_unit").replace("{u}", unit) : "",
  ].filter(Boolean).join(" · ");
  const eventName = (kind) => I18N[lang].ev[kind] || I18N.en.ev[kind] || kind;
  /** Who did something: people by name, the system's own actors in words. */
  const SYSTEM_ACTORS = { device: "device_word", supervision: "supervision_word",
    hub: "hub_word", escalation: "escalation_word", rules: "rules_word" };
  /** "{name}" placeholders filled in, as text. */
  const fill = (key, values) => Object.entries(values).reduce(
    (text, [k, v]) => text.replace(`{${k}}`, v), t(key));
  const who = (by) => (SYSTEM_ACTORS[by] ? t(SYSTEM_ACTORS[by]) : by);
  const handlingOf = (a) => a.handling || "new";

  // ---- language --------------------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = lang === "zh" ? "Courtyard · 社区报警中心" : "Courtyard · Community alarms";
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    }
    $("#lang").textContent = lang === "zh" ? "English" : "中文";
    setConn($("#conn").dataset.state);
    render();
    renderFieldPages();
  }

  // ---- time ------------------------------------------------------------------------------
  const serverNow = () => Date.now() + clockOffset;
  function age(iso) {
    return duration(serverNow() - Date.parse(iso));
  }
  function duration(ms) {
    const s = Math.floor(Math.max(0, ms) / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
    return `${Math.floor(h / 24)}d ${h % 24}h`;
  }
  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
  }

  // ---- sound -----------------------------------------------------------------------------
  function unlockAudio() {
    if (audio) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = new Ctx();
    $("#sound-hint").hidden = true;
  }
  function beep() {
    if (!audio) return;
    const start = audio.currentTime + 0.02;
    for (let i = 0; i < 3; i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, start + i * 0.3);
      gain.gain.exponentialRampToValueAtTime(0.25, start + i * 0.3 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.3 + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + i * 0.3);
      osc.stop(start + i * 0.3 + 0.22);
    }
  }

  // ---- state -----------------------------------------------------------------------------
  function stateOf(a) {
    if (a.status === "active") return a.acknowledged ? "acknowledged" : "active";
    return a.acknowledged ? "cleared" : "cleared-unacknowledged";
  }
  const STATE_LABEL = {
    active: "st_active", acknowledged: "st_acknowledged",
    "cleared-unacknowledged": "st_cleared_unacked", cleared: "st_cleared",
  };
  const STATE_RANK = { active: 0, acknowledged: 1, "cleared-unacknowledged": 2, cleared: 3 };

  function upsertAlarm(alarm, fromSnapshot) {
    const known = alarms.get(alarm.id);
    if (known && known.updated_at && alarm.updated_at && known.updated_at > alarm.updated_at) {
      return; // an older copy arriving late
    }
    alarms.set(alarm.id, alarm);
    if (!known && !fromSnapshot && alarm.status === "active" && alarm.severity === "critical") {
      beep();
    }
  }

  function matches(a) {
    const status = $("#filter-status").value;
    const severity = $("#filter-severity").value;
    if (severity !== "all" && a.severity !== severity) return false;
    if (status === "open" && a.status !== "active" && a.acknowledged) return false;
    if (status === "active" && a.status !== "active") return false;
    if (status === "cleared" && a.status !== "cleared") return false;
    if (status === "unacknowledged" && a.acknowledged) return false;
    const q = $("#search").value.trim().toLowerCase();
    if (!q) return true;
    const hay = [a.home_id, a.building, a.unit, a.room, a.device_id, a.device_name, a.kind,
      I18N.en.ev[a.kind], I18N.zh.ev[a.kind], a.hub_id, a.assignee].join(" ").toLowerCase();
    return hay.includes(q);
  }

  function compare(a, b) {
    return (STATE_RANK[stateOf(a)] - STATE_RANK[stateOf(b)])
      || (SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity])
      || (a.last_event_at < b.last_event_at ? 1 : a.last_event_at > b.last_event_at ? -1 : 0)
      || (b.id - a.id);
  }

  // ---- rendering -------------------------------------------------------------------------
  function row(a) {
    const state = stateOf(a);
    const actor = state === "acknowledged" ? a.acked_by : state === "cleared" ? a.cleared_by : null;
    const ack = el("button", { type: "button", "data-action": "ack", text: t("ack"),
      disabled: a.acknowledged });
    const clear = el("button", { type: "button", class: "secondary", "data-action": "clear",
      text: t("clear"), disabled: a.status !== "active" || !a.acknowledged,
      title: a.status === "active" && !a.acknowledged ? t("ack_first") : null });
    const home = place(a.building, a.unit);
    const handling = handlingOf(a);
    const work = [
      ["assign", handling === "resolved", t("assign_title")],
      ["start", handling === "in_progress" || handling === "resolved", null],
      ["resolve", handling !== "in_progress", null],
    ].map(([action, off, title]) => el("button", { type: "button", class: "secondary work",
      "data-action": action, text: t(action), disabled: off, title }));
    return el("tr", {
      "data-alarm-id": a.id, "data-severity": a.severity, "data-status": a.status,
      "data-acknowledged": String(a.acknowledged), class: a.id === selectedId ? "selected" : null,
    },
    el("td", { "data-field": "severity" },
      el("span", { class: `sev ${a.severity}`, text: t(`sev_${a.severity}`) })),
    el("td", { "data-field": "kind", class: "event", text: eventName(a.kind) }),
    el("td", { "data-field": "home", class: "home" }, a.home_id, home ? el("small", { text: home }) : null),
    el("td", { "data-field": "room", text: a.room }),
    el("td", { "data-field": "device", class: "device" }, a.device_name,
      el("small", { text: a.device_id })),
    el("td", { "data-field": "status", class: "state", "data-state": state,
      "data-status": a.status, "data-acknowledged": String(a.acknowledged) },
    t(STATE_LABEL[state]), actor ? el("small", { text: `${t("by")} ${who(actor)}` }) : null),
    el("td", { "data-field": "age", class: "age", "data-since": a.raised_at, text: age(a.raised_at) }),
    el("td", { "data-field": "count", class: "num", text: a.count }),
    el("td", { "data-field": "handling", class: "handling", "data-handling": handling,
      "data-tier": a.escalation_tier || 0 },
    t(`hd_${handling}`),
    a.escalation_tier > 0 ? el("span", { class: "tier", title: t("tier_title"),
      text: `T${a.escalation_tier}` }) : null,
    a.assignee ? el("small", { text: a.assignee }) : null),
    el("td", { class: "actions" }, el("div", {}, ack, clear),
      el("div", { class: "work-row" }, ...work)));
  }

  function render() {
    const list = [...alarms.values()].filter(matches).sort(compare);
    const body = $("#alarms tbody");
    body.replaceChildren(...list.map(row));
    const empty = $("#empty");
    empty.hidden = list.length > 0;
    empty.textContent = alarms.size ? t("no_match") : t("empty");
    const all = [...alarms.values()];
    $("#count-critical").textContent =
      all.filter((a) => a.status === "active" && a.severity === "critical").length;
    $("#count-alert").textContent =
      all.filter((a) => a.status === "active" && a.severity === "alert").length;
    $("#count-unacked").textContent = all.filter((a) => !a.acknowledged).length;
    renderHubs();
    renderDetail();
  }

  function renderHubs() {
    const list = [...hubs.values()].sort((a, b) =>
      (a.status === "offline" ? 0 : 1) - (b.status === "offline" ? 0 : 1)
      || a.hub_id.localeCompare(b.hub_id));
    $("#hubs").replaceChildren(...list.map((h) => {
      const where = [h.home_id, place(h.building, h.unit)].filter(Boolean).join(" · ");
      const counts = h.devices === null || h.devices === undefined ? ""
        : `${h.devices_online ?? "?"}/${h.devices} ${t("devices")} · `;
      const seen = `${t("last_seen")} ${h.last_seen ? when(h.last_seen) : t("never")}`;
      return el("li", { "data-hub-id": h.hub_id, "data-status": h.status || "unknown" },
        el("span", { class: "dot", "aria-hidden": "true" }),
        el("span", { class: "hub-name", text: h.hub_id }),
        el("span", { class: "hub-state", "data-field": "hub-status",
          text: t(`hub_${h.status in { online: 1, offline: 1 } ? h.status : "unknown"}`) }),
        el("small", { text: `${where} · ${counts}${seen}` }));
    }));
    $("#hubs-empty").hidden = hubs.size > 0;
    const online = [...hubs.values()].filter((h) => h.status === "online").length;
    $("#count-hubs").textContent = `${online}/${hubs.size}`;
  }

  let detailHistory = { id: null, items: [], evidence: [], body: null };
  /** The selected alarm: the live copy over the fetched one (which adds hold, sealed…). */
  function selectedAlarm() {
    if (selectedId === null) return null;
    const fetched = detailHistory.id === selectedId ? detailHistory.body : null;
    const live = alarms.get(selectedId);
    if (!live) return fetched;
    return fetched ? { ...fetched, ...live, hold: fetched.hold, sealed: fetched.sealed } : live;
  }
  function renderDetail() {
    const panel = $("#detail");
    const a = selectedAlarm();
    if (!a) { panel.hidden = true; return; }
    panel.hidden = false;
    panel.dataset.alarmId = a.id;
    const fields = [
      ["col_event", eventName(a.kind)], ["col_severity", t(`sev_${a.severity}`)],
      ["col_status", t(STATE_LABEL[stateOf(a)])], ["f_home", a.home_id],
      ["f_building", a.building], ["f_unit", a.unit], ["f_room", a.room],
      ["f_device", a.device_name], ["f_device_id", a.device_id], ["f_hub", a.hub_id],
      ["f_raised", when(a.raised_at)], ["f_last", when(a.last_event_at)], ["f_count", a.count],
      ["f_acked", a.acked_at ? `${when(a.acked_at)} · ${who(a.acked_by)}` : ""],
      ["f_cleared", a.cleared_at ? `${when(a.cleared_at)} · ${who(a.cleared_by)}` : ""],
      ["f_handling", t(`hd_${handlingOf(a)}`)], ["f_assignee", a.assignee],
      ["f_tier", a.escalation_tier > 0 ? String(a.escalation_tier) : ""],
      ["f_resolution", a.resolution],
    ].filter(([, v]) => v !== "" && v !== null && v !== undefined);
    $("#detail-fields").replaceChildren(...fields.flatMap(([k, v]) =>
      [el("dt", { text: t(k) }), el("dd", { text: v })]));
    $("#detail-ack").disabled = a.acknowledged;
    $("#detail-clear").disabled = a.status !== "active" || !a.acknowledged;
    const handling = handlingOf(a);
    $("#detail-assign").disabled = handling === "resolved";
    $("#detail-start").disabled = handling === "in_progress" || handling === "resolved";
    $("#detail-resolve").disabled = handling !== "in_progress";
    const current = detailHistory.id === a.id ? detailHistory : { items: [], evidence: [] };
    $("#detail-history").replaceChildren(...current.items.map((h) => el("li", {},
      `${t(`h_${h.action}`)} · ${who(h.by)} `,
      el("small", { text: when(h.at) }),
      h.note ? el("div", { text: h.action === "assigned" ? `→ ${h.note}` : h.note }) : null)));
    $("#detail-evidence").replaceChildren(...current.evidence.map((e) => el("li", {},
      el("b", { text: e.kind }), e.uri, ` · sha256 ${e.sha256.slice(0, 12)}…`)));
    renderSealed(a);
    renderRelease(a);
  }

  /** Fields sealed for named recipients: the manager sees who may read them, never the value. */
  function renderSealed(a) {
    const sealed = Array.isArray(a.sealed) ? a.sealed : [];
    $("#detail-sealed").replaceChildren(...sealed.flatMap((item) => {
      if (!item || typeof item !== "object") return [];
      const recipients = Array.isArray(item.recipients) ? item.recipients : [];
      return recipients.map((r) => el("li", { "data-field": String(item.field ?? ""),
        "data-recipient": String(r), text: fill("sealed_for", { f: String(item.field ?? ""),
          r: String(r) }) }));
    }));
  }

  /** An e-bike in an elevator holds the car; staff on site release it here. */
  function renderRelease(a) {
    const row = $("#detail-release-row");
    row.hidden = a.kind !== "elevator_ebike";
    if (row.hidden) return;
    const hold = a.hold && typeof a.hold === "object" ? a.hold : null;
    const button = $("#detail-release");
    button.disabled = Boolean(hold && hold.released);
    let state = "";
    if (hold && hold.released) {
      state = fill("released_by", { who: who(hold.released_by || ""),
        t: hold.released_ms ? when(new Date(hold.released_ms).toISOString()) : "" });
    } else if (hold && hold.held_ms) {
      state = fill("held_since", { t: when(new Date(hold.held_ms).toISOString()) });
    }
    if (hold && hold.command_status) {
      state += `${state ? " · " : ""}${t("command_word")}: ${t(`cs_${hold.command_status}`)}`;
    }
    $("#detail-release-state").textContent = state;
    row.dataset.released = String(Boolean(hold && hold.released));
  }

  async function releaseCar(id) {
    const button = $("#detail-release");
    button.disabled = true;
    try {
      const res = await fetch(`/api/alarms/${id}/release`, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ by: operator() }),
      });
      if (res.status === 401) { location.href = "/login"; return; }
      const data = await res.json().catch(() => ({}));
      if (!res.ok) { toast(`${t("failed")}: ${data.error || res.status}`, true); return; }
      if (data.alarm) {
        if (alarms.has(id)) upsertAlarm(data.alarm, false);
        detailHistory = { ...detailHistory, id, body: data.alarm };
      }
      toast(t("done_release"), false);
      loadHistory(id);
    } catch (err) {
      toast(`${t("failed")}: ${err}`, true);
    } finally {
      render();
    }
  }

  async function loadHistory(id) {
    try {
      const res = await fetch(`/api/alarms/${id}`, { credentials: "same-origin" });
      if (res.status === 401) { location.href = "/login"; return; }
      if (!res.ok) return;
      const body = await res.json();
      detailHistory = { id, items: body.history || [], evidence: body.evidence || [], body };
      renderDetail();
    } catch (_) { /* shown again on the next update */ }
  }

  function tick() {
    for (const cell of document.querySelectorAll("#alarms td[data-since], #lanes [data-since]")) {
      cell.textContent = age(cell.dataset.since);
    }
  }

  let toastTimer = null;
  function toast(text, isError) {
    const node = $("#toast");
    node.textContent = text;
    node.className = isError ? "toast error" : "toast";
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 3500);
  }

  // ---- actions ---------------------------------------------------------------------------
  function operator() {
    return $("#operator").value.trim() || "manager";
  }

  async function act(id, action, note, assignee) {
    const body = { by: operator() };
    if (note) body.note = note;
    if (action === "assign") body.to = assignee || operator();
    try {
      const res = await fetch(`/api/alarms/${id}/${action}`, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (res.status === 401) { location.href = "/login"; return; }
      const data = await res.json().catch(() => ({}));
      if (!res.ok) { toast(`${t("failed")}: ${data.error || res.status}`, true); return; }
      upsertAlarm(data.alarm, false);
      render();
      if (selectedId === id) loadHistory(id);
      toast(t(`done_${action}`), false);
    } catch (err) {
      toast(`${t("failed")}: ${err}`, true);
    }
  }

  /** A row's button. Resolving needs a note, so it opens the details to write one first. */
  function rowAction(id, action) {
    if (action !== "resolve") { act(id, action, ""); return; }
    const note = selectedId === id ? $("#detail-note").value.trim() : "";
    if (!note) {
      if (selectedId !== id) { selectedId = id; render(); loadHistory(id); }
      $("#detail-note").focus();
      toast(t("need_note"), true);
      return;
    }
    $("#detail-note").value = "";
    act(id, "resolve", note);
  }

  // ---- field pages: charging shed, fire lanes, history ------------------------------------
  const PAGES = ["board", "shed", "lanes", "history", "orders"]; // orders: see orders.js
  PAGES.push("notices", "parcels"); // the manager's notices, parcels: notices.js, parcels.js
  PAGES.push("visitors"); // visitor passes: visitors.js
  PAGES.push("care"); // care checks: care.js
  const FIELD_POLL_MS = 2000;
  const HISTORY_PAGE = 25;
  let page = "board";
  const field = { shed: null, lanes: null, shedError: "", lanesError: "" };
  const history = { offset: 0, total: 0, alarms: [], error: "", loaded: false };
  let historySeq = 0;

  function showPage(name) {
    page = PAGES.includes(name) ? name : "board";
    for (const section of document.querySelectorAll(".page")) {
      section.hidden = section.dataset.page !== page;
    }
    for (const tab of document.querySelectorAll(".tab")) {
      const current = tab.dataset.page === page;
      tab.setAttribute("aria-selected", String(current));
      tab.classList.toggle("current", current);
    }
    refreshPage();
  }

  function refreshPage() {
    if (page === "shed") loadField("shed");
    else if (page === "lanes") loadField("lanes");
    else if (page === "history") loadAlarmHistory();
  }

  let refreshTimer = null;
  /** An alarm changed: the page in view re-reads soon (many changes, one read). */
  function refreshSoon() {
    if (page === "board") return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshPage, 300);
  }

  async function getJson(url) {
    const res = await fetch(url, { credentials: "same-origin" });
    if (res.status === 401) { location.href = "/login"; throw new Error("signed out"); }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || String(res.status));
    return data;
  }

  async function loadField(which) {
    try {
      const data = await getJson(which === "shed" ? "/api/field/ports" : "/api/field/lanes");
      if (data.server_time) clockOffset = Date.parse(data.server_time) - Date.now();
      field[which] = data;
      field[`${which}Error`] = "";
    } catch (err) {
      field[`${which}Error`] = `${t("load_failed")}: ${err.message || err}`;
    }
    if (which === "shed") renderShed(); else renderLanes();
  }

  const num = (value, digits, unit) => (typeof value === "number"
    ? `${value.toFixed(digits)} ${unit}` : "—");
  const cutStatus = (status) => t(`cs_${status}`);
  const reasonName = (reason) => (I18N[lang][`rs_${reason}`] || I18N.en[`rs_${reason}`] || reason);
  /** The worst severity among a device's active alarms ("" when none). */
  function worst(list) {
    const active = (list || []).filter((a) => a.status === "active");
    active.sort((x, y) => SEVERITY_RANK[x.severity] - SEVERITY_RANK[y.severity]);
    return active.length ? active[0].severity : "";
  }
  function alarmBadge(a) {
    return el("button", { type: "button", class: `sev ${a.severity} alarm-link`,
      "data-open-alarm": a.id, "data-kind": a.kind, "data-status": a.status,
      title: t(STATE_LABEL[stateOf(a)]), text: eventName(a.kind) });
  }
  function showError(id, text) {
    const node = $(id);
    node.textContent = text;
    node.hidden = !text;
  }

  function portCard(p) {
    const severity = worst(p.alarms);
    const state = p.port_state || "unknown";
    const metrics = [
      ["m_power", num(p.power_w, 0, "W"), "power_w"],
      ["m_temp", num(p.temperature_c, 1, "°C"), "temperature_c"],
      ["m_current", num(p.current_a, 2, "A"), "current_a"],
      ["m_voltage", num(p.voltage_v, 0, "V"), "voltage_v"],
      ["m_energy", num(p.energy_wh, 0, "Wh"), "energy_wh"],
      ["m_session", p.session_id ? `…${String(p.session_id).slice(-6)}` : t("no_session"),
        "session"],
    ];
    const cut = (p.cuts || [])[0];
    return el("article", { class: "port", "data-device-id": p.device_id,
      "data-port-state": state, "data-severity": severity || null },
    el("header", {},
      el("b", { text: p.port ? fill("port_n", { n: p.port }) : p.device_id }),
      el("span", { class: `port-state ${state}`, "data-field": "port_state",
        text: t(`ps_${state}`) })),
    el("small", { class: "port-name", text: [p.device_name, p.device_id].filter(Boolean)
      .join(" · ") }),
    el("dl", { class: "metrics" }, ...metrics.flatMap(([label, value, name]) => [
      el("dt", { text: t(label) }), el("dd", { "data-field": name, text: value })])),
    el("div", { class: "port-alarms" }, ...(p.alarms || []).map(alarmBadge)),
    cut ? el("div", { class: "port-cut", "data-field": "last_cut",
      "data-command-status": cut.command_status },
    `${t("last_cut")}: ${reasonName(cut.reason)} · ${cutStatus(cut.command_status)}`) : null,
    el("small", { class: "port-seen", text: `${t("last_report")} ${
      p.last_report_at ? when(p.last_report_at) : t("never")}` }));
  }

  function renderShed() {
    showError("#shed-error", field.shedError);
    const data = field.shed;
    if (!data) return;
    $("#shed-updated").textContent = fill("updated", { t: when(data.server_time) });
    $("#stations").replaceChildren(...data.stations.map((st) => el("section", {
      class: "station", "data-station-id": st.station_id, "data-hub-id": st.hub_id },
    el("h3", {}, `${t("station")} ${st.station_id || "—"}`,
      el("small", { text: [st.home_id, place(st.building, st.unit), st.hub_id]
        .filter(Boolean).join(" · ") })),
    el("div", { class: "ports" }, ...st.ports.map(portCard)))));
    $("#shed-empty").hidden = data.stations.length > 0;
    const ports = new Map(data.stations.flatMap((st) => st.ports)
      .map((p) => [`${p.hub_id}/${p.device_id}`, p]));
    $("#cuts tbody").replaceChildren(...data.cuts.map((c) => {
      const p = ports.get(`${c.hub_id}/${c.device_id}`);
      const label = p && p.port ? `${p.station_id} · ${fill("port_n", { n: p.port })}`
        : c.device_id;
      return el("tr", { "data-device-id": c.device_id, "data-reason": c.reason,
        "data-command-status": c.command_status },
      el("td", { text: when(c.asked_at) }),
      el("td", { text: label }),
      el("td", { "data-field": "reason", text: reasonName(c.reason) }),
      el("td", { "data-field": "command_status", class: `cut-status ${c.command_status}`,
        title: c.error || null, text: cutStatus(c.command_status) }),
      el("td", {}, c.alarm_id ? el("button", { type: "button", class: "link",
        "data-open-alarm": c.alarm_id, text: `#${c.alarm_id}` }) : t("no_alarm")));
    }));
    $("#cuts-empty").hidden = data.cuts.length > 0;
  }

  const seconds = (s) => (typeof s === "number" ? duration(s * 1000) : "—");
  function renderLanes() {
    showError("#lanes-error", field.lanesError);
    const data = field.lanes;
    if (!data) return;
    $("#lanes-updated").textContent = fill("updated", { t: when(data.server_time) });
    $("#lanes tbody").replaceChildren(...data.zones.map((z) => {
      const obstruction = z.obstruction;
      const thresholds = [fill("dwell_vehicle", { s: seconds(z.vehicle_dwell_s) }),
        fill("dwell_object", { s: seconds(z.object_dwell_s) })];
      if (typeof z.repeat_s === "number") {
        thresholds.push(fill("repeat_every", { s: seconds(z.repeat_s) }));
      }
      return el("tr", { "data-zone-id": z.zone_id, "data-device-id": z.device_id,
        "data-occupancy": z.occupancy, "data-severity": worst(z.alarms) || null },
      el("td", { class: "home" }, z.zone_id || z.device_id,
        el("small", { text: [z.home_id, place(z.building, z.unit)].filter(Boolean)
          .join(" · ") })),
      el("td", { "data-field": "occupancy", class: `occupancy ${z.occupancy}`,
        text: t(`occ_${z.occupancy}`) }),
      el("td", { "data-field": "occupied", class: "age" }, z.occupied_since
        ? el("span", { "data-since": z.occupied_since, text: age(z.occupied_since) })
        : t("no_alarm")),
      el("td", { "data-field": "threshold", text: thresholds.join(" · ") }),
      el("td", { "data-field": "alarm" }, obstruction ? alarmBadge(obstruction) : t("no_alarm")),
      el("td", { class: "device" }, z.device_name,
        el("small", { text: `${z.device_id} · ${t("last_report")} ${
          z.last_report_at ? when(z.last_report_at) : t("never")}` })));
    }));
    $("#lanes-empty").hidden = data.zones.length > 0;
  }

  /** The history filters as /api/alarms query parameters (dates are local days). */
  function historyQuery() {
    const params = new URLSearchParams();
    const q = $("#h-q").value.trim();
    if (q) params.set("q", q);
    for (const [id, name] of [["#h-kind", "kind"], ["#h-severity", "severity"],
      ["#h-status", "status"], ["#h-acknowledged", "acknowledged"]]) {
      if ($(id).value) params.set(name, $(id).value);
    }
    const from = $("#h-from").value;
    const to = $("#h-to").value;
    if (from) params.set("since", new Date(`${from}T00:00:00`).toISOString());
    if (to) {
      const end = new Date(`${to}T00:00:00`);
      end.setDate(end.getDate() + 1);
      params.set("until", end.toISOString());
    }
    params.set("limit", String(HISTORY_PAGE));
    params.set("offset", String(history.offset));
    return params;
  }

  async function loadAlarmHistory() {
    const seq = ++historySeq;
    try {
      const data = await getJson(`/api/alarms?${historyQuery()}`);
      if (seq !== historySeq) return; // a newer search is on its way
      history.alarms = data.alarms;
      history.total = data.total;
      history.error = "";
    } catch (err) {
      if (seq !== historySeq) return;
      history.alarms = [];
      history.total = 0;
      history.error = `${t("load_failed")}: ${err.message || err}`;
    }
    history.loaded = true;
    renderHistory();
  }

  function renderHistory() {
    showError("#history-error", history.error);
    $("#history-table tbody").replaceChildren(...history.alarms.map((a) => {
      const state = stateOf(a);
      return el("tr", { "data-alarm-id": a.id, "data-severity": a.severity,
        "data-status": a.status, "data-acknowledged": String(a.acknowledged),
        class: a.id === selectedId ? "selected" : null },
      el("td", {}, el("span", { class: `sev ${a.severity}`, text: t(`sev_${a.severity}`) })),
      el("td", { "data-field": "kind", class: "event", text: eventName(a.kind) }),
      el("td", { class: "home" }, a.home_id,
        place(a.building, a.unit) ? el("small", { text: place(a.building, a.unit) }) : null),
      el("td", { class: "device" }, a.device_name, el("small", { text: a.device_id })),
      el("td", { class: "state", "data-state": state, text: t(STATE_LABEL[state]) }),
      el("td", { text: when(a.raised_at) }),
      el("td", { text: a.cleared_at ? `${when(a.cleared_at)} · ${who(a.cleared_by)}` : "" }));
    }));
    $("#history-empty").hidden = !history.loaded || history.alarms.length > 0;
    const first = history.total ? history.offset + 1 : 0;
    const last = history.offset + history.alarms.length;
    $("#h-range").textContent = history.total
      ? fill("range", { a: first, b: last, n: history.total }) : t("range_none");
    $("#h-prev").disabled = history.offset === 0;
    $("#h-next").disabled = last >= history.total;
  }

  function fillKinds() {
    const select = $("#h-kind");
    const chosen = select.value;
    const kinds = Object.keys(I18N.en.ev).sort((a, b) => eventName(a).localeCompare(eventName(b)));
    select.replaceChildren(el("option", { value: "", text: t("f_all_kinds") }),
      ...kinds.map((k) => el("option", { value: k, text: eventName(k) })));
    select.value = chosen;
  }

  function renderFieldPages() {
    fillKinds();
    renderShed();
    renderLanes();
    renderHistory();
  }

  /** Open an alarm's details from any page (it may not be on the live board). */
  function openAlarm(id) {
    selectedId = id;
    render();
    loadHistory(id);
  }

  let historyTimer = null;
  function searchSoon() {
    clearTimeout(historyTimer);
    historyTimer = setTimeout(() => { history.offset = 0; loadAlarmHistory(); }, 250);
  }

  function wireFieldPages() {
    for (const tab of document.querySelectorAll(".tab")) {
      tab.addEventListener("click", () => { location.hash = tab.dataset.page; });
    }
    window.addEventListener("hashchange", () => showPage(location.hash.slice(1)));
    for (const id of ["#h-q", "#h-kind", "#h-severity", "#h-status", "#h-acknowledged",
      "#h-from", "#h-to"]) {
      $(id).addEventListener("input", searchSoon);
    }
    $("#history-form").addEventListener("submit", (ev) => { ev.preventDefault(); searchSoon(); });
    $("#history-form").addEventListener("reset", () => setTimeout(searchSoon, 0));
    $("#h-prev").addEventListener("click", () => {
      history.offset = Math.max(0, history.offset - HISTORY_PAGE);
      loadAlarmHistory();
    });
    $("#h-next").addEventListener("click", () => {
      history.offset += HISTORY_PAGE;
      loadAlarmHistory();
    });
    $("#history-table tbody").addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-alarm-id]");
      if (tr) openAlarm(Number(tr.dataset.alarmId));
    });
    for (const id of ["#page-shed", "#page-lanes"]) {
      $(id).addEventListener("click", (ev) => {
        const link = ev.target.closest("[data-open-alarm]");
        if (link) openAlarm(Number(link.dataset.openAlarm));
      });
    }
    $("#detail-release").addEventListener("click", () => {
      if (selectedId !== null) releaseCar(selectedId);
    });
    setInterval(() => { if (page === "shed" || page === "lanes") refreshPage(); }, FIELD_POLL_MS);
    showPage(location.hash.slice(1));
  }

  // ---- live connection -------------------------------------------------------------------
  function setConn(state) {
    const node = $("#conn");
    node.dataset.state = state;
    node.textContent = t(state === "live" ? "live" : state);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/ws`);
    socket.addEventListener("open", () => { retryDelay = 500; setConn("live"); });
    socket.addEventListener("message", (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      // Other pages (orders.js) follow the same live feed.
      document.dispatchEvent(new CustomEvent("courtyard:message", { detail: msg }));
      if (msg.type === "snapshot") {
        if (msg.server_time) clockOffset = Date.parse(msg.server_time) - Date.now();
        const seen = new Set(alarms.keys());
        const keepResolved = [...alarms.values()].filter(
          (a) => a.status === "cleared" && a.acknowledged);
        alarms.clear();
        for (const a of keepResolved) alarms.set(a.id, a);
        for (const a of msg.alarms) upsertAlarm(a, firstSnapshot || seen.has(a.id));
        hubs.clear();
        for (const h of msg.hubs) hubs.set(h.hub_id, h);
        firstSnapshot = false;
      } else if (msg.type === "alarm") {
        upsertAlarm(msg.alarm, false);
        if (selectedId === msg.alarm.id) loadHistory(msg.alarm.id);
        refreshSoon();
      } else if (msg.type === "hub") {
        hubs.set(msg.hub.hub_id, msg.hub);
      }
      render();
    });
    socket.addEventListener("close", async () => {
      setConn("reconnecting");
      try {
        const res = await fetch("/api/stats", { credentials: "same-origin" });
        if (res.status === 401) { location.href = "/login"; return; }
      } catch (_) { /* server unreachable: keep retrying */ }
      const delay = retryDelay * (0.8 + Math.random() * 0.4);
      retryDelay = Math.min(retryDelay * 2, 10000);
      setTimeout(connect, delay);
    });
  }

  // ---- wiring ----------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("#operator").value = localStorage.getItem("courtyard.operator") || "";
    $("#operator").placeholder = "manager";
    $("#operator").addEventListener("change", () => {
      localStorage.setItem("courtyard.operator", $("#operator").value.trim());
    });
    $("#lang").addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh";
      localStorage.setItem("courtyard.lang", lang);
      applyLanguage();
    });
    for (const id of ["#search", "#filter-status", "#filter-severity"]) {
      $(id).addEventListener("input", render);
    }
    document.addEventListener("click", unlockAudio, { once: true });
    $("#alarms tbody").addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-alarm-id]");
      if (!tr) return;
      const id = Number(tr.dataset.alarmId);
      const button = ev.target.closest("button[data-action]");
      if (button) { rowAction(id, button.dataset.action); return; }
      selectedId = id;
      render();
      loadHistory(id);
    });
    $("#detail-close").addEventListener("click", () => { selectedId = null; render(); });
    $("#detail-assign").addEventListener("click", () => {
      if (selectedId === null) return;
      act(selectedId, "assign", "", $("#detail-assignee").value.trim());
      $("#detail-assignee").value = "";
    });
    $("#detail-start").addEventListener("click", () => {
      if (selectedId !== null) act(selectedId, "start", "");
    });
    $("#detail-resolve").addEventListener("click", () => {
      if (selectedId !== null) rowAction(selectedId, "resolve");
    });
    for (const [id, action] of [["#detail-ack", "ack"], ["#detail-clear", "clear"]]) {
      $(id).addEventListener("click", () => {
        if (selectedId === null) return;
        const note = $("#detail-note").value.trim();
        $("#detail-note").value = "";
        act(selectedId, action, note);
      });
    }
    applyLanguage();
    wireFieldPages();
    connect();
    setInterval(tick, 1000);
  });
})();
