"""Who the simulated hosts are: identity, hardware, groups, facts, checks and thresholds (pure, seeded).

A simulated fleet looks like a real one to a consumer: servers and Jetsons of a few common models, spread
over sites, each announcing what a real agent announces in its birth message. Nothing here touches the
clock or the network; the same arguments always give the same fleet.
"""

import random
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from fleetmon.config_reader import ConfigError, Errors, Node
from fleetmon.protocol.thresholds import ThresholdRule, parse_thresholds

SERVER, JETSON = "server", "jetson"
DEFAULT_SITES = ("site-a", "site-b", "site-c")
GIB = 1024 ** 3


class Board(NamedTuple):
    model: str
    l4t: str
    jetpack: str
    cores: int
    memory_bytes: int
    max_power_w: float
    gpcs: int
    os: str
    kernel: str
    python: str


BOARDS = (
    Board("NVIDIA Jetson AGX Orin Developer Kit", "36.4.3", "6.2", 12, 64 * GIB, 40.0, 2,
          "Ubuntu 22.04.5 LTS", "5.15.148-tegra", "3.10.12"),
    Board("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "35.6.0", "5.1.4", 8, 16 * GIB, 20.0, 1,
          "Ubuntu 20.04.6 LTS", "5.10.216-tegra", "3.8.10"),
    Board("NVIDIA Jetson Orin Nano Developer Kit", "36.4.3", "6.2", 6, 8 * GIB, 12.0, 1,
          "Ubuntu 22.04.5 LTS", "5.15.148-tegra", "3.10.12"),
    Board("NVIDIA Jetson Xavier NX Developer Kit", "35.5.0", "5.1.3", 6, 8 * GIB, 15.0, 1,
          "Ubuntu 20.04.6 LTS", "5.10.192-tegra", "3.8.10"),
)

SERVER_SYSTEMS = (
    ("Ubuntu 24.04.1 LTS", "6.8.0-51-generic", "3.12.3"),
    ("Debian GNU/Linux 12 (bookworm)", "6.1.0-28-amd64", "3.11.2"),
    ("Rocky Linux 9.5 (Blue Onyx)", "5.14.0-503.14.1.el9_5.x86_64", "3.9.21"),
)


class Mount(NamedTuple):
    mount: str
    device: str
    fstype: str
    size_bytes: int

    @property
    def labels(self) -> Dict[str, str]:
        return {"mount": self.mount, "device": self.device, "fstype": self.fstype}


class HostSpec(NamedTuple):
    """One simulated host, as fixed for the whole run."""

    host: str
    index: int
    kind: str  # SERVER or JETSON
    site: str
    cores: int
    memory_bytes: int
    mounts: Tuple[Mount, ...]
    disks: Tuple[str, ...]
    interface: str
    os: str
    kernel: str
    python: str
    uptime_s: float  # at the start of the run
    cpu_level: float  # typical CPU use (0..1) the host's load wanders around
    memory_level: float
    root_usage: float  # "/" usage at the start (0..1)
    board: Optional[Board]  # Jetsons only

    @property
    def groups(self) -> List[str]:
        return [SERVER + "s" if self.kind == SERVER else JETSON + "s", self.site]

    @property
    def labels(self) -> Dict[str, str]:
        return {"site": self.site, "role": self.kind}

    @property
    def arch(self) -> str:
        return "aarch64" if self.kind == JETSON else "x86_64"

    def facts(self, boot_time: float) -> Dict[str, Any]:
        facts: Dict[str, Any] = {"hostname": self.host, "os": self.os, "kernel": self.kernel, "arch": self.arch,
                                 "cpus": self.cores, "memory_bytes": self.memory_bytes,
                                 "boot_time": round(boot_time, 3), "python": self.python}
        if self.board is not None:
            facts["jetson"] = {"model": self.board.model, "l4t": self.board.l4t, "jetpack": self.board.jetpack,
                               "source": "tegrastats"}
        return facts


class CheckDecl(NamedTuple):
    """A health check a host announces in its birth and reports on every ``every`` sampling intervals."""

    name: str
    type: str
    every: int
    target: str


