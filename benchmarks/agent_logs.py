"""Agent footprint while it follows the journal, at 100 and 1,000 lines/s, beside systemd-journal-upload.

A writer thread appends generated entries to a journal directory at a steady rate (every 0.2 s, with
systemd-journal-remote, as the log tests do: tests/agent/journal_files.py), messages of about 100 characters
from a handful of units, mostly info. Side by side, for ``--duration`` after a warm-up:
- the fleetmon agent following that directory (``logs.journal_directory``; every entry kept: priority debug,
  no rate limit, the built-in redactions on), publishing batches to a local mosquitto, its 10 s samples as
  usual;
- the same agent with logs off: the baseline, so that the difference is what following costs;
- systemd-journal-upload, systemd's own shipper (C; no filters, no redaction), following the same directory
  and uploading to a local systemd-journal-remote over HTTP (the receiver is not measured).
CPU is utime+stime of each process and its children (the agent's journalctl) from /proc, as CPU ms per
wall-clock second; RSS and PSS of the process and its children at the end. What each one delivered is
counted: the entries the broker carried (a subscriber here) and those the receiver wrote.

Usage: python benchmarks/agent_logs.py [--rates 100,1000] [--duration 60] [--repeat N] [--python EXE] [--json OUT]
(--python runs the agent on another interpreter, e.g. .venv38/bin/python for JetPack 5's Python 3.8.)
"""

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
from procfs import cpu_seconds, free_port, memory_kib, stop_processes, wait_port

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "agent")]

from fleetmon.protocol.topics import host_topics  # noqa: E402
from tests.agent.journal_files import JournalFiles, entry, journal_remote  # noqa: E402

TICK = 0.2  # seconds between the writer's appends
UPLOAD = "systemd-journal-upload"
UNITS = ("nginx.service", "inference.service", "camera-reader.service", "containerd.service", "sshd.service")
WORDS = ("request", "timeout", "retry", "connection", "upstream", "cache", "frame", "dropped", "camera", "model",
         "batch", "latency", "gpu", "memory", "session", "opened", "closed", "queue", "took", "finished")


def message(rng: random.Random, n: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(9))
    return f"bench {n} {words} id={rng.getrandbits(48):012x} in {rng.random() * 900:.1f} ms from 10.0.{n % 256}.7"


def is_generated(text: str) -> bool:
    """One of the writer's numbered entries (not the journal's first one, written before anything follows)."""
    return text.startswith("bench ") and not text.startswith("bench 0 ")


class Writer:
    """Appends ``rate`` entries a second to the journal until stopped, numbering them."""

    def __init__(self, journal: JournalFiles, rate: int) -> None:
        self.journal, self.rate, self.written = journal, rate, 0
        self._rng = random.Random(7)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.late_ticks = 0  # appends that took longer than a tick: the rate was not held

    def start(self) -> "Writer":
        self._thread.start()
        return self

    def _run(self) -> None:
        per_tick, started = max(1, round(self.rate * TICK)), time.monotonic()
        tick = 0
        while not self._stop.is_set():
            first = self.written + 1
            self.journal.append(entry(message(self._rng, n), priority=6 if n % 20 else 4,
                                      unit=UNITS[n % len(UNITS)], identifier=UNITS[n % len(UNITS)].split(".")[0])
                                for n in range(first, first + per_tick))
            self.written += per_tick
            tick += 1
            wait = started + tick * TICK - time.monotonic()
            if wait < 0:
                self.late_ticks += 1
            self._stop.wait(max(0.0, wait))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.written


class Carried:
    """Counts the generated entries in the log batches the broker carries."""

    def __init__(self, port: int, topic: str) -> None:
        self.entries = 0
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.on_message = self._message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()

    def _message(self, _client, _userdata, msg) -> None:
        batch = json.loads(msg.payload)
        self.entries += sum(1 for e in batch["entries"] if is_generated(e["message"]))

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def tree_cpu(pid: int) -> dict:
    """CPU seconds of a process (its reaped children included) and of each live descendant, by pid."""
    out = {pid: cpu_seconds(pid, children=True)}
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(OSError):  # gone meanwhile: its time is in its parent's reaped children
            out[child.pid] = cpu_seconds(child.pid, children=True)
    return out


def tree_memory(pid: int) -> dict:
    total = {"rss": 0, "pss": 0}
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        for key, value in memory_kib(process.pid).items():
            total[key] += value
    return total


def agent_config(work: Path, name: str, port: int, logs: dict) -> Path:
    path = work / f"{name}.yml"
    path.write_text(json.dumps({"host_id": name, "state_dir": str(work / name), "broker": {
        "url": f"mqtt://127.0.0.1:{port}"}, **({"logs": logs} if logs else {})}))
    return path


