"""Incident statistics: how fast incidents are acknowledged and resolved, overall and by service, group, team
and month. Pure functions of incident values; docs/incidents.md ("Statistics") states the formulas.

The incidents counted are those opened in ``[start, end)``, less those merged into another (each was a
duplicate of the incident it went to, which is counted). An incident counts as acknowledged, or resolved, when
that happened by ``end``, so a report on a past range does not change when an old incident is acknowledged
today. Resolved means the last resolution: an incident re-triggered and resolved again counts from its
opening to its final resolution, and one re-triggered now is unresolved.
"""

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from fleetmon.hub.incidents.lifecycle import STATES
from fleetmon.hub.incidents.model import Incident

#: The key an incident without the label is counted under.
NONE = "none"


def incident_stats(incidents: Iterable[Incident], start: float, end: float) -> dict[str, Any]:
    incidents = list(incidents)
    counted = [i for i in incidents if start <= i.opened_at < end and not i.merged_into]
    open_now = {state: 0 for state in STATES if state != "closed"}
    for incident in incidents:
        if incident.state in open_now:
            open_now[incident.state] += 1
    return {"start": start, "end": end, **summary(counted, end),
            "byService": breakdown(counted, end, lambda i: i.service or NONE),
            "byGroup": breakdown(counted, end, lambda i: i.labels.get("group") or NONE),
            "byTeam": breakdown(counted, end, lambda i: i.team or NONE),
            "byMonth": breakdown(counted, end, lambda i: month(i.opened_at)),
            "openByState": open_now}


def summary(incidents: list[Incident], end: float) -> dict[str, Any]:
    """Counts, MTTA = mean(acknowledged_at - opened_at) over those acknowledged by ``end`` and MTTR =
    mean(resolved_at - opened_at) over those resolved by ``end``, in seconds (None where there is none)."""
    to_acknowledge = [i.acknowledged_at - i.opened_at for i in incidents
                      if i.acknowledged_at is not None and i.acknowledged_at <= end]
    to_resolve = [i.resolved_at - i.opened_at for i in incidents if i.resolved_at is not None and i.resolved_at <= end]
    return {"opened": len(incidents), "acknowledged": len(to_acknowledge),
            "unacknowledged": len(incidents) - len(to_acknowledge), "resolved": len(to_resolve),
            "unresolved": len(incidents) - len(to_resolve), "meanTimeToAcknowledge": _mean(to_acknowledge),
            "meanTimeToResolve": _mean(to_resolve)}


def breakdown(incidents: list[Incident], end: float, key: Callable[[Incident], str]) -> dict[str, dict[str, Any]]:
    """The summary of each part, by key in order."""
    parts: dict[str, list[Incident]] = {}
    for incident in incidents:
        parts.setdefault(key(incident), []).append(incident)
    return {name: summary(parts[name], end) for name in sorted(parts)}


def month(ts: float) -> str:
    """The UTC month, "2026-11"."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m")


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None
