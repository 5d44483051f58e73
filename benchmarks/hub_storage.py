"""History store benchmark: write N hosts' history through the Store, then time 24 h queries for one host.

What it does:
- builds, per host, a realistic sample of ~100 series in the agent's wire form (CPU and per-core usage and
  frequency, load, memory, swap, 3 filesystems, 2 disks, 2 interfaces, temperatures, a Jetson-like GPU and
  power rails), and varies it per sample with a random walk over a small set of pre-built variants (building
  100 fresh random values per sample would cost more than storing them);
- writes ``--hours`` of history at ``--interval`` seconds for ``--hosts`` hosts through ``Store.write_sample``
  (the same queue and writer thread the hub uses), time step by time step, as a live fleet would; the tiers
  are merged every ``--rollup-every`` simulated minutes (live, the writer does it every 60 s);
- times ``--queries`` 24 h queries for one random host and one metric with the tier picked automatically
  (1m), and the same range forced onto the raw and 1h tiers, and a labelled metric with a matcher;
- reports on-disk bytes per tier (dbstat: each table with its indexes) per stored value, and what the raw
  tier would cost in other encodings of the same samples.

Usage: python benchmarks/hub_storage.py [--hosts 250] [--hours 24] [--interval 60] [--queries 300]
       [--db PATH] [--json OUT]
The default (250 hosts) runs in under 2 minutes on a 2-core machine; the issue's 1,000 hosts x 24 h
(--hosts 1000, 1.44 M host-samples, 2.4 GiB) takes about 7 minutes there, almost all of it writing.
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

import orjson  # noqa: E402

from fleetmon.hub.store import HOUR, MINUTE, RAW, Store, StoreConfig  # noqa: E402

VARIANTS = 16  # pre-built samples per host, cycled


def host_sample(rng: random.Random, jetson: bool) -> dict:
    """One host's sample in the wire form: ~100 series."""
    cores = 6 if jetson else 8
    m: dict = {"fleetmon_cpu_usage_ratio": round(rng.uniform(0.02, 0.9), 4)}
    m["fleetmon_cpu_core_usage_ratio"] = [[{"core": str(c)}, round(rng.uniform(0, 1), 4)] for c in range(cores)]
    m["fleetmon_cpu_core_frequency_hertz"] = [[{"core": str(c)}, rng.choice((1.2e9, 1.9e9, 2.4e9))]
                                              for c in range(cores)]
    m["fleetmon_cpu_cores"] = cores
    for name in ("fleetmon_load1", "fleetmon_load5", "fleetmon_load15"):
        m[name] = round(rng.uniform(0, cores), 2)
    total = 16 * 2**30
    used = int(total * rng.uniform(0.2, 0.9))
    m.update({"fleetmon_memory_total_bytes": total, "fleetmon_memory_available_bytes": total - used,
              "fleetmon_memory_used_bytes": used, "fleetmon_memory_usage_ratio": round(used / total, 4),
              "fleetmon_swap_total_bytes": 2**31, "fleetmon_swap_used_bytes": rng.randrange(2**26),
              "fleetmon_swap_usage_ratio": round(rng.uniform(0, 0.05), 4)})
    mounts = [{"mount": "/", "device": "/dev/nvme0n1p1", "fstype": "ext4"},
              {"mount": "/data", "device": "/dev/sda1", "fstype": "xfs"},
              {"mount": "/boot", "device": "/dev/nvme0n1p2", "fstype": "vfat"}]
    size = 512 * 2**30
    fs_used = [int(size * rng.uniform(0.1, 0.95)) for _ in mounts]
    m["fleetmon_filesystem_size_bytes"] = [[lab, size] for lab in mounts]
    m["fleetmon_filesystem_used_bytes"] = [[lab, u] for lab, u in zip(mounts, fs_used, strict=True)]
    m["fleetmon_filesystem_free_bytes"] = [[lab, size - u] for lab, u in zip(mounts, fs_used, strict=True)]
    m["fleetmon_filesystem_usage_ratio"] = [[lab, round(u / size, 4)] for lab, u in zip(mounts, fs_used, strict=True)]
    for name in ("disk_read_bytes_total", "disk_written_bytes_total", "disk_reads_completed_total",
                 "disk_writes_completed_total", "disk_io_time_seconds_total"):
        m[f"fleetmon_{name}"] = [[{"device": d}, rng.randrange(2**40)] for d in ("nvme0n1", "sda")]
    for name in ("receive_bytes", "transmit_bytes", "receive_packets", "transmit_packets", "receive_errors",
                 "transmit_errors", "receive_drops", "transmit_drops"):
        m[f"fleetmon_network_{name}_total"] = [[{"interface": i}, rng.randrange(2**40)] for i in ("eth0", "wlan0")]
    m["fleetmon_temperature_celsius"] = [[{"zone": z}, round(rng.uniform(30, 80), 1)]
                                         for z in ("cpu", "gpu", "soc0", "soc1", "tj", "board")]
    m["fleetmon_gpu_usage_ratio"] = round(rng.uniform(0, 1), 3)
    m["fleetmon_gpu_frequency_hertz"] = rng.choice((3.06e8, 6.12e8, 9.18e8))
    m["fleetmon_gpu_memory_used_bytes"] = rng.randrange(2**33)
    m["fleetmon_power_watts"] = [[{"rail": r}, round(rng.uniform(0.5, 15), 3)]
                                 for r in ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC", "VDD_DDR")]
    m["fleetmon_processes"] = rng.randrange(150, 600)
    m["fleetmon_threads"] = rng.randrange(500, 3000)
    m["fleetmon_uptime_seconds"] = rng.randrange(10**7)
    m["fleetmon_context_switches_total"] = rng.randrange(2**40)
    m["fleetmon_interrupts_total"] = rng.randrange(2**40)
    m["fleetmon_entropy_bits"] = 256
    m["fleetmon_file_descriptors_open"] = rng.randrange(1000, 20000)
    m["fleetmon_agent_sample_duration_seconds"] = round(rng.uniform(0.002, 0.02), 4)
    m["fleetmon_agent_spool_samples"] = 0
    m["fleetmon_agent_publish_errors_total"] = rng.randrange(5)
    return m


def series_count(sample: dict) -> int:
    return sum(len(v) if isinstance(v, list) else 1 for v in sample.values())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def tier_bytes(path: str) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(path)
    sizes = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    conn.close()
    out: dict[str, int] = {}
    for name, size in sizes.items():
        table = owner.get(name) or name.removeprefix("sqlite_autoindex_").rsplit("_", 1)[0]
        out[table] = out.get(table, 0) + size
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--rollup-every", type=int, default=10, help="simulated minutes between tier merges")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--db", help="database path (default: a temporary directory, removed at the end)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="fleetmon-storage-")
        args.db = os.path.join(tmp.name, "hub.db")
    rng = random.Random(42)
    variants = [[host_sample(rng, jetson=h % 3 == 0) for _ in range(VARIANTS)] for h in range(args.hosts)]
    names = [f"host-{h:04d}" for h in range(args.hosts)]
    per_sample = statistics.mean(series_count(v[0]) for v in variants)

    steps = int(args.hours * 3600 / args.interval)
    end = time.time()
    start = end - steps * args.interval
    config = StoreConfig(rollup_interval=10**9, prune_interval=10**9, queue_size=4 * args.hosts + 10,
                         batch_size=2000, flush_interval=0.05)
    store = Store(args.db, config)
    store.start()
    every = max(1, int(args.rollup_every * 60 / args.interval))
    print(f"writing {steps} steps x {args.hosts} hosts x {per_sample:.0f} series ...", file=sys.stderr, flush=True)
    began = time.perf_counter()
    for step in range(steps):
        ts = start + step * args.interval
        for h in range(args.hosts):
            sample = variants[h][(step + h) % VARIANTS]
            while not store.write_sample(names[h], 1, step + 1, ts + (h % 50) * 0.01, sample):
                time.sleep(0.001)  # the benchmark paces itself instead of dropping
        if (step + 1) % every == 0 or step == steps - 1:
            store.flush()
        if step % max(1, steps // 20) == 0:
            print(f"  step {step}/{steps}  {time.perf_counter() - began:.0f}s", file=sys.stderr, flush=True)
    write_seconds = time.perf_counter() - began
    written = store.counters.samples_written
    assert written == steps * args.hosts, store.counters  # a full queue made the loop above wait, not drop

    def timed(host_pick, metric, matchers, tier):
        times = []
        points = 0
        for _ in range(args.queries):
            host = host_pick()
            t = time.perf_counter()
            found = store.query(host, metric, matchers, end - 86400, end, tier=tier)
            times.append(time.perf_counter() - t)
            points += sum(len(s.points) for s in found)
        return times, points / args.queries

    def pick():
        return names[rng.randrange(args.hosts)]

    query_rows = []
    for label, metric, matchers, tier in (
            ("cpu, auto tier", "fleetmon_cpu_usage_ratio", {}, None),
            ("cpu, raw forced", "fleetmon_cpu_usage_ratio", {}, RAW),
            ("cpu, 1h forced", "fleetmon_cpu_usage_ratio", {}, HOUR),
            ("filesystem{mount=\"/\"}, auto", "fleetmon_filesystem_usage_ratio", {"mount": "/"}, None),
            ("per-core usage (6-8 series), auto", "fleetmon_cpu_core_usage_ratio", {}, None)):
        times, points = timed(pick, metric, matchers, tier)
        query_rows.append({"query": label, "tier": tier or MINUTE, "points": points,
                           "p50_ms": 1000 * percentile(times, 0.5), "p99_ms": 1000 * percentile(times, 0.99)})
    store.close()

    sizes = tier_bytes(args.db)
    values = written * per_sample
    minute_buckets = args.hosts * per_sample * len({int((start + s * args.interval) // 60) for s in range(steps)})
    hour_buckets = args.hosts * per_sample * len({int((start + s * args.interval) // 3600) for s in range(steps)})
    tiers = [("raw", sizes.get("raw", 0), values), ("1m", sizes.get("rollup_1m", 0), minute_buckets),
             ("1h", sizes.get("rollup_1h", 0), hour_buckets)]
    sample_json = [orjson.dumps(v[0]) for v in variants[:200]]
    encodings = {
        "wire JSON (orjson)": statistics.mean(len(b) for b in sample_json) / per_sample,
        "wire JSON, zlib -6": statistics.mean(len(zlib.compress(b, 6)) for b in sample_json) / per_sample,
        "packed float64 + layout id (stored)": sizes.get("raw", 0) / values,
    }
    file_bytes = os.path.getsize(args.db)

    print(f"\n### History store: {args.hosts} hosts x {args.hours:g} h at {args.interval:g} s, "
          f"{per_sample:.0f} series per sample\n")
    print(f"- write: {written:,} host-samples ({values:,.0f} values) in {write_seconds:.1f} s = "
          f"**{written / write_seconds:,.0f} host-samples/s** ({values / write_seconds:,.0f} values/s), "
          f"queue, writer thread, raw batches and tier merges included; time in write transactions "
          f"{store.counters.write_seconds_total:.1f} s")
    print(f"- database file: {file_bytes / 2**20:,.0f} MiB\n")
    print("| query (24 h, one host) | tier | points | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|")
    for row in query_rows:
        print(f"| {row['query']} | {row['tier']} | {row['points']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |")
    print("\n| tier | on disk (table + indexes) | stored values | bytes per value | bytes per ingested sample value |")
    print("|---|---:|---:|---:|---:|")
    for name, size, count in tiers:
        print(f"| {name} | {size / 2**20:,.1f} MiB | {count:,.0f} | {size / count:.2f} | {size / values:.2f} |")
    print("\n| raw encoding of one sample | bytes per value |")
    print("|---|---:|")
    for name, per in encodings.items():
        print(f"| {name} | {per:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "hosts": args.hosts, "hours": args.hours, "interval": args.interval, "series": per_sample,
            "write_seconds": write_seconds, "host_samples_per_s": written / write_seconds,
            "queries": query_rows, "tiers": {n: {"bytes": s, "values": c} for n, s, c in tiers},
            "encodings": encodings, "file_bytes": file_bytes}, indent=2))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
