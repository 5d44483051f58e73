"""Log rules: a query's matches over a window, at or above a count, per host, per group or over the fleet, as
fleet alerts (fleetmon.hub.rules.alerts.FleetAlert) for the hub's ActiveAlerts, which holds ``for`` and
turns them into firing and resolved transitions like any fleet rule's.

``log_alerts`` is the decision, on the counts the store found (no I/O); ``evaluate_log_rules`` asks the
store and decides, once per rules round. Labels: alertname (the rule's name), severity and, by ``per``,
``host`` or ``group``; the lines that match change with every evaluation, so they are annotations, not
labels. Annotations: ``summary``, ``count``, ``window``, ``threshold``, ``lines`` (up to five of the newest
matching lines, one a line) and ``search``: the link to the same search, over the same window, at the API
or console address the hub is given (a rule's ``regex`` is no search parameter: it is its own annotation,
and the link shows the lines before it is applied). A host in no group counts in the group "ungrouped" (as the fleet's
group roll-ups show it); a rule that names groups only counts in those.
"""

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Protocol

from fleetmon.hub.logs.config import LogRule
from fleetmon.hub.logs.reads import HostCount
from fleetmon.hub.logs.search import LogLine, LogQuery, search_params
from fleetmon.hub.rules.alerts import FleetAlert, fleet_labels
from fleetmon.protocol.messages import rfc3339

SAMPLE_LINES = 5
#: Characters of one matching line in the annotations: enough to recognise it, the search has the rest.
LINE_CHARS = 300
UNGROUPED = "ungrouped"


class LogCounter(Protocol):
    """What evaluate_log_rules needs of the store (fleetmon.hub.logs.store.LogStore)."""

    def count_matches(self, query: LogQuery, sample: int = SAMPLE_LINES) -> list[HostCount]: ...


def evaluate_log_rules(rules: Sequence[LogRule], store: LogCounter, host_groups: Mapping[str, Sequence[str]],
                       now: float, search_base: str) -> list[FleetAlert]:
    """Every log rule's alerts now; ``host_groups``: each host's groups; ``search_base``: where searches are
    linked, e.g. ``https://hub.example/api/v1/logs``."""
    alerts = []
    for rule in rules:
        query = rule.query.over(host_groups, now - rule.window_s, now)
        alerts += log_alerts(rule, query, store.count_matches(query, SAMPLE_LINES), host_groups, now, search_base)
    return alerts


def log_alerts(rule: LogRule, query: LogQuery, counts: Sequence[HostCount], host_groups: Mapping[str, Sequence[str]],
               now: float, search_base: str) -> list[FleetAlert]:
    """The alerts of one rule whose ``query`` (over its window) found ``counts``."""
    alerts = []
    for key, members in sorted(_buckets(rule, counts, host_groups).items()):
        total = sum(member.count for member in members)
        if total < rule.threshold:
            continue
        capped = any(member.capped for member in members)
        latest = sorted((line for member in members for line in member.latest), key=lambda line: -line.id)
        own = {rule.per: key} if rule.per != "fleet" else {}
        where = f" on {key}" if rule.per == "host" else f" in group {key}" if rule.per == "group" else " in the fleet"
        count = f"at least {total}" if capped else str(total)
        annotations = {
            "summary": f"{count} log lines matching {rule.name}'s query in the last {_duration(rule.window_s)}{where} "
                       f"(threshold {rule.threshold})",
            "count": count,
            "window": _duration(rule.window_s),
            "threshold": str(rule.threshold),
            "lines": "\n".join(_line(line) for line in latest[:SAMPLE_LINES]),
            "search": search_url(search_base, _narrowed(query, rule, key), rule, key),
        }
        if rule.query.regex:  # the search API takes no regex: the link shows the lines before it is applied
            annotations["regex"] = rule.query.regex
        alerts.append(FleetAlert(fleet_labels(rule.name, rule.severity, {}, own), annotations, since=now,
                                 for_s=rule.for_s))
    return alerts


def search_url(base: str, query: LogQuery, rule: LogRule, key: str) -> str:
    """The search behind one alert: its host, or its group, or the rule's own hosts and groups."""
    if rule.per == "group":
        params = search_params(query, groups=(key,))
    elif rule.per == "fleet" and rule.query.groups:
        params = search_params(query, groups=rule.query.groups) + [("host", host) for host in rule.query.hosts]
    else:
        params = search_params(query)
    return f"{base}?{urllib.parse.urlencode(params)}"


def _buckets(rule: LogRule, counts: Sequence[HostCount],
             host_groups: Mapping[str, Sequence[str]]) -> dict[str, list[HostCount]]:
    buckets: dict[str, list[HostCount]] = {}
    for counted in counts:
        if rule.per == "host":
            keys: Sequence[str] = (counted.host,)
        elif rule.per == "fleet":
            keys = ("",)
        else:
            keys = host_groups.get(counted.host) or (UNGROUPED,)
            if rule.query.groups:
                keys = [group for group in keys if group in rule.query.groups]
        for key in keys:
            buckets.setdefault(key, []).append(counted)
    return buckets


def _narrowed(query: LogQuery, rule: LogRule, key: str) -> LogQuery:
    return LogQuery((key,), query.units, query.priority, query.start, query.end, query.text) \
        if rule.per == "host" else query


def _line(line: LogLine) -> str:
    source = line.identifier or line.unit or "kernel"
    text = f"{rfc3339(line.ts)} {line.host} {source}: {line.message}"
    return text if len(text) <= LINE_CHARS else text[:LINE_CHARS - 3] + "..."


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:.0f}{unit}"
    return f"{seconds:g}s"
