"""Where the fleetmon agent's memory goes, on the interpreter it is given.

Two views of the agent as a deployed host runs it (agent_install.py: the role's venv, the unit's ExecStart
and Environment=):
1. Imports step by step: a fresh interpreter of that venv, started as the unit starts it, imports what the
   agent imports in a fixed order and reads /proc/self/smaps_rollup after each step; a step's figure is what
   it adds to the ones before it, so a module shared by two steps counts in the first. Then, each from the
   same start, what the parts the agent imports only when configured would add (checks, log shipping, a
   Jetson source, NVML where nvidia-ml-py is installed).
2. The running agent (interval 1 s, default collectors, publishing to a local mosquitto) after
   ``--duration`` seconds: its /proc/<pid>/smaps by mapping (the interpreter, extension modules, libssl and
   libcrypto, other libraries, the malloc heap, anonymous memory split into thread stacks, glibc's
   per-thread malloc arenas and the rest: pymalloc arenas and large blocks) and its threads.

Usage: python benchmarks/agent_memory.py [--python EXE] [--duration 30] [--source DIR] [--extra DIST]... [--json OUT]
(--extra adds a distribution of EXE's environment to the agent's venv, e.g. nvidia-ml-py for the NVML line.)
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from agent_install import ROOT, install, unit_command
from procfs import free_port, stop_processes, wait_port

#: (label, what it imports). Third-party and stdlib first, in the order that names who pulls what in.
STEPS = [
    ("the CLI's stdlib: logging, json, argparse, typing, re", ["logging", "json", "argparse", "typing", "re"]),
    ("PyYAML", ["yaml"]),
    ("psutil", ["psutil"]),
    ("ssl (libssl, libcrypto)", ["ssl"]),
    ("urllib.request: http.client, email (paho imports it)", ["urllib.request"]),
    ("paho-mqtt, the rest", ["paho.mqtt.client"]),
    ("dataclasses, inspect (fleetmon's config classes)", ["dataclasses"]),
    ("fleetmon.protocol", ["fleetmon.protocol.messages", "fleetmon.protocol.thresholds", "fleetmon.protocol.catalog",
                           "fleetmon.protocol.evaluator", "fleetmon.protocol.check_results",
                           "fleetmon.protocol.metricset", "fleetmon.protocol.topics"]),
    ("fleetmon.mqtt", ["fleetmon.mqtt.broker", "fleetmon.mqtt.link"]),
    ("agent config parsing (checks, logs, thresholds)", ["fleetmon.agent.config"]),
    ("agent daemon, spool, system collector", ["fleetmon.agent.daemon", "fleetmon.agent.collectors.system"]),
    ("fleetmon.cli (every command's parser)", ["fleetmon.cli"]),
]
#: What the agent imports only when its config asks for it (or, for NVML, when the package is there).
OPTIONAL = [
    ("checks (a check configured)", ["fleetmon.agent.checks.probes", "fleetmon.agent.checks.recovery",
                                     "concurrent.futures"]),
    ("log shipping (logs.enabled)", ["fleetmon.agent.logs.shipper"]),
    ("Jetson collector (a Jetson source here)", ["fleetmon.agent.collectors.jetson.collector"]),
    ("NVML (nvidia-ml-py installed)", ["fleetmon.agent.collectors.nvml", "pynvml"]),
]

# Imports nothing itself before its first reading (sys is built in): the steps come one per argument,
# "label=module,module", and each reading is a line "label<TAB>rss<TAB>pss<TAB>modules" (KiB), or the
# import error in place of the figures.
_CHILD = """
import sys
def reading(label):
    fields = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                fields[key] = rest.split()[0]
    print(label, fields["Rss"], fields["Pss"], len(sys.modules), sep="\\t", flush=True)
reading("interpreter and site")
for step in sys.argv[1:]:
    label, _, modules = step.rpartition("=")
    try:
        for name in modules.split(","):
            __import__(name)
    except ImportError as exc:
        print(label, exc, sep="\\t", flush=True)
    else:
        reading(label)
