"""The hub's own cost per message, without a broker: recorded fleet traffic replayed through its ingest.

`fleetmon simulate`'s own code (its fleet, value model and payload templates) plays --hosts hosts sampling
once a second for --cycles seconds into a recorder instead of a broker: births, samples, check results and
edge alerts, exactly the bytes a broker would deliver. The hub's parts (fleetmon.hub.parts, as `fleetmon hub
run` builds them) then take every message through the same call paho's network thread makes
(``Intake.take``), one cycle as fast as it can, then waiting until the writer has committed it (so the
backlog, and with it the hub's heap, stays what a rate below the writer's ceiling leaves); the first
--warmup cycles go first and are not counted (hosts and series are new there). Measured as CPU time, not
wall time, so other load on the machine moves the figures less (on this shared 2-core machine still about
±20% run to run: take the median of several, and compare builds in alternating runs):

- ingest thread: messages per CPU second of the thread that calls ``take`` (decode, fleet state, delivery
  tracking, queueing the history write);
- hub process: messages per CPU second of the whole hub process meanwhile (the ingest thread plus the
  store's threads that ship the writes to the writer process);
- writer: host-samples per CPU second of the history writer process, from the first measured message until
  the last is committed.

``--writer-in-process`` measures only the writer's batches, in this process (no pipe, no queue);
``--profile ingest`` prints cProfile's top functions of the ingest loop, ``--profile writer`` those of
the writer's batches run in this process.

Usage: .venv/bin/python benchmarks/hub_ingest_replay.py [--hosts 1000] [--cycles 14] [--warmup 2]
       [--repeat 3] [--writer-in-process] [--profile ingest|writer]
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from procfs import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

from fleetmon.hub.config import parse_config  # noqa: E402
from fleetmon.hub.parts import build_parts  # noqa: E402
from fleetmon.simulate.runner import SimOptions, Simulation  # noqa: E402


class Recorder:
    """Stands where the simulator's connection pool stands: keeps every message instead of sending it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.messages: list[tuple[str, bytes]] = []
        self.sent, self.errors, self.reconnects = 0, {}, 0

    def start(self) -> None:
        pass

    def publish(self, connection: int, topic: str, payload: bytes) -> bool:
        self.messages.append((topic, payload))
        self.sent += 1
        return True

    set_status = publish

    def service(self, timeout: float = 0.0) -> None:
        time.sleep(timeout)

    def close(self) -> None:
        pass


def record(hosts: int, cycles: int, seed: int) -> list[list[tuple[str, bytes]]]:
    """The traffic of ``hosts`` simulated hosts over ``cycles`` one-second intervals, cut into cycles (the
    births with the first): takes ``cycles`` seconds, since the simulator keeps its own schedule."""
    options = SimOptions(hosts=hosts, interval_s=1.0, duration_s=float(cycles), seed=seed, qos=0,
                         leave_retained=True)
    simulation = Simulation(options)
    simulation.pool.close()
    recorder = simulation.pool = Recorder(simulation.pool.size)
    simulation.run()
    cut, current, seen = [], [], set()
    for topic, payload in recorder.messages:
        if topic.endswith("/metrics"):
            host = topic.rsplit("/", 2)[1]
            if host in seen:  # this host's next interval: a new cycle begins
                cut.append(current)
                current, seen = [], set()
            seen.add(host)
        current.append((topic, payload))
    cut.append(current)
    return cut


def replay(cycles: list[list[tuple[str, bytes]]], warmup: int, queue_size: int, profile: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="fleetmon-replay-") as work:
        config = parse_config({"db": os.path.join(work, "history.db"), "log_level": "warning",
                               "history": {"queue_size": queue_size}})
        parts = build_parts(config)
        history = parts.history
        history.start()
        try:
            for cycle in cycles[:warmup]:
                _take_cycle(parts, cycle)
            measured = cycles[warmup:]
            messages = sum(map(len, measured))
            samples = sum(1 for cycle in measured for topic, _ in cycle if topic.endswith("/metrics"))
            writer_pid = history._process.pid
            profiler = cProfile.Profile() if profile == "ingest" else None
            writer0, process0 = cpu_seconds(writer_pid), time.process_time()
            thread = sum(_take_cycle(parts, cycle, profiler) for cycle in measured)
            process = time.process_time() - process0
            writer = cpu_seconds(writer_pid) - writer0
            figures = {"messages": messages, "samples": samples,
                       "ingest_per_cpu_s": round(messages / thread),
                       "hub_process_per_cpu_s": round(messages / process),
                       "writer_samples_per_cpu_s": round(samples / writer) if writer else None,
                       "dropped": history.counters.samples_dropped,
                       "written": history.counters.samples_written}
            if profiler is not None:
                figures["profile"] = _top(profiler)
            return figures
        finally:
            history.close()
            for close in (parts.deliverer.stop, parts.journal.close, parts.authority.close, parts.incidents.shutdown,
                          parts.maintenance.close, parts.sla.close, parts.logs.close):
                close()


