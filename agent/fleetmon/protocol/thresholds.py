"""Edge thresholds: the rules each host's agent evaluates on its own samples (evaluation:
fleetmon.protocol.evaluator).

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
"""

import re
import string
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from fleetmon.config_reader import Node
from fleetmon.protocol import catalog

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
PARTIAL_METRICS = catalog.CHECK_METRICS

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
