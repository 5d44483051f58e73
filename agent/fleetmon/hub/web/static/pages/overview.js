// The overview (#/): the fleet table of docs/hub.md, "Dashboard". One section per group of the layout
// (api/v1/dashboard: panel values and trends, then the live feed's `panels`; read again on `layout`), liveness
// and health per host (api/v1/hosts, then the feed's `hosts`), firing alerts (api/v1/alerts, again on `alerts`).
// Rows are markup strings parsed in one go: thousands of hosts draw fast; afterwards only the rows whose markup
// changed are parsed again (lib/rows.js).
import { age, dateTime, format } from "../lib/format.js";
import { escapeHtml } from "../lib/html.js";
import { markDrawn } from "../lib/page.js";
import { RowChunks } from "../lib/rows.js";
import { sparkline, trendFigures } from "../lib/sparkline.js";

const PATH = "overview";  // the name of its marks: document.body.dataset.ready, performance "draw:" and "live:"
const STATES = ["online", "silent", "offline", "missing"];
const STATE_RANK = { offline: 0, silent: 1, missing: 2, unknown: 3, online: 4 };  // worst first
const POLL_MS = 5000;  // everything, while the live feed is down
const ALERTS_DEBOUNCE_MS = 500;
const NO_ALERTS = Object.freeze([]);
// The widths of console.css's .c-* columns: host, state, health and alerts, and each panel.
const COLUMN_PX = { fixed: 190 + 150 + 80 + 70, panel: 100 };

const byName = new Intl.Collator().compare;
// The entries of `all` that a section's `panels` show.
const pick = (all, panels) => Object.fromEntries(panels.filter((p) => p in all).map((p) => [p, all[p]]));
// What the rows, the counts and the filter show of a host's summary.
const shownOf = (s) => JSON.stringify([s.state, s.since, s.reason, s.health, s.groups, s.labels]);
const closed = new Set();  // sections the reader folded, kept across redraws and visits

let view = null;

export default {
  path: "",
  title: "Overview",
  nav: true,
  role: "viewer",

  async render(root, params, ctx) {
    view = new Overview(root, ctx);
    await view.start();
  },

  dispose() {
    if (view) view.stop();
    view = null;
  },
};

