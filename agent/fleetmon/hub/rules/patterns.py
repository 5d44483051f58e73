"""Patterns across hosts: alerts no single host can raise about itself, each with a ``confidence`` (0..1).

Group alerts carry ``group`` and the inventory labels every host of the group shares (so a route on
``site`` still matches); a host in several groups counts in each. Hosts that were never seen (missing)
belong to no pattern.

CascadingFailure (per group)
  Down hosts are those offline by their will or silent (a clean shutdown is maintenance). Their down
  times (``HostView.since``) are searched for the largest cluster no wider than ``window``. It fires when
  that cluster holds at least two hosts and either ``min_hosts`` of them or ``min_fraction`` of the group's
  seen hosts; it resolves when enough of them come back. startsAt is the failure that crossed the bar.
  confidence = tightness x breadth, where tightness = 1 - spread / (2 x window) (1 when all failed at the
  same moment, 0.5 at the edge of the window) and breadth = max(fraction, 1 - 1/count) (a whole group, or
  many hosts at once, are unlikely to fail together by chance).

FleetResourceTrend (per group and metric)
  A host trends up when one of its series of the metric has, over ``window``, ``min_points`` points
  spanning ``min_span``, a slope of at least ``min_slope`` per hour and R² >= ``min_r2``. It fires when at
  least ``min_hosts`` hosts trend up and they are at least ``min_fraction`` of the group's online hosts with
  enough history. confidence = fraction x mean R² of the trending hosts.

LoadImbalance (per group)
  Over the group's online hosts reporting the metric (CPU by default): with at least ``min_hosts`` of them
  and a mean of at least ``min_mean``, it fires when the coefficient of variation (population standard
  deviation / mean) exceeds ``max_cv``. confidence = (1 - max_cv / cv) x (1 - 1/n): how far past the bar,
  damped for small groups. Annotations name the hottest and coldest hosts.

HeartbeatDegraded (per online host; a silent one is HostDown's)
  With at least ``min_gaps`` recent gaps between samples, a gap is late when longer than ``factor`` x the
  host's interval. It fires on either
  - ``median``: the median of the most recent half of the gaps is late; confidence = the share of those
    gaps that are late;
  - ``trend``: a line fitted to the gaps (in sample order) grows with R² >= ``min_r2`` and its value at the
    latest gap is late, which catches steadily growing gaps before the median does; confidence = R².
"""

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence

from fleetmon.hub.model import MISSING, OFFLINE, ONLINE, HostView
from fleetmon.hub.rules.alerts import FleetAlert, fleet_labels
from fleetmon.hub.rules.config import CascadingFailureRule, HeartbeatRule, LoadImbalanceRule, ResourceTrendRule
from fleetmon.hub.rules.fit import linear_fit
from fleetmon.hub.rules.liveness import down_cause
from fleetmon.hub.rules.predictive import SeriesHistory, recent_fit
from fleetmon.protocol.messages import rfc3339
from fleetmon.protocol.units import format_value


def groups_of(hosts: Iterable[HostView]) -> dict[str, list[HostView]]:
    """Group -> its hosts that have been seen at least once, in host order."""
    groups: dict[str, list[HostView]] = defaultdict(list)
    for view in sorted(hosts, key=lambda v: v.host):
        if view.state != MISSING:
            for group in view.groups:
                groups[group].append(view)
    return dict(groups)


def shared_labels(members: Sequence[HostView]) -> dict[str, str]:
    """The inventory labels every member carries with the same value."""
    if not members:
        return {}
    shared = dict(members[0].labels)
    for view in members[1:]:
        shared = {name: value for name, value in shared.items() if view.labels.get(name) == value}
    return shared


def cascading_failure(hosts: Iterable[HostView], rule: CascadingFailureRule) -> list[FleetAlert]:
    alerts = []
    for group, members in groups_of(hosts).items():
        down = sorted((view.since, view.host) for view in members if down_cause(view) is not None)
        cluster = _densest(down, rule.window_s)
        needed = max(2, min(rule.min_hosts, math.ceil(rule.min_fraction * len(members))))
        if len(cluster) < needed:
            continue
        count, fraction = len(cluster), len(cluster) / len(members)
        spread = cluster[-1][0] - cluster[0][0]
        confidence = (1.0 - spread / (2.0 * rule.window_s)) * max(fraction, 1.0 - 1.0 / count)
        names = [host for _, host in cluster]
        labels = fleet_labels("CascadingFailure", rule.severity, shared_labels(members), {"group": group})
        annotations = {
            "summary": f"{count} of {len(members)} hosts of {group} went down within {spread:.0f}s",
            "hosts": ", ".join(sorted(names)),
            "count": str(count),
            "group_size": str(len(members)),
            "first_down": rfc3339(cluster[0][0]),
            "spread_seconds": f"{spread:.0f}",
            "confidence": f"{confidence:.2f}",
        }
        alerts.append(FleetAlert(labels, annotations, since=cluster[needed - 1][0], for_s=rule.for_s))
    return alerts


def _densest(times: Sequence[tuple[float, str]], width: float) -> Sequence[tuple[float, str]]:
    """The largest run of sorted ``times`` spanning at most ``width``; the earliest such run on a tie."""
    best, start = (0, 0), 0
    for end in range(len(times)):
        while times[end][0] - times[start][0] > width:
            start += 1
        if end + 1 - start > best[1] - best[0]:
            best = (start, end + 1)
    return times[best[0]:best[1]]


