"""The system collector on trees recorded from hosts it cannot be here (tests/data/hosts): a Jetson
with a core and its CV zones offline, a server with odd mounts and stacked disks, and this CI VM.

Each table row names a host and what a user would see from it; the comment on a row says why.
Counters that need two readings get their second one written into a copy of the tree."""

import os
import shutil
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import pytest

from fleetmon.agent.collectors.system import SystemCollector
from fleetmon.agent.collectors.system.memory import MemorySource
from fleetmon.agent.config import SystemCollectorConfig
from fleetmon.protocol.catalog import SYSTEM
from fleetmon.protocol.metricset import MetricSet

HOSTS = Path(__file__).resolve().parent.parent / "data" / "hosts"
JETSON, SERVER, VM = "jetson-orin-nano-jp6", "server-odd-mounts", "x86-vm"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
KIB = 1024


class Statvfs(NamedTuple):
    f_blocks: int
    f_bfree: int
    f_bavail: int
    f_frsize: int = 4096


EVERY_MOUNT = Statvfs(f_blocks=1000, f_bfree=600, f_bavail=550)


class FakeStatvfs:
    """statvfs(2) answers by mount point; a mount in ``failing`` fails as a stale NFS handle does."""

    def __init__(self, answers: Optional[Dict[str, Statvfs]] = None, failing: Tuple[str, ...] = ()) -> None:
        self.answers = answers or {}
        self.failing = failing

    def __call__(self, path: str) -> Statvfs:
        if path in self.failing:
            raise OSError(116, "Stale file handle", path)
        return self.answers.get(path, EVERY_MOUNT)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(root: Path, config: Optional[SystemCollectorConfig] = None, statvfs: Optional[FakeStatvfs] = None,
         clock: Optional[Clock] = None) -> SystemCollector:
    return SystemCollector(config or SystemCollectorConfig(), proc=str(root / "proc"), sys=str(root / "sys"),
                           statvfs=statvfs or FakeStatvfs(), clock=clock or Clock())


def collect(collector: SystemCollector) -> MetricSet:
    out = MetricSet()
    collector.collect(out)
    return out


def sample(host: str, **config) -> MetricSet:
    return collect(make(HOSTS / host, SystemCollectorConfig(**config)))


def copy_of(host: str, tmp_path: Path) -> Path:
    root = tmp_path / host
    shutil.copytree(HOSTS / host, root, symlinks=True)
    return root


def labels_of(metrics: MetricSet, name: str, label: str) -> List[str]:
    return sorted(s.labels[label] for s in metrics.series(name))


def by_label(metrics: MetricSet, name: str, label: str) -> Dict[str, float]:
    return {s.labels[label]: s.value for s in metrics.series(name)}


@pytest.mark.parametrize("host", [JETSON, SERVER, VM])
def test_every_series_of_a_recorded_host_is_in_the_catalogue(host):
    names = {spec.name: set(spec.labels) for spec in SYSTEM}
    for item in sample(host, top_processes=10):
        assert set(item.labels) == names[item.name], item


# --- CPU, load and uptime ---------------------------------------------------------------------------

class CpuCase(NamedTuple):
    host: str
    cores: List[str]
    frequencies: Dict[str, float]  # hertz
    load: Tuple[float, float, float]
    uptime: float
    boot_time: float


CPU_CASES = [
    # cpu2 was taken offline: it is absent and cpu3..5 keep the kernel's numbers. The two clusters
    # (cpu0-3, cpu4-5) run at different clocks, so each core has its own frequency.
    CpuCase(JETSON, ["0", "1", "3", "4", "5"],
            {"0": 729.6e6, "1": 729.6e6, "3": 729.6e6, "4": 1113.6e6, "5": 1113.6e6},
            (0.35, 0.41, 0.38), 931.41, 1758469966),
    # intel_pstate reports each core's own frequency.
    CpuCase(SERVER, [str(n) for n in range(8)],
            {str(n): (800.0e6, 3400.012e6, 1200.0e6, 2900.001e6)[n % 4] for n in range(8)},
            (2.13, 1.87, 1.65), 4123877.52, 1760002811),
    # A VM without cpufreq reports no frequency at all, not zero.
    CpuCase(VM, ["0", "1"], {}, (1.17, 1.44, 1.0), 4548.28, 1796230913),
]


