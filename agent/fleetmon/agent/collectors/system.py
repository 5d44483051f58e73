"""The host's CPU, memory, filesystems, disks, network, temperatures and top processes.

Linux only, like the agent. Where psutil would cost more or say something wrong, the few files
involved are read directly:

- CPU times come from /proc/stat with each core's own number. psutil numbers cores by position, so
  when nvpmodel or hotplug takes a middle core offline every later core would take its neighbour's
  name and its usage would be computed against the wrong counters.
- Core frequencies come from /sys/devices/system/cpu/cpuN/cpufreq/scaling_cur_freq. psutil reports one
  value per cpufreq policy, which on clustered ARM CPUs (Jetson) is one per cluster, not per core.
  Hosts without cpufreq (most VMs) report no frequency.
- Processes are read from /proc/PID/stat only: one read per process gives name, CPU ticks, start time
  and resident size. psutil.process_iter with the same attributes measured about five times slower,
  and the process scan is the largest part of a sample.

Filesystems are the mounts the kernel backs with a block device (the types /proc/filesystems does not
mark ``nodev``), plus ZFS and network filesystems, plus an overlay mounted at ``/`` (the root of a
container). Read-only images (squashfs snaps, erofs, iso9660) are always full and are left out. Bind
mounts show the same device twice; only the shortest mount point of a device is reported.

Disk I/O is reported per whole block device (the entries of /sys/block), not per partition, since a
disk's counters already include its partitions. Loop, RAM, zram, floppy and optical devices are left
out. Stacked devices (LVM ``dm-*``, RAID ``md*``) are whole devices too and appear beside their
members.

The mount and device lists change rarely but can be long (container hosts), so they are re-read once
a minute rather than every sample.
"""

import heapq
import os
import platform
import re
import socket
import time
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Pattern, Sequence, Set, Tuple

import psutil

from fleetmon.agent.collectors.base import Collector
from fleetmon.agent.config import SystemCollectorConfig
from fleetmon.protocol.metricset import MetricSet

PROC = "/proc"
SYS = "/sys"
LIST_REFRESH_SECONDS = 60.0

