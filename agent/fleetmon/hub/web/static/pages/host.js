// A host's page (#/host/NAME): its facts and alerts, a chart per metric in sections (system, Jetson, GPU, checks,
// scraped, hub) over a range from 15 min to 30 days, its health checks' history and its events. The charts read
// api/v1/query_range a few metrics a request; on the short ranges new samples come from the live feed.
import { query } from "../lib/api.js";
import { ChartGroup, loadChartLibrary } from "../lib/charts.js";
import { dateTime, rateUnit } from "../lib/format.js";
import { escapeHtml, labelText } from "../lib/html.js";
import { markDrawn } from "../lib/page.js";
import { RangePicker } from "../lib/range.js";
import { alertsMarkup, checksMarkup, eventsMarkup, factsMarkup } from "./host_details.js";

const SECTIONS = { system: "System", jetson: "Jetson", gpu: "GPU", checks: "Check metrics", scraped: "Scraped",
                   hub: "Hub" };
// What the overview's panels show comes first in its section, the rest by name: the headline above the fold.
const HEADLINE = ["fleetmon_cpu_usage_ratio", "fleetmon_memory_usage_ratio", "fleetmon_filesystem_usage_ratio",
                  "fleetmon_network_receive_bytes_total", "fleetmon_network_transmit_bytes_total",
                  "fleetmon_temperature_celsius", "fleetmon_load1", "fleetmon_jetson_gpu_load_ratio",
                  "fleetmon_jetson_emc_load_ratio", "fleetmon_jetson_power_total_watts",
                  "fleetmon_jetson_temperature_celsius", "fleetmon_gpu_utilization_ratio", "fleetmon_gpu_power_watts",
                  "fleetmon_gpu_temperature_celsius"];
// A host's metrics in a few reads, all asked at once (the headline's first): every request is out before the first
// chart draws, and none waits for another's answer.
const REQUESTS = 4;
const MAX_SERIES_PER_CHART = 12;
const ALERTS_DEBOUNCE_MS = 500;
const PATH = "host";  // the name of its marks: document.body.dataset.ready, performance "draw:", "range:", "live:"

let current = null;

export default {
  path: "host",
  title: "Host",
  nav: false,
  role: "viewer",

  async render(root, params, ctx) {
    current = new HostPage(root, params[0] || "", ctx);
    await current.start();
  },

  dispose() {
    if (current) current.stop();
    current = null;
  },
};

class HostPage {
  constructor(root, host, ctx) {
    this.root = root;
    this.host = host;
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first range is on the page: document.body.dataset.ready says so
    this.charted = false;  // the charts are built: a range loaded from now on draws them
    this.metrics = new Map();  // name -> {name, unit, help, section, counter, chart, keys}
    this.group = null;
    this.loads = 0;  // which range load is the latest: older answers are dropped
    this.lastRaw = new Map();  // "metric\nseries key" -> [ts, value]: the counters' previous readings
    this.stopped = false;
    this.state = null;
    this.checks = {};  // the latest result of each check, from the host's detail
    this.alertsTimer = 0;
    const name = escapeHtml(host);
    root.classList.add("host-page");
    root.innerHTML = `<header class="page-head"><div class="heading"><h1>${name}</h1>` +
      '<p class="status"><span class="host-state"></span> · <span data-last-sample="">no sample yet</span></p></div>' +
      '<div class="range-box"></div><button type="button" class="unzoom" hidden>Back to the range</button></header>' +
      '<div class="page-body"><div class="card-row">' +
      '<section class="card"><h2>Facts</h2><div class="card-body facts">Loading…</div></section>' +
      '<section class="card"><h2>Alerts</h2><div class="card-body alerts">Loading…</div></section></div>' +
      '<div class="metric-sections"></div>' +
      '<section class="card"><h2>Health checks</h2><div class="card-body checks">Loading…</div></section>' +
      '<section class="card"><h2>Events</h2><div class="card-body events">Loading…</div></section></div>';
    const find = (selector) => root.querySelector(selector);
    this.el = { state: find(".host-state"), lastSample: find("[data-last-sample]"), facts: find(".facts"),
                alerts: find(".alerts"), sections: find(".metric-sections"), checks: find(".checks"),
                events: find(".events"), unzoom: find(".unzoom") };
    this.picker = new RangePicker(find(".range-box"), { onChange: () => this.loadRange() });
    this.el.unzoom.addEventListener("click", () => this.zoomed(null, null));
  }

