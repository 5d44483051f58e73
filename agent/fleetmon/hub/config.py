"""The hub's configuration: one typed schema, validated here with key paths (docs/hub.md lists every key).

The Ansible hub role renders it from the inventory: the broker credentials of the hub, the expected hosts
with their groups, fleet rules, history retention.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetmon.config_reader import ConfigError, Errors, Node, read_yaml, readable_file, with_overrides
from fleetmon.hub.alerting.config import AlertingConfig, empty_config, parse_alerting
from fleetmon.hub.alerting.receivers import ReceiverContext
from fleetmon.hub.auth.config import AuthConfig, parse_auth
from fleetmon.hub.auth.tokens import token_hash
from fleetmon.hub.federation.config import FederationConfig, parse_federation
from fleetmon.hub.layout import DEFAULT_TITLE, PANELS, DashboardConfig, DashboardSection
from fleetmon.hub.logs.config import LogsConfig, parse_logs
from fleetmon.hub.maintenance.calendar import parse_maintenance
from fleetmon.hub.maintenance.windows import Window
from fleetmon.hub.rules.config import RulesConfig, parse_rules
from fleetmon.hub.sla.config import SLO, parse_slos
from fleetmon.hub.store.config import StoreConfig
from fleetmon.hub.store.remote_config import parse_remote_read, parse_remote_write
from fleetmon.mqtt.broker import BrokerConfig, parse_broker
from fleetmon.protocol.topics import HOST_ID_PATTERN

DEFAULT_LISTEN = "127.0.0.1:9180"
DEFAULT_DB = "/var/lib/fleetmon-hub/history.db"
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


@dataclass(slots=True)
class LivenessConfig:
    silent_after: float = 3.0  # intervals without a sample before an online host is silent
    skew_tolerance: float = 30.0  # seconds between host and hub clocks before the clock counts as skewed
    # The hub's own sight (fleetmon.hub.sight): no host is judged for ``settle`` after each connection to
    # the broker (agents reconnect with a backoff of up to a minute after a broker restart), when the rules
    # loop ran ``stall_after`` late, or while its probe takes over ``max_lag`` through the broker.
    settle: float = 75.0
    stall_after: float = 10.0
    max_lag: float = 15.0


@dataclass(slots=True)
class RepublishConfig:
    enabled: bool = True
    interval: float = 10.0  # seconds between retained fleet-view updates
    expiry: float = 300.0  # MQTT 5 message expiry of the retained fleet view


@dataclass(frozen=True, slots=True)
class ListenTls:
    """HTTPS on ``listen``: the certificate (with its chain) and its key, PEM."""

    cert_file: str
    key_file: str


@dataclass(slots=True)
class HubConfig:
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    listen: str = DEFAULT_LISTEN
    db: str = DEFAULT_DB
    max_message_bytes: int = 256 * 1024
    expected_hosts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    liveness: LivenessConfig = field(default_factory=LivenessConfig)
    history: StoreConfig = field(default_factory=StoreConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    republish: RepublishConfig = field(default_factory=RepublishConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    alerting: AlertingConfig = field(default_factory=empty_config)
    receiver_context: ReceiverContext = field(default_factory=ReceiverContext)  # the hub's MQTT link, once up
    api_token: str = ""  # an admin's bearer token, of the user "api" (fleetmon.hub.auth)
    auth: AuthConfig = field(default_factory=AuthConfig)  # console users, roles, sessions
    listen_tls: ListenTls | None = None  # None: plain HTTP
    maintenance: tuple[Window, ...] = ()  # the inventory's maintenance windows (the API adds its own)
    slos: tuple[SLO, ...] = ()  # service level objectives the SLA reports and budget-burn alerts follow
    logs: LogsConfig = field(default_factory=LogsConfig)  # log storage and log rules (docs/hub.md "Log storage")
    federation: FederationConfig = field(default_factory=FederationConfig)  # a central hub's sites
    rules_interval: float = 5.0  # liveness and pattern rules, fleet view republishing
    history_rules_interval: float = 60.0  # rules that fit lines over history (predictive, trends): costlier
    log_level: str = "info"
    source_path: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # the command line's, applied again on a reload

    @property
    def alerting_db(self) -> str:
        """Alerting state and history: beside the metrics history, in its own file."""
        return str(Path(self.db).with_name("alerting.db"))

    @property
    def sla_db(self) -> str:
        """The SLA reports' presence ledger: beside the metrics history, in its own file."""
        return str(Path(self.db).with_name("sla.db"))

    @property
    def logs_db(self) -> str:
        """The hosts' log lines with their full-text index: beside the metrics history, in its own file."""
        return str(Path(self.db).with_name("logs.db"))

    @property
    def auth_db(self) -> str:
        """Console sessions and the audit log: beside the metrics history, in their own file."""
        return str(Path(self.db).with_name("auth.db"))

    @property
    def listen_host(self) -> str:
        return _LISTEN.match(self.listen)["host"].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(_LISTEN.match(self.listen)["port"])