class Overview {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.layout = null;
    this.hosts = new Map();
    this.alerts = { byHost: new Map(), total: 0, known: false };
    this.at = null;
    this.skeletonKey = "";
    this.parts = new Map();  // group -> {summary, trends, rows}
    this.rowCache = new WeakMap();  // a layout's row entry -> what its markup was built from, and the markup
    this.timer = 0;
    this.alertsTimer = 0;
    this.frame = 0;
    this.stopped = false;
    root.innerHTML = `<header class="top"><div class="heading"><h1 id="title">fleetmon</h1>` +
      '<p id="status" class="status">Loading…</p>' +
      // Announced when the hub stops answering; the time of each refresh is not, it would be noise.
      '<p id="problem" class="status failing" role="alert" hidden></p></div>' +
      '<ul id="counts" class="counts" aria-label="Fleet"></ul>' +
      '<form class="tools" role="search"><label for="filter">Filter hosts</label>' +
      '<input id="filter" type="search" placeholder="name, group or label" autocomplete="off">' +
      '<label class="check"><input id="problems" type="checkbox"> Needing attention only</label></form></header>' +
      '<div id="sections" class="sections"></div>';
    const find = (id) => root.querySelector(`#${id}`);
    this.el = { title: find("title"), status: find("status"), problem: find("problem"), counts: find("counts"),
                filter: find("filter"), problems: find("problems"), sections: find("sections") };
    this.el.filter.closest("form").addEventListener("submit", (event) => event.preventDefault());
    this.el.filter.addEventListener("input", () => this.draw());
    this.el.problems.addEventListener("change", () => this.draw());
    this.onVisible = () => document.hidden || this.refresh();
    document.addEventListener("visibilitychange", this.onVisible);
  }

  async start() {
    const { live } = this.ctx;
    live.watchPanels(true);
    live.on("hosts", (data) => this.patchHosts(data.hosts || []));
    live.on("panels", (data) => this.patchPanels(data.hosts || {}));
    live.on("layout", () => this.refreshLayout());
    live.on("alerts", () => this.refetchAlertsSoon());
    live.on("resync", () => this.refresh());
    live.on("connection", ({ connected }) => connected || this.schedule(POLL_MS));
    await this.refresh();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.alertsTimer);
    cancelAnimationFrame(this.frame);
    document.removeEventListener("visibilitychange", this.onVisible);
  }

  /** Everything again: the layout, the hosts and the alerts. */
  async refresh() {
    clearTimeout(this.timer);
    if (this.stopped || document.hidden) return;  // a background tab fetches nothing; becoming visible refreshes
    const { api } = this.ctx;
    try {
      const [layout, hosts, alerts] = await Promise.all([
        api.get("api/v1/dashboard"), api.get("api/v1/hosts"),
        api.get("api/v1/alerts").catch(() => null),  // hosts still show when alerting answers nothing
      ]);
      if (this.stopped) return;
      this.layout = layout;
      this.hosts = new Map(hosts.hosts.map((h) => [h.host, h]));
      this.alerts = alertIndex(alerts);
      this.drew(layout);
    } catch (error) {
      this.failed(error);
    } finally {
      this.schedule(POLL_MS);
    }
  }

  /** The layout alone, when the live feed says its shape or its trends changed (about once a minute). */
  async refreshLayout() {
    if (this.stopped || document.hidden) return;
    try {
      const layout = await this.ctx.api.get("api/v1/dashboard");
      if (this.stopped) return;
      this.layout = layout;
      this.drew(layout);
    } catch (error) {
      this.failed(error);
    }
  }

  /** With the feed up nothing is polled: it brings liveness, alerts and the panel values. Without it,
   * everything is read every few seconds, as the dashboard always did. */
  schedule(pollMs) {
    clearTimeout(this.timer);
    if (this.stopped || this.ctx.live.connected()) return;
    this.timer = setTimeout(() => this.refresh(), pollMs);
  }

  /** The feed's `panels`: {host: {values, levels}} of the hosts whose dashboard row changed. */
  patchPanels(rows) {
    if (!this.layout) return;
    let changed = false;
    for (const section of this.layout.sections) {
      for (const row of section.hosts) {
        const fresh = rows[row.host];
        if (!fresh) continue;
        row.values = pick(fresh.values, section.panels);
        row.levels = pick(fresh.levels, section.panels);
        changed = true;
      }
    }
    if (changed) this.drawSoon();
  }

  drew(layout) {
    this.at = new Date();
    this.draw();
    this.setStatus(`Updated ${this.at.toLocaleTimeString()}${this.alerts.known ? "" : " · alerts unavailable"}`, "");
    if (layout.sections.some((s) => s.hosts.some((h) => !this.hosts.has(h.host)))) this.refetchHostsSoon();
    if (!this.drawn) markDrawn(PATH, this.startedAt);
    this.drawn = true;
  }

  failed(error) {
    const since = this.at ? ` Showing the data of ${this.at.toLocaleTimeString()}.` : "";
    this.setStatus("", `The hub is not answering (${error.message}).${since}`);
  }

  /** A summary that shows the same (a new sample's figures come with the layout) keeps its old self: no redraw. */
  patchHosts(summaries) {
    const fresh = summaries.filter((s) => !this.hosts.has(s.host) || shownOf(this.hosts.get(s.host)) !== shownOf(s));
    for (const summary of fresh) this.hosts.set(summary.host, summary);
    if (fresh.length) this.drawSoon();
  }

  refetchAlertsSoon() {
    clearTimeout(this.alertsTimer);
    this.alertsTimer = setTimeout(async () => {
      const alerts = await this.ctx.api.get("api/v1/alerts").catch(() => null);
      if (this.stopped) return;
      this.alerts = alertIndex(alerts);
      this.drawSoon();
    }, ALERTS_DEBOUNCE_MS);
  }

  refetchHostsSoon() {
    // A host the layout lists before its first `hosts` event (it just appeared): its summary, once.
    if (this.hostsPending) return;
    this.hostsPending = true;
    this.ctx.api.get("api/v1/hosts").then((body) => {
      for (const summary of body.hosts) if (!this.hosts.has(summary.host)) this.hosts.set(summary.host, summary);
      this.drawSoon();
    }).catch(() => {}).finally(() => { this.hostsPending = false; });
  }

  drawSoon() {  // after what the live feed brought: measured as "live:"
    this.frame ||= requestAnimationFrame(() => {
      const start = performance.now();
      this.frame = 0;
      this.draw();
      performance.measure(`live:${PATH}`, { start, end: performance.now() });
    });
  }

  setStatus(text, problem) {
    if (text) this.el.status.textContent = text;
    if (this.el.problem.textContent !== problem) this.el.problem.textContent = problem;  // announced on change
    this.el.problem.hidden = !problem;
  }

  // --- drawing -------------------------------------------------------------------------------------------

  draw() {
    if (!this.layout || this.stopped) return;
    const { layout, hosts, alerts } = this;
    document.title = layout.title;
    this.el.title.textContent = layout.title;
    this.el.counts.innerHTML = countsMarkup(hosts, alerts);
    // Rebuilt only when the layout changes, so folded sections and scroll positions survive a refresh.
    const key = JSON.stringify(layout.sections.map((s) => [s.group, s.title, s.panels]));
    if (key !== this.skeletonKey) {
      this.buildSkeleton(layout);
      this.skeletonKey = key;
    }
    const query = this.el.filter.value.trim().toLowerCase();
    const problemsOnly = this.el.problems.checked;
    for (const section of layout.sections) {
      const rows = section.hosts.map((entry) => ({ entry, summary: hosts.get(entry.host),
                                                   alerts: alerts.byHost.get(entry.host) || NO_ALERTS }));
      const shown = rows.filter((row) => matches(row, query) && (!problemsOnly || needsAttention(row)))
        .sort(worstFirst);
      const part = this.parts.get(section.group);
      part.summary.innerHTML = sectionSummary(rows, shown.length);
      part.trends.forEach((cell, i) => { cell.innerHTML = trendMarkup(section, layout.panels, i); });
      if (!shown.length) {
        part.rows.say(`<tr><td class="empty" colspan="${section.panels.length + 4}">${
          rows.length ? "No host matches the filter." : "No host in this group yet."}</td></tr>`);
        continue;
      }
      part.rows.show(shown.map((row) => ({ key: row.entry.host, html: this.rowMarkup(row, section, layout) })));
    }
  }

  /** A row's markup, built again only when what it shows changed (thousands of rows, a redraw a second). */
  rowMarkup(row, section, layout) {
    const since = row.summary ? age(row.summary.since) : "";
    const cached = this.rowCache.get(row.entry);
    if (cached && cached.summary === row.summary && cached.alerts === row.alerts && cached.since === since) {
      return cached.html;
    }
    const html = hostRow(row, section.panels, layout.panels);
    this.rowCache.set(row.entry, { summary: row.summary, alerts: row.alerts, since, html });
    return html;
  }

  buildSkeleton(layout) {
    const main = this.el.sections;
    main.textContent = "";
    this.parts = new Map();
    for (const section of layout.sections) {
      const details = document.createElement("details");
      details.className = "section";
      details.open = !closed.has(section.group);
      details.addEventListener("toggle", () => {
        if (details.open) closed.delete(section.group); else closed.add(section.group);
      });
      const headingId = `section-${section.group.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const headers = section.panels.map((name) => `<th scope="col" class="panel">${
        escapeHtml(layout.panels[name].title)}<span class="trend"></span></th>`).join("");
      // Fixed columns, the same in the header and in every chunk of rows below it.
      const columns = `<colgroup><col class="c-host"><col class="c-state"><col class="c-health">${
        section.panels.map(() => '<col class="c-panel">').join("")}<col class="c-alerts"></colgroup>`;
      const minWidth = COLUMN_PX.fixed + COLUMN_PX.panel * section.panels.length;
      // A central hub's site section: its hosts are the site hub's, so there is no group page to link to.
      const heading = section.site ? escapeHtml(section.title)
        : `<a href="#/group/${encodeURIComponent(section.group)}">${escapeHtml(section.title)}</a>`;
      details.innerHTML = `<summary><h2 id="${headingId}">${heading}</h2><span class="summary"></span></summary>` +
        `<div class="scroll" role="group" aria-labelledby="${headingId}"><table class="fixed" style="min-width:${
        minWidth}px">${columns}<thead><tr><th scope="col">Host</th>` +
        `<th scope="col">State</th><th scope="col" class="num">Health</th>${headers}` +
        `<th scope="col" class="num">Alerts</th></tr></thead></table><div class="chunks"></div></div>`;
      main.appendChild(details);
      this.parts.set(section.group, {
        summary: details.querySelector(".summary"), trends: [...details.querySelectorAll("thead .trend")],
        rows: new RowChunks(details.querySelector(".chunks"), { columns, minWidth }) });
    }
    if (!layout.sections.length) main.innerHTML = '<p class="empty">The hub knows no host yet.</p>';
  }
}

