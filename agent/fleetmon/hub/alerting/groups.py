"""Aggregation groups: the alerts one route gathers under one set of group labels, and their flush state.

A group is identified by its route (by id) and group labels; Alertmanager's group key (route key ":" group
labels) names it in the notification log, the webhook payload and the API. A flush notifies the group's
alerts in Alertmanager's order and as snapshots: resolved alerts as they are, firing ones without an end.
"""

import hashlib
from dataclasses import dataclass, field

from fleetmon.hub.alerting.alert import Alert
from fleetmon.hub.alerting.notification import AlertSnapshot
from fleetmon.hub.alerting.route import Route


@dataclass(eq=False)
class Group:
    route: Route
    labels: dict[str, str]
    key: str  # Alertmanager's group key: route key ":" group labels
    id: str  # short and unique (route id and labels), for operators and the API
    next_flush: float
    alerts: dict[str, Alert] = field(default_factory=dict)
    flushed: bool = False
    in_flight: int = 0  # deliveries of the current flush not yet done
    flush_ok: bool = True
    firing_since: float | None = None  # first flush with a firing alert in this episode (escalation clock)
    tiers: int = 0  # escalation tiers activated in this episode

    def firing(self, now: float) -> list[Alert]:
        return [a for a in self.alerts.values() if not a.resolved(now)]


def group_id(route_id: str, group_key: str) -> str:
    return hashlib.sha256(f"{route_id}\x00{group_key}".encode()).hexdigest()[:16]


def flush_order(alert: Alert) -> tuple:
    """Alertmanager's AlertSlice order: by job, then instance (present before absent), then the label set."""
    labels = alert.labels
    job, instance = labels.get("job"), labels.get("instance")
    names = sorted(labels)
    return (job is None, job or "", instance is None, instance or "", len(labels),
            [(n, labels[n]) for n in names])


def snapshot(alert: Alert, now: float) -> AlertSnapshot:
    resolved = alert.resolved(now)
    return AlertSnapshot(labels=dict(alert.labels), annotations=dict(alert.annotations), starts_at=alert.starts_at,
                         ends_at=alert.ends_at if resolved else None, generator_url=alert.generator_url,
                         fingerprint=alert.fingerprint)
