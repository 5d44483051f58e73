// Maintenance windows (#/maintenance; docs/maintenance.md): the active and scheduled ones (and the ended ones
// behind a toggle) with what they cover, when, where they come from and why, from api/v1/maintenance; operators end
// a window now and plan one with the form, whose refusals the hub words (a window needs hosts, groups or matchers;
// a bad matcher names its place). A window's status changes with the clock, not with an event: the page reads again
// at the next start or end it knows of, on the live feed's `alerts` (a window mutes or releases alerts) and `resync`.
import { dateTime } from "../lib/format.js";
import { escapeHtml } from "../lib/html.js";
import { coalesced, markDrawn, pageModule } from "../lib/page.js";
import { parseDuration, splitMatchers } from "./alert_actions.js";

const PATH = "maintenance";
const DEFAULT_DURATION = "2h";
const MAX_TIMER_MS = 2 ** 31 - 1;  // setTimeout's limit (about 24 days); a later boundary is waited for in steps
const BOUNDARY_SLACK_MS = 1000;  // the hub's status turns at the boundary: read a moment after it

export default pageModule({ path: PATH, title: "Maintenance", nav: true, role: "viewer" },
  (root, params, ctx) => new MaintenancePage(root, ctx));

/** Host or group names from a box: separated by commas, spaces or newlines. */
export function splitNames(text) {
  return text.split(/[\s,]+/).map((name) => name.trim()).filter(Boolean);
}

/** Matchers from a box: one a line, or several on a line separated by commas outside quotes. */
export function splitMatcherLines(text) {
  return text.split("\n").flatMap((line) => splitMatchers(line));
}

/** A recurring window's time intervals in words: "tuesday 02:00–04:00 (Europe/Berlin)"; entries joined by "; ". */
export function recurrenceText(intervals) {
  return intervals.map((entry) => {
    const parts = [];
    for (const key of ["years", "months", "days_of_month", "weekdays"]) {
      if (entry[key] && entry[key].length) parts.push(entry[key].join(", "));
    }
    if (entry.times && entry.times.length) parts.push(entry.times.map((t) => `${t.start_time}–${t.end_time}`).join(", "));
    if (!parts.length) parts.push("always");
    return `${parts.join(" ")}${entry.location ? ` (${entry.location})` : ""}`;
  }).join("; ");
}

