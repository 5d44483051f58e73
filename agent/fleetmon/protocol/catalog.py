"""The metric catalogue: every metric the agent publishes, with its type, unit and labels.

Names follow Prometheus conventions: base units in the suffix (_bytes, _seconds, _celsius, _watts,
_hertz), utilisation as a 0..1 ``_ratio``, counters end in ``_total``. docs/metrics.md is generated from
this table (``python -m fleetmon.protocol.catalog``) and a test keeps the two equal.

The unit is written here once, as client_python carries it on each metric family; how a value in each
unit is shown to people, in Grafana, in Prometheus alert templates and on the hub's page is the table of
fleetmon.protocol.units, which every renderer reads through the metric's entry here. A counter has the
unit of what it counts (``fleetmon_disk_read_bytes_total``: bytes).
"""

import sys
from typing import Dict, FrozenSet, NamedTuple, Tuple


class MetricSpec(NamedTuple):
    name: str
    type: str  # "gauge" or "counter"
    unit: str  # one of UNIT_NAMES
    labels: Tuple[str, ...]
    help: str
    collector: str


def _specs(collector: str, rows) -> Tuple[MetricSpec, ...]:
    return tuple(MetricSpec(name, kind, unit, tuple(labels.split()) if labels else (), text, collector)
                 for name, kind, unit, labels, text in rows)


G, C = "gauge", "counter"
#: The units a metric may have: Prometheus base units, and none for counts, load averages and 0/1 states.
RATIO, CELSIUS, WATTS, BYTES, HERTZ, SECONDS, NO_UNIT = "ratio", "celsius", "watts", "bytes", "hertz", "seconds", ""
UNIT_NAMES = (RATIO, CELSIUS, WATTS, BYTES, HERTZ, SECONDS, NO_UNIT)

SYSTEM = _specs("system", [
    ("fleetmon_cpu_usage_ratio", G, RATIO, "", "CPU time not idle since the previous sample, all cores (0..1)."),
    ("fleetmon_cpu_core_usage_ratio", G, RATIO, "core", "CPU time not idle since the previous sample, per core."),
    ("fleetmon_cpu_core_frequency_hertz", G, HERTZ, "core", "Current CPU core frequency."),
    ("fleetmon_cpu_cores", G, NO_UNIT, "", "Logical CPU cores online."),
    ("fleetmon_load1", G, NO_UNIT, "", "1-minute load average."),
    ("fleetmon_load5", G, NO_UNIT, "", "5-minute load average."),
    ("fleetmon_load15", G, NO_UNIT, "", "15-minute load average."),
    ("fleetmon_memory_total_bytes", G, BYTES, "", "Physical memory."),
    ("fleetmon_memory_available_bytes", G, BYTES, "", "Memory available to new processes without swapping."),
    ("fleetmon_memory_used_bytes", G, BYTES, "", "Memory in use: total minus available."),
    ("fleetmon_memory_usage_ratio", G, RATIO, "", "Memory in use over total (0..1)."),
    ("fleetmon_swap_total_bytes", G, BYTES, "", "Swap space."),
    ("fleetmon_swap_used_bytes", G, BYTES, "", "Swap in use."),
    ("fleetmon_swap_usage_ratio", G, RATIO, "", "Swap in use over total (0..1); 0 without swap."),
    ("fleetmon_filesystem_size_bytes", G, BYTES, "mount device fstype", "Size of a mounted filesystem."),
    ("fleetmon_filesystem_used_bytes", G, BYTES, "mount device fstype", "Space used on a filesystem."),
    ("fleetmon_filesystem_free_bytes", G, BYTES, "mount device fstype", "Space available to unprivileged users."),
    ("fleetmon_filesystem_usage_ratio", G, RATIO, "mount device fstype",
     "Used over used+available, as df reports it (0..1)."),
    ("fleetmon_disk_read_bytes_total", C, BYTES, "device", "Bytes read from a block device."),
    ("fleetmon_disk_written_bytes_total", C, BYTES, "device", "Bytes written to a block device."),
    ("fleetmon_disk_reads_completed_total", C, NO_UNIT, "device", "Reads completed on a block device."),
    ("fleetmon_disk_writes_completed_total", C, NO_UNIT, "device", "Writes completed on a block device."),
    ("fleetmon_disk_io_time_seconds_total", C, SECONDS, "device", "Time a block device spent doing I/O."),
    ("fleetmon_network_receive_bytes_total", C, BYTES, "interface", "Bytes received on an interface."),
    ("fleetmon_network_transmit_bytes_total", C, BYTES, "interface", "Bytes sent on an interface."),
    ("fleetmon_network_receive_packets_total", C, NO_UNIT, "interface", "Packets received on an interface."),
    ("fleetmon_network_transmit_packets_total", C, NO_UNIT, "interface", "Packets sent on an interface."),
    ("fleetmon_network_receive_errors_total", C, NO_UNIT, "interface", "Receive errors on an interface."),
    ("fleetmon_network_transmit_errors_total", C, NO_UNIT, "interface", "Transmit errors on an interface."),
    ("fleetmon_network_receive_drops_total", C, NO_UNIT, "interface", "Received packets dropped on an interface."),
    ("fleetmon_network_transmit_drops_total", C, NO_UNIT, "interface", "Outgoing packets dropped on an interface."),
    ("fleetmon_temperature_celsius", G, CELSIUS, "zone",
     "Temperature of a hwmon sensor (zone = chip or chip_label) or thermal zone (zone = its type)."),
    ("fleetmon_boot_time_seconds", G, SECONDS, "", "System boot time, seconds since the Unix epoch."),
    ("fleetmon_uptime_seconds", G, SECONDS, "", "Seconds since boot."),
    ("fleetmon_processes", G, NO_UNIT, "", "Processes on the host."),
    ("fleetmon_top_process_cpu_usage_ratio", G, RATIO, "pid name",
     "CPU use of one of the top processes by CPU or by memory (1.0 = one full core)."),
    ("fleetmon_top_process_resident_memory_bytes", G, BYTES, "pid name",
     "Resident memory of one of the top processes by CPU or by memory."),
])

