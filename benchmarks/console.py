"""The console in a real browser: how long its pages take to draw, what they transfer, what a live update costs.

A real hub process (tests.hub.conftest.HubProcess) with one viewer, on a history of ``--hosts`` hosts x
``--days`` days written by benchmarks/console_history.py (kept in ``--db`` between runs), fed through a real
mosquitto by ``fleetmon simulate``; Debian's chromium, headless, driven by Playwright. The pages mark their
first full draw (``document.body.dataset.ready``, ``performance.measure("draw:PAGE")``), a host page's later
range ("range:host") and the patch work of a live event ("live:PAGE").

- Host page, the ``--hosts`` stored hosts publishing: opened at 24 h and at 7 d (the benchmark presses the range
  button the moment it appears, before the page asks for any series: the page has no address for a range),
  cold (a new browser context: an empty HTTP cache; a host not opened before, whose history is likely not in the
  page cache) and warm (reloaded in that context: the same host; the console's files come again in full, as
  the hub answers no 304); and the switch from 1 h to 24 h or 7 d on an open page.
- Overview with ``--overview-hosts`` publishing (the simulator restarted with more hosts), cold and warm; the group
  page of the largest group and the alerts page, cold.
- A live update: a Chromium trace of the open page for ``--live-seconds``; the main thread's top-level tasks from
  one batch of the feed's events (one look of the hub, once a second) to the next, so parsing, the page's
  patch, style, layout and paint all count; on the overview, with the panel values it polls every 10 s apart.

Times are from the navigation's start to the page's mark ("drawn") and to the end of the next frame ("painted").
Bytes are Resource Timing's transferSize (headers and body as they came over the wire; a 304 only its headers)
of the document and every resource, the live stream left out (its bytes per update are shown beside it).

Usage: python benchmarks/console.py [--hosts 1000] [--days 7] [--interval 10] [--db PATH] [--overview-hosts 5000]
       [--runs 5] [--live-seconds 45] [--json OUT]
"""

import argparse
import bisect
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "agent"), str(ROOT), str(ROOT / "benchmarks")]

from console_history import fill_history  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from fleetmon.hub.auth.passwords import hash_password  # noqa: E402
from fleetmon.simulate.fleet import build_fleet  # noqa: E402
from tests.conftest import AGENT_SRC, Broker  # noqa: E402
from tests.hub.conftest import HubProcess  # noqa: E402
from tests.polling import wait_until  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
USER, PASSWORD, TOKEN = "bench", "bench-viewer-password", "console-bench-admin-token-0123456789"
PAGE_TIMEOUT_S = 180  # a group's heatmap over the raw tier takes the hub tens of seconds
BATCH_US = 200_000  # events of one look of the feed arrive together; looks are a second apart
TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline"]  # tasks (RunTask), requests
# Waits for the page's mark, then for the end of the frame after it: a task after that frame's rAF callbacks.
PAINTED = """() => { const tick = () => document.body && document.body.dataset.ready
  ? setTimeout(() => { window.__painted = performance.now(); }) : requestAnimationFrame(tick);
  requestAnimationFrame(tick); }"""
PICK = """(range) => { const watch = new MutationObserver(() => {
  const button = document.querySelector(`button[data-range="${range}"]`);
  if (button) { watch.disconnect(); button.click(); } });
  watch.observe(document, { childList: true, subtree: true }); }"""
LOADED = """(name) => { const entries = [...performance.getEntriesByType("navigation"),
  ...performance.getEntriesByType("resource")]; const mark = performance.getEntriesByName(name).at(-1);
  return { drawn: mark.startTime + mark.duration, took: mark.duration, painted: window.__painted,
           files: entries.filter((e) => !e.name.includes("/api/")).reduce((sum, e) => sum + e.transferSize, 0),
           api: entries.filter((e) => e.name.includes("/api/")).reduce((sum, e) => sum + e.transferSize, 0),
           requests: entries.length }; }"""