SERVER_CHECKS = (CheckDecl("ssh", "tcp", 3, "127.0.0.1:22"), CheckDecl("web", "http", 6, "http://127.0.0.1/"))
JETSON_CHECKS = (CheckDecl("ssh", "tcp", 3, "127.0.0.1:22"), CheckDecl("inference", "process", 6, "deepstream"))


def checks_of(spec: HostSpec) -> Tuple[CheckDecl, ...]:
    return JETSON_CHECKS if spec.kind == JETSON else SERVER_CHECKS


def is_jetson(index: int, jetson_share: float) -> bool:
    """Spreads Jetsons evenly through the fleet, exactly round(N * share) of the first N hosts."""
    return int((index + 1) * jetson_share + 0.5) > int(index * jetson_share + 0.5)


def build_fleet(count: int, seed: int, jetson_share: float = 0.3, host_prefix: str = "sim",
                sites: Sequence[str] = DEFAULT_SITES) -> List[HostSpec]:
    """``count`` hosts named ``<prefix>-<kind>-NNNN``, spread round-robin over ``sites``."""
    if not sites:
        raise ValueError("at least one site is needed")
    rng = random.Random(f"fleet:{seed}")
    width = max(4, len(str(count)))
    hosts = []
    for index in range(count):
        jetson = is_jetson(index, jetson_share)
        kind = JETSON if jetson else SERVER
        host = f"{host_prefix}-{kind}-{index + 1:0{width}d}"
        if jetson:
            board: Optional[Board] = rng.choice(BOARDS)
            cores, memory, system = board.cores, board.memory_bytes, (board.os, board.kernel, board.python)
            mounts: Tuple[Mount, ...] = (Mount("/", "/dev/nvme0n1p1", "ext4", 250 * 10 ** 9),)
            disks: Tuple[str, ...] = ("nvme0n1",)
            interface = "eth0"
        else:
            board = None
            cores = rng.choice((4, 8, 16, 32))
            memory = rng.choice((16, 32, 64, 128)) * GIB
            system = rng.choice(SERVER_SYSTEMS)
            mounts = (Mount("/", "/dev/nvme0n1p2", "ext4", 480 * 10 ** 9),
                      Mount("/data", "/dev/sda1", "xfs", 4 * 10 ** 12))
            disks = ("nvme0n1", "sda")
            interface = "eno1"
        hosts.append(HostSpec(
            host=host, index=index, kind=kind, site=sites[index % len(sites)], cores=cores, memory_bytes=memory,
            mounts=mounts, disks=disks, interface=interface, os=system[0], kernel=system[1], python=system[2],
            uptime_s=rng.uniform(3600.0, 60 * 86400.0), cpu_level=rng.uniform(0.05, 0.45),
            memory_level=rng.uniform(0.2, 0.65), root_usage=rng.uniform(0.2, 0.6), board=board))
    return hosts


def thresholds_config(spec: HostSpec, interval_s: float) -> Dict[str, Any]:
    """The host's edge thresholds as an inventory would write them.

    ``for`` scales with the sampling interval so that a spike fires within a short demo or test run.
    Normal behaviour (model.py) stays below every level; only planned faults cross them.
    """
    hold = 2 * interval_s
    config: Dict[str, Any] = {
        "cpu": {"warning": "90%", "critical": "97%", "for": hold, "hysteresis": "5%"},
        "memory": {"warning": "90%", "critical": "97%", "for": hold},
        "disk": {"match": {"mount": "/"}, "warning": "85%", "critical": "95%", "hysteresis": "2%"},
    }
    if spec.kind == JETSON:
        config["jetson_temperature"] = {"match": {"zone": "tj"}, "warning": 85, "critical": 95, "for": hold}
    return config


def threshold_rules(spec: HostSpec, interval_s: float) -> List[ThresholdRule]:
    """The rules as the agent normalises them (its own parser), so births and alerts match a real agent's."""
    errors = Errors()
    rules = parse_thresholds(Node(thresholds_config(spec, interval_s), "thresholds", errors).mapping())
    if errors:
        raise ConfigError(errors)
    return rules
