"""The agent's configuration: one typed schema, loaded and validated here.

``load_config`` reads a YAML file (or nothing: every key has a default), applies command-line
overrides and returns an ``AgentConfig`` or raises ``ConfigError`` listing every problem by key path.
docs/agent.md documents each key.
"""

import os
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from fleetmon.agent.checks.spec import CheckSpec, parse_checks
from fleetmon.agent.logs.config import LogsConfig, parse_logs
from fleetmon.config_reader import ConfigError, Errors, Node, read_yaml, readable_file, regex_list, with_overrides
from fleetmon.mqtt.broker import BrokerConfig, parse_broker
from fleetmon.protocol.thresholds import ThresholdRule, parse_thresholds
from fleetmon.protocol.topics import HOST_ID_PATTERN

DEFAULT_STATE_DIR = "/var/lib/fleetmon-agent"
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # Prometheus and Alertmanager label names


@dataclass
class SpoolConfig:
    max_samples: int = 86400
    max_bytes: int = 64 * 1024 * 1024
    drain_rate: float = 50.0  # back-filled samples per second


@dataclass
class SystemCollectorConfig:
    enabled: bool = True
    top_processes: int = 5
    process_interval: float = 10.0  # the top-process scan reads every /proc/PID: not every sample
    temperatures: bool = True
    exclude_mounts: List[str] = field(default_factory=list)  # regexes over mount points
    exclude_interfaces: List[str] = field(default_factory=lambda: ["lo"])  # regexes over names


@dataclass
class JetsonCollectorConfig:
    enabled: str = "auto"  # "auto" (only where a Jetson source exists), "true", "false"
    source: str = "auto"  # auto | jtop | tegrastats | replay
    tegrastats_path: str = "/usr/bin/tegrastats"
    replay_file: Optional[str] = None
    replay_loop: bool = True


@dataclass
class NvmlCollectorConfig:
    enabled: str = "auto"  # "auto": quietly skipped where NVML is absent


@dataclass
class ScrapeTarget:
    name: str
    url: str
    timeout: float = 2.0
    metrics: List[str] = field(default_factory=list)  # regexes over names; empty = all
    labels: Dict[str, str] = field(default_factory=dict)


@dataclass
class PrometheusCollectorConfig:
    targets: List[ScrapeTarget] = field(default_factory=list)


@dataclass
class CollectorsConfig:
    system: SystemCollectorConfig = field(default_factory=SystemCollectorConfig)
    jetson: JetsonCollectorConfig = field(default_factory=JetsonCollectorConfig)
    nvml: NvmlCollectorConfig = field(default_factory=NvmlCollectorConfig)
    prometheus: PrometheusCollectorConfig = field(default_factory=PrometheusCollectorConfig)


@dataclass
class AgentConfig:
    host_id: str = field(default_factory=lambda: default_host_id())
    interval: float = 10.0
    groups: List[str] = field(default_factory=list)
    labels: Dict[str, str] = field(default_factory=dict)
    state_dir: str = DEFAULT_STATE_DIR
    log_level: str = "info"
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    spool: SpoolConfig = field(default_factory=SpoolConfig)
    collectors: CollectorsConfig = field(default_factory=CollectorsConfig)
    checks: List[CheckSpec] = field(default_factory=list)
    thresholds: List[ThresholdRule] = field(default_factory=list)
    logs: LogsConfig = field(default_factory=LogsConfig)
    source_path: Optional[str] = None  # the file it came from, for reloads


def default_host_id() -> str:
    """The short hostname, made topic-safe."""
    name = socket.gethostname().split(".")[0] or "localhost"
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)


TOP_KEYS = ("host_id", "interval", "groups", "labels", "state_dir", "log_level", "broker", "spool",
            "collectors", "checks", "thresholds", "logs")


