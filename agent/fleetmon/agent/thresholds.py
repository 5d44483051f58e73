"""Edge thresholds: per-host rules the agent evaluates on its own samples, and the alerts they raise.

A rule compares one metric's series with a warning and/or a critical level. Configuration is a mapping
from rule name to settings (so Ansible can merge group_vars and host_vars by key)::

    thresholds:
      disk:                          # a built-in alias: implies metric, direction and alertname
        match: {mount: "/"}          # exact value, or "~REGEX" (fully anchored) over the series' labels
        warning: 85%                 # "N%" only for *_ratio metrics; otherwise numbers in the base unit
        critical: 95%
        for: 2m                      # the condition must hold this long before the alert fires
        hysteresis: 5%               # a firing alert resolves only at level - 5% (level + 5% when below)
        labels: {team: ops}
        summary: "{mount} on {host} is {value} full"
      web_down:
        metric: fleetmon_check_up
        match: {check: web}
        direction: below
        critical: 1
        alertname: WebsiteDown

Alert names: a built-in alias names what it measures on the host, ``Host<Measure>High`` (HostCpuHigh,
HostDiskUsageHigh, ...), except ``check``, which fires on failing checks: HostCheckFailing. Any other rule
is named CamelCase(rule name) + High or Low after its direction (``queue_depth`` -> QueueDepthHigh).
``alertname:`` overrides either.

Evaluation follows Prometheus: a series crossing a level (strictly: value > level above, < level below)
becomes pending; it fires once the condition has held for ``for`` seconds, and the alert's startsAt is the
moment it fired (Prometheus sends FiredAt as StartsAt). Pending ends silently if the value returns first.
A firing alert resolves once, when the value crosses back past level -/+ hysteresis, or when its series
is missing from a sample that carries the metric (a filesystem was unmounted). A sample without the
metric at all changes nothing, and neither does a check missing from a batch of check results (checks run
on their own schedules); a removed check's alerts end through ``ThresholdEvaluator.resolve_series``.
Warning and critical are separate alerts, and every matching series is its own alert, so a host with two
full disks has two.

Annotations: ``summary`` (rendered when the alert fires and kept for its episode, so the resolved copy
says why it fired, as Prometheus resends the last firing annotations), ``value`` (the latest value, in
its unit), ``threshold`` and ``rule``.

Alert labels, later entries winning: the host's inventory labels, the series' labels, the rule's
``labels``, then alertname, severity and host, which nothing overrides (a rule may not set them). Empty
values are dropped, as Alertmanager does, so the fingerprint is the one Alertmanager computes.
"""

import re
import string
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Pattern, Set, Tuple

from fleetmon.config_reader import Node
from fleetmon.protocol import catalog
from fleetmon.protocol.alerts import alert
from fleetmon.protocol.metricset import MetricSet

ABOVE, BELOW = "above", "below"
SEVERITIES = ("warning", "critical")


class Alias(NamedTuple):
    metric: str
    direction: str
    alertname: str


ALIASES: Dict[str, Alias] = {
    "cpu": Alias("fleetmon_cpu_usage_ratio", ABOVE, "HostCpuHigh"),
    "memory": Alias("fleetmon_memory_usage_ratio", ABOVE, "HostMemoryHigh"),
    "swap": Alias("fleetmon_swap_usage_ratio", ABOVE, "HostSwapHigh"),
    "disk": Alias("fleetmon_filesystem_usage_ratio", ABOVE, "HostDiskUsageHigh"),
    "temperature": Alias("fleetmon_temperature_celsius", ABOVE, "HostTemperatureHigh"),
    "gpu": Alias("fleetmon_gpu_utilization_ratio", ABOVE, "HostGpuUtilizationHigh"),
    "gpu_temperature": Alias("fleetmon_gpu_temperature_celsius", ABOVE, "HostGpuTemperatureHigh"),
    "gpu_power": Alias("fleetmon_gpu_power_watts", ABOVE, "HostGpuPowerHigh"),
    "jetson_gpu": Alias("fleetmon_jetson_gpu_load_ratio", ABOVE, "HostJetsonGpuLoadHigh"),
    "jetson_temperature": Alias("fleetmon_jetson_temperature_celsius", ABOVE, "HostJetsonTemperatureHigh"),
    "jetson_power": Alias("fleetmon_jetson_power_total_watts", ABOVE, "HostJetsonPowerHigh"),
    "emc": Alias("fleetmon_jetson_emc_load_ratio", ABOVE, "HostJetsonEmcLoadHigh"),
    "check": Alias("fleetmon_check_up", BELOW, "HostCheckFailing"),
}
ALIAS_NAMES: Tuple[str, ...] = tuple(ALIASES)

