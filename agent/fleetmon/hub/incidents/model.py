"""An incident as the book keeps it: typed values, the record SQLite keeps of them and the JSON people read.

Two shapes on purpose: the record (snake_case, every field) is what a restarted hub reads back, so it may
hold what nobody needs to see (the routing groups an incident serves); the JSON (camelCase, RFC 3339 times
beside Unix seconds, like the alerting API) is what the API, the console and the receivers read. What an
incident is made of when it opens — its title, severity, service and team — is decided here too, from the
labels alone.
"""

from dataclasses import dataclass, field
from typing import Any

from fleetmon.protocol.messages import rfc3339

SEVERITIES = ("critical", "warning", "info")  # highest first
DEFAULT_SEVERITY = "warning"
FIRING, RESOLVED = "firing", "resolved"


class IncidentError(Exception):
    """A request people can correct (the API's 400); the message says what to change."""


class IncidentNotFound(IncidentError):
    """No incident with that id (404)."""


class IncidentConflict(IncidentError):
    """The incident's state does not allow the change (409): closing without a postmortem, changing a closed one."""


@dataclass(slots=True)
class IncidentAlert:
    fingerprint: str
    labels: dict[str, str]
    starts_at: float  # of the episode the incident holds: an alert firing again is a new episode
    status: str  # FIRING or RESOLVED
    joined_at: float
    group_key: str  # the routing group it came from; "" for an alert a person added
    resolved_at: float | None = None
    acknowledged: bool = False  # this episode, in the dispatcher


@dataclass(slots=True)
class FollowUp:
    text: str
    owner: str = ""
    done: bool = False


@dataclass(slots=True)
class Postmortem:
    summary: str = ""
    root_cause: str = ""
    impact: str = ""
    resolution: str = ""
    follow_ups: list[FollowUp] = field(default_factory=list)


#: What a postmortem must say before its incident may close, by the names the API uses.
REQUIRED_POSTMORTEM = (("root_cause", "rootCause"), ("impact", "impact"), ("resolution", "resolution"))


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of an incident's timeline; ``by`` is "" for the hub. Ordered by (at, seq)."""

    at: float
    seq: int
    kind: str
    by: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Incident:
    id: str
    number: int
    title: str
    state: str
    severity: str
    group_key: str
    group_id: str
    receiver: str
    labels: dict[str, str]
    service: str
    team: str
    opened_at: float
    opened_by: str  # "route" or the person
    assignee: str = ""
    responders: list[str] = field(default_factory=list)
    alerts: dict[str, IncidentAlert] = field(default_factory=dict)  # by fingerprint, in the order they joined
    links: list[str] = field(default_factory=list)
    merged_into: str = ""
    held_open: bool = False
    acknowledged_at: float | None = None  # the first time
    resolved_at: float | None = None  # the last time
    closed_at: float | None = None
    postmortem: Postmortem = field(default_factory=Postmortem)
    #: The routing groups whose next firing alert joins this incident while it is not closed: its own, and
    #: those of the incidents merged into it. An incident split off serves none.
    group_keys: list[str] = field(default_factory=list)
    timeline: list[Entry] = field(default_factory=list)

    def firing(self) -> list[IncidentAlert]:
        return [a for a in self.alerts.values() if a.status == FIRING]


# --- what an incident is made of when it opens ------------------------------------------------------------

def highest_severity(labels: list[dict[str, str]]) -> str:
    """The highest ``severity`` label among the alerts; a value outside SEVERITIES counts as none."""
    found = {each.get("severity", "") for each in labels}
    return next((severity for severity in SEVERITIES if severity in found), DEFAULT_SEVERITY)


def common_labels(labels: list[dict[str, str]]) -> dict[str, str]:
    """The labels every alert has with the same value."""
    if not labels:
        return {}
    common = dict(labels[0])
    for each in labels[1:]:
        common = {name: value for name, value in common.items() if each.get(name) == value}
    return common


