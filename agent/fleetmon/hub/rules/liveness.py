"""HostDown and HostMissing: liveness alerts straight from each host's state (fleetmon.hub.model).

HostDown fires for a host that is
  offline by its Last Will (``cause: will``),
  silent, i.e. online by its last status but without samples for silent_after intervals (``cause: silent``),
  offline by a clean shutdown, only with ``down_on_shutdown: true`` (``cause: shutdown``),
once it has stayed down for its ``for`` (per host through ``per_host``). Labels: the host's inventory
labels, ``host``, ``alertname=HostDown`` and ``severity``.

``cause`` is an annotation, not a label: a host that loses power first goes silent (after silent_after
intervals) and its will arrives later (after 1.5 x keepalive). As a label, that would resolve one HostDown
and fire another for the same outage; as an annotation the alert keeps its fingerprint and startsAt, and
shows the latest cause.

HostMissing fires for a host the inventory expects but that has not been seen for ``for`` since the hub
began expecting it.
"""

from collections.abc import Iterable

from fleetmon.hub.model import MISSING, OFFLINE, SILENT, HostView
from fleetmon.hub.rules.alerts import FleetAlert, fleet_labels
from fleetmon.hub.rules.config import HostDownRule, HostMissingRule
from fleetmon.protocol.messages import rfc3339

WILL, SILENCE, SHUTDOWN = "will", "silent", "shutdown"


def down_cause(view: HostView, down_on_shutdown: bool = False) -> str | None:
    """Why a host counts as down ("will", "silent", "shutdown"), or None if it does not."""
    if view.state == SILENT:
        return SILENCE
    if view.state == OFFLINE:
        if view.reason == SHUTDOWN:
            return SHUTDOWN if down_on_shutdown else None
        return WILL
    return None


def host_down(hosts: Iterable[HostView], rule: HostDownRule) -> list[FleetAlert]:
    alerts = []
    for view in hosts:
        cause = down_cause(view, rule.down_on_shutdown)
        if cause is None:
            continue
        labels = fleet_labels("HostDown", rule.severity, view.labels, {"host": view.host})
        last = rfc3339(view.last_sample_at) if view.last_sample_at is not None else "never"
        annotations = {
            "summary": f"{view.host} is down: {_CAUSE_TEXT[cause]}",
            "cause": cause,
            "down_since": rfc3339(view.since),
            "last_sample": last,
        }
        alerts.append(FleetAlert(labels, annotations, since=view.since, for_s=rule.for_host(view.host)))
    return alerts


_CAUSE_TEXT = {
    WILL: "its connection was lost (Last Will)",
    SILENCE: "connected, but no samples arrive",
    SHUTDOWN: "its agent shut down",
}


def host_missing(hosts: Iterable[HostView], rule: HostMissingRule) -> list[FleetAlert]:
    alerts = []
    for view in hosts:
        if view.state != MISSING:
            continue
        labels = fleet_labels("HostMissing", rule.severity, view.labels, {"host": view.host})
        annotations = {"summary": f"{view.host} is expected by the inventory but has never reported",
                       "expected_since": rfc3339(view.since)}
        alerts.append(FleetAlert(labels, annotations, since=view.since, for_s=rule.for_s))
    return alerts
