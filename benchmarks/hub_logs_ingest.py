"""Hub log ingest through a local mosquitto, beside a bare subscriber that only decodes each batch (the ceiling).

For each offered rate R (journal lines per second), publisher processes (this script with ``--publisher``)
send the lines of ``--hosts`` simulated hosts as agents do: on ``<prefix>/hosts/<host>/logs`` at QoS 1, each
host a batch of up to ``--batch-lines`` (500) lines, or what it has every ``--batch-interval`` (2 s), the
hosts' batches spread evenly over that interval. The lines come from the generator of benchmarks/logs.py
(nginx, applications, kubelet, containerd, sshd, kernel; mostly info; about 100-character messages),
generated before the clock starts; each is given, when it is sent, its time and a journal cursor of about
127 characters (the seqnum and boot ids of its host, its number, monotonic and realtime stamps, a hash).

First a real hub (``fleetmon hub run``, a temporary config: its own history and logs.db) ingests the load,
then, with the same load, a bare paho subscriber (this script with ``--bare``) that only orjson-decodes each
batch, as the hub's ingest does first. Each consumer gets a fresh mosquitto (the hub's session would
otherwise keep QoS 1 batches queued for the next run), with max_queued_messages 100000 as in
benchmarks/hub_ingest.py: a consumer that falls behind is queued for, not dropped by the broker. Reported
per rate, over the measuring window (after ``--warmup`` up to ``--duration``):
- the hub: lines/s stored (committed in logs.db; its fleetmon_hub_log_* counters on /metrics: /api/v1/hub
  has none of them), and after the load, once the hub has caught up (at most ``--drain`` seconds): lines
  received, stored and dropped (by reason: queue_full, malformed, write_failed), messages rejected, lines
  offered but not accepted (in rejected messages, or lost before the hub: the broker's queue), lines counted
  in logs.db (read-only) and the file's bytes per line;
- publish to searchable: a probe line a second, from its own publisher, with a word unique to the run; the
  hub is asked for the run's probes (``GET /api/v1/logs?q=<word>``) every ``--probe-poll`` seconds, and each
  probe's lag is when it was first found minus when it was published (p50/p99 of the window's probes; a
  probe never found counts as lost);
- hub CPU (cores, the hub process with its log writer thread; not its history writer process) and RSS at the
  end of the window; the bare subscriber's lines/s, lag (receive time minus the batch's ts) and CPU; hub ÷ bare;
- the publishers' CPU and how late they were against their schedule at worst (whether they kept up).

Usage: python benchmarks/hub_logs_ingest.py [--rates 2000 10000 30000] [--hosts 200] [--duration 30]
       [--warmup 8] [--publishers N] [--drain 60] [--seed-db LOGS_DB] [--keep] [--json OUT]
(``--seed-db``: each hub starts from a copy of that file, e.g. 10 M lines benchmarks/logs.py kept, rather than
an empty logs.db; its bytes per line are then the whole file's.)
"""

import argparse
import contextlib
import heapq
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import logs  # benchmarks/logs.py: its journal line generator
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from procfs import cpu_seconds, free_port, memory_kib, wait_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

from fleetmon.protocol.messages import envelope  # noqa: E402
from fleetmon.protocol.topics import host_subscription, host_topics  # noqa: E402

PUBLISHER_MAX_RATE = 15000  # lines/s one publisher process is given at most (it sustains several times that)
PROBE_HOST = "bench-probe"
MASK64 = 2**64 - 1
FIELDS = ("priority", "unit", "identifier", "pid", "transport", "message")  # an entry's, but ts and cursor


# --- publisher (a process of its own) -------------------------------------------------------------------------

def fragments(seed: int, count: int) -> list[str]:
    """``count`` generated entries as JSON without their ts and cursor (added when sent) or opening brace."""
    rng = random.Random(seed)
    out: list[str] = []
    for _, batch in logs.entries(rng, 1, count, 1.0, 10_000, time.time()):
        out.extend(orjson.dumps({key: entry[key] for key in FIELDS}).decode()[1:] for entry in batch)
    return out


