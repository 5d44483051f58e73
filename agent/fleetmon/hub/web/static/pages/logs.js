// The hosts' log lines (#/logs; docs/hub.md "Log storage"): a search over api/v1/logs, newest first, with its filters
// kept in the address (a link shows the same lines), paged back with "Older", and a live tail. The tail is its own
// EventSource on api/v1/logs/stream with the same filters, not the console's feed (lib/live.js): the lines are many
// and only this page wants them. It starts after the newest line shown, so nothing falls between the search and the
// tail; it is closed while the tab is hidden or the toggle is off and opened again after the last line received.
import { query } from "../lib/api.js";
import { dateTime } from "../lib/format.js";
import { escapeHtml } from "../lib/html.js";
import { markDrawn, pageModule } from "../lib/page.js";

const PATH = "logs";
/** syslog priorities, 0 (most severe) to 7, as the hub names them (fleetmon.hub.logs.search.PRIORITIES). */
const PRIORITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];
const SINCE = ["15m", "1h", "6h", "24h", "7d"];
const DEFAULT_SINCE = "1h";
const TEXT_FILTERS = ["host", "group", "unit", "q"];
const PAGE_LINES = 200;
/** Rows kept while the tail prepends: the oldest go first (Older reads them again). */
const MAX_ROWS = 2000;
const MIN_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;

export default pageModule({ path: PATH, title: "Logs", nav: true, role: "viewer" },
  (root, params, ctx) => new LogsPage(root, ctx));

/** The filters an address asks for, as the API's parameters: empty boxes and choices the form does not offer are left
 * out, and the range is always there (the default one when the address has none). */
export function filtersFrom(entries) {
  const given = new Map(entries.map(([key, value]) => [key, value.trim()]));
  const filters = {};
  for (const key of TEXT_FILTERS) if (given.get(key)) filters[key] = given.get(key);
  if (PRIORITIES.includes(given.get("priority"))) filters.priority = given.get("priority");
  filters.since = SINCE.includes(given.get("since")) ? given.get("since") : DEFAULT_SINCE;
  return filters;
}

/** The rows after lines arrive on the tail (oldest first, as the stream sends them) in front of `shown` (newest
 * first): a line already shown is not shown twice, and at most `cap` rows are kept, the oldest dropped. */
export function withArrivals(shown, arriving, cap = MAX_ROWS) {
  const newest = shown.length ? shown[0].id : 0;
  const fresh = arriving.filter((line) => line.id > newest).sort((a, b) => b.id - a.id);
  return [...fresh, ...shown].slice(0, cap);
}

