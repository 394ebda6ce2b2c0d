// Courtyard home hub: the resident's privacy page (what is shared, grant, withdraw, export,
// erase). Consents are signed here, in the browser, with the resident's own Ed25519 key
// (WebCrypto; the private key is generated non-extractable and kept in IndexedDB): the hub
// only ever sees the public key and never signs on the resident's behalf.
"use strict";

window.CourtyardPrivacy = (ctx) => {
  const { t, api } = ctx;
  const $ = (sel) => document.querySelector(sel);
  const RECIPIENT = "property_duty:duty";
  const PURPOSE = "safety_monitoring";
  const DAYS = 365;
  const NOTICE_VERSION = "hub-ui-1";
  const DOMAIN = "courtyard-consent-v1\u0000";
  const DAY_MS = 86400000;
  let view = null;
  let signer = null; // { privateKey, kid } once the hub trusts this browser's key
  let pending = null; // the consent dialog's action
  const utf8 = new TextEncoder();

  // --- encodings (privacy/encoding.py) ------------------------------------------------------

  function canon(value) {
    if (Array.isArray(value)) return `[${value.map(canon).join(",")}]`;
    if (value !== null && typeof value === "object") {
      const keys = Object.keys(value).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canon(value[k])}`).join(",")}}`;
    }
    return JSON.stringify(value);
  }

  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
  const b64url = (buf) => b64(buf).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const sha256 = async (bytes) => hex(await crypto.subtle.digest("SHA-256", bytes));

  // --- the resident's key ---------------------------------------------------------------------

  function keyStore(mode, work) {
    return new Promise((resolve, reject) => {
      const opened = indexedDB.open("courtyard-resident", 1);
      opened.onupgradeneeded = () => opened.result.createObjectStore("keys");
      opened.onerror = () => reject(opened.error);
      opened.onsuccess = () => {
        const tx = opened.result.transaction("keys", mode);
        const request = work(tx.objectStore("keys"));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error);
      };
    });
  }

  async function ensureSigner() {
    if (!window.crypto || !crypto.subtle) throw new Error(t("pv.no_webcrypto"));
    const name = `${view.home}/${view.resident}`;
    let pair = await keyStore("readonly", (s) => s.get(name));
    if (!pair) {
      pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      await keyStore("readwrite", (s) => s.put(pair, name));
    }
    const kid = (await sha256(await crypto.subtle.exportKey("raw", pair.publicKey))).slice(0, 16);
    const der = b64(await crypto.subtle.exportKey("spki", pair.publicKey));
    const pem = `-----BEGIN PUBLIC KEY-----\n${der.match(/.{1,64}/g).join("\n")}\n-----END PUBLIC KEY-----\n`;
    const registered = await api("POST", "/api/privacy/resident", { subject: view.resident, public_key_pem: pem });
    if (!registered.ok) throw new Error(registered.body.error || t("err.network"));
    signer = { privateKey: pair.privateKey, kid };
    $("#privacy-key").textContent = kid;
  }

  async function signed(record) {
    const bytes = utf8.encode(DOMAIN + canon(record));
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, signer.privateKey, bytes);
    return { record, signer: signer.kid, sig: b64url(sig) };
  }

  // --- what is shared ---------------------------------------------------------------------------

  const live = (record) => record.status === "granted" && Date.parse(record.expires_at) > Date.now();
  const catLabel = (c) => t(`pv.cat.${c}`);
  const recipientLabel = (id) => {
    const [role, who] = id.split(":");
    return `${t(`pv.role.${role}`)}${who && who !== "duty" ? ` (${who})` : ""}`;
  };
  const list = (items) => items.join(t("pv.list_sep"));
  const dateLabel = (iso) => new Date(iso).toLocaleDateString(ctx.locale(), { year: "numeric", month: "long", day: "numeric" });
  const timeLabel = (iso) => new Date(iso).toLocaleString(ctx.locale(), { dateStyle: "medium", timeStyle: "medium" });

  async function load() {
    const result = await api("GET", "/api/privacy");
    if (!result.ok) return showError(result.body.error || t("err.network"));
    view = result.body;
    render();
    if (!signer) {
      try {
        await ensureSigner();
      } catch (exc) {
        showError(String(exc.message || exc));
      }
    }
  }

  function showError(text) {
    const el = $("#privacy-error");
    el.textContent = text;
    el.hidden = !text;
  }

  function render() {
    if (!view) return;
    $("#privacy-mode").textContent = t(`pv.mode_${view.mode}`);
    $("#privacy-categories").replaceChildren(...Object.keys(view.categories).map(categoryCard));
    const withheld = Object.entries(view.withheld);
    $("#withheld-empty").hidden = withheld.length > 0;
    $("#privacy-withheld").replaceChildren(...withheld.map(([category, n]) => {
      const li = document.createElement("li");
      li.dataset.category = category;
      const label = document.createElement("span");
      label.textContent = category === "unclassified" ? t("pv.unclassified") : catLabel(category);
      const count = document.createElement("strong");
      count.textContent = String(n);
      count.dataset.testid = "withheld-count";
      li.append(label, count);
      return li;
    }));
    renderOverrides();
  }

  function categoryCard(category) {
    const info = view.categories[category];
    const card = document.createElement("article");
    card.className = "card consent";
    card.dataset.testid = "privacy-category";
    card.dataset.category = category;
    const head = document.createElement("div");
    head.className = "card-head";
    const title = document.createElement("h3");
    title.textContent = catLabel(category);
    const badges = document.createElement("div");
    badges.className = "badges";
    const consents = view.consents.filter((r) => live(r) && r.categories.some((g) => g.category === category));
    card.dataset.status = consents.length ? "granted" : "withheld";
    if (info.sensitive) badges.append(badge(t("pv.sensitive"), "sensitive", "sensitive"));
    badges.append(badge(consents.length ? t("pv.shared") : t("pv.not_shared"), card.dataset.status));
    head.append(title, badges);
    const hint = document.createElement("p");
    hint.className = "muted small";
    hint.textContent = t(`pv.cat_hint.${category}`);
    card.append(head, hint);

    for (const record of consents) {
      const grant = record.categories.find((g) => g.category === category);
      const dl = document.createElement("dl");
      dl.className = "state";
      const rows = [
        ["pv.with_whom", list(record.recipients.map(recipientLabel))],
        ["pv.why", t(`pv.purpose.${record.purpose}`)],
        ["pv.until", dateLabel(record.expires_at)],
        ["pv.fields", list(grant.fields.map((f) => t(`pv.field.${f}`)))],
        ["pv.kept", t("pv.days", { n: grant.retention_days })],
      ];
      for (const [key, value] of rows) {
        const dt = document.createElement("dt");
        dt.textContent = t(key);
        const dd = document.createElement("dd");
        dd.textContent = value;
        dl.append(dt, dd);
      }
      card.append(dl);
      const row = document.createElement("div");
      row.className = "row";
      row.append(button(t("pv.withdraw"), "danger ghost", "withdraw", () => askWithdraw(record)));
      card.append(row);
    }
    if (!consents.length) {
      const row = document.createElement("div");
      row.className = "row";
      row.append(button(t("pv.grant"), "primary", "grant", () => askGrant(category)));
      card.append(row);
    }
    return card;
  }

  function badge(text, status, testid) {
    const el = document.createElement("span");
    el.className = `badge${status === "sensitive" ? " sensitive" : ""}`;
    el.dataset.status = status;
    if (testid) el.dataset.testid = testid;
    el.textContent = text;
    return el;
  }

  function button(text, cls, testid, onClick) {
    const el = document.createElement("button");
    el.type = "button";
    el.className = cls;
    el.dataset.testid = testid;
    el.textContent = text;
    el.addEventListener("click", onClick);
    return el;
  }

  const OVERRIDE_TEXT = /override: (\S+) shared with (\S+) \(([^)]*)\)/;

  function renderOverrides() {
    const table = $("#privacy-overrides");
    $("#overrides-empty").hidden = view.overrides.length > 0;
    table.hidden = view.overrides.length === 0;
    table.tBodies[0].replaceChildren(...view.overrides.map((use) => {
      const parsed = OVERRIDE_TEXT.exec(use.what);
      const tr = document.createElement("tr");
      tr.dataset.testid = "override-use";
      const event = parsed ? t(`events.${parsed[1]}`) : use.what;
      const to = recipientLabel(parsed ? parsed[2] : use.to);
      const fields = parsed ? list(parsed[3].split(", ").map((f) => t(`pv.field.${f}`))) : "";
      const cells = [timeLabel(use.at), `${event} · ${use.event_ref}`, to, fields];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }));
  }

  // --- grant and withdraw: one click and one confirmation each ----------------------------------

  function openConsentDialog(title, text, confirm, action) {
    pending = action;
    $("#consent-title").textContent = title;
    $("#consent-text").textContent = text;
    $("#consent-confirm").textContent = confirm;
    $("#consent-confirm").disabled = false;
    $("#consent-error").hidden = true;
    $("#consent-dialog").showModal();
  }

  function askGrant(category) {
    const info = view.categories[category];
    const notice = t("pv.grant_notice", {
      category: catLabel(category),
      to: recipientLabel(RECIPIENT),
      why: t(`pv.purpose.${PURPOSE}`),
      fields: list(info.fields.map((f) => t(`pv.field.${f}`))),
      days: DAYS,
    }) + (info.sensitive ? ` ${t("pv.sensitive_notice")}` : "");
    openConsentDialog(t("pv.grant_title", { category: catLabel(category) }), notice, t("pv.grant_confirm"), async () => {
      const now = new Date();
      return signed({
        v: 1,
        consent_id: crypto.randomUUID().replace(/-/g, ""),
        revision: 0,
        subject: view.resident,
        home: view.home,
        purpose: PURPOSE,
        legal_basis: "consent",
        categories: [{ category, sensitive: info.sensitive, fields: [...info.fields], retention_days: DAYS }],
        recipients: [RECIPIENT],
        granted_at: now.toISOString(),
        expires_at: new Date(now.getTime() + DAYS * DAY_MS).toISOString(),
        collection_method: "hub_ui",
        notice: { version: NOTICE_VERSION, sha256: await sha256(utf8.encode(notice)) },
        status: "granted",
        withdrawn_at: null,
      });
    });
  }

  function askWithdraw(record) {
    const categories = list(record.categories.map((g) => catLabel(g.category)));
    const text = t("pv.withdraw_notice", { categories, to: list(record.recipients.map(recipientLabel)) });
    openConsentDialog(t("pv.withdraw_title"), text, t("pv.withdraw_confirm"), async () => {
      const at = new Date(Math.max(Date.now(), Date.parse(record.granted_at)));
      return signed({ ...record, revision: record.revision + 1, status: "withdrawn", withdrawn_at: at.toISOString() });
    });
  }

  async function confirmConsent(event) {
    event.preventDefault();
    if (!pending) return;
    $("#consent-confirm").disabled = true;
    let result;
    try {
      if (!signer) await ensureSigner();
      result = await api("POST", "/api/privacy/consent", await pending());
    } catch (exc) {
      result = { ok: false, body: { error: String(exc.message || exc) } };
    }
    $("#consent-confirm").disabled = false;
    if (!result.ok) {
      $("#consent-error").textContent = result.body.error || t("err.network");
      $("#consent-error").hidden = false;
      return;
    }
    pending = null;
    $("#consent-dialog").close();
    await load();
  }

  // --- erase ------------------------------------------------------------------------------

  const eraseWord = () => t("pv.erase_word");

  function openErase() {
    $("#erase-label").textContent = t("pv.erase_type", { word: eraseWord() });
    $("#erase-word").value = "";
    $("#erase-submit").disabled = true;
    $("#erase-error").hidden = true;
    $("#erase-dialog").showModal();
    $("#erase-word").focus();
  }

  async function submitErase(event) {
    event.preventDefault();
    if ($("#erase-word").value.trim() !== eraseWord()) return;
    $("#erase-submit").disabled = true;
    const result = await api("POST", "/api/privacy/erase", {});
    if (!result.ok) {
      $("#erase-error").textContent = result.body.error || t("err.network");
      $("#erase-error").hidden = false;
      return;
    }
    const receiptId = (await sha256(utf8.encode(canon(result.body)))).slice(0, 32);
    $("#erase-dialog").close();
    const shown = $("#erase-receipt");
    shown.dataset.receiptId = receiptId;
    shown.dataset.outcome = "passed";
    shown.textContent = t("pv.erased", { id: receiptId, at: timeLabel(result.body.shredded_at) });
    shown.hidden = false;
    await load();
  }

  $("#consent-form").addEventListener("submit", confirmConsent);
  $("#consent-cancel").addEventListener("click", () => { pending = null; $("#consent-dialog").close(); });
  $("#privacy-erase").addEventListener("click", openErase);
  $("#erase-word").addEventListener("input", () => {
    $("#erase-submit").disabled = $("#erase-word").value.trim() !== eraseWord();
  });
  $("#erase-form").addEventListener("submit", submitErase);
  $("#erase-cancel").addEventListener("click", () => $("#erase-dialog").close());

  return { load, render };
};
