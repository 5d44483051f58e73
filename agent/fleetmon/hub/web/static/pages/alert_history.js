// Alerting over a past range (#/alerts/history): the mean times to acknowledge and to resolve, the noisiest
// alerts by alertname and by host (api/v1/alerting/stats), firings over time bucketed from the transitions, and
// the recent transitions and operator actions themselves (api/v1/alerting/history). Counts per bucket are drawn
// as columns (SVG, each column's numbers in its title and in the table beneath), which a line would misstate.
import { query } from "../lib/api.js";
import { dateTime, format } from "../lib/format.js";
import { escapeHtml, labelText } from "../lib/html.js";
import { markDrawn, pageModule } from "../lib/page.js";

const PATH = "alerts/history";
const HOUR = 3600;
const DAY = 86400;
// Each range and the bucket its firings are counted in.
const RANGES = { "24h": { span: DAY, bucket: HOUR }, "7d": { span: 7 * DAY, bucket: HOUR }, "30d": { span: 30 * DAY, bucket: DAY } };
const HISTORY_LIMIT = 10000;  // the most the API answers in one read
const NOISIEST = 10;
const TABLE_ROWS = 200;
const SEVERITIES = ["critical", "warning"];  // a colour each in the columns; the others share one
const ACTION_WORDS = { "ack ack": "acknowledged", "silence create": "silence created", "silence update": "silence updated",
                       "silence expire": "silence expired" };

export default pageModule({ path: PATH, title: "Alert history", nav: true, role: "viewer" },
  (root, params, ctx) => new HistoryPage(root, ctx));

class HistoryPage {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.loads = 0;
    this.range = "24h";
    root.classList.add("alert-history-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><h1>Alert history</h1>' +
      '<p class="status history-status">Loading…</p></div>' +
      `<div class="range" role="group" aria-label="Range">${Object.keys(RANGES).map((name) =>
        `<button type="button" data-range="${name}">${name}</button>`).join("")}</div></header>` +
      '<div class="page-body"><section class="card"><h2>Summary</h2><div class="card-body figures"></div></section>' +
      '<section class="card"><h2>Firings over time</h2><div class="card-body"><div class="firings-chart"></div>' +
      '<details class="firings-table"><summary>As a table</summary><div class="firings-rows"></div></details>' +
      '</div></section><div class="card-row">' +
      '<section class="card"><h2>Noisiest alerts</h2><div class="card-body noisy-alerts"></div></section>' +
      '<section class="card"><h2>Noisiest hosts</h2><div class="card-body noisy-hosts"></div></section></div>' +
      '<section class="card"><h2>Recent transitions</h2><div class="card-body transitions"></div></section>' +
      '<section class="card"><h2>Acknowledgements and silences</h2><div class="card-body actions"></div></section></div>';
    const find = (selector) => root.querySelector(selector);
    this.el = { status: find(".history-status"), range: find(".range"), figures: find(".figures"),
                chart: find(".firings-chart"), firingRows: find(".firings-rows"), alerts: find(".noisy-alerts"),
                hosts: find(".noisy-hosts"), transitions: find(".transitions"), actions: find(".actions") };
    this.el.range.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-range]");
      if (!button) return;
      this.range = button.dataset.range;
      this.load();
    });
  }

  start() {
    return this.load();
  }

  stop() {
    this.stopped = true;
  }

  window() {
    const end = Date.now() / 1000;
    return { start: end - RANGES[this.range].span, end };
  }

  async load() {
    const load = ++this.loads;
    for (const button of this.el.range.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === this.range));
    }
    const window = this.window();
    const since = window.start.toFixed(3);
    this.el.status.textContent = "Loading…";
    let stats;
    let history;
    try {
      [stats, history] = await Promise.all([this.ctx.api.get(`api/v1/alerting/stats?${query({ since })}`),
        this.ctx.api.get(`api/v1/alerting/history?${query({ since, limit: HISTORY_LIMIT })}`)]);
    } catch (error) {
      if (load === this.loads) this.el.status.textContent = `The history could not be read: ${error.message}`;
      return;
    }
    if (load !== this.loads || this.stopped) return;
    const transitions = history.transitions || [];
    const buckets = firingBuckets(transitions, window, RANGES[this.range].bucket);
    this.el.figures.innerHTML = figuresMarkup(stats);
    this.el.chart.innerHTML = columnsMarkup(buckets, this.range);
    this.el.firingRows.innerHTML = bucketsMarkup(buckets);
    this.el.alerts.innerHTML = noisiestMarkup(stats.firing?.byAlertname || {}, "Alert", "(no alertname)");
    this.el.hosts.innerHTML = noisiestMarkup(stats.firing?.byHost || {}, "Host", "(no host label)");
    this.el.transitions.innerHTML = transitionsMarkup(transitions);
    this.el.actions.innerHTML = actionsMarkup(history.actions || [], transitions);
    const partial = transitions.length >= HISTORY_LIMIT ? ` · the chart counts the newest ${HISTORY_LIMIT} transitions` : "";
    this.el.status.textContent = `Since ${dateTime(window.start)}${partial} · updated ${new Date().toLocaleTimeString()}`;
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }
}

