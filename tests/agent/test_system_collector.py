"""The system collector on this host, and its decisions (which mounts, which zones, which processes)
on recorded shapes of hosts it cannot be (a Jetson with a core offline, a container, a snap host)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from fleetmon.agent.collectors.system import SystemCollector
from fleetmon.agent.collectors.system.cpu import CpuTimes, busy_ratio, parse_proc_stat, read_core_frequencies
from fleetmon.agent.collectors.system.filesystems import Mount, block_fstypes, select_mounts
from fleetmon.agent.collectors.system.processes import (
    ProcessSample,
    full_process_name,
    scan_processes,
    top_processes,
)
from fleetmon.agent.collectors.system.thermal import hwmon_temperatures, read_thermal_zones, thermal_zones
from fleetmon.agent.config import SystemCollectorConfig
from fleetmon.protocol.catalog import SYSTEM
from fleetmon.protocol.metricset import MetricSet
from tests.polling import wait_until

SYSTEM_NAMES = {spec.name for spec in SYSTEM}
SYSTEM_LABELS = {spec.name: set(spec.labels) for spec in SYSTEM}


def collect(collector: SystemCollector) -> MetricSet:
    out = MetricSet()
    collector.collect(out)
    return out


def series(metrics: MetricSet, name: str):
    return [s for s in metrics if s.name == name]


def interfaces_in(metrics: MetricSet):
    return {s.labels["interface"] for s in series(metrics, "fleetmon_network_receive_bytes_total")}


def test_a_sample_of_this_host_uses_catalogue_names_labels_and_units():
    collector = SystemCollector(SystemCollectorConfig())
    time.sleep(0.2)  # a few clock ticks, so that CPU usage has an interval to cover
    metrics = collect(collector)

    for item in metrics:
        assert item.name in SYSTEM_NAMES, item.name
        assert set(item.labels) == SYSTEM_LABELS[item.name], item
        if item.name.endswith("_ratio") and "top_process" not in item.name:
            assert 0.0 <= item.value <= 1.0, item
    # The first sample already has CPU usage: the constructor took the first reading.
    assert metrics.get("fleetmon_cpu_usage_ratio") is not None
    assert metrics.get("fleetmon_cpu_cores") == psutil.cpu_count()
    assert metrics.get("fleetmon_cpu_core_usage_ratio", core="0") is not None
    assert metrics.get("fleetmon_memory_total_bytes") == psutil.virtual_memory().total
    total, used = metrics.get("fleetmon_memory_total_bytes"), metrics.get("fleetmon_memory_used_bytes")
    assert used == total - metrics.get("fleetmon_memory_available_bytes")
    assert metrics.get("fleetmon_uptime_seconds") > 0
    assert abs(metrics.get("fleetmon_boot_time_seconds") - psutil.boot_time()) < 2
    assert metrics.get("fleetmon_processes") > 1
    assert metrics.get("fleetmon_load1") == pytest.approx(os.getloadavg()[0], abs=5)


def test_the_root_filesystem_is_reported_like_df():
    metrics = collect(SystemCollector(SystemCollectorConfig()))

    root = [s for s in series(metrics, "fleetmon_filesystem_size_bytes") if s.labels["mount"] == "/"]
    assert len(root) == 1
    labels = root[0].labels
    usage = shutil.disk_usage("/")
    assert root[0].value == usage.total
    used = metrics.get("fleetmon_filesystem_used_bytes", **labels)
    free = metrics.get("fleetmon_filesystem_free_bytes", **labels)
    assert metrics.get("fleetmon_filesystem_usage_ratio", **labels) == pytest.approx(used / (used + free))
    # No pseudo filesystems (proc, sysfs, tmpfs, cgroup...) are reported.
    assert {s.labels["fstype"] for s in series(metrics, "fleetmon_filesystem_size_bytes")} <= \
        block_fstypes(Path("/proc/filesystems").read_text()) | {"overlay", "zfs", "nfs", "nfs4", "cifs"}


def test_excluded_mounts_and_interfaces_are_left_out():
    default = collect(SystemCollector(SystemCollectorConfig()))
    assert "lo" not in interfaces_in(default)

    everything = collect(SystemCollector(SystemCollectorConfig(exclude_interfaces=[])))
    assert "lo" in interfaces_in(everything)

    first = sorted(interfaces_in(everything) - {"lo"})[0]
    # Regexes match whole names: 'lo' must not drop an interface such as 'wlo1'.
    narrowed = collect(SystemCollector(SystemCollectorConfig(exclude_interfaces=["lo", first[:-1] + ".*"],
                                                             exclude_mounts=["/"])))
    left = interfaces_in(narrowed)
    assert first not in left and "lo" not in left
    assert "/" not in {s.labels["mount"] for s in series(narrowed, "fleetmon_filesystem_size_bytes")}


def test_disks_are_whole_devices_without_loop_or_ram_devices():
    metrics = collect(SystemCollector(SystemCollectorConfig()))
    devices = {s.labels["device"] for s in series(metrics, "fleetmon_disk_read_bytes_total")}
    whole = {entry.replace("!", "/") for entry in os.listdir("/sys/block")}
    assert devices <= whole
    assert not any(device.startswith(("loop", "ram", "zram")) for device in devices)
    for device in devices:
        assert metrics.get("fleetmon_disk_io_time_seconds_total", device=device) >= 0


def test_a_busy_process_shows_its_cpu_over_the_interval(tmp_path):
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        collector = SystemCollector(SystemCollectorConfig(top_processes=50))
        time.sleep(1.0)  # a measurement interval: the spinner's CPU time accrues in the kernel's ticks
        metrics = collect(collector)
    finally:
        spinner.kill()
        spinner.wait()

    labels = {"pid": str(spinner.pid), "name": os.path.basename(sys.executable)}
    # (MetricSet.get cannot take a label called "name", so look the series up by hand.)
    busy = [s.value for s in series(metrics, "fleetmon_top_process_cpu_usage_ratio") if s.labels == labels]
    # It spins for the whole interval; even on a loaded machine it gets a good share of a core.
    assert busy and busy[0] > 0.05, series(metrics, "fleetmon_top_process_cpu_usage_ratio")
    rss = [s.value for s in series(metrics, "fleetmon_top_process_resident_memory_bytes")
           if s.labels == labels]
    assert rss and rss[0] > 1024 * 1024
    assert metrics.get("fleetmon_cpu_usage_ratio") > 0


def test_without_top_processes_only_the_process_count_is_reported():
    metrics = collect(SystemCollector(SystemCollectorConfig(top_processes=0)))
    assert metrics.get("fleetmon_processes") > 1
    assert not series(metrics, "fleetmon_top_process_cpu_usage_ratio")


def test_temperatures_can_be_switched_off():
    metrics = collect(SystemCollector(SystemCollectorConfig(temperatures=False)))
    assert not series(metrics, "fleetmon_temperature_celsius")


def test_facts_describe_the_host():
    facts = SystemCollector(SystemCollectorConfig()).facts()
    assert set(facts) == {"hostname", "os", "kernel", "arch", "cpus", "memory_bytes", "boot_time", "python"}
    assert facts["memory_bytes"] == psutil.virtual_memory().total
    assert facts["cpus"] == os.cpu_count()
    assert facts["os"] and facts["kernel"] == os.uname().release and facts["arch"] == os.uname().machine


# --- CPU -------------------------------------------------------------------------------------------

# A Jetson with nvpmodel holding core 2 offline: /proc/stat has no cpu2 line.
PROC_STAT = """\
cpu  1000 0 500 8000 500 0 0 0 0 0
cpu0 400 0 200 3000 100 0 0 0 0 0
cpu1 300 0 150 2500 200 0 0 0 0 0
cpu3 300 0 150 2500 200 0 0 0 0 0
intr 12345
btime 1700000000
processes 999
"""


def test_cores_keep_their_kernel_numbers_when_one_is_offline():
    stat = parse_proc_stat(PROC_STAT)
    assert sorted(stat.cores) == ["0", "1", "3"]
    assert stat.boot_time == 1700000000
    # iowait is idle time, not work.
    assert stat.cores["1"] == CpuTimes(busy=450, total=3150)
    assert stat.total == CpuTimes(busy=1500, total=10000)


def test_busy_ratio_is_measured_between_readings():
    assert busy_ratio(CpuTimes(100, 1000), CpuTimes(175, 1100)) == 0.75
    assert busy_ratio(CpuTimes(100, 1000), CpuTimes(100, 1000)) is None


def test_core_frequencies_come_from_each_cores_cpufreq(tmp_path):
    for core, khz in (("0", "1984000\n"), ("3", "729600\n")):
        (tmp_path / ("cpu" + core) / "cpufreq").mkdir(parents=True)
        (tmp_path / ("cpu" + core) / "cpufreq" / "scaling_cur_freq").write_text(khz)
    assert read_core_frequencies(["0", "1", "3"], str(tmp_path)) == {"0": 1.984e9, "3": 7.296e8}


# --- processes -------------------------------------------------------------------------------------

def test_process_scan_skips_processes_that_vanished(tmp_path):
    (tmp_path / "12").mkdir()
    (tmp_path / "12" / "stat").write_bytes(
        b"12 (tmux: server) S 1 12 12 0 -1 4194560 1 0 0 0 150 50 0 0 20 0 1 0 5000 9000 300 184467440737")
    (tmp_path / "13").mkdir()  # exited: its directory was listed but its stat is gone
    (tmp_path / "self").mkdir()
    assert scan_processes(str(tmp_path), 4096) == [ProcessSample(12, "tmux: server", 5000, 200, 300 * 4096)]


def test_top_processes_by_cpu_and_by_memory_are_listed_once():
    previous = {(1, 10): 100, (2, 20): 0, (3, 30): 50, (5, 50): 0}
    samples = [
        ProcessSample(1, "busy", 10, 300, 5000),      # 200 ticks in the interval, much memory
        ProcessSample(2, "idle-big", 20, 0, 9000),    # no CPU, most memory
        ProcessSample(3, "reused", 99, 40, 20),       # PID 3 was reused: a new process, 40 ticks
        ProcessSample(4, "new", 40, 60, 30),          # started during the interval: all 60 ticks count
        ProcessSample(5, "small", 50, 10, 10),        # 10 ticks, least memory
    ]
    top = top_processes(previous, samples, elapsed=2.0, ticks_per_second=100, count=3)
    assert {p.pid: p.cpu_ratio for p in top} == {1: 1.0, 4: 0.3, 3: 0.2, 2: 0.0}
    assert len(top) == 4


def test_an_idle_host_has_no_top_processes_by_cpu_only_by_memory():
    samples = [ProcessSample(pid, "p", 1, 5, pid * 10) for pid in range(1, 6)]
    previous = {(p.pid, p.start): p.cpu_ticks for p in samples}
    top = top_processes(previous, samples, elapsed=1.0, ticks_per_second=100, count=2)
    assert sorted(p.pid for p in top) == [4, 5]


def test_without_a_measured_interval_only_memory_ranks():
    samples = [ProcessSample(1, "spinner", 1, 500, 10), ProcessSample(2, "big", 2, 0, 5000)]
    top = top_processes({}, samples, elapsed=0.0, ticks_per_second=100, count=1)
    assert [(p.pid, p.cpu_ratio) for p in top] == [(2, 0.0)]


def wait_for_exec(pid: int, comm: str) -> str:
    """The child runs the test's code until it has exec'd the program; wait for the kernel's name."""
    wait_until(lambda: Path(f"/proc/{pid}/comm").read_text().strip() == comm, timeout=10, interval=0.01,
               message="the child's exec")
    return comm


