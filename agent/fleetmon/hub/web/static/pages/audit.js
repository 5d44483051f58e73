// The audit log (#/audit, admins): who logged in or failed to, and who acknowledged, silenced, expired or posted
// what, from where (api/v1/audit), newest first, filtered by user and by action.
import { query } from "../lib/api.js";
import { dateTime } from "../lib/format.js";
import { escapeHtml } from "../lib/html.js";
import { markDrawn, pageModule } from "../lib/page.js";

const PATH = "audit";
const RANGES = { "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const LIMIT = 2000;

export default pageModule({ path: PATH, title: "Audit", nav: true, role: "admin" },
  (root, params, ctx) => new AuditPage(root, ctx));

class AuditPage {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.loads = 0;
    this.entries = [];
    root.classList.add("audit-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><h1>Audit log</h1>' +
      '<p class="status audit-status">Loading…</p>' +
      '<p class="status failing audit-problem" role="alert" hidden></p></div>' +
      '<form class="tools"><label for="audit-range">Since</label><select id="audit-range" name="range">' +
      Object.keys(RANGES).map((name) => `<option value="${name}"${name === "7d" ? " selected" : ""}>the last ${name}</option>`)
        .join("") + "</select>" +
      '<label for="audit-user">User</label><select id="audit-user" name="user"><option value="">all</option></select>' +
      '<label for="audit-action">Action</label><select id="audit-action" name="action"><option value="">all</option></select>' +
      '<button type="button" class="reload">Refresh</button></form></header>' +
      '<div class="page-body"><section class="card"><div class="scroll"><table id="audit-log">' +
      '<caption class="sr-only">Audit entries, newest first</caption><thead><tr><th scope="col">Time</th>' +
      '<th scope="col">User</th><th scope="col">Role</th><th scope="col">Client</th><th scope="col">Action</th>' +
      '<th scope="col">Target</th><th scope="col">Result</th><th scope="col">Detail</th></tr></thead><tbody></tbody>' +
      '</table></div><p class="empty audit-empty" hidden></p></section></div>';
    const find = (selector) => root.querySelector(selector);
    this.el = { status: find(".audit-status"), problem: find(".audit-problem"), form: find("form.tools"),
                rows: find("#audit-log tbody"), empty: find(".audit-empty") };
    const form = this.el.form;
    form.addEventListener("submit", (event) => event.preventDefault());
    form.range.addEventListener("change", () => this.load());
    form.querySelector(".reload").addEventListener("click", () => this.load());
    // `form.action` would be the form's own attribute: the selects are looked up by id.
    this.userSelect = find("#audit-user");
    this.actionSelect = find("#audit-action");
    this.userSelect.addEventListener("change", () => this.draw());
    this.actionSelect.addEventListener("change", () => this.draw());
  }

  start() {
    return this.load();
  }

  stop() {
    this.stopped = true;
  }

  async load() {
    const load = ++this.loads;
    const since = (Date.now() / 1000 - RANGES[this.el.form.range.value]).toFixed(3);
    let body;
    try {
      body = await this.ctx.api.get(`api/v1/audit?${query({ since, limit: LIMIT })}`);
    } catch (error) {
      if (load !== this.loads || this.stopped) return;
      this.el.problem.textContent = `The audit log could not be read: ${error.message}`;
      this.el.problem.hidden = false;
      return;
    }
    if (load !== this.loads || this.stopped) return;
    this.el.problem.hidden = true;
    this.entries = body.entries || [];
    this.draw();
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }

  draw() {
    const user = fillChoices(this.userSelect, this.entries.map((e) => e.user || ""));
    const action = fillChoices(this.actionSelect, this.entries.map((e) => e.action));
    const shown = this.entries.filter((e) => (user === null || (e.user || "") === user) &&
      (action === null || e.action === action));
    this.el.rows.innerHTML = shown.map((e) => `<tr class="${e.ok ? "ok" : "refused"}"><td>${escapeHtml(dateTime(e.at))}</td>` +
      `<td>${e.user ? escapeHtml(e.user) : '<span class="muted">anonymous</span>'}</td><td>${escapeHtml(e.role || "")}</td>` +
      `<td>${escapeHtml(e.client || "")}</td><td>${escapeHtml(e.action)}</td><td class="wrap"><code>${
        escapeHtml(e.target || "")}</code></td>` +
      `<td><span class="outcome outcome-${e.ok ? "ok" : "failed"}">${e.ok ? "ok" : "refused"}</span></td>` +
      `<td class="wrap">${escapeHtml(e.detail || "")}</td></tr>`).join("");
    this.el.empty.hidden = shown.length > 0;
    this.el.empty.textContent = this.entries.length ? "No entry matches the filters." : "Nothing was recorded in this range.";
    const refused = this.entries.filter((e) => !e.ok).length;
    this.el.status.textContent = `${this.entries.length}${this.entries.length >= LIMIT ? " (the newest)" : ""} ` +
      `${this.entries.length === 1 ? "entry" : "entries"}${refused ? `, ${refused} refused` : ""} · ` +
      `updated ${new Date().toLocaleTimeString()}`;
  }
}

/** Fills a filter's options with the values seen, keeping the choice; answers it (null: all). */
function fillChoices(select, values) {
  const chosen = select.selectedIndex > 0 ? select.value : null;
  const choices = [...new Set(values)].sort();
  if (chosen !== null && !choices.includes(chosen)) choices.push(chosen);
  select.innerHTML = '<option value="">all</option>' + choices.map((v) => `<option value="${escapeHtml(v)}"${
    v === chosen ? " selected" : ""}>${v ? escapeHtml(v) : "(anonymous)"}</option>`).join("");
  return chosen;
}
