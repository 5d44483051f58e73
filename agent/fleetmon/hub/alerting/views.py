"""Read-only JSON views of the dispatcher's state, for the HTTP API and the metrics collector.

Pure functions of the parts they are given. The dispatcher calls them under its own lock
(``Dispatcher.alert_views``, ``group_views``, ``ack_views``, ``silence_views``), so no API module takes that
lock or reaches into the dispatcher's parts, and asking never changes what is asked about.
"""

from collections.abc import Iterable
from typing import Any

from fleetmon.hub.alerting.acks import Ack, Acks
from fleetmon.hub.alerting.alert import Alert
from fleetmon.hub.alerting.groups import Group
from fleetmon.hub.alerting.muting import Muter
from fleetmon.hub.alerting.silences import Silences

#: How the silence list is ordered: what mutes now first, then what will, then what did.
_SILENCE_ORDER = {"active": 0, "pending": 1, "expired": 2}


def alert_views(alerts: Iterable[Alert], groups: Iterable[Group], acks: Acks, mutes: Muter,
                now: float) -> list[dict[str, Any]]:
    """Every stored alert with why it is muted ("" if not), its receivers, its groups and its ack."""
    groups_of: dict[str, list[str]] = {}
    receivers_of: dict[str, set[str]] = {}
    for group in groups:
        for fp in group.alerts:
            groups_of.setdefault(fp, []).append(group.id)
            receivers_of.setdefault(fp, set()).add(group.route.receiver)
    views = []
    for alert in alerts:
        view = alert.to_json(now)
        ack = acks.covering(alert, now)
        view["muted"] = mutes.reason(alert.labels, now)
        view["receivers"] = sorted(receivers_of.get(alert.fingerprint, ()))
        view["groups"] = groups_of.get(alert.fingerprint, [])
        view["acknowledged"] = None if ack is None else {"by": ack.by, "at": ack.at, "comment": ack.comment,
                                                         "expiresAt": ack.expires_at}
        views.append(view)
    return views


def group_views(groups: Iterable[Group], acks: Acks, now: float) -> list[dict[str, Any]]:
    """The groups holding alerts; one left empty, ticking until the group cleanup drops it, is nobody's news
    (Alertmanager's API leaves it out too)."""
    return [{"id": g.id, "groupKey": g.key, "route": g.route.id, "receiver": g.route.receiver,
             "labels": dict(g.labels), "alerts": sorted(g.alerts), "firing": len(g.firing(now)),
             "acknowledged": acks.all_acknowledged(g.firing(now), now), "escalationTier": g.tiers,
             "firingSince": g.firing_since, "nextFlush": g.next_flush}
            for g in groups if g.alerts]


def ack_json(ack: Ack) -> dict[str, Any]:
    return {"fingerprint": ack.fingerprint, "startsAt": ack.starts_at, "by": ack.by, "at": ack.at,
            "comment": ack.comment, "expiresAt": ack.expires_at}


def ack_views(acks: Acks) -> list[dict[str, Any]]:
    return [ack_json(ack) for ack in acks.by_fingerprint.values()]


def silence_views(silences: Silences, now: float) -> list[dict[str, Any]]:
    """Every silence; active ones first, then pending, then expired, each kind by the latest end first."""
    ordered = sorted(silences.by_id.values(), key=lambda s: (_SILENCE_ORDER[s.state(now)], -s.ends_at))
    return [s.to_json(now) for s in ordered]
