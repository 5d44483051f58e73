"""How a simulated host's metrics evolve from one sample to the next (pure: the caller passes the random
source and the times).

Each host declares its series once (``series()``): static ones carry their value, dynamic ones a printf
format. ``step()`` then returns only the dynamic values, in declaration order, which is what a payload
template (templates.py) needs to patch a precomputed sample. Values wander around the host's typical
levels and stay below every edge threshold level (fleet.thresholds_config); only a planned fault
(faults.py) pushes CPU or "/" usage across them.
"""

import random
from typing import List, NamedTuple, Optional, Tuple

from fleetmon.protocol.metricset import MetricSet
from fleetmon.simulate.faults import Fault
from fleetmon.simulate.fleet import GIB, HostSpec

RATIO, INTEGER, CELSIUS, WATTS, LOAD, SECONDS = "%.4f", "%d", "%.1f", "%.3f", "%.2f", "%.6f"

#: Normal behaviour stays under the lowest edge levels (CPU and memory 90%, "/" 85%, Jetson tj 85 °C).
MAX_CPU, MAX_MEMORY, MAX_ROOT_USAGE, MAX_GPU = 0.8, 0.85, 0.8, 0.85
SPIKE_CPU = 0.985
TOP_PROCESSES = {"server": (("postgres", 1311), ("java", 2047), ("nginx", 987)),
                 "jetson": (("deepstream-app", 4242), ("python3", 3101), ("nvargus-daemon", 911))}
JETSON_ZONES = ("cpu", "gpu", "soc0", "soc1", "soc2", "tj")
JETSON_RAILS = ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")
JETSON_ENGINES = (("NVENC", False), ("NVDEC", True), ("VIC", True), ("DLA0", False))


class SeriesDecl(NamedTuple):
    name: str
    labels: Tuple[Tuple[str, str], ...]
    value: float  # static value; ignored when ``fmt`` is set
    fmt: str  # printf format of a dynamic value, "" for a static series


class _Declarations:
    def __init__(self) -> None:
        self.items: List[SeriesDecl] = []

    def static(self, metric: str, value: float, /, **labels: str) -> None:
        self.items.append(SeriesDecl(metric, tuple(labels.items()), value, ""))

    def dynamic(self, metric: str, fmt: str, /, **labels: str) -> None:
        self.items.append(SeriesDecl(metric, tuple(labels.items()), 0.0, fmt))


def _wander(value: float, level: float, spread: float, rnd: float, low: float, high: float) -> float:
    """One step of a mean-reverting random walk, kept within [low, high]."""
    value += 0.3 * (level - value) + spread * (rnd - 0.5)
    return low if value < low else high if value > high else value


