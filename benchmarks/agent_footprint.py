"""Footprint of the fleetmon agent beside prometheus-node-exporter and glances, measured in one run.

All three sample the same machine once a second for the same duration:
- the agent at `interval: 1s` publishing to a local mosquitto (default collectors: system; Jetson/NVML
  are absent here), optionally with the tegrastats replay source to include the Jetson parser;
- node_exporter (default collectors) scraped once a second over HTTP by this script;
- glances in quiet mode refreshing every second (`glances -q -t 1`).
CPU is utime+stime from /proc/<pid>/stat (children included, so check subprocesses count), reported as
CPU milliseconds per wall-clock second; RSS and PSS from /proc/<pid>/smaps_rollup at the end.
The agent runs as a deployed host runs it (agent_install.py): a venv with requirements/agent.txt and fleetmon,
byte-compiled, started with the unit template's ExecStart and Environment=.

Usage: python benchmarks/agent_footprint.py [--duration 60] [--repeat N] [--jetson-replay FILE] [--python EXE]
       [--source DIR] [--json OUT]
(--python runs the agent on another interpreter, e.g. .venv38/bin/python for JetPack 5's Python 3.8, whose
environment must hold the agent's requirements; --source installs fleetmon from another checkout, to compare.)
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from agent_install import install, unit_command
from procfs import cpu_seconds, free_port, memory_kib, stop_processes, wait_port

ROOT = Path(__file__).resolve().parent.parent


def scrape_loop(url: str, stop: threading.Event, counter: list) -> None:
    while not stop.is_set():
        started = time.monotonic()
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
        counter[0] += 1
        stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def measure(args: argparse.Namespace) -> dict:
    """One run: the three side by side for ``args.duration`` seconds."""
    work = Path(tempfile.mkdtemp(prefix="fleetmon-bench-"))
    mqtt_port, exporter_port = free_port(), free_port()
    (work / "mosquitto.conf").write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n")
    jetson = ({"jetson": {"source": "replay", "replay_file": os.path.abspath(args.jetson_replay)}}
              if args.jetson_replay else {})
    (work / "agent.yml").write_text(json.dumps({
        "host_id": "bench", "interval": 1, "state_dir": str(work / "state"),
        "broker": {"url": f"mqtt://127.0.0.1:{mqtt_port}"}, "collectors": jetson}))
    install(args.python, work / "venv", Path(args.source))
    agent = unit_command(work / "venv", work / "agent.yml")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    processes = {}
    stop, scrapes = threading.Event(), [0]
    try:
        processes["mosquitto"] = subprocess.Popen([mosquitto, "-c", str(work / "mosquitto.conf")],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(mqtt_port)
        processes["fleetmon agent"] = subprocess.Popen(agent.argv, env=agent.env, stdout=open(work / "agent.log", "wb"),
                                                       stderr=subprocess.STDOUT)
        processes["node_exporter"] = subprocess.Popen(
            ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{exporter_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes["glances"] = subprocess.Popen(["glances", "-q", "-t", "1"], stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        wait_port(exporter_port)
        scraper = threading.Thread(target=scrape_loop, args=(f"http://127.0.0.1:{exporter_port}/metrics",
                                                             stop, scrapes), daemon=True)
        scraper.start()
        time.sleep(args.warmup)
        measured = {name: p for name, p in processes.items() if name != "mosquitto"}
        start_cpu = {name: cpu_seconds(p.pid, children=True) for name, p in measured.items()}
        started = time.monotonic()
        time.sleep(args.duration)
        elapsed = time.monotonic() - started
        results = {}
        for name, process in measured.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited during the run")
            cpu = cpu_seconds(process.pid, children=True) - start_cpu[name]
            results[name] = dict(cpu_ms_per_s=round(1000 * cpu / elapsed, 2), **memory_kib(process.pid))
    finally:
        stop.set()
        stop_processes(processes.values())
        shutil.rmtree(work, ignore_errors=True)
    return {"duration_s": round(elapsed, 1), "node_exporter_scrapes": scrapes[0], "results": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs; the table shows the median of each figure")
    parser.add_argument("--jetson-replay", metavar="FILE")
    parser.add_argument("--python", metavar="EXE", default=sys.executable, help="interpreter for the agent")
    parser.add_argument("--source", metavar="DIR", default=str(ROOT), help="fleetmon checkout to install")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    for tool in ("mosquitto", "prometheus-node-exporter", "glances"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            sys.exit(f"{tool} is not installed (make bench installs it)")
    runs = [measure(args) for _ in range(args.repeat)]
    names = list(runs[0]["results"])
    median = {name: {key: statistics.median(run["results"][name][key] for run in runs)
                     for key in ("cpu_ms_per_s", "rss", "pss")} for name in names}
    report = {"runs": runs, "median": median, "cpus": os.cpu_count(), "duration_s": args.duration,
              "agent_python": subprocess.check_output([args.python, "--version"], text=True).split()[1],
              "jetson_replay": bool(args.jetson_replay)}
    print("| process | CPU ms/s | RSS MiB | PSS MiB |\n|---|---|---|---|")
    for name, row in median.items():
        print("| {} | {:.2f} | {:.1f} | {:.1f} |".format(name, row["cpu_ms_per_s"], row["rss"] / 1024,
                                                       row["pss"] / 1024))
    print("\nMedian of {} run(s) of {:g} s after {:g} s warm-up; agent on Python {}{}; CPU ms/s per run: {}".format(
        args.repeat, args.duration, args.warmup, report["agent_python"],
        ", Jetson replay" if args.jetson_replay else "",
        "; ".join(", ".join("{} {}".format(n, run["results"][n]["cpu_ms_per_s"]) for n in names) for run in runs)))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