def owner_label(name: str, group_labels: dict[str, str], labels: list[dict[str, str]]) -> str:
    """``service`` or ``team``: the routing group's label, else the one all its alerts share, else ""."""
    return group_labels.get(name) or common_labels(labels).get(name, "")


def default_title(group_labels: dict[str, str], labels: list[dict[str, str]]) -> str:
    """``DiskFull (host=a, site=north)``: the alertname (the group's, else the one its alerts share), then the
    other group labels."""
    name = group_labels.get("alertname") or common_labels(labels).get("alertname") or "alerts"
    rest = ", ".join(f"{key}={group_labels[key]}" for key in sorted(group_labels) if key != "alertname")
    return f"{name} ({rest})" if rest else name


def missing_postmortem_fields(postmortem: Postmortem) -> list[str]:
    """The required postmortem fields still empty, by their API names."""
    return [name for attribute, name in REQUIRED_POSTMORTEM if not getattr(postmortem, attribute).strip()]


# --- the record SQLite keeps -----------------------------------------------------------------------------

def incident_record(incident: Incident) -> dict[str, Any]:
    """Every field but the timeline, which has a table of its own (one row per entry, appended)."""
    return {"id": incident.id, "number": incident.number, "title": incident.title, "state": incident.state,
            "severity": incident.severity, "group_key": incident.group_key, "group_id": incident.group_id,
            "receiver": incident.receiver, "labels": incident.labels, "service": incident.service,
            "team": incident.team, "opened_at": incident.opened_at, "opened_by": incident.opened_by,
            "assignee": incident.assignee, "responders": incident.responders,
            "alerts": [{"fingerprint": a.fingerprint, "labels": a.labels, "starts_at": a.starts_at,
                        "status": a.status, "joined_at": a.joined_at, "group_key": a.group_key,
                        "resolved_at": a.resolved_at, "acknowledged": a.acknowledged}
                       for a in incident.alerts.values()],
            "links": incident.links, "merged_into": incident.merged_into, "held_open": incident.held_open,
            "acknowledged_at": incident.acknowledged_at, "resolved_at": incident.resolved_at,
            "closed_at": incident.closed_at, "group_keys": incident.group_keys,
            "postmortem": {"summary": incident.postmortem.summary, "root_cause": incident.postmortem.root_cause,
                           "impact": incident.postmortem.impact, "resolution": incident.postmortem.resolution,
                           "follow_ups": [{"text": f.text, "owner": f.owner, "done": f.done}
                                          for f in incident.postmortem.follow_ups]}}


def incident_from_record(record: dict[str, Any], timeline: list[Entry]) -> Incident:
    postmortem = record["postmortem"]
    fields = {key: value for key, value in record.items() if key not in ("alerts", "postmortem")}
    return Incident(**fields, alerts={a["fingerprint"]: IncidentAlert(**a) for a in record["alerts"]},
                    postmortem=Postmortem(**{**postmortem,
                                             "follow_ups": [FollowUp(**f) for f in postmortem["follow_ups"]]}),
                    timeline=timeline)


# --- the JSON people read ----------------------------------------------------------------------------------

def _time(ts: float | None) -> str | None:
    return None if ts is None else rfc3339(ts)


def _since(start: float, end: float | None) -> float | None:
    return None if end is None else round(end - start, 3)


def ordered(timeline: list[Entry]) -> list[Entry]:
    """Entries at the same instant keep the order they were made in."""
    return sorted(timeline, key=lambda entry: (entry.at, entry.seq))


def entry_json(entry: Entry) -> dict[str, Any]:
    return {"at": entry.at, "seq": entry.seq, "kind": entry.kind, "by": entry.by, "text": entry.text,
            "details": entry.details}


def postmortem_json(postmortem: Postmortem) -> dict[str, Any]:
    return {"summary": postmortem.summary, "rootCause": postmortem.root_cause, "impact": postmortem.impact,
            "resolution": postmortem.resolution,
            "followUps": [{"text": f.text, "owner": f.owner, "done": f.done} for f in postmortem.follow_ups]}