#: Metrics that arrive in partial sets: check results come in batches of the checks that just ran, so a
#: check missing from one batch has not gone away. Their alerts end by value, or by ``resolve_series``.
PARTIAL_METRICS = frozenset(spec.name for spec in catalog.CHECKS)

RULE_KEYS = ("metric", "scraped", "match", "direction", "warning", "critical", "for", "hysteresis",
             "labels", "alertname", "summary", "enabled")
RESERVED_LABELS = ("alertname", "severity", "host")
#: Placeholders every summary may use, besides the series' labels and the rule's own labels. Values arrive
#: formatted with their unit; {series} is " (label=value, ...)" naming the series, or empty.
SUMMARY_FIELDS = ("host", "value", "threshold", "severity", "rule", "alertname", "direction", "series")
DEFAULT_SUMMARY = "{rule} on {host}{series}: {value} is {direction} the {severity} level {threshold}"

_RULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")


@dataclass(frozen=True)
class ThresholdRule:
    """One parsed rule, every default resolved (metric, direction and alertname are always set)."""

    name: str
    metric: str
    direction: str = ABOVE
    warning: Optional[float] = None
    critical: Optional[float] = None
    for_seconds: float = 0.0
    hysteresis: float = 0.0
    match: Dict[str, str] = field(default_factory=dict)  # label -> exact value, or "~REGEX"
    labels: Dict[str, str] = field(default_factory=dict)
    alertname: str = ""
    summary: str = DEFAULT_SUMMARY
    scraped: bool = False  # an application metric from a scrape target: free name and labels

    def levels(self) -> List[Tuple[str, float]]:
        """(severity, level) for each level the rule sets."""
        return [(severity, level) for severity, level in zip(SEVERITIES, (self.warning, self.critical))
                if level is not None]


def rule_to_json(rule: ThresholdRule) -> Dict[str, Any]:
    """A rule as JSON, for the birth message: the hub learns each host's thresholds from it."""
    return {"name": rule.name, "metric": rule.metric, "match": dict(rule.match), "direction": rule.direction,
            "warning": rule.warning, "critical": rule.critical, "for_s": rule.for_seconds,
            "hysteresis": rule.hysteresis, "labels": dict(rule.labels), "alertname": rule.alertname}


def resolved_metric(name: str, metric: Optional[str] = None) -> Optional[str]:
    """The metric a rule named ``name`` watches: ``metric`` when given, else its alias's; None if neither."""
    if metric:
        return metric
    alias = ALIASES.get(name)
    return alias.metric if alias else None


def default_alertname(name: str, direction: str) -> str:
    alias = ALIASES.get(name)
    if alias is not None:
        return alias.alertname
    camel = "".join(part[:1].upper() + part[1:] for part in re.split(r"[_-]+", name) if part)
    return camel + ("High" if direction == ABOVE else "Low")


def parse_thresholds(node: Node) -> List[ThresholdRule]:
    """The enabled rules under ``thresholds:``; disabled ones are still validated, then left out."""
    rules = []
    for name, rule_node in node.items():
        rule = _parse_rule(name, rule_node)
        if rule is not None:
            rules.append(rule)
    return rules


