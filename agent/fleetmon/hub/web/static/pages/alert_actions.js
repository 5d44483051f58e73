// What an operator does on the alerts page, as two dialogs: acknowledging an alert or a group (POST api/v1/acks)
// and silencing by matchers (POST api/v1/silences), the latter with a live preview of the firing alerts its
// matchers would mute (api/v1/alerts?filter=…, the hub's own matching, so the preview cannot disagree with it).
// Also the matcher text the filter box and the preview send, in Alertmanager's classic syntax.
import { query } from "../lib/api.js";
import { dateTime } from "../lib/format.js";
import { escapeHtml, labelText } from "../lib/html.js";

const OPERATORS = ["=", "!=", "=~", "!~"];
const DURATIONS = { "30m": 1800, "1h": 3600, "2h": 7200, "1d": 86400 };
const DEFAULT_DURATION = "1h";
const UNIT_SECONDS = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
const ACK_EXPIRIES = [["", "when the alert resolves"], ["3600", "in 1 hour"], ["14400", "in 4 hours"],
                      ["86400", "in 1 day"], ["custom", "at a time…"]];
const PREVIEW_DELAY_MS = 250;
const PREVIEW_MAX = 50;

/** The single matchers of a matcher list such as `{severity="critical", host=~"jet.*"}` (commas outside quotes). */
export function splitMatchers(text) {
  let body = text.trim();
  if (body.startsWith("{")) body = body.slice(1);
  if (body.endsWith("}")) body = body.slice(0, -1);
  const pieces = [];
  let current = "";
  let quoted = false;
  let escaped = false;
  for (const char of body) {
    if (escaped) escaped = false;
    else if (char === "\\") escaped = true;
    else if (char === '"') quoted = !quoted;
    else if (char === "," && !quoted) {
      pieces.push(current);
      current = "";
      continue;
    }
    current += char;
  }
  pieces.push(current);
  return pieces.map((piece) => piece.trim()).filter(Boolean);
}

/** One matcher as the hub parses it: the value quoted, its quotes, backslashes and newlines escaped. */
export function matcherText({ name, op, value }) {
  const quoted = value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `${name}${op}"${quoted}"`;
}

/** Seconds in a duration such as "90m", "1h30m", "2d" or "1w"; null for anything else. */
export function parseDuration(text) {
  const compact = text.replace(/\s+/g, "");
  if (!/^(\d+(\.\d+)?[wdhms])+$/.test(compact)) return null;
  let seconds = 0;
  for (const [, amount, unit] of compact.matchAll(/(\d+(?:\.\d+)?)([wdhms])/g)) seconds += Number(amount) * UNIT_SECONDS[unit];
  return seconds > 0 ? seconds : null;
}

/** Shows a modal dialog and, once it closes, gives the focus back to what `refocus()` answers then (the page may
 *  have redrawn the button that opened it meanwhile). */
function showModal(dialog, refocus) {
  dialog.addEventListener("close", () => {
    const target = refocus();
    if (target && document.contains(target)) target.focus();
  }, { once: true });
  dialog.showModal();
}