class Bench:
    """The hub, its broker, the simulated fleet and the browser of one run."""

    def __init__(self, workdir: Path, db: str, interval: float, browser) -> None:
        self.workdir, self.interval, self.browser = workdir, interval, browser
        (workdir / "hub").mkdir()
        # The hub keeps its alerting and session files beside its history: here, not beside the kept file.
        os.symlink(os.path.abspath(db), workdir / "hub" / "history.db")
        self.broker = Broker(workdir)
        self.broker.start()
        users = [{"name": USER, "role": "viewer", "password_hash": hash_password(PASSWORD)}]
        self.hub = HubProcess(workdir, self.broker, {"api": {"token": TOKEN}, "auth": {"users": users},
                                                     "rules_interval": 5.0}).start()
        self.simulator: subprocess.Popen | None = None

    def simulate(self, hosts: int) -> None:
        """``hosts`` simulated hosts publishing (the first ones are the stored ones), all online with a sample."""
        self.stop_simulator()
        self.simulator = subprocess.Popen(
            [sys.executable, "-m", "fleetmon", "simulate", "--hosts", str(hosts), "--interval", str(self.interval),
             "--broker", self.broker.url], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)))
        wait_until(lambda: self.online() >= hosts, timeout=120, interval=1.0, message=f"{hosts} hosts online")

    def online(self) -> int:
        hosts = (self.hub.get("/api/v1/hosts") or {}).get("hosts", [])
        return sum(1 for h in hosts if h["state"] == "online" and h["last_sample_at"])

    def youngest_state(self) -> float:
        """Seconds since the latest state change of any host."""
        hosts = (self.hub.get("/api/v1/hosts") or {}).get("hosts", [])
        return time.time() - max(h["since"] for h in hosts) if hosts else 0.0

    def stop_simulator(self) -> None:
        if self.simulator is not None:
            self.simulator.terminate()
            self.simulator.wait(timeout=30)
            self.simulator = None

    def close(self) -> None:
        self.stop_simulator()
        self.hub.stop()
        self.broker.stop()

    def context(self):
        """A new browser context (an empty cache) with a viewer's session; the login's request is not a page's."""
        context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(PAGE_TIMEOUT_S * 1000)
        url = f"http://127.0.0.1:{self.hub.port}/"
        answer = context.request.post(url + "api/v1/auth/login", data={"user": USER, "password": PASSWORD})
        assert answer.ok, answer.text()
        return context, url

    def open(self, page, errors: list[str], url: str, mark: str, reload: bool = False) -> dict:
        """Loads ``url`` (or reloads the page) and answers what its first draw took and transferred."""
        page.reload() if reload else page.goto(url)
        page.wait_for_function("window.__painted !== undefined")
        loaded = page.evaluate(LOADED, f"draw:{mark}")
        assert not errors, errors
        return loaded

    def switch(self, page, range_name: str) -> dict:
        """Presses a range on the open host page; what it took from the press to every chart drawn, and sent."""
        page.evaluate("performance.clearResourceTimings()")
        count = page.evaluate("performance.getEntriesByName('range:host').length")
        page.click(f"button[data-range='{range_name}']")
        page.wait_for_function(f"performance.getEntriesByName('range:host').length > {count}")
        return page.evaluate(LOADED, "range:host")


def page_runs(bench: Bench, runs: int, url_of, mark: str, pick: str | None = None) -> dict:
    """``runs`` cold opens (each in a new context) and a warm reload after each."""
    cold, warm = [], []
    for run in range(runs):
        context, base = bench.context()
        context.add_init_script(f"({PAINTED})()" + (f";({PICK})({json.dumps(pick)})" if pick else ""))
        page, errors = new_page(context)
        cold.append(bench.open(page, errors, base + url_of(run), mark))
        warm.append(bench.open(page, errors, "", mark, reload=True))
        context.close()
    return {"cold": cold, "warm": warm}