@pytest.mark.parametrize("case", CPU_CASES, ids=lambda case: case.host)
def test_cores_frequencies_load_and_uptime(case):
    metrics = sample(case.host)
    assert metrics.get("fleetmon_cpu_cores") == len(case.cores)
    assert by_label(metrics, "fleetmon_cpu_core_frequency_hertz", "core") == pytest.approx(case.frequencies)
    load = (metrics.get("fleetmon_load1"), metrics.get("fleetmon_load5"), metrics.get("fleetmon_load15"))
    assert load == case.load
    assert metrics.get("fleetmon_uptime_seconds") == case.uptime
    assert metrics.get("fleetmon_boot_time_seconds") == case.boot_time
    # No clock tick passed since the constructor's reading: no usage yet, rather than a made-up 0.
    assert metrics.get("fleetmon_cpu_usage_ratio") is None
    assert not list(metrics.series("fleetmon_cpu_core_usage_ratio"))


def write_proc_stat(root: Path, added: Dict[str, Tuple[int, int, int]]) -> None:
    """Advance /proc/stat: ``added[core] = (user, idle, iowait)`` ticks; a core not yet listed comes
    online with those counters added to its last ones (given as 'cpuN' lines in the original)."""
    path = root / "proc" / "stat"
    lines = path.read_text().splitlines()
    out, total = [], [0, 0, 0]
    for line in lines:
        fields = line.split()
        name = fields[0]
        if name.startswith("cpu") and name != "cpu" and name[3:] in added:
            user, idle, iowait = added[name[3:]]
            values = [int(v) for v in fields[1:]]
            values[0] += user
            values[3] += idle
            values[4] += iowait
            total = [total[0] + user, total[1] + idle, total[2] + iowait]
            line = " ".join([name] + [str(v) for v in values])
        out.append(line)
    first = out[0].split()
    values = [int(v) for v in first[1:]]
    values[0] += total[0]
    values[3] += total[1]
    values[4] += total[2]
    out[0] = "cpu  " + " ".join(str(v) for v in values)
    path.write_text("\n".join(out) + "\n")


def test_cpu_usage_is_measured_per_core_between_two_readings(tmp_path):
    root = copy_of(JETSON, tmp_path)
    collector = make(root)
    write_proc_stat(root, {
        "0": (60, 40, 0),   # busy 60 of 100 ticks
        "1": (10, 80, 10),  # waiting for I/O is idle time, not work: 10 of 100
        "3": (0, 100, 0),
        "4": (100, 0, 0),   # a core flat out
        "5": (30, 70, 0),
    })
    metrics = collect(collector)
    assert by_label(metrics, "fleetmon_cpu_core_usage_ratio", "core") == \
        {"0": 0.6, "1": 0.1, "3": 0.0, "4": 1.0, "5": 0.3}
    # The whole CPU: 200 busy ticks of 500. The offline core's old ticks stay in the total line and
    # add nothing between the readings.
    assert metrics.get("fleetmon_cpu_usage_ratio") == 0.4


def test_a_core_back_online_has_usage_from_its_second_reading(tmp_path):
    root = copy_of(JETSON, tmp_path)
    collector = make(root)
    stat = root / "proc" / "stat"
    lines = stat.read_text().splitlines()
    lines.insert(3, "cpu2 2180 3 804 26901 61 0 41 0 0 0")  # where the kernel lists it, between 1 and 3
    stat.write_text("\n".join(lines) + "\n")
    write_proc_stat(root, {"0": (50, 50, 0)})

    first = collect(collector)
    assert first.get("fleetmon_cpu_cores") == 6
    assert "2" not in by_label(first, "fleetmon_cpu_core_usage_ratio", "core"), "no earlier reading of cpu2"
    write_proc_stat(root, {"2": (25, 75, 0)})
    assert by_label(collect(collector), "fleetmon_cpu_core_usage_ratio", "core") == {"2": 0.25}


# --- memory -----------------------------------------------------------------------------------------

class MemoryCase(NamedTuple):
    host: str
    total_kib: int
    available_kib: int  # MemAvailable
    swap_total_kib: int
    swap_free_kib: int


MEMORY_CASES = [
    # Used is total less MemAvailable, not less MemFree: the page cache is available. zram swap.
    MemoryCase(JETSON, 7802880, 4070400, 3901440, 3659776),
    # Most of the memory is page cache over the data volumes; used is a third, not 95 %.
    MemoryCase(SERVER, 65741548, 41236712, 8388604, 8126460),
    # No swap: the ratio is 0, not a division by zero.
    MemoryCase(VM, 24683568, 24050324, 0, 0),
]