"""


def import_steps(launch_prefix: List[str], env: Dict[str, str], work: Path, steps) -> List[dict]:
    script = work / "steps.py"
    script.write_text(_CHILD)
    out = subprocess.check_output([*launch_prefix, str(script), *(f"{label}={','.join(modules)}"
                                                                  for label, modules in steps)],
                                  env=env, text=True)
    rows = []
    for line in out.splitlines():
        label, *figures = line.split("\t")
        if len(figures) == 3:
            rows.append({"step": label, "rss": int(figures[0]), "pss": int(figures[1]), "modules": int(figures[2])})
        else:
            rows.append({"step": label, "rss": None, "pss": None, "modules": figures[0]})
    return rows


def interpreter_prefix(argv: List[str], venv: Path) -> List[str]:
    """The unit's command up to the agent's script: the interpreter and its flags."""
    script = str(venv / "bin" / "fleetmon")
    index = argv.index(script)
    return [str(venv / "bin" / "python")] if index == 0 else argv[:index]


def classify(smaps: str) -> Dict[str, Dict[str, int]]:
    """RSS/PSS (KiB) by kind of mapping, from /proc/<pid>/smaps."""
    maps: List[dict] = []
    for line in smaps.splitlines():
        head = line.split(None, 5)
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            start, end = (int(x, 16) for x in head[0].split("-"))
            maps.append({"start": start, "end": end, "perms": head[1], "name": head[5] if len(head) > 5 else ""})
        elif head[0] in ("Rss:", "Pss:"):
            maps[-1][head[0][:-1].lower()] = int(head[1])
    kinds: Dict[str, Dict[str, int]] = {}
    for i, m in enumerate(maps):
        kind = _kind(m, maps[i - 1] if i else None, maps[i + 1] if i + 1 < len(maps) else None)
        row = kinds.setdefault(kind, {"rss": 0, "pss": 0, "mappings": 0})
        row["rss"] += m.get("rss", 0)
        row["pss"] += m.get("pss", 0)
        row["mappings"] += 1
    return dict(sorted(kinds.items(), key=lambda item: -item[1]["rss"]))


ARENA = 64 << 20  # glibc's per-thread heaps: 64 MiB reserved, aligned to 64 MiB, grown from the start


def _kind(m: dict, before: Optional[dict], after: Optional[dict]) -> str:
    name = m["name"]
    base = name.rsplit("/", 1)[-1]
    if name == "[heap]":
        return "malloc heap (brk: the main arena)"
    if name == "[stack]":
        return "main thread stack"
    if name.startswith("["):
        return "kernel ([vdso], [vvar]...)"
    if name:
        if base.startswith(("libpython", "python")):
            return "interpreter (libpython, python)"
        if ".cpython-" in base or base.startswith("_psutil"):
            return "extension modules (.so)"
        if base.startswith(("libssl", "libcrypto")):
            return "libssl, libcrypto"
        if ".so" in base:
            return "other shared libraries (libc, libm, libz...)"
        return "other files (locale...)"
    if m["perms"].startswith("---"):
        return "reserved, not backed (guard pages, arena tails)"
    if before is not None and before["perms"].startswith("---") and before["end"] == m["start"] \
            and before["end"] - before["start"] == 4096:
        return "thread stacks"
    if m["start"] % ARENA == 0 and (m["end"] - m["start"] == ARENA or (
            after is not None and after["perms"].startswith("---") and after["start"] == m["end"]
            and after["end"] - m["start"] == ARENA)):
        return "per-thread malloc arenas"
    return "anonymous: pymalloc arenas, large blocks"


def running_agent(launch, env, work: Path, mqtt_port: int, duration: float) -> dict:
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    (work / "mosquitto.conf").write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n")
    processes = [subprocess.Popen([mosquitto, "-c", str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)]
    try:
        wait_port(mqtt_port)
        agent = subprocess.Popen(launch, env=env, stdout=open(work / "agent.log", "wb"), stderr=subprocess.STDOUT)
        processes.append(agent)
        time.sleep(duration)
        if agent.poll() is not None:
            raise RuntimeError("the agent exited: " + (work / "agent.log").read_text())
        proc = Path(f"/proc/{agent.pid}")
        smaps = (proc / "smaps").read_text()
        rollup = {line.split(":")[0].lower(): int(line.split()[1])
                  for line in (proc / "smaps_rollup").read_text().splitlines()[1:] if line.endswith("kB")}
        threads = sorted((task / "comm").read_text().strip() for task in (proc / "task").iterdir())
    finally:
        stop_processes(reversed(processes))
    return {"rss": rollup["rss"], "pss": rollup["pss"], "by_mapping": classify(smaps), "threads": threads}


def measure(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="fleetmon-memory-"))
    try:
        install(args.python, work / "venv", Path(args.source), args.extra)
        mqtt_port = free_port()
        (work / "agent.yml").write_text(json.dumps({
            "host_id": "bench", "interval": 1, "state_dir": str(work / "state"),
            "broker": {"url": f"mqtt://127.0.0.1:{mqtt_port}"}}))
        launch = unit_command(work / "venv", work / "agent.yml")
        prefix = interpreter_prefix(launch.argv, work / "venv")
        steps = import_steps(prefix, launch.env, work, STEPS)
        optional = []
        for label, modules in OPTIONAL:
            last = import_steps(prefix, launch.env, work, [*STEPS, (label, modules)])[-1]
            optional.append(dict(last, rss=last["rss"] and last["rss"] - steps[-1]["rss"],
                                 pss=last["pss"] and last["pss"] - steps[-1]["pss"]))
        running = running_agent(launch.argv, launch.env, work, mqtt_port, args.duration)
        python = subprocess.check_output([prefix[0], "--version"], text=True).split()[1]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"python": python, "extra": args.extra, "unit": {"argv": launch.argv, "environment": launch.env},
            "steps": steps,
            "optional": optional, "running": running, "duration_s": args.duration}


def mib(kib: Optional[int]) -> str:
    return "-" if kib is None else f"{kib / 1024:.2f}"


def report(result: dict) -> str:
    lines = [f"Agent on Python {result['python']}, started as the unit starts it: "
             f"{' '.join(Path(a).name if i == 0 else a for i, a in enumerate(result['unit']['argv']))}"
             + "".join(f" {k}={v}" for k, v in result["unit"]["environment"].items() if k != "PATH"), "",
             "| step | RSS MiB | PSS MiB | modules |", "|---|---|---|---|"]
    previous = None
    for row in result["steps"]:
        if row["rss"] is None:
            lines.append(f"| {row['step']} | not installed | | |")
            continue
        if previous is None:
            lines.append(f"| {row['step']} | {mib(row['rss'])} | {mib(row['pss'])} | {row['modules']} |")
        else:
            lines.append(f"| {row['step']} | +{mib(row['rss'] - previous['rss'])} | "
                         f"+{mib(row['pss'] - previous['pss'])} | +{row['modules'] - previous['modules']} |")
        previous = row
    running = result["running"]
    lines += [f"| **everything imported** | **{mib(previous['rss'])}** | **{mib(previous['pss'])}** | "
              f"{previous['modules']} |",
              f"| run time: connection, samples, threads (the rest of the running agent) | "
              f"+{mib(running['rss'] - previous['rss'])} | +{mib(running['pss'] - previous['pss'])} | |",
              f"| **running agent after {result['duration_s']:g} s** | **{mib(running['rss'])}** | "
              f"**{mib(running['pss'])}** | |", "",
              "Imported only when configured (added to everything above):", "",
              "| part | RSS MiB | PSS MiB |", "|---|---|---|"]
    for row in result["optional"]:
        lines.append(f"| {row['step']} | " + ("not installed | |" if row["rss"] is None else
                                               f"+{mib(row['rss'])} | +{mib(row['pss'])} |"))
    lines += ["", f"The running agent by mapping ({len(running['threads'])} threads):", "",
              "| mapping | RSS MiB | PSS MiB | mappings |", "|---|---|---|---|"]
    for kind, row in running["by_mapping"].items():
        lines.append(f"| {kind} | {mib(row['rss'])} | {mib(row['pss'])} | {row['mappings']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", metavar="EXE", default=sys.executable, help="interpreter for the agent")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds the agent runs before its smaps")
    parser.add_argument("--source", metavar="DIR", default=str(ROOT), help="fleetmon checkout to install")
    parser.add_argument("--extra", metavar="DIST", action="append", default=[],
                        help="a distribution to add to the agent's venv (repeatable)")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    result = measure(args)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