class SimulatedHost:
    """One host's journal, sent in batches: ``rate`` lines/s, a batch every ``period`` seconds."""

    def __init__(self, name: str, rate: float, period: float, rng: random.Random) -> None:
        self.name, self.rate, self.period = name, rate, period
        self.topic = host_topics(name).logs
        self.seq = 0
        self.number = rng.randrange(1 << 24)  # the journal's seqnum
        self.seqnum_id, self.boot_id, self.salt = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(128):032x}", \
            rng.getrandbits(64)
        self.booted = time.time() - rng.uniform(3600, 30 * 86400)
        self.carry = 0.0

    def batch(self, last: float, due: float, pool: list[str], start: int, limit: int) -> tuple[bytes, int]:
        """The lines of (last, due], at most ``limit``, from ``pool`` at ``start``: the payload and its lines."""
        self.carry += self.rate * (due - last)
        count = min(limit, int(self.carry + 1e-6))
        self.carry -= count
        if not count:
            return b"", 0
        self.seq += 1
        head = orjson.dumps(envelope("logs", self.name, 1, self.seq, time.time())).decode()[:-1]
        step, parts = (due - last) / count, []
        for i in range(count):
            ts = last + (i + 1) * step
            self.number += 1
            cursor = (f"s={self.seqnum_id};i={self.number:x};b={self.boot_id};m={int((ts - self.booted) * 1e6):x};"
                      f"t={int(ts * 1e6):x};x={(self.number * 0x9E3779B97F4A7C15 ^ self.salt) & MASK64:016x}")
            parts.append(f'{{"ts":{ts:.6f},"cursor":"{cursor}",{pool[(start + i) % len(pool)]}')
        return f'{head},"entries":[{",".join(parts)}]}}'.encode(), count


def publisher(spec: dict) -> None:
    """Publish the hosts of ``spec`` from the start time read on stdin for ``duration`` seconds; print what
    was sent and acknowledged (PUBACK: the broker has it) as one JSON line."""
    rng = random.Random(spec["seed"])
    pool = fragments(spec["seed"], spec["pool"])
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{spec['seed']}",
                         protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", spec["port"])
    client.loop_start()
    rate, hosts = spec["host_rate"], spec["hosts"]
    period = spec["batch_lines"] / rate if rate * spec["batch_interval"] >= spec["batch_lines"] \
        else spec["batch_interval"]
    sims = [SimulatedHost(name, rate, period, rng) for name in hosts]
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    end = start + spec["duration"]
    # Host j of the whole fleet sends at start + j/N of a period, so the fleet's batches are evenly spread.
    queue = [(start + period * j / spec["fleet"], i) for i, j in enumerate(spec["indices"])]
    heapq.heapify(queue)
    sent, position, late, infos = 0, 0, 0.0, []
    while queue and queue[0][0] < end:
        due, i = heapq.heappop(queue)
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        else:
            late = max(late, -wait)
        payload, count = sims[i].batch(due - period, due, pool, position, spec["batch_lines"])
        heapq.heappush(queue, (due + period, i))
        if count:
            position += count
            infos.append((client.publish(sims[i].topic, payload, qos=1), count))
            sent += count
    deadline = time.monotonic() + 30
    for info, _ in infos:
        with contextlib.suppress(RuntimeError, ValueError):  # not sent at all, or the wait ran out
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
    acked = sum(count for info, count in infos if info.is_published())
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"sent": sent, "acked": acked, "messages": len(infos), "late_max": round(late, 3)}), flush=True)


# --- bare subscriber (a process of its own) -------------------------------------------------------------------

def bare(port: int) -> None:
    """Subscribe as the hub does (QoS 1, MQTT 5), orjson-decode each batch; on SIGTERM print, per batch, the
    receive time, its lines and its lag behind the batch's ts, as one JSON line."""
    got: list[tuple[float, int, float]] = []
    done, subscribed = threading.Event(), threading.Event()

    def on_message(client, userdata, message) -> None:
        received = time.time()
        body = orjson.loads(message.payload)
        entries = body.get("entries")
        if entries is not None:
            got.append((received, len(entries), received - body["ts"]))

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-bare",
                         protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(host_subscription(), qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port)
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    client.loop_start()
    subscribed.wait(20)
    print("subscribed", flush=True)
    done.wait()
    client.loop_stop()
    print(json.dumps(got), flush=True)


