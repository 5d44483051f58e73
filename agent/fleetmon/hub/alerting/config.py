"""The alerting configuration: Alertmanager's own syntax, plus fleetmon's keys beside it.

The hub config's ``alerting:`` section is an alertmanager.yml (``global``, ``route``, ``receivers``,
``inhibit_rules``, ``time_intervals``/``mute_time_intervals``) with fleetmon's additions: ``external_url``,
``flapping``, ``history_retention`` and, per route, ``escalation``. ``alerting.include`` names an existing
alertmanager.yml to read instead of writing those keys inline, so a migration starts by pointing at it.
Every key we do not support is an error naming its path; Alertmanager's ``tracing`` and ``event_recorder``
(about Alertmanager's own workings) are refused saying what the hub keeps instead.

``templates:`` globs name Go template files, relative ones taken from the directory of the file that
holds them (the alertmanager.yml of ``include``, else the hub config), as Alertmanager does; a file that
does not parse is an error naming it, so ``check-config`` refuses it and a reload keeps the running config.
"""

import os
from dataclasses import dataclass, field
from typing import Any

from fleetmon.config_reader import ConfigError, Errors, Node, read_yaml
from fleetmon.hub.alerting.inhibit import InhibitRule, parse_inhibit_rules
from fleetmon.hub.alerting.receivers import GlobalConfig, Receiver, ReceiverContext, parse_global, parse_receivers
from fleetmon.hub.alerting.route import Route, RouteOptions, parse_route
from fleetmon.hub.alerting.templates import TemplateLoadError, TemplateSet, default_templates, read_glob
from fleetmon.hub.alerting.timeintervals import TimeIntervals, merge, parse_time_intervals

ALERTMANAGER_KEYS = ("global", "route", "receivers", "inhibit_rules", "time_intervals", "mute_time_intervals",
                     "templates")
FLEETMON_KEYS = ("include", "external_url", "flapping", "history_retention")
#: Alertmanager's keys about Alertmanager itself, which the hub has no part of: refused with what it does instead.
REFUSED_KEYS = {
    "tracing": "the hub does not export OpenTelemetry traces; remove the key (its alert journal keeps what "
               "happened: /api/v1/alerting/history and /api/v1/alerting/notifications)",
    "event_recorder": "the hub does not write Alertmanager's event log (file, webhook, Kafka or stdout outputs); "
                      "remove the key (its alert journal keeps every alert change and notification attempt: "
                      "/api/v1/alerting/history and /api/v1/alerting/notifications)",
}


@dataclass(slots=True, frozen=True)
class FlapPolicy:
    enabled: bool = True
    changes: int = 6  # more state changes than this within `window` and the alert is flapping
    window: float = 1800.0
    settle: float = 900.0  # no change for this long and it is settled again


@dataclass
class AlertingConfig:
    route: Route
    receivers: dict[str, Receiver]
    glob: GlobalConfig = field(default_factory=GlobalConfig)
    inhibit_rules: list[InhibitRule] = field(default_factory=list)
    time_intervals: TimeIntervals = field(default_factory=TimeIntervals)
    external_url: str = ""
    flapping: FlapPolicy = field(default_factory=FlapPolicy)
    history_retention: float = 90 * 86400.0
    templates: TemplateSet = field(default_factory=default_templates)
    # What it was read from (the section, or the file its ``include`` names): Alertmanager's API v2 shows it as
    # ``config.original`` (fleetmon.hub.alerting.shown_config).
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def resolve_timeout(self) -> float:
        return self.glob.resolve_timeout


def parse_alerting(node: Node, context: ReceiverContext | None = None, base_dir: str = "") -> AlertingConfig:
    """The ``alerting:`` section of a hub config (or a whole alertmanager.yml); errors go to the node's list.
    ``base_dir`` is the directory of the file it comes from, for relative template paths."""
    node = _refusing(node.mapping(ALERTMANAGER_KEYS + FLEETMON_KEYS + tuple(REFUSED_KEYS)))
    include = node.child("include").string("")
    source = node
    if include:
        for key in ALERTMANAGER_KEYS:
            if key in node.value:
                node.child(key).fail(f"comes from {include} (alerting.include): set it there, not here")
        try:
            document = read_yaml(include)
        except ConfigError as exc:
            node.child("include").fail("; ".join(exc.errors))
            document = {}
        source = _refusing(Node(document or {}, include, node.errors).mapping(ALERTMANAGER_KEYS + tuple(REFUSED_KEYS)))
        base_dir = os.path.dirname(include)
    templates = _templates(source.child("templates"), base_dir)
    glob = parse_global(source.child("global"))
    receivers = parse_receivers(source.child("receivers"), glob, context, templates)
    intervals = merge(parse_time_intervals(source.child("time_intervals")),
                      parse_time_intervals(source.child("mute_time_intervals")), source.child("time_intervals"))
    route = parse_route(source.child("route"), set(receivers), set(intervals.names()), templates)
    return AlertingConfig(route=route, receivers=receivers, glob=glob,
                          inhibit_rules=parse_inhibit_rules(source.child("inhibit_rules")),
                          time_intervals=intervals, external_url=node.child("external_url").string(""),
                          flapping=_flapping(node.child("flapping")),
                          history_retention=node.child("history_retention").duration(90 * 86400.0, minimum=3600),
                          templates=templates, document=source.value if isinstance(source.value, dict) else {})


def _refusing(node: Node) -> Node:
    for key, why in REFUSED_KEYS.items():
        if key in node.value:
            node.child(key).fail(why)
    return node


def _templates(node: Node, base_dir: str) -> TemplateSet:
    if node.missing:
        return default_templates()
    files: dict[str, str] = {}
    for item in node.sequence():
        pattern = item.string()
        if not pattern:
            item.fail("must be a file name or glob")
            continue
        try:
            for name, source in read_glob(pattern, base_dir):
                files.pop(name, None)  # a later file of the same base name replaces it, as in Go
                files[name] = source
        except TemplateLoadError as exc:
            item.fail(str(exc))
    return TemplateSet(files) if files else default_templates()


def _flapping(node: Node) -> FlapPolicy:
    node = node.mapping(("enabled", "changes", "window", "settle"))
    defaults = FlapPolicy()
    return FlapPolicy(enabled=node.child("enabled").boolean(True),
                      changes=node.child("changes").number(defaults.changes, minimum=1, integer=True),
                      window=node.child("window").duration(defaults.window, minimum=1),
                      settle=node.child("settle").duration(defaults.settle, minimum=0))


def load_routing(path: str) -> AlertingConfig:
    """A hub config (its ``alerting`` section) or a plain alertmanager.yml, for ``fleetmon routes test`` and
    ``fleetmon alerting template render``."""
    document = read_yaml(path) or {}
    errors = Errors()
    if isinstance(document, dict) and "route" not in document and "alerting" in document:
        node = Node(document["alerting"], "alerting", errors)
    else:
        node = Node(document, "", errors)
    config = parse_alerting(node, base_dir=os.path.dirname(path))
    if errors:
        raise ConfigError(errors)
    return config


def empty_config() -> AlertingConfig:
    """No alerting section: alerts are kept and shown, nothing is notified."""
    return AlertingConfig(route=Route(RouteOptions(receiver="")), receivers={})