TOP_KEYS = ("broker", "listen", "db", "max_message_bytes", "expected_hosts", "liveness", "history", "rules",
            "republish", "rules_interval", "history_rules_interval", "log_level", "alerting", "api",
            "dashboard", "auth", "listen_tls", "maintenance", "slos", "logs", "federation")


def parse_config(data: Any, overrides: dict[str, Any] | None = None, base_dir: str = "") -> HubConfig:
    """``base_dir``: the config file's directory, where relative alerting template paths start."""
    errors = Errors()
    doc = with_overrides(data, overrides)
    root = Node({} if doc is None else doc, "", errors).mapping(TOP_KEYS)
    listen_node = root.child("listen")
    listen = listen_node.string(DEFAULT_LISTEN)
    match = _LISTEN.match(listen)
    if not match or not 0 < int(match["port"]) < 65536:
        listen_node.fail(f"must be HOST:PORT (got {listen!r})")
        listen = DEFAULT_LISTEN
    context = ReceiverContext()
    alerting = root.child("alerting")
    config = HubConfig(
        broker=parse_broker(root.child("broker")),
        alerting=empty_config() if alerting.missing else parse_alerting(alerting, context, base_dir),
        receiver_context=context,
        api_token=_api_token(root.child("api")),
        auth=parse_auth(root.child("auth")),
        listen_tls=_listen_tls(root.child("listen_tls")),
        maintenance=parse_maintenance(root.child("maintenance")),
        logs=parse_logs(root.child("logs")),
        federation=parse_federation(root.child("federation")),
        listen=listen,
        db=root.child("db").string(DEFAULT_DB),
        max_message_bytes=root.child("max_message_bytes").size(256 * 1024),
        expected_hosts=_expected_hosts(root.child("expected_hosts")),
        liveness=_liveness(root.child("liveness")),
        history=_history(root.child("history")),
        rules=parse_rules(root.child("rules")),
        republish=_republish(root.child("republish")),
        dashboard=_dashboard(root.child("dashboard")),
        rules_interval=root.child("rules_interval").duration(5.0, minimum=0.1),
        history_rules_interval=root.child("history_rules_interval").duration(60.0, minimum=0.1),
        log_level=root.child("log_level").string("info", choices=("debug", "info", "warning", "error")),
    )
    config.slos = parse_slos(root.child("slos"), config.alerting.time_intervals)
    owner = config.auth.token_owners.get(token_hash(config.api_token)) if config.api_token else None
    if owner:  # the same token cannot be an admin's and someone else's: which one it acts as would be a guess
        root.child("api").fail(f"the API token is also a token of user {owner!r}; give each its own")
    if errors:
        raise ConfigError(errors)
    return config


def load_config(path: str | None, overrides: dict[str, Any] | None = None) -> HubConfig:
    config = parse_config(read_yaml(path), overrides, os.path.dirname(path or ""))
    config.source_path = path
    config.overrides = dict(overrides or {})
    return config


#: What a reload (SIGHUP) cannot change in a running hub: its broker session and topic prefix, its HTTP
#: socket and its certificate, its databases and the history writer process that owns them, and the
#: federation section (its subscriptions are the broker session's).
RESTART_KEYS = ("broker", "listen", "db", "history", "listen_tls", "federation")


def restart_needed(running: HubConfig, new: HubConfig) -> list[str]:
    """The top-level keys of ``RESTART_KEYS`` whose values differ between the running and a new config."""
    return [key for key in RESTART_KEYS if getattr(running, key) != getattr(new, key)]