def new_page(context):
    """A page, and the JavaScript errors it raises (a run with one fails)."""
    page, errors = context.new_page(), []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def live_cost(bench: Bench, url: str, mark: str, seconds: float) -> dict:
    """The open page's main-thread time per batch of live events, from a Chromium trace of ``seconds``."""
    context, base = bench.context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    messages: list[tuple[float, str, str]] = []
    cdp.on("Network.eventSourceMessageReceived",
           lambda e: messages.append((e["timestamp"] * 1e6, e["eventName"], e["data"])))
    cdp.send("Network.enable")
    cdp.send("Performance.enable")
    page.goto(base + url)
    page.wait_for_function(f"document.body.dataset.ready === {json.dumps(mark)}")
    before = _busy(cdp)
    measures_before = page.evaluate("(n) => performance.getEntriesByName(n).length", f"live:{mark}")
    messages.clear()
    bench.browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    started = time.monotonic()
    page.wait_for_timeout(seconds * 1000)  # the measuring window: the feed sends what it sends meanwhile
    trace = json.loads(bench.browser.stop_tracing())
    busy = (_busy(cdp) - before) / (time.monotonic() - started)
    measures = page.evaluate("([n, k]) => performance.getEntriesByName(n).slice(k).map((e) => e.duration)",
                             [f"live:{mark}", measures_before])
    context.close()
    hosts = [len(json.loads(data)["hosts"]) for _, name, data in messages if name == "hosts"]
    return {"batches": trace_batches(trace["traceEvents"], messages), "page_marks_ms": measures,
            "busy_ms_per_s": 1000 * busy, "seconds": seconds, "hosts_per_event": hosts}


def _busy(cdp) -> float:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["TaskDuration"]


def trace_batches(events: list[dict], messages: list[tuple[float, str, str]]) -> list[dict]:
    """Per batch of live events (``messages``: arrival in trace microseconds, event name, data; the trace and the
    DevTools network events share one clock): the main thread's top-level task time (ms) from the task that ran
    the feed's listener (lib/live.js) for the batch's first event to the one that ran it for the next batch's, its
    event types and bytes, and the API answers that came in meanwhile (the overview's panel poll, an alert refetch).
    A long redraw under way when an event comes in is counted in the batch it began in."""
    mains = {(e["pid"], e["tid"]) for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"
             and e["args"].get("name") == "CrRendererMain"}
    tasks_of: dict[tuple, list[dict]] = {thread: [] for thread in mains}
    for e in events:
        if e.get("ph") == "X" and e.get("name") == "RunTask" and (e["pid"], e["tid"]) in tasks_of:
            tasks_of[(e["pid"], e["tid"])].append(e)
    main = max(tasks_of, key=lambda t: sum(e.get("dur", 0) for e in tasks_of[t]))
    tasks, end = [], 0.0
    for task in sorted(tasks_of[main], key=lambda e: e["ts"]):
        if task["ts"] >= end:  # a task nested in another (a nested run loop) is counted in it
            tasks.append(task)
            end = task["ts"] + task.get("dur", 0)
    urls = {e["args"]["data"]["requestId"]: e["args"]["data"]["url"] for e in events
            if e.get("name") == "ResourceSendRequest"}
    finished = [(e["ts"], urls.get(e["args"]["data"]["requestId"], "")) for e in events
                if e.get("name") == "ResourceFinish"]
    groups: list[list] = []  # [first arrival, kinds, bytes]
    for ts, name, data in sorted(messages):
        if groups and ts - groups[-1][0] < BATCH_US:
            groups[-1][1].add(name)
            groups[-1][2] += len(data)
        else:
            groups.append([ts, {name}, len(data)])
    groups = [group for group in groups if tasks and group[0] >= tasks[0]["ts"]]  # came in before the trace
    listener = sorted(e["ts"] for e in events if e.get("name") == "FunctionCall" and (e["pid"], e["tid"]) == main
                      and e["args"]["data"].get("url", "").endswith("/lib/live.js"))
    starts = [t["ts"] for t in tasks]
    if not listener or not starts:
        return []
    begins = []
    for arrival, _, _ in groups:  # DevTools notes the event in the task that dispatches it, just before the call
        call = listener[min(bisect.bisect_left(listener, arrival - 1000), len(listener) - 1)]
        begins.append(starts[max(0, bisect.bisect_right(starts, call) - 1)])
    batches = []
    for (_, kinds, size), begin, until in zip(groups, begins, begins[1:]):  # the last one is cut by the trace's end
        fetched = {url.split("?")[0].rsplit("api/", 1)[-1] for ts, url in finished
                   if begin <= ts < until and "/api/" in url}
        batches.append({"ms": sum(t.get("dur", 0) for t in tasks if begin <= t["ts"] < until) / 1000,
                        "events": sorted(kinds), "bytes": size, "fetched": sorted(fetched),
                        "fetched_before": batches[-1]["fetched"] if batches else []})  # its parse, GC may spill
    return batches