class MaintenancePage {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.timer = 0;
    this.refresh = coalesced(() => this.load(), () => this.stopped);
    this.operator = ctx.can("operator");
    this.windows = [];
    root.classList.add("maintenance-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><h1>Maintenance windows</h1>' +
      '<p class="status maintenance-status">Loading…</p>' +
      '<p class="status failing maintenance-problem" role="alert" hidden></p></div>' +
      '<form class="tools"><label class="check"><input name="ended" type="checkbox"> Show ended windows</label></form>' +
      '</header><div class="page-body"><section class="card"><div class="scroll"><table id="maintenance-windows">' +
      '<caption class="sr-only">Maintenance windows</caption><thead><tr><th scope="col">Name</th><th scope="col">Status</th>' +
      '<th scope="col">Covers</th><th scope="col">When</th><th scope="col">Source</th><th scope="col">By</th>' +
      `<th scope="col">Comment</th>${this.operator ? '<th scope="col"><span class="sr-only">Actions</span></th>' : ""}` +
      '</tr></thead><tbody></tbody></table></div><p class="empty maintenance-empty" hidden></p></section>' +
      (this.operator ? planMarkup() : "") + "</div>";
    const find = (selector) => root.querySelector(selector);
    this.el = { status: find(".maintenance-status"), problem: find(".maintenance-problem"),
                ended: find("input[name=ended]"), rows: find("#maintenance-windows tbody"),
                empty: find(".maintenance-empty"), plan: find("form.plan-window") };
    find("form.tools").addEventListener("submit", (event) => event.preventDefault());
    this.el.ended.addEventListener("change", () => this.refresh());
    this.el.rows.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action=end]");
      if (button) this.end(button);
    });
    if (this.el.plan) this.wirePlan();
  }

  async start() {
    this.ctx.live.on("alerts", () => this.refresh());
    this.ctx.live.on("resync", () => this.refresh());
    await this.refresh();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async load() {
    let body;
    try {
      body = await this.ctx.api.get(`api/v1/maintenance${this.el.ended.checked ? "?all=true" : ""}`);
    } catch (error) {
      if (this.stopped) return;
      this.el.problem.textContent = `The maintenance windows could not be read: ${error.message}`;
      this.el.problem.hidden = false;
      return;
    }
    if (this.stopped) return;
    this.el.problem.hidden = true;
    this.windows = body.windows || [];
    this.draw();
    this.readAtNextBoundary();
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }

  draw() {
    const order = { active: 0, scheduled: 1, ended: 2 };
    const windows = [...this.windows].sort((a, b) => order[a.status] - order[b.status] ||
      (Date.parse(a.startsAt) || 0) - (Date.parse(b.startsAt) || 0) || a.name.localeCompare(b.name));
    this.el.rows.innerHTML = windows.map((w) => rowMarkup(w, this.operator)).join("");
    this.el.empty.hidden = windows.length > 0;
    this.el.empty.textContent = this.el.ended.checked ? "No maintenance window is known." :
      "No maintenance window is active or scheduled.";
    const active = windows.filter((w) => w.status === "active").length;
    this.el.status.textContent = `${active} active, ${windows.filter((w) => w.status === "scheduled").length} scheduled` +
      `${this.el.ended.checked ? `, ${windows.filter((w) => w.status === "ended").length} ended` : ""} · updated ${
        new Date().toLocaleTimeString()}`;
  }

  /** A read just after the next start or end of a one-off window, when its status turns. */
  readAtNextBoundary() {
    clearTimeout(this.timer);
    const now = Date.now();
    const next = Math.min(...this.windows.filter((w) => w.status !== "ended")
      .flatMap((w) => [Date.parse(w.startsAt), Date.parse(w.endsAt)]).filter((ms) => ms > now));
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => this.refresh(), Math.min(next - now + BOUNDARY_SLACK_MS, MAX_TIMER_MS));
  }

  async end(button) {
    const id = button.dataset.target;
    button.disabled = true;
    try {
      const { window: ended } = await this.ctx.api.send("DELETE", `api/v1/maintenance/${encodeURIComponent(id)}`);
      this.ctx.toast(`The window ${ended.name} has ended.`, "ok");
    } catch (error) {
      this.ctx.toast(`The window was not ended: ${error.message}`, "error");
      button.disabled = false;
      return;
    }
    await this.refresh();
  }

  wirePlan() {
    const form = this.el.plan;
    const at = form.elements.at;
    for (const radio of form.querySelectorAll("input[name=start]")) {
      radio.addEventListener("change", () => {
        at.disabled = form.elements.start.value !== "at";
        if (!at.disabled) at.focus();
      });
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.plan();
    });
  }

  /** The form as the API's window, or a string saying what to fix first. */
  planned() {
    const form = this.el.plan.elements;
    const seconds = parseDuration(form.duration.value);
    if (seconds === null) return "Write a duration such as 90m, 2h or 1d.";
    let start = Date.now() / 1000;
    if (form.start.value === "at") {
      start = new Date(form.at.value).getTime() / 1000;  // datetime-local is the reader's local time
      if (!Number.isFinite(start)) return "Pick when the window starts.";
    }
    const body = { name: form.name.value.trim(), hosts: splitNames(form.hosts.value), groups: splitNames(form.groups.value),
                   matchers: splitMatcherLines(form.matchers.value), starts_at: start, ends_at: start + seconds,
                   comment: form.comment.value.trim() };
    return body.name ? body : "Give the window a name.";
  }

  async plan() {
    const form = this.el.plan;
    const problem = form.querySelector(".plan-error");
    const body = this.planned();
    problem.textContent = typeof body === "string" ? body : "";
    if (typeof body === "string") return;
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      const { window: planned } = await this.ctx.api.send("POST", "api/v1/maintenance", body);
      this.ctx.toast(`The window ${planned.name} is planned: ${planned.status}.`, "ok");
    } catch (error) {
      problem.textContent = `Not planned: ${error.message}`;
      return;
    } finally {
      button.disabled = false;
    }
    form.reset();
    form.elements.at.disabled = true;
    form.elements.duration.value = DEFAULT_DURATION;
    await this.refresh();
  }
}