JETSON = _specs("jetson", [
    ("fleetmon_jetson_ram_used_bytes", G, BYTES, "", "RAM in use as tegrastats/jtop report it."),
    ("fleetmon_jetson_ram_total_bytes", G, BYTES, "", "RAM available to applications."),
    ("fleetmon_jetson_ram_lfb_blocks", G, NO_UNIT, "", "Free blocks of the largest contiguous free size."),
    ("fleetmon_jetson_ram_lfb_block_bytes", G, BYTES, "", "Size of the largest free block (lfb)."),
    ("fleetmon_jetson_swap_used_bytes", G, BYTES, "", "Swap (or zram) in use."),
    ("fleetmon_jetson_swap_total_bytes", G, BYTES, "", "Swap (or zram) size."),
    ("fleetmon_jetson_swap_cached_bytes", G, BYTES, "", "Swap cached."),
    ("fleetmon_jetson_iram_used_bytes", G, BYTES, "", "IRAM in use (TX1, Nano)."),
    ("fleetmon_jetson_iram_total_bytes", G, BYTES, "", "IRAM size (TX1, Nano)."),
    ("fleetmon_jetson_iram_lfb_bytes", G, BYTES, "", "Largest free IRAM block (TX1, Nano)."),
    ("fleetmon_jetson_cpu_core_usage_ratio", G, RATIO, "core", "CPU core load (0..1); absent while the core is off."),
    ("fleetmon_jetson_cpu_core_frequency_hertz", G, HERTZ, "core", "CPU core frequency."),
    ("fleetmon_jetson_cpu_core_online", G, NO_UNIT, "core", "1 while the core is online, 0 when nvpmodel has it off."),
    ("fleetmon_jetson_cpu_edp_limit_hertz", G, HERTZ, "", "CPU frequency cap set by EDP (TX1 era)."),
    ("fleetmon_jetson_mts_foreground_ratio", G, RATIO, "", "Denver/Carmel MTS foreground time (0..1)."),
    ("fleetmon_jetson_mts_background_ratio", G, RATIO, "", "Denver/Carmel MTS background time (0..1)."),
    ("fleetmon_jetson_gpu_load_ratio", G, RATIO, "",
     "GPU (GR3D) load (0..1); absent where the board reports none (Thor)."),
    ("fleetmon_jetson_gpu_frequency_hertz", G, HERTZ, "gpc", "GPU clock per GPC."),
    ("fleetmon_jetson_emc_load_ratio", G, RATIO, "", "Memory controller bandwidth use at its current clock (0..1)."),
    ("fleetmon_jetson_emc_frequency_hertz", G, HERTZ, "", "Memory controller clock."),
    ("fleetmon_jetson_engine_active", G, NO_UNIT, "engine", "1 while an engine (NVENC, NVDEC, VIC, DLA, ...) is on."),
    ("fleetmon_jetson_engine_frequency_hertz", G, HERTZ, "engine", "Engine clock while it is on."),
    ("fleetmon_jetson_engine_load_ratio", G, RATIO, "engine", "Engine load where reported (0..1)."),
    ("fleetmon_jetson_temperature_celsius", G, CELSIUS, "zone",
     "Thermal zone temperature (zone lower-cased; offline and PMIC placeholder zones skipped)."),
    ("fleetmon_jetson_temperature_max_celsius", G, CELSIUS, "zone",
     "Highest zone temperature since tegrastats started."),
    ("fleetmon_jetson_power_watts", G, WATTS, "rail", "Instant power of a rail."),
    ("fleetmon_jetson_power_average_watts", G, WATTS, "rail", "Average power of a rail since its source started."),
    ("fleetmon_jetson_power_max_watts", G, WATTS, "rail", "Highest power of a rail since tegrastats started."),
    ("fleetmon_jetson_power_total_watts", G, WATTS, "",
     "Module input power: the VIN, POM_5V_IN or VDD_IN rail, else the sum of all rails."),
    ("fleetmon_jetson_fan_speed_ratio", G, RATIO, "fan", "Fan PWM duty (0..1)."),
    ("fleetmon_jetson_clocks_enabled", G, NO_UNIT, "", "1 while jetson_clocks pins the clocks at maximum."),
    ("fleetmon_jetson_nvpmodel_info", G, NO_UNIT, "mode", "Always 1; the label names the nvpmodel power mode."),
    ("fleetmon_jetson_info", G, NO_UNIT, "model l4t jetpack source",
     "Always 1; labels name the board, L4T and JetPack releases and the data source."),
    ("fleetmon_jetson_unparsed_tokens", G, NO_UNIT, "", "Tokens of the last tegrastats line the parser did not know."),
])

