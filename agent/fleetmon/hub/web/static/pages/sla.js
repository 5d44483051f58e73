// The SLOs (#/sla; docs/sla.md): a card per SLO of api/v1/sla with its target, period, availability, status,
// downtime and error budget left, a uPlot chart of the budget left over the period (api/v1/sla/NAME/budget) and its
// members worst first (api/v1/sla/NAME/report), with the report as CSV. The period picker switches every card
// between the current period and the one before it (named as the hub names periods: 2026-11, 2026-W47, 2026-Q4,
// 2026, 2026-11-30). Reports are computed on request over every member: the page reads again on the live feed's
// `alerts` (a host going down raises one) and `resync`, and when asked, never on a timer.
import { query } from "../lib/api.js";
import { ChartGroup, loadChartLibrary } from "../lib/charts.js";
import { dateTime, format } from "../lib/format.js";
import { escapeHtml } from "../lib/html.js";
import { coalesced, markDrawn, pageModule } from "../lib/page.js";

const PATH = "sla";
const CURRENT = "current";
const PREVIOUS = "previous";
const DAY_MS = 86400000;
const LOW_BUDGET = 0.25;  // less left than this reads as a warning

export default pageModule({ path: PATH, title: "SLOs", nav: true, role: "viewer" },
  (root, params, ctx) => new SLOPage(root, ctx));

/** The name of the period before the one named `label` (2026-11 → 2026-10, 2026-W01 → 2025-W53 or -W52, 2026-Q1 →
 *  2025-Q4, 2026 → 2025, 2026-03-01 → 2026-02-28); null for a name of no period. Calendar arithmetic only: the
 *  hub reads the name in the SLO's own time zone. */
export function previousPeriod(label) {
  let match;
  if ((match = /^(\d{4})$/.exec(label))) return pad(Number(match[1]) - 1, 4);
  if ((match = /^(\d{4})-Q([1-4])$/.exec(label))) {
    const [year, quarter] = [Number(match[1]), Number(match[2])];
    return quarter > 1 ? `${pad(year, 4)}-Q${quarter - 1}` : `${pad(year - 1, 4)}-Q4`;
  }
  if ((match = /^(\d{4})-(\d{2})$/.exec(label))) {
    const [year, month] = [Number(match[1]), Number(match[2])];
    return month > 1 ? `${pad(year, 4)}-${pad(month - 1, 2)}` : `${pad(year - 1, 4)}-12`;
  }
  if ((match = /^(\d{4})-W(\d{2})$/.exec(label))) {
    // ISO weeks: week 1 holds the year's first Thursday (and January 4th); the week before is that of the Monday
    // seven days earlier, whose year is that of its Thursday.
    const january4 = Date.UTC(Number(match[1]), 0, 4);
    const monday = january4 - ((new Date(january4).getUTCDay() + 6) % 7) * DAY_MS + (Number(match[2]) - 2) * 7 * DAY_MS;
    const thursday = new Date(monday + 3 * DAY_MS);
    const year = thursday.getUTCFullYear();
    const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY_MS));
    return `${pad(year, 4)}-W${pad(week, 2)}`;
  }
  if ((match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(label))) {
    const day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) - DAY_MS);
    return `${pad(day.getUTCFullYear(), 4)}-${pad(day.getUTCMonth() + 1, 2)}-${pad(day.getUTCDate(), 2)}`;
  }
  return null;
}

function pad(number, width) {
  return String(number).padStart(width, "0");
}

/** Members worst first: the lowest availability, then the most bad time, then the most unknown time; members
 *  without eligible time (no availability) last. */
export function worstFirst(members) {
  const rank = (m) => (m.availability === null ? Infinity : m.availability);
  return [...members].sort((a, b) => rank(a) - rank(b) || b.bad_s - a.bad_s || b.unknown_s - a.unknown_s ||
    a.member.localeCompare(b.member));
}

/** An availability as a percentage with three decimals (99.987%). */
export function availabilityText(availability) {
  return availability === null ? "–" : `${(availability * 100).toFixed(3)}%`;
}