def measure(args: argparse.Namespace, rate: int) -> dict:
    """One run at ``rate`` lines/s: the three side by side for ``args.duration`` seconds."""
    work = Path(tempfile.mkdtemp(prefix="fleetmon-bench-logs-"))
    journal = JournalFiles(work / "journal")
    journal.append([entry("bench 0 the journal's first entry", priority=6)])  # journal-upload wants a file
    mqtt_port, http_port = free_port(), free_port()
    (work / "mosquitto.conf").write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "agent"))
    logs = {"enabled": True, "journal_directory": str(journal.directory), "priority": "debug",
            "rate_limit": {"lines": 0}}
    processes, carried, writer = {}, None, None

    def start(name, argv, **kwargs):
        processes[name] = subprocess.Popen(argv, stdout=open(work / f"{name}.log", "wb"), stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, **kwargs)

    try:
        start("mosquitto", [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(work / "mosquitto.conf")])
        wait_port(mqtt_port)
        start("journal-remote", [journal_remote(), f"--listen-http=127.0.0.1:{http_port}", "--split-mode=none",
                                 f"--output={work / 'received.journal'}"])
        wait_port(http_port)
        carried = Carried(mqtt_port, host_topics("bench-logs").logs)
        start("agent, logs", [args.python, "-m", "fleetmon", "agent", "run", "--config",
                              str(agent_config(work, "bench-logs", mqtt_port, logs))], env=env)
        start("agent, no logs", [args.python, "-m", "fleetmon", "agent", "run", "--config",
                                 str(agent_config(work, "bench-plain", mqtt_port, {}))], env=env)
        start(UPLOAD, [upload_tool(), f"--directory={journal.directory}", "--follow",
                       f"--save-state={work / 'upload.state'}", f"--url=http://127.0.0.1:{http_port}"])
        time.sleep(args.warmup)  # the agents connected and following (from now) before the first line
        writer = Writer(journal, rate).start()
        time.sleep(2.0)
        measured = {name: p for name, p in processes.items() if name not in ("mosquitto", "journal-remote")}
        before = {name: tree_cpu(p.pid) for name, p in measured.items()}
        written_before, started = writer.written, time.monotonic()
        time.sleep(args.duration)
        elapsed, written_during = time.monotonic() - started, writer.written - written_before
        results = {}
        for name, process in measured.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited during the run: see {work / (name + '.log')}")
            after = tree_cpu(process.pid)
            used = {pid: seconds - before[name].get(pid, 0.0) for pid, seconds in after.items()}
            children = sum(seconds for pid, seconds in used.items() if pid != process.pid)
            results[name] = dict(cpu_ms_per_s=round(1000 * sum(used.values()) / elapsed, 2),
                                 children_cpu_ms_per_s=round(1000 * children / elapsed, 2), **tree_memory(process.pid))
        written = writer.stop()
        delivered = {"agent, logs": lambda: carried.entries, UPLOAD: lambda: received(work / "received.journal")}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(count() < written for count in delivered.values()):
            time.sleep(0.5)
        for name, count in delivered.items():
            results[name]["delivered"] = count()
    finally:
        if writer is not None:
            writer.stop()
        if carried is not None:
            carried.close()
        stop_processes(processes.values())
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return {"rate": rate, "duration_s": round(elapsed, 1), "written": written, "written_measured": written_during,
            "writer_late_ticks": writer.late_ticks, "results": results}


def received(path: Path) -> int:
    """The generated entries the receiver wrote (journalctl reads its file)."""
    if not path.exists():
        return 0
    done = subprocess.run(["journalctl", f"--file={path}", "--output=cat", "--no-pager", "--quiet"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return sum(1 for line in done.stdout.splitlines() if is_generated(line))


def upload_tool() -> str:
    for candidate in (shutil.which(UPLOAD), f"/lib/systemd/{UPLOAD}", f"/usr/lib/systemd/{UPLOAD}"):
        if candidate and os.path.exists(candidate):
            return candidate
    sys.exit(f"{UPLOAD} is not installed (Debian's systemd-journal-remote: make deps)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,1000", help="lines per second, comma-separated")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per rate; the table shows the medians")
    parser.add_argument("--python", metavar="EXE", default=sys.executable, help="interpreter for the agents")
    parser.add_argument("--keep", action="store_true", help="keep each run's directory (logs, journals)")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    upload_tool()
    runs = [measure(args, int(rate)) for rate in args.rates.split(",") for _ in range(args.repeat)]
    python = subprocess.check_output([args.python, "--version"], text=True).split()[1]
    print(f"Agent on Python {python}; {args.repeat} run(s) of {args.duration:g} s per rate, medians\n")
    print("| lines/s | process | CPU ms/s | of which children | RSS MiB | PSS MiB | delivered |\n"
          "|---|---|---|---|---|---|---|")
    for rate in dict.fromkeys(run["rate"] for run in runs):
        mine = [run for run in runs if run["rate"] == rate]
        for name in mine[0]["results"]:
            rows = [run["results"][name] for run in mine]
            cpu, children, rss, pss = (statistics.median(row[key] for row in rows)
                                       for key in ("cpu_ms_per_s", "children_cpu_ms_per_s", "rss", "pss"))
            shares = ["{}/{}".format(row["delivered"], run["written"]) for row, run in zip(rows, mine)
                      if "delivered" in row]
            print(f"| {rate} | {name} | {cpu:.2f} | {children:.2f} | {rss / 1024:.1f} | {pss / 1024:.1f} | "
                  f"{', '.join(shares) or '-'} |")
    late = sum(run["writer_late_ticks"] for run in runs)
    if late:
        print(f"\nThe writer fell behind its rate in {late} tick(s) of {TICK} s.")
    if args.json:
        Path(args.json).write_text(json.dumps({"agent_python": python, "cpus": os.cpu_count(), "runs": runs},
                                              indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