def resource_trend(series: Iterable[SeriesHistory], hosts: Iterable[HostView], rule: ResourceTrendRule,
                   now: float) -> list[FleetAlert]:
    views = list(hosts)
    online = {view.host for view in views if view.state not in (OFFLINE, MISSING)}
    # (metric, host) -> R² and slope per hour of its steepest qualifying series; None: history, no trend
    trends: dict[tuple[str, str], tuple[float, float] | None] = {}
    for one in series:
        if one.metric not in rule.metrics or one.host not in online:
            continue
        fit = recent_fit(one.points, now, rule.window_s, rule.min_points, rule.min_span_s)
        if fit is None:
            continue
        key = (one.metric, one.host)
        slope = fit.slope * 3600.0
        trends.setdefault(key, None)
        if slope >= rule.min_slope_per_hour and fit.r2 >= rule.min_r2:
            previous = trends[key]
            if previous is None or slope > previous[1]:
                trends[key] = (fit.r2, slope)
    alerts = []
    for group, members in groups_of(views).items():
        for metric in rule.metrics:
            with_history = [view.host for view in members if (metric, view.host) in trends]
            rising = {host: trends[(metric, host)] for host in with_history if trends[(metric, host)] is not None}
            if not with_history or len(rising) < rule.min_hosts:
                continue
            fraction = len(rising) / len(with_history)
            if fraction < rule.min_fraction:
                continue
            mean_r2 = statistics.fmean(r2 for r2, _ in rising.values())
            mean_slope = statistics.fmean(slope for _, slope in rising.values())
            labels = fleet_labels("FleetResourceTrend", rule.severity, shared_labels(members),
                                  {"group": group, "metric": metric})
            annotations = {
                "summary": f"{metric} is rising on {len(rising)} of {len(with_history)} hosts of {group}",
                "hosts": ", ".join(sorted(rising)),
                "mean_slope_per_hour": format_value(metric, mean_slope),
                "fraction": f"{fraction:.2f}",
                "confidence": f"{fraction * mean_r2:.2f}",
            }
            alerts.append(FleetAlert(labels, annotations, since=now, for_s=rule.for_s))
    return alerts


def load_imbalance(hosts: Iterable[HostView], rule: LoadImbalanceRule, now: float) -> list[FleetAlert]:
    alerts = []
    for group, members in groups_of(hosts).items():
        values = {view.host: view.metrics[rule.metric] for view in members
                  if view.state == ONLINE and math.isfinite(view.metrics.get(rule.metric, math.nan))}
        if len(values) < rule.min_hosts:
            continue
        mean = statistics.fmean(values.values())
        if mean < rule.min_mean or mean <= 0:
            continue
        cv = statistics.pstdev(values.values()) / mean
        if cv <= rule.max_cv:
            continue
        hottest = max(values, key=lambda host: (values[host], host))
        coldest = min(values, key=lambda host: (values[host], host))
        confidence = (1.0 - rule.max_cv / cv) * (1.0 - 1.0 / len(values))
        labels = fleet_labels("LoadImbalance", rule.severity, shared_labels(members), {"group": group})
        annotations = {
            "summary": f"load in {group} is uneven: {hottest} at {format_value(rule.metric, values[hottest])}, "
                       f"{coldest} at {format_value(rule.metric, values[coldest])}",
            "hottest": f"{hottest} ({format_value(rule.metric, values[hottest])})",
            "coldest": f"{coldest} ({format_value(rule.metric, values[coldest])})",
            "mean": format_value(rule.metric, mean),
            "cv": f"{cv:.2f}",
            "hosts": str(len(values)),
            "confidence": f"{confidence:.2f}",
        }
        alerts.append(FleetAlert(labels, annotations, since=now, for_s=rule.for_s))
    return alerts


def heartbeat_degraded(hosts: Iterable[HostView], rule: HeartbeatRule, now: float) -> list[FleetAlert]:
    alerts = []
    for view in hosts:
        gaps = view.gaps
        if view.state != ONLINE or len(gaps) < rule.min_gaps or view.interval_s <= 0:
            continue
        late = rule.factor * view.interval_s
        recent = gaps[len(gaps) // 2:]
        median = statistics.median(recent)
        fit = linear_fit(list(enumerate(gaps)))
        if median > late:
            evidence, confidence = "median", sum(gap > late for gap in recent) / len(recent)
        elif fit is not None and fit.slope > 0 and fit.r2 >= rule.min_r2 and fit.at(len(gaps) - 1) > late:
            evidence, confidence = "trend", fit.r2
        else:
            continue
        labels = fleet_labels("HeartbeatDegraded", rule.severity, view.labels, {"host": view.host})
        annotations = {
            "summary": f"samples from {view.host} arrive late: median gap {median:.1f}s "
                       f"for an interval of {view.interval_s:g}s",
            "evidence": evidence,
            "median_gap_seconds": f"{median:.1f}",
            "interval_seconds": f"{view.interval_s:g}",
            "gap_growth_seconds_per_sample": f"{fit.slope:.2f}" if fit is not None else "0.00",
            "confidence": f"{confidence:.2f}",
        }
        alerts.append(FleetAlert(labels, annotations, since=now, for_s=rule.for_s))
    return alerts