NETWORK_FSTYPES = frozenset(("nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "fuse.glusterfs", "fuse.sshfs"))
IMAGE_FSTYPES = frozenset(("squashfs", "erofs", "iso9660", "udf"))
SKIPPED_DISKS = re.compile(r"(loop|ram|zram|fd|sr)\d+")
# Offline Jetson zones read -256 and a disconnected probe may read 255 or -273; none of those is a
# temperature anything here can have.
TEMPERATURE_RANGE = (-60.0, 200.0)
MIN_PROCESS_INTERVAL_TICKS = 10
# The kernel keeps a task's name to 15 bytes (TASK_COMM_LEN - 1); longer names come from cmdline.
COMM_LENGTH = 15


class CpuTimes(NamedTuple):
    busy: int  # clock ticks not idle and not waiting for I/O
    total: int


class ProcStat(NamedTuple):
    total: CpuTimes
    cores: Dict[str, CpuTimes]  # by the kernel's core number, online cores only
    boot_time: float


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


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


def parse_proc_stat(text: str) -> ProcStat:
    total = CpuTimes(0, 0)
    cores: Dict[str, CpuTimes] = {}
    boot_time = 0.0
    for line in text.splitlines():
        if line.startswith("cpu"):
            fields = line.split()
            # user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is
            # already counted in user and nice.
            ticks = [int(value) for value in fields[1:9]]
            idle = ticks[3] + ticks[4]
            times = CpuTimes(sum(ticks) - idle, sum(ticks))
            if fields[0] == "cpu":
                total = times
            else:
                cores[fields[0][3:]] = times
        elif line.startswith("btime "):
            boot_time = float(line.split()[1])
    return ProcStat(total, cores, boot_time)


def busy_ratio(previous: CpuTimes, current: CpuTimes) -> Optional[float]:
    """Share of the time between two readings the CPU was busy; None when no time passed."""
    elapsed = current.total - previous.total
    if elapsed <= 0:
        return None
    return min(1.0, max(0.0, (current.busy - previous.busy) / elapsed))


def read_core_frequencies(cores: Iterable[str], cpu_dir: str) -> Dict[str, float]:
    """Current frequency in hertz of each core that has cpufreq."""
    out: Dict[str, float] = {}
    for core in cores:
        try:
            with open(f"{cpu_dir}/cpu{core}/cpufreq/scaling_cur_freq", "rb") as handle:
                out[core] = int(handle.read()) * 1000.0  # kHz
        except (OSError, ValueError):
            continue  # no cpufreq for this core, or the driver cannot tell right now
    return out


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


def block_fstypes(text: str) -> Set[str]:
    """Filesystem types from /proc/filesystems that need a block device."""
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("nodev")}


def select_mounts(partitions: Iterable[Tuple[str, str, str]], block_types: Set[str],
                  exclude: Optional[Pattern[str]]) -> List[Mount]:
    """The mounts worth a filesystem series, one per device, sorted by mount point."""
    by_device: Dict[str, Mount] = {}
    for device, mountpoint, fstype in partitions:
        if exclude is not None and exclude.fullmatch(mountpoint):
            continue
        if fstype == "overlay":
            real = mountpoint == "/"
        else:
            real = fstype in NETWORK_FSTYPES or fstype == "zfs" or (
                fstype in block_types and fstype not in IMAGE_FSTYPES)
        if not real:
            continue
        mount = Mount(device or fstype, mountpoint, fstype)
        kept = by_device.get(mount.device)
        if kept is None or (len(mountpoint), mountpoint) < (len(kept.mountpoint), kept.mountpoint):
            by_device[mount.device] = mount
    return sorted(by_device.values(), key=lambda mount: mount.mountpoint)


def zone_name(*parts: str) -> str:
    """A label value for a sensor: lower case, runs of other characters as '_'.

    The kernel names the hwmon twin of a thermal zone this way ('CPU-therm' becomes 'cpu_therm'), so
    the same sensor found both ways gets the same name.
    """
    return re.sub(r"[^a-z0-9]+", "_", "_".join(part for part in parts if part).lower()).strip("_")


def _unique(name: str, taken: Mapping[str, object]) -> str:
    if name not in taken:
        return name
    suffix = 2
    while f"{name}_{suffix}" in taken:
        suffix += 1
    return f"{name}_{suffix}"


def _plausible(celsius: float) -> bool:
    return TEMPERATURE_RANGE[0] < celsius < TEMPERATURE_RANGE[1]


def hwmon_temperatures(sensors: Mapping[str, Sequence[Any]]) -> Dict[str, float]:
    """Zones from psutil.sensors_temperatures(): 'chip' or 'chip_label', numbered when repeated
    (two NVMe drives both report a 'nvme' chip with a 'Composite' sensor)."""
    out: Dict[str, float] = {}
    for chip, entries in sensors.items():
        for entry in entries:
            if entry.current is None or not _plausible(entry.current):
                continue
            out[_unique(zone_name(chip, entry.label), out)] = float(entry.current)
    return out


def thermal_zones(thermal_dir: str) -> List[Tuple[str, str]]:
    """(temperature file, zone name) of each thermal zone, names numbered when repeated."""
    zones: Dict[str, str] = {}
    try:
        entries = sorted(os.listdir(thermal_dir), key=lambda entry: (len(entry), entry))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.startswith("thermal_zone"):
            continue
        try:
            with open(os.path.join(thermal_dir, entry, "type"), encoding="utf-8") as handle:
                kind = handle.read().strip()
        except OSError:
            continue
        zones[_unique(zone_name(kind) or entry, zones)] = os.path.join(thermal_dir, entry, "temp")
    return [(path, name) for name, path in zones.items()]


def read_thermal_zones(zones: Iterable[Tuple[str, str]], skip: Mapping[str, object]) -> Dict[str, float]:
    """Temperatures of the zones not already in ``skip`` (their hwmon twins)."""
    out: Dict[str, float] = {}
    for path, name in zones:
        if name in skip:
            continue
        try:
            with open(path, "rb") as handle:
                celsius = int(handle.read()) / 1000.0
        except (OSError, ValueError):
            continue  # offline zones fail the read (EINVAL, ENODATA, EAGAIN)
        if _plausible(celsius):
            out[name] = celsius
    return out


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


def _any_of(patterns: Sequence[str]) -> Optional[Pattern[str]]:
    """One pattern that fully matches what any of ``patterns`` fully matches."""
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


class SystemCollector(Collector):
    name = "system"

    def __init__(self, config: SystemCollectorConfig) -> None:
        self.config = config
        self._exclude_mounts = _any_of(config.exclude_mounts)
        self._exclude_interfaces = _any_of(config.exclude_interfaces)
        self._ticks_per_second = float(os.sysconf("SC_CLK_TCK"))
        self._page_size = os.sysconf("SC_PAGE_SIZE")
        self._lists_read_at: Optional[float] = None
        self._mounts: List[Mount] = []
        self._disks: Set[str] = set()
        self._zones: List[Tuple[str, str]] = []
        # First readings, so that the first sample already has usage over an interval.
        self._cpu = self._read_proc_stat()
        self._processes: Dict[Tuple[int, int], int] = {}
        self._processes_at = time.monotonic()
        self._scanned_at: Optional[float] = None
        if config.top_processes:
            self._processes = {(p.pid, p.start): p.cpu_ticks for p in scan_processes(PROC, self._page_size)}

    def collect(self, out: MetricSet) -> None:
        now = time.monotonic()
        if self._lists_read_at is None or now - self._lists_read_at >= LIST_REFRESH_SECONDS:
            self._refresh_lists()
            self._lists_read_at = now
        self._collect_cpu(out)
        self._collect_memory(out)
        self._collect_filesystems(out)
        self._collect_disks(out)
        self._collect_network(out)
        if self.config.temperatures:
            self._collect_temperatures(out)
        self._collect_processes(out)

    def facts(self) -> Dict[str, object]:
        return {
            "hostname": socket.gethostname(),
            "os": os_pretty_name(),
            "kernel": platform.release(),
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total,
            "boot_time": self._cpu.boot_time,
            "python": platform.python_version(),
        }

    def _read_proc_stat(self) -> ProcStat:
        with open(PROC + "/stat", encoding="ascii") as handle:
            return parse_proc_stat(handle.read())

    def _refresh_lists(self) -> None:
        with open(PROC + "/filesystems", encoding="ascii") as handle:
            types = block_fstypes(handle.read())
        partitions = ((p.device, p.mountpoint, p.fstype) for p in psutil.disk_partitions(all=True))
        self._mounts = select_mounts(partitions, types, self._exclude_mounts)
        try:
            # psutil names devices as /proc/diskstats does ('cciss/c0d0'); sysfs writes '/' as '!'.
            self._disks = {entry.replace("!", "/") for entry in os.listdir(SYS + "/block")
                           if not SKIPPED_DISKS.fullmatch(entry)}
        except FileNotFoundError:
            self._disks = set()
        if self.config.temperatures:
            self._zones = thermal_zones(SYS + "/class/thermal")

    def _collect_cpu(self, out: MetricSet) -> None:
        current = self._read_proc_stat()
        previous = self._cpu
        ratio = busy_ratio(previous.total, current.total)
        if ratio is not None:
            out.add("fleetmon_cpu_usage_ratio", ratio)
            # Only a reading a clock tick apart becomes the new base: a collect right after the
            # constructor then leaves usage out and the next one measures from the constructor.
            self._cpu = current
        for core, times in current.cores.items():
            before = previous.cores.get(core)
            ratio = busy_ratio(before, times) if before is not None else None
            if ratio is not None:
                out.add("fleetmon_cpu_core_usage_ratio", ratio, {"core": core})
        for core, hertz in read_core_frequencies(current.cores, SYS + "/devices/system/cpu").items():
            out.add("fleetmon_cpu_core_frequency_hertz", hertz, {"core": core})
        out.add("fleetmon_cpu_cores", len(current.cores))
        load1, load5, load15 = os.getloadavg()
        out.add("fleetmon_load1", load1)
        out.add("fleetmon_load5", load5)
        out.add("fleetmon_load15", load15)
        # btime is "now minus uptime", so it moves when the clock is stepped (Jetsons without an RTC
        # battery boot in the past until NTP corrects them): read it every time.
        out.add("fleetmon_boot_time_seconds", current.boot_time)
        out.add("fleetmon_uptime_seconds", time.clock_gettime(time.CLOCK_BOOTTIME))

    def _collect_memory(self, out: MetricSet) -> None:
        memory = psutil.virtual_memory()
        used = memory.total - memory.available
        out.add("fleetmon_memory_total_bytes", memory.total)
        out.add("fleetmon_memory_available_bytes", memory.available)
        out.add("fleetmon_memory_used_bytes", used)
        out.add("fleetmon_memory_usage_ratio", used / memory.total if memory.total else 0.0)
        swap = psutil.swap_memory()
        out.add("fleetmon_swap_total_bytes", swap.total)
        out.add("fleetmon_swap_used_bytes", swap.used)
        out.add("fleetmon_swap_usage_ratio", swap.used / swap.total if swap.total else 0.0)

    def _collect_filesystems(self, out: MetricSet) -> None:
        for mount in self._mounts:
            try:
                stat = os.statvfs(mount.mountpoint)
            except OSError:
                continue  # unmounted since the list was read, no permission, a stale NFS handle
            if not stat.f_blocks:
                continue
            size = stat.f_blocks * stat.f_frsize
            free = stat.f_bavail * stat.f_frsize
            used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
            labels = {"mount": mount.mountpoint, "device": mount.device, "fstype": mount.fstype}
            out.add("fleetmon_filesystem_size_bytes", size, labels)
            out.add("fleetmon_filesystem_used_bytes", used, labels)
            out.add("fleetmon_filesystem_free_bytes", free, labels)
            out.add("fleetmon_filesystem_usage_ratio", used / (used + free) if used + free else 0.0, labels)

    def _collect_disks(self, out: MetricSet) -> None:
        for device, io in (psutil.disk_io_counters(perdisk=True) or {}).items():
            if device not in self._disks:
                continue
            labels = {"device": device}
            out.add("fleetmon_disk_read_bytes_total", io.read_bytes, labels)
            out.add("fleetmon_disk_written_bytes_total", io.write_bytes, labels)
            out.add("fleetmon_disk_reads_completed_total", io.read_count, labels)
            out.add("fleetmon_disk_writes_completed_total", io.write_count, labels)
            out.add("fleetmon_disk_io_time_seconds_total", io.busy_time / 1000.0, labels)

    def _collect_network(self, out: MetricSet) -> None:
        for interface, io in psutil.net_io_counters(pernic=True).items():
            if self._exclude_interfaces is not None and self._exclude_interfaces.fullmatch(interface):
                continue
            labels = {"interface": interface}
            out.add("fleetmon_network_receive_bytes_total", io.bytes_recv, labels)
            out.add("fleetmon_network_transmit_bytes_total", io.bytes_sent, labels)
            out.add("fleetmon_network_receive_packets_total", io.packets_recv, labels)
            out.add("fleetmon_network_transmit_packets_total", io.packets_sent, labels)
            out.add("fleetmon_network_receive_errors_total", io.errin, labels)
            out.add("fleetmon_network_transmit_errors_total", io.errout, labels)
            out.add("fleetmon_network_receive_drops_total", io.dropin, labels)
            out.add("fleetmon_network_transmit_drops_total", io.dropout, labels)

    def _collect_temperatures(self, out: MetricSet) -> None:
        zones = hwmon_temperatures(psutil.sensors_temperatures())
        zones.update(read_thermal_zones(self._zones, skip=zones))
        for zone, celsius in zones.items():
            out.add("fleetmon_temperature_celsius", celsius, {"zone": zone})

    def _collect_processes(self, out: MetricSet) -> None:
        count = self.config.top_processes
        now = time.monotonic()
        if not count or (self._scanned_at is not None
                         and now - self._scanned_at < self.config.process_interval):
            out.add("fleetmon_processes", sum(1 for entry in os.listdir(PROC) if entry.isdigit()))
            return
        self._scanned_at = now
        samples = scan_processes(PROC, self._page_size)
        # CPU time grows in clock ticks; over a few ticks (a collect right after the constructor) a
        # ratio would be mostly rounding, so rank by memory only and keep measuring from the old base.
        measured = (now - self._processes_at) * self._ticks_per_second >= MIN_PROCESS_INTERVAL_TICKS
        top = top_processes(self._processes, samples, now - self._processes_at if measured else 0.0,
                            self._ticks_per_second, count)
        if measured:
            self._processes = {(p.pid, p.start): p.cpu_ticks for p in samples}
            self._processes_at = now
        out.add("fleetmon_processes", len(samples))
        for process in top:
            labels = {"pid": str(process.pid), "name": full_process_name(PROC, process.pid, process.comm)}
            if measured:
                out.add("fleetmon_top_process_cpu_usage_ratio", process.cpu_ratio, labels)
            out.add("fleetmon_top_process_resident_memory_bytes", process.rss_bytes, labels)