@pytest.mark.parametrize("case", MEMORY_CASES, ids=lambda case: case.host)
def test_memory_used_is_the_total_less_what_is_available(case):
    metrics = sample(case.host)
    used = (case.total_kib - case.available_kib) * KIB
    assert metrics.get("fleetmon_memory_total_bytes") == case.total_kib * KIB
    assert metrics.get("fleetmon_memory_available_bytes") == case.available_kib * KIB
    assert metrics.get("fleetmon_memory_used_bytes") == used
    assert metrics.get("fleetmon_memory_usage_ratio") == used / (case.total_kib * KIB)
    swap_used = (case.swap_total_kib - case.swap_free_kib) * KIB
    assert metrics.get("fleetmon_swap_total_bytes") == case.swap_total_kib * KIB
    assert metrics.get("fleetmon_swap_used_bytes") == swap_used
    assert metrics.get("fleetmon_swap_usage_ratio") == (swap_used / (case.swap_total_kib * KIB)
                                                        if case.swap_total_kib else 0.0)


ZONEINFO = """\
Node 0, zone      DMA
  pages free     3840
        boost    0
        min      8
        low      11
        high     14
Node 0, zone    DMA32
  pages free     240121
        min      1592
        low      1990
        high     2388
Node 0, zone   Normal
  pages free     530000
        min      15110
        low      18887
        high     22664
"""


@pytest.mark.parametrize("mem_available, zoneinfo, expected_kib", [
    # A kernel before 3.14 says nothing: free + page cache + reclaimable slab, each less the zones'
    # low watermarks (11 + 1990 + 18887 pages), as the kernel computes MemAvailable.
    (None, ZONEINFO, 3101228 - 20888 * 4 + (12981116 + 23290888 - 20888 * 4) + (3601224 - 20888 * 4)),
    # Some kernels report 0 (psutil issue 1915): the same estimate.
    (0, ZONEINFO, 3101228 - 20888 * 4 + (12981116 + 23290888 - 20888 * 4) + (3601224 - 20888 * 4)),
    # No zoneinfo either: free and cached pages.
    (None, None, 3101228 + 35312004),
], ids=["no MemAvailable", "MemAvailable 0", "no zoneinfo"])
def test_available_memory_is_estimated_where_the_kernel_does_not_say(tmp_path, mem_available, zoneinfo,
                                                                     expected_kib):
    root = copy_of(SERVER, tmp_path)
    meminfo = root / "proc" / "meminfo"
    lines = [line for line in meminfo.read_text().splitlines() if not line.startswith("MemAvailable:")]
    if mem_available is not None:
        lines.insert(2, f"MemAvailable:   {mem_available:>8} kB")
    meminfo.write_text("\n".join(lines) + "\n")
    if zoneinfo is not None:
        (root / "proc" / "zoneinfo").write_text(zoneinfo)
    assert MemorySource(str(root / "proc"), page_size=4096).read().available == expected_kib * KIB


# --- filesystems ------------------------------------------------------------------------------------

class FilesystemCase(NamedTuple):
    host: str
    mounts: List[Tuple[str, str, str]]  # (mount, device, fstype), in the order reported


FILESYSTEM_CASES = [
    # The SD card's mount point has a space, which the kernel writes as \040. tmpfs, the gvfs FUSE
    # mount, efivarfs and the other pseudo filesystems are left out.
    FilesystemCase(JETSON, [("/", "/dev/nvme0n1p1", "ext4"), ("/boot/efi", "/dev/nvme0n1p10", "vfat"),
                            ("/media/nvidia/sd card", "/dev/mmcblk0p1", "ext4")]),
    # The overlay root is the host's /, a Docker container's overlay is not. The data volume is bound
    # at /srv/data, /var/lib/docker and /home: reported once, at the shortest mount point. Both ZFS
    # datasets and the NFS share count; the snaps (squashfs) and the installer image (iso9660) are
    # always full and are left out.
    FilesystemCase(SERVER, [("/", "overlayroot", "overlay"), ("/boot", "/dev/md0", "ext4"),
                            ("/boot/efi", "/dev/sda1", "vfat"), ("/home", "/dev/mapper/vg0-data", "xfs"),
                            ("/media/root-ro", "/dev/mapper/vg0-root", "ext4"),
                            ("/mnt/models", "nas01:/export/models", "nfs4"), ("/tank", "tank", "zfs"),
                            ("/tank/backups", "tank/backups", "zfs")]),
    # /run/netns is a bind mount of the root disk; the lab's container roots are overlays elsewhere.
    FilesystemCase(VM, [("/", "/dev/vda", "ext4")]),
]


