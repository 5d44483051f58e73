"""The process count and the top processes by CPU and by memory.

Processes are read from /proc/PID/stat only: one read per process gives name, CPU ticks, start time
and resident size. psutil.process_iter with the same attributes measured about five times slower,
and the process scan is the largest part of a sample, so it runs once per ``process_interval``; the
samples in between carry the process count only.
"""

import heapq
import os
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from fleetmon.protocol.metricset import MetricSet

MIN_PROCESS_INTERVAL_TICKS = 10
# The kernel keeps a task's name to 15 bytes (TASK_COMM_LEN - 1); longer names come from cmdline.
COMM_LENGTH = 15


class ProcessSample(NamedTuple):
    pid: int
    comm: str
    start: int  # clock ticks after boot: with pid, tells a process from a later one reusing its PID
    cpu_ticks: int
    rss_bytes: int


class TopProcess(NamedTuple):
    pid: int
    comm: str
    cpu_ratio: float  # 1.0 = one core
    rss_bytes: int


def parse_pid_stat(pid: int, data: bytes, page_size: int) -> ProcessSample:
    # The name sits in parentheses and may itself contain spaces or ')', so split at the last one.
    close = data.rindex(b")")
    comm = data[data.index(b"(") + 1:close].decode("utf-8", "replace")
    fields = data[close + 2:].split()
    # fields[0] is field 3 of proc(5): utime 14, stime 15, starttime 22, rss 24 (pages).
    return ProcessSample(pid, comm, int(fields[19]), int(fields[11]) + int(fields[12]),
                         int(fields[21]) * page_size)


def scan_processes(proc: str, page_size: int) -> List[ProcessSample]:
    samples = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat", "rb") as handle:
                data = handle.read()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # exited between the listing and the read, or hidden from us
        samples.append(parse_pid_stat(int(entry), data, page_size))
    return samples


def count_processes(proc: str) -> int:
    return sum(1 for entry in os.listdir(proc) if entry.isdigit())


def top_processes(previous: Mapping[Tuple[int, int], int], samples: Sequence[ProcessSample],
                  elapsed: float, ticks_per_second: float, count: int) -> List[TopProcess]:
    """The ``count`` busiest processes by CPU over the interval and the ``count`` largest by memory,
    each listed once.

    A process not seen in the previous scan started during the interval, so all its CPU time counts.
    With no ``elapsed`` time, all CPU ratios are 0 and only memory ranks.
    """
    if count <= 0:
        return []
    scale = 1.0 / (ticks_per_second * elapsed) if elapsed > 0 else 0.0
    rows = []
    for sample in samples:
        used = sample.cpu_ticks - previous.get((sample.pid, sample.start), 0)
        rows.append(TopProcess(sample.pid, sample.comm, max(0, used) * scale, sample.rss_bytes))
    # Idle processes are no "top" by CPU: ranking ties at zero would only churn the pid labels.
    busy = [row for row in rows if row.cpu_ratio > 0]
    chosen = {row.pid: row for row in heapq.nlargest(count, busy, key=lambda row: row.cpu_ratio)}
    for row in heapq.nlargest(count, rows, key=lambda row: row.rss_bytes):
        chosen.setdefault(row.pid, row)
    return list(chosen.values())


def full_process_name(proc: str, pid: int, comm: str) -> str:
    """The program name beyond the kernel's 15 bytes, from argv[0], when argv[0] agrees with it."""
    if len(comm) < COMM_LENGTH:
        return comm
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as handle:
            argv0 = handle.read(4096).split(b"\0", 1)[0].decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return comm
    name = os.path.basename(argv0.split(" ", 1)[0])
    return name if name.startswith(comm) else comm


class ProcessSource:
    def __init__(self, proc: str, count: int, interval: float, clock: Callable[[], float],
                 ticks_per_second: Optional[float] = None, page_size: Optional[int] = None) -> None:
        self._proc = proc
        self._count = count
        self._interval = interval
        self._clock = clock
        self._ticks_per_second = ticks_per_second or float(os.sysconf("SC_CLK_TCK"))
        self._page_size = page_size or os.sysconf("SC_PAGE_SIZE")
        # CPU ticks by (pid, start) at the last measured scan: the first, so that the first scan
        # already ranks by CPU over an interval.
        self._base: Dict[Tuple[int, int], int] = {}
        self._base_at = clock()
        self._scanned_at: Optional[float] = None
        if count:
            self._base = {(p.pid, p.start): p.cpu_ticks for p in scan_processes(proc, self._page_size)}

    def collect(self, out: MetricSet) -> None:
        now = self._clock()
        if not self._count or (self._scanned_at is not None and now - self._scanned_at < self._interval):
            out.add("fleetmon_processes", count_processes(self._proc))
            return
        self._scanned_at = now
        samples = scan_processes(self._proc, self._page_size)
        # CPU time grows in clock ticks; over a few ticks (a collect right after the constructor) a
        # ratio would be mostly rounding, so rank by memory only and keep measuring from the old base.
        measured = (now - self._base_at) * self._ticks_per_second >= MIN_PROCESS_INTERVAL_TICKS
        top = top_processes(self._base, samples, now - self._base_at if measured else 0.0,
                            self._ticks_per_second, self._count)
        if measured:
            self._base = {(p.pid, p.start): p.cpu_ticks for p in samples}
            self._base_at = now
        out.add("fleetmon_processes", len(samples))
        for process in top:
            labels = {"pid": str(process.pid), "name": full_process_name(self._proc, process.pid, process.comm)}
            if measured:
                out.add("fleetmon_top_process_cpu_usage_ratio", process.cpu_ratio, labels)
            out.add("fleetmon_top_process_resident_memory_bytes", process.rss_bytes, labels)