def _api_token(node: Node) -> str:
    node = node.mapping(("token", "token_file"))
    token = node.child("token").string("")
    path = node.child("token_file").string("")
    if token and path:
        node.fail("set token or token_file, not both")
    if path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            node.child("token_file").fail(f"cannot read: {exc.strerror}")
    if token and len(token) < 16:
        node.fail("the API token must be at least 16 characters")
    return token


def _listen_tls(node: Node) -> ListenTls | None:
    if node.missing:
        return None
    node = node.mapping(("cert_file", "key_file"))
    files = {}
    for key in ("cert_file", "key_file"):
        child = node.child(key)
        if child.missing or child.value == "":
            child.fail("must name a PEM file (HTTPS needs a certificate and its key)")
        files[key] = readable_file(child) or ""
    return ListenTls(**files)


def _expected_hosts(node: Node) -> dict[str, tuple[str, ...]]:
    """``{host: [group, ...]}``: the inventory's hosts; one never seen is reported missing."""
    hosts = {}
    for host, groups in node.items():
        if not HOST_ID_PATTERN.match(host):
            groups.fail("not a valid host id")
            continue
        hosts[host] = tuple(groups.string_list())
    return hosts


def _liveness(node: Node) -> LivenessConfig:
    node = node.mapping(("silent_after", "skew_tolerance", "settle", "stall_after", "max_lag"))
    default = LivenessConfig()
    return LivenessConfig(silent_after=node.child("silent_after").number(default.silent_after, minimum=1.0),
                          skew_tolerance=node.child("skew_tolerance").duration(default.skew_tolerance, minimum=0),
                          settle=node.child("settle").duration(default.settle, minimum=0),
                          stall_after=node.child("stall_after").duration(default.stall_after, minimum=1),
                          max_lag=node.child("max_lag").duration(default.max_lag, minimum=1))


def _history(node: Node) -> StoreConfig:
    keys = {"raw_window": "duration", "minute_retention": "duration", "hour_retention": "duration",
            "record_retention": "duration", "batch_size": "integer", "flush_interval": "duration",
            "queue_size": "integer", "rollup_interval": "duration", "prune_interval": "duration",
            "raw_max_span": "duration", "minute_max_span": "duration"}
    node = node.mapping((*keys, "remote_write", "remote_read"))
    defaults = StoreConfig()
    values = {}
    for key, kind in keys.items():
        child = node.child(key)
        if kind == "duration":
            values[key] = child.duration(getattr(defaults, key), minimum=0.001)
        else:
            values[key] = child.number(getattr(defaults, key), minimum=1, integer=True)
    return StoreConfig(**values, remote_write=parse_remote_write(node.child("remote_write")),
                       remote_read=parse_remote_read(node.child("remote_read")))


def _republish(node: Node) -> RepublishConfig:
    node = node.mapping(("enabled", "interval", "expiry"))
    return RepublishConfig(enabled=node.child("enabled").boolean(True),
                           interval=node.child("interval").duration(10.0, minimum=0.5),
                           expiry=node.child("expiry").duration(300.0, minimum=1))


def _dashboard(node: Node) -> DashboardConfig:
    """The page's title and its sections in order, one per inventory group, each naming its panels."""
    node = node.mapping(("title", "sections"))
    sections, seen = [], set()
    for item in node.child("sections").sequence():
        if not isinstance(item.value, dict):
            item.fail("must be a mapping with the section's group")
            continue
        item = item.mapping(("group", "title", "panels"))
        group_node = item.child("group")
        group = group_node.string("")
        if group_node.missing or group_node.value == "":
            group_node.fail("must name an inventory group")
        elif group and group in seen:
            group_node.fail(f"group {group!r} already has a section")
        seen.add(group)
        panels_node = item.child("panels")
        panels: list[str] = []
        for panel in panels_node.sequence():
            name = panel.string("", choices=tuple(PANELS))
            if panel.missing:
                panel.fail("must be a panel name")
            elif name in panels:
                panel.fail(f"panel {name!r} is named twice")
            elif name:
                panels.append(name)
        if isinstance(panels_node.value, list) and not panels_node.value:
            panels_node.fail("must name at least one panel (or leave it out for the group's default panels)")
        sections.append(DashboardSection(group, item.child("title").string(""), tuple(panels)))
    return DashboardConfig(title=node.child("title").string(DEFAULT_TITLE) or DEFAULT_TITLE,
                           sections=tuple(sections))
