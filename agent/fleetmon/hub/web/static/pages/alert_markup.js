// The alerts page's markup (pages/alerts.js draws it): a routing group with its alerts, each alert with its labels,
// annotations and its state in words, and the table of silences. Every server string is escaped on its way in.
import { age, dateTime } from "../lib/format.js";
import { escapeHtml, labelText } from "../lib/html.js";

const SEVERITY_RANK = { critical: 0, error: 1, warning: 2, info: 3 };
// Labels each alert shows in its own place (title, badge), not among the others.
const SHOWN_APART = ["alertname", "severity"];

/** What kind of mute the hub's reason names (fleetmon.hub.alerting.muting): "" when the alert is not muted. */
export function muteKind(reason) {
  if (!reason) return "";
  if (reason.startsWith("silenced by ")) return "silenced";
  if (reason.startsWith("inhibited by ")) return "inhibited";
  if (reason === "flapping") return "flapping";
  return "muted";  // a route's time intervals
}

export function severityRank(alert) {
  return SEVERITY_RANK[alert.labels.severity] ?? Object.keys(SEVERITY_RANK).length;
}

export function alertOrder(a, b) {
  return severityRank(a) - severityRank(b) || Date.parse(a.startsAt) - Date.parse(b.startsAt) ||
    a.fingerprint.localeCompare(b.fingerprint);
}

export function alertTitle(alert) {
  const rest = labelText(alert.labels, ["alertname"]);
  return `${alert.labels.alertname || "alert"}${rest ? ` {${rest}}` : ""}`;
}

export function groupTitle(group) {
  return labelText(group.labels) || "of all alerts";
}

export function groupMarkup(group, members, index, options) {
  const id = `alert-group-${index}`;
  if (!group) {
    return `<section class="alert-group" aria-labelledby="${id}"><header class="group-head"><h3 id="${id}">` +
      `Not yet routed</h3><span class="group-fact">${members.length} firing</span></header>` +
      `<ul class="alerts">${members.map((a) => alertMarkup(a, null, options)).join("")}</ul></section>`;
  }
  const facts = [`<span class="group-fact receiver">to <strong>${escapeHtml(group.receiver)}</strong></span>`,
                 `<span class="group-fact count">${group.firing} firing${options.filtered &&
                   members.length !== group.firing ? `, ${members.length} shown` : ""}</span>`];
  if (group.escalationTier > 0) facts.push(`<span class="group-fact escalated">escalated to tier ${group.escalationTier}</span>`);
  const acked = members.filter((a) => a.acknowledged).length;
  facts.push(group.acknowledged ? '<span class="group-fact acknowledged">acknowledged</span>'
    : `<span class="group-fact unacknowledged">${acked ? `${acked} of ${members.length}${options.filtered ? " shown" : ""} ` +
      "acknowledged" : "not acknowledged"}</span>`);
  if (group.firingSince) facts.push(`<span class="group-fact muted" title="${escapeHtml(dateTime(group.firingSince))}">` +
    `first notified ${age(group.firingSince)} ago</span>`);
  const target = escapeHtml(group.id);
  const title = escapeHtml(groupTitle(group));
  const actions = options.operator ? '<span class="group-actions">' +
    (group.firing && !group.acknowledged ? `<button type="button" class="ack-button" data-action="ack-group" ` +
      `data-target="${target}">Acknowledge all<span class="sr-only"> of the group ${title}</span></button>` : "") +
    (Object.keys(group.labels).length ? `<button type="button" class="silence-button" data-action="silence-group" ` +
      `data-target="${target}">Silence group<span class="sr-only"> ${title}</span></button>` : "") + "</span>" : "";
  const labels = Object.keys(group.labels).length ? labelChips(group.labels, []) : '<span class="muted">all alerts of its route</span>';
  return `<section class="alert-group" data-group="${target}" aria-labelledby="${id}"><header class="group-head">` +
    `<h3 id="${id}"><span class="sr-only">Group </span>${labels}</h3>${facts.join("")}${actions}</header>` +
    `<ul class="alerts">${members.map((a) => alertMarkup(a, group, options)).join("")}</ul></section>`;
}

