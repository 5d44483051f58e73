"""Hub ingest throughput against a local mosquitto, beside a bare paho subscriber (the Python ceiling).

For each offered rate R (host-samples per second), `fleetmon simulate` publishes R hosts sampling once a
second (QoS 0, split over enough simulator processes) for --duration seconds; first the hub ingests it,
then, with the same load, the bare subscriber of benchmarks/bare_subscriber.py. Reported per rate and
consumer: the sustained rate over the measuring window (after --warmup), lag p50/p99 (receive time minus
the sample's timestamp; the hub's from its own lag histogram, /api/v1/hub, so bucket bounds), CPU in
cores and RSS at the end.

Usage: python benchmarks/hub_ingest.py [--rates 2000 5000 10000] [--duration 30] [--warmup 8]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from procfs import cpu_seconds, free_port, memory_kib, wait_port

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR_MAX_RATE = 9000  # host-samples/s one simulate process sustains here at QoS 0, with headroom


def rss_mib(pid: int) -> float:
    return memory_kib(pid)["rss"] / 1024


def simulators(port: int, rate: int, duration: float, env: dict) -> list[subprocess.Popen]:
    count = max(1, -(-rate // SIMULATOR_MAX_RATE))
    per = rate // count
    return [subprocess.Popen([sys.executable, "-m", "fleetmon", "simulate", "--hosts", str(per), "--interval", "1",
                              "--duration", str(duration), "--qos", "0", "--broker", f"mqtt://127.0.0.1:{port}",
                              "--host-prefix", f"s{i}", "--seed", str(i + 1)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(count)]


def hub_figures(port: int) -> dict:
    """The hub's own counters (/api/v1/hub: cheap, unlike /metrics with every host's series)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/hub", timeout=10) as response:
        return json.loads(response.read())


def lag_quantile(before: dict, after: dict, q: float) -> float | None:
    """Upper bound of the lag bucket holding quantile q of the samples ingested between two readings."""
    counts = [(float(bound), after[bound] - before.get(bound, 0)) for bound in after]
    total = sum(count for _, count in counts)
    cumulative = 0
    for bound, count in counts:
        cumulative += count
        if total and cumulative >= q * total:
            return bound
    return None


def run_hub(port: int, rate: int, args, env: dict, work: Path) -> dict:
    http = free_port()
    config = work / f"hub-{rate}.yml"
    config.write_text(json.dumps({"broker": {"url": f"mqtt://127.0.0.1:{port}"}, "listen": f"127.0.0.1:{http}",
                                  "db": str(work / f"hub-{rate}.db"), "log_level": "warning"}))
    hub = subprocess.Popen([sys.executable, "-m", "fleetmon", "hub", "run", "--config", str(config)], env=env,
                           stdout=open(work / f"hub-{rate}.log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_port(http)
        time.sleep(2)
        sims = simulators(port, rate, args.duration, env)
        time.sleep(args.warmup)
        before, cpu0, t0 = hub_figures(http), cpu_seconds(hub.pid), time.monotonic()
        time.sleep(args.duration - args.warmup - 2)
        after = hub_figures(http)
        elapsed = time.monotonic() - t0
        lag0, lag1 = before["ingest_lag_seconds"]["buckets"], after["ingest_lag_seconds"]["buckets"]
        result = {"rate": round((after["samples_ingested"] - before["samples_ingested"]) / elapsed),
                  "cpu_cores": round((cpu_seconds(hub.pid) - cpu0) / elapsed, 2),
                  "rss_mib": round(rss_mib(hub.pid), 1), "lag_p50_le": lag_quantile(lag0, lag1, 0.5),
                  "lag_p99_le": lag_quantile(lag0, lag1, 0.99), "db_dropped": after["db"]["samples_dropped"],
                  "db_written": after["db"]["samples_written"] - before["db"]["samples_written"]}
        for sim in sims:
            sim.wait(timeout=args.duration + 30)
        return result
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=60)


def run_bare(port: int, rate: int, args, env: dict) -> dict:
    bare = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "bare_subscriber.py"), str(port)], env=env,
                            stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    sims = simulators(port, rate, args.duration, env)
    time.sleep(args.warmup)
    cpu0, t0, wall0 = cpu_seconds(bare.pid), time.monotonic(), time.time()
    time.sleep(args.duration - args.warmup - 2)
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(bare.pid) - cpu0) / elapsed
    rss = rss_mib(bare.pid)
    for sim in sims:
        sim.wait(timeout=args.duration + 30)
    bare.send_signal(signal.SIGTERM)
    report = json.loads(bare.communicate(timeout=60)[0])
    window = [t for t in report["times"] if wall0 <= t <= wall0 + elapsed]
    return {"rate": round(len(window) / elapsed), "cpu_cores": round(cpu, 2), "rss_mib": round(rss, 1),
            "lag_p50": round(report["lag_p50"], 3), "lag_p99": round(report["lag_p99"], 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[2000, 5000, 10000])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleetmon-ingest-"))
    port = free_port()
    (work / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                                         "max_queued_messages 100000\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "agent"))
    mosquitto_bin = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    mosquitto = subprocess.Popen([mosquitto_bin, "-c", str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_port(port)
        for rate in args.rates:
            hub = run_hub(port, rate, args, env, work)
            bare = run_bare(port, rate, args, env)
            rows.append((rate, hub, bare))
            print(f"offered {rate}/s: hub {hub}, bare {bare}", file=sys.stderr)
    finally:
        mosquitto.terminate()
        mosquitto.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    print("| offered /s | hub /s | hub lag p50 / p99 (bucket ≤) | hub CPU | hub RSS MiB | bare /s | bare lag p50 / p99 "
          "| bare CPU | hub ÷ bare |\n|---|---|---|---|---|---|---|---|---|")
    for rate, hub, bare in rows:
        print(f"| {rate} | {hub['rate']} | {hub['lag_p50_le']} / {hub['lag_p99_le']} s | {hub['cpu_cores']} | "
              f"{hub['rss_mib']} | {bare['rate']} | {bare['lag_p50']} / {bare['lag_p99']} s | {bare['cpu_cores']} | "
              f"{hub['rate'] / bare['rate']:.2f} |" if bare["rate"] else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
