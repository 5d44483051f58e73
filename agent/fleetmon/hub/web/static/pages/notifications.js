// The notification log (#/notifications): every delivery attempt of the hub's receivers
// (api/v1/alerting/notifications), delivered or failed and why, with the group each one was about. The live
// feed's `alerts` event says the alerts changed; the notifications that change causes follow once the deliverer
// is done, and for a group already notified not before its next flush (api/v1/alerts/groups, nextFlush): the
// page reads the log then, and again at those two moments.
import { query } from "../lib/api.js";
import { dateTime, format } from "../lib/format.js";
import { escapeHtml } from "../lib/html.js";
import { coalesced, markDrawn, pageModule } from "../lib/page.js";

const PATH = "notifications";
const RANGES = { "1h": 3600, "24h": 86400, "7d": 7 * 86400 };
const LIMIT = 1000;
const DELIVERY_GRACE_MS = 3000;  // how long a delivery may take before its row is looked for (a webhook's answer)
const MAX_FOLLOW_UP_MS = 10 * 60 * 1000;  // a flush further away than this is left to the next alerts event

export default pageModule({ path: PATH, title: "Notifications", nav: true, role: "viewer" },
  (root, params, ctx) => new NotificationsPage(root, ctx));

class NotificationsPage {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.refresh = coalesced(() => this.load(), () => this.stopped);  // a change meanwhile: one more read after it
    this.attempts = [];
    this.groups = new Map();  // group key -> the group's view, while it exists
    this.seen = null;  // group id -> what its alerts were at the last read: a change means a notification due
    this.followUps = [];  // times (ms) the log is read again
    this.timer = 0;
    root.classList.add("notifications-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><h1>Notifications</h1>' +
      '<p class="status notifications-status">Loading…</p>' +
      '<p class="status failing notifications-problem" role="alert" hidden></p></div>' +
      '<form class="tools"><label for="notification-range">Since</label><select id="notification-range" name="range">' +
      Object.keys(RANGES).map((name) => `<option value="${name}"${name === "24h" ? " selected" : ""}>the last ${name}</option>`)
        .join("") + "</select>" +
      '<label for="notification-receiver">Receiver</label><select id="notification-receiver" name="receiver">' +
      '<option value="">all</option></select>' +
      '<label for="notification-outcome">Outcome</label><select id="notification-outcome" name="outcome">' +
      '<option value="">all</option><option value="ok">delivered</option><option value="failed">failed</option>' +
      "</select></form></header>" +
      '<div class="page-body"><section class="card"><div class="scroll">' +
      '<table id="notification-log"><caption class="sr-only">Delivery attempts, newest first</caption><thead><tr>' +
      '<th scope="col">Time</th><th scope="col">Receiver</th><th scope="col">Integration</th>' +
      '<th scope="col">Group</th><th scope="col">Outcome</th><th scope="col" class="num">Attempt</th>' +
      '<th scope="col" class="num">Took</th></tr></thead><tbody></tbody></table></div>' +
      '<p class="empty notifications-empty" hidden></p></section></div>';
    const find = (selector) => root.querySelector(selector);
    this.el = { status: find(".notifications-status"), problem: find(".notifications-problem"), form: find("form.tools"),
                rows: find("#notification-log tbody"), empty: find(".notifications-empty") };
    this.el.form.addEventListener("submit", (event) => event.preventDefault());
    this.el.form.range.addEventListener("change", () => this.refresh());
    this.el.form.receiver.addEventListener("change", () => this.draw());
    this.el.form.outcome.addEventListener("change", () => this.draw());
  }