@pytest.mark.parametrize("case", FILESYSTEM_CASES, ids=lambda case: case.host)
def test_the_filesystems_a_user_would_call_disks(case):
    metrics = sample(case.host)
    reported = [(s.labels["mount"], s.labels["device"], s.labels["fstype"])
                for s in metrics.series("fleetmon_filesystem_size_bytes")]
    assert reported == case.mounts


def test_filesystem_use_is_what_df_shows(tmp_path):
    root_fs = Statvfs(f_blocks=29806080, f_bfree=20012544, f_bavail=18494464)  # 5 % reserved for root
    statvfs = FakeStatvfs({"/": root_fs, "/boot/efi": Statvfs(0, 0, 0)}, failing=("/media/nvidia/sd card",))
    metrics = collect(make(HOSTS / JETSON, statvfs=statvfs))
    labels = {"mount": "/", "device": "/dev/nvme0n1p1", "fstype": "ext4"}
    used, free = (29806080 - 20012544) * 4096, 18494464 * 4096
    assert metrics.get("fleetmon_filesystem_size_bytes", **labels) == 29806080 * 4096
    assert metrics.get("fleetmon_filesystem_used_bytes", **labels) == used
    assert metrics.get("fleetmon_filesystem_free_bytes", **labels) == free
    # Like df's Use%: the blocks reserved for root are neither used nor free to a user.
    assert metrics.get("fleetmon_filesystem_usage_ratio", **labels) == used / (used + free)
    # A filesystem of no blocks and one whose statvfs fails (a stale handle) are left out.
    assert labels_of(metrics, "fleetmon_filesystem_size_bytes", "mount") == ["/"]


def test_excluded_mount_points_are_left_out():
    metrics = sample(SERVER, exclude_mounts=["/boot(/.*)?", "/tank/.*"])
    assert labels_of(metrics, "fleetmon_filesystem_size_bytes", "mount") == \
        ["/", "/home", "/media/root-ro", "/mnt/models", "/tank"]


def test_a_root_the_kernel_mounted_as_dev_root_gets_its_device_name(tmp_path):
    # A board booted without an initramfs (a Jetson Nano from its SD card): the kernel names the root
    # /dev/root; its number, 179:1, is mmcblk0p1 in /proc/partitions.
    root = copy_of(JETSON, tmp_path)
    mountinfo = root / "proc" / "self" / "mountinfo"
    mountinfo.write_text(mountinfo.read_text().replace(
        "29 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw",
        "29 1 179:1 / / rw,relatime shared:1 - ext4 /dev/root rw"))
    (root / "proc" / "partitions").write_text(
        "major minor  #blocks  name\n\n 179        0   62367744 mmcblk0\n 179        1   62366720 mmcblk0p1\n")
    metrics = collect(make(root))
    assert ("/", "/dev/mmcblk0p1") in [(s.labels["mount"], s.labels["device"])
                                       for s in metrics.series("fleetmon_filesystem_size_bytes")]


# --- disks ------------------------------------------------------------------------------------------

class DiskCase(NamedTuple):
    host: str
    devices: List[str]


DISK_CASES = [
    # Whole devices only (no partitions); loop and zram swap devices are left out. The QSPI boot
    # flash (mtdblock0) is a block device too.
    DiskCase(JETSON, ["mmcblk0", "mtdblock0", "nvme0n1"]),
    # LVM volumes and RAID arrays appear beside the disks under them; snaps' loop devices, zram and
    # the optical drive do not.
    DiskCase(SERVER, ["dm-0", "dm-1", "md0", "md1", "nvme0n1", "nvme1n1", "sda", "sdb"]),
    DiskCase(VM, ["vda"]),
]


@pytest.mark.parametrize("case", DISK_CASES, ids=lambda case: case.host)
def test_disks_are_whole_devices(case):
    metrics = sample(case.host)
    for name in ("fleetmon_disk_read_bytes_total", "fleetmon_disk_written_bytes_total",
                 "fleetmon_disk_reads_completed_total", "fleetmon_disk_writes_completed_total",
                 "fleetmon_disk_io_time_seconds_total"):
        assert labels_of(metrics, name, "device") == case.devices, name


