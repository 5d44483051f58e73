"""The incidents in memory, and what the dispatcher's observations do to them.

The ledger is the book without threads or I/O: the incidents by id, the indexes that route an alert to the
incident that holds it, the numbering, the timeline, the record of what changed since the last commit,
and the rules by which alerts open, join, resolve, acknowledge and re-trigger incidents. The book
(fleetmon.hub.incidents.book) calls it under its lock and commits what it marks as changed.

Which incident an alert of a routing group goes to: the non-closed incident already holding that alert
from that group (an incident split off keeps its alerts, and one merged into another hands them over),
else the incident serving the group — its own and those merged into it — else a new one. Closed
incidents hold nothing: the next firing alert of their group opens a new incident.
"""

from collections.abc import Iterable
from typing import Any

from fleetmon.hub.alerting.observers import AlertRef
from fleetmon.hub.incidents.lifecycle import (
    ACKNOWLEDGING,
    acknowledged_by_alerts,
    announced_change,
    auto_resolves,
    retriggers,
)
from fleetmon.hub.incidents.model import (
    FIRING,
    RESOLVED,
    Entry,
    Incident,
    IncidentAlert,
    IncidentNotFound,
    default_title,
    highest_severity,
    incident_json,
    owner_label,
)

#: (the incident's JSON without its timeline, the change): what the receivers are told.
Change = tuple[dict[str, Any], str]


def alert_name(labels: dict[str, str]) -> str:
    return labels.get("alertname") or "an alert"


def labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{key}={labels[key]}" for key in sorted(labels))


