"""Aggregation groups: the alerts one route gathers under one set of group labels, and their flush state.

A group is identified by its route (by id) and group labels; Alertmanager's group key (route key ":" group
labels) names it in the notification log, the webhook payload and the API. A flush notifies the group's
alerts in Alertmanager's order and as snapshots: resolved alerts as they are, firing ones without an end.
"""

import hashlib
import math
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
    flushed: bool = False  # has ticked at least once (Alertmanager's hasFlushed), empty or not
    in_flight: int = 0  # deliveries of the current flush not yet done
    flush_ok: bool = True
    firing_since: float | None = None  # first flush with a firing alert in this episode (escalation clock)
    tiers: int = 0  # escalation tiers activated in this episode

    def firing(self, now: float) -> list[Alert]:
        return [a for a in self.alerts.values() if not a.resolved(now)]


class GroupCleanup:
    """Alertmanager's dispatcher cleanup: a 30 s ticker started with the dispatcher (on the dispatcher's own grid,
    not any group's) that drops the groups left empty; until then an emptied group keeps ticking."""

    INTERVAL = 30.0

    def __init__(self, started: float) -> None:
        self.due = started + self.INTERVAL  # the next tick

    def sweep(self, groups: dict, at: float) -> None:
        """The tick at or before ``at``: the empty groups go (one with a delivery in flight still holds its
        alerts), and the next tick is the following one on the grid — a late round skips ticks as Go's ticker
        does, it does not shift them."""
        for key, group in list(groups.items()):
            if not group.alerts and not group.in_flight:
                del groups[key]
        self.due += self.INTERVAL * (math.floor((at - self.due) / self.INTERVAL) + 1)


def next_tick(scheduled: float, interval: float, now: float) -> float:
    """A group's tick after the one ``scheduled`` that a round at ``now`` takes: one ``interval`` on, so the
    round's own lateness does not push the group's schedule back tick after tick; a round later than a whole
    interval (a flush held by a slow delivery) counts the interval from itself, as Alertmanager's timer
    restarts when it is served."""
    following = scheduled + interval
    return following if following > now else now + interval


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