def incident_json(incident: Incident, timeline: bool = True) -> dict[str, Any]:
    """The API's shape; without the timeline for lists and for the receivers."""
    body = {"id": incident.id, "title": incident.title, "state": incident.state, "severity": incident.severity,
            "groupKey": incident.group_key, "groupId": incident.group_id, "receiver": incident.receiver,
            "labels": dict(incident.labels), "service": incident.service, "team": incident.team,
            "assignee": incident.assignee, "responders": list(incident.responders),
            "alerts": [{"fingerprint": a.fingerprint, "labels": dict(a.labels), "startsAt": rfc3339(a.starts_at),
                        "status": a.status, "joinedAt": rfc3339(a.joined_at), "resolvedAt": _time(a.resolved_at),
                        "acknowledged": a.acknowledged, "groupKey": a.group_key}
                       for a in incident.alerts.values()],
            "links": list(incident.links), "mergedInto": incident.merged_into, "heldOpen": incident.held_open,
            "openedAt": rfc3339(incident.opened_at), "acknowledgedAt": _time(incident.acknowledged_at),
            "resolvedAt": _time(incident.resolved_at), "closedAt": _time(incident.closed_at),
            "openedBy": incident.opened_by,
            "unix": {"openedAt": incident.opened_at, "acknowledgedAt": incident.acknowledged_at,
                     "resolvedAt": incident.resolved_at, "closedAt": incident.closed_at},
            "timeToAcknowledge": _since(incident.opened_at, incident.acknowledged_at),
            "timeToResolve": _since(incident.opened_at, incident.resolved_at),
            "postmortem": postmortem_json(incident.postmortem)}
    if timeline:
        body["timeline"] = [entry_json(entry) for entry in ordered(incident.timeline)]
    return body


_POSTMORTEM_KEYS = {"summary": "summary", "rootCause": "root_cause", "impact": "impact", "resolution": "resolution"}


def postmortem_from_json(body: Any, path: str = "") -> Postmortem:
    """The API's postmortem object, strictly: unknown keys and wrong types are errors naming their path
    (below ``path``, "" for the top of the body)."""
    where = f"{path}." if path else ""
    if not isinstance(body, dict):
        raise IncidentError(f"{path or 'the postmortem'} must be an object")
    unknown = sorted(set(body) - {*_POSTMORTEM_KEYS, "followUps"})
    if unknown:
        raise IncidentError(f"{where}{unknown[0]}: unknown field; expected summary, rootCause, impact, resolution, "
                            "followUps")
    texts = {}
    for key, attribute in _POSTMORTEM_KEYS.items():
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise IncidentError(f"{where}{key} must be a string")
        texts[attribute] = value or ""
    follow_ups = body.get("followUps") or []
    if not isinstance(follow_ups, list):
        raise IncidentError(f"{where}followUps must be a list")
    return Postmortem(**texts, follow_ups=[_follow_up(item, f"{where}followUps[{i}]")
                                           for i, item in enumerate(follow_ups)])


def _follow_up(item: Any, path: str) -> FollowUp:
    if not isinstance(item, dict):
        raise IncidentError(f"{path} must be an object {{text, owner, done}}")
    unknown = sorted(set(item) - {"text", "owner", "done"})
    if unknown:
        raise IncidentError(f"{path}.{unknown[0]}: unknown field; expected text, owner, done")
    text, owner, done = item.get("text"), item.get("owner") or "", item.get("done", False)
    if not isinstance(text, str) or not text.strip():
        raise IncidentError(f"{path}.text must be a non-empty string")
    if not isinstance(owner, str):
        raise IncidentError(f"{path}.owner must be a string")
    if not isinstance(done, bool):
        raise IncidentError(f"{path}.done must be true or false")
    return FollowUp(text, owner, done)
