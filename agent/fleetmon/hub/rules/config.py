"""The ``rules:`` section of the hub config: one key per fleet rule, every default documented here.

::

    rules:
      host_down:              # HostDown: offline by its Last Will, or silent (docs/hub.md "State model")
        severity: critical
        for: 0s               # how long a host must stay down first; silence itself already waited
                              # silent_after intervals in the fleet state, so 0 adds nothing to that
        down_on_shutdown: false   # a clean shutdown is maintenance, not an outage, unless this is true
        per_host:             # overrides by host id (a Jetson on flaky Wi-Fi may get a longer grace)
          jetson-07: {for: 5m}
      host_missing:           # HostMissing: expected by the inventory, never seen
        severity: warning
        for: 5m               # time for hosts to (re)connect after the hub starts
      predictive:             # PredictedExhaustion: a least-squares line over ``window`` crosses ``limit``
        metrics: [fleetmon_filesystem_usage_ratio, fleetmon_memory_usage_ratio]
        window: 6h
        horizon: 24h
        limit: 100%           # a number in the metric's unit, or a percentage for *_ratio metrics
        min_points: 12
        min_span: 1h          # the points must cover this much time: a burst of minutes predicts nothing
        min_r2: 0.5           # the line must explain this share of the variance
      cascading_failure:      # CascadingFailure: hosts of one group going down together
        severity: critical
        window: 5m
        min_hosts: 3          # fires on min_hosts down, or on min_fraction of the group (never on one host)
        min_fraction: 50%
      resource_trend:         # FleetResourceTrend: many hosts of a group trending up on one metric
        metrics: [fleetmon_memory_usage_ratio]
        window: 6h
        min_points: 12
        min_span: 1h
        min_slope: 1%         # per hour, in the metric's unit (a percentage for *_ratio metrics)
        min_r2: 0.5
        min_hosts: 3          # fires on at least min_hosts trending AND at least min_fraction of the
        min_fraction: 50%     # group's hosts that have enough history
      load_imbalance:         # LoadImbalance: uneven load across a group's online hosts
        metric: fleetmon_cpu_usage_ratio
        for: 10m              # one sample's CPU is noisy; the imbalance must persist
        min_hosts: 3
        min_mean: 20%         # an idle group is not imbalanced
        max_cv: 0.5           # coefficient of variation (population stdev / mean) above which it fires
      heartbeat_degraded:     # HeartbeatDegraded: a host's sample gaps growing before it goes silent
        factor: 1.5           # a gap longer than factor x the host's interval is late
        min_gaps: 6
        min_r2: 0.6           # for the trend arm (see patterns.heartbeat_degraded)
      journey_failing:        # JourneyFailing: one journey check failing from several hosts at once
        severity: critical
        min_locations: 2      # failing hosts needed; all of them when fewer run the journey
      hub_blind:              # HubBlind: the hub has no broker session, was stalled, or lags behind its probe
        severity: critical
        for: 30s              # a broker restart of a few seconds is not worth a page; while blind no
                              # host is judged either way (fleetmon.hub.sight)
      hub_storage_failing:    # HubStorageFailing: history writes fail (disk full, read-only, locked, corrupt)
        severity: critical
        for: 1m

Every rule also takes ``enabled`` (default true), ``severity`` (default warning unless shown) and ``for``
(default 0s unless shown).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from fleetmon.config_reader import Node
from fleetmon.protocol import catalog

FILESYSTEM = "fleetmon_filesystem_usage_ratio"
MEMORY = "fleetmon_memory_usage_ratio"
CPU = "fleetmon_cpu_usage_ratio"

COMMON_KEYS = ("enabled", "severity", "for")


@dataclass(slots=True, frozen=True)
class HostDownRule:
    enabled: bool = True
    severity: str = "critical"
    for_s: float = 0.0
    down_on_shutdown: bool = False
    per_host_for: Mapping[str, float] = field(default_factory=dict)

    def for_host(self, host: str) -> float:
        return self.per_host_for.get(host, self.for_s)


@dataclass(slots=True, frozen=True)
class HostMissingRule:
    enabled: bool = True
    severity: str = "warning"
    for_s: float = 300.0


@dataclass(slots=True, frozen=True)
class PredictiveRule:
    enabled: bool = True
    severity: str = "warning"
    for_s: float = 0.0
    metrics: tuple[str, ...] = (FILESYSTEM, MEMORY)
    window_s: float = 6 * 3600.0
    horizon_s: float = 24 * 3600.0
    limit: float = 1.0
    min_points: int = 12
    min_span_s: float = 3600.0
    min_r2: float = 0.5


@dataclass(slots=True, frozen=True)
class CascadingFailureRule:
    enabled: bool = True
    severity: str = "critical"
    for_s: float = 0.0
    window_s: float = 300.0
    min_hosts: int = 3
    min_fraction: float = 0.5


@dataclass(slots=True, frozen=True)
class ResourceTrendRule:
    enabled: bool = True
    severity: str = "warning"
    for_s: float = 0.0
    metrics: tuple[str, ...] = (MEMORY,)
    window_s: float = 6 * 3600.0
    min_points: int = 12
    min_span_s: float = 3600.0
    min_slope_per_hour: float = 0.01
    min_r2: float = 0.5
    min_hosts: int = 3
    min_fraction: float = 0.5


@dataclass(slots=True, frozen=True)
class LoadImbalanceRule:
    enabled: bool = True
    severity: str = "warning"
    for_s: float = 600.0
    metric: str = CPU
    min_hosts: int = 3
    min_mean: float = 0.2
    max_cv: float = 0.5


@dataclass(slots=True, frozen=True)
class HeartbeatRule:
    enabled: bool = True
    severity: str = "warning"
    for_s: float = 0.0
    factor: float = 1.5
    min_gaps: int = 6
    min_r2: float = 0.6


@dataclass(slots=True, frozen=True)
class JourneyFailingRule:
    enabled: bool = True
    severity: str = "critical"
    for_s: float = 0.0
    min_locations: int = 2


@dataclass(slots=True, frozen=True)
class HubRule:
    """HubBlind and HubStorageFailing (fleetmon.hub.rules.hub) take only the common keys."""

    enabled: bool = True
    severity: str = "critical"
    for_s: float = 30.0


@dataclass(slots=True, frozen=True)
class RulesConfig:
    host_down: HostDownRule = HostDownRule()
    host_missing: HostMissingRule = HostMissingRule()
    predictive: PredictiveRule = PredictiveRule()
    cascading_failure: CascadingFailureRule = CascadingFailureRule()
    resource_trend: ResourceTrendRule = ResourceTrendRule()
    load_imbalance: LoadImbalanceRule = LoadImbalanceRule()
    heartbeat_degraded: HeartbeatRule = HeartbeatRule()
    journey_failing: JourneyFailingRule = JourneyFailingRule()
    hub_blind: HubRule = HubRule()
    hub_storage_failing: HubRule = HubRule(for_s=60.0)

    def history(self) -> dict[str, float]:
        """Metric -> seconds of history the enabled rules read: what the hub queries its store for."""
        wanted: dict[str, float] = {}
        for rule in (self.predictive, self.resource_trend):
            if rule.enabled:
                for metric in rule.metrics:
                    wanted[metric] = max(wanted.get(metric, 0.0), rule.window_s)
        return wanted


RULE_KEYS = tuple(RulesConfig.__dataclass_fields__)


def parse_rules(node: Node) -> RulesConfig:
    """Read ``rules:``; a missing section or key means the defaults. Errors go to ``node.errors``."""
    node = node.mapping(RULE_KEYS)
    return RulesConfig(
        host_down=_host_down(node.child("host_down")),
        host_missing=_host_missing(node.child("host_missing")),
        predictive=_predictive(node.child("predictive")),
        cascading_failure=_cascading(node.child("cascading_failure")),
        resource_trend=_resource_trend(node.child("resource_trend")),
        load_imbalance=_load_imbalance(node.child("load_imbalance")),
        heartbeat_degraded=_heartbeat(node.child("heartbeat_degraded")),
        journey_failing=_journey_failing(node.child("journey_failing")),
        hub_blind=_hub_rule(node.child("hub_blind"), HubRule()),
        hub_storage_failing=_hub_rule(node.child("hub_storage_failing"), HubRule(for_s=60.0)),
    )


def _common(node: Node, severity: str, for_s: float) -> dict[str, bool | str | float]:
    """enabled, severity and for: the keys every rule takes."""
    severity_node = node.child("severity")
    chosen = severity_node.string(severity)
    if not chosen:
        severity_node.fail("must not be empty")
    return {"enabled": node.child("enabled").boolean(True), "severity": chosen or severity,
            "for_s": node.child("for").duration(for_s, minimum=0)}


def _host_down(node: Node) -> HostDownRule:
    default = HostDownRule()
    node = node.mapping((*COMMON_KEYS, "down_on_shutdown", "per_host"))
    per_host = {}
    for host, host_node in node.child("per_host").items():
        host_node = host_node.mapping(("for",))
        if host_node.child("for").missing:
            host_node.fail("needs a 'for' (the only per-host setting)")
        else:
            per_host[host] = host_node.child("for").duration(default.for_s, minimum=0)
    return HostDownRule(**_common(node, default.severity, default.for_s),
                        down_on_shutdown=node.child("down_on_shutdown").boolean(default.down_on_shutdown),
                        per_host_for=per_host)


def _host_missing(node: Node) -> HostMissingRule:
    default = HostMissingRule()
    node = node.mapping(COMMON_KEYS)
    return HostMissingRule(**_common(node, default.severity, default.for_s))


def _predictive(node: Node) -> PredictiveRule:
    default = PredictiveRule()
    node = node.mapping((*COMMON_KEYS, "metrics", "window", "horizon", "limit", "min_points", "min_span",
                         "min_r2"))
    metrics = _gauges(node.child("metrics"), default.metrics)
    window = node.child("window").duration(default.window_s, minimum=60)
    min_span = _span(node, window, default.min_span_s)
    limit_node = node.child("limit")
    limit = limit_node.level(default.limit, all(m.endswith("_ratio") for m in metrics))
    return PredictiveRule(**_common(node, default.severity, default.for_s),
                          metrics=metrics, window_s=window,
                          horizon_s=node.child("horizon").duration(default.horizon_s, minimum=60),
                          limit=limit,
                          min_points=node.child("min_points").number(default.min_points, minimum=3, integer=True),
                          min_span_s=min_span,
                          min_r2=node.child("min_r2").number(default.min_r2, minimum=0, maximum=1))


def _cascading(node: Node) -> CascadingFailureRule:
    default = CascadingFailureRule()
    node = node.mapping((*COMMON_KEYS, "window", "min_hosts", "min_fraction"))
    return CascadingFailureRule(**_common(node, default.severity, default.for_s),
                                window_s=node.child("window").duration(default.window_s, minimum=1),
                                min_hosts=node.child("min_hosts").number(default.min_hosts, minimum=2, integer=True),
                                min_fraction=_fraction(node.child("min_fraction"), default.min_fraction))


def _resource_trend(node: Node) -> ResourceTrendRule:
    default = ResourceTrendRule()
    node = node.mapping((*COMMON_KEYS, "metrics", "window", "min_points", "min_span", "min_slope", "min_r2",
                         "min_hosts", "min_fraction"))
    metrics = _gauges(node.child("metrics"), default.metrics)
    window = node.child("window").duration(default.window_s, minimum=60)
    slope_node = node.child("min_slope")
    min_slope = slope_node.level(default.min_slope_per_hour, all(m.endswith("_ratio") for m in metrics))
    if min_slope <= 0:
        slope_node.fail("must be above 0 (a flat line is no trend)")
    return ResourceTrendRule(**_common(node, default.severity, default.for_s),
                             metrics=metrics, window_s=window,
                             min_points=node.child("min_points").number(default.min_points, minimum=3, integer=True),
                             min_span_s=_span(node, window, default.min_span_s),
                             min_slope_per_hour=min_slope,
                             min_r2=node.child("min_r2").number(default.min_r2, minimum=0, maximum=1),
                             min_hosts=node.child("min_hosts").number(default.min_hosts, minimum=2, integer=True),
                             min_fraction=_fraction(node.child("min_fraction"), default.min_fraction))


def _load_imbalance(node: Node) -> LoadImbalanceRule:
    default = LoadImbalanceRule()
    node = node.mapping((*COMMON_KEYS, "metric", "min_hosts", "min_mean", "max_cv"))
    metric_node = node.child("metric")
    metric = metric_node.string(default.metric)
    spec = catalog.BY_NAME.get(metric)
    if spec is None or spec.type != catalog.G or spec.labels:
        metric_node.fail(f"{metric!r} is not an unlabelled gauge of the catalogue (docs/metrics.md)")
        metric = default.metric
    max_cv_node = node.child("max_cv")
    max_cv = max_cv_node.number(default.max_cv)
    if max_cv <= 0:
        max_cv_node.fail("must be above 0")
    return LoadImbalanceRule(**_common(node, default.severity, default.for_s),
                             metric=metric,
                             min_hosts=node.child("min_hosts").number(default.min_hosts, minimum=2, integer=True),
                             min_mean=node.child("min_mean").level(default.min_mean, metric.endswith("_ratio")),
                             max_cv=max_cv)


def _heartbeat(node: Node) -> HeartbeatRule:
    default = HeartbeatRule()
    node = node.mapping((*COMMON_KEYS, "factor", "min_gaps", "min_r2"))
    factor_node = node.child("factor")
    factor = factor_node.number(default.factor)
    if factor <= 1:
        factor_node.fail("must be above 1 (a gap of one interval is on time)")
    return HeartbeatRule(**_common(node, default.severity, default.for_s),
                         factor=factor,
                         min_gaps=node.child("min_gaps").number(default.min_gaps, minimum=4, integer=True),
                         min_r2=node.child("min_r2").number(default.min_r2, minimum=0, maximum=1))


def _journey_failing(node: Node) -> JourneyFailingRule:
    default = JourneyFailingRule()
    node = node.mapping((*COMMON_KEYS, "min_locations"))
    return JourneyFailingRule(**_common(node, default.severity, default.for_s),
                              min_locations=node.child("min_locations").number(default.min_locations, minimum=1,
                                                                               integer=True))


def _hub_rule(node: Node, default: HubRule) -> HubRule:
    node = node.mapping(COMMON_KEYS)
    return HubRule(**_common(node, default.severity, default.for_s))


def _gauges(node: Node, default: tuple[str, ...]) -> tuple[str, ...]:
    if node.missing:
        return default
    items = node.sequence()
    if isinstance(node.value, list) and not items:
        node.fail("must name at least one metric")
    metrics = []
    for item in items:
        spec = catalog.BY_NAME.get(item.value) if isinstance(item.value, str) else None
        if spec is None or spec.type != catalog.G:
            item.fail(f"{item.value!r} is not a gauge of the catalogue (docs/metrics.md)")
        else:
            metrics.append(item.value)
    return tuple(metrics) or default


def _span(node: Node, window: float, default: float) -> float:
    span_node = node.child("min_span")
    span = span_node.duration(min(default, window), minimum=0)
    if span > window:
        span_node.fail(f"must not exceed window ({window:g}s)")
    return span


def _fraction(node: Node, default: float) -> float:
    value = node.level(default, percent=True)
    if not node.missing and not 0 < value <= 1:
        node.fail("must be above 0 and at most 1 (or 100%)")
    return value