def test_disk_counters_are_bytes_and_seconds():
    metrics = sample(JETSON)
    # nvme0n1: 3102614 sectors read and 1503288 written, of 512 bytes whatever the drive's block size.
    assert metrics.get("fleetmon_disk_read_bytes_total", device="nvme0n1") == 3102614 * 512
    assert metrics.get("fleetmon_disk_written_bytes_total", device="nvme0n1") == 1503288 * 512
    assert metrics.get("fleetmon_disk_reads_completed_total", device="nvme0n1") == 52018
    assert metrics.get("fleetmon_disk_writes_completed_total", device="nvme0n1") == 18834
    assert metrics.get("fleetmon_disk_io_time_seconds_total", device="nvme0n1") == 34.12  # 34120 ms


# --- network ----------------------------------------------------------------------------------------

class NetworkCase(NamedTuple):
    host: str
    interfaces: List[str]


NETWORK_CASES = [
    # L4T's USB device mode: usb0 and usb1 bridged in l4tbr0. lo is left out by default.
    NetworkCase(JETSON, ["eth0", "l4tbr0", "usb0", "usb1", "wlan0"]),
    # A container's veth and the Docker bridge are interfaces of the host's namespace like any other.
    NetworkCase(SERVER, ["docker0", "eno1", "eno2", "vethc3a4b21"]),
    NetworkCase(VM, ["eth0", "fmb-c0c6", "fmv-c0c6-1", "fmv-c0c6-2", "fmv-c0c6-3", "fmv-c0c6-4", "ifb0", "ifb1"]),
]


@pytest.mark.parametrize("case", NETWORK_CASES, ids=lambda case: case.host)
def test_network_interfaces(case):
    assert labels_of(sample(case.host), "fleetmon_network_receive_bytes_total", "interface") == case.interfaces


def test_network_counters_by_direction():
    metrics = sample(JETSON)
    expected = {
        "fleetmon_network_receive_bytes_total": 1893120, "fleetmon_network_receive_packets_total": 10215,
        "fleetmon_network_receive_errors_total": 0, "fleetmon_network_receive_drops_total": 340,
        "fleetmon_network_transmit_bytes_total": 301877, "fleetmon_network_transmit_packets_total": 2190,
        "fleetmon_network_transmit_errors_total": 0, "fleetmon_network_transmit_drops_total": 0,
    }
    assert {name: metrics.get(name, interface="wlan0") for name in expected} == expected


def test_excluded_interfaces_are_left_out():
    metrics = sample(SERVER, exclude_interfaces=["lo", "veth.*", "docker\\d+"])
    assert labels_of(metrics, "fleetmon_network_receive_bytes_total", "interface") == ["eno1", "eno2"]


# --- temperatures -----------------------------------------------------------------------------------

class ThermalCase(NamedTuple):
    host: str
    zones: Dict[str, float]


THERMAL_CASES = [
    # The CV cluster is power-gated and its three zones read -256 °C: left out. The NVMe drive's
    # sensor comes from hwmon.
    ThermalCase(JETSON, {"cpu_thermal": 44.125, "gpu_thermal": 44.531, "soc0_thermal": 42.125,
                         "soc1_thermal": 43.156, "soc2_thermal": 43.375, "tj_thermal": 44.531,
                         "nvme_composite": 38.85}),
    # acpitz is both a thermal zone and its hwmon twin: reported once. Two NVMe drives share a chip
    # name and a label, so the second is numbered.
    ThermalCase(SERVER, {"acpitz": 27.8, "nvme_composite": 41.85, "nvme_composite_2": 43.85,
                         "coretemp_package_id_0": 52.0, "coretemp_core_0": 49.0, "coretemp_core_4": 51.0,
                         "coretemp_core_8": 50.0, "coretemp_core_12": 52.0, "x86_pkg_temp": 52.0}),
    # A VM has no sensors: no temperature, not a zero.
    ThermalCase(VM, {}),
]


@pytest.mark.parametrize("case", THERMAL_CASES, ids=lambda case: case.host)
def test_temperatures(case):
    assert by_label(sample(case.host), "fleetmon_temperature_celsius", "zone") == case.zones


def test_temperatures_switched_off_read_no_sensor():
    assert not list(sample(JETSON, temperatures=False).series("fleetmon_temperature_celsius"))