  async start() {
    const { live } = this.ctx;
    live.on("alerts", () => this.measured("live:alerts", () => {
      this.followUp(Date.now() + DELIVERY_GRACE_MS);
      return this.refresh();
    }));
    live.on("resync", () => this.measured("live:resync", () => this.refresh()));
    await this.refresh();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async measured(name, work) {
    const start = performance.now();
    await work();
    performance.measure(name, { start, end: performance.now() });
  }

  followUp(at) {
    if (at - Date.now() > MAX_FOLLOW_UP_MS || this.followUps.includes(at)) return;
    this.followUps.push(at);
    this.followUps.sort((a, b) => a - b);
    this.arm();
  }

  arm() {
    clearTimeout(this.timer);
    if (this.stopped || !this.followUps.length) return;
    this.timer = setTimeout(() => {
      const now = Date.now();
      this.followUps = this.followUps.filter((at) => at > now);
      this.refresh();
      this.arm();
    }, Math.max(0, this.followUps[0] - Date.now()));
  }

  async load() {
    const since = (Date.now() / 1000 - RANGES[this.el.form.range.value]).toFixed(3);
    let attempts;
    let groups;
    try {
      [attempts, groups] = await Promise.all([
        this.ctx.api.get(`api/v1/alerting/notifications?${query({ since, limit: LIMIT })}`),
        this.ctx.api.get("api/v1/alerts/groups")]);
    } catch (error) {
      if (this.stopped) return;
      this.el.problem.textContent = `The notification log could not be read: ${error.message}`;
      this.el.problem.hidden = false;
      return;
    }
    if (this.stopped) return;
    this.el.problem.hidden = true;
    this.attempts = attempts.attempts || [];
    this.noteFlushes(groups.groups || []);
    this.draw();
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }

  /** Groups whose alerts changed since the last read notify at their next flush: the log is read again then. */
  noteFlushes(groups) {
    const states = new Map();
    this.groups = new Map(groups.map((g) => [g.groupKey, g]));
    for (const group of groups) {
      const state = `${group.firing}\n${group.alerts.join(",")}`;
      states.set(group.id, state);
      if (this.seen && this.seen.get(group.id) !== state && Number.isFinite(group.nextFlush)) {
        this.followUp(group.nextFlush * 1000 + DELIVERY_GRACE_MS);
      }
    }
    this.seen = states;
  }

  draw() {
    const form = this.el.form;
    const receivers = [...new Set(this.attempts.map((a) => a.receiver))].sort();
    const chosen = form.receiver.value;
    form.receiver.innerHTML = '<option value="">all</option>' + receivers.map((r) => `<option value="${escapeHtml(r)}"${
      r === chosen ? " selected" : ""}>${escapeHtml(r)}</option>`).join("");
    if (chosen && !receivers.includes(chosen)) {
      form.receiver.insertAdjacentHTML("beforeend", `<option value="${escapeHtml(chosen)}" selected>${escapeHtml(chosen)}</option>`);
    }
    const outcome = form.outcome.value;
    const shown = this.attempts.filter((a) => (!chosen || a.receiver === chosen) &&
      (!outcome || (outcome === "ok") === a.ok));
    this.el.rows.innerHTML = shown.map((a) => this.rowMarkup(a)).join("");
    this.el.empty.hidden = shown.length > 0;
    this.el.empty.textContent = this.attempts.length ? "No attempt matches the filters."
      : "No notification was sent in this range.";
    const failed = this.attempts.filter((a) => !a.ok && a.final).length;
    this.el.status.textContent = `${this.attempts.length}${this.attempts.length >= LIMIT ? " (the newest)" : ""} ` +
      `${this.attempts.length === 1 ? "attempt" : "attempts"}${failed ? `, ${failed} failed for good` : ""} · ` +
      `updated ${new Date().toLocaleTimeString()}`;
  }

  rowMarkup(attempt) {
    const group = this.groups.get(attempt.groupKey);
    const firingNow = group ? ` <span class="muted">(${group.firing} firing now)</span>` : "";
    const outcome = attempt.ok ? '<span class="outcome outcome-ok">delivered</span>'
      : `<span class="outcome outcome-failed">${attempt.final ? "failed" : "failed, retrying"}</span>`;
    const why = attempt.ok ? "" : [attempt.status ? `HTTP ${attempt.status}` : "", attempt.error].filter(Boolean).join(": ");
    return `<tr class="${attempt.ok ? "delivered" : "failed"}"><td>${escapeHtml(dateTime(attempt.at))}</td>` +
      `<td>${escapeHtml(attempt.receiver)}</td><td>${escapeHtml(attempt.integration)}</td>` +
      `<td class="wrap"><code title="${escapeHtml(attempt.groupKey)}">${escapeHtml(groupLabels(attempt.groupKey))}</code>${
        firingNow}</td>` +
      `<td class="wrap">${outcome}${why ? ` <span class="why">${escapeHtml(why)}</span>` : ""}</td>` +
      `<td class="num">${escapeHtml(attempt.attempt)}</td><td class="num">${escapeHtml(format("seconds", attempt.duration))}</td></tr>`;
  }
}

/** The group labels of a group key (route key ":" group labels, Alertmanager's form), else the whole key. */
function groupLabels(key) {
  const at = key.lastIndexOf(":{");
  return at >= 0 ? key.slice(at + 1) : key;
}