# --- the run --------------------------------------------------------------------------------------------------

def quantile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def get(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def log_figures(http: int) -> dict:
    """The hub's log store counters (fleetmon_hub_log_* on /metrics, e.g. ``lines_dropped{reason="queue_full"}``)
    and its rejected messages (/api/v1/hub)."""
    figures = {}
    for line in get(f"http://127.0.0.1:{http}/metrics").decode().splitlines():
        if line.startswith("fleetmon_hub_log_"):
            name, _, value = line.rpartition(" ")
            figures[name.removeprefix("fleetmon_hub_log_").replace("_total", "")] = float(value)
    hub = json.loads(get(f"http://127.0.0.1:{http}/api/v1/hub"))
    figures["messages_rejected"] = sum(hub["messages_rejected"].values())
    return figures


def dropped(figures: dict, reason: str) -> int:
    return int(figures.get(f'lines_dropped{{reason="{reason}"}}', 0))


def start_mosquitto(work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = work / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n")
    broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return broker, port


def start_publishers(port: int, rate: int, args, env: dict) -> list[subprocess.Popen]:
    count = args.publishers or max(1, math.ceil(rate / PUBLISHER_MAX_RATE))
    names = [f"logs-{i:04d}" for i in range(args.hosts)]
    lines = rate * (args.duration + args.batch_interval) + args.hosts  # the first batches cover a period before
    pubs = []
    for p in range(count):
        indices = list(range(p, args.hosts, count))
        spec = {"port": port, "hosts": [names[j] for j in indices], "indices": indices, "fleet": args.hosts,
                "host_rate": rate / args.hosts, "duration": args.duration, "batch_lines": args.batch_lines,
                "batch_interval": args.batch_interval, "seed": p + 1,
                "pool": int(min(args.pool, lines) * len(indices) / args.hosts) + 1}
        pubs.append(subprocess.Popen([sys.executable, __file__, "--publisher", json.dumps(spec)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for pub in pubs:
        if pub.stdout.readline().strip() != "ready":
            raise RuntimeError("a publisher did not start")
    return pubs


class Probes:
    """A probe line a second from its own client; for the hub, a poller that notes when each is searchable."""

    def __init__(self, port: int, http: int | None) -> None:
        self.word = "fmprobe" + secrets.token_hex(4)
        self.sent: dict[int, float] = {}
        self.found: dict[int, float] = {}
        self.http = http
        self._stop = threading.Event()
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-probe",
                                   protocol=mqtt.MQTTv5)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._topic = host_topics(PROBE_HOST).logs
        self._threads: list[threading.Thread] = []

    def run(self, start: float, end: float, poll: float) -> None:
        self._threads = [threading.Thread(target=self._publish, args=(start, end), daemon=True)]
        if self.http is not None:
            self._threads.append(threading.Thread(target=self._poll, args=(poll,), daemon=True))
        for thread in self._threads:
            thread.start()

    def _publish(self, start: float, end: float) -> None:
        n = 0
        while start + n < end and not self._stop.wait(max(0.0, start + n - time.time())):
            n += 1
            now = time.time()
            body = {**envelope("logs", PROBE_HOST, 1, n, now), "entries": [{
                "ts": now, "cursor": f"probe;{self.word};{n}", "priority": 6, "unit": "bench-probe.service",
                "identifier": "bench-probe", "pid": 1, "transport": "journal",
                "message": f"fleetmon benchmark probe {self.word} n={n}"}]}
            self.sent[n] = now
            self._client.publish(self._topic, orjson.dumps(body), qos=1)

    def _poll(self, every: float) -> None:
        url = f"http://127.0.0.1:{self.http}/api/v1/logs?" + urllib.parse.urlencode({"q": self.word, "limit": 200})
        number = re.compile(r" n=(\d+)$")
        while not self._stop.wait(every):
            try:
                lines = json.loads(get(url))["lines"]
            except (OSError, ValueError):
                continue
            now = time.time()
            for line in lines:
                match = number.search(line["message"])
                if match:
                    self.found.setdefault(int(match[1]), now)

    def complete(self) -> bool:
        return len(self.found) >= len(self.sent)

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._client.loop_stop()
        self._client.disconnect()

    def lags(self, start: float, end: float) -> tuple[list[float], int]:
        """The lags of the probes sent in [start, end] that were found, and how many were never found."""
        window = [n for n, sent in self.sent.items() if start <= sent <= end]
        return [self.found[n] - self.sent[n] for n in window if n in self.found], \
            sum(1 for n in window if n not in self.found)


def start_load(port: int, rate: int, args, env: dict, http: int | None, pubs: list) -> tuple["Probes", float]:
    """Publishers (appended to ``pubs``, for the caller to clean up) and probes, started together: the start
    time."""
    pubs.extend(start_publishers(port, rate, args, env))
    probes = Probes(port, http)
    t0 = time.time() + 0.5
    for pub in pubs:
        pub.stdin.write(f"{t0}\n")
        pub.stdin.flush()
    probes.run(t0, t0 + args.duration, args.probe_poll)
    return probes, t0


def stop_all(pubs: list[subprocess.Popen], probes: "Probes | None") -> None:
    """What a run started, after it or when it failed."""
    if probes is not None:
        probes.stop()
    for pub in pubs:
        if pub.poll() is None:
            pub.kill()
            pub.wait(timeout=10)


def finish_publishers(pubs: list[subprocess.Popen], timeout: float) -> dict:
    reports = []
    for pub in pubs:
        out, _ = pub.communicate(timeout=timeout)
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return {"sent": sum(r["sent"] for r in reports), "acked": sum(r["acked"] for r in reports),
            "messages": sum(r["messages"] for r in reports), "late_max": max(r["late_max"] for r in reports)}


def wait_until(condition, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def run_hub(rate: int, args, env: dict, work: Path) -> dict:
    run = work / f"hub-{rate}"
    run.mkdir()
    broker, port = start_mosquitto(run)
    if args.seed_db:
        shutil.copyfile(args.seed_db, run / "logs.db")
    http = free_port()
    config = run / "hub.yml"
    config.write_text(json.dumps({"broker": {"url": f"mqtt://127.0.0.1:{port}"}, "listen": f"127.0.0.1:{http}",
                                  "db": str(run / "history.db"), "log_level": "warning"}))
    hub_log = open(run / "hub.log", "wb")
    hub = subprocess.Popen([sys.executable, "-m", "fleetmon", "hub", "run", "--config", str(config)], env=env,
                           stdout=hub_log, stderr=subprocess.STDOUT)
    pubs: list[subprocess.Popen] = []
    probes = None
    try:
        wait_port(http)

        def started() -> bool:
            try:
                return bool(get(f"http://127.0.0.1:{http}/health/startup"))
            except (OSError, urllib.error.HTTPError):
                return False

        if not wait_until(started, 30):
            raise RuntimeError(f"the hub did not start: {run / 'hub.log'}")
        probes, t0 = start_load(port, rate, args, env, http, pubs)
        time.sleep(max(0.0, t0 + args.warmup - time.time()))
        before, cpu0, pub_cpu0, w0 = log_figures(http), cpu_seconds(hub.pid), \
            sum(cpu_seconds(p.pid) for p in pubs), time.time()
        time.sleep(max(0.0, t0 + args.duration - time.time()))
        after, cpu1, pub_cpu1, w1 = log_figures(http), cpu_seconds(hub.pid), \
            sum(cpu_seconds(p.pid) for p in pubs), time.time()
        rss = memory_kib(hub.pid)["rss"] / 1024
        load = finish_publishers(pubs, args.duration + 60)
        offered = load["acked"] + len(probes.sent)

        seen = {"received": -1.0, "since": time.monotonic()}

        def caught_up() -> bool:
            """Everything offered received and settled (stored, a duplicate or dropped), every probe found; or
            nothing more arrived for 5 s with nothing queued (what is missing was lost before the hub)."""
            figures = log_figures(http)
            settled = figures["lines_stored"] + figures["lines_duplicate"] + sum(
                dropped(figures, r) for r in ("queue_full", "malformed", "write_failed"))
            if figures["lines_received"] != seen["received"]:
                seen.update(received=figures["lines_received"], since=time.monotonic())
            idle = settled >= figures["lines_received"] and not figures["queue_lines"]
            return idle and ((figures["lines_received"] >= offered and probes.complete())
                             or time.monotonic() - seen["since"] > 5)

        drained_in = time.time()
        caught = wait_until(caught_up, args.drain)
        drained_in = time.time() - drained_in
        final = log_figures(http)
    finally:
        stop_all(pubs, probes)
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=60)
        hub_log.close()
        broker.terminate()
        broker.wait(timeout=10)
    logs_db = run / "logs.db"
    with sqlite3.connect(f"file:{logs_db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT count(*) FROM lines").fetchone()[0]
    size = sum(os.path.getsize(p) for p in (logs_db, Path(f"{logs_db}-wal")) if p.exists())
    if not args.keep:
        shutil.rmtree(run, ignore_errors=True)  # before the next rate copies --seed-db again
    lags, lost_probes = probes.lags(t0 + args.warmup, t0 + args.duration)
    elapsed = w1 - w0
    return {"stored_per_s": round((after["lines_stored"] - before["lines_stored"]) / elapsed),
            "received_per_s": round((after["lines_received"] - before["lines_received"]) / elapsed),
            "lag_p50": None if quantile(lags, 0.5) is None else round(quantile(lags, 0.5), 2),
            "lag_p99": None if lost_probes else (None if not lags else round(quantile(lags, 0.99), 2)),
            "probes": len(lags) + lost_probes, "probes_lost": lost_probes,
            "cpu_cores": round((cpu1 - cpu0) / elapsed, 2), "rss_mib": round(rss, 1),
            "publisher_cpu_cores": round((pub_cpu1 - pub_cpu0) / elapsed, 2), "publisher_late_max_s": load["late_max"],
            "offered_lines": offered, "offered_messages": load["messages"] + len(probes.sent),
            "unacked_lines": load["sent"] - load["acked"], "received": int(final["lines_received"]),
            "stored": int(final["lines_stored"]), "duplicates": int(final["lines_duplicate"]),
            "dropped_queue_full": dropped(final, "queue_full"), "dropped_malformed": dropped(final, "malformed"),
            "dropped_write_failed": dropped(final, "write_failed"),
            "rejected_messages": int(final["messages_rejected"]),
            "not_accepted": offered - int(final["lines_received"]), "caught_up": caught,
            "drain_s": round(drained_in, 1), "rows_in_logs_db": rows, "db_bytes": size,
            "bytes_per_line": round(size / rows, 1) if rows else None}


def run_bare(rate: int, args, env: dict, work: Path) -> dict:
    run = work / f"bare-{rate}"
    run.mkdir()
    broker, port = start_mosquitto(run)
    consumer = subprocess.Popen([sys.executable, __file__, "--bare", str(port)], env=env, stdout=subprocess.PIPE,
                                text=True)
    pubs: list[subprocess.Popen] = []
    probes = None
    try:
        if consumer.stdout.readline().strip() != "subscribed":
            raise RuntimeError("the bare subscriber did not start")
        probes, t0 = start_load(port, rate, args, env, None, pubs)
        time.sleep(max(0.0, t0 + args.warmup - time.time()))
        cpu0, w0 = cpu_seconds(consumer.pid), time.time()
        time.sleep(max(0.0, t0 + args.duration - time.time()))
        cpu1, w1 = cpu_seconds(consumer.pid), time.time()
        rss = memory_kib(consumer.pid)["rss"] / 1024
        load = finish_publishers(pubs, args.duration + 60)
        time.sleep(1)
        consumer.send_signal(signal.SIGTERM)
        got = json.loads(consumer.communicate(timeout=60)[0].strip().splitlines()[-1])
    finally:
        stop_all(pubs, probes)
        if consumer.poll() is None:
            consumer.kill()
        broker.terminate()
        broker.wait(timeout=10)
    window = [(lines, lag) for received, lines, lag in got if w0 <= received <= w1]
    lags = [lag for _, lag in window]
    return {"lines_per_s": round(sum(lines for lines, _ in window) / (w1 - w0)),
            "received": sum(lines for _, lines, _ in got), "offered_lines": load["acked"] + len(probes.sent),
            "lag_p50": None if not lags else round(quantile(lags, 0.5), 3),
            "lag_p99": None if not lags else round(quantile(lags, 0.99), 3),
            "cpu_cores": round((cpu1 - cpu0) / (w1 - w0), 2), "rss_mib": round(rss, 1),
            "publisher_late_max_s": load["late_max"]}


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g} s"


def table(rows: list[tuple[int, dict, dict]]) -> str:
    out = ["| offered lines/s | hub stored /s | dropped (queue full) | not accepted (rejected messages) | "
           "publish → searchable p50 / p99 | hub CPU | hub RSS MiB | bytes/line | bare /s | bare CPU | hub ÷ bare | "
           "publishers late (max) |", "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for rate, hub, bare_run in rows:
        p99 = f"{hub['probes_lost']} of {hub['probes']} lost" if hub["probes_lost"] else seconds(hub["lag_p99"])
        ratio = f"{hub['stored_per_s'] / bare_run['lines_per_s']:.2f}" if bare_run["lines_per_s"] else "-"
        late = max(hub["publisher_late_max_s"], bare_run["publisher_late_max_s"])
        out.append(f"| {rate:,} | {hub['stored_per_s']:,} | {hub['dropped_queue_full']:,} | "
                   f"{hub['not_accepted']:,} ({hub['rejected_messages']:,}) | "
                   f"{seconds(hub['lag_p50'])} / {p99} | {hub['cpu_cores']} | {hub['rss_mib']:.0f} | "
                   f"{hub['bytes_per_line']} | {bare_run['lines_per_s']:,} | {bare_run['cpu_cores']} | {ratio} | "
                   f"{late:g} s |")
    return "\n".join(out)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--publisher":
        publisher(json.loads(sys.argv[2]))
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--bare":
        bare(int(sys.argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[2000, 10000, 30000], help="offered lines/s")
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per run")
    parser.add_argument("--warmup", type=float,
                        help="seconds of it before the measuring window (default 8, at most a quarter of --duration)")
    parser.add_argument("--batch-lines", type=int, default=500, help="the agent's logs.batch_lines")
    parser.add_argument("--batch-interval", type=float, default=2.0, help="the agent's logs.batch_interval")
    parser.add_argument("--publishers", type=int, default=0,
                        help=f"publisher processes (default: one per {PUBLISHER_MAX_RATE:,} lines/s)")
    parser.add_argument("--pool", type=int, default=1_000_000,
                        help="distinct generated lines at most per run (beyond, they repeat with new cursors)")
    parser.add_argument("--probe-poll", type=float, default=0.1, help="seconds between the probe searches")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds the hub may take to catch up after")
    parser.add_argument("--seed-db", help="start each hub from a copy of this logs.db (one benchmarks/logs.py --keep "
                                          "filled: a store at its size) instead of an empty one")
    parser.add_argument("--keep", action="store_true", help="keep the runs' directories (logs.db, hub.log)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = min(8.0, args.duration / 4)
    if not 0 <= args.warmup < args.duration:
        parser.error("--warmup must be shorter than --duration")
    work = Path(tempfile.mkdtemp(prefix="fleetmon-logs-ingest-"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "agent"),
                                                                     os.environ.get("PYTHONPATH")])))
    rows = []
    try:
        for rate in args.rates:
            hub = run_hub(rate, args, env, work)
            print(f"offered {rate}/s, hub: {hub}", file=sys.stderr, flush=True)
            bare_run = run_bare(rate, args, env, work)
            print(f"offered {rate}/s, bare: {bare_run}", file=sys.stderr, flush=True)
            rows.append((rate, hub, bare_run))
    finally:
        if args.keep:
            print(f"runs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    command = " ".join(sys.argv)
    print(f"\ncommand: {command}")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command, "hosts": args.hosts, "duration": args.duration,
                                               "warmup": args.warmup, "runs": [
                                                   {"offered": rate, "hub": hub, "bare": bare_run}
                                                   for rate, hub, bare_run in rows]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