class HostModel:
    """The changing state of one simulated host."""

    def __init__(self, spec: HostSpec, started_at: float, interval_s: float, seed: int,
                 cpu_spike: Optional[Fault] = None, disk_fill: Optional[Fault] = None) -> None:
        self.spec = spec
        self.interval_s = interval_s
        self.cpu_spike, self.disk_fill = cpu_spike, disk_fill
        rng = random.Random(f"model:{seed}:{spec.index}")
        self.boot_time = started_at - spec.uptime_s
        self.cpu = spec.cpu_level
        self.core_weights = [rng.uniform(0.6, 1.3) for _ in range(spec.cores)]
        self.core_hz = 2_200_000_000 if spec.board is None else 1_984_000_000
        self.load = [spec.cpu_level * spec.cores] * 3
        self.memory = spec.memory_level
        self.swap_total = 8 * GIB if spec.board is None else spec.memory_bytes // 2
        self.swap = rng.uniform(0.0, 0.05)
        self.usage = [spec.root_usage] + [rng.uniform(0.1, 0.7) for _ in spec.mounts[1:]]
        self.disk_rates = [rng.uniform(1e5, 5e6) for _ in spec.disks]
        self.net_rate = rng.uniform(1e4, 1e7)
        self.processes = rng.randint(150, 600)
        self.top_memory = [rng.uniform(0.5, 4.0) * GIB for _ in range(3)]
        self.gpu_level = rng.uniform(0.1, 0.6)
        self.gpu = self.gpu_level
        self.power_average = [0.0] * len(JETSON_RAILS)
        self.tj = 45.0
        self._reset_counters(rng.uniform(0.5, 1.0) * spec.uptime_s)

    def _reset_counters(self, seconds: float) -> None:
        """Counters as if the host had run ``seconds`` at its typical rates (0 right after a boot)."""
        self.disk = [[rate * seconds, rate * seconds * 0.6, rate * seconds / 65536, rate * seconds / 40960,
                      seconds * 0.02] for rate in self.disk_rates]
        self.net = [self.net_rate * seconds, self.net_rate * seconds * 0.4,
                    self.net_rate * seconds / 900, self.net_rate * seconds * 0.4 / 600]

    def reboot(self, now: float) -> None:
        self.boot_time = now
        self.load = [0.0, 0.0, 0.0]
        self._reset_counters(0.0)

    def series(self) -> List[SeriesDecl]:
        """Every series of a sample, in wire order; dynamic ones in the order ``step`` returns them."""
        spec, d = self.spec, _Declarations()
        d.dynamic("fleetmon_cpu_usage_ratio", RATIO)
        for core in range(spec.cores):
            d.dynamic("fleetmon_cpu_core_usage_ratio", RATIO, core=str(core))
        for core in range(spec.cores):
            d.static("fleetmon_cpu_core_frequency_hertz", self.core_hz, core=str(core))
        d.static("fleetmon_cpu_cores", spec.cores)
        for name in ("fleetmon_load1", "fleetmon_load5", "fleetmon_load15"):
            d.dynamic(name, LOAD)
        d.static("fleetmon_memory_total_bytes", spec.memory_bytes)
        for name, fmt in (("available_bytes", INTEGER), ("used_bytes", INTEGER), ("usage_ratio", RATIO)):
            d.dynamic("fleetmon_memory_" + name, fmt)
        d.static("fleetmon_swap_total_bytes", self.swap_total)
        d.dynamic("fleetmon_swap_used_bytes", INTEGER)
        d.dynamic("fleetmon_swap_usage_ratio", RATIO)
        for mount in spec.mounts:
            d.static("fleetmon_filesystem_size_bytes", mount.size_bytes, **mount.labels)
        for name, fmt in (("used_bytes", INTEGER), ("free_bytes", INTEGER), ("usage_ratio", RATIO)):
            for mount in spec.mounts:
                d.dynamic("fleetmon_filesystem_" + name, fmt, **mount.labels)
        for name in ("read_bytes_total", "written_bytes_total", "reads_completed_total",
                     "writes_completed_total", "io_time_seconds_total"):
            for device in spec.disks:
                d.dynamic("fleetmon_disk_" + name, INTEGER if "seconds" not in name else LOAD, device=device)
        for name in ("receive_bytes_total", "transmit_bytes_total", "receive_packets_total",
                     "transmit_packets_total"):
            d.dynamic("fleetmon_network_" + name, INTEGER, interface=spec.interface)
        for name in ("receive_errors_total", "transmit_errors_total", "receive_drops_total",
                     "transmit_drops_total"):
            d.static("fleetmon_network_" + name, 0, interface=spec.interface)
        if spec.board is None:
            d.dynamic("fleetmon_temperature_celsius", CELSIUS, zone="coretemp_package_id_0")
            d.dynamic("fleetmon_temperature_celsius", CELSIUS, zone="nvme_composite")
        d.dynamic("fleetmon_boot_time_seconds", INTEGER)
        d.dynamic("fleetmon_uptime_seconds", INTEGER)
        d.dynamic("fleetmon_processes", INTEGER)
        for name, pid in TOP_PROCESSES[spec.kind]:
            d.dynamic("fleetmon_top_process_cpu_usage_ratio", RATIO, pid=str(pid), name=name)
        for name, pid in TOP_PROCESSES[spec.kind]:
            d.dynamic("fleetmon_top_process_resident_memory_bytes", INTEGER, pid=str(pid), name=name)
        if spec.board is not None:
            self._declare_jetson(d)
        d.static("fleetmon_agent_collector_up", 1, collector="system")
        if spec.board is not None:
            d.static("fleetmon_agent_collector_up", 1, collector="jetson")
        d.dynamic("fleetmon_agent_collect_duration_seconds", SECONDS)
        d.static("fleetmon_agent_spool_samples", 0)
        d.static("fleetmon_agent_spool_dropped_total", 0)
        d.dynamic("fleetmon_agent_alerts_firing", INTEGER)
        return d.items

    def _declare_jetson(self, d: _Declarations) -> None:
        spec, board = self.spec, self.spec.board
        assert board is not None
        d.dynamic("fleetmon_jetson_ram_used_bytes", INTEGER)
        d.static("fleetmon_jetson_ram_total_bytes", spec.memory_bytes)
        d.static("fleetmon_jetson_ram_lfb_blocks", 4)
        d.static("fleetmon_jetson_ram_lfb_block_bytes", 4 * 1024 * 1024)
        d.dynamic("fleetmon_jetson_swap_used_bytes", INTEGER)
        d.static("fleetmon_jetson_swap_total_bytes", self.swap_total)
        for core in range(spec.cores):
            d.dynamic("fleetmon_jetson_cpu_core_usage_ratio", RATIO, core=str(core))
        for core in range(spec.cores):
            d.static("fleetmon_jetson_cpu_core_frequency_hertz", self.core_hz, core=str(core))
        for core in range(spec.cores):
            d.static("fleetmon_jetson_cpu_core_online", 1, core=str(core))
        d.dynamic("fleetmon_jetson_gpu_load_ratio", RATIO)
        for gpc in range(board.gpcs):
            d.dynamic("fleetmon_jetson_gpu_frequency_hertz", INTEGER, gpc=str(gpc))
        d.dynamic("fleetmon_jetson_emc_load_ratio", RATIO)
        d.static("fleetmon_jetson_emc_frequency_hertz", 3_199_000_000)
        for engine, active in JETSON_ENGINES:
            d.static("fleetmon_jetson_engine_active", 1 if active else 0, engine=engine)
        for engine, active in JETSON_ENGINES:
            if active:
                d.static("fleetmon_jetson_engine_frequency_hertz", 115_200_000, engine=engine)
        for zone in JETSON_ZONES:
            d.dynamic("fleetmon_jetson_temperature_celsius", CELSIUS, zone=zone)
        for name in ("power_watts", "power_average_watts"):
            for rail in JETSON_RAILS:
                d.dynamic("fleetmon_jetson_" + name, WATTS, rail=rail)
        d.dynamic("fleetmon_jetson_power_total_watts", WATTS)
        d.dynamic("fleetmon_jetson_fan_speed_ratio", RATIO, fan="pwmfan")
        d.static("fleetmon_jetson_clocks_enabled", 0)
        d.static("fleetmon_jetson_nvpmodel_info", 1, mode="MAXN" if board.max_power_w >= 20 else "15W")
        d.static("fleetmon_jetson_info", 1, model=board.model, l4t=board.l4t, jetpack=board.jetpack,
                 source="tegrastats")

    def cpu_at(self, t: float) -> float:
        """The CPU use reported at run time ``t``: the wandering level, or the spike while one lasts."""
        spike = self.cpu_spike
        if spike is not None and spike.active(t):
            return SPIKE_CPU
        return self.cpu

    def root_usage_at(self, t: float) -> float:
        fill = self.disk_fill
        if fill is not None and t >= fill.at:
            return fill.value_at(t)
        return self.usage[0]

    def watched(self, t: float) -> MetricSet:
        """The series the host's edge thresholds watch, as they read at run time ``t`` after a ``step``."""
        out = MetricSet()
        out.add("fleetmon_cpu_usage_ratio", self.cpu_at(t))
        out.add("fleetmon_memory_usage_ratio", self.memory)
        out.add("fleetmon_filesystem_usage_ratio", self.root_usage_at(t), self.spec.mounts[0].labels)
        if self.spec.board is not None:
            out.add("fleetmon_jetson_temperature_celsius", self.tj, {"zone": "tj"})
        return out

    def step(self, rnd: "random.Random", t: float, now: float) -> List[float]:
        """The dynamic values of the sample taken at run time ``t`` (wall clock ``now``), all but the last:
        fleetmon_agent_alerts_firing comes from the host's threshold evaluation, which reads this step."""
        spec, r, dt = self.spec, rnd.random, self.interval_s
        self.cpu = _wander(self.cpu, spec.cpu_level, 0.1, r(), 0.01, MAX_CPU)
        cpu = self.cpu_at(t)
        cores = [cpu * w if cpu * w < 1.0 else 1.0 for w in self.core_weights]
        busy = cpu * spec.cores
        load = self.load
        load[0] = busy * (0.8 + 0.4 * r())
        load[1] += (load[0] - load[1]) * min(1.0, dt / 300.0)
        load[2] += (load[0] - load[2]) * min(1.0, dt / 900.0)
        self.memory = _wander(self.memory, spec.memory_level, 0.02, r(), 0.05, MAX_MEMORY)
        total = spec.memory_bytes
        used = total * self.memory
        self.swap = _wander(self.swap, 0.02, 0.002, r(), 0.0, 0.2)
        usage = self.usage
        usage[0] = min(MAX_ROOT_USAGE, usage[0] + 1e-8 * dt)
        for i in range(1, len(usage)):
            usage[i] = _wander(usage[i], usage[i], 0.0005, r(), 0.0, MAX_ROOT_USAGE)
        current = [self.root_usage_at(t), *usage[1:]]
        sizes = [mount.size_bytes for mount in spec.mounts]
        values: List[float] = [cpu, *cores, *load, total - used, used, self.memory, self.swap_total * self.swap,
                               self.swap]
        values += [size * u for size, u in zip(sizes, current)]
        values += [size * (1.0 - u) for size, u in zip(sizes, current)]
        values += current
        activity = 0.5 + cpu
        for counters, rate in zip(self.disk, self.disk_rates):
            grown = rate * dt * activity
            counters[0] += grown
            counters[1] += grown * 0.6
            counters[2] += grown / 65536
            counters[3] += grown * 0.6 / 4096
            counters[4] += dt * min(1.0, 0.05 * activity)
        for column in range(5):
            values += [counters[column] for counters in self.disk]
        net, grown = self.net, self.net_rate * dt * (0.3 + cpu)
        net[0] += grown
        net[1] += grown * 0.4
        net[2] += grown / 900
        net[3] += grown * 0.4 / 600
        values += net
        if spec.board is None:
            values += [35.0 + 45.0 * cpu + 2.0 * r(), 38.0 + 10.0 * cpu + r()]
        self.processes += int(r() * 5) - 2
        tops = (cpu * spec.cores * 0.4, cpu * spec.cores * 0.15, cpu * 0.2)
        values += [self.boot_time, now - self.boot_time, self.processes, *tops]
        values += [m * (0.98 + 0.04 * r()) for m in self.top_memory]
        if spec.board is not None:
            values += self._jetson_step(r, cpu, cores, used)
        values.append(0.002 + 0.006 * r())
        return values

    def _jetson_step(self, r, cpu: float, cores: List[float], used: float) -> List[float]:
        board = self.spec.board
        assert board is not None
        self.gpu = gpu = _wander(self.gpu, self.gpu_level, 0.15, r(), 0.0, MAX_GPU)
        gpu_hz = 306_000_000 + int(994_000_000 * gpu)
        temps = [40.0 + 30.0 * cpu + r(), 40.0 + 35.0 * gpu + r(), 42.0 + 20.0 * cpu + r(),
                 41.0 + 20.0 * gpu + r(), 41.0 + 15.0 * cpu + r()]
        self.tj = max(temps) + 0.5
        temps.append(self.tj)
        total_w = board.max_power_w * (0.2 + 0.4 * cpu + 0.4 * gpu)
        rails = [total_w, total_w * 0.55, total_w * 0.25]
        averages = self.power_average
        for i, watts in enumerate(rails):
            averages[i] = watts if averages[i] == 0.0 else averages[i] + 0.05 * (watts - averages[i])
        return [used, self.swap_total * self.swap, *cores, gpu, *([gpu_hz] * board.gpcs),
                0.1 + 0.4 * gpu + 0.05 * r(), *temps, *rails, *averages, total_w,
                min(1.0, 0.2 + max(0.0, temps[-1] - 40.0) / 60.0)]
