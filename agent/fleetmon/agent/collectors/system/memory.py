"""Memory and swap in use, from /proc/meminfo.

Used memory is the total less MemAvailable, the kernel's estimate of what new work can have without
swapping (free pages, plus the page cache and reclaimable slab it can drop), as free(1) and psutil
count it. Kernels before 3.14 have no MemAvailable and a few report it as 0 (psutil issue 1915); there
the estimate is made the kernel's way from the zones' low watermarks in /proc/zoneinfo, as procps and
psutil do, so that such a host does not report its page cache as used.
"""

import os
from typing import Dict, NamedTuple, Optional

from fleetmon.protocol.metricset import MetricSet


class Memory(NamedTuple):
    total: int  # bytes
    available: int
    swap_total: int
    swap_free: int


def parse_meminfo(text: str) -> Dict[str, int]:
    """/proc/meminfo as bytes by field name ('MemTotal', 'Active(file)', ...)."""
    out: Dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            out[fields[0].rstrip(":")] = int(fields[1]) * 1024  # kB (the HugePages_ counts are not read)
    return out


def zone_low_watermarks(zoneinfo: str) -> int:
    """The sum of every zone's 'low' watermark, in pages."""
    total = 0
    for line in zoneinfo.splitlines():
        fields = line.split()
        if fields and fields[0] == "low":
            total += int(fields[1])
    return total


def estimate_available(meminfo: Dict[str, int], zoneinfo: Optional[str], page_size: int) -> int:
    """MemAvailable as the kernel computes it (commit 34e431b0ae39), for kernels that do not say."""
    free = meminfo["MemFree"]
    try:
        page_cache = meminfo["Active(file)"] + meminfo["Inactive(file)"]
        slab_reclaimable = meminfo["SReclaimable"]
    except KeyError:
        return free + meminfo.get("Cached", 0)
    if zoneinfo is None:
        return free + meminfo.get("Cached", 0)
    low = zone_low_watermarks(zoneinfo) * page_size
    available = free - low
    available += page_cache - min(page_cache / 2, low)
    available += slab_reclaimable - min(slab_reclaimable / 2.0, low)
    return int(available)


def memory_from(meminfo: Dict[str, int], zoneinfo: Optional[str], page_size: int) -> Memory:
    total = meminfo["MemTotal"]
    available = meminfo.get("MemAvailable", 0)
    if not available:
        available = estimate_available(meminfo, zoneinfo, page_size)
    if available < 0:
        available = 0
    elif available > total:
        # More available than there is: a container's view (lxcfs) mixing its limit with the host's
        # counters. free(1) falls back to the free pages here, and so do we.
        available = meminfo["MemFree"]
    return Memory(total, available, meminfo.get("SwapTotal", 0), meminfo.get("SwapFree", 0))


class MemorySource:
    def __init__(self, proc: str, page_size: Optional[int] = None) -> None:
        self._proc = proc
        self._page_size = page_size if page_size is not None else os.sysconf("SC_PAGE_SIZE")

    def read(self) -> Memory:
        with open(self._proc + "/meminfo", encoding="ascii") as handle:
            meminfo = parse_meminfo(handle.read())
        zoneinfo = None
        if not meminfo.get("MemAvailable"):
            try:
                with open(self._proc + "/zoneinfo", encoding="ascii") as handle:
                    zoneinfo = handle.read()
            except OSError:
                pass  # no zoneinfo either: the estimate is free plus cached pages
        return memory_from(meminfo, zoneinfo, self._page_size)

    def collect(self, out: MetricSet) -> None:
        memory = self.read()
        used = memory.total - memory.available
        out.add("fleetmon_memory_total_bytes", memory.total)
        out.add("fleetmon_memory_available_bytes", memory.available)
        out.add("fleetmon_memory_used_bytes", used)
        out.add("fleetmon_memory_usage_ratio", used / memory.total if memory.total else 0.0)
        swap_used = memory.swap_total - memory.swap_free
        out.add("fleetmon_swap_total_bytes", memory.swap_total)
        out.add("fleetmon_swap_used_bytes", swap_used)
        out.add("fleetmon_swap_usage_ratio", swap_used / memory.swap_total if memory.swap_total else 0.0)