NVML = _specs("nvml", [
    ("fleetmon_gpu_utilization_ratio", G, RATIO, "gpu", "Time a kernel was running on the GPU (0..1)."),
    ("fleetmon_gpu_memory_utilization_ratio", G, RATIO, "gpu", "Time device memory was being read or written (0..1)."),
    ("fleetmon_gpu_memory_used_bytes", G, BYTES, "gpu", "Device memory in use."),
    ("fleetmon_gpu_memory_total_bytes", G, BYTES, "gpu", "Device memory."),
    ("fleetmon_gpu_temperature_celsius", G, CELSIUS, "gpu", "GPU core temperature."),
    ("fleetmon_gpu_power_watts", G, WATTS, "gpu", "GPU power draw."),
    ("fleetmon_gpu_power_limit_watts", G, WATTS, "gpu", "Enforced GPU power limit."),
    ("fleetmon_gpu_clock_hertz", G, HERTZ, "gpu clock", "Current clock (clock = graphics, sm, memory, video)."),
    ("fleetmon_gpu_fan_speed_ratio", G, RATIO, "gpu", "Fan speed as a share of its maximum (0..1)."),
    ("fleetmon_gpu_info", G, NO_UNIT, "gpu name uuid driver", "Always 1; labels name the GPU model, UUID and driver."),
])

CHECKS = _specs("checks", [
    ("fleetmon_check_up", G, NO_UNIT, "check type", "1 when the check's last run passed, 0 when it failed."),
    ("fleetmon_check_duration_seconds", G, SECONDS, "check type", "How long the check's last run took."),
    ("fleetmon_check_consecutive_failures", G, NO_UNIT, "check type", "Failed runs in a row."),
    ("fleetmon_check_cert_expiry_seconds", G, SECONDS, "check", "Seconds until a tls check's certificate expires."),
    ("fleetmon_journey_step_up", G, NO_UNIT, "check step",
     "1 when a journey step's last run passed, 0 when it failed; absent from a run that skipped the step."),
    ("fleetmon_journey_step_duration_seconds", G, SECONDS, "check step phase",
     "Time a journey step's last run spent per phase: dns, connect, tls, first_byte (request sent to first "
     "response byte), total."),
])

