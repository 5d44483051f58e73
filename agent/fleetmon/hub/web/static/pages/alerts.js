// The alerts page (#/alerts): what fires now, grouped as the routing groups it (api/v1/alerts/groups joined with
// api/v1/alerts on the fingerprints), each alert's state in words (silenced by which silence, inhibited by what,
// acknowledged by whom, flapping, escalated; the markup is alert_markup.js's), and the silences in force. Operators
// also get the actions (the dialogs of alert_actions.js) and may expire a silence. The live feed's `alerts` event says something changed:
// the page fetches again then, never on a timer.
import { query } from "../lib/api.js";
import { coalesced, markDrawn, pageModule } from "../lib/page.js";
import { AckDialog, SilenceDialog, splitMatchers } from "./alert_actions.js";
import { alertOrder, alertTitle, groupMarkup, groupTitle, muteKind, severityRank, silencesMarkup } from "./alert_markup.js";

const PATH = "alerts";
const FILTER_DELAY_MS = 300;

export default pageModule({ path: PATH, title: "Alerts", nav: true, role: "viewer" },
  (root, params, ctx) => new AlertsPage(root, ctx));

class AlertsPage {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.startedAt = performance.now();
    this.drawn = false;  // its first data is on the page: document.body.dataset.ready says so
    this.stopped = false;
    this.refresh = coalesced(() => this.load(), () => this.stopped);  // a change meanwhile: one more read after it
    this.filterTimer = 0;
    this.data = null;  // {alerts, groups, silences, filtered} as last fetched
    this.operator = ctx.can("operator");
    const initial = ctx.query || new URLSearchParams();
    root.classList.add("alerts-page");
    root.innerHTML = '<header class="page-head"><div class="heading"><h1>Alerts</h1>' +
      '<p class="status alerts-status">Loading…</p>' +
      '<p class="status failing alerts-problem" role="alert" hidden></p></div>' +
      '<form class="tools" role="search"><label for="alert-filter">Filter</label>' +
      '<input id="alert-filter" type="search" placeholder=\'severity="critical", host=~"jet.*"\' autocomplete="off" ' +
      'aria-describedby="alert-filter-help">' +
      '<span id="alert-filter-help" class="sr-only">Label matchers, separated by commas</span>' +
      '<label class="check"><input name="silenced" type="checkbox" checked> Show silenced</label>' +
      '<label class="check"><input name="inhibited" type="checkbox" checked> Show inhibited</label></form></header>' +
      '<div class="page-body"><section class="card"><h2>Firing</h2><div class="card-body alert-groups-box">' +
      '<p class="muted">Loading…</p></div></section>' +
      '<section class="card"><h2>Silences</h2><div class="card-body silences-box"><p class="muted">Loading…</p>' +
      '</div></section><p class="muted"><a href="#/alerts/history">History and statistics</a> · ' +
      '<a href="#/notifications">Notification log</a></p></div>';
    const find = (selector) => root.querySelector(selector);
    this.el = { status: find(".alerts-status"), problem: find(".alerts-problem"), filter: find("#alert-filter"),
                silenced: find("input[name=silenced]"), inhibited: find("input[name=inhibited]"),
                groups: find(".alert-groups-box"), silences: find(".silences-box") };
    this.el.filter.value = initial.get("filter") || "";
    this.el.silenced.checked = initial.get("silenced") !== "0";
    this.el.inhibited.checked = initial.get("inhibited") !== "0";
    find("form.tools").addEventListener("submit", (event) => event.preventDefault());
    this.el.filter.addEventListener("input", () => {
      clearTimeout(this.filterTimer);
      this.filterTimer = setTimeout(() => this.filterChanged(), FILTER_DELAY_MS);
    });
    for (const box of [this.el.silenced, this.el.inhibited]) {
      box.addEventListener("change", () => {
        this.keepInAddress();
        if (this.data) this.draw();
      });
    }
    this.ack = new AckDialog(root, ctx, () => this.refresh());
    this.silence = new SilenceDialog(root, ctx, () => this.refresh());
    this.el.groups.addEventListener("click", (event) => this.clicked(event));
    this.el.silences.addEventListener("click", (event) => this.clicked(event));
  }

  async start() {
    const { live } = this.ctx;
    live.on("alerts", () => this.measured("live:alerts"));
    live.on("resync", () => this.measured("live:resync"));
    await this.refresh();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.filterTimer);
  }

  async measured(name) {
    const start = performance.now();
    await this.refresh();
    performance.measure(name, { start, end: performance.now() });
  }

  filterChanged() {
    this.keepInAddress();
    this.refresh();
  }

  /** The filter in the address, so that a link shows the same alerts; replaceState causes no new navigation. */
  keepInAddress() {
    const params = new URLSearchParams();
    if (this.el.filter.value.trim()) params.set("filter", this.el.filter.value.trim());
    if (!this.el.silenced.checked) params.set("silenced", "0");
    if (!this.el.inhibited.checked) params.set("inhibited", "0");
    history.replaceState(null, "", `#/${PATH}${params.size ? `?${params}` : ""}`);
  }

  async load() {
    const { api } = this.ctx;
    const filter = splitMatchers(this.el.filter.value);
    let answers;
    try {
      answers = await Promise.all([api.get(`api/v1/alerts?${query({ filter })}`), api.get("api/v1/alerts/groups"),
                                   api.get("api/v1/silences")]);
    } catch (error) {
      if (this.stopped) return;
      const words = error.status === 400 && filter.length ? `The filter is not understood: ${error.message}`
        : `The alerts could not be read: ${error.message}`;
      this.el.problem.textContent = words;
      this.el.problem.hidden = false;
      return;
    }
    if (this.stopped) return;
    const [alerts, groups, silences] = answers;
    this.data = { alerts: alerts.alerts || [], groups: groups.groups || [], silences: silences.silences || [],
                  filtered: filter.length > 0 };
    this.el.problem.hidden = true;
    this.draw();
    if (!this.drawn) {
      this.drawn = true;
      markDrawn(PATH, this.startedAt);
    }
  }

  draw() {
    const { alerts, groups, silences, filtered } = this.data;
    const silenceById = new Map(silences.map((s) => [s.id, s]));
    const showSilenced = this.el.silenced.checked;
    const showInhibited = this.el.inhibited.checked;
    let hidden = 0;
    const shown = alerts.filter((alert) => {
      const kind = muteKind(alert.muted);
      const keep = (kind !== "silenced" || showSilenced) && (kind !== "inhibited" || showInhibited);
      if (!keep) hidden += 1;
      return keep;
    });
    const byFingerprint = new Map(shown.map((a) => [a.fingerprint, a]));
    const blocks = [];
    const placed = new Set();
    for (const group of groups) {
      const members = group.alerts.map((fp) => byFingerprint.get(fp)).filter(Boolean);
      if (!members.length) continue;
      members.forEach((a) => placed.add(a.fingerprint));
      blocks.push({ group, members: members.sort(alertOrder) });
    }
    // An alert no route holds yet (it arrived between the two reads): shown all the same, on its own.
    const loose = shown.filter((a) => !placed.has(a.fingerprint));
    if (loose.length) blocks.push({ group: null, members: loose.sort(alertOrder) });
    blocks.sort((a, b) => severityRank(a.members[0]) - severityRank(b.members[0]) ||
               (a.group?.firingSince ?? Infinity) - (b.group?.firingSince ?? Infinity));

    const focus = this.focusKey();
    this.el.groups.innerHTML = blocks.length ? blocks.map(({ group, members }, index) =>
      groupMarkup(group, members, index, { silenceById, operator: this.operator, filtered })).join("")
      : `<p class="empty">${filtered ? "No firing alert matches the filter."
        : hidden ? "Every firing alert is silenced or inhibited, and those are hidden." : "Nothing is firing."}</p>`;
    this.el.silences.innerHTML = silencesMarkup(silences, this.operator);
    this.restoreFocus(focus);

    const groupCount = blocks.filter((d) => d.group).length;
    const one = shown.length === 1;
    const parts = [`${shown.length} firing ${one ? "alert" : "alerts"}${filtered ? (one ? " matches" : " match") : ""}`,
                   `${groupCount} ${groupCount === 1 ? "group" : "groups"}`];
    if (hidden) parts.push(`${hidden} silenced or inhibited not shown`);
    parts.push(`updated ${new Date().toLocaleTimeString()}`);
    this.el.status.textContent = parts.join(" · ");
  }

  /** Which action button has the focus, so that a redraw can give it back to the same button of the same alert. */
  focusKey() {
    const active = document.activeElement;
    if (!active || !active.dataset || !active.dataset.action || !this.root.contains(active)) return null;
    return { action: active.dataset.action, target: active.dataset.target };
  }

  restoreFocus(key) {
    const button = key && this.button(key);
    if (button) button.focus();
  }

  button({ action, target }) {
    return [...this.root.querySelectorAll(`button[data-action="${action}"]`)]
      .find((b) => b.dataset.target === target) || null;
  }

  clicked(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !this.data) return;
    const { action, target } = button.dataset;
    const refocus = () => this.button({ action, target });
    if (action === "ack-alert") {
      const alert = this.data.alerts.find((a) => a.fingerprint === target);
      if (alert) this.ack.open({ id: target, words: `The alert ${alertTitle(alert)}.` }, refocus);
    } else if (action === "ack-group") {
      const group = this.data.groups.find((g) => g.id === target);
      if (group) this.ack.open({ id: target, words: `Every firing alert of the group ${groupTitle(group)} (${
        group.firing}).` }, refocus);
    } else if (action === "silence-alert") {
      const alert = this.data.alerts.find((a) => a.fingerprint === target);
      if (alert) this.silence.open(alert.labels, refocus);
    } else if (action === "silence-group") {
      const group = this.data.groups.find((g) => g.id === target);
      if (group) this.silence.open(group.labels, refocus);
    } else if (action === "expire") {
      this.expire(button, target);
    }
  }

  async expire(button, id) {
    button.disabled = true;
    try {
      await this.ctx.api.send("DELETE", `api/v1/silences/${encodeURIComponent(id)}`);
      this.ctx.toast("The silence has ended.", "ok");
    } catch (error) {
      this.ctx.toast(`The silence was not expired: ${error.message}`, "error");
      button.disabled = false;
      return;
    }
    await this.refresh();
  }
}
