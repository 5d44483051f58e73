"""A hub history as a long-running fleet leaves it, built fast, and what the console's reads cost on it.

``fill_history(path, hosts, days, interval)`` writes the store's own SQLite file (fleetmon.hub.store.schema,
rows packed by fleetmon.hub.store.codec) directly, minute by minute across all hosts, as the live writer
would leave it: the hosts of ``fleetmon simulate`` (``sim-server-0001`` ..., their series and values from
fleetmon.simulate.model), raw samples every ``interval`` seconds for the last day (the raw window), minute
aggregates for every minute of ``days`` (exact from the raw samples inside the raw window; before it the
host is stepped once a minute, each minute counting ``60 / interval`` samples, so rows have their live
size), hour aggregates from the minutes, and per host a birth, a state change and hourly check results.
Writing through the Store would take hours for 1,000 hosts x 7 days; this takes minutes. The browser
benchmark (benchmarks/console.py) builds its hub's history with it.

The CLI fills a file (or reuses one) and times the console's reads on it: one host page's
``/api/v1/query_range`` (30 series over 24 h and over 7 d, through the real app and straight from the
store), ``/api/v1/hosts/{host}/series`` and a group heatmap.

Usage: python benchmarks/console_history.py [--hosts 1000] [--days 7] [--interval 10] [--db PATH]
       [--keep] [--queries 20] [--json OUT]
"""

import argparse
import json
import os
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from fleetmon.hub.fleet_reader import FleetReader  # noqa: E402
from fleetmon.hub.state import FleetState  # noqa: E402
from fleetmon.hub.store import Store, StoreConfig  # noqa: E402
from fleetmon.hub.store.codec import pack_aggregates, pack_ids, pack_values  # noqa: E402
from fleetmon.hub.store.config import DAY  # noqa: E402
from fleetmon.hub.store.schema import connect, migrate  # noqa: E402
from fleetmon.hub.store.series import canonical_labels  # noqa: E402
from fleetmon.hub.web.console_api import console_routes  # noqa: E402
from fleetmon.simulate.fleet import HostSpec, build_fleet, checks_of  # noqa: E402
from fleetmon.simulate.model import HostModel, SeriesDecl  # noqa: E402

#: The series a host page charts first, as the console asks for them (one query_range, ~30 series).
HOST_PAGE_METRICS = (
    "fleetmon_cpu_usage_ratio", "fleetmon_cpu_core_usage_ratio", "fleetmon_load1", "fleetmon_load5",
    "fleetmon_load15", "fleetmon_memory_usage_ratio", "fleetmon_memory_used_bytes", "fleetmon_swap_usage_ratio",
    "fleetmon_filesystem_usage_ratio", "fleetmon_disk_read_bytes_total", "fleetmon_disk_written_bytes_total",
    "fleetmon_network_receive_bytes_total", "fleetmon_network_transmit_bytes_total",
    "fleetmon_temperature_celsius", "fleetmon_processes")
COMMIT_EVERY = 30  # minutes of the whole fleet per transaction


class Filled(NamedTuple):
    hosts: list[str]
    groups: dict[str, list[str]]  # inventory group -> its hosts
    start: float
    end: float
    raw_rows: int
    minute_rows: int
    hour_rows: int
    seconds: float


class _Host:
    """One simulated host and what is being aggregated for it."""

    def __init__(self, host_id: int, spec: HostSpec, start: float, interval: float, seed: int) -> None:
        self.id, self.spec = host_id, spec
        self.model = HostModel(spec, start, interval, seed)
        self.rng = random.Random(f"fill:{seed}:{spec.index}")
        decls = self.model.series()
        # Dynamic series first (in the order step() returns them), then the static ones: a layout's order is
        # free, and this way a sample's values are step()'s list plus constants.
        self.decls: list[SeriesDecl] = [d for d in decls if d.fmt] + [d for d in decls if not d.fmt]
        self.statics = [d.value for d in decls if not d.fmt]
        self.layout_id = 0
        self.seq = 0
        self.hour: list[tuple[list[float], list[float], list[float], int]] = []  # the hour's minutes so far

    def sample(self, ts: float) -> list[float]:
        # step() leaves out fleetmon_agent_alerts_firing, the last dynamic series: no edge alert fires here.
        return [*self.model.step(self.rng, ts, ts), 0.0, *self.statics]


