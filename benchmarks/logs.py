"""Log store benchmark: ingest realistic journal lines through LogStore.take, then time searches and measure
the file.

What it does:
- generates ``--lines`` journal entries from ``--hosts`` hosts over the last ``--days`` (within the default
  7 d retention), oldest first, in batches of ``--batch`` per host as agents send them: systemd units
  (nginx access lines with addresses, paths, status codes and timings; sshd logins; kubelet and containerd
  with pod names and container ids; cron, journald, NetworkManager, docker, the agent itself), priorities
  weighted as on real hosts (mostly info, a few percent warnings and errors, crit and worse rare), and
  kernel lines (NVRM Xid, the OOM killer, thermal throttling, USB, link changes, EXT4 errors) — about
  100 bytes a message, with ids, addresses and numbers that make the full-text index realistically large;
- ingest: lines/s end to end (take → queue → writer thread → committed), the queue sized so nothing drops;
  generated 200,000 lines at a time, outside the clock, and the rate of each 200,000 printed as the file grows;
- searches, ``--queries`` of each kind, p50/p99: a rare word over everything (NVRM), a phrase, a prefix,
  a common word, one host over the last day, a unit at err and above over a day, one host's text, a group
  of 20 hosts over the last hour, the newest lines with no filter, err and above over everything, a second
  page (``before``), and a live tail's poll (``follow`` after the newest id);
- bytes on disk per line: the file and its parts (dbstat: each table with its indexes; the FTS5 index).

Usage: python benchmarks/logs.py [--lines 1000000] [--hosts 200] [--days 6.5] [--batch 200] [--queries 50]
       [--db PATH] [--keep] [--json OUT]
With ``--db`` pointing at a file a previous run filled (``--keep``), ``--reuse`` skips the ingest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

from fleetmon.hub.logs.config import LogsConfig  # noqa: E402
from fleetmon.hub.logs.search import LogQuery, text_query  # noqa: E402
from fleetmon.hub.logs.store import LogStore  # noqa: E402

CHUNK = 200_000  # lines generated, then timed while they are taken and written
PATHS = ("/", "/api/v1/items", "/api/v1/items/{n}", "/login", "/static/app.{h}.js", "/health", "/metrics",
         "/api/v1/orders/{n}/lines", "/favicon.ico", "/images/{h}.png")
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Prometheus/2.53.0", "python-requests/2.32.3",
          "Go-http-client/1.1")
PODS = ("api", "worker", "ingest", "frontend", "redis", "postgres", "camera-reader", "inference")
WORDS = ("request", "timeout", "retry", "connection", "refused", "reset", "backend", "upstream", "cache", "miss",
         "queue", "full", "slow", "query", "took", "finished", "started", "stopping", "reload", "config", "token",
         "expired", "session", "opened", "closed", "user", "permission", "denied", "disk", "space", "mounted",
         "frame", "dropped", "camera", "model", "loaded", "batch", "inference", "latency", "gpu", "memory")


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _nginx(rng: random.Random) -> tuple[str, str, int]:
    path = rng.choice(PATHS).format(n=rng.randrange(100000), h=_hex(rng, 8))
    status = rng.choices((200, 301, 304, 404, 500, 502), (80, 3, 8, 6, 2, 1))[0]
    line = (f'{_ip(rng)} - - "{rng.choice(("GET", "GET", "POST", "PUT"))} {path} HTTP/1.1" {status} '
            f'{rng.randrange(100, 90000)} "-" "{rng.choice(AGENTS)}" rt={rng.uniform(0.001, 2.5):.3f}')
    return "nginx.service", line, 3 if status >= 500 else 6


def _sshd(rng: random.Random) -> tuple[str, str, int]:
    if rng.random() < 0.3:
        return "ssh.service", f"Failed password for invalid user {rng.choice(('admin', 'test', 'oracle', 'pi'))} " \
                              f"from {_ip(rng)} port {rng.randrange(1024, 65535)} ssh2", 5
    return "ssh.service", f"Accepted publickey for ubuntu from {_ip(rng)} port {rng.randrange(1024, 65535)} ssh2: " \
                          f"ED25519 SHA256:{_hex(rng, 22)}", 6


def _kubelet(rng: random.Random) -> tuple[str, str, int]:
    pod = f"{rng.choice(PODS)}-{_hex(rng, 10)}-{_hex(rng, 5)}"
    if rng.random() < 0.15:
        return "kubelet.service", f'E1203 {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.' \
                                  f'{rng.randrange(10**6):06d} pod_workers.go:1298] "Error syncing pod, skipping" ' \
                                  f'err="failed to \\"StartContainer\\" with CrashLoopBackOff" pod="default/{pod}"', 3
    return "kubelet.service", f'I1203 kubelet.go:2421] "SyncLoop (PLEG): event for pod" pod="default/{pod}" ' \
                              f'event={{"ID":"{_hex(rng, 32)}","Type":"ContainerStarted"}}', 6


def _containerd(rng: random.Random) -> tuple[str, str, int]:
    return "containerd.service", f'time="2026-12-03T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z" ' \
                                 f'level=info msg="shim disconnected" id={_hex(rng, 64)} namespace=k8s.io', 6


def _app(rng: random.Random) -> tuple[str, str, int]:
    unit = rng.choice(("camera-reader.service", "inference.service", "fleetmon-agent.service", "docker.service",
                       "cron.service", "NetworkManager.service", "systemd-journald.service", "redis.service"))
    level = rng.choices((6, 5, 4, 3, 7), (70, 10, 12, 6, 2))[0]
    return unit, f"{_words(rng, rng.randrange(4, 12))} id={_hex(rng, 8)} n={rng.randrange(10000)} " \
                 f"took {rng.uniform(0.1, 900):.1f}ms", level


def _kernel(rng: random.Random) -> tuple[str, str, int]:
    pid = rng.randrange(300, 60000)
    return "", rng.choice((
        f"NVRM: Xid (PCI:0000:{rng.randrange(1, 9):02x}:00): {rng.choice((13, 31, 43, 48, 79))}, pid={pid}, "
        "GPU has fallen off the bus.",
        f"Out of memory: Killed process {pid} ({rng.choice(('python3', 'inference', 'java'))}) total-vm:"
        f"{rng.randrange(10**6, 10**7)}kB, anon-rss:{rng.randrange(10**5, 10**6)}kB, file-rss:0kB, oom_score_adj:0",
        f"thermal thermal_zone{rng.randrange(8)}: throttling, temperature {rng.randrange(85, 105)} C above trip",
        f"usb 1-{rng.randrange(1, 5)}: new high-speed USB device number {rng.randrange(2, 40)} using tegra-xusb",
        f"eqos 2490000.ethernet eth0: Link is {rng.choice(('Up - 1Gbps/Full', 'Down'))}",
        f"EXT4-fs error (device mmcblk0p1): ext4_lookup:1855: inode #{rng.randrange(10**6)}: comm "
        f"{rng.choice(('python3', 'dockerd'))}: deleted inode referenced: {rng.randrange(10**6)}",
    )), rng.choices((3, 2, 4, 6), (50, 5, 30, 15))[0]


SOURCES = ((_nginx, 30), (_app, 30), (_kubelet, 12), (_containerd, 8), (_sshd, 6), (_kernel, 4))


def entries(rng: random.Random, hosts: int, lines: int, days: float, batch: int, end: float):
    """(host, entries) batches, oldest first, ``lines`` entries in all, spread evenly over ``days``."""
    makers, weights = zip(*SOURCES)
    span = days * 86400.0
    for start in range(0, lines, batch):
        host = f"host-{rng.randrange(hosts):04d}"
        count = min(batch, lines - start)
        ts0 = end - span + span * start / lines
        out = []
        for i in range(count):
            unit, message, priority = rng.choices(makers, weights)[0](rng)
            ts = ts0 + i * span / lines
            identifier = unit.split(".")[0] if unit else "kernel"
            out.append({"ts": ts, "cursor": f"s={_hex(rng, 32)};i={start + i:x};b={_hex(rng, 32)};m={_hex(rng, 8)};"
                                            f"t={int(ts * 1e6):x};x={_hex(rng, 16)}",
                        "priority": priority, "unit": unit, "identifier": identifier,
                        "pid": None if not unit else rng.randrange(300, 60000),
                        "transport": "kernel" if not unit else "journal", "message": message})
        yield host, out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def part_bytes(path: str) -> dict[str, int]:
    """Bytes per table, each with its indexes; the FTS5 index's shadow tables as one."""
    conn = sqlite3.connect(path)
    sizes = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    conn.close()
    out: dict[str, int] = {}
    for name, size in sizes.items():
        table = owner.get(name, name)
        if name.startswith("sqlite_autoindex_"):
            table = name.removeprefix("sqlite_autoindex_").rsplit("_", 1)[0]
        if table.startswith("lines_text"):
            table = "lines_text (FTS5)"
        out[table] = out.get(table, 0) + size
    return out