function alertIndex(body) {
  const byHost = new Map();
  let total = 0;
  for (const alert of body ? body.alerts : []) {
    if (alert.status !== "firing") continue;
    total += 1;
    const host = alert.labels.host;
    if (host) (byHost.get(host) || byHost.set(host, []).get(host)).push(alert.labels.alertname || "alert");
  }
  return { byHost, total, known: Boolean(body) };
}

function countsMarkup(hosts, alerts) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const host of hosts.values()) counts[host.state] = (counts[host.state] || 0) + 1;
  return [`<li><span class="num">${hosts.size}</span> ${hosts.size === 1 ? "host" : "hosts"}</li>`,
    ...STATES.map((s) => `<li class="count state-${s}${counts[s] && s !== "online" ? " nonzero" : ""}">` +
      `<span class="dot" aria-hidden="true"></span><span class="num">${counts[s]}</span> ${s}</li>`),
    `<li class="count alerts${alerts.total ? " nonzero" : ""}"><span class="num">${
      alerts.known ? alerts.total : "?"}</span> ${alerts.total === 1 ? "alert" : "alerts"} firing</li>`].join("");
}

function trendMarkup(section, catalogue, index) {
  const name = section.panels[index];
  const points = section.trends && section.trends[name];
  if (!points || !points.length) return "";
  const panel = catalogue[name];
  const drawing = sparkline(points, { top: panel.max || null });
  if (!drawing) return "";
  const { last, max } = trendFigures(points);
  // The words go in a title: the header's text stays the panel's name.
  const words = `${panel.title} over the last hour: mean ${format(panel.unit, last)}, highest ${format(panel.unit, max)}`;
  return `<span class="spark-box" title="${escapeHtml(words)}">${drawing}</span>`;
}

