// What the incident pages share (pages/incidents.js, the list; pages/incident.js, one incident): the state and
// severity chips, durations, the alerts and timeline of an incident as markup, and which actions its state allows
// (docs/incidents.md, "States"), so that a button is only drawn where the hub would take the action. Every server
// string is escaped on its way in.
import { age, dateTime, format } from "../lib/format.js";
import { escapeHtml, labelText } from "../lib/html.js";

export const STATES = ["triggered", "acknowledged", "investigating", "resolved", "closed"];
export const SEVERITIES = ["critical", "warning", "info"];
const ACTIVE = new Set(["triggered", "acknowledged", "investigating"]);
// What closing needs from the postmortem (fleetmon.hub.incidents.postmortem), in the words the form uses.
const NEEDED_FOR_CLOSING = [["rootCause", "root cause"], ["impact", "impact"], ["resolution", "resolution"]];
const KIND_WORDS = {
  opened: "Opened", alert_joined: "Alert joined", alert_resolved: "Alert resolved", notification_sent: "Notified",
  notification_failed: "Notification failed", alert_acknowledged: "Alert acknowledged", escalated: "Escalated",
  state_changed: "State changed", severity_changed: "Severity changed", assignee_changed: "Assignee changed",
  responder_added: "Responder added", held: "Hold", merged: "Merged", split: "Split", linked: "Linked",
  postmortem_edited: "Postmortem edited", note: "Note",
};
// A state change in words by the state it went to; back to triggered is the hub's re-trigger or a person's reopen.
const CHANGED_TO = { acknowledged: "Acknowledged", investigating: "Investigating", resolved: "Resolved",
                     closed: "Closed", triggered: "Reopened" };

export function stateChip(state) {
  return `<span class="incident-state incident-state-${escapeHtml(state)}">${escapeHtml(state)}</span>`;
}

export function severityChip(severity) {
  return `<span class="severity severity-${escapeHtml(severity)}">${escapeHtml(severity)}</span>`;
}

/** Seconds an incident has lasted: opening to its (last) resolution, or to its closing, or to now. */
export function incidentDuration(incident, now = Date.now() / 1000) {
  const { openedAt, resolvedAt, closedAt } = incident.unix;
  return (resolvedAt ?? closedAt ?? now) - openedAt;
}

export function duration(seconds) {
  return format("seconds", seconds);
}

/** A Unix time as "5m ago", the full time in its title; a dash for none. */
export function when(ts) {
  if (ts === null || ts === undefined) return '<span class="muted">–</span>';
  return `<time title="${escapeHtml(dateTime(ts))}">${escapeHtml(age(ts))} ago</time>`;
}

/** The postmortem fields closing needs that are still empty, in words. */
export function missingForClosing(postmortem) {
  return NEEDED_FOR_CLOSING.filter(([key]) => !String((postmortem || {})[key] || "").trim()).map(([, words]) => words);
}

/**
 * What a person may do to `incident` now: `shown`, the actions to draw (ack, investigate, resolve, reopen, hold,
 * release, assign, responders, severity, close) and `closeBlocked`, why Close is drawn disabled ("" when it may
 * close). Mirrors fleetmon.hub.incidents.lifecycle: the hub refuses the rest with 409 anyway.
 */
export function incidentActions(incident) {
  const { state } = incident;
  if (state === "closed") return { shown: [], closeBlocked: "" };
  const unacknowledged = (incident.alerts || []).some((a) => a.status === "firing" && !a.acknowledged);
  const shown = [];
  // Past triggered, acknowledging again only takes the alerts that joined since: drawn when there are some.
  if (state === "triggered" || (ACTIVE.has(state) && unacknowledged)) shown.push("ack");
  if (state === "triggered" || state === "acknowledged") shown.push("investigate");
  if (ACTIVE.has(state)) shown.push("resolve");
  if (state === "resolved") shown.push("reopen");
  shown.push(incident.heldOpen ? "release" : "hold", "assign", "responders", "severity", "close");
  const missing = missingForClosing(incident.postmortem);
  const closeBlocked = state !== "resolved" ? `Resolve ${incident.id} before closing it.`
    : missing.length ? `The postmortem needs ${sentence(missing)} before ${incident.id} may close.` : "";
  return { shown, closeBlocked };
}

