// The host page's cards beside its charts, as markup: the host's facts, its alerts, its health checks with their
// history (a strip per check: pass and fail over the range, and a journey's steps from its latest result), and
// its events and state changes.
import { dateTime, format } from "../lib/format.js";
import { escapeHtml, labelText } from "../lib/html.js";

const STRIP_WIDTH = 1000;  // the strip's own coordinates; it stretches to its column
const NO_VALUE = "\u2013";
// A step's status as fleetmon.protocol.check_results names it: the words shown and the row's class.
const STEP_STATES = { ok: ["passed", "step-ok"], fail: ["failed", "step-fail"], skipped: ["skipped", "step-skipped"] };
// The phases of a step's HTTP exchange (check_results.PHASES), in the order they happen.
const PHASES = [["dns", "DNS"], ["connect", "Connect"], ["tls", "TLS"], ["first_byte", "First byte"],
                ["total", "Total"]];

/** Board, JetPack, kernel, agent and the rest of what the host said of itself in its birth (api/v1/hosts/{host}). */
export function factsMarkup(host) {
  const facts = host.facts || {};
  const jetson = facts.jetson || {};
  const rows = [
    ["Board", jetson.model],
    ["JetPack", jetson.jetpack && `${jetson.jetpack}${jetson.l4t ? ` (L4T ${jetson.l4t})` : ""}`],
    ["OS", facts.os],
    ["Kernel", facts.kernel],
    ["Architecture", facts.arch],
    ["CPUs", facts.cpus],
    ["Memory", Number.isFinite(facts.memory_bytes) ? format("bytes", facts.memory_bytes) : null],
    ["Agent", host.agent_version],
    ["Python", facts.python],
    ["Booted", Number.isFinite(facts.boot_time) ? dateTime(facts.boot_time) : null],
    ["Groups", (host.groups || []).join(", ")],
    ["Labels", labelText(host.labels)],
    ["Clock skew", Number.isFinite(host.clock_skew_s) ? format("seconds", host.clock_skew_s) : null],
  ].filter(([, value]) => value !== undefined && value !== null && value !== "");
  if (!rows.length) return '<p class="muted">The host has not said anything about itself yet (no birth message).</p>';
  return `<dl class="host-facts">${rows.map(([name, value]) => `<div><dt>${name}</dt><dd title="${
    escapeHtml(value)}">${escapeHtml(value)}</dd></div>`).join("")}</dl>`;
}

/** The alerts api/v1/alerts answers for the host, firing first. */
export function alertsMarkup(alerts) {
  if (!alerts.length) return '<p class="muted">No alert for this host.</p>';
  const rows = [...alerts].sort((a, b) => (a.status === "firing" ? 0 : 1) - (b.status === "firing" ? 0 : 1))
    .map((alert) => {
      const severity = alert.labels.severity || "";
      const notes = [alert.muted && `muted: ${alert.muted}`,
                     alert.acknowledged && `acknowledged by ${alert.acknowledged.by}`].filter(Boolean).join("; ");
      return `<tr><td>${escapeHtml(alert.labels.alertname || "alert")}</td>` +
        `<td>${severity ? `<span class="severity severity-${escapeHtml(severity)}">${escapeHtml(severity)}</span>` : ""}</td>` +
        `<td>${escapeHtml(alert.status)}</td><td>${escapeHtml(since(alert.startsAt))}</td>` +
        `<td class="wrap">${escapeHtml((alert.annotations && (alert.annotations.summary ||
          alert.annotations.description)) || labelText(alert.labels, ["alertname", "host", "severity"]))}</td>` +
        `<td class="wrap muted">${escapeHtml(notes)}</td></tr>`;
    });
  return '<table><thead><tr><th scope="col">Alert</th><th scope="col">Severity</th><th scope="col">Status</th>' +
    '<th scope="col">Since</th><th scope="col">Summary</th><th scope="col">Handling</th></tr></thead>' +
    `<tbody>${rows.join("")}</tbody></table><p><a href="#/alerts">All alerts</a></p>`;
}

function since(startsAt) {
  const ms = typeof startsAt === "number" ? startsAt * 1000 : Date.parse(startsAt);
  return Number.isFinite(ms) ? new Date(ms).toLocaleString() : "";
}

/**
 * A row per check: its name, a strip of its results over [start, end] (runs of passes and failures, each run's
 * words in its title), and its latest result; under a journey's row, the steps of its latest result. `history`
 * {name: [{ts, ok, value, message}]}, `latest` the host's checks {name: {ok, message, steps?, ...}}.
 */
export function checksMarkup(history, latest, start, end) {
  const names = [...new Set([...Object.keys(latest || {}), ...Object.keys(history || {})])].sort();
  if (!names.length) return '<p class="muted">The host runs no health checks.</p>';
  const rows = names.map((name) => {
    const now = (latest || {})[name];
    const state = now ? (now.ok ? '<span class="check-now ok">passing</span>'
      : `<span class="check-now failing">failing</span>${now.message ? ` <span class="muted">${
        escapeHtml(now.message)}</span>` : ""}`) : '<span class="muted">no result</span>';
    return `<span class="name">${escapeHtml(name)}</span>${strip(name, (history || {})[name] || [], start, end)}` +
      `<span>${state}</span>${now && Array.isArray(now.steps) && now.steps.length ? stepsMarkup(name, now.steps) : ""}`;
  });
  return `<div class="check-strips">${rows.join("")}</div>` +
    `<p class="muted">${escapeHtml(dateTime(start))} – ${escapeHtml(dateTime(end))}: green passed, red failed, ` +
    "grey no result.</p>";
}