def _parse_rule(name: str, node: Node) -> Optional[ThresholdRule]:
    node = node.mapping(RULE_KEYS)
    if not _RULE_NAME.match(name):
        node.fail("rule names must start with a letter and hold only letters, digits, _ and -")
    alias = ALIASES.get(name)
    scraped = node.child("scraped").boolean(False)
    metric_node = node.child("metric")
    metric = metric_node.string(alias.metric if alias else "")
    spec = None if scraped else catalog.BY_NAME.get(metric)
    if not metric:
        metric_node.fail(f"is required ({name!r} is not a built-in alias: {', '.join(ALIAS_NAMES)})")
    elif scraped and not _METRIC_NAME.match(metric):
        metric_node.fail(f"{metric!r} is not a valid metric name")
    elif not scraped and spec is None:
        metric_node.fail(f"unknown metric {metric!r}: not in the catalogue (docs/metrics.md); "
                         "set scraped: true for an application metric")
    direction = node.child("direction").string(alias.direction if alias else ABOVE, choices=(ABOVE, BELOW))
    ratio = metric.endswith("_ratio")
    warning = node.child("warning").level(None, ratio)
    critical = node.child("critical").level(None, ratio)
    enabled = node.child("enabled").boolean(True)
    if enabled and node.child("warning").missing and node.child("critical").missing:
        node.fail("needs a warning or a critical level (or enabled: false)")
    if warning is not None and critical is not None:
        if direction == ABOVE and warning > critical:
            node.child("warning").fail(f"must be at most critical ({critical:g}) when direction is above")
        elif direction == BELOW and warning < critical:
            node.child("warning").fail(f"must be at least critical ({critical:g}) when direction is below")
    hysteresis_node = node.child("hysteresis")
    hysteresis = hysteresis_node.level(None, ratio)
    if hysteresis is not None and hysteresis < 0:
        hysteresis_node.fail("must not be negative")
    labels = _rule_labels(node.child("labels"))
    series_labels: Optional[Tuple[str, ...]] = spec.labels if spec is not None else None
    rule = ThresholdRule(
        name=name, metric=metric, direction=direction, warning=warning, critical=critical,
        for_seconds=node.child("for").duration(0.0, minimum=0),
        hysteresis=max(hysteresis or 0.0, 0.0),
        match=_match(node.child("match"), metric, series_labels),
        labels=labels,
        alertname=node.child("alertname").string(default_alertname(name, direction), pattern=_LABEL_NAME),
        summary=_summary(node.child("summary"), series_labels, labels),
        scraped=scraped,
    )
    return rule if enabled else None


def _match(node: Node, metric: str, series_labels: Optional[Tuple[str, ...]]) -> Dict[str, str]:
    selectors = node.string_map()
    for label, selector in selectors.items():
        label_node = node.child(label)
        if series_labels is not None and label not in series_labels:
            label_node.fail("{} has no label {!r} (its labels: {})".format(
                metric, label, ", ".join(series_labels) or "none"))
        elif not _LABEL_NAME.match(label):
            label_node.fail("label names must match [a-zA-Z_][a-zA-Z0-9_]*")
        if selector.startswith("~"):
            try:
                re.compile(selector[1:])
            except re.error as exc:
                label_node.fail(f"bad regular expression {selector[1:]!r}: {exc}")
    return selectors


def _rule_labels(node: Node) -> Dict[str, str]:
    labels = node.string_map()
    for label in labels:
        if label in RESERVED_LABELS:
            node.child(label).fail("is set by the agent ({} cannot be overridden)".format(
                ", ".join(RESERVED_LABELS)))
        elif not _LABEL_NAME.match(label):
            node.child(label).fail("label names must match [a-zA-Z_][a-zA-Z0-9_]*")
    return labels


def _summary(node: Node, series_labels: Optional[Tuple[str, ...]], rule_labels: Mapping[str, str]) -> str:
    template = node.string(DEFAULT_SUMMARY)
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as exc:
        node.fail(f"bad template: {exc}")
        return DEFAULT_SUMMARY
    known = set(SUMMARY_FIELDS) | set(rule_labels)
    for name, spec, conversion in fields:
        if not _LABEL_NAME.match(name) or spec or conversion:
            written = name + ("!" + conversion if conversion else "") + (":" + spec if spec else "")
            node.fail(f"placeholders must be plain names such as {{host}} or {{mount}} (got {{{written}}})")
            return DEFAULT_SUMMARY
        # Scraped metrics have no known labels: an absent label renders empty, as in Prometheus.
        if series_labels is not None and name not in known and name not in series_labels:
            node.fail("unknown placeholder {{{}}} (known: {})".format(
                name, ", ".join(sorted(known | set(series_labels)))))
            return DEFAULT_SUMMARY
    return template


