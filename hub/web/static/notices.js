// Courtyard home hub: what the Notices tab adds for property notices and parcels.
// The list itself is drawn by charging.js; it calls decorate() for each notice and update()
// with the whole list. An unread urgent notice (params.urgent = "1") shows a banner at the top
// of every tab and sounds a short beep (WebAudio, no sound file) once per notice; a parcel
// notice shows where the parcel is and its pickup code. Everything is put in as text.
"use strict";

window.CourtyardNoticeExtras = (() => {
  const TEXT = {
    en: {
      urgent: "Urgent notice", open: "Open notices", locker: "{locker}, compartment {compartment}",
      code: "Pickup code", parcel_arrived: "A parcel is waiting for you",
      parcel_reminder: "Reminder: your parcel is still waiting",
      parcel_picked_up: "Your parcel was collected",
      announcement: "Notice from the property manager",
    },
    zh: {
      urgent: "紧急通知", open: "查看通知", locker: "{locker}，{compartment} 号格口",
      code: "取件码", parcel_arrived: "您有快递待取",
      parcel_reminder: "提醒：您的快递仍未取件",
      parcel_picked_up: "您的快递已被取走",
      announcement: "物业通知",
    },
  };
  const lang = () => (document.documentElement.lang.startsWith("zh") ? "zh" : "en");
  const t = (key, values) => Object.entries(values || {}).reduce(
    (text, [k, v]) => text.replace(`{${k}}`, v), TEXT[lang()][key] || TEXT.en[key] || key);
  const sounded = new Set();
  let audio = null;

  const isUrgent = (notice) => Boolean(notice.params && notice.params.urgent === "1");
  const isParcel = (notice) => notice.category === "service"
    && notice.params && notice.params.service === "parcels";

  function beep() {
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return false;
      audio = audio || new Context();
      if (audio.state === "suspended") audio.resume();
      const now = audio.currentTime;
      for (const [start, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = freq;
        gain.gain.value = 0.15;
        osc.connect(gain).connect(audio.destination);
        osc.start(now + start);
        osc.stop(now + start + 0.2);
      }
      return true;
    } catch (err) {
      return false;
    }
  }

  function decorate(li, notice) {
    if (isUrgent(notice)) {
      li.dataset.urgent = "true";
      li.classList.add("urgent");
    }
    if (!isParcel(notice)) return;
    const text = li.querySelector(".notice-text");
    if (text) text.textContent = t(notice.code);
    const data = notice.data || {};
    const where = document.createElement("p");
    where.className = "muted parcel-where";
    where.textContent = t("locker", {
      locker: data.locker || notice.params.locker || "", compartment: data.compartment || notice.params.compartment || "",
    });
    li.append(where);
    if (notice.code === "parcel_arrived" && typeof data.code === "string") {
      const code = document.createElement("p");
      code.className = "parcel-code";
      code.dataset.testid = "parcel-code";
      const label = document.createElement("span");
      label.textContent = `${t("code")} `;
      const value = document.createElement("strong");
      value.textContent = data.code;
      code.append(label, value);
      li.append(code);
    }
  }

  function update(notices) {
    const banner = document.querySelector("#urgent-banner");
    if (!banner) return;
    const urgent = notices.filter((n) => isUrgent(n) && !n.read);
    banner.hidden = urgent.length === 0;
    if (!urgent.length) return;
    const first = urgent[0];
    banner.dataset.noticeId = first.notice_id;
    banner.querySelector(".urgent-label").textContent = t("urgent");
    banner.querySelector(".urgent-title").textContent = first.title || t("announcement");
    banner.querySelector(".urgent-open").textContent = t("open");
    const fresh = urgent.filter((n) => !sounded.has(n.notice_id));
    if (fresh.length) {
      for (const n of fresh) sounded.add(n.notice_id);
      if (beep()) banner.dataset.beeps = String(Number(banner.dataset.beeps || 0) + 1);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const open = document.querySelector("#urgent-banner .urgent-open");
    if (open) open.addEventListener("click", () => document.querySelector("#tab-notices").click());
  });

  return { decorate, update };
})();