export class AckDialog {
  /** `onDone()` after an acknowledgement was stored. */
  constructor(container, ctx, onDone) {
    this.ctx = ctx;
    this.onDone = onDone;
    this.target = null;
    container.insertAdjacentHTML("beforeend", '<dialog id="ack-dialog" class="alert-dialog" aria-labelledby="ack-title">' +
      '<form><h2 id="ack-title">Acknowledge</h2><p class="dialog-target"></p>' +
      '<label for="ack-comment">Comment</label>' +
      '<textarea id="ack-comment" name="comment" rows="3" placeholder="what is being done about it"></textarea>' +
      '<label for="ack-expiry">The acknowledgement ends</label><select id="ack-expiry" name="expiry">' +
      ACK_EXPIRIES.map(([value, words]) => `<option value="${value}">${words}</option>`).join("") + "</select>" +
      '<label for="ack-until" class="ack-until" hidden>Ends at</label>' +
      '<input id="ack-until" name="until" type="datetime-local" class="ack-until" hidden>' +
      '<p class="dialog-error" role="alert"></p><div class="dialog-buttons">' +
      '<button type="button" class="cancel">Cancel</button><button type="submit" class="primary">Acknowledge</button>' +
      "</div></form></dialog>");
    this.dialog = container.querySelector("#ack-dialog");
    this.form = this.dialog.querySelector("form");
    this.error = this.dialog.querySelector(".dialog-error");
    this.form.expiry.addEventListener("change", () => {
      for (const element of this.dialog.querySelectorAll(".ack-until")) element.hidden = this.form.expiry.value !== "custom";
    });
    this.dialog.querySelector(".cancel").addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  /** `target` {id: fingerprint or group id, words: what is acknowledged, in words}. */
  open(target, refocus) {
    this.target = target;
    this.form.reset();
    for (const element of this.dialog.querySelectorAll(".ack-until")) element.hidden = true;
    this.error.textContent = "";
    this.dialog.querySelector(".dialog-target").textContent = target.words;
    showModal(this.dialog, refocus);
    this.form.comment.focus();
  }

  async submit() {
    const choice = this.form.expiry.value;
    let expiresAt = null;
    if (choice === "custom") {
      const ms = new Date(this.form.until.value).getTime();  // datetime-local is the reader's local time
      if (!Number.isFinite(ms)) {
        this.error.textContent = "Pick when the acknowledgement ends.";
        return;
      }
      expiresAt = new Date(ms).toISOString();
    } else if (choice) {
      expiresAt = new Date(Date.now() + Number(choice) * 1000).toISOString();
    }
    const button = this.form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      const answer = await this.ctx.api.send("POST", "api/v1/acks",
                                             { target: this.target.id, comment: this.form.comment.value.trim(), expiresAt });
      const count = (answer.acks || []).length;
      this.ctx.toast(`Acknowledged ${count} ${count === 1 ? "alert" : "alerts"}.`, "ok");
      this.dialog.close();
      this.onDone();
    } catch (error) {
      this.error.textContent = `Not acknowledged: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }
}

export class SilenceDialog {
  /** `onDone()` after a silence was stored. */
  constructor(container, ctx, onDone) {
    this.ctx = ctx;
    this.onDone = onDone;
    this.previews = 0;
    this.previewTimer = 0;
    this.rowIds = 0;
    container.insertAdjacentHTML("beforeend", '<dialog id="silence-dialog" class="alert-dialog" ' +
      'aria-labelledby="silence-title"><form><h2 id="silence-title">New silence</h2>' +
      '<fieldset class="matchers"><legend>Matchers (an alert is muted when it matches all of them)</legend>' +
      '<div class="matcher-rows"></div><button type="button" class="add-matcher">Add a matcher</button></fieldset>' +
      '<fieldset class="duration"><legend>Duration</legend><div class="presets">' +
      [...Object.keys(DURATIONS), "custom"].map((name) => `<button type="button" data-duration="${name}">${name}</button>`)
        .join("") + "</div>" +
      '<label for="silence-custom" class="custom-duration" hidden>Duration (such as 90m, 3h, 2d)</label>' +
      '<input id="silence-custom" name="custom" type="text" class="custom-duration" autocomplete="off" hidden>' +
      '<p class="silence-end muted" aria-live="polite"></p></fieldset>' +
      '<label for="silence-comment">Comment (why)</label>' +
      '<textarea id="silence-comment" name="comment" rows="2" aria-required="true"></textarea>' +
      '<h3 id="silence-preview-title">Alerts it would mute now</h3>' +
      '<div id="silence-preview" aria-labelledby="silence-preview-title" aria-live="polite"></div>' +
      '<p class="dialog-error" role="alert"></p><div class="dialog-buttons">' +
      '<button type="button" class="cancel">Cancel</button><button type="submit" class="primary">Silence</button>' +
      "</div></form></dialog>");
    this.dialog = container.querySelector("#silence-dialog");
    this.form = this.dialog.querySelector("form");
    this.rows = this.dialog.querySelector(".matcher-rows");
    this.preview = this.dialog.querySelector("#silence-preview");
    this.end = this.dialog.querySelector(".silence-end");
    this.error = this.dialog.querySelector(".dialog-error");
    this.dialog.querySelector(".add-matcher").addEventListener("click", () => {
      this.addRow({ name: "", op: "=", value: "" }).querySelector("input").focus();
    });
    this.rows.addEventListener("click", (event) => {
      const remove = event.target.closest(".remove-matcher");
      if (!remove) return;
      remove.closest(".matcher-row").remove();
      this.dialog.querySelector(".add-matcher").focus();
      this.previewSoon();
    });
    this.rows.addEventListener("input", () => this.previewSoon());
    this.dialog.querySelector(".presets").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-duration]");
      if (button) this.pickDuration(button.dataset.duration);
    });
    this.form.custom.addEventListener("input", () => this.showEnd());
    this.dialog.querySelector(".cancel").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => clearTimeout(this.previewTimer));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  /** Opens with a matcher per label of `labels` (each editable and removable). */
  open(labels, refocus) {
    this.form.reset();
    this.rows.innerHTML = "";
    for (const name of Object.keys(labels).sort()) this.addRow({ name, op: "=", value: labels[name] });
    this.error.textContent = "";
    this.pickDuration(DEFAULT_DURATION);
    showModal(this.dialog, refocus);
    this.form.comment.focus();
    this.showPreview();
  }

  addRow({ name, op, value }) {
    const id = ++this.rowIds;
    const row = document.createElement("div");
    row.className = "matcher-row";
    row.innerHTML = `<label class="sr-only" for="matcher-name-${id}">Label name</label>` +
      `<input id="matcher-name-${id}" name="matcher-name" type="text" value="${escapeHtml(name)}" placeholder="label" ` +
      'autocomplete="off">' +
      `<label class="sr-only" for="matcher-op-${id}">Operator</label><select id="matcher-op-${id}" name="matcher-op">${
        OPERATORS.map((o) => `<option${o === op ? " selected" : ""}>${escapeHtml(o)}</option>`).join("")}</select>` +
      `<label class="sr-only" for="matcher-value-${id}">Value</label>` +
      `<input id="matcher-value-${id}" name="matcher-value" type="text" value="${escapeHtml(value)}" placeholder="value" ` +
      'autocomplete="off">' +
      `<button type="button" class="remove-matcher">Remove<span class="sr-only"> the matcher on ${
        escapeHtml(name || "a new label")}</span></button>`;
    row.querySelector("select").addEventListener("change", () => this.previewSoon());
    this.rows.appendChild(row);
    return row;
  }

  /** The matchers of the rows that name a label. */
  matchers() {
    return [...this.rows.querySelectorAll(".matcher-row")].map((row) => ({
      name: row.querySelector("[name=matcher-name]").value.trim(),
      op: row.querySelector("[name=matcher-op]").value,
      value: row.querySelector("[name=matcher-value]").value,
    })).filter((m) => m.name);
  }

  pickDuration(name) {
    this.duration = name;
    for (const button of this.dialog.querySelectorAll("button[data-duration]")) {
      button.setAttribute("aria-pressed", String(button.dataset.duration === name));
    }
    for (const element of this.dialog.querySelectorAll(".custom-duration")) element.hidden = name !== "custom";
    if (name === "custom") this.form.custom.focus();
    this.showEnd();
  }

  /** Seconds the silence lasts, or null while the custom duration is not one. */
  seconds() {
    return this.duration === "custom" ? parseDuration(this.form.custom.value) : DURATIONS[this.duration];
  }

  showEnd() {
    const seconds = this.seconds();
    this.end.textContent = seconds === null ? "Write a duration such as 90m, 3h or 2d."
      : `Ends ${dateTime(Date.now() / 1000 + seconds)}.`;
  }

  previewSoon() {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.showPreview(), PREVIEW_DELAY_MS);
  }

  async showPreview() {
    const asked = ++this.previews;
    const matchers = this.matchers();
    if (!matchers.length) {
      this.preview.innerHTML = '<p class="muted">Add a matcher: a silence needs at least one.</p>';
      return;
    }
    let alerts;
    try {
      alerts = (await this.ctx.api.get(`api/v1/alerts?${query({ filter: matchers.map(matcherText) })}`)).alerts || [];
    } catch (error) {
      if (asked === this.previews) this.preview.innerHTML = `<p class="problem-inline">${escapeHtml(error.message)}</p>`;
      return;
    }
    if (asked !== this.previews) return;  // the matchers changed while the hub answered
    if (!alerts.length) {
      this.preview.innerHTML = '<p class="muted">No firing alert matches: the silence would mute only alerts to come.</p>';
      return;
    }
    const items = alerts.slice(0, PREVIEW_MAX).map((alert) => `<li><strong>${
      escapeHtml(alert.labels.alertname || "alert")}</strong> <span class="muted">${
      escapeHtml(labelText(alert.labels, ["alertname"]))}</span></li>`);
    const more = alerts.length > PREVIEW_MAX ? `<p class="muted">and ${alerts.length - PREVIEW_MAX} more.</p>` : "";
    this.preview.innerHTML = `<p>${alerts.length} firing ${alerts.length === 1 ? "alert" : "alerts"}:</p>` +
      `<ul class="preview-list">${items.join("")}</ul>${more}`;
  }

  async submit() {
    const matchers = this.matchers();
    const seconds = this.seconds();
    const comment = this.form.comment.value.trim();
    const missing = !matchers.length ? "Add at least one matcher." : seconds === null ? "Write a duration such as 3h."
      : !comment ? "Say why in the comment." : "";
    this.error.textContent = missing;
    if (missing) return;
    const body = {
      matchers: matchers.map(({ name, op, value }) => ({ name, value, isRegex: op.endsWith("~"), isEqual: !op.startsWith("!") })),
      endsAt: new Date(Date.now() + seconds * 1000).toISOString(),
      comment,
    };
    const button = this.form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      await this.ctx.api.send("POST", "api/v1/silences", body);
      this.ctx.toast(`Silenced until ${dateTime(Date.now() / 1000 + seconds)}.`, "ok");
      this.dialog.close();
      this.onDone();
    } catch (error) {
      this.error.textContent = `Not silenced: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }
}