def _take_cycle(parts, cycle: list[tuple[str, bytes]], profiler: cProfile.Profile | None = None) -> float:
    """One interval's messages through the intake (its CPU seconds are returned), then what the hub does
    meanwhile on its other threads: the writer catches up (as it does below its ceiling: the hub's backlog,
    and so its heap, stays what a steady rate leaves) and the delivery acks learn what is committed (the
    rules loop)."""
    take, history = parts.intake.take, parts.history
    started = time.thread_time()
    if profiler is not None:
        profiler.enable()
    for topic, payload in cycle:
        take(topic, payload, time.time())
    if profiler is not None:
        profiler.disable()
    spent = time.thread_time() - started
    with history._lock:
        last = history._position
    while history.durable_position < last:
        time.sleep(0.005)
    with parts.delivery_lock:
        parts.delivery.committed(history.durable_position)
        parts.delivery.tick(time.time())
    return spent


def writer_in_process(cycles: list[list[tuple[str, bytes]]], warmup: int, profile: bool) -> dict:
    """The writer's batches in this process (under cProfile when asked): the samples the store would have
    queued, written in batches of 2,000; host-samples per CPU second of this thread."""
    from fleetmon.hub.ingest import Message, decode
    from fleetmon.hub.store.batch import write_batch
    from fleetmon.hub.store.counters import Counters
    from fleetmon.hub.store.items import SAMPLE
    from fleetmon.hub.store.openfile import open_file

    items = []
    for cycle in cycles:
        decoded = [decode(topic, payload, time.time(), "fleetmon/v1", 1 << 20) for topic, payload in cycle
                   if topic.endswith("/metrics")]
        items.append([(SAMPLE, m.host, m.session, m.seq, m.ts, m.raw, False) for m in decoded
                      if isinstance(m, Message)])
    with tempfile.TemporaryDirectory(prefix="fleetmon-replay-") as work:
        file, _ = open_file(os.path.join(work, "history.db"), 10.0)
        counters = Counters()
        try:
            for batch in items[:warmup]:
                write_batch(file, batch, counters)
            measured = [item for batch in items[warmup:] for item in batch]
            profiler = cProfile.Profile() if profile else None
            started = time.thread_time()
            if profiler is not None:
                profiler.enable()
            for start in range(0, len(measured), 2000):
                write_batch(file, measured[start:start + 2000], counters)
            if profiler is not None:
                profiler.disable()
            spent = time.thread_time() - started
        finally:
            file.close()
    figures = {"samples": len(measured), "writer_in_process_samples_per_cpu_s": round(len(measured) / spent)}
    if profiler is not None:
        figures["profile"] = _top(profiler)
    return figures


def _top(profiler: cProfile.Profile, count: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(count)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=14, help="seconds of traffic recorded (default 14)")
    parser.add_argument("--warmup", type=int, default=2, help="cycles replayed first and not counted")
    parser.add_argument("--repeat", type=int, default=3, help="replays; the median of each figure is printed")
    parser.add_argument("--queue-size", type=int, default=100_000,
                        help="the history queue's bound: large, so that nothing measured is dropped")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", choices=("ingest", "writer"))
    parser.add_argument("--writer-in-process", action="store_true",
                        help="only the writer's batches, in this process (as --profile writer, unprofiled)")
    args = parser.parse_args()
    cycles = record(args.hosts, args.cycles, args.seed)
    print(f"recorded {sum(map(len, cycles))} messages in {len(cycles)} cycles", file=sys.stderr)
    if args.profile == "writer" or args.writer_in_process:
        runs = [writer_in_process(cycles, args.warmup, args.profile == "writer")
                for _ in range(1 if args.profile else args.repeat)]
        if args.profile:
            print(runs[0].pop("profile"))
        print(json.dumps({k: statistics.median(run[k] for run in runs) for k in runs[0]}))
        return 0
    runs = []
    for _ in range(1 if args.profile else args.repeat):
        runs.append(replay(cycles, args.warmup, args.queue_size, args.profile))
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "profile"}), file=sys.stderr)
    if args.profile:
        print(runs[0].pop("profile"))
    keys = [k for k in runs[0] if k != "profile"]
    print(json.dumps({k: statistics.median(run[k] for run in runs) if runs[0][k] is not None else None
                      for k in keys}))
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "ingest"
    sys.exit(main())
