// One incident (#/incidents/INC-3, opened by pages/incidents.js): its header and facts, the actions its state
// allows (operators; incident_markup.js's incidentActions decides which), its alerts, its timeline oldest first with
// a note box under it, and the postmortem (incident_postmortem.js). The incident is read again after each action
// and on the live feed's `alerts` and `resync` (its alerts and their acknowledgements move it), once more at most
// while a read is in flight. The inputs are drawn once and never redrawn, so a refresh keeps what is being typed.
import { escapeHtml } from "../lib/html.js";
import { coalesced, markDrawn } from "../lib/page.js";
import { alertsMarkup, factsMarkup, incidentActions, SEVERITIES, severityChip, stateChip, timelineMarkup }
  from "./incident_markup.js";
import { PostmortemForm } from "./incident_postmortem.js";

const PATH = "incident";
// The actions that take the optional comment, and the API action of each button that is not its own name.
const WITH_COMMENT = new Set(["ack", "investigate", "resolve", "reopen"]);
const DONE_WORDS = { ack: "acknowledged", investigate: "being investigated", resolve: "resolved", reopen: "reopened",
                     hold: "held open", release: "released", close: "closed", assign: "assigned",
                     responders: "has a new responder", severity: "has a new severity" };

export class IncidentPage {
  constructor(root, id, ctx) {
    this.root = root;
    this.id = id;
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.incident = null;
    this.operator = ctx.can("operator");
    this.refresh = coalesced(() => this.load(), () => this.stopped);
    const path = encodeURIComponent(id);
    this.api = `api/v1/incidents/${path}`;
    root.classList.add("incident-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><p class="crumbs"><a href="#/incidents">Incidents</a>' +
      `</p><h1><span class="incident-id">${escapeHtml(id)}</span> <span class="incident-title"></span></h1>` +
      '<p class="incident-chips"></p><p class="status incident-status">Loading…</p>' +
      '<p class="status failing incident-problem" role="alert" hidden></p></div></header>' +
      '<div class="page-body"><section class="card"><h2>Incident</h2><div class="card-body facts-box"></div></section>' +
      (this.operator ? actionsMarkup() : "") +
      '<section class="card"><h2>Alerts</h2><div class="card-body alerts-box"></div></section>' +
      '<section class="card"><h2>Timeline</h2><div class="card-body"><div class="timeline-box"></div>' +
      (this.operator ? '<form class="note-form"><label for="incident-note">Add a note to the timeline</label>' +
        '<textarea id="incident-note" name="text" rows="2" placeholder="what was found, what was done"></textarea>' +
        '<p class="form-error note-error" role="alert"></p><div class="form-buttons">' +
        '<button type="submit" class="primary add-note">Add note</button></div></form>' : "") + "</div></section>" +
      '<section class="card"><h2>Postmortem</h2><div class="card-body postmortem-box"></div></section></div>';
    const find = (selector) => root.querySelector(selector);
    this.el = { title: find(".incident-title"), chips: find(".incident-chips"), status: find(".incident-status"),
                problem: find(".incident-problem"), facts: find(".facts-box"), alerts: find(".alerts-box"),
                timeline: find(".timeline-box"), actions: find(".incident-actions"), closeReason: find(".close-reason"),
                actionProblem: find(".action-problem"), note: find(".note-form") };
    this.postmortem = new PostmortemForm(find(".postmortem-box"), ctx,
                                         { editable: this.operator, onSaved: () => this.refresh() });
    if (this.el.actions) {
      this.el.actions.addEventListener("submit", (event) => event.preventDefault());
      this.el.actions.addEventListener("click", (event) => {
        const button = event.target.closest("button[data-action]");
        if (button) this.act(button);
      });
    }
    if (this.el.note) {
      this.el.note.addEventListener("submit", (event) => {
        event.preventDefault();
        this.addNote();
      });
    }
  }

  async start() {
    this.ctx.live.on("alerts", () => this.refresh());
    this.ctx.live.on("resync", () => this.refresh());
    await this.refresh();
  }

  stop() {
    this.stopped = true;
  }

  async load() {
    let incident;
    try {
      incident = (await this.ctx.api.get(this.api)).incident;
    } catch (error) {
      if (this.stopped) return;
      this.el.problem.textContent = error.status === 404 ? `There is no incident ${this.id}.`
        : `The incident could not be read: ${error.message}`;
      this.el.problem.hidden = false;
      this.el.status.textContent = "";
      return;
    }
    if (this.stopped) return;
    this.incident = incident;
    this.el.problem.hidden = true;
    this.draw();
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }

  draw() {
    const incident = this.incident;
    document.title = `${incident.id} · fleetmon`;
    this.el.title.textContent = incident.title;
    this.el.chips.innerHTML = `${stateChip(incident.state)} ${severityChip(incident.severity)}${
      incident.heldOpen ? ' <span class="muted">held open</span>' : ""}`;
    this.el.facts.innerHTML = factsMarkup(incident);
    this.el.alerts.innerHTML = alertsMarkup(incident.alerts);
    this.el.timeline.innerHTML = timelineMarkup(incident.timeline);
    this.postmortem.show(incident);
    if (this.el.actions) this.drawActions();
    const firing = incident.alerts.filter((a) => a.status === "firing").length;
    this.el.status.textContent = `${incident.alerts.length} ${incident.alerts.length === 1 ? "alert" : "alerts"}` +
      `${firing ? `, ${firing} firing` : ""} · ${incident.timeline.length} timeline entries · updated ${
        new Date().toLocaleTimeString()}`;
  }

  /** Every action button drawn or hidden as the state allows; the inputs keep what is typed in them. */
  drawActions() {
    const { shown, closeBlocked } = incidentActions(this.incident);
    const box = this.el.actions;
    box.closest(".card").hidden = !shown.length;  // a closed incident takes no action but notes
    for (const button of box.querySelectorAll("button[data-action]")) {
      button.hidden = !shown.includes(button.dataset.action);
    }
    for (const group of box.querySelectorAll(".action-group")) {
      group.hidden = ![...group.querySelectorAll("button[data-action]")].some((b) => !b.hidden);
    }
    const close = box.querySelector("button[data-action=close]");
    close.disabled = Boolean(closeBlocked);
    this.el.closeReason.textContent = closeBlocked;
    const severity = box.querySelector("select[name=severity]");
    if (document.activeElement !== severity) severity.value = this.incident.severity;
  }

  /** The API call of an action button: [the action's path, its body], or a string saying what is missing. */
  request(action) {
    const form = this.el.actions.elements;
    const comment = form.comment.value.trim();
    if (WITH_COMMENT.has(action)) return [action, comment ? { comment } : {}];
    if (action === "hold" || action === "release") return ["hold", { held: action === "hold" }];
    if (action === "close") return ["close", {}];
    if (action === "severity") return ["severity", { severity: form.severity.value }];
    const name = (action === "assign" ? form.assignee : form.responder).value.trim();
    if (!name) return action === "assign" ? "Write the name to assign it to." : "Write the responder's name.";
    return action === "assign" ? ["assign", { assignee: name }] : ["responders", { responders: [name] }];
  }

  async act(button) {
    const action = button.dataset.action;
    const request = this.request(action);
    this.el.actionProblem.textContent = typeof request === "string" ? request : "";
    if (typeof request === "string") return;
    const [path, body] = request;
    button.disabled = true;
    try {
      await this.ctx.api.send("POST", `${this.api}/${path}`, body);
    } catch (error) {
      this.el.actionProblem.textContent = `Not done: ${error.message}`;
      button.disabled = false;
      return;
    }
    button.disabled = false;
    const form = this.el.actions.elements;
    if (WITH_COMMENT.has(action)) form.comment.value = "";
    if (action === "assign") form.assignee.value = "";
    if (action === "responders") form.responder.value = "";
    this.ctx.toast(`${this.id} ${DONE_WORDS[action]}.`, "ok");
    await this.refresh();
  }

  async addNote() {
    const form = this.el.note;
    const error = form.querySelector(".note-error");
    const text = form.elements.text.value.trim();
    error.textContent = text ? "" : "Write the note first.";
    if (!text) return;
    const button = form.querySelector(".add-note");
    button.disabled = true;
    try {
      await this.ctx.api.send("POST", `${this.api}/notes`, { text });
    } catch (problem) {
      error.textContent = `Not added: ${problem.message}`;
      return;
    } finally {
      button.disabled = false;
    }
    form.elements.text.value = "";
    await this.refresh();
  }
}

function actionsMarkup() {
  const button = (action, words) => `<button type="button" data-action="${action}">${words}</button>`;
  return '<section class="card"><h2>Actions</h2><div class="card-body"><form class="incident-actions">' +
    '<div class="action-group"><label for="incident-comment">Comment</label>' +
    '<input id="incident-comment" name="comment" type="text" placeholder="optional, goes on the timeline" autocomplete="off">' +
    button("ack", "Acknowledge") + button("investigate", "Investigate") + button("resolve", "Resolve") +
    button("reopen", "Reopen") + button("hold", "Hold open") + button("release", "Release the hold") +
    '<button type="button" data-action="close" aria-describedby="incident-close-reason">Close</button>' +
    '<span id="incident-close-reason" class="close-reason muted"></span></div>' +
    '<div class="action-group"><label for="incident-assignee">Assignee</label>' +
    '<input id="incident-assignee" name="assignee" type="text" autocomplete="off">' + button("assign", "Assign") +
    '<label for="incident-responder">Responder</label><input id="incident-responder" name="responder" type="text" ' +
    `autocomplete="off">${button("responders", "Add responder")}` +
    `<label for="incident-severity">Severity</label><select id="incident-severity" name="severity">${
      SEVERITIES.map((s) => `<option>${s}</option>`).join("")}</select>${button("severity", "Change severity")}</div>` +
    '<p class="form-error action-problem" role="alert"></p></form></div></section>';
}