class LogsPage {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first lines are on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.loads = 0;
    this.lines = [];  // newest first, as shown
    this.nextBefore = null;
    this.after = 0;  // the tail starts after this line: the newest shown, or the search's newest_id
    this.searched = false;  // the last search succeeded: a tail with its filters would be accepted
    this.source = null;
    this.retry = 0;
    this.retryDelay = MIN_RETRY_MS;
    this.arriving = [];
    this.frame = 0;
    this.filters = filtersFrom([...(ctx.query || new URLSearchParams()).entries()]);
    root.classList.add("logs-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><h1>Logs</h1>' +
      '<p class="status logs-status">Loading…</p></div>' + formMarkup(this.filters) + "</header>" +
      '<div class="page-body"><p class="problem logs-problem" role="alert" hidden></p>' +
      '<section class="card"><div class="scroll"><table id="log-lines">' +
      '<caption class="sr-only">Log lines, newest first</caption><thead><tr><th scope="col">Time</th>' +
      '<th scope="col">Host</th><th scope="col">Unit</th><th scope="col">Priority</th><th scope="col">Message</th>' +
      "</tr></thead><tbody></tbody></table></div>" +
      '<p class="empty logs-empty" hidden></p><div class="logs-more"><button type="button" class="older" hidden>' +
      "Older</button></div></section></div>";
    const find = (selector) => root.querySelector(selector);
    this.el = { status: find(".logs-status"), problem: find(".logs-problem"), form: find("form.logs-filters"),
                live: find("#logs-live"), rows: find("#log-lines tbody"), empty: find(".logs-empty"),
                older: find(".older"), hosts: find("#logs-known-hosts"), groups: find("#logs-known-groups") };
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.apply();
    });
    for (const select of this.el.form.querySelectorAll("select")) select.addEventListener("change", () => this.apply());
    this.el.live.addEventListener("change", () => this.follow());
    this.el.older.addEventListener("click", () => this.loadOlder());
    this.onVisibility = () => this.follow();
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  async start() {
    this.fillKnownNames();
    await this.search();
  }

  stop() {
    this.stopped = true;
    document.removeEventListener("visibilitychange", this.onVisibility);
    cancelAnimationFrame(this.frame);
    this.closeTail();
  }

  /** The form's filters become the address's and the search's. */
  apply() {
    const form = this.el.form.elements;
    this.filters = filtersFrom([...TEXT_FILTERS, "priority", "since"].map((key) => [key, form[key].value]));
    history.replaceState(null, "", `#/${PATH}?${query(this.filters)}`);
    this.search();
  }

  /** The fleet's hosts and groups as the boxes' suggestions; without them the boxes still take any name. */
  async fillKnownNames() {
    let hosts;
    try {
      ({ hosts } = await this.ctx.api.get("api/v1/hosts"));
    } catch {
      return;  // the search's own read says what is wrong with the hub; suggestions are no reason to say it twice
    }
    if (this.stopped) return;
    const options = (names) => [...new Set(names)].sort()
      .map((name) => `<option value="${escapeHtml(name)}">`).join("");
    this.el.hosts.innerHTML = options(hosts.map((h) => h.host));
    this.el.groups.innerHTML = options(hosts.flatMap((h) => h.groups || []));
  }

  async search() {
    const load = ++this.loads;
    this.closeTail();
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.arriving = [];  // the old filters' lines
    this.searched = false;
    this.el.status.textContent = "Searching…";
    let body;
    try {
      body = await this.ctx.api.get(`api/v1/logs?${query({ ...this.filters, limit: PAGE_LINES })}`);
    } catch (error) {
      if (load !== this.loads || this.stopped) return;
      this.showProblem(`The search failed: ${error.message}`);
      this.lines = [];
      this.nextBefore = null;
      this.draw();
      return;
    }
    if (load !== this.loads || this.stopped) return;
    this.showProblem("");
    this.lines = body.lines;
    this.nextBefore = body.next_before;
    this.after = Math.max(body.newest_id, this.lines.length ? this.lines[0].id : 0);
    this.searched = true;
    this.draw();
    this.follow();
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }

  async loadOlder() {
    const load = this.loads;
    this.el.older.disabled = true;
    let body;
    try {
      const older = { ...this.filters, limit: PAGE_LINES, before: this.nextBefore };
      body = await this.ctx.api.get(`api/v1/logs?${query(older)}`);
    } catch (error) {
      if (load === this.loads && !this.stopped) this.showProblem(`Older lines could not be read: ${error.message}`);
      return;
    } finally {
      this.el.older.disabled = false;
    }
    if (load !== this.loads || this.stopped) return;  // the filters changed meanwhile: this page is another search's
    this.showProblem("");
    this.lines = [...this.lines, ...body.lines];
    this.nextBefore = body.next_before;
    this.el.rows.insertAdjacentHTML("beforeend", body.lines.map(rowMarkup).join(""));
    this.drawStatus();
  }

  draw() {
    this.el.rows.innerHTML = this.lines.map(rowMarkup).join("");
    this.drawStatus();
  }

  drawStatus() {
    const count = this.lines.length;
    this.el.empty.hidden = count > 0 || !this.searched;
    this.el.empty.textContent = "No line matches the filters.";
    this.el.older.hidden = this.nextBefore === null;
    const tail = !this.el.live.checked ? "live off" : document.hidden ? "live paused while the tab is hidden" :
      this.source && this.source.readyState === EventSource.OPEN ? "live" : this.searched ? "live: connecting…" : "";
    this.el.status.textContent = [`${count} ${count === 1 ? "line" : "lines"}`, tail].filter(Boolean).join(" · ");
  }

  showProblem(text) {
    this.el.problem.textContent = text;
    this.el.problem.hidden = !text;
  }

  /** Opens or closes the tail as the toggle, the tab and the last search allow. */
  follow() {
    const wanted = this.el.live.checked && !document.hidden && this.searched && !this.stopped;
    if (!wanted) this.closeTail();
    else if (!this.source) this.openTail();
    this.drawStatus();
  }

  openTail() {
    clearTimeout(this.retry);
    const source = new EventSource(`api/v1/logs/stream?${query({ ...this.filters, after: this.after })}`);
    this.source = source;
    source.onopen = () => {
      this.retryDelay = MIN_RETRY_MS;
      this.drawStatus();
    };
    source.addEventListener("line", (event) => {
      let line;
      try {
        line = JSON.parse(event.data);
      } catch {
        return;  // not JSON: not a line of this protocol
      }
      this.arriving.push(line);
      if (!this.frame) this.frame = requestAnimationFrame(() => this.drawArrivals());
    });
    source.onerror = () => {
      this.drawStatus();
      // A dropped stream the browser retries by itself, sending Last-Event-ID; one the hub refused (a 503 with every
      // tail taken, a 401 after the session ended) it gives up on: opened again here, after the last line received.
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        this.source = null;
        this.retry = setTimeout(() => this.follow(), this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
      }
    };
  }

  closeTail() {
    clearTimeout(this.retry);
    if (this.source) this.source.close();
    this.source = null;
  }

  /** The lines the tail brought since the last frame, in front of the table in one go. */
  drawArrivals() {
    this.frame = 0;
    const arriving = this.arriving;
    this.arriving = [];
    if (this.stopped) return;
    const newest = this.lines.length ? this.lines[0].id : 0;
    const kept = withArrivals(this.lines, arriving);
    const fresh = kept.filter((line) => line.id > newest);
    if (!fresh.length) return;
    this.after = Math.max(this.after, fresh[0].id);
    const dropped = this.lines.length + fresh.length - kept.length;
    this.el.rows.insertAdjacentHTML("afterbegin", fresh.map(rowMarkup).join(""));
    for (let i = 0; i < dropped; i += 1) this.el.rows.lastElementChild.remove();
    if (dropped > 0) this.nextBefore = kept[kept.length - 1].id;  // Older reads what the cap let go
    this.lines = kept;
    this.drawStatus();
  }
}