def history(args) -> tuple[str, str | None, dict]:
    """The history file (filled unless ``--db`` names one that exists), a temporary directory to remove, and
    what it holds."""
    tmp = None
    if args.db is None:
        tmp = tempfile.mkdtemp(prefix="fleetmon-console-")
        args.db = os.path.join(tmp, "history.db")
    if not os.path.exists(args.db):
        print(f"filling {args.db}: {args.hosts} hosts x {args.days:g} d at {args.interval:g} s ...", file=sys.stderr)
        fill_history(args.db, args.hosts, args.days, args.interval,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))
    conn = sqlite3.connect(args.db)
    # by primary key, host by host: a scan of a history this large takes minutes
    first, last = conn.execute("SELECT min(bucket), max(bucket) + 60 FROM rollup_1m WHERE host_id = 1").fetchone()
    stored = conn.execute("SELECT count(*) FROM hosts WHERE (SELECT min(bucket) FROM rollup_1m "
                          "WHERE host_id = hosts.id) < ?", (first + 3600,)).fetchone()[0]
    conn.close()
    now = time.time()
    return args.db, tmp, {"hosts": stored, "days": (now - first) / 86400, "gib": os.path.getsize(args.db) / 2**30,
                          "newest_hours_ago": max(0.0, now - last) / 3600}


