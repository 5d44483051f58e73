"""PredictedExhaustion: a gauge whose least-squares line over the recent past reaches its limit soon.

For each series of a configured metric (a filesystem per mount, memory), the points of the last
``window`` are fitted with a straight line (fleetmon.hub.rules.fit). The alert fires when
  - there are at least ``min_points`` points covering at least ``min_span`` (a minutes-long burst of log
    writes says nothing about tomorrow),
  - the slope is positive and the line explains at least ``min_r2`` of the variance (noise without a
    trend, or a sawtooth of log rotation, stays quiet),
  - and the line reaches ``limit`` no later than ``now + horizon`` (a line already past the limit counts,
    as Prometheus' ``predict_linear`` would).
Labels: the host's inventory labels, ``host``, ``metric``, the series' own labels (mount, device, fstype),
``alertname=PredictedExhaustion`` and ``severity``. Annotations: ``predicted_at`` (RFC 3339),
``hours_left``, ``slope_per_hour``, ``value`` (the latest), ``limit``, and ``confidence`` = the fit's R².

Hosts that are offline, missing or unknown to the fleet state are skipped: their history has stopped, and
HostDown already speaks for them.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from fleetmon.hub.model import MISSING, OFFLINE, HostView
from fleetmon.hub.rules.alerts import FleetAlert, fleet_labels
from fleetmon.hub.rules.config import PredictiveRule
from fleetmon.hub.rules.fit import LinearFit, linear_fit
from fleetmon.protocol.messages import rfc3339
from fleetmon.protocol.units import format_value


class SeriesHistory(NamedTuple):
    """One series' history as the store returns it: points are (unix seconds, value), any order."""

    host: str
    metric: str
    labels: Mapping[str, str]
    points: Sequence[tuple[float, float]]


def recent_fit(points: Sequence[tuple[float, float]], now: float, window_s: float, min_points: int,
               min_span_s: float) -> LinearFit | None:
    """The line through the points of ``(now - window_s, now]``, if there are enough of them, spread enough."""
    recent = [(ts, value) for ts, value in points if now - window_s < ts <= now]
    if len(recent) < min_points:
        return None
    fit = linear_fit(recent)
    if fit is None or fit.x_span < min_span_s:
        return None
    return fit


def predicted_exhaustion(series: Iterable[SeriesHistory], hosts: Mapping[str, HostView], rule: PredictiveRule,
                         now: float) -> list[FleetAlert]:
    alerts = []
    metrics = set(rule.metrics)
    for one in series:
        view = hosts.get(one.host)
        if one.metric not in metrics or view is None or view.state in (OFFLINE, MISSING):
            continue
        fit = recent_fit(one.points, now, rule.window_s, rule.min_points, rule.min_span_s)
        if fit is None or fit.slope <= 0 or fit.r2 < rule.min_r2:
            continue
        reaches_at = fit.crossing(rule.limit)
        if reaches_at is None or reaches_at > now + rule.horizon_s:
            continue
        latest = max(one.points)[1]
        labels = fleet_labels("PredictedExhaustion", rule.severity, view.labels,
                              {**one.labels, "host": one.host, "metric": one.metric})
        hours_left = max(0.0, (reaches_at - now) / 3600.0)
        what = f"{one.labels['mount']} on {one.host}" if "mount" in one.labels else f"{one.metric} on {one.host}"
        annotations = {
            "summary": f"{what} will reach {format_value(one.metric, rule.limit)} in about {hours_left:.1f}h "
                       f"at the current rate ({format_value(one.metric, fit.slope * 3600.0)}/h)",
            "predicted_at": rfc3339(reaches_at),
            "hours_left": f"{hours_left:.1f}",
            "slope_per_hour": format_value(one.metric, fit.slope * 3600.0),
            "value": format_value(one.metric, latest),
            "limit": format_value(one.metric, rule.limit),
            "confidence": f"{fit.r2:.2f}",
        }
        alerts.append(FleetAlert(labels, annotations, since=now, for_s=rule.for_s))
    return alerts
