"""The fleet view on MQTT: what the hub republishes so any subscriber can follow the fleet.

Retained, with MQTT 5 message expiry so a dead hub's view ages out instead of lying forever:
``<prefix>/fleet/hosts/<host>`` (host_summary), ``<prefix>/fleet/summary`` and the firing alerts
``<prefix>/fleet/alerts/active`` (which a central hub reads through a site's bridge). A host that left the
inventory gets an empty retained message, which clears its topic on the broker.
"""

import time
from typing import Any, NamedTuple

from fleetmon.hub.state import FleetState, group_rollups, host_summary
from fleetmon.protocol import SCHEMA_VERSION
from fleetmon.protocol.messages import encode
from fleetmon.protocol.topics import fleet_active_alerts_topic, fleet_host_topic, fleet_summary_topic


class Publication(NamedTuple):
    topic: str
    payload: bytes


def fleet_view(state: FleetState, prefix: str, now: float | None = None) -> list[Publication]:
    now = time.time() if now is None else now
    publications = []
    counts: dict[str, int] = {}
    for record in state.hosts.values():
        summary = host_summary(record, state.skewed(record))
        counts[record.state] = counts.get(record.state, 0) + 1
        publications.append(Publication(fleet_host_topic(record.host, prefix),
                                        encode({"v": SCHEMA_VERSION, "type": "fleet_host", "ts": round(now, 3),
                                                **summary})))
    summary_payload: dict[str, Any] = {"v": SCHEMA_VERSION, "type": "fleet_summary", "ts": round(now, 3),
                                       "hosts": len(state.hosts), "states": counts, "groups": group_rollups(state)}
    publications.append(Publication(fleet_summary_topic(prefix), encode(summary_payload)))
    return publications


def active_alerts(firing: list[dict[str, Any]], prefix: str, now: float) -> Publication:
    """Every firing alert of the hub's own sources (fleet rules, agents' edge alerts), as one message."""
    return Publication(fleet_active_alerts_topic(prefix),
                       encode({"v": SCHEMA_VERSION, "type": "fleet_alerts", "ts": round(now, 3), "alerts": firing}))


def cleared(hosts: list[str], prefix: str) -> list[Publication]:
    """Empty retained messages that remove hosts' fleet-view topics from the broker."""
    return [Publication(fleet_host_topic(host, prefix), b"") for host in hosts]