def fill_history(path: str, hosts: int, days: float, interval: float, seed: int = 1,
                 now: float | None = None, raw_window: float = DAY, jetson_share: float = 0.3,
                 progress: Callable[[str], None] | None = None) -> Filled:
    """Write ``days`` of history of ``hosts`` simulated hosts sampled every ``interval`` seconds into a new
    store file at ``path``, ending at ``now``; the store opens it as its own (nothing left to re-aggregate)."""
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists: fill_history writes a new file")
    began = time.perf_counter()
    end = (time.time() if now is None else now) // 60 * 60
    start = end - days * DAY
    raw_from = end - raw_window
    per_minute = max(1, round(60 / interval))
    conn = connect(path)
    migrate(conn)
    conn.execute("PRAGMA synchronous = OFF")  # a file being built: a crash means building it again
    specs = build_fleet(hosts, seed, jetson_share)
    fleet = [_Host(i + 1, spec, start, interval, seed) for i, spec in enumerate(specs)]
    conn.execute("BEGIN")
    for host in fleet:
        conn.execute("INSERT INTO hosts (id, name) VALUES (?, ?)", (host.id, host.spec.host))
        ids = [conn.execute("INSERT INTO series (host_id, name, labels) VALUES (?, ?, ?)",
                            (host.id, d.name, canonical_labels(dict(d.labels)))).lastrowid for d in host.decls]
        host.layout_id = conn.execute("INSERT INTO layouts (series_ids) VALUES (?)", (pack_ids(ids),)).lastrowid
        _records(conn, host, start, end)
    counts = {"raw": 0, "1m": 0, "1h": 0}
    minutes = int((end - start) // 60)
    for m in range(minutes):
        minute = start + 60 * m
        raw_rows, minute_rows, hour_rows = [], [], []
        for host in fleet:
            if minute >= raw_from:
                host.model.interval_s = interval
                samples = [host.sample(minute + i * interval) for i in range(per_minute)]
                for i, values in enumerate(samples):
                    host.seq += 1
                    raw_rows.append((host.id, minute + i * interval, 1, host.seq, host.layout_id, pack_values(values)))
                columns = list(zip(*samples, strict=True))
                lows, highs, sums = [min(c) for c in columns], [max(c) for c in columns], [sum(c) for c in columns]
            else:
                host.model.interval_s = 60.0  # one step stands for the minute: counters grow by a minute's worth
                values = host.sample(minute)
                lows = highs = values
                sums = [v * per_minute for v in values]
            minute_rows.append((host.id, int(minute), host.layout_id,
                                pack_aggregates(list(zip(lows, highs, sums, [per_minute] * len(lows), strict=True)))))
            host.hour.append((lows, highs, sums, per_minute))
            if (minute + 60) % 3600 == 0 or m == minutes - 1:
                hour_rows.append((host.id, int(minute // 3600 * 3600), host.layout_id, _hour_of(host.hour)))
                host.hour = []
        conn.executemany("INSERT INTO raw (host_id, ts, session, seq, layout_id, vals) VALUES (?, ?, ?, ?, ?, ?)",
                         raw_rows)
        conn.executemany("INSERT INTO rollup_1m (host_id, bucket, layout_id, data) VALUES (?, ?, ?, ?)", minute_rows)
        conn.executemany("INSERT INTO rollup_1h (host_id, bucket, layout_id, data) VALUES (?, ?, ?, ?)", hour_rows)
        counts["raw"] += len(raw_rows)
        counts["1m"] += len(minute_rows)
        counts["1h"] += len(hour_rows)
        if (m + 1) % COMMIT_EVERY == 0:
            conn.execute("COMMIT")
            if progress is not None:
                elapsed = time.perf_counter() - began
                progress(f"  minute {m + 1:,}/{minutes:,}  {elapsed:,.0f} s, "
                         f"~{elapsed / (m + 1) * (minutes - m - 1):,.0f} s left")
            conn.execute("BEGIN")
    # every raw row is counted in the tiers already: the writer has nothing to re-aggregate on open
    conn.execute("UPDATE meta SET value = (SELECT coalesce(max(id), 0) FROM raw) WHERE key = 'rollup_through'")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    groups: dict[str, list[str]] = {}
    for spec in specs:
        for group in spec.groups:
            groups.setdefault(group, []).append(spec.host)
    return Filled([s.host for s in specs], groups, start, end, counts["raw"], counts["1m"], counts["1h"],
                  time.perf_counter() - began)


def _hour_of(minutes: list[tuple[list[float], list[float], list[float], int]]) -> bytes:
    lows = [min(c) for c in zip(*(m[0] for m in minutes), strict=True)]
    highs = [max(c) for c in zip(*(m[1] for m in minutes), strict=True)]
    sums = [sum(c) for c in zip(*(m[2] for m in minutes), strict=True)]
    count = sum(m[3] for m in minutes)
    return pack_aggregates(list(zip(lows, highs, sums, [count] * len(lows), strict=True)))


def _records(conn: sqlite3.Connection, host: _Host, start: float, end: float) -> None:
    """A birth at the start, and each of the host's checks once an hour (failing one hour in 24)."""
    name = host.spec.host
    conn.execute("INSERT INTO events VALUES (?, ?, 'birth', 'agent started', '{}')", (name, start))
    conn.execute("INSERT INTO state_changes VALUES (?, ?, 'missing', 'online', 'birth')", (name, start))
    rows = []
    for hour, ts in enumerate(range(int(start) + 1800, int(end), 3600)):
        for check in checks_of(host.spec):
            ok = (hour + host.spec.index) % 24 != 0
            rows.append((name, float(ts), check.name, int(ok), 0.01 if ok else None, "" if ok else "timed out"))
    conn.executemany("INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?)", rows)


# --- the reads the console makes --------------------------------------------------------------------------

def _timed(call: Callable[[], Any], times: int) -> tuple[list[float], Any]:
    spent, answer = [], None
    for _ in range(times):
        began = time.perf_counter()
        answer = call()
        spent.append(time.perf_counter() - began)
    return spent, answer


def measure(path: str, filled_end: float, hosts: list[str], groups: dict[str, list[str]],
            queries: int) -> list[dict[str, Any]]:
    """Times the console's reads on the file at ``path``: the first call (the file's pages possibly not in
    the page cache yet) and then ``queries`` more calls (p50, max)."""
    store = Store(path, StoreConfig())
    fleet = FleetState({host: groups_of for host, groups_of in _membership(groups).items()})
    app = Starlette(routes=console_routes(FleetReader(fleet, threading.Lock()), store, lambda: []))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    rng = random.Random(7)
    now = filled_end
    metrics = "&".join(f"metric={m}" for m in HOST_PAGE_METRICS)
    group = max(groups, key=lambda g: len(groups[g]))
    rows = []

    def row(label: str, call: Callable[[], Any], describe: Callable[[Any], str]) -> None:
        first, answer = _timed(call, 1)
        spent, answer = _timed(call, queries)
        rows.append({"read": label, "first_ms": 1000 * first[0], "p50_ms": 1000 * statistics.median(spent),
                     "max_ms": 1000 * max(spent), "answer": describe(answer)})

    def http(url: str) -> Callable[[], Any]:
        def call() -> bytes:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{url}", timeout=60) as response:
                return response.read()
        return call

    def points(answer: bytes) -> str:
        body = json.loads(answer)
        return (f"{body['tier']}, {len(body['series'])} series, "
                f"{sum(len(s['points']) for s in body['series']):,} points, {len(answer):,} bytes")

    for span, label in ((DAY, "24 h"), (7 * DAY, "7 d")):
        host = rng.choice(hosts)
        start = now - span
        row(f"query_range, one host page ({label}), store only",
            lambda host=host, start=start: store.query_many(host, HOST_PAGE_METRICS, {}, start, now, None, 600),
            lambda found: f"{len(found)} series, {sum(len(s.points) for s in found):,} points")
        row(f"GET /api/v1/query_range ({label}, max_points=600)",
            http(f"/api/v1/query_range?host={rng.choice(hosts)}&{metrics}&start={start}&end={now}&max_points=600"),
            points)
    row("GET /api/v1/hosts/{host}/series", http(f"/api/v1/hosts/{rng.choice(hosts)}/series"),
        lambda answer: f"{len(json.loads(answer)['series'])} series, {len(answer):,} bytes")
    for span, label in ((3600, "1 h"), (DAY, "24 h")):
        row(f"GET /api/v1/groups/{{group}}/heatmap ({len(groups[group])} hosts, {label}, 60 buckets)",
            http(f"/api/v1/groups/{group}/heatmap?panel=cpu&start={now - span}&end={now}&buckets=60"),
            lambda answer: f"{json.loads(answer)['tier']}, {len(json.loads(answer)['hosts'])} hosts, "
                           f"{len(answer):,} bytes")
    server.should_exit = True
    thread.join(timeout=10)
    store.close()
    return rows


def _membership(groups: dict[str, list[str]]) -> dict[str, list[str]]:
    hosts: dict[str, list[str]] = {}
    for group, members in groups.items():
        for host in members:
            hosts.setdefault(host, []).append(group)
    return hosts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--db", help="the store file: filled unless it exists (then only measured)")
    parser.add_argument("--keep", action="store_true", help="keep the file filled in a temporary directory")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    tmp = None
    if args.db is None:
        tmp = tempfile.mkdtemp(prefix="fleetmon-console-")
        args.db = os.path.join(tmp, "history.db")
    if os.path.exists(args.db):
        conn = sqlite3.connect(args.db)
        end = float(conn.execute("SELECT max(bucket) + 60 FROM rollup_1m").fetchone()[0])
        hosts = [name for (name,) in conn.execute("SELECT name FROM hosts ORDER BY id")]
        conn.close()
        specs = build_fleet(len(hosts), 1)
        groups: dict[str, list[str]] = {}
        for spec in specs:
            for group in spec.groups:
                groups.setdefault(group, []).append(spec.host)
        print(f"measuring the existing {args.db}", file=sys.stderr)
    else:
        print(f"filling {args.db}: {args.hosts} hosts x {args.days:g} d at {args.interval:g} s ...", file=sys.stderr)
        filled = fill_history(args.db, args.hosts, args.days, args.interval,
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
        end, hosts, groups = filled.end, filled.hosts, filled.groups
        print(f"filled in {filled.seconds:,.0f} s: {filled.raw_rows:,} raw, {filled.minute_rows:,} minute and "
              f"{filled.hour_rows:,} hour rows, {os.path.getsize(args.db) / 2**30:,.1f} GiB", file=sys.stderr)
    rows = measure(args.db, end, hosts, groups, args.queries)
    print(f"\n### Console reads: {len(hosts)} hosts, history file {os.path.getsize(args.db) / 2**30:,.1f} GiB\n")
    print("| read | first call ms | p50 ms | max ms | answer |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print(f"| {row['read']} | {row['first_ms']:.1f} | {row['p50_ms']:.1f} | {row['max_ms']:.1f} "
              f"| {row['answer']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if tmp is not None and not args.keep:
        os.remove(args.db)
        os.rmdir(tmp)
    elif tmp is not None:
        print(f"kept {args.db}", file=sys.stderr)


if __name__ == "__main__":
    main()
