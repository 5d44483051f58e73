// A group's page (#/group/NAME): its hosts as a heatmap of one panel over time (api/v1/groups/{group}/heatmap,
// one read for all of them), the fleet rules' patterns in the group with their confidence, and its hosts.
import { query } from "../lib/api.js";
import { format } from "../lib/format.js";
import { escapeHtml, labelText } from "../lib/html.js";
import { Heatmap } from "../lib/heatmap.js";
import { markDrawn } from "../lib/page.js";
import { RangePicker } from "../lib/range.js";

const FALLBACK_PANELS = { cpu: "CPU", memory: "Memory", disk: "Disk", temperature: "Temp" };
const CELL_PX = 10;  // about one bucket per this many pixels of width
const MAX_BUCKETS = 120;
const MIN_BUCKETS = 12;
const MIN_CELL_SECONDS = 60;
const PATH = "group";  // the name of its marks: document.body.dataset.ready, performance "draw:"

let current = null;

export default {
  path: "group",
  title: "Group",
  nav: false,
  role: "viewer",

  async render(root, params, ctx) {
    current = new GroupPage(root, params[0] || "", ctx);
    await current.start();
  },

  dispose() {
    if (current) current.stop();
    current = null;
  },
};

class GroupPage {
  constructor(root, group, ctx) {
    this.root = root;
    this.group = group;
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.loads = 0;
    this.stopped = false;
    root.classList.add("group-page");
    root.innerHTML = `<header class="page-head"><div class="heading"><h1>${escapeHtml(group)}</h1>` +
      '<p class="status group-summary">Loading…</p></div><div class="range-box"></div></header>' +
      '<div class="page-body"><section class="card"><h2>Hosts over time</h2><div class="card-body">' +
      '<div class="toolbar"><label>Panel <select name="panel"></select></label>' +
      '<label>Order <select name="order"><option value="highest">highest first</option>' +
      '<option value="name">by name</option></select></label><p class="heatmap-legend"></p></div>' +
      '<div class="heatmap-box"></div></div></section>' +
      '<section class="card"><h2>Fleet patterns</h2><div class="card-body patterns">Loading…</div></section>' +
      '<section class="card"><h2>Hosts</h2><div class="card-body hosts">Loading…</div></section></div>';
    const find = (selector) => root.querySelector(selector);
    this.el = { summary: find(".group-summary"), panel: find("select[name=panel]"), order: find("select[name=order]"),
                legend: find(".heatmap-legend"), patterns: find(".patterns"), hosts: find(".hosts") };
    this.picker = new RangePicker(find(".range-box"), { initial: "1h", onChange: () => this.loadHeatmap() });
    this.heatmap = new Heatmap(find(".heatmap-box"), { onPick: (host) => ctx.go(`#/host/${encodeURIComponent(host)}`) });
    this.el.panel.addEventListener("change", () => this.loadHeatmap());
    this.el.order.addEventListener("change", () => this.drawHeatmap());
  }

  async start() {
    const { live } = this.ctx;
    const [panels] = await Promise.all([this.panels(), this.loadGroup()]);
    if (this.stopped) return;
    this.el.panel.innerHTML = Object.entries(panels).map(([name, title]) => `<option value="${escapeHtml(name)}">${
      escapeHtml(title)}</option>`).join("");
    live.on("alerts", () => this.loadGroup());
    live.on("resync", () => Promise.all([this.loadGroup(), this.loadHeatmap()]));
    document.title = `${this.group} · fleetmon`;
    await this.loadHeatmap();
    if (this.stopped) return;
    markDrawn(PATH, this.startedAt);  // its hosts, patterns and first heatmap are on the page
  }

  stop() {
    this.stopped = true;
    this.heatmap.dispose();
  }

  /** The panels the group's section shows on the overview (name -> title), else every panel of the layout. */
  async panels() {
    try {
      const layout = await this.ctx.api.get("api/v1/dashboard");
      const section = layout.sections.find((s) => s.group === this.group);
      const names = section ? section.panels : Object.keys(layout.panels);
      const titled = Object.fromEntries(names.filter((n) => layout.panels[n]).map((n) => [n, layout.panels[n].title]));
      return Object.keys(titled).length ? titled : FALLBACK_PANELS;
    } catch {
      return FALLBACK_PANELS;
    }
  }

  async loadGroup() {
    let body;
    try {
      body = await this.ctx.api.get(`api/v1/groups/${encodeURIComponent(this.group)}`);
    } catch (error) {
      const words = error.status === 404 ? `The hub knows no group ${this.group}.` : error.message;
      this.el.summary.textContent = words;
      this.el.patterns.textContent = "";
      this.el.hosts.textContent = "";
      return;
    }
    if (this.stopped) return;
    const hosts = body.hosts || [];
    const counts = {};
    for (const host of hosts) counts[host.state] = (counts[host.state] || 0) + 1;
    this.el.summary.innerHTML = [`${hosts.length} ${hosts.length === 1 ? "host" : "hosts"}`,
      ...Object.entries(counts).map(([state, n]) => `<span class="state-${escapeHtml(state)}"><span class="dot" ` +
        `aria-hidden="true"></span>${n} ${escapeHtml(state)}</span>`)].join(" · ");
    this.el.patterns.innerHTML = patternsMarkup(body.patterns || []);
    this.el.hosts.innerHTML = hostsMarkup(hosts);
  }