  async start() {
    const { api, live } = this.ctx;
    const path = `api/v1/hosts/${encodeURIComponent(this.host)}`;
    let host;
    let listing;
    loadChartLibrary().catch(() => {});  // beside the listing, not after it; buildCharts says if it failed
    try {
      // A host the fleet forgot (it left the inventory) still has its history: null here, charts below.
      [host, listing] = await Promise.all([api.get(path).catch((e) => { if (e.status === 404) return null; throw e; }),
                                           api.get(`${path}/series`)]);
    } catch (error) {
      const words = error.status === 404 ? `The hub does not know a host ${this.host}.` : error.message;
      this.root.querySelector(".page-body").innerHTML = `<p class="problem" role="alert">${escapeHtml(words)}</p>`;
      return;
    }
    if (this.stopped) return;
    document.title = `${this.host} · fleetmon`;
    if (host) {
      this.showHost(host);
      this.el.facts.innerHTML = factsMarkup(host);
    } else {
      this.el.state.textContent = "no longer in the fleet";
      this.el.facts.innerHTML = '<p class="muted">The hub no longer tracks this host; its history remains.</p>';
    }
    live.on("sample", (sample) => sample.host === this.host && this.measured(() => this.takeSample(sample)));
    live.on("hosts", (data) => this.measured(() => this.hostsChanged(data.hosts || [])));
    live.on("alerts", () => this.loadAlertsSoon());
    live.on("resync", () => this.resync());
    live.watchHosts([this.host]);
    await this.buildCharts(listing);
    await Promise.all([this.loadRange(), this.loadAlerts()]);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.alertsTimer);
    if (this.group) this.group.dispose();
  }

  showHost(host) {
    this.state = host.state;
    this.checks = host.checks || {};
    this.el.state.innerHTML = `<span class="badge state-${escapeHtml(host.state)}"><span class="dot" aria-hidden="true">` +
      `</span>${escapeHtml(host.state)}</span> since ${escapeHtml(dateTime(host.since))}` +
      `${host.reason ? ` (${escapeHtml(host.reason)})` : ""} · health ${escapeHtml(host.health)}`;
    if (host.last_sample_at && !this.el.lastSample.dataset.lastSample) this.showLastSample(host.last_sample_at);
  }

  showLastSample(ts) {
    this.el.lastSample.dataset.lastSample = String(ts);
    this.el.lastSample.textContent = `last sample ${new Date(ts * 1000).toLocaleTimeString()}`;
  }

  async buildCharts(listing) {
    const thresholds = listing.thresholds || [];
    const rank = (name) => (HEADLINE.includes(name) ? HEADLINE.indexOf(name) : HEADLINE.length);
    const listed = [...(listing.series || [])].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
    for (const series of listed) {
      if (!charted(series.name)) continue;
      if (!this.metrics.has(series.name)) {
        const counter = series.name.endsWith("_total");
        this.metrics.set(series.name, {
          name: series.name, help: series.help || "", section: SECTIONS[series.section] ? series.section : "scraped",
          counter, unit: counter ? rateUnit(series.unit) : series.unit,
          // A counter's levels are on its total, not on the rate its chart draws.
          thresholds: counter ? [] : thresholds.filter((t) => t.metric === series.name), chart: null, plot: null });
      }
    }
    let uPlot = null;
    let unavailable = "";
    try {
      uPlot = await loadChartLibrary();
    } catch (error) {
      unavailable = error.message;
    }
    if (this.stopped) return;
    const range = this.picker.current();
    if (uPlot) {
      this.group = new ChartGroup(uPlot, { window: range, onZoom: (start, end) => this.zoomed(start, end) });
    }
    const bySection = new Map();
    for (const metric of this.metrics.values()) {
      if (!bySection.has(metric.section)) bySection.set(metric.section, []);
      bySection.get(metric.section).push(metric);
    }
    const box = this.el.sections;
    box.innerHTML = unavailable ? `<p class="charts-unavailable" role="status">${escapeHtml(unavailable)}</p>` : "";
    if (!this.metrics.size) box.innerHTML += '<p class="muted">The history holds no series of this host yet.</p>';
    for (const key of Object.keys(SECTIONS)) {
      const metrics = bySection.get(key);
      if (!metrics) continue;
      const section = document.createElement("details");
      section.className = "section";
      section.open = true;
      section.innerHTML = `<summary><h2>${SECTIONS[key]}</h2><span class="summary">${metrics.length} ${
        metrics.length === 1 ? "metric" : "metrics"}</span></summary><div class="charts"></div>`;
      const grid = section.querySelector(".charts");
      for (const metric of metrics) {
        const cell = document.createElement("div");
        cell.className = "chart";
        cell.dataset.metric = metric.name;
        const what = escapeHtml(metric.help.replace(/\.$/, "") || metric.name);
        cell.innerHTML = `<h3 title="${escapeHtml(metric.name)}">${what}${metric.counter ? " (per second)" : ""} ` +
          `<span class="metric">${escapeHtml(metric.name)}</span></h3><div class="plot"></div><p class="note muted"></p>`;
        grid.appendChild(cell);
        metric.plot = cell.querySelector(".plot");
        metric.note = cell.querySelector(".note");
        if (this.group) metric.chart = this.group.chart(metric.plot, { unit: metric.unit, thresholds: metric.thresholds });
      }
      box.appendChild(section);
    }
    this.charted = true;
  }

  /** The charts, the checks' history and the events over the range shown now. */
  async loadRange() {
    const load = ++this.loads;
    const began = performance.now();
    const range = this.picker.current();
    if (this.group) this.group.setWindow(range);
    this.el.unzoom.hidden = !this.zoomedFrom;
    const span = { start: range.start.toFixed(3), end: range.end.toFixed(3) };
    const path = `api/v1/hosts/${encodeURIComponent(this.host)}`;
    const details = Promise.all([
      this.ctx.api.get(`${path}/checks?${query(span)}`).then((body) => {
        if (load === this.loads) this.el.checks.innerHTML = checksMarkup(body.checks, this.checks, range.start, range.end);
      }),
      this.ctx.api.get(`${path}/events?${query(span)}`).then((body) => {
        if (load === this.loads) this.el.events.innerHTML = eventsMarkup(body);
      }),
    ]).catch((error) => this.ctx.toast(`Checks or events of ${this.host}: ${error.message}`, "error"));
    await Promise.all([this.loadSeries(load, range, span), details]);
    if (load === this.loads && this.charted && !this.stopped) this.rangeDrawn(range, began);
  }

  /** The first range drawn is the page's first draw ("draw:", from the page's start); a later one, "range:" from
   * the pick. Every chart has drawn by now: uPlot draws in a microtask queued before this one resumed. */
  rangeDrawn(range, began) {
    if (this.drawn) {
      performance.measure(`range:${PATH}`, { start: began, end: performance.now(), detail: { range: range.name } });
    } else {
      markDrawn(PATH, this.startedAt);
    }
    this.drawn = true;
  }

  /** A live event's patch, measured as "live:" with the chart redraws it queued (uPlot draws in a microtask). */
  measured(patch) {
    const start = performance.now();
    patch();
    queueMicrotask(() => performance.measure(`live:${PATH}`, { start, end: performance.now() }));
  }

  async loadSeries(load, range, span) {
    if (!this.group) return;
    const names = [...this.metrics.keys()];
    const size = Math.max(1, Math.ceil(names.length / REQUESTS));
    const batches = [];
    for (let i = 0; i < names.length; i += size) batches.push(names.slice(i, i + size));
    const width = Math.round((this.metrics.values().next().value?.plot?.clientWidth) || 600);
    await Promise.all(batches.map(async (metric) => {
      const params = { host: this.host, metric, ...span, max_points: Math.max(100, width) };
      try {
        const body = await this.ctx.api.get(`api/v1/query_range?${query(params)}`);
        if (load === this.loads && !this.stopped) this.draw(metric, body.series || []);
      } catch (error) {
        for (const name of metric) this.metrics.get(name).note.textContent = `No data: ${error.message}`;
      }
    }));
  }

  draw(names, answered) {
    const byName = new Map(names.map((name) => [name, []]));
    for (const series of answered) if (byName.has(series.name)) byName.get(series.name).push(series);
    for (const [name, list] of byName) {
      const metric = this.metrics.get(name);
      const same = sharedLabels(list);
      const shown = list.map((s) => ({ key: seriesKey(s.labels), label: labelText(s.labels, same) || "value",
                                       points: metric.counter ? this.rates(name, s) : s.points }))
        .filter((s) => s.points.length)
        .sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true }));
      metric.note.textContent = !shown.length ? "No samples in this range."
        : shown.length > MAX_SERIES_PER_CHART ? `${MAX_SERIES_PER_CHART} of ${shown.length} series shown.` : "";
      metric.chart.setSeries(shown.slice(0, MAX_SERIES_PER_CHART));
    }
  }

  /** A counter's per-second rate between its readings (rollups: between their averages); a reset is no rate. */
  rates(name, series) {
    const key = seriesKey(series.labels);
    const points = [];
    let before = null;
    for (const point of series.points) {
      const value = point.length === 4 ? point[2] : point[1];
      if (before && point[0] > before[0] && value >= before[1]) points.push([point[0], (value - before[1]) / (point[0] - before[0])]);
      before = [point[0], value];
    }
    if (before) this.lastRaw.set(`${name}\n${key}`, before);
    return points;
  }

  takeSample(sample) {
    this.showLastSample(sample.ts);
    const range = this.picker.current();
    if (!range.live || !this.group) return;
    this.group.window = { start: sample.ts - range.span, end: sample.ts };
    for (const metric of this.metrics.values()) {
      const values = this.sampleValues(metric, sample.metrics[metric.name], sample.ts);
      if (!values || !metric.chart.append(sample.ts, values)) metric.chart.showWindow();
    }
  }

  sampleValues(metric, entry, ts) {
    if (entry === undefined) return null;
    const pairs = Array.isArray(entry) ? entry.filter((p) => Array.isArray(p) && p.length === 2) : [[{}, entry]];
    const values = {};
    for (const [labels, value] of pairs) {
      if (typeof value !== "number") continue;
      const key = seriesKey(labels);
      if (!metric.counter) {
        values[key] = value;
        continue;
      }
      const id = `${metric.name}\n${key}`;
      const before = this.lastRaw.get(id);
      this.lastRaw.set(id, [ts, value]);
      if (before && ts > before[0] && value >= before[1]) values[key] = (value - before[1]) / (ts - before[0]);
    }
    return values;
  }

  zoomed(start, end) {
    if (start === null) {
      const before = this.zoomedFrom;
      if (!before) return;
      this.zoomedFrom = null;
      this.picker.showCustom(before.name === "custom" ? before.start : null, before.end);
    } else {
      this.zoomedFrom = this.zoomedFrom || this.picker.current();
      this.picker.showCustom(start, end);
    }
    this.loadRange();
  }

  hostsChanged(summaries) {
    const summary = summaries.find((s) => s.host === this.host);
    if (!summary) return;
    const changed = summary.state !== this.state;
    this.showHost({ ...summary, checks: this.checks });
    if (changed) {
      // A state change is an event of its own: the list shows it (the checks keep their history).
      const range = this.picker.current();
      const span = query({ start: range.start.toFixed(3), end: range.end.toFixed(3) });
      this.ctx.api.get(`api/v1/hosts/${encodeURIComponent(this.host)}/events?${span}`)
        .then((body) => { this.el.events.innerHTML = eventsMarkup(body); }).catch(() => {});
    }
  }

  loadAlertsSoon() {
    clearTimeout(this.alertsTimer);
    this.alertsTimer = setTimeout(() => this.loadAlerts(), ALERTS_DEBOUNCE_MS);
  }

  async loadAlerts() {
    const filter = `host="${this.host.replace(/["\\]/g, "\\$&")}"`;
    try {
      const body = await this.ctx.api.get(`api/v1/alerts?${query({ filter })}`);
      if (!this.stopped) this.el.alerts.innerHTML = alertsMarkup(body.alerts || []);
    } catch (error) {
      if (!this.stopped) this.el.alerts.innerHTML = `<p class="muted">Alerts unavailable: ${escapeHtml(error.message)}</p>`;
    }
  }

  async resync() {
    try {
      this.showHost(await this.ctx.api.get(`api/v1/hosts/${encodeURIComponent(this.host)}`));
    } catch {
      return;  // the hub is not answering: the feed's next resync tries again
    }
    await Promise.all([this.loadRange(), this.loadAlerts()]);
  }
}

/**
 * Whether a metric makes a curve: an `_info` metric is a label set with the value 1, a `_time_seconds` one a
 * moment (the boot time); both are facts.
 */
function charted(name) {
  return !name.endsWith("_info") && !/_(time|timestamp)_seconds$/.test(name);
}

/** The labels all of several series have alike: the legend names a series by the others (core=3, not host=…). */
function sharedLabels(list) {
  if (list.length < 2) return [];
  const names = Object.keys(list[0].labels || {});
  return names.filter((name) => list.every((s) => (s.labels || {})[name] === list[0].labels[name]));
}

/** One key per label set, whatever the order of its labels. */
function seriesKey(labels) {
  return JSON.stringify(Object.keys(labels || {}).sort().map((k) => [k, labels[k]]));
}