function sentence(words) {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

/** The incident's alerts as a table: status, labels (the host linked to its page), started, joined, resolved. */
export function alertsMarkup(alerts) {
  if (!alerts.length) return '<p class="muted">No alert is part of this incident.</p>';
  const rows = alerts.map((alert) => {
    const labels = alert.labels || {};
    const host = labels.host ? `<a href="#/host/${encodeURIComponent(labels.host)}">${escapeHtml(labels.host)}</a>` : "";
    const rest = labelText(labels, ["alertname", "host"]);
    const time = (text) => (text ? escapeHtml(dateTime(Date.parse(text) / 1000)) : '<span class="muted">–</span>');
    return `<tr data-fingerprint="${escapeHtml(alert.fingerprint)}" class="incident-alert-${escapeHtml(alert.status)}">` +
      `<td><span class="alert-status alert-status-${escapeHtml(alert.status)}">${escapeHtml(alert.status)}</span>` +
      `${alert.acknowledged ? ' <span class="muted">acknowledged</span>' : ""}</td>` +
      `<th scope="row">${escapeHtml(labels.alertname || "alert")}</th><td>${host || '<span class="muted">–</span>'}</td>` +
      `<td class="wrap"><code>${escapeHtml(rest)}</code></td><td>${time(alert.startsAt)}</td>` +
      `<td>${time(alert.joinedAt)}</td><td>${time(alert.resolvedAt)}</td></tr>`;
  });
  return '<div class="scroll"><table class="incident-alerts"><thead><tr><th scope="col">Status</th>' +
    '<th scope="col">Alert</th><th scope="col">Host</th><th scope="col">Labels</th><th scope="col">Started</th>' +
    `<th scope="col">Joined</th><th scope="col">Resolved</th></tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

/** What an entry was, in words: a state change says which state it went to. */
export function kindWords(entry) {
  if (entry.kind === "state_changed") return CHANGED_TO[(entry.details || {}).to] || KIND_WORDS.state_changed;
  return KIND_WORDS[entry.kind] || entry.kind.replace(/_/g, " ");
}

/** The timeline, oldest first (the hub's order, by time and then sequence); people's notes stand apart. */
export function timelineMarkup(timeline) {
  const entries = [...timeline].sort((a, b) => a.at - b.at || a.seq - b.seq);
  if (!entries.length) return '<p class="muted">Nothing has happened yet.</p>';
  return `<ol class="timeline">${entries.map((entry) => `<li class="timeline-entry timeline-${escapeHtml(entry.kind)}${
    entry.kind === "note" ? " timeline-note" : ""}" data-kind="${escapeHtml(entry.kind)}">` +
    `<time class="timeline-at" datetime="${new Date(entry.at * 1000).toISOString()}">${escapeHtml(dateTime(entry.at))}</time>` +
    `<span class="timeline-kind">${escapeHtml(kindWords(entry))}</span>` +
    `<span class="timeline-by">${entry.by ? escapeHtml(entry.by) : '<span class="muted">hub</span>'}</span>` +
    `<p class="timeline-text">${escapeHtml(entry.text)}</p></li>`).join("")}</ol>`;
}

/** The facts of the header: people, service and team, and every time the incident moved. */
export function factsMarkup(incident) {
  const { unix } = incident;
  const fact = (name, value) => `<div><dt>${name}</dt><dd>${value}</dd></div>`;
  const text = (value) => (value ? escapeHtml(value) : '<span class="muted">–</span>');
  const time = (ts) => (ts === null ? '<span class="muted">–</span>' : `${escapeHtml(dateTime(ts))} (${when(ts)})`);
  const links = incident.links.map((id) => `<a href="#/incidents/${encodeURIComponent(id)}">${escapeHtml(id)}</a>`);
  const facts = [
    fact("Assignee", text(incident.assignee)),
    fact("Responders", text(incident.responders.join(", "))),
    fact("Service", text(incident.service)),
    fact("Team", text(incident.team)),
    fact("Opened", `${time(unix.openedAt)} by ${text(incident.openedBy)}`),
    fact("Acknowledged", time(unix.acknowledgedAt)),
    fact("Resolved", time(unix.resolvedAt)),
    fact("Closed", time(unix.closedAt)),
    fact("Duration", escapeHtml(duration(incidentDuration(incident)))),
  ];
  if (incident.receiver) facts.push(fact("Receiver", text(incident.receiver)));
  if (Object.keys(incident.labels).length) facts.push(fact("Labels", `<code>${escapeHtml(labelText(incident.labels))}</code>`));
  if (incident.heldOpen) facts.push(fact("Held open", "yes: it stays open when its alerts resolve"));
  if (incident.mergedInto) {
    facts.push(fact("Merged into", `<a href="#/incidents/${encodeURIComponent(incident.mergedInto)}">${
      escapeHtml(incident.mergedInto)}</a>`));
  }
  if (links.length) facts.push(fact("Related", links.join(", ")));
  return `<dl class="incident-facts">${facts.join("")}</dl>`;
}