def ingest(store: LogStore, args: argparse.Namespace, end: float) -> tuple[int, float, list[tuple[int, float]]]:
    """Lines taken and the seconds they took (generating them excluded: each CHUNK is generated first, then
    taken and written while the clock runs), and the rate of each chunk as the file grows."""
    rng = random.Random(7)
    batches = entries(rng, args.hosts, args.lines, args.days, args.batch, end)
    total, seconds, rates = 0, 0.0, []
    while True:
        chunk = [batch for _, batch in zip(range(CHUNK // args.batch), batches)]
        if not chunk:
            return total, seconds, rates
        started = time.perf_counter()
        for host, batch in chunk:
            while not store.take(host, {"entries": batch}):
                store.flush(60)  # the producer outran the writer: wait rather than drop (the hub would drop)
        store.flush(3600)
        took = time.perf_counter() - started
        lines = sum(len(batch) for _, batch in chunk)
        total, seconds = total + lines, seconds + took
        rates.append((total, lines / took))
        print(f"  {total:>12,} lines stored, {lines / took:>8,.0f} lines/s for the last {lines:,}", flush=True)


def queries(store: LogStore, now: float) -> dict[str, tuple[LogQuery, dict]]:
    hosts = [f"host-{i:04d}" for i in range(20)]
    return {
        "rare word, everything (NVRM)": (LogQuery(text=text_query("NVRM")), {}),
        'phrase, everything ("fallen off the bus")': (LogQuery(text=text_query('"fallen off the bus"')), {}),
        "prefix, everything (thrott*)": (LogQuery(text=text_query("thrott*")), {}),
        "common word, everything (connection)": (LogQuery(text=text_query("connection")), {}),
        "one host, last 24 h": (LogQuery(hosts=("host-0001",), start=now - 86400), {}),
        "one unit at err and above, last 24 h": (LogQuery(units=("kubelet.service",), priority=3,
                                                          start=now - 86400), {}),
        "one host, text (timeout), everything": (LogQuery(hosts=("host-0002",), text=text_query("timeout")), {}),
        "20 hosts, last hour": (LogQuery(hosts=tuple(hosts), start=now - 3600), {}),
        "newest, no filter": (LogQuery(), {}),
        "err and above, everything": (LogQuery(priority=3), {}),
        "crit and above, last 24 h": (LogQuery(priority=2, start=now - 86400), {}),
        "no line at that level: emerg, everything": (LogQuery(priority=0), {}),
        "a day 3 days ago, text (OOM)": (LogQuery(text=text_query('"Out of memory"'), start=now - 4 * 86400,
                                                  end=now - 3 * 86400), {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--days", type=float, default=6.5)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--db", help="database path (default: a temporary directory, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the database file")
    parser.add_argument("--reuse", action="store_true", help="search a file a previous run filled; no ingest")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    tmp = None
    if args.db is None and args.keep:
        args.db = os.path.join(tempfile.mkdtemp(prefix="fleetmon-logs-"), "logs.db")
    elif args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="fleetmon-logs-")
        args.db = os.path.join(tmp.name, "logs.db")
    now = time.time()
    store = LogStore(args.db, LogsConfig(max_lines=max(args.lines, 1000) + 1, queue_lines=200_000))
    results: dict = {"command": " ".join(sys.argv), "lines": args.lines, "hosts": args.hosts}
    if not args.reuse:
        total, seconds, rates = ingest(store, args, now)
        results.update(ingested=total, ingest_seconds=round(seconds, 1), lines_per_second=round(total / seconds),
                       rate_by_size=[[n, round(rate)] for n, rate in rates])
        print(f"ingest: {total:,} lines in {seconds:.1f} s = {total / seconds:,.0f} lines/s "
              f"(stored {store.figures()['stored']:,}, dropped {store.figures()['dropped']})")
    stored = store.figures()["lines"]
    newest = store.latest_id()
    timings = {}
    for name, (query, _) in queries(store, now).items():
        samples, found = [], 0
        for _ in range(args.queries):
            started = time.perf_counter()
            found = len(store.search(query, limit=100))
            samples.append(time.perf_counter() - started)
        timings[name] = (percentile(samples, 0.5), percentile(samples, 0.99), found)
    page = store.search(LogQuery(text=text_query("connection")), limit=100)
    for label, call in (("second page (before), common word", lambda: store.search(
            LogQuery(text=text_query("connection")), limit=100, before=page[-1].id)),
                        ("live tail poll (follow after the newest)", lambda: store.follow(LogQuery(), newest))):
        samples = []
        for _ in range(args.queries):
            started = time.perf_counter()
            found = len(call())
            samples.append(time.perf_counter() - started)
        timings[label] = (percentile(samples, 0.5), percentile(samples, 0.99), found)
    store.close()
    size = os.path.getsize(args.db)
    parts = part_bytes(args.db)
    results.update(stored=stored, file_bytes=size, bytes_per_line=round(size / max(stored, 1), 1),
                   parts_per_line={k: round(v / max(stored, 1), 1) for k, v in sorted(parts.items())},
                   searches={k: {"p50_ms": round(a * 1000, 2), "p99_ms": round(b * 1000, 2), "lines": n}
                             for k, (a, b, n) in timings.items()})
    print(f"\n{stored:,} lines stored, {size / 2**20:,.0f} MiB: {size / max(stored, 1):.0f} bytes per line")
    for name, value in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<24} {value / max(stored, 1):7.1f} bytes/line")
    print("\n| search (limit 100) | p50 | p99 | lines |\n|---|---|---|---|")
    for name, (p50, p99, n) in timings.items():
        print(f"| {name} | {p50 * 1000:.1f} ms | {p99 * 1000:.1f} ms | {n} |")
    print(f"\ncommand: {results['command']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if tmp is not None:
        tmp.cleanup()
    else:
        print(f"database: {args.db}")


if __name__ == "__main__":
    main()
