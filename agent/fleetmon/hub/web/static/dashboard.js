"use strict";
// The hub's dashboard (docs/hub.md, "Dashboard"). Three list requests per refresh whatever the fleet's size:
// the layout with every host's panel values (api/v1/dashboard), liveness and health (api/v1/hosts) and the
// firing alerts (api/v1/alerts). Plain JavaScript without a build step or CDN: hubs are often air-gapped.
(() => {
  const REFRESH_MS = 5000;
  const STATES = ["online", "silent", "offline", "missing"];
  const STATE_RANK = { offline: 0, silent: 1, missing: 2, unknown: 3, online: 4 };  // worst first

  const $ = (id) => document.getElementById(id);
  const main = $("sections");
  const closed = new Set();  // sections the user folded, kept across redraws
  let data = null;  // the last complete refresh, redrawn when the filter changes
  let skeletonKey = "";
  let parts = new Map();  // group -> the section's elements that change on each refresh
  let timer = 0;

  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  async function getJSON(path) {
    const response = await fetch(path, { cache: "no-store" });
    if (!response.ok) throw new Error(`${path} answered HTTP ${response.status}`);
    return response.json();
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }

  async function refresh() {
    if (document.hidden) return;  // a background tab fetches nothing; becoming visible refreshes at once
    try {
      const [layout, hosts, alerts] = await Promise.all([
        getJSON("api/v1/dashboard"), getJSON("api/v1/hosts"),
        getJSON("api/v1/alerts").catch(() => null),  // hosts still show when alerting answers nothing
      ]);
      data = { layout, hosts: new Map(hosts.hosts.map((h) => [h.host, h])), alerts: alertIndex(alerts),
               at: new Date() };
      draw();
      setStatus(`Updated ${data.at.toLocaleTimeString()}` + (alerts ? "" : " · alerts unavailable"), "");
    } catch (error) {
      const since = data ? ` Showing the data of ${data.at.toLocaleTimeString()}.` : "";
      setStatus("", `The hub is not answering (${error.message}).${since}`);
    } finally {
      main.setAttribute("aria-busy", "false");
      schedule(REFRESH_MS);
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

  function setStatus(text, problem) {
    if (text) $("status").textContent = text;
    const element = $("problem");
    if (element.textContent !== problem) element.textContent = problem;  // announced only when it changes
    element.hidden = !problem;
  }

  // --- drawing -------------------------------------------------------------------------------------------

  function draw() {
    const { layout, hosts, alerts } = data;
    document.title = layout.title;
    $("title").textContent = layout.title;
    drawCounts(hosts, alerts);
    // Rebuilt only when the layout changes, so folded sections and scroll positions survive a refresh.
    const key = JSON.stringify(layout.sections.map((s) => [s.group, s.title, s.panels]));
    if (key !== skeletonKey) {
      buildSkeleton(layout);
      skeletonKey = key;
    }
    const query = $("filter").value.trim().toLowerCase();
    const problemsOnly = $("problems").checked;
    for (const section of layout.sections) {
      const rows = section.hosts.map((entry) => ({ entry, summary: hosts.get(entry.host),
                                                   alerts: alerts.byHost.get(entry.host) || [] }));
      const shown = rows.filter((row) => matches(row, query) && (!problemsOnly || needsAttention(row)))
        .sort(worstFirst);
      const part = parts.get(section.group);
      part.summary.innerHTML = sectionSummary(rows, shown.length);
      part.body.innerHTML = shown.length ? shown.map((row) => hostRow(row, section.panels, layout.panels)).join("")
        : `<tr><td class="empty" colspan="${section.panels.length + 4}">${
          rows.length ? "No host matches the filter." : "No host in this group yet."}</td></tr>`;
    }
  }

  function drawCounts(hosts, alerts) {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const host of hosts.values()) counts[host.state] = (counts[host.state] || 0) + 1;
    const items = [`<li><span class="num">${hosts.size}</span> ${hosts.size === 1 ? "host" : "hosts"}</li>`,
      ...STATES.map((s) => `<li class="count state-${s}${counts[s] && s !== "online" ? " nonzero" : ""}">` +
        `<span class="dot" aria-hidden="true"></span><span class="num">${counts[s]}</span> ${s}</li>`),
      `<li class="count alerts${alerts.total ? " nonzero" : ""}"><span class="num">${
        alerts.known ? alerts.total : "?"}</span> ${alerts.total === 1 ? "alert" : "alerts"} firing</li>`];
    $("counts").innerHTML = items.join("");
  }

  function buildSkeleton(layout) {
    main.textContent = "";
    parts = new Map();
    for (const section of layout.sections) {
      const details = document.createElement("details");
      details.className = "section";
      details.open = !closed.has(section.group);
      details.addEventListener("toggle", () => {
        if (details.open) closed.delete(section.group); else closed.add(section.group);
      });
      const headingId = `section-${section.group.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const headers = section.panels.map((name) => `<th scope="col" class="panel">${
        escapeHtml(layout.panels[name].title)}</th>`).join("");
      details.innerHTML = `<summary><h2 id="${headingId}">${escapeHtml(section.title)}</h2>` +
        `<span class="summary"></span></summary>` +
        `<div class="scroll"><table aria-labelledby="${headingId}"><thead><tr><th scope="col">Host</th>` +
        `<th scope="col">State</th><th scope="col" class="num">Health</th>${headers}` +
        `<th scope="col" class="num">Alerts</th></tr></thead><tbody></tbody></table></div>`;
      main.appendChild(details);
      parts.set(section.group, { summary: details.querySelector(".summary"), body: details.querySelector("tbody") });
    }
    if (!layout.sections.length) main.innerHTML = '<p class="empty">The hub knows no host yet.</p>';
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
    return `<tr class="row-${state}"><th scope="row" class="host">${escapeHtml(entry.host)}</th>` +
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

  // --- helpers -------------------------------------------------------------------------------------------

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
      || a.entry.host.localeCompare(b.entry.host);
  }

  function healthClass(health) {
    if (health === null) return "";
    return health >= 80 ? "good" : health >= 50 ? "fair" : "bad";
  }

  function sinceTitle(summary) {
    const reason = summary.reason ? ` (${summary.reason})` : "";
    return `${summary.state} since ${new Date(summary.since * 1000).toLocaleString()}${reason}`;
  }

  function age(since) {
    const seconds = Math.max(0, Date.now() / 1000 - since);
    if (seconds < 60) return `${Math.floor(seconds)}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
    return `${Math.floor(seconds / 86400)}d`;
  }

  function format(unit, value) {
    switch (unit) {
      case "ratio": return `${Math.round(value * 100)}%`;
      case "celsius": return `${Math.round(value)} °C`;
      case "watts": return `${value < 10 ? value.toFixed(1) : Math.round(value)} W`;
      case "bytes_per_second": {
        const units = ["B/s", "kB/s", "MB/s", "GB/s"];
        let scaled = value;
        let index = 0;
        while (scaled >= 1000 && index < units.length - 1) { scaled /= 1000; index += 1; }
        return `${scaled < 10 && index ? scaled.toFixed(1) : Math.round(scaled)} ${units[index]}`;
      }
      default: return value < 10 ? value.toFixed(2) : value.toFixed(1);
    }
  }

  $("filter").addEventListener("input", () => data && draw());
  $("problems").addEventListener("change", () => data && draw());
  document.addEventListener("visibilitychange", () => document.hidden || schedule(0));
  refresh();
})();