function sectionSummary(rows, shownCount) {
  const counts = {};
  let health = 0;
  for (const row of rows) {
    const state = stateOf(row);
    counts[state] = (counts[state] || 0) + 1;
    health += row.summary ? row.summary.health : 0;
  }
  const bits = [`${rows.length} ${rows.length === 1 ? "host" : "hosts"}`];
  for (const state of [...STATES, "unknown"]) {
    if (counts[state]) bits.push(`<span class="state-${state}"><span class="dot" aria-hidden="true"></span>${
      counts[state]} ${state}</span>`);
  }
  if (rows.length) bits.push(`health ${Math.round(health / rows.length)}`);
  if (shownCount !== rows.length) bits.push(`showing ${shownCount}`);
  return bits.join(" · ");
}

function hostRow(row, panels, catalogue) {
  const { entry, summary, alerts } = row;
  const state = stateOf(row);
  const cells = panels.map((name) => panelCell(catalogue[name], entry.values[name], entry.levels[name])).join("");
  const since = summary ? `<span class="since" title="${escapeHtml(sinceTitle(summary))}">${
    age(summary.since)}</span>` : "";
  const health = summary ? summary.health : null;
  const alertCell = alerts.length
    ? `<span class="alert-count" title="${escapeHtml(alerts.join(", "))}">${alerts.length}</span>`
    : '<span class="none">0</span>';
  const name = escapeHtml(entry.host);
  return `<tr class="row-${state}" data-host="${name}"><th scope="row" class="host">` +
    `<a href="#/host/${encodeURIComponent(entry.host)}">${name}</a></th>` +
    `<td class="state"><span class="badge state-${state}"><span class="dot" aria-hidden="true"></span>${
      state}</span>${since}</td>` +
    `<td class="num"><span class="health ${healthClass(health)}">${health ?? "–"}</span></td>` +
    `${cells}<td class="num">${alertCell}</td></tr>`;
}