function rowMarkup(entry, operator) {
  const link = (kind, name) => `<a href="#/${kind}/${encodeURIComponent(name)}">${escapeHtml(name)}</a>`;
  const covers = [];
  if (entry.hosts.length) covers.push(`<span class="covers">hosts ${entry.hosts.map((h) => link("host", h)).join(", ")}</span>`);
  if (entry.groups.length) covers.push(`<span class="covers">groups ${entry.groups.map((g) => link("group", g)).join(", ")}</span>`);
  if (entry.matchers.length) covers.push(`<span class="covers">alerts <code>${escapeHtml(entry.matchersText)}</code></span>`);
  const time = (text) => escapeHtml(dateTime(Date.parse(text) / 1000));
  const bounds = [entry.startsAt ? `from ${time(entry.startsAt)}` : "", entry.endsAt ? `until ${time(entry.endsAt)}` : ""]
    .filter(Boolean).join(" ");
  const schedule = entry.timeIntervals.length
    ? `<span class="recurring">recurring</span> ${escapeHtml(recurrenceText(entry.timeIntervals))}${bounds ? `, ${bounds}` : ""}`
    : `${entry.startsAt ? time(entry.startsAt) : "–"} – ${entry.endsAt ? time(entry.endsAt) : "–"}`;
  const ended = entry.endedAt ? `<br><span class="muted">ended ${time(entry.endedAt)}</span>` : "";
  const id = escapeHtml(entry.id);
  return `<tr data-window="${id}" class="window-${escapeHtml(entry.status)}"><th scope="row">${escapeHtml(entry.name)}</th>` +
    `<td><span class="window-status window-status-${escapeHtml(entry.status)}">${escapeHtml(entry.status)}</span></td>` +
    `<td class="wrap">${covers.join("<br>")}</td><td class="wrap">${schedule}${ended}</td>` +
    `<td>${escapeHtml(entry.source)}</td><td>${entry.createdBy ? escapeHtml(entry.createdBy) : '<span class="muted">–</span>'}</td>` +
    `<td class="wrap">${escapeHtml(entry.comment)}</td>` +
    (operator ? `<td>${entry.status === "ended" ? "" : `<button type="button" class="end-window" data-action="end" ` +
      `data-target="${id}">End now<span class="sr-only"> the window ${escapeHtml(entry.name)}</span></button>`}</td>` : "") +
    "</tr>";
}

function planMarkup() {
  const box = (name, words, help) => `<label for="plan-${name}">${words} <span class="muted">${help}</span></label>` +
    `<textarea id="plan-${name}" name="${name}" rows="2" autocomplete="off"></textarea>`;
  return '<section class="card"><h2>Plan a window</h2><div class="card-body"><form class="plan-window">' +
    '<label for="plan-name">Name</label><input id="plan-name" name="name" type="text" autocomplete="off" aria-required="true">' +
    box("hosts", "Hosts", "(separated by commas or new lines)") + box("groups", "Groups", "(inventory groups)") +
    box("matchers", "Alert matchers", '(such as alertname="DiskFull"; all must match)') +
    '<fieldset class="plan-start"><legend>Starts</legend><label class="check"><input type="radio" name="start" value="now" ' +
    'checked> now</label><label class="check"><input type="radio" name="start" value="at"> at</label>' +
    '<label class="sr-only" for="plan-at">Start time</label><input id="plan-at" name="at" type="datetime-local" disabled>' +
    '</fieldset><label for="plan-duration">Duration <span class="muted">(such as 90m, 2h, 1d)</span></label>' +
    `<input id="plan-duration" name="duration" type="text" value="${DEFAULT_DURATION}" autocomplete="off">` +
    '<label for="plan-comment">Comment</label><textarea id="plan-comment" name="comment" rows="2"></textarea>' +
    '<p class="form-error plan-error" role="alert"></p><div class="form-buttons">' +
    '<button type="submit" class="primary">Plan the window</button></div></form></div></section>';
}