class SLOPage {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.refresh = coalesced(() => this.load(), () => this.stopped);
    this.cards = new Map();  // SLO name -> {el: its parts, group: its ChartGroup, chart, range}
    this.names = null;  // the SLOs the cards were drawn for, in order
    this.uPlot = null;
    this.unavailable = "";  // why there are no charts, in words
    root.classList.add("sla-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><h1>SLOs</h1>' +
      '<p class="status sla-status">Loading…</p><p class="status failing sla-problem" role="alert" hidden></p></div>' +
      '<form class="tools"><label for="sla-period">Period</label><select id="sla-period" name="period">' +
      `<option value="${CURRENT}">the current period</option><option value="${PREVIOUS}">the period before</option>` +
      '</select><button type="button" class="reload">Refresh</button></form></header>' +
      '<div class="page-body slo-cards"></div>';
    const find = (selector) => root.querySelector(selector);
    this.el = { status: find(".sla-status"), problem: find(".sla-problem"), period: find("#sla-period"),
                cards: find(".slo-cards") };
    find("form.tools").addEventListener("submit", (event) => event.preventDefault());
    this.el.period.addEventListener("change", () => this.refresh());
    find(".reload").addEventListener("click", () => this.refresh());
  }

  async start() {
    try {
      this.uPlot = await loadChartLibrary();
    } catch (error) {
      this.unavailable = error.message;
    }
    this.ctx.live.on("alerts", () => this.refresh());
    this.ctx.live.on("resync", () => this.refresh());
    await this.refresh();
  }

  stop() {
    this.stopped = true;
    for (const card of this.cards.values()) if (card.group) card.group.dispose();
  }

  async load() {
    const { api } = this.ctx;
    const previous = this.el.period.value === PREVIOUS;
    let summaries;
    let details;
    try {
      summaries = (await api.get("api/v1/sla")).slos || [];
      details = await Promise.all(summaries.map((summary) => {
        const name = encodeURIComponent(summary.slo);
        const range = previous ? { period: previousPeriod(summary.label) } : {};
        return Promise.all([api.get(`api/v1/sla/${name}/report?${query(range)}`),
                            api.get(`api/v1/sla/${name}/budget?${query(range)}`), range]);
      }));
    } catch (error) {
      if (this.stopped) return;
      this.el.problem.textContent = `The SLOs could not be read: ${error.message}`;
      this.el.problem.hidden = false;
      return;
    }
    if (this.stopped) return;
    this.el.problem.hidden = true;
    this.drawCards(summaries);
    summaries.forEach((summary, i) => {
      const [report, budget, range] = details[i];
      this.fillCard(this.cards.get(summary.slo), report, budget, range);
    });
    this.el.status.textContent = `${summaries.length} ${summaries.length === 1 ? "SLO" : "SLOs"} · ${
      previous ? "the period before the current one" : "the current period"} · updated ${new Date().toLocaleTimeString()}`;
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }

  /** A card per SLO, drawn anew only when the SLOs themselves change (a reload of the hub's config). */
  drawCards(summaries) {
    const names = summaries.map((s) => s.slo).join("\n");
    if (names === this.names) return;
    this.names = names;
    for (const card of this.cards.values()) if (card.group) card.group.dispose();
    this.cards.clear();
    if (!summaries.length) {
      this.el.cards.innerHTML = '<p class="empty">No SLO is configured: the hub config\'s <code>slos:</code> list ' +
        "(docs/sla.md) defines them.</p>";
      return;
    }
    this.el.cards.innerHTML = summaries.map(cardMarkup).join("");
    for (const element of this.el.cards.querySelectorAll(".slo-card")) {
      const find = (selector) => element.querySelector(selector);
      const card = { el: { figures: find(".slo-figures"), budget: find(".budget-box"), plot: find(".plot"),
                           note: find(".chart-note"), members: find(".members-box"), csv: find(".csv-link"),
                           period: find(".slo-period") },
                     group: null, chart: null, range: null };
      if (this.uPlot) {
        card.group = new ChartGroup(this.uPlot, { window: { start: 0, end: 1 }, onZoom: (start) => {
          if (start === null) card.group.setWindow(card.range);  // a double click: back to the whole period
        } });
        card.chart = card.group.chart(card.el.plot, { unit: "ratio" });
      } else {
        card.el.note.textContent = this.unavailable;
      }
      this.cards.set(element.dataset.slo, card);
    }
  }

  fillCard(card, report, budget, range) {
    const { el } = card;
    el.period.textContent = `${report.label || `${dateTime(report.start)} – ${dateTime(report.end)}`} (${report.period}, ${
      report.timezone})`;
    el.figures.innerHTML = figuresMarkup(report);
    el.budget.innerHTML = budgetMarkup(report.budget);
    el.members.innerHTML = membersMarkup(report);
    el.csv.href = `api/v1/sla/${encodeURIComponent(report.slo)}/report?${query({ ...range, format: "csv" })}`;
    card.range = { start: budget.start, end: budget.end };
    if (card.chart) {
      card.group.setWindow(card.range);
      card.chart.setSeries([{ key: "left", label: "budget left", points: budget.points }]);
      el.note.textContent = budget.points.length ? "" : "Nothing counted in this period yet.";
    }
  }
}