/**
 * A journey's steps as its latest result lists them (schemas/checks.json, `steps`): number and name, status, message
 * and the milliseconds of each phase. The failed step's row stands out; the skipped ones, which did not run, recede.
 */
function stepsMarkup(check, steps) {
  const rows = steps.filter((step) => step && typeof step === "object").map((step, i) => {
    const [word, kind] = Object.hasOwn(STEP_STATES, step.status) ? STEP_STATES[step.status]
      : [String(step.status ?? "unknown"), "step-unknown"];
    const timings = step.timings_s && typeof step.timings_s === "object" ? step.timings_s : {};
    const index = Number.isInteger(step.index) ? step.index : i + 1;
    return `<tr class="${kind}" data-step="${index}"><td class="num">${index}</td>` +
      `<td class="step-name">${escapeHtml(step.name ?? "")}</td><td class="step-status">${escapeHtml(word)}</td>` +
      `<td class="wrap step-message">${escapeHtml(step.message ?? "")}</td>` +
      PHASES.map(([phase]) => `<td class="num" data-phase="${phase}">${milliseconds(timings[phase])}</td>`).join("") +
      "</tr>";
  });
  return `<table class="journey-steps" aria-label="${escapeHtml(`steps of ${check}`)}"><thead><tr>` +
    '<th scope="col" class="num">#</th><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Message</th>' +
    PHASES.map(([, label]) => `<th scope="col" class="num">${label} (ms)</th>`).join("") +
    `</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** Seconds as whole milliseconds, with a decimal under ten; a dash for a phase that did not happen. */
export function milliseconds(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return NO_VALUE;
  const ms = seconds * 1000;
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}

function strip(name, results, start, end) {
  const span = end - start || 1;
  const sorted = results.filter((r) => r.ts >= start - span && r.ts <= end).sort((a, b) => a.ts - b.ts);
  const gaps = sorted.slice(1).map((r, i) => r.ts - sorted[i].ts).sort((a, b) => a - b);
  const step = gaps.length ? gaps[Math.floor(gaps.length / 2)] : span / 100;
  const runs = [];
  sorted.forEach((result, i) => {
    const next = sorted[i + 1];
    // A result holds until the next one, or for one usual step when the next is far off (no result meanwhile).
    const until = Math.min(end, next && next.ts - result.ts <= 3 * step ? next.ts : result.ts + step);
    const last = runs[runs.length - 1];
    if (last && last.ok === Boolean(result.ok) && last.until >= result.ts) {
      last.until = until;
      last.count += 1;
      if (!result.ok && result.message) last.message = result.message;
    } else {
      runs.push({ ok: Boolean(result.ok), from: Math.max(start, result.ts), until, count: 1, message: result.message });
    }
  });
  const x = (ts) => ((Math.max(start, Math.min(end, ts)) - start) / span) * STRIP_WIDTH;
  const rects = runs.filter((run) => run.until > run.from).map((run) => {
    const words = `${run.ok ? "passed" : "failed"} ${run.count}× from ${dateTime(run.from)} to ${dateTime(run.until)}${
      !run.ok && run.message ? `: ${run.message}` : ""}`;
    return `<rect class="${run.ok ? "pass" : "fail"}" x="${x(run.from).toFixed(1)}" y="0" width="${
      Math.max(1, x(run.until) - x(run.from)).toFixed(1)}" height="10"><title>${escapeHtml(words)}</title></rect>`;
  });
  return `<svg class="strip" viewBox="0 0 ${STRIP_WIDTH} 10" preserveAspectRatio="none" role="img" aria-label="${
    escapeHtml(`history of ${name}`)}">${rects.join("")}</svg>`;
}

/** Births, wills, config reloads, spool drops and state changes, newest first. */
export function eventsMarkup(body) {
  const rows = [
    ...(body.events || []).map((e) => ({ ts: e.ts, kind: e.kind, message: e.message || detailText(e.details) })),
    ...(body.state_changes || []).map((c) => ({ ts: c.ts, kind: "state",
                                                message: `${c.from || "?"} → ${c.to}${c.reason ? ` (${c.reason})` : ""}` })),
  ].sort((a, b) => b.ts - a.ts);
  if (!rows.length) return '<p class="muted">Nothing happened to this host in this range.</p>';
  return '<table class="events"><thead><tr><th scope="col">Time</th><th scope="col">Kind</th>' +
    '<th scope="col">What</th></tr></thead><tbody>' +
    rows.map((row) => `<tr class="kind-${escapeHtml(row.kind)}"><td>${escapeHtml(dateTime(row.ts))}</td>` +
      `<td class="kind">${escapeHtml(row.kind)}</td><td class="message">${escapeHtml(row.message)}</td></tr>`).join("") +
    "</tbody></table>";
}

function detailText(details) {
  if (!details || typeof details !== "object") return "";
  return Object.entries(details).map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value)
    : value}`).join(", ");
}