/** Firing transitions counted per bucket of `size` seconds over the window (every bucket, empty ones as 0). */
function firingBuckets(transitions, { start, end }, size) {
  // Days begin at the reader's midnight; hours on the hour.
  const first = size >= DAY ? new Date(start * 1000).setHours(0, 0, 0, 0) / 1000 : Math.floor(start / size) * size;
  const count = Math.max(1, Math.ceil((end - first) / size));
  const times = Array.from({ length: count }, (_, i) => first + i * size);
  const total = new Array(count).fill(0);
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, new Array(count).fill(0)]));
  for (const t of transitions) {
    if (t.status !== "firing") continue;
    const index = Math.floor((t.at - first) / size);
    if (index < 0 || index >= count) continue;
    total[index] += 1;
    const severity = t.labels && t.labels.severity;
    if (bySeverity[severity]) bySeverity[severity][index] += 1;
  }
  return { times, total, bySeverity, size };
}

function figuresMarkup(stats) {
  const firings = Object.values(stats.firing?.byAlertname || {}).reduce((sum, n) => sum + n, 0);
  const sent = stats.notifications || {};
  const figure = (label, value, note = "") => `<div class="figure"><dt>${label}</dt><dd><span class="figure-value">${
    escapeHtml(value)}</span>${note ? ` <span class="muted">${escapeHtml(note)}</span>` : ""}</dd></div>`;
  const mean = (value, count, one, many) => (value === null || value === undefined ? ["–", `no ${many} in this range`]
    : [format("seconds", value), `over ${count} ${count === 1 ? one : many}`]);
  return '<dl class="figures-list">' +
    figure("Mean time to acknowledge", ...mean(stats.meanTimeToAcknowledge, stats.acknowledged, "acknowledged alert",
                                                "acknowledged alerts")) +
    figure("Mean time to resolve", ...mean(stats.meanTimeToResolve, stats.resolved, "resolved alert", "resolved alerts")) +
    figure("Firings", String(firings)) +
    figure("Notifications delivered", String(sent.ok || 0), sent.failed ? `${sent.failed} failed for good` : "") +
    "</dl>";
}

/** The buckets as columns, each stacked by severity (critical, warning, the rest), its numbers in its title. */
function columnsMarkup({ times, total, bySeverity, size }, range) {
  const most = Math.max(1, ...total);
  const slot = 10;
  const height = 100;
  const columns = times.map((t, i) => {
    const other = total[i] - SEVERITIES.reduce((sum, s) => sum + bySeverity[s][i], 0);
    const parts = [...SEVERITIES.map((s) => [s, bySeverity[s][i]]), ["other", other]];
    let top = height;
    const rects = parts.filter(([, n]) => n > 0).map(([kind, n]) => {
      const tall = (n / most) * height;
      top -= tall;
      return `<rect class="firings-${kind}" x="${i * slot + 1}" y="${top.toFixed(2)}" width="${slot - 2}" ` +
        `height="${tall.toFixed(2)}"></rect>`;
    });
    const words = `${bucketName(t, size)}: ${total[i]} ${total[i] === 1 ? "firing" : "firings"}${total[i] ? ` (${
      parts.filter(([, n]) => n > 0).map(([kind, n]) => `${n} ${kind}`).join(", ")})` : ""}`;
    return `<g><title>${escapeHtml(words)}</title><rect class="slot" x="${i * slot}" y="0" width="${slot}" ` +
      `height="${height}"></rect>${rects.join("")}</g>`;
  });
  const middle = times[Math.floor(times.length / 2)];
  const per = size >= DAY ? "day" : "hour";
  return `<div class="firings-plot"><span class="y-top" aria-hidden="true">${most}</span>` +
    `<svg class="firings-columns" viewBox="0 0 ${times.length * slot} ${height}" preserveAspectRatio="none" role="img" ` +
    `aria-label="Firings per ${per} over the last ${range}, at most ${most} in one ${per}; the table below lists them">` +
    `${columns.join("")}</svg><div class="x-axis" aria-hidden="true"><span>${escapeHtml(bucketName(times[0], size))}</span>` +
    `<span>${escapeHtml(bucketName(middle, size))}</span><span>${escapeHtml(bucketName(times[times.length - 1], size))}` +
    '</span></div></div><p class="firings-legend" aria-hidden="true">' +
    [...SEVERITIES, "other"].map((kind) => `<span><svg class="swatch" viewBox="0 0 10 10"><rect class="firings-${kind}" ` +
      `width="10" height="10"></rect></svg> ${kind}</span>`).join("") + "</p>";
}

const HOUR_NAME = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const DAY_NAME = new Intl.DateTimeFormat(undefined, { weekday: "short", month: "short", day: "numeric" });

