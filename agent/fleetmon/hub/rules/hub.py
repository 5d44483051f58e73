"""HubBlind and HubStorageFailing: alerts about the hub itself, never about the hosts it cannot see.

A fault in the monitoring path is reported as that fault, once. While the hub is blind (fleetmon.hub.sight:
no broker session, stalled, or lagging behind its own probe) it raises HubBlind and judges no host; a
history store that cannot write (disk full, read-only, locked, corrupt) raises HubStorageFailing while
liveness and alerting go on. Labels: ``alertname``, ``severity`` and ``hub`` (the hub's host name); the
cause and detail are annotations, so one episode keeps one fingerprint whatever the cause becomes.
"""

from dataclasses import dataclass

from fleetmon.hub.rules.alerts import FleetAlert, fleet_labels
from fleetmon.hub.rules.config import HubRule
from fleetmon.hub.sight import Blindness


@dataclass(slots=True, frozen=True)
class HubHealth:
    """What the hub knows of its own faults at one moment."""

    hub: str
    blindness: Blindness | None = None
    storage_problem: str = ""  # fleetmon.hub.store.Store.problem(): "" while writes succeed
    storage_since: float | None = None


def hub_blind(health: HubHealth, rule: HubRule) -> list[FleetAlert]:
    blindness = health.blindness
    if blindness is None:
        return []
    labels = fleet_labels("HubBlind", rule.severity, {}, {"hub": health.hub})
    annotations = {"summary": f"the hub cannot see the fleet: {blindness.detail}", "cause": blindness.cause,
                   "description": "No host is judged down while the hub is blind; hosts that died meanwhile "
                                  "are reported once it sees again."}
    return [FleetAlert(labels, annotations, since=blindness.since, for_s=rule.for_s)]


def hub_storage_failing(health: HubHealth, rule: HubRule) -> list[FleetAlert]:
    if not health.storage_problem or health.storage_since is None:
        return []
    labels = fleet_labels("HubStorageFailing", rule.severity, {}, {"hub": health.hub})
    annotations = {"summary": health.storage_problem,
                   "description": "History is not being written; liveness and alerting go on, and writing "
                                  "resumes by itself once the store can write again."}
    return [FleetAlert(labels, annotations, since=health.storage_since, for_s=rule.for_s)]