def stats(values: list[float]) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "median": statistics.median(ordered), "max": ordered[-1],
            "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000, help="hosts in the history, publishing for the host page")
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--db", help="the history file: filled unless it exists (the hub then writes on into it)")
    parser.add_argument("--overview-hosts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--live-seconds", type=float, default=45.0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("chromium is not installed (`make deps` installs the Debian package)")
    db, tmp, stored = history(args)
    results: dict = {"history": stored, "load_before": os.getloadavg(), "runs": args.runs}
    workdir = Path(tempfile.mkdtemp(prefix="fleetmon-console-bench-"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        results["chromium"] = browser.version
        bench = Bench(workdir, db, args.interval, browser)
        try:
            bench.simulate(args.hosts)
            # spread over the stored fleet (servers and Jetsons), none opened twice but for its warm reload
            names = [spec.host for spec in build_fleet(args.hosts, 1)]
            hosts = [names[i * len(names) // (3 * args.runs)] for i in range(3 * args.runs)]
            for name, picked in (("24 h", "24h"), ("7 d", "7d")):
                print(f"host page, {name} ...", file=sys.stderr)
                chosen = hosts[:args.runs] if picked == "24h" else hosts[args.runs:2 * args.runs]
                results[f"host {name}"] = page_runs(bench, args.runs, lambda run, c=chosen: f"#/host/{c[run]}",
                                                    "host", picked)
            switches = {"24 h": [], "7 d": []}
            for host in hosts[2 * args.runs:3 * args.runs]:
                context, base = bench.context()
                context.add_init_script(f"({PAINTED})()")
                page, errors = new_page(context)
                bench.open(page, errors, base + f"#/host/{host}", "host")
                for name, picked in (("24 h", "24h"), ("7 d", "7d")):
                    switches[name].append(bench.switch(page, picked))
                    bench.switch(page, "1h")
                context.close()
            results["host switch"] = switches
            print("host page, live ...", file=sys.stderr)
            results["host live"] = live_cost(bench, f"#/host/{hosts[0]}", "host", args.live_seconds)
            print(f"{args.overview_hosts} hosts ...", file=sys.stderr)
            bench.simulate(args.overview_hosts)
            results["overview"] = page_runs(bench, args.runs, lambda run: "#/", "overview")
            try:
                results["group"] = page_runs(bench, 1, lambda run: "#/group/site-a", "group")
            except PlaywrightTimeout:
                results["group"] = None
            results["alerts"] = page_runs(bench, 2, lambda run: "#/alerts", "alerts")
            # Every host came online within seconds: for its first minute each row's age ("12s") changes with
            # every redraw, which a fleet online for a while does not do.
            wait_until(lambda: bench.youngest_state() > 70, timeout=120, interval=1.0, message="states a minute old")
            print("overview, live ...", file=sys.stderr)
            results["overview live"] = live_cost(bench, "#/", "overview", args.live_seconds)
        finally:
            bench.close()
            browser.close()
            for made in filter(None, (workdir, tmp)):
                shutil.rmtree(made, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=list))
    report(results, args)


def report(results: dict, args) -> None:
    stored = results["history"]
    print(f"\n### Console: {stored['hosts']:,} hosts with {stored['days']:.1f} d of history "
          f"({stored['gib']:,.1f} GiB, its newest minute {stored['newest_hours_ago']:.1f} h old), "
          f"{args.overview_hosts:,} hosts on the overview\n")
    print(f"Chromium {results['chromium']}; load average before {results['load_before'][0]:.2f}, after "
          f"{results['load_after'][0]:.2f}; {args.runs} runs each (the group page 1, the alerts page 2).\n")
    print("| page | cache | drawn ms, median (max) | painted ms, median (max) | KiB: files + API | requests |")
    print("|---|---|---:|---:|---:|---:|")

    def ms(runs: list[dict], key: str) -> str:
        found = stats([r[key] for r in runs])
        return f"{found['median']:,.0f} ({found['max']:,.0f})"

    def kib(runs: list[dict]) -> str:
        files, api = (statistics.median(r[k] for r in runs) / 1024 for k in ("files", "api"))
        return f"{files:,.0f} + {api:,.0f}"

    for name in ("host 24 h", "host 7 d", "overview", "group", "alerts"):
        if results[name] is None:
            print(f"| {name} | cold | not drawn within {PAGE_TIMEOUT_S} s | | | |")
            continue
        for cache in ("cold", "warm"):
            runs = results[name][cache]
            print(f"| {name} | {cache} | {ms(runs, 'drawn')} | {ms(runs, 'painted')} | {kib(runs)} "
                  f"| {statistics.median(r['requests'] for r in runs):.0f} |")
    for name, runs in results["host switch"].items():
        print(f"| host, 1 h → {name} on the open page | warm | {ms(runs, 'took')} (from the press) | | {kib(runs)} "
              f"| {statistics.median(r['requests'] for r in runs):.0f} |")
    print("\n| live update | batches | main thread ms per batch, median / p95 / max | the page's patch ms, median "
          "(max) | main thread busy ms/s | KiB per batch |")  # a batch: the events of one look of the feed
    print("|---|---:|---:|---:|---:|---:|")
    for page, label, keep in (
            ("overview", "every batch", lambda b: True),
            ("overview", "hosts events only", lambda b: not (b["fetched"] or b["fetched_before"])),
            ("overview", "the panel poll (10 s), and the batch after", lambda b: "v1/dashboard" in b["fetched"]
             or "v1/dashboard" in b["fetched_before"]),
            ("host", "every batch", lambda b: True),
            ("host", "hosts events only",
             lambda b: not (b["fetched"] or b["fetched_before"] or "sample" in b["events"])),
            ("host", "with a sample", lambda b: "sample" in b["events"])):
        live = results[f"{page} live"]
        batches = [b for b in live["batches"] if keep(b)]
        cost, marks = stats([b["ms"] for b in batches]), stats(live["page_marks_ms"])
        if not cost["n"]:
            continue
        size = statistics.median(b["bytes"] for b in batches) / 1024
        own = f"{marks['median']:.1f} ({marks['max']:.1f}), {marks['n']} patches" if marks["n"] else "no patch"
        print(f"| {page}, {label} | {cost['n']} | {cost['median']:.1f} / {cost['p95']:.1f} / {cost['max']:.1f} "
              f"| {own} | {live['busy_ms_per_s']:.0f} | {size:,.1f} |")
    hosts = results["overview live"]["hosts_per_event"] or [0]
    print(f"\nOn the overview a `hosts` event carried {statistics.median(hosts):,.0f} hosts (median), "
          f"{max(hosts):,} at most.")


if __name__ == "__main__":
    main()
