"""Disk I/O per whole block device.

Disk I/O is reported per whole block device (the entries of /sys/block), not per partition, since a
disk's counters already include its partitions. Loop, RAM, zram, floppy and optical devices are left
out. Stacked devices (LVM ``dm-*``, RAID ``md*``) are whole devices too and appear beside their
members.

The counters are /proc/diskstats' (see the kernel's iostats documentation), as psutil reads them:
sectors there are 512 bytes whatever the device's own block size, and the busy time is in milliseconds.
"""

import os
import re
from typing import Dict, NamedTuple, Set

from fleetmon.protocol.metricset import MetricSet

SKIPPED_DISKS = re.compile(r"(loop|ram|zram|fd|sr)\d+")
SECTOR_BYTES = 512


class DiskCounters(NamedTuple):
    reads: int  # completed
    writes: int
    read_bytes: int
    written_bytes: int
    busy_ms: int  # time with I/O in flight


def parse_diskstats(text: str) -> Dict[str, DiskCounters]:
    """Counters by device name. Lines of fewer than 14 fields (partitions on 2.6 kernels) carry no
    busy time and name no whole disk, so they are left out."""
    out: Dict[str, DiskCounters] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 14:
            continue
        # major minor name, then reads merged sectors ms, writes merged sectors ms, in-flight, busy ms...
        out[fields[2]] = DiskCounters(int(fields[3]), int(fields[7]), int(fields[5]) * SECTOR_BYTES,
                                      int(fields[9]) * SECTOR_BYTES, int(fields[12]))
    return out


def whole_disks(block_dir: str) -> Set[str]:
    """The devices of /sys/block worth a series, named as /proc/diskstats names them."""
    try:
        # diskstats names devices with their '/' ('cciss/c0d0'); sysfs writes '/' as '!'.
        return {entry.replace("!", "/") for entry in os.listdir(block_dir) if not SKIPPED_DISKS.fullmatch(entry)}
    except FileNotFoundError:
        return set()


class DiskSource:
    def __init__(self, proc: str, sys: str) -> None:
        self._proc = proc
        self._block_dir = sys + "/block"
        self.devices: Set[str] = set()

    def refresh(self) -> None:
        """Read the device list again (it changes rarely; collect() reports the last one read)."""
        self.devices = whole_disks(self._block_dir)

    def collect(self, out: MetricSet) -> None:
        with open(self._proc + "/diskstats", encoding="ascii") as handle:
            counters = parse_diskstats(handle.read())
        for device, io in counters.items():
            if device not in self.devices:
                continue
            labels = {"device": device}
            out.add("fleetmon_disk_read_bytes_total", io.read_bytes, labels)
            out.add("fleetmon_disk_written_bytes_total", io.written_bytes, labels)
            out.add("fleetmon_disk_reads_completed_total", io.reads, labels)
            out.add("fleetmon_disk_writes_completed_total", io.writes, labels)
            out.add("fleetmon_disk_io_time_seconds_total", io.busy_ms / 1000.0, labels)
