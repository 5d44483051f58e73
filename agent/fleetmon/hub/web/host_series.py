"""What the console's host page shows of a host's series: each one's unit, help and section of the page,
and the host's edge thresholds as lines to draw on their charts (pure).

Units and help come from the metric catalogue (fleetmon.protocol.catalog, through fleetmon.protocol.units),
the one source every renderer reads. The section follows the collector the catalogue files a metric under;
a metric the catalogue does not know is an application metric the agent scraped, unless its name says it
is the agent's own (a newer agent than this hub, reporting a metric the catalogue here lacks).
"""

import math
from collections.abc import Mapping
from typing import Any

from fleetmon.protocol import catalog
from fleetmon.protocol.thresholds import ABOVE, BELOW, SEVERITIES
from fleetmon.protocol.units import unit_of

#: The host page's sections, in page order: ``hub`` holds the monitoring's own figures (the agent's
#: collectors, spool and edge alerts), ``scraped`` the application metrics of the host's scrape targets.
SECTIONS = ("system", "jetson", "gpu", "checks", "scraped", "hub")
_BY_COLLECTOR = {"system": "system", "jetson": "jetson", "nvml": "gpu", "checks": "checks", "agent": "hub"}
#: For fleetmon's own metrics missing from this hub's catalogue; the first prefix that matches wins.
_BY_PREFIX = (("fleetmon_jetson_", "jetson"), ("fleetmon_gpu_", "gpu"), ("fleetmon_check_", "checks"),
              ("fleetmon_agent_", "hub"), ("fleetmon_", "system"))
#: How a rule's direction compares (fleetmon.protocol.evaluator: strictly, as Prometheus does).
_OPERATORS = {ABOVE: ">", BELOW: "<"}


def section_of(metric: str) -> str:
    spec = catalog.BY_NAME.get(metric)
    if spec is not None:
        return _BY_COLLECTOR[spec.collector]
    return next((section for prefix, section in _BY_PREFIX if metric.startswith(prefix)), "scraped")


def describe(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """One series as ``GET /api/v1/hosts/{host}/series`` lists it."""
    spec = catalog.BY_NAME.get(name)
    return {"name": name, "labels": dict(labels), "unit": unit_of(name).name, "help": spec.help if spec else "",
            "section": section_of(name)}


def threshold_lines(thresholds: Any) -> list[dict[str, Any]]:
    """One line per level of each rule the host's birth announced (fleetmon.protocol.thresholds.rule_to_json):
    ``{metric, labels, severity, op, value}``. ``labels`` is the rule's match: a value starting with ``~`` is
    an anchored regular expression. Birth fields are not checked deeply on ingest: a malformed rule is left
    out, never an error."""
    lines = []
    for rule in thresholds if isinstance(thresholds, list) else ():
        if not isinstance(rule, dict) or not isinstance(rule.get("metric"), str):
            continue
        match = rule.get("match", {})
        operator = _OPERATORS.get(rule.get("direction", ABOVE))
        if operator is None or not isinstance(match, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in match.items()):
            continue
        for severity in SEVERITIES:
            level = rule.get(severity)
            if type(level) in (int, float) and math.isfinite(level):
                lines.append({"metric": rule["metric"], "labels": dict(match), "severity": severity, "op": operator,
                              "value": level})
    return lines