  async loadHeatmap() {
    const load = ++this.loads;
    const range = this.picker.current();
    const width = this.root.querySelector(".heatmap-box").clientWidth || 800;
    // A cell at least a minute wide: the hub reads minute aggregates instead of every raw sample of every host,
    // tens of times fewer rows for a large group (docs/benchmarks.md, "Console").
    const minutes = Math.floor((range.end - range.start) / MIN_CELL_SECONDS);
    const buckets = Math.max(MIN_BUCKETS, Math.min(MAX_BUCKETS, Math.floor(width / CELL_PX), minutes));
    const params = { panel: this.el.panel.value || "cpu", start: range.start.toFixed(3), end: range.end.toFixed(3),
                     buckets };
    try {
      const data = await this.ctx.api.get(`api/v1/groups/${encodeURIComponent(this.group)}/heatmap?${query(params)}`);
      if (load !== this.loads || this.stopped) return;
      this.data = data;
      this.drawHeatmap();
    } catch (error) {
      if (load === this.loads) this.el.legend.textContent = `No heatmap: ${error.message}`;
    }
  }

  drawHeatmap() {
    if (!this.data) return;
    const hosts = [...this.data.hosts];
    if (this.el.order.value === "name") {
      hosts.sort((a, b) => a.host.localeCompare(b.host, undefined, { numeric: true }));
    } else {
      const mean = (values) => {
        const known = values.filter((v) => v !== null && v !== undefined);
        return known.length ? known.reduce((a, b) => a + b, 0) / known.length : -Infinity;
      };
      const means = new Map(hosts.map((h) => [h.host, mean(h.values)]));
      hosts.sort((a, b) => means.get(b.host) - means.get(a.host) || a.host.localeCompare(b.host));
    }
    this.heatmap.draw({ ...this.data, hosts });
    this.el.legend.innerHTML = hosts.length ? this.heatmap.legendMarkup()
      : '<span class="muted">No host of this group has samples of this panel.</span>';
  }
}

/** The fleet alerts of the group: what pattern, how sure the rule is, and on which hosts. */
function patternsMarkup(patterns) {
  if (!patterns.length) return '<p class="muted">No fleet rule sees a pattern in this group.</p>';
  const rows = patterns.map((pattern) => {
    const labels = pattern.labels || {};
    const annotations = pattern.annotations || {};
    const confidence = Number.isFinite(pattern.confidence) ? format("ratio", pattern.confidence) : "–";
    const severity = labels.severity || "";
    return `<tr><td>${escapeHtml(labels.alertname || "pattern")}</td>` +
      `<td>${severity ? `<span class="severity severity-${escapeHtml(severity)}">${escapeHtml(severity)}</span>` : ""}</td>` +
      `<td class="num"><span class="confidence">${escapeHtml(confidence)}</span></td>` +
      `<td class="wrap">${escapeHtml(annotations.summary || annotations.description || "")}</td>` +
      `<td class="wrap muted">${escapeHtml(labelText(labels, ["alertname", "severity", "group"]))}</td></tr>`;
  });
  return '<table><thead><tr><th scope="col">Pattern</th><th scope="col">Severity</th>' +
    '<th scope="col" class="num">Confidence</th><th scope="col">Summary</th><th scope="col">Labels</th></tr></thead>' +
    `<tbody>${rows.join("")}</tbody></table>`;
}

function hostsMarkup(hosts) {
  if (!hosts.length) return '<p class="muted">No host in this group.</p>';
  const rows = [...hosts].sort((a, b) => a.host.localeCompare(b.host, undefined, { numeric: true })).map((h) => {
    const name = escapeHtml(h.host);
    const problems = [...(h.alerts || []), ...(h.failing_checks || []).map((c) => `check ${c} failing`)];
    return `<tr><th scope="row" class="host"><a href="#/host/${encodeURIComponent(h.host)}">${name}</a></th>` +
      `<td><span class="badge state-${escapeHtml(h.state)}"><span class="dot" aria-hidden="true"></span>${
        escapeHtml(h.state)}</span></td><td class="num">${escapeHtml(h.health ?? "–")}</td>` +
      `<td class="wrap">${escapeHtml(problems.join(", "))}</td></tr>`;
  });
  return '<table><thead><tr><th scope="col">Host</th><th scope="col">State</th><th scope="col" class="num">Health</th>' +
    `<th scope="col">Alerts and failing checks</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}