function cardMarkup(summary) {
  const name = escapeHtml(summary.slo);
  return `<section class="card slo-card" data-slo="${name}" aria-labelledby="slo-${name}"><h2 id="slo-${name}">${name}` +
    ` <span class="slo-objective">${escapeHtml(summary.objective)}, target ${escapeHtml(summary.target)}%</span></h2>` +
    `<div class="card-body">${summary.description ? `<p class="slo-description">${escapeHtml(summary.description)}</p>` : ""}` +
    '<p class="slo-period muted"></p><dl class="figures-list slo-figures"></dl><div class="budget-box"></div>' +
    '<div class="slo-chart"><h3>Error budget left over the period</h3><div class="plot"></div>' +
    '<p class="chart-note muted"></p></div><div class="slo-members"><h3>Members, worst first</h3>' +
    '<div class="members-box"></div><p><a class="csv-link" href="" download>Download the report as CSV</a></p></div>' +
    "</div></section>";
}

function figuresMarkup(report) {
  const figure = (label, value, note = "") => `<div class="figure"><dt>${label}</dt><dd><span class="figure-value">${
    value}</span>${note ? ` <span class="muted">${escapeHtml(note)}</span>` : ""}</dd></div>`;
  const status = report.status.replace(/ /g, "-");
  return figure("Availability", escapeHtml(availabilityText(report.availability)), `target ${report.target}%`) +
    figure("Status", `<span class="slo-status slo-status-${escapeHtml(status)}">${escapeHtml(report.status)}</span>`) +
    figure("Downtime", `${escapeHtml(report.downtime_minutes.toFixed(1))} min`,
           report.unknown_s ? `${format("seconds", report.unknown_s)} unknown` : "") +
    figure("Members", escapeHtml(report.member_count));
}

function budgetMarkup(budget) {
  if (budget.left === null) return '<p class="muted">No error budget: nothing in this period is eligible yet.</p>';
  const left = budget.left;
  const level = left < 0 ? "overspent" : left < LOW_BUDGET ? "low" : "ok";
  const words = left < 0 ? `overspent: ${format("ratio", -left, 1)} beyond the budget`
    : `${format("ratio", left, 1)} of the error budget left`;
  const spent = `${(budget.bad_s / 60).toFixed(1)} of ${(budget.allowed_bad_s / 60).toFixed(1)} bad minutes allowed spent`;
  return `<div class="budget budget-${level}"><p class="budget-words"><strong>${escapeHtml(words)}</strong> ` +
    `<span class="muted">${escapeHtml(spent)}</span></p><span class="budget-bar" role="meter" aria-valuemin="0" ` +
    `aria-valuemax="1" aria-valuenow="${Math.max(0, Math.min(1, left))}" aria-label="error budget left">` +
    `<span class="budget-fill" style="width: ${(Math.max(0, Math.min(1, left)) * 100).toFixed(1)}%"></span></span></div>`;
}

function membersMarkup(report) {
  if (!report.members.length) return '<p class="muted">No member in this period.</p>';
  const rows = worstFirst(report.members).map((m) => `<tr data-member="${escapeHtml(m.member)}"><th scope="row">` +
    `<a href="#/host/${encodeURIComponent(m.host)}">${escapeHtml(m.member)}</a></th>` +
    `<td class="num">${escapeHtml(availabilityText(m.availability))}</td>` +
    `<td class="num">${escapeHtml(m.downtime_minutes.toFixed(1))}</td>` +
    `<td class="num">${escapeHtml(format("seconds", m.unknown_s))}</td>` +
    `<td class="num">${escapeHtml(format("seconds", m.excluded_s))}</td></tr>`);
  return '<div class="scroll"><table class="slo-members-table"><thead><tr><th scope="col">Member</th>' +
    '<th scope="col" class="num">Availability</th><th scope="col" class="num">Bad minutes</th>' +
    '<th scope="col" class="num">Unknown</th><th scope="col" class="num">Excluded</th></tr></thead>' +
    `<tbody>${rows.join("")}</tbody></table></div>`;
}