function alertMarkup(alert, group, { silenceById, operator }) {
  const fp = escapeHtml(alert.fingerprint);
  const severity = alert.labels.severity || "";
  const name = escapeHtml(alert.labels.alertname || "alert");
  const started = Date.parse(alert.startsAt) / 1000;
  const notes = alertStates(alert, group, silenceById);
  const { summary, description } = alert.annotations || {};
  const otherAnnotations = Object.keys(alert.annotations || {}).filter((k) => !["summary", "description"].includes(k));
  const actions = operator ? '<span class="alert-actions">' +
    `<button type="button" class="ack-button" data-action="ack-alert" data-target="${fp}">Acknowledge` +
    `<span class="sr-only"> ${name}</span></button>` +
    `<button type="button" class="silence-button" data-action="silence-alert" data-target="${fp}">Silence` +
    `<span class="sr-only"> ${name}</span></button></span>` : "";
  const kind = muteKind(alert.muted);
  return `<li class="alert${kind ? ` alert-${kind}` : ""}${alert.acknowledged ? " alert-acknowledged" : ""}" ` +
    `data-fingerprint="${fp}"><div class="alert-head">` +
    (severity ? `<span class="severity severity-${escapeHtml(severity)}">${escapeHtml(severity)}</span>` : "") +
    `<strong class="alertname">${name}</strong>` +
    (Number.isFinite(started) ? `<span class="since" title="${escapeHtml(dateTime(started))}">for ${age(started)}, since ${
      escapeHtml(dateTime(started))}</span>` : "") + `${actions}</div>` +
    (summary ? `<p class="annotation annotation-summary">${escapeHtml(summary)}</p>` : "") +
    (description ? `<p class="annotation annotation-description">${escapeHtml(description)}</p>` : "") +
    (otherAnnotations.length ? `<p class="annotation annotation-other muted">${escapeHtml(otherAnnotations.map((k) =>
      `${k}: ${alert.annotations[k]}`).join(" · "))}</p>` : "") +
    `<p class="alert-labels">${labelChips(alert.labels, SHOWN_APART)}</p>` +
    (notes.length ? `<ul class="alert-states">${notes.join("")}</ul>` : "") + "</li>";
}

function labelChips(labels, skip) {
  const names = Object.keys(labels).filter((k) => !skip.includes(k)).sort();
  if (!names.length) return "";
  return `<span class="label-chips">${names.map((k) => `<span class="label"><span class="label-name">${
    escapeHtml(k)}</span>=<span class="label-value">${escapeHtml(labels[k])}</span></span>`).join(" ")}</span>`;
}

/** The alert's state in words, one item each: muted (and by what), acknowledged (by whom), escalated. */
function alertStates(alert, group, silenceById) {
  const notes = [];
  const kind = muteKind(alert.muted);
  if (kind === "silenced") {
    const ids = alert.muted.slice("silenced by ".length).split(",");
    const words = ids.map((id) => {
      const silence = silenceById.get(id);
      if (!silence) return `silence ${id}`;
      return `${silence.createdBy || "someone"} until ${dateTime(Date.parse(silence.endsAt) / 1000)}` +
        `${silence.comment ? ` (“${silence.comment}”)` : ""}`;
    });
    notes.push(state("silenced", `Silenced by ${words.join("; ")}`));
  } else if (kind === "inhibited") {
    notes.push(state("inhibited", `Inhibited by ${alert.muted.slice("inhibited by ".length)}: a related alert fires`));
  } else if (kind === "flapping") {
    notes.push(state("flapping", "Flapping: notifications held until it settles"));
  } else if (kind) {
    notes.push(state("muted", `Muted: ${alert.muted}`));
  }
  const ack = alert.acknowledged;
  if (ack) {
    notes.push(state("acknowledged", `Acknowledged by ${ack.by || "someone"} ${age(ack.at)} ago` +
      `${ack.comment ? ` (“${ack.comment}”)` : ""}, ${ack.expiresAt ? `until ${dateTime(ack.expiresAt)}` : "until it resolves"}`));
  }
  if (group && group.escalationTier > 0 && !ack) {
    notes.push(state("escalated", `Escalated to tier ${group.escalationTier}: not acknowledged in time`));
  }
  return notes;
}

function state(kind, words) {
  return `<li class="state state-${kind}">${escapeHtml(words)}</li>`;
}

export function silencesMarkup(silences, operator) {
  const current = silences.filter((s) => s.status && s.status.state !== "expired");
  if (!current.length) return '<p class="muted">No silence is active or pending.</p>';
  const rows = current.map((s) => {
    const state = s.status.state;
    const id = escapeHtml(s.id);
    return `<tr data-silence="${id}"><td><span class="silence-state silence-${escapeHtml(state)}">${escapeHtml(state)}` +
      `</span></td><td class="wrap"><code>${escapeHtml(s.matchersText)}</code></td>` +
      `<td>${escapeHtml(dateTime(Date.parse(s.startsAt) / 1000))}</td><td>${escapeHtml(dateTime(Date.parse(s.endsAt) / 1000))}</td>` +
      `<td>${escapeHtml(s.createdBy)}</td><td class="wrap">${escapeHtml(s.comment)}</td>` +
      (operator ? `<td><button type="button" class="expire-button" data-action="expire" data-target="${id}">Expire` +
        `<span class="sr-only"> the silence ${escapeHtml(s.matchersText)}</span></button></td>` : "") + "</tr>";
  });
  return '<div class="scroll"><table class="silences"><thead><tr><th scope="col">State</th><th scope="col">Matchers</th>' +
    '<th scope="col">Starts</th><th scope="col">Ends</th><th scope="col">Created by</th><th scope="col">Comment</th>' +
    `${operator ? '<th scope="col"><span class="sr-only">Actions</span></th>' : ""}</tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></div>`;
}