def test_long_process_names_come_from_the_command_line(tmp_path):
    program = tmp_path / "fleetmon-test-long-sleeper"
    shutil.copy(shutil.which("sleep"), program)
    process = subprocess.Popen([str(program), "30"])
    try:
        comm = wait_for_exec(process.pid, "fleetmon-test-l")
        assert full_process_name("/proc", process.pid, comm) == "fleetmon-test-long-sleeper"
    finally:
        process.kill()
        process.wait()
    assert full_process_name("/proc", 1, "init") == "init"


# --- filesystems -----------------------------------------------------------------------------------

FILESYSTEMS = "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\n\text4\n\tvfat\n\tsquashfs\nnodev\toverlay\n" \
              "nodev\tnfs4\nnodev\tautofs\n\tbtrfs\nnodev\tzfs\n"


def test_real_filesystems_are_block_backed_network_or_the_container_root():
    partitions = [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("tmpfs", "/run", "tmpfs"),
        ("overlay", "/", "overlay"),                                  # a container's root
        ("overlay", "/var/lib/docker/overlay2/abc/merged", "overlay"),  # someone else's container
        ("/dev/nvme0n1p2", "/data", "ext4"),
        ("/dev/nvme0n1p2", "/srv/bind-of-data", "ext4"),              # a bind mount
        ("/dev/nvme0n1p1", "/boot/efi", "vfat"),
        ("/dev/loop3", "/snap/core20/2015", "squashfs"),
        ("nas:/export/models", "/mnt/models", "nfs4"),
        ("systemd-1", "/mnt/auto", "autofs"),
        ("rpool/home", "/home", "zfs"),
        ("/dev/sdb1", "/media/usb", "btrfs"),
    ]
    block_types = block_fstypes(FILESYSTEMS)
    assert block_types == {"ext4", "vfat", "squashfs", "btrfs"}

    mounts = select_mounts(partitions, block_types, exclude=None)
    assert mounts == [
        Mount("overlay", "/", "overlay"),
        Mount("/dev/nvme0n1p1", "/boot/efi", "vfat"),
        Mount("/dev/nvme0n1p2", "/data", "ext4"),
        Mount("rpool/home", "/home", "zfs"),
        Mount("/dev/sdb1", "/media/usb", "btrfs"),
        Mount("nas:/export/models", "/mnt/models", "nfs4"),
    ]

    import re
    excluded = select_mounts(partitions, block_types, exclude=re.compile("/boot/.*|/media/.*"))
    assert [m.mountpoint for m in excluded] == ["/", "/data", "/home", "/mnt/models"]