def format_value(metric: str, value: float) -> str:
    """A value in the unit its metric name announces, for people: 97.0%, 81.5 °C, 12.3 W, 3.2 GiB."""
    if metric.endswith("_ratio"):
        return f"{value * 100.0:.1f}%"
    if metric.endswith("_celsius"):
        return f"{value:.1f} °C"
    if metric.endswith("_watts"):
        return f"{value:.1f} W"
    if metric.endswith("_bytes"):
        return _scaled(value, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"))
    if metric.endswith("_hertz"):
        return _scaled(value, 1000.0, ("Hz", "kHz", "MHz", "GHz", "THz"))
    if metric.endswith("_seconds"):
        for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
            if abs(value) >= 2 * size:
                return f"{value / size:.1f}{unit}"
        return f"{round(value, 3):g}s"
    return f"{value:g}"


def _scaled(value: float, base: float, units: Tuple[str, ...]) -> str:
    for unit in units[:-1]:
        if abs(value) < base:
            return f"{round(value, 1):g} {unit}"
        value /= base
    return f"{round(value, 1):g} {units[-1]}"


class _Selector(NamedTuple):
    label: str
    exact: Optional[str]
    regex: Optional[Pattern[str]]

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.label, "")  # an absent label reads as empty, as in Prometheus
        return value == self.exact if self.regex is None else self.regex.fullmatch(value) is not None


