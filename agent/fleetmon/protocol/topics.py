"""The per-host MQTT topic tree: ``<prefix>/hosts/<host>/<kind>``."""

import re
from typing import NamedTuple, Optional

from fleetmon.protocol import DEFAULT_PREFIX

#: Message kinds an agent publishes, one topic each.
KINDS = ("status", "metrics", "backfill", "checks", "alerts", "events", "logs")

#: Host ids become topic levels and client ids, so they keep to a safe alphabet.
HOST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class HostTopics(NamedTuple):
    status: str
    metrics: str
    backfill: str
    checks: str
    alerts: str
    events: str
    logs: str


def host_topics(host: str, prefix: str = DEFAULT_PREFIX) -> HostTopics:
    base = f"{prefix}/hosts/{host}"
    return HostTopics(*(f"{base}/{kind}" for kind in KINDS))


def host_subscription(prefix: str = DEFAULT_PREFIX) -> str:
    """The wildcard a fleet-wide reader subscribes to."""
    return f"{prefix}/hosts/+/+"


class ParsedTopic(NamedTuple):
    host: str
    kind: str


def parse_host_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> Optional[ParsedTopic]:
    """Split a host topic into (host, kind); None for anything else."""
    head = prefix + "/hosts/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head):].split("/")
    if len(parts) != 2 or parts[1] not in KINDS or not HOST_ID_PATTERN.match(parts[0]):
        return None
    return ParsedTopic(parts[0], parts[1])


def fleet_host_topic(host: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The hub's retained one-line view of a host."""
    return f"{prefix}/fleet/hosts/{host}"


def fleet_summary_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """The hub's retained fleet summary: hosts by state, groups with their health."""
    return f"{prefix}/fleet/summary"


def fleet_alerts_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """Fleet alert transitions (HostDown, predictive, patterns), QoS 1, not retained."""
    return f"{prefix}/fleet/alerts"


def fleet_active_alerts_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """The hub's retained set of firing alerts (fleet and edge), Alertmanager-shaped: what a central hub
    in federation mode routes for the site."""
    return f"{prefix}/fleet/alerts/active"


def hub_status_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """The hub's own retained birth and Last Will."""
    return f"{prefix}/hub/status"


def hub_probe_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """The hub's own probe: published and received by the hub to know it is connected and keeping up."""
    return f"{prefix}/hub/probe"


def hub_ack_topic(host: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The hub's retained delivery ack for one host: what its history holds, what it asks to be re-sent."""
    return f"{prefix}/hub/acks/{host}"