function panelCell(panel, value, levels = {}) {
  if (value === undefined || value === null) {
    return '<td class="panel novalue"><span class="value"><span aria-hidden="true">–</span>' +
      '<span class="sr-only">no value</span></span></td>';
  }
  const level = value >= levels.critical ? "crit" : value >= levels.warning ? "warn" : "ok";
  const text = format(panel.unit, value);
  const limits = ["warning", "critical"].filter((s) => levels[s] !== undefined)
    .map((s) => `${s} at ${format(panel.unit, levels[s])}`);
  const title = `${panel.title} ${text}${limits.length ? ` (${limits.join(", ")})` : ""}`;
  let bar = "";
  if (panel.max) {
    const at = (v) => `${Math.min(100, Math.max(0, (v / panel.max) * 100)).toFixed(1)}%`;
    const ticks = ["warning", "critical"].filter((s) => levels[s] !== undefined)
      .map((s) => `<span class="tick tick-${s}" style="left:${at(levels[s])}"></span>`).join("");
    bar = `<span class="bar" aria-hidden="true"><span class="fill" style="width:${at(value)}"></span>${ticks}</span>`;
  }
  const spoken = { ok: "", warn: " (above its warning level)", crit: " (above its critical level)" }[level];
  return `<td class="panel level-${level}" title="${escapeHtml(title)}"><span class="value">${text}` +
    `<span class="sr-only">${spoken}</span></span>${bar}</td>`;
}

function stateOf(row) {
  return row.summary ? row.summary.state : "unknown";  // listed by one answer, not yet by the other
}

function needsAttention(row) {
  return stateOf(row) !== "online" || row.alerts.length > 0 || (row.summary && row.summary.health < 100);
}

function matches(row, query) {
  if (!query) return true;
  const summary = row.summary || { groups: [], labels: {} };
  const haystack = [row.entry.host, ...summary.groups, ...Object.entries(summary.labels).map((kv) => kv.join("="))];
  return haystack.some((text) => text.toLowerCase().includes(query));
}

function worstFirst(a, b) {
  return STATE_RANK[stateOf(a)] - STATE_RANK[stateOf(b)] || b.alerts.length - a.alerts.length
    || (a.summary ? a.summary.health : 0) - (b.summary ? b.summary.health : 0)
    || byName(a.entry.host, b.entry.host);
}

function healthClass(health) {
  if (health === null) return "";
  return health >= 80 ? "good" : health >= 50 ? "fair" : "bad";
}

function sinceTitle(summary) {
  const reason = summary.reason ? ` (${summary.reason})` : "";
  return `${summary.state} since ${dateTime(summary.since)}${reason}`;
}
