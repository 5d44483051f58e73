"""CPU usage per core, core frequencies, load averages, boot time and uptime.

- CPU times come from /proc/stat with each core's own number. psutil numbers cores by position, so
  when nvpmodel or hotplug takes a middle core offline every later core would take its neighbour's
  name and its usage would be computed against the wrong counters.
- Core frequencies come from /sys/devices/system/cpu/cpuN/cpufreq/scaling_cur_freq. psutil reports one
  value per cpufreq policy, which on clustered ARM CPUs (Jetson) is one per cluster, not per core.
  Hosts without cpufreq (most VMs) report no frequency.
- Load averages come from /proc/loadavg (what getloadavg(3) reads) and uptime from /proc/uptime (the
  boot-time clock, suspend included), so that a recorded tree decides them as it decides the rest.
"""

from typing import Dict, Iterable, NamedTuple, Optional

from fleetmon.protocol.metricset import MetricSet


class CpuTimes(NamedTuple):
    busy: int  # clock ticks not idle and not waiting for I/O
    total: int


class ProcStat(NamedTuple):
    total: CpuTimes
    cores: Dict[str, CpuTimes]  # by the kernel's core number, online cores only
    boot_time: float


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


class CpuSource:
    def __init__(self, proc: str, sys: str) -> None:
        self._proc = proc
        self._cpu_dir = sys + "/devices/system/cpu"
        # The first reading, so that the first sample already has usage over an interval.
        self._base = self._read_proc_stat()

    @property
    def boot_time(self) -> float:
        return self._base.boot_time

    def collect(self, out: MetricSet) -> None:
        current = self._read_proc_stat()
        previous = self._base
        ratio = busy_ratio(previous.total, current.total)
        if ratio is not None:
            out.add("fleetmon_cpu_usage_ratio", ratio)
            # Only a reading a clock tick apart becomes the new base: a collect right after the
            # constructor then leaves usage out and the next one measures from the constructor.
            self._base = current
        for core, times in current.cores.items():
            before = previous.cores.get(core)
            ratio = busy_ratio(before, times) if before is not None else None
            if ratio is not None:
                out.add("fleetmon_cpu_core_usage_ratio", ratio, {"core": core})
        for core, hertz in read_core_frequencies(current.cores, self._cpu_dir).items():
            out.add("fleetmon_cpu_core_frequency_hertz", hertz, {"core": core})
        out.add("fleetmon_cpu_cores", len(current.cores))
        with open(self._proc + "/loadavg", encoding="ascii") as handle:
            load1, load5, load15 = (float(value) for value in handle.read().split()[:3])
        out.add("fleetmon_load1", load1)
        out.add("fleetmon_load5", load5)
        out.add("fleetmon_load15", load15)
        # btime is "now minus uptime", so it moves when the clock is stepped (Jetsons without an RTC
        # battery boot in the past until NTP corrects them): read it every time.
        out.add("fleetmon_boot_time_seconds", current.boot_time)
        with open(self._proc + "/uptime", encoding="ascii") as handle:
            out.add("fleetmon_uptime_seconds", float(handle.read().split()[0]))

    def _read_proc_stat(self) -> ProcStat:
        with open(self._proc + "/stat", encoding="ascii") as handle:
            return parse_proc_stat(handle.read())
