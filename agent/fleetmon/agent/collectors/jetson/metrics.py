"""A JetsonReading as catalogue series (fleetmon_jetson_*); absent values make no series."""

from typing import Mapping, Optional

from fleetmon.agent.collectors.jetson.board import BoardInfo
from fleetmon.agent.collectors.jetson.reading import JetsonReading
from fleetmon.protocol.metricset import MetricSet

P = "fleetmon_jetson_"


def _add(out: MetricSet, name: str, value: Optional[float],
         labels: Optional[Mapping[str, str]] = None) -> None:
    if value is not None:
        out.add(P + name, value, labels)


def add_reading(out: MetricSet, reading: JetsonReading) -> None:
    if reading.ram:
        _add(out, "ram_used_bytes", reading.ram.used_bytes)
        _add(out, "ram_total_bytes", reading.ram.total_bytes)
        _add(out, "ram_lfb_blocks", reading.ram.lfb_blocks)
        _add(out, "ram_lfb_block_bytes", reading.ram.lfb_block_bytes)
    if reading.swap:
        _add(out, "swap_used_bytes", reading.swap.used_bytes)
        _add(out, "swap_total_bytes", reading.swap.total_bytes)
        _add(out, "swap_cached_bytes", reading.swap.cached_bytes)
    if reading.iram:
        _add(out, "iram_used_bytes", reading.iram.used_bytes)
        _add(out, "iram_total_bytes", reading.iram.total_bytes)
        _add(out, "iram_lfb_bytes", reading.iram.lfb_bytes)
    for core in reading.cores:
        labels = {"core": str(core.index)}
        _add(out, "cpu_core_online", 1 if core.online else 0, labels)
        _add(out, "cpu_core_usage_ratio", core.load, labels)
        _add(out, "cpu_core_frequency_hertz", core.frequency_hz, labels)
    _add(out, "cpu_edp_limit_hertz", reading.edp_limit_hz)
    _add(out, "mts_foreground_ratio", reading.mts_foreground)
    _add(out, "mts_background_ratio", reading.mts_background)
    _add(out, "gpu_load_ratio", reading.gpu_load)
    for gpc, frequency in enumerate(reading.gpc_frequencies_hz):
        _add(out, "gpu_frequency_hertz", frequency, {"gpc": str(gpc)})
    _add(out, "emc_load_ratio", reading.emc_load)
    _add(out, "emc_frequency_hertz", reading.emc_frequency_hz)
    for engine in reading.engines:
        labels = {"engine": engine.name}
        _add(out, "engine_active", 1 if engine.active else 0, labels)
        _add(out, "engine_load_ratio", engine.load, labels)
        if engine.active:
            _add(out, "engine_frequency_hertz", engine.frequency_hz, labels)
    for temperature in reading.temperatures:
        labels = {"zone": temperature.zone}
        _add(out, "temperature_celsius", temperature.celsius, labels)
        _add(out, "temperature_max_celsius", temperature.max_celsius, labels)
    for rail in reading.rails:
        labels = {"rail": rail.name}
        _add(out, "power_watts", rail.watts, labels)
        _add(out, "power_average_watts", rail.average_watts, labels)
        _add(out, "power_max_watts", rail.max_watts, labels)
    _add(out, "power_total_watts", reading.total_power_watts)
    for fan in reading.fans:
        _add(out, "fan_speed_ratio", fan.speed, {"fan": fan.name})
    if reading.jetson_clocks is not None:
        _add(out, "clocks_enabled", 1 if reading.jetson_clocks else 0)
    if reading.nvpmodel:
        _add(out, "nvpmodel_info", 1, {"mode": reading.nvpmodel})


def add_info(out: MetricSet, board: BoardInfo, source: str) -> None:
    _add(out, "info", 1, {"model": board.model, "l4t": board.l4t, "jetpack": board.jetpack, "source": source})