function bucketName(t, size) {
  return (size >= DAY ? DAY_NAME : HOUR_NAME).format(new Date(t * 1000));
}

function bucketsMarkup({ times, total, bySeverity, size }) {
  const rows = times.map((t, i) => `<tr><td>${escapeHtml(bucketName(t, size))}</td><td class="num">${total[i]}</td>${
    SEVERITIES.map((s) => `<td class="num">${bySeverity[s][i]}</td>`).join("")}</tr>`).reverse();
  return `<div class="scroll"><table><thead><tr><th scope="col">${size >= DAY ? "Day" : "Hour from"}</th>` +
    `<th scope="col" class="num">Firings</th>${SEVERITIES.map((s) => `<th scope="col" class="num">${s}</th>`).join("")}` +
    `</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

/** The most frequent names with their counts: a table whose rows carry a bar each (the bars are decoration). */
function noisiestMarkup(counts, what, unnamed) {
  const top = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, NOISIEST);
  if (!top.length) return '<p class="muted">Nothing fired in this range.</p>';
  const most = top[0][1];
  const rows = top.map(([name, count]) => `<tr><th scope="row">${name ? escapeHtml(name)
    : `<span class="muted">${unnamed}</span>`}</th><td class="num">${count}</td><td class="bar-cell">` +
    '<svg class="count-bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">' +
    `<rect width="${((count / most) * 100).toFixed(1)}" height="10" rx="1"></rect></svg></td></tr>`);
  return `<table class="noisiest"><thead><tr><th scope="col">${what}</th><th scope="col" class="num">Firings</th>` +
    `<th scope="col"><span class="sr-only">Share of the most</span></th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function transitionsMarkup(transitions) {
  if (!transitions.length) return '<p class="muted">No alert fired or resolved in this range.</p>';
  const rows = transitions.slice(0, TABLE_ROWS).map((t) => {
    const labels = t.labels || {};
    const lasted = t.status === "resolved" && t.endsAt && t.startsAt ? format("seconds", t.endsAt - t.startsAt) : "";
    return `<tr class="transition-${escapeHtml(t.status)}"><td>${escapeHtml(dateTime(t.at))}</td>` +
      `<td><span class="transition-status">${escapeHtml(t.status)}</span></td>` +
      `<td>${escapeHtml(labels.alertname || "")}</td>` +
      `<td>${labels.severity ? `<span class="severity severity-${escapeHtml(labels.severity)}">${
        escapeHtml(labels.severity)}</span>` : ""}</td>` +
      `<td>${escapeHtml(labels.host || "")}</td><td class="num">${escapeHtml(lasted)}</td>` +
      `<td class="wrap muted">${escapeHtml(labelText(labels, ["alertname", "severity", "host"]))}</td></tr>`;
  });
  const more = transitions.length > TABLE_ROWS ? `<p class="muted">The newest ${TABLE_ROWS} of ${transitions.length}.</p>` : "";
  return '<div class="scroll"><table><thead><tr><th scope="col">Time</th><th scope="col">Status</th>' +
    '<th scope="col">Alert</th><th scope="col">Severity</th><th scope="col">Host</th>' +
    '<th scope="col" class="num">Lasted</th><th scope="col">Other labels</th></tr></thead>' +
    `<tbody>${rows.join("")}</tbody></table></div>${more}`;
}

function actionsMarkup(actions, transitions) {
  if (!actions.length) return '<p class="muted">Nobody acknowledged or silenced anything in this range.</p>';
  // An ack names its alert by fingerprint: the alert's name and labels, where the range's transitions know them.
  const labelsOf = new Map(transitions.map((t) => [t.fingerprint, t.labels || {}]));
  const rows = actions.slice(0, TABLE_ROWS).map((a) => {
    const details = a.details || {};
    let what = a.subject;
    if (a.kind === "silence" && Array.isArray(details.matchers)) {
      what = details.matchers.map((m) => (Array.isArray(m) ? `${m[0]}${m[1]}"${m[2]}"` : "")).join(", ");
    } else if (a.kind === "ack" && labelsOf.has(a.subject)) {
      const labels = labelsOf.get(a.subject);
      what = `${labels.alertname || "alert"} {${labelText(labels, ["alertname"])}}`;
    }
    return `<tr><td>${escapeHtml(dateTime(a.at))}</td><td>${escapeHtml(ACTION_WORDS[`${a.kind} ${a.action}`] ||
      `${a.kind} ${a.action}`)}</td><td>${escapeHtml(a.by || "")}</td><td class="wrap"><code>${escapeHtml(what || "")}` +
      `</code></td><td class="wrap">${escapeHtml(details.comment || "")}</td></tr>`;
  });
  return '<div class="scroll"><table><thead><tr><th scope="col">Time</th><th scope="col">Action</th>' +
    '<th scope="col">By</th><th scope="col">On</th><th scope="col">Comment</th></tr></thead>' +
    `<tbody>${rows.join("")}</tbody></table></div>`;
}