AGENT = _specs("agent", [
    ("fleetmon_agent_collector_up", G, NO_UNIT, "collector", "1 when a collector's last run succeeded."),
    ("fleetmon_agent_collect_duration_seconds", G, SECONDS, "", "Time taken by the last collection, all collectors."),
    ("fleetmon_agent_spool_samples", G, NO_UNIT, "", "Samples waiting in the on-disk spool."),
    ("fleetmon_agent_spool_dropped_total", C, NO_UNIT, "", "Spooled samples dropped at the spool bound."),
    ("fleetmon_agent_alerts_firing", G, NO_UNIT, "", "Edge alerts firing on this host."),
    ("fleetmon_agent_log_lines_read_total", C, NO_UNIT, "",
     "Journal entries the agent read (journalctl passes only those at or above logs.priority)."),
    ("fleetmon_agent_log_lines_published_total", C, NO_UNIT, "",
     "Log entries the broker acknowledged, sent live or from the log spool."),
    ("fleetmon_agent_log_lines_dropped_total", C, NO_UNIT, "unit",
     "Log entries the per-unit rate limit dropped (unit: the entry's unit, else its identifier)."),
    ("fleetmon_agent_log_spool_batches", G, NO_UNIT, "", "Log batches waiting in the log spool."),
    ("fleetmon_agent_log_spool_dropped_total", C, NO_UNIT, "",
     "Log batches dropped at the log spool's bound (or that could not be written to it)."),
    ("fleetmon_agent_log_journal_restarts_total", C, NO_UNIT, "", "Times journalctl exited and was started again."),
    ("fleetmon_agent_log_shipper_errors_total", C, NO_UNIT, "",
     "Unexpected errors in the log shipper (each logged with its traceback; shipping starts over)."),
])

#: Series scraped from local Prometheus endpoints keep their own names, plus a `target` label.
APP_METRICS_NOTE = ("Application metrics scraped from `collectors.prometheus.targets` keep their own names "
                    "and labels, plus `target` naming the configured endpoint.")

ALL = SYSTEM + JETSON + NVML + CHECKS + AGENT
BY_NAME: Dict[str, MetricSpec] = {spec.name: spec for spec in ALL}
#: Check results travel on their own topic, in batches of the checks that just ran, and the hub does not put
#: them on its /metrics: Grafana panels and Prometheus rules leave them out, edge alerts end by value.
CHECK_METRICS: FrozenSet[str] = frozenset(spec.name for spec in CHECKS)


def markdown() -> str:
    lines = [
        "# Metric catalogue",
        "",
        "Generated from `agent/fleetmon/protocol/catalog.py` by `python -m fleetmon.protocol.catalog`;",
        "a test keeps this file and the code equal. Ratios are 0..1, temperatures Celsius, power watts,",
        "frequencies hertz, sizes bytes, times seconds; a counter (its name ends in `_total`) has the unit of",
        "what it counts. `-`: no unit (counts, load averages, 0/1 states).",
        "",
        "Every series also carries `host` and the host's inventory labels once the hub exposes it.",
    ]
    for title, specs in (("System (/proc and /sys)", SYSTEM), ("Jetson (jtop or tegrastats)", JETSON),
                         ("NVIDIA GPUs (NVML)", NVML), ("Health checks", CHECKS), ("The agent itself", AGENT)):
        lines += ["", "## " + title, "", "| metric | type | unit | labels | meaning |", "|---|---|---|---|---|"]
        lines += ["| `{}` | {} | {} | {} | {} |".format(s.name, s.type, s.unit or "-",
                                                       ", ".join(f"`{x}`" for x in s.labels) or "-", s.help)
                  for s in specs]
    lines += ["", "## Application metrics", "", APP_METRICS_NOTE, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown())
