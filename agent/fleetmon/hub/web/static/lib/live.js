// The console's one server push: an EventSource on api/v1/live shared by every page. The hub names the events
// (hosts, alerts, sample, panels, layout, resync); a page subscribes with on() and unsubscribes when it goes.
// After the stream broke, whatever happened meanwhile is unknown: every subscriber gets a `resync` and refetches.
// `connection` is the feed's own event ({connected, running}: up, or stopped while nobody may read), for the
// shell's indicator.

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

export class Live {
  /** `onRefused()`: the hub turned the stream down (a 401 once a session ended, a 5xx); it is retried meanwhile. */
  constructor({ url = "api/v1/live", onRefused = () => {} } = {}) {
    this.url = url;
    this.onRefused = onRefused;
    this.handlers = new Map();  // event name -> Set of handlers
    this.hosts = [];  // the hosts whose samples the open stream carries
    this.panels = false;  // whether it carries the dashboard's panel values (panels, layout)
    this.source = null;
    this.listening = new Set();  // event names the open source has a listener for
    this.delay = MIN_DELAY_MS;
    this.retry = 0;
    this.broken = false;  // the stream broke since it last opened: its next open is a resync
    this.connected = false;
  }

  /** Calls `handler(data)` for each event `name`; answers the function that unsubscribes it. */
  on(name, handler) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name).add(handler);
    this.listen(name);
    return () => this.handlers.get(name).delete(handler);
  }

  /** Samples of these hosts from now on (none: no samples); reopens the stream when the set changes. */
  watchHosts(names) {
    const wanted = [...new Set(names)].sort();
    if (wanted.join("\n") === this.hosts.join("\n")) return;
    this.hosts = wanted;
    if (this.source) this.open();
  }

  /** The dashboard's panel values (`panels` and `layout` events) from now on, or no more. */
  watchPanels(on) {
    if (Boolean(on) === this.panels) return;
    this.panels = Boolean(on);
    if (this.source) this.open();
  }

  start() {
    if (!this.source) this.open();
  }

  stop() {
    clearTimeout(this.retry);
    if (this.source) this.source.close();
    this.source = null;
    this.connected = false;
    this.emit("connection", { connected: false, running: false });
  }

  open() {
    clearTimeout(this.retry);
    if (this.source) this.source.close();
    const search = new URLSearchParams(this.hosts.map((host) => ["host", host]));
    if (this.panels) search.append("panels", "1");
    const source = new EventSource(search.size ? `${this.url}?${search}` : this.url);
    this.source = source;
    this.listening = new Set();
    for (const name of this.handlers.keys()) this.listen(name);
    source.onopen = () => {
      this.delay = MIN_DELAY_MS;
      this.setConnected(true);
      if (this.broken) {
        this.broken = false;
        this.emit("resync", {});
      }
    };
    source.onerror = () => {
      this.broken = true;
      this.setConnected(false);
      // The browser retries a dropped stream by itself; one the hub refused (a 401, a 5xx) it gives up on.
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        this.retry = setTimeout(() => this.open(), this.delay);
        this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
        this.onRefused();
      }
    };
  }

  listen(name) {
    if (!this.source || this.listening.has(name) || name === "connection") return;
    this.listening.add(name);
    this.source.addEventListener(name, (event) => {
      let data;
      try {
        data = event.data ? JSON.parse(event.data) : {};
      } catch {
        return;  // not JSON: not an event of this protocol
      }
      this.emit(name, data);
    });
  }

  emit(name, data) {
    for (const handler of [...(this.handlers.get(name) || [])]) {
      try {
        handler(data);
      } catch (error) {
        reportError(error);  // one page's bug neither stops the others' handlers nor goes unseen
      }
    }
  }

  setConnected(connected) {
    if (connected === this.connected) return;
    this.connected = connected;
    this.emit("connection", { connected, running: true });
  }
}