def parse_config(data: Any, overrides: Optional[Mapping[str, Any]] = None) -> AgentConfig:
    """Validate a parsed document; ``overrides`` (from the command line) win over the document."""
    errors = Errors()
    doc = with_overrides(data, overrides)
    root = Node({} if doc is None else doc, "", errors).mapping(TOP_KEYS)
    config = AgentConfig(
        host_id=root.child("host_id").string(default_host_id(), pattern=HOST_ID_PATTERN),
        interval=root.child("interval").duration(10.0, minimum=0.1),
        groups=root.child("groups").string_list(),
        labels=_labels(root.child("labels")),
        state_dir=root.child("state_dir").string(os.environ.get("STATE_DIRECTORY") or DEFAULT_STATE_DIR),
        log_level=root.child("log_level").string("info", choices=("debug", "info", "warning", "error")),
        broker=parse_broker(root.child("broker")),
        spool=_spool(root.child("spool")),
        collectors=_collectors(root.child("collectors")),
        checks=parse_checks(root.child("checks")),
        thresholds=parse_thresholds(root.child("thresholds")),
        logs=parse_logs(root.child("logs")),
    )
    if errors:
        raise ConfigError(errors)
    return config


def load_config(path: Optional[str], overrides: Optional[Mapping[str, Any]] = None) -> AgentConfig:
    config = parse_config(read_yaml(path), overrides)
    config.source_path = path
    return config


def _labels(node: Node) -> Dict[str, str]:
    labels = node.string_map()
    for key in labels:
        if not LABEL_NAME.match(key) or key.startswith("__"):
            node.child(key).fail("label names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __")
    return labels



def _spool(node: Node) -> SpoolConfig:
    node = node.mapping(("max_samples", "max_bytes", "drain_rate"))
    return SpoolConfig(
        max_samples=node.child("max_samples").number(86400, minimum=1, integer=True),
        max_bytes=node.child("max_bytes").size(64 * 1024 * 1024),
        drain_rate=node.child("drain_rate").number(50.0, minimum=0.1),
    )


def _auto_flag(node: Node) -> str:
    value = node.value
    if node.missing:
        return "auto"
    if value in (True, False):
        return "true" if value else "false"
    if value == "auto":
        return "auto"
    node.fail("must be true, false or auto")
    return "auto"


def _collectors(node: Node) -> CollectorsConfig:
    node = node.mapping(("system", "jetson", "nvml", "prometheus"))
    system = node.child("system").mapping(("enabled", "top_processes", "process_interval", "temperatures",
                                           "exclude_mounts", "exclude_interfaces"))
    jetson = node.child("jetson").mapping(("enabled", "source", "tegrastats_path", "replay_file",
                                           "replay_loop"))
    jetson_config = JetsonCollectorConfig(
        enabled=_auto_flag(jetson.child("enabled")),
        source=jetson.child("source").string("auto", choices=("auto", "jtop", "tegrastats", "replay")),
        tegrastats_path=jetson.child("tegrastats_path").string("/usr/bin/tegrastats"),
        replay_file=readable_file(jetson.child("replay_file")),
        replay_loop=jetson.child("replay_loop").boolean(True),
    )
    if jetson_config.source == "replay" and not jetson_config.replay_file:
        jetson.child("replay_file").fail("is required when source is replay")
    nvml = node.child("nvml").mapping(("enabled",))
    return CollectorsConfig(
        system=SystemCollectorConfig(
            enabled=system.child("enabled").boolean(True),
            top_processes=system.child("top_processes").number(5, minimum=0, maximum=100, integer=True),
            process_interval=system.child("process_interval").duration(10.0, minimum=0),
            temperatures=system.child("temperatures").boolean(True),
            exclude_mounts=regex_list(system.child("exclude_mounts")),
            exclude_interfaces=regex_list(system.child("exclude_interfaces"), default=["lo"]),
        ),
        jetson=jetson_config,
        nvml=NvmlCollectorConfig(enabled=_auto_flag(nvml.child("enabled"))),
        prometheus=PrometheusCollectorConfig(targets=_scrape_targets(node.child("prometheus"))),
    )


def _scrape_targets(node: Node) -> List[ScrapeTarget]:
    node = node.mapping(("targets",))
    targets = []
    for item in node.child("targets").sequence():
        item = item.mapping(("name", "url", "timeout", "metrics", "labels"))
        url_node = item.child("url")
        url = url_node.string("")
        if not url.startswith(("http://", "https://")):
            url_node.fail("must be an http:// or https:// URL")
        name_node = item.child("name")
        name = name_node.string("")
        if not name:
            name_node.fail("is required")
        targets.append(ScrapeTarget(
            name=name, url=url, timeout=item.child("timeout").duration(2.0, minimum=0.1),
            metrics=regex_list(item.child("metrics")), labels=_labels(item.child("labels"))))
    return targets