function formMarkup(filters) {
  const text = (name, words, type, extra = "") => `<label for="logs-${name}">${words}</label>` +
    `<input id="logs-${name}" name="${name}" type="${type}" value="${escapeHtml(filters[name] || "")}" ` +
    `autocomplete="off"${extra}>`;
  const choice = (value, chosen, words = value) =>
    `<option value="${value}"${value === chosen ? " selected" : ""}>${words}</option>`;
  return '<form class="tools logs-filters" role="search">' +
    text("host", "Host", "text", ' list="logs-known-hosts"') + '<datalist id="logs-known-hosts"></datalist>' +
    text("group", "Group", "text", ' list="logs-known-groups"') + '<datalist id="logs-known-groups"></datalist>' +
    text("unit", "Unit", "text", ' placeholder="nginx.service"') +
    '<label for="logs-priority">Priority</label><select id="logs-priority" name="priority">' +
    choice("", filters.priority, "any") +
    PRIORITIES.map((name) => choice(name, filters.priority, `${name} and above`)).join("") + "</select>" +
    '<label for="logs-since">Since</label><select id="logs-since" name="since">' +
    SINCE.map((name) => choice(name, filters.since, `the last ${name}`)).join("") + "</select>" +
    text("q", "Text", "search", ' placeholder="words, &quot;a phrase&quot;, prefix*"') +
    '<button type="submit">Search</button>' +
    '<label class="check"><input id="logs-live" name="live" type="checkbox" checked> Live</label></form>';
}

function rowMarkup(line) {
  const priority = PRIORITIES[line.priority] || String(line.priority);
  const unit = line.unit ? escapeHtml(line.unit) : '<span class="muted">kernel</span>';
  const source = line.identifier ? `<span class="log-identifier">${escapeHtml(line.identifier)}${
    line.pid === null || line.pid === undefined ? "" : `[${escapeHtml(line.pid)}]`}</span>` : "";
  return `<tr data-line="${escapeHtml(line.id)}" class="log-line">` +
    `<td class="log-time">${escapeHtml(dateTime(line.ts))}</td>` +
    `<td><a href="#/host/${encodeURIComponent(line.host)}">${escapeHtml(line.host)}</a></td>` +
    `<td class="log-unit">${unit}${source ? `<br>${source}` : ""}</td>` +
    `<td><span class="log-priority log-priority-${escapeHtml(priority)}">${escapeHtml(priority)}</span></td>` +
    `<td class="log-message">${escapeHtml(line.message)}</td></tr>`;
}
