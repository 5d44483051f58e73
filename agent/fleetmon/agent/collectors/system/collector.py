"""The system collector: the seven sources over one pair of roots, and the host's facts.

The mount, device and thermal-zone lists change rarely but can be long (container hosts), so they are
re-read once a minute rather than every sample.
"""

import os
import platform
import re
import socket
import time
from typing import Callable, Dict, Optional, Pattern, Sequence

from fleetmon.agent.collectors.base import Collector
from fleetmon.agent.collectors.system.cpu import CpuSource
from fleetmon.agent.collectors.system.disks import DiskSource
from fleetmon.agent.collectors.system.filesystems import FilesystemSource, Statvfs
from fleetmon.agent.collectors.system.memory import MemorySource
from fleetmon.agent.collectors.system.network import NetworkSource
from fleetmon.agent.collectors.system.processes import ProcessSource
from fleetmon.agent.collectors.system.thermal import ThermalSource
from fleetmon.agent.config import SystemCollectorConfig
from fleetmon.protocol.metricset import MetricSet

LIST_REFRESH_SECONDS = 60.0


def os_pretty_name(paths: Sequence[str] = ("/etc/os-release", "/usr/lib/os-release")) -> str:
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    key, _, value = line.strip().partition("=")
                    if key == "PRETTY_NAME":
                        return value.strip().strip("\"'")
        except OSError:
            continue
    return platform.system()


def any_of(patterns: Sequence[str]) -> Optional[Pattern[str]]:
    """One pattern that fully matches what any of ``patterns`` fully matches."""
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


class SystemCollector(Collector):
    """Reads the kernel's files below ``proc`` and ``sys`` (in the tests, trees recorded from other
    hosts); ``statvfs`` and ``clock`` are the live calls, given so that tests can answer them."""

    name = "system"

    def __init__(self, config: SystemCollectorConfig, proc: str = "/proc", sys: str = "/sys",
                 statvfs: Statvfs = os.statvfs, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lists_read_at: Optional[float] = None
        self._cpu = CpuSource(proc, sys)
        self._memory = MemorySource(proc)
        self._filesystems = FilesystemSource(proc, any_of(config.exclude_mounts), statvfs)
        self._disks = DiskSource(proc, sys)
        self._network = NetworkSource(proc, any_of(config.exclude_interfaces))
        self._thermal = ThermalSource(sys) if config.temperatures else None
        self._processes = ProcessSource(proc, config.top_processes, config.process_interval, clock)

    def collect(self, out: MetricSet) -> None:
        now = self._clock()
        if self._lists_read_at is None or now - self._lists_read_at >= LIST_REFRESH_SECONDS:
            self._filesystems.refresh()
            self._disks.refresh()
            if self._thermal is not None:
                self._thermal.refresh()
            self._lists_read_at = now
        self._cpu.collect(out)
        self._memory.collect(out)
        self._filesystems.collect(out)
        self._disks.collect(out)
        self._network.collect(out)
        if self._thermal is not None:
            self._thermal.collect(out)
        self._processes.collect(out)

    def facts(self) -> Dict[str, object]:
        return {
            "hostname": socket.gethostname(),
            "os": os_pretty_name(),
            "kernel": platform.release(),
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "memory_bytes": self._memory.read().total,
            "boot_time": self._cpu.boot_time,
            "python": platform.python_version(),
        }