class Ledger:
    """Not thread-safe: the book's lock guards it."""

    def __init__(self, incidents: Iterable[Incident]) -> None:
        self.incidents: dict[str, Incident] = {incident.id: incident for incident in incidents}
        self.number = max((i.number for i in self.incidents.values()), default=0)
        self.seq = max((e.seq for i in self.incidents.values() for e in i.timeline), default=0)
        self.dirty: dict[str, None] = {}  # ids of incidents whose record changed since the last commit
        self.unsaved: list[tuple[str, Entry]] = []  # timeline entries made since the last commit
        self._holders: dict[str, list[str]] = {}  # fingerprint → non-closed incidents holding it
        self._serving: dict[str, str] = {}  # group key → the non-closed incident its next alert joins
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the indexes after incidents closed, merged or split."""
        self._holders, self._serving = {}, {}
        for incident in self.incidents.values():
            if incident.state == "closed":
                continue
            for fp in incident.alerts:
                self._holders.setdefault(fp, []).append(incident.id)
            for key in incident.group_keys:
                self._serving[key] = incident.id

    def get(self, incident_id: str) -> Incident:
        incident = self.incidents.get(incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        return incident

    def holding(self, fp: str) -> list[Incident]:
        return [self.incidents[i] for i in self._holders.get(fp, ())]

    def serving(self, group_key: str) -> Incident | None:
        return self.incidents.get(self._serving.get(group_key, ""))

    def known_alert(self, fp: str) -> AlertRef | None:
        """The latest copy of an alert any incident holds, for a person adding it by fingerprint."""
        copies = [i.alerts[fp] for i in self.incidents.values() if fp in i.alerts]
        if not copies:
            return None
        latest = max(copies, key=lambda a: a.joined_at)
        return AlertRef(fp, dict(latest.labels), latest.starts_at, latest.status == RESOLVED)

    # --- changes -------------------------------------------------------------------------------------------

    def new_incident(self, **fields: Any) -> Incident:
        self.number += 1
        incident = Incident(id=f"INC-{self.number}", number=self.number, **fields)
        self.incidents[incident.id] = incident
        for key in incident.group_keys:
            self._serving[key] = incident.id
        self.touch(incident)
        return incident

    def touch(self, incident: Incident) -> None:
        self.dirty[incident.id] = None

    def log(self, incident: Incident, at: float, kind: str, by: str, text: str, **details: Any) -> None:
        self.seq += 1
        entry = Entry(at, self.seq, kind, by, text, details)
        incident.timeline.append(entry)
        self.unsaved.append((incident.id, entry))
        self.touch(incident)

    def set_state(self, incident: Incident, state: str, at: float, by: str, text: str, changes: list[Change],
                  **details: Any) -> None:
        before = incident.state
        incident.state = state
        if state in ACKNOWLEDGING and incident.acknowledged_at is None:
            incident.acknowledged_at = at
        if state == "resolved":
            incident.resolved_at = at
        elif state == "triggered":
            incident.resolved_at = None
        elif state == "closed":
            incident.closed_at = at
        self.log(incident, at, "state_changed", by, text, **{"from": before, "to": state, **details})
        change = announced_change(before, state)
        if change is not None:
            changes.append((incident_json(incident, timeline=False), change))

    def add_alert(self, incident: Incident, group_key: str, ref: AlertRef, at: float, changes: list[Change]) -> None:
        """An alert joins (or, held already, is brought up to date); a firing one re-triggers a resolved incident."""
        held = incident.alerts.get(ref.fingerprint)
        if held is not None:
            self.update_alert(incident, held, group_key, ref, at, changes)
            return
        incident.alerts[ref.fingerprint] = IncidentAlert(ref.fingerprint, dict(ref.labels), ref.starts_at,
                                                         RESOLVED if ref.resolved else FIRING, at, group_key,
                                                         resolved_at=at if ref.resolved else None)
        self._holders.setdefault(ref.fingerprint, []).append(incident.id)
        self.log(incident, at, "alert_joined", "", f"{alert_name(ref.labels)} joined ({labels_text(ref.labels)})",
                 fingerprint=ref.fingerprint, labels=dict(ref.labels), status=incident.alerts[ref.fingerprint].status)
        if not ref.resolved and retriggers(incident.state):
            self.set_state(incident, "triggered", at, "", f"re-triggered: {alert_name(ref.labels)} fires",
                           changes, fingerprint=ref.fingerprint)

    def update_alert(self, incident: Incident, held: IncidentAlert, group_key: str, ref: AlertRef, at: float,
                     changes: list[Change]) -> bool:
        """Whether the alert resolved or fired again: a flush repeating what the incident knows changes nothing."""
        if not held.group_key:
            held.group_key = group_key  # added by a person; its routing group now follows it
            self.touch(incident)
        if ref.resolved:
            if held.status != FIRING:
                return False
            held.status, held.resolved_at = RESOLVED, at
            self.log(incident, at, "alert_resolved", "", f"{alert_name(held.labels)} resolved",
                     fingerprint=held.fingerprint)
            return True
        if held.starts_at != ref.starts_at:  # a new episode: the dispatcher's ack of the last one is void
            held.starts_at, held.acknowledged = ref.starts_at, False
            self.touch(incident)
        if held.status != RESOLVED:
            return False
        held.status, held.resolved_at, held.acknowledged = FIRING, None, False
        self.log(incident, at, "alert_joined", "", f"{alert_name(held.labels)} fires again",
                 fingerprint=held.fingerprint, labels=dict(held.labels), status=FIRING, again=True)
        if retriggers(incident.state):
            self.set_state(incident, "triggered", at, "", f"re-triggered: {alert_name(held.labels)} fires again",
                           changes, fingerprint=held.fingerprint)
        return True

    def resolve_if_done(self, incident: Incident, at: float, by: str, changes: list[Change]) -> None:
        if auto_resolves(incident.state, incident.held_open, [a.status for a in incident.alerts.values()]):
            self.set_state(incident, "resolved", at, by, "resolved: every alert resolved", changes)

    # --- the dispatcher's observations -------------------------------------------------------------------

    def observe_group(self, group_key: str, group_id: str, group_labels: dict[str, str], receiver: str,
                      alerts: list[AlertRef], now: float, changes: list[Change]) -> None:
        changed: dict[str, Incident] = {}  # only these may resolve: a person's reopening is not undone by a repeat
        joining = []
        for ref in alerts:
            held = [i for i in self.holding(ref.fingerprint) if i.alerts[ref.fingerprint].group_key in (group_key, "")]
            for incident in held:
                if self.update_alert(incident, incident.alerts[ref.fingerprint], group_key, ref, now, changes):
                    changed[incident.id] = incident
            if not held and not ref.resolved:  # a resolution nobody holds is no news
                joining.append(ref)
        if joining:
            incident = self.serving(group_key)
            if incident is None:
                incident = self._open_for_group(group_key, group_id, group_labels, receiver, joining, now, changes)
            else:
                for ref in joining:
                    self.add_alert(incident, group_key, ref, now, changes)
            changed[incident.id] = incident
        for incident in changed.values():
            self.resolve_if_done(incident, now, "", changes)

    def _open_for_group(self, group_key: str, group_id: str, group_labels: dict[str, str], receiver: str,
                        firing: list[AlertRef], now: float, changes: list[Change]) -> Incident:
        labels = [ref.labels for ref in firing]
        incident = self.new_incident(title=default_title(group_labels, labels), state="triggered",
                                     severity=highest_severity(labels), group_key=group_key, group_id=group_id,
                                     receiver=receiver, labels=dict(group_labels),
                                     service=owner_label("service", group_labels, labels),
                                     team=owner_label("team", group_labels, labels), opened_at=now,
                                     opened_by="route", group_keys=[group_key])
        self.log(incident, now, "opened", "", f"opened for routing group {group_key} (receiver {receiver})",
                 groupKey=group_key, receiver=receiver)
        for ref in firing:
            self.add_alert(incident, group_key, ref, now, changes)
        changes.append((incident_json(incident, timeline=False), "opened"))
        return incident

    def notified(self, group_key: str, receiver: str, integration: str, ok: bool, detail: str, now: float,
                 changes: list[Change]) -> None:
        incident = self.serving(group_key)
        if incident is None:
            return
        if ok:
            self.log(incident, now, "notification_sent", "", f"notified {receiver} ({integration}): {detail}",
                     receiver=receiver, integration=integration, reason=detail)
        else:
            self.log(incident, now, "notification_failed", "",
                     f"notifying {receiver} ({integration}) failed ({detail})", receiver=receiver,
                     integration=integration, error=detail)

    def escalated(self, group_key: str, tier: int, receivers: list[str], now: float, changes: list[Change]) -> None:
        incident = self.serving(group_key)
        if incident is not None:
            self.log(incident, now, "escalated", "", f"escalated to tier {tier}: {', '.join(receivers)}",
                     tier=tier, receivers=list(receivers))

    def alert_acknowledged(self, fp: str, by: str, comment: str, now: float, changes: list[Change]) -> None:
        """An ack in the dispatcher. One the incident's own acknowledgement made is on the timeline already."""
        for incident in self.holding(fp):
            held = incident.alerts[fp]
            if held.status != FIRING or held.acknowledged:
                continue
            held.acknowledged = True
            self.log(incident, now, "alert_acknowledged", by,
                     f"{alert_name(held.labels)} acknowledged" + (f": {comment}" if comment else ""),
                     fingerprint=fp, comment=comment)
            if acknowledged_by_alerts(incident.state, [a.acknowledged for a in incident.firing()]):
                self.set_state(incident, "acknowledged", now, by, "acknowledged: every firing alert is acknowledged",
                               changes)