# --- processes --------------------------------------------------------------------------------------

class ProcessCase(NamedTuple):
    host: str
    count: int
    names: Dict[str, str]  # pid: the name reported
    rss_pages: Dict[str, int]  # the three largest


PROCESS_CASES = [
    # gnome-remote-desktop-daemon is longer than the kernel's 15 bytes: the name comes from argv[0].
    ProcessCase(JETSON, 7, {"1": "systemd", "2": "kthreadd", "845": "nvargus-daemon", "1021": "jtop",
                            "1433": "fleetmon", "2210": "gnome-remote-desktop-daemon", "3518": "python3"},
                {"3518": 201630, "1021": 14310, "1433": 9822}),
    # A name with parentheses is read whole; a kernel worker's name (longer than 15 bytes, with its
    # workqueue) stays as the kernel gives it, since a kernel thread has no command line.
    ProcessCase(SERVER, 8, {"1": "systemd", "2": "kthreadd", "611": "kworker/3:1H-kblockd",
                            "1402": "(sd-pam)", "1830": "dockerd", "2201": "postgres",
                            "20113": "containerd-shim-runc-v2", "20140": "python3"},
                {"20140": 912233, "2201": 301220, "1830": 28110}),
    ProcessCase(VM, 3, {"22577": "sleep", "22578": "fleetmon-test-long-sleeper", "22610": "bash"},
                {"22610": 783, "22577": 415, "22578": 413}),
]


@pytest.mark.parametrize("case", PROCESS_CASES, ids=lambda case: case.host)
def test_process_count_and_names(case):
    everything = sample(case.host, top_processes=20)
    assert everything.get("fleetmon_processes") == case.count
    assert {s.labels["pid"]: s.labels["name"]
            for s in everything.series("fleetmon_top_process_resident_memory_bytes")} == case.names

    # Right after the constructor's scan no CPU time has passed: the top three rank by memory only.
    top = sample(case.host, top_processes=3)
    assert {s.labels["pid"]: s.value for s in top.series("fleetmon_top_process_resident_memory_bytes")} == \
        {pid: pages * PAGE for pid, pages in case.rss_pages.items()}
    assert not list(top.series("fleetmon_top_process_cpu_usage_ratio"))


def advance_process(root: Path, pid: int, ticks: int, start: Optional[int] = None) -> None:
    """Add ``ticks`` of user time to a process (and give it a new start time: a reused PID)."""
    path = root / "proc" / str(pid) / "stat"
    data = path.read_text()
    head, close, rest = data.rpartition(") ")
    fields = rest.split()
    fields[11] = str(int(fields[11]) + ticks)  # utime, field 14 of proc(5)
    if start is not None:
        fields[19] = str(start)  # starttime, field 22
    path.write_text(head + close + " ".join(fields) + "\n")


def test_top_processes_by_cpu_over_the_process_interval(tmp_path):
    root = copy_of(JETSON, tmp_path)
    clock = Clock()
    collector = make(root, SystemCollectorConfig(top_processes=2, process_interval=10.0), clock=clock)
    advance_process(root, 3518, 15 * TICKS)  # 15 s of CPU in 10 s: one and a half cores
    advance_process(root, 845, 2 * TICKS)
    # PID 1433 exited and a new process reused its PID: all of its ticks are new.
    advance_process(root, 1433, 0, start=90000)
    clock.now += 10.0

    metrics = collect(collector)
    cpu = {s.labels["name"]: s.value for s in metrics.series("fleetmon_top_process_cpu_usage_ratio")}
    # The two busiest by CPU and the two largest (python3 and jtop) by memory, each once.
    assert cpu == pytest.approx({"python3": 1.5, "fleetmon": (1032 + 144) / (10 * TICKS), "jtop": 0.0})

    clock.now += 5.0  # within the process interval: the count only, no scan
    between = collect(collector)
    assert between.get("fleetmon_processes") == 7
    assert not list(between.series("fleetmon_top_process_cpu_usage_ratio"))


# --- facts ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host, memory_kib, boot_time", [
    (JETSON, 7802880, 1758469966), (SERVER, 65741548, 1760002811), (VM, 24683568, 1796230913)])
def test_facts_of_a_recorded_host(host, memory_kib, boot_time):
    facts = make(HOSTS / host).facts()
    assert facts["memory_bytes"] == memory_kib * KIB
    assert facts["boot_time"] == boot_time