class _CompiledRule(NamedTuple):
    rule: ThresholdRule
    selectors: Tuple[_Selector, ...]
    levels: Tuple[Tuple[str, float], ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(selector.matches(labels) for selector in self.selectors)


def _compile(rule: ThresholdRule) -> _CompiledRule:
    selectors = tuple(_Selector(label, None, re.compile(value[1:])) if value.startswith("~")
                      else _Selector(label, value, None) for label, value in rule.match.items())
    return _CompiledRule(rule, selectors, tuple(rule.levels()))


SeriesKey = Tuple[Tuple[str, str], ...]
StateKey = Tuple[str, SeriesKey]  # (severity, series labels)


class _AlertState:
    """One (severity, series) of a rule that is pending or firing."""

    __slots__ = ("fired_at", "firing", "labels", "level", "pending_since", "series", "severity", "summary",
                 "value")

    def __init__(self, severity: str, level: float, series: Mapping[str, str], since: float) -> None:
        self.severity, self.level, self.series = severity, level, series
        self.pending_since = since
        self.value = 0.0
        self.firing = False
        self.fired_at = 0.0
        # Fixed when it fires: the resolved copy keeps the fingerprint and says why it fired.
        self.labels: Dict[str, str] = {}
        self.summary = ""


class ThresholdEvaluator:
    """Turns samples into alert transitions: one 'firing' when an alert starts, one 'resolved' when it ends.

    Pure: no clock and no I/O; the caller passes each sample's time and publishes the transitions.
    """

    def __init__(self, rules: List[ThresholdRule], host: str, host_labels: Mapping[str, str]) -> None:
        self.host = host
        self.host_labels = dict(host_labels)
        self._rules: List[_CompiledRule] = []
        self._by_metric: Dict[str, List[_CompiledRule]] = {}
        self._states: Dict[str, Dict[StateKey, _AlertState]] = {}
        # Alerts ended by a reload or a removed check; they go out, resolved, with the next sample.
        self._ended: List[Tuple[ThresholdRule, _AlertState]] = []
        self._install(rules)

    def _install(self, rules: List[ThresholdRule]) -> None:
        self._rules = [_compile(rule) for rule in rules]
        self._by_metric = {}
        for compiled in self._rules:
            self._by_metric.setdefault(compiled.rule.metric, []).append(compiled)
            self._states.setdefault(compiled.rule.name, {})

    def evaluate(self, metrics: MetricSet, now: float) -> List[Dict[str, Any]]:
        """Feed one sample taken at ``now``; returns the alerts that started or ended with it."""
        transitions = [self._alert(rule, state, now) for rule, state in self._ended]
        self._ended = []
        present = set(metrics.names())
        if present.isdisjoint(self._by_metric):
            return transitions
        seen: Dict[str, Set[SeriesKey]] = {}
        for metric in present.intersection(self._by_metric):
            compiled_rules = self._by_metric[metric]
            for series in metrics.series(metric):
                key: SeriesKey = tuple(sorted(series.labels.items()))
                for compiled in compiled_rules:
                    if compiled.matches(series.labels):
                        seen.setdefault(compiled.rule.name, set()).add(key)
                        for severity, level in compiled.levels:
                            self._step(compiled.rule, severity, level, key, series.labels, series.value,
                                       now, transitions)
        for compiled in self._rules:
            if compiled.rule.metric in present and compiled.rule.metric not in PARTIAL_METRICS:
                self._drop_missing(compiled.rule, seen.get(compiled.rule.name, set()), now, transitions)
        return transitions

    def firing(self) -> List[Dict[str, Any]]:
        """Every alert firing now, with its latest value: what a (re)connecting publisher announces."""
        by_name = {compiled.rule.name: compiled.rule for compiled in self._rules}
        return [self._alert(by_name[name], state, None)
                for name, states in self._states.items() for state in states.values()
                if state.firing]

    def replace_rules(self, rules: List[ThresholdRule],
                      host_labels: Optional[Mapping[str, str]] = None) -> None:
        """Install reloaded rules (and host labels, when given).

        Rules whose definition is unchanged keep their pending and firing alerts. Alerts of removed or
        changed rules end, and all of them do when the host labels change (their labels, hence their
        fingerprints, change): the next ``evaluate`` returns them resolved, at its time.
        """
        if host_labels is not None and dict(host_labels) != self.host_labels:
            self.host_labels = dict(host_labels)
            unchanged: Set[str] = set()
        else:
            unchanged = {c.rule.name for c in self._rules if c.rule in rules}
        for compiled in self._rules:
            if compiled.rule.name not in unchanged:
                self._end(compiled.rule, self._states.pop(compiled.rule.name, {}).values())
        self._install(rules)

    def resolve_series(self, labels: Mapping[str, str]) -> None:
        """End the alerts of every series carrying all of ``labels``, e.g. {"check": name} for a check
        removed from the config, whose results simply stop. They go out, resolved, with the next sample."""
        wanted = set(labels.items())
        for compiled in self._rules:
            states = self._states[compiled.rule.name]
            gone = [key for key in states if wanted <= set(key[1])]
            self._end(compiled.rule, [states.pop(key) for key in gone])

    def _end(self, rule: ThresholdRule, states: Iterable[_AlertState]) -> None:
        self._ended += [(rule, state) for state in states if state.firing]

    def _step(self, rule: ThresholdRule, severity: str, level: float, key: SeriesKey,
              series: Mapping[str, str], value: float, now: float, transitions: List[Dict[str, Any]]) -> None:
        states = self._states[rule.name]
        state = states.get((severity, key))
        above = rule.direction == ABOVE
        crossed = value > level if above else value < level
        if state is None:
            if not crossed:
                return
            state = states[(severity, key)] = _AlertState(severity, level, series, now)
        state.value = value
        if not state.firing:
            if not crossed:
                del states[(severity, key)]
            elif now - state.pending_since >= rule.for_seconds:
                state.firing, state.fired_at = True, now
                state.labels = self._labels(rule, severity, series)
                state.summary = self._summary(rule, state)
                transitions.append(self._alert(rule, state, None))
            return
        cleared = value <= level - rule.hysteresis if above else value >= level + rule.hysteresis
        if cleared:
            del states[(severity, key)]
            transitions.append(self._alert(rule, state, now))

    def _drop_missing(self, rule: ThresholdRule, seen: Set[SeriesKey], now: float,
                      transitions: List[Dict[str, Any]]) -> None:
        states = self._states[rule.name]
        for state_key in [k for k in states if k[1] not in seen]:
            state = states.pop(state_key)
            if state.firing:
                transitions.append(self._alert(rule, state, now))

    def _labels(self, rule: ThresholdRule, severity: str, series: Mapping[str, str]) -> Dict[str, str]:
        labels = dict(self.host_labels)
        labels.update(series)
        labels.update(rule.labels)
        labels.update(alertname=rule.alertname, severity=severity, host=self.host)
        return labels

    def _summary(self, rule: ThresholdRule, state: _AlertState) -> str:
        described = ", ".join(f"{name}={label}" for name, label in sorted(state.series.items()))
        fields = dict(state.series)
        fields.update(rule.labels)
        fields.update(host=self.host, value=format_value(rule.metric, state.value),
                      threshold=format_value(rule.metric, state.level), severity=state.severity,
                      rule=rule.name, alertname=rule.alertname, direction=rule.direction,
                      series=f" ({described})" if described else "")
        return rule.summary.format_map(_BlankMissing(fields))

    def _alert(self, rule: ThresholdRule, state: _AlertState, resolved_at: Optional[float]) -> Dict[str, Any]:
        annotations = {"summary": state.summary, "value": format_value(rule.metric, state.value),
                       "threshold": format_value(rule.metric, state.level), "rule": rule.name}
        return alert(state.labels, annotations, state.fired_at, resolved_at)


class _BlankMissing(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""