def test_this_hosts_filesystem_types_file_is_understood():
    types = block_fstypes(Path("/proc/filesystems").read_text())
    assert "ext4" in types and "tmpfs" not in types and "proc" not in types


# --- temperatures ----------------------------------------------------------------------------------

class Reading(NamedTuple):  # the shape of psutil's sensors_temperatures() entries
    label: str
    current: float
    high: float = None
    critical: float = None


def test_hwmon_zones_are_named_after_chip_and_label():
    zones = hwmon_temperatures({
        "coretemp": [Reading("Package id 0", 48.0), Reading("Core 0", 45.0)],
        "acpitz": [Reading("", 27.8)],
        "nvme": [Reading("Composite", 38.9), Reading("Composite", 41.9)],  # two drives, one chip name
        "cpu_therm": [Reading("", -256.0)],
    })
    assert zones == {"coretemp_package_id_0": 48.0, "coretemp_core_0": 45.0, "acpitz": 27.8,
                     "nvme_composite": 38.9, "nvme_composite_2": 41.9}


def test_thermal_zones_are_read_once_each_and_implausible_values_skipped(tmp_path):
    def zone(number, kind, temp):
        directory = tmp_path / f"thermal_zone{number}"
        directory.mkdir()
        (directory / "type").write_text(kind + "\n")
        if temp is None:
            (directory / "temp").mkdir()  # reading it fails, as an offline zone's read does
        else:
            (directory / "temp").write_text(temp + "\n")

    zone(0, "CPU-therm", "45500")
    zone(1, "GPU-therm", "-256000")   # an offline Jetson zone
    zone(2, "acpitz", "27800")        # also seen through hwmon
    zone(3, "SOC0-therm", None)
    zone(10, "CPU-therm", "47000")    # a second zone of the same type
    (tmp_path / "cooling_device0").mkdir()

    zones = thermal_zones(str(tmp_path))
    assert [name for _, name in zones] == ["cpu_therm", "gpu_therm", "acpitz", "soc0_therm", "cpu_therm_2"]
    assert read_thermal_zones(zones, skip={"acpitz": 27.8}) == {"cpu_therm": 45.5, "cpu_therm_2": 47.0}
    assert thermal_zones(str(tmp_path / "missing")) == []


def test_the_process_scan_runs_once_per_process_interval():
    now = [1000.0]
    collector = SystemCollector(SystemCollectorConfig(process_interval=0.5), clock=lambda: now[0])
    first, second = collect(collector), collect(collector)
    assert first.names().count("fleetmon_top_process_resident_memory_bytes") == 1
    assert "fleetmon_top_process_resident_memory_bytes" not in second.names(), "within the interval: no scan"
    assert second.get("fleetmon_processes") > 0, "the process count is in every sample"
    now[0] += 0.6
    assert "fleetmon_top_process_resident_memory_bytes" in collect(collector).names()
