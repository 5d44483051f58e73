// The incidents (#/incidents): a statistics strip (MTTA, MTTR, open per state; api/v1/incidents/stats), the
// incidents in a table filtered by state (open ones by default) and by a search over id, title and labels, and for
// operators a "New incident" dialog. #/incidents/INC-3 is one incident (pages/incident.js): the shell routes by the
// longest page path, and an id has none of its own, so this module opens either page. Incidents change with the
// alerts: the page reads again on the live feed's `alerts` and `resync`, never on a timer.
import { query } from "../lib/api.js";
import { dateTime } from "../lib/format.js";
import { escapeHtml, labelText } from "../lib/html.js";
import { coalesced, markDrawn, pageModule } from "../lib/page.js";
import { IncidentPage } from "./incident.js";
import { duration, incidentDuration, SEVERITIES, severityChip, STATES, stateChip, when } from "./incident_markup.js";

const PATH = "incidents";
const OPEN = "open";  // every state but closed: the default
const ALL = "all";
const STATS_RANGES = { "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const DEFAULT_STATS_RANGE = "7d";
const LIMIT = 1000;
const SEARCH_DELAY_MS = 200;

export default pageModule({ path: PATH, title: "Incidents", nav: true, role: "viewer" },
  (root, params, ctx) => (params.length ? new IncidentPage(root, params[0], ctx) : new IncidentsPage(root, ctx)));

/** The text the search box looks in: id, title and labels, assignee, service and team. */
export function searchText(incident) {
  return [incident.id, incident.title, labelText(incident.labels), incident.assignee, incident.service, incident.team,
          ...(incident.alerts || []).map((a) => labelText(a.labels))].join(" ").toLowerCase();
}

class IncidentsPage {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.refresh = coalesced(() => this.load(), () => this.stopped);
    this.searchTimer = 0;
    this.incidents = [];
    const initial = ctx.query || new URLSearchParams();
    const state = initial.get("state");
    const operator = ctx.can("operator");
    root.classList.add("incidents-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><h1>Incidents</h1>' +
      '<p class="status incidents-status">Loading…</p>' +
      '<p class="status failing incidents-problem" role="alert" hidden></p></div>' +
      '<form class="tools" role="search"><label for="incident-state">State</label><select id="incident-state" name="state">' +
      [[OPEN, "open (not closed)"], [ALL, "all"], ...STATES.map((s) => [s, s])].map(([value, words]) =>
        `<option value="${value}"${value === (state || OPEN) ? " selected" : ""}>${words}</option>`).join("") + "</select>" +
      '<label for="incident-search">Search</label><input id="incident-search" name="q" type="search" ' +
      'placeholder="title, label, INC-3" autocomplete="off">' +
      (operator ? '<button type="button" class="primary new-incident">New incident</button>' : "") + "</form></header>" +
      '<div class="page-body"><section class="card incident-stats" aria-labelledby="incident-stats-title">' +
      '<h2 id="incident-stats-title">Statistics <label class="stats-range"><span class="sr-only">Opened within</span>' +
      `<select name="range">${Object.keys(STATS_RANGES).map((name) => `<option value="${name}"${
        name === DEFAULT_STATS_RANGE ? " selected" : ""}>opened in the last ${name}</option>`).join("")}</select></label></h2>` +
      '<div class="card-body stats-box"><p class="muted">Loading…</p></div></section>' +
      '<section class="card"><div class="scroll"><table id="incident-list"><caption class="sr-only">Incidents, newest first' +
      '</caption><thead><tr><th scope="col">Id</th><th scope="col">State</th><th scope="col">Severity</th>' +
      '<th scope="col">Title</th><th scope="col">Assignee</th><th scope="col">Opened</th>' +
      '<th scope="col" class="num">Duration</th><th scope="col" class="num">Alerts</th></tr></thead><tbody></tbody></table>' +
      '</div><p class="empty incidents-empty" hidden></p></section></div>' +
      (operator ? newIncidentDialog() : "");
    const find = (selector) => root.querySelector(selector);
    this.el = { status: find(".incidents-status"), problem: find(".incidents-problem"), state: find("#incident-state"),
                search: find("#incident-search"), stats: find(".stats-box"), range: find(".stats-range select"),
                rows: find("#incident-list tbody"), empty: find(".incidents-empty") };
    this.el.search.value = initial.get("q") || "";
    find("form.tools").addEventListener("submit", (event) => event.preventDefault());
    this.el.state.addEventListener("change", () => {
      this.keepInAddress();
      this.refresh();
    });
    this.el.range.addEventListener("change", () => this.refresh());
    this.el.search.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => {
        this.keepInAddress();
        this.draw();
      }, SEARCH_DELAY_MS);
    });
    if (operator) this.wireDialog();
  }

  async start() {
    this.ctx.live.on("alerts", () => this.refresh());
    this.ctx.live.on("resync", () => this.refresh());
    await this.refresh();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.searchTimer);
  }

  /** The filters in the address, so that a link shows the same incidents; replaceState causes no navigation. */
  keepInAddress() {
    const params = new URLSearchParams();
    if (this.el.state.value !== OPEN) params.set("state", this.el.state.value);
    if (this.el.search.value.trim()) params.set("q", this.el.search.value.trim());
    history.replaceState(null, "", `#/${PATH}${params.size ? `?${params}` : ""}`);
  }

  listPath() {
    const state = this.el.state.value;
    const now = (Date.now() / 1000).toFixed(3);
    // Open ones: "not closed before now" is the hub's own filter for them.
    const params = state === OPEN ? { since: now } : state === ALL ? {} : { state };
    return `api/v1/incidents?${query({ ...params, limit: LIMIT })}`;
  }

  async load() {
    const since = (Date.now() / 1000 - STATS_RANGES[this.el.range.value]).toFixed(3);
    let answers;
    try {
      answers = await Promise.all([this.ctx.api.get(this.listPath()),
                                   this.ctx.api.get(`api/v1/incidents/stats?${query({ since })}`)]);
    } catch (error) {
      if (this.stopped) return;
      this.el.problem.textContent = `The incidents could not be read: ${error.message}`;
      this.el.problem.hidden = false;
      return;
    }
    if (this.stopped) return;
    const [list, stats] = answers;
    this.el.problem.hidden = true;
    this.incidents = list.incidents || [];
    this.el.stats.innerHTML = statsMarkup(stats);
    this.draw();
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }

  draw() {
    const words = this.el.search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const shown = this.incidents.filter((incident) => {
      const text = searchText(incident);
      return words.every((word) => text.includes(word));
    });
    this.el.rows.innerHTML = shown.map(rowMarkup).join("");
    this.el.empty.hidden = shown.length > 0;
    this.el.empty.textContent = this.incidents.length ? "No incident matches the search."
      : this.el.state.value === OPEN ? "No incident is open." : "No incident in this state.";
    const total = this.incidents.length;
    this.el.status.textContent = `${shown.length === total ? total : `${shown.length} of ${total}`} ` +
      `${total === 1 ? "incident" : "incidents"}${total >= LIMIT ? " (the newest)" : ""} · updated ${
        new Date().toLocaleTimeString()}`;
  }

  wireDialog() {
    const dialog = this.root.querySelector("#new-incident-dialog");
    const form = dialog.querySelector("form");
    const problem = dialog.querySelector(".dialog-error");
    this.root.querySelector(".new-incident").addEventListener("click", () => {
      form.reset();
      problem.textContent = "";
      dialog.showModal();
      form.elements.title.focus();
    });
    dialog.querySelector(".cancel").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const title = form.elements.title.value.trim();
      if (!title) {
        problem.textContent = "Give the incident a title.";
        return;
      }
      const button = form.querySelector("[type=submit]");
      button.disabled = true;
      try {
        const { incident } = await this.ctx.api.send("POST", "api/v1/incidents",
                                                      { title, severity: form.elements.severity.value });
        dialog.close();
        this.ctx.toast(`${incident.id} opened.`, "ok");
        this.ctx.go(`#/${PATH}/${encodeURIComponent(incident.id)}`);
      } catch (error) {
        problem.textContent = `Not opened: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    });
  }
}

function newIncidentDialog() {
  return '<dialog id="new-incident-dialog" class="alert-dialog" aria-labelledby="new-incident-title"><form>' +
    '<h2 id="new-incident-title">New incident</h2><label for="new-incident-name">Title</label>' +
    '<input id="new-incident-name" name="title" type="text" autocomplete="off" aria-required="true">' +
    '<label for="new-incident-severity">Severity</label><select id="new-incident-severity" name="severity">' +
    SEVERITIES.map((s) => `<option${s === "warning" ? " selected" : ""}>${s}</option>`).join("") + "</select>" +
    '<p class="dialog-error" role="alert"></p><div class="dialog-buttons"><button type="button" class="cancel">Cancel' +
    '</button><button type="submit" class="primary">Open</button></div></form></dialog>';
}

function rowMarkup(incident) {
  const href = `#/${PATH}/${encodeURIComponent(incident.id)}`;
  const firing = incident.alerts.filter((a) => a.status === "firing").length;
  const alerts = incident.alerts.length;
  return `<tr data-incident="${escapeHtml(incident.id)}" class="incident-row incident-row-${escapeHtml(incident.state)}">` +
    `<th scope="row" class="incident-id"><a href="${href}">${escapeHtml(incident.id)}</a></th>` +
    `<td>${stateChip(incident.state)}${incident.heldOpen ? ' <span class="muted">held open</span>' : ""}</td>` +
    `<td>${severityChip(incident.severity)}</td><td class="wrap incident-title"><a href="${href}">${
      escapeHtml(incident.title)}</a></td>` +
    `<td>${incident.assignee ? escapeHtml(incident.assignee) : '<span class="muted">–</span>'}</td>` +
    `<td>${when(incident.unix.openedAt)}</td><td class="num">${escapeHtml(duration(incidentDuration(incident)))}</td>` +
    `<td class="num">${alerts}${firing ? ` <span class="muted">(${firing} firing)</span>` : ""}</td></tr>`;
}

function statsMarkup(stats) {
  const figure = (label, value, note = "") => `<div class="figure"><dt>${label}</dt><dd><span class="figure-value">${
    escapeHtml(value)}</span>${note ? ` <span class="muted">${escapeHtml(note)}</span>` : ""}</dd></div>`;
  const mean = (value, count, many) => (value === null ? ["–", `none ${many} yet`]
    : [duration(value), `over ${count} ${count === 1 ? "incident" : "incidents"}`]);
  const open = stats.openByState || {};
  return '<dl class="figures-list">' +
    figure("Mean time to acknowledge", ...mean(stats.meanTimeToAcknowledge, stats.acknowledged, "acknowledged")) +
    figure("Mean time to resolve", ...mean(stats.meanTimeToResolve, stats.resolved, "resolved")) +
    figure("Opened", String(stats.opened), `since ${dateTime(stats.start)}`) + "</dl>" +
    `<ul class="counts open-by-state" aria-label="Open incidents by state">${STATES.filter((s) => s !== "closed").map((s) =>
      `<li class="${open[s] ? "nonzero" : ""}"><span class="num">${Number(open[s] || 0)}</span>${stateChip(s)}</li>`)
      .join("")}</ul>`;
}
