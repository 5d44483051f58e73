"""What people do to incidents: open one by hand, acknowledge, investigate, resolve, reopen, close, hold open,
assign, add responders, note, change the severity, write the postmortem, merge, split and link.

Each action is a function of the ledger, the time and the list of changes to announce: it validates
everything first and raises IncidentError (IncidentNotFound, IncidentConflict) before changing anything, so
a refused request leaves no trace. No locks and no I/O here: the book (fleetmon.hub.incidents.book) calls
these under its lock and commits and announces afterwards. Which state moves are allowed is the
lifecycle's (lifecycle.next_state).
"""

from collections.abc import Sequence
from dataclasses import replace

from fleetmon.hub.alerting.observers import AlertRef
from fleetmon.hub.incidents.ledger import Change, Ledger
from fleetmon.hub.incidents.lifecycle import next_state
from fleetmon.hub.incidents.model import (
    FIRING,
    SEVERITIES,
    Incident,
    IncidentConflict,
    IncidentError,
    Postmortem,
    common_labels,
    highest_severity,
    incident_json,
    missing_postmortem_fields,
    owner_label,
)


def open_by_hand(ledger: Ledger, now: float, changes: list[Change], title: str, by: str, severity: str,
                 fingerprints: list[str], found: list[AlertRef | None], assignee: str) -> dict:
    """``found``: what the dispatcher knows of each fingerprint (None: ask the incidents). The severity
    defaults to the highest of the alerts' (else warning); the labels are those all the alerts share."""
    if not title.strip():
        raise IncidentError("title must not be empty")
    if severity:
        check_severity(severity)
    refs = []
    for i, (fp, ref) in enumerate(zip(fingerprints, found, strict=True)):
        ref = ref or ledger.known_alert(fp)
        if ref is None:
            raise IncidentError(f"alerts[{i}]: the hub holds no alert with fingerprint {fp!r}")
        refs.append(ref)
    labels = [ref.labels for ref in refs]
    shared = common_labels(labels)
    incident = ledger.new_incident(title=title.strip(), state="triggered",
                                   severity=severity or highest_severity(labels), group_key="", group_id="",
                                   receiver="", labels=shared,
                                   service=owner_label("service", shared, labels),
                                   team=owner_label("team", shared, labels), opened_at=now, opened_by=by,
                                   assignee=assignee)
    ledger.log(incident, now, "opened", by, f"opened by {by or 'the API'}")
    for ref in refs:
        ledger.add_alert(incident, "", ref, now, changes)
    if assignee:
        ledger.log(incident, now, "assignee_changed", by, f"assigned to {assignee}", assignee=assignee)
    changes.append((incident_json(incident, timeline=False), "opened"))
    return incident_json(incident)


def take(ledger: Ledger, now: float, changes: list[Change], incident_id: str, action: str, by: str,
         comment: str) -> tuple[dict, list[str]]:
    """Acknowledge or investigate (which, from triggered, acknowledges too): the incident and its firing
    alerts not acknowledged yet, whose fingerprints it returns for the dispatcher to acknowledge them as well.
    Acknowledging an incident past triggered acknowledges the alerts that joined since."""
    incident = ledger.get(incident_id)
    after = next_state(incident_id, incident.state, action)
    acked = [a for a in incident.firing() if not a.acknowledged]
    for alert in acked:
        alert.acknowledged = True
    fingerprints = [a.fingerprint for a in acked]
    said = f": {comment}" if comment else ""
    if after != incident.state:
        ledger.set_state(incident, after, now, by, f"{after} by {by}{said}", changes, comment=comment,
                         fingerprints=fingerprints)
    elif acked:
        ledger.log(incident, now, "alert_acknowledged", by, f"{len(acked)} alerts acknowledged with the incident{said}",
                   comment=comment, fingerprints=fingerprints)
    return incident_json(incident), fingerprints


def move(ledger: Ledger, now: float, changes: list[Change], incident_id: str, action: str, by: str,
         comment: str) -> dict:
    """Resolve, reopen or close; closing needs the postmortem's root cause, impact and resolution."""
    incident = ledger.get(incident_id)
    after = next_state(incident_id, incident.state, action)
    missing = missing_postmortem_fields(incident.postmortem) if after == "closed" else []
    if missing:
        raise IncidentConflict(f"{incident_id} cannot close before its postmortem says {_and(missing)}: "
                               f"{'it is' if len(missing) == 1 else 'they are'} empty")
    ledger.set_state(incident, after, now, by, f"{after} by {by}" + (f": {comment}" if comment else ""), changes,
                     comment=comment)
    if after == "closed":
        ledger.reindex()
    return incident_json(incident)


def hold(ledger: Ledger, now: float, changes: list[Change], incident_id: str, held: bool, by: str) -> dict:
    """A held incident stays open when its alerts resolve; released, it resolves if they all have."""
    incident = changeable(ledger, incident_id)
    if incident.held_open != held:
        incident.held_open = held
        ledger.log(incident, now, "held", by, "held open" if held else "no longer held open", held=held)
        if not held:
            ledger.resolve_if_done(incident, now, by, changes)
    return incident_json(incident)


def assign(ledger: Ledger, now: float, changes: list[Change], incident_id: str, assignee: str, by: str) -> dict:
    """``assignee`` "" unassigns."""
    incident = changeable(ledger, incident_id)
    if incident.assignee != assignee:
        incident.assignee = assignee
        ledger.log(incident, now, "assignee_changed", by, f"assigned to {assignee}" if assignee else "unassigned",
                   assignee=assignee)
    return incident_json(incident)


def add_responder(ledger: Ledger, now: float, changes: list[Change], incident_id: str, responder: str,
                  by: str) -> dict:
    if not responder.strip():
        raise IncidentError("a responder's name must not be empty")
    incident = changeable(ledger, incident_id)
    if responder not in incident.responders:
        incident.responders.append(responder)
        ledger.log(incident, now, "responder_added", by, f"{responder} responds", responder=responder)
    return incident_json(incident)


def note(ledger: Ledger, now: float, changes: list[Change], incident_id: str, text: str, by: str) -> dict:
    """A person's note; closed incidents take notes too."""
    if not text.strip():
        raise IncidentError("text must not be empty")
    incident = ledger.get(incident_id)
    ledger.log(incident, now, "note", by, text)
    return incident_json(incident)


def set_severity(ledger: Ledger, now: float, changes: list[Change], incident_id: str, severity: str,
                 by: str) -> dict:
    check_severity(severity)
    incident = changeable(ledger, incident_id)
    if incident.severity != severity:
        before, incident.severity = incident.severity, severity
        ledger.log(incident, now, "severity_changed", by, f"severity {before} → {severity}",
                   **{"from": before, "to": severity})
    return incident_json(incident)


def set_postmortem(ledger: Ledger, now: float, changes: list[Change], incident_id: str, postmortem: Postmortem,
                   by: str) -> dict:
    """Replaces the postmortem; a closed incident's may still change (follow-ups get done) but stays complete."""
    incident = ledger.get(incident_id)
    missing = missing_postmortem_fields(postmortem)
    if incident.state == "closed" and missing:
        raise IncidentConflict(f"{incident_id} is closed: its postmortem must keep saying {_and(missing)}")
    changed = [name for name in ("summary", "root_cause", "impact", "resolution", "follow_ups")
               if getattr(postmortem, name) != getattr(incident.postmortem, name)]
    if changed:
        incident.postmortem = postmortem
        ledger.log(incident, now, "postmortem_edited", by, f"postmortem edited: {', '.join(changed)}", fields=changed)
    return incident_json(incident)


def merge(ledger: Ledger, now: float, changes: list[Change], incident_id: str, into: str, by: str) -> dict:
    """The incident's alerts, routing groups and responders go to ``into`` (and the higher severity); it closes
    as merged, without a postmortem of its own. Returns the incident merged into."""
    if incident_id == into:
        raise IncidentError("into: an incident cannot be merged into itself")
    source, target = changeable(ledger, incident_id), changeable(ledger, into)
    moved = [replace(a, labels=dict(a.labels)) for fp, a in source.alerts.items() if fp not in target.alerts]
    target.alerts.update({a.fingerprint: a for a in moved})
    target.group_keys += [key for key in source.group_keys if key not in target.group_keys]
    target.responders += [name for name in source.responders if name not in target.responders]
    source.merged_into = target.id
    ledger.log(target, now, "merged", by, f"{source.id} merged into this incident ({len(moved)} alerts)",
               source=source.id, fingerprints=[a.fingerprint for a in moved])
    ledger.log(source, now, "merged", by, f"merged into {target.id}", into=target.id)
    if SEVERITIES.index(source.severity) < SEVERITIES.index(target.severity):
        ledger.log(target, now, "severity_changed", by, f"severity {target.severity} → {source.severity} "
                   f"(from {source.id})", **{"from": target.severity, "to": source.severity})
        target.severity = source.severity
    ledger.set_state(source, "closed", now, by, f"closed: merged into {target.id}", changes)
    if target.state == "resolved" and any(a.status == FIRING for a in moved):
        ledger.set_state(target, "triggered", now, by, f"re-triggered: firing alerts of {source.id}", changes)
    ledger.reindex()
    return incident_json(target)


def split(ledger: Ledger, now: float, changes: list[Change], incident_id: str, fingerprints: Sequence[str],
          title: str, by: str) -> dict:
    """The alerts named leave for a new incident, linked to this one (routing group, service and team copied;
    its severity from its alerts). Returns the new incident."""
    fingerprints = list(dict.fromkeys(fingerprints))
    if not fingerprints:
        raise IncidentError("fingerprints must name at least one alert")
    source = changeable(ledger, incident_id)
    for i, fp in enumerate(fingerprints):
        if fp not in source.alerts:
            raise IncidentError(f"fingerprints[{i}]: {fp} is not an alert of {incident_id}")
    if len(fingerprints) == len(source.alerts):
        raise IncidentError(f"fingerprints: splitting off every alert would leave {incident_id} empty")
    alerts = [source.alerts.pop(fp) for fp in fingerprints]
    new = ledger.new_incident(title=title.strip() or f"{source.title} (split from {source.id})", state="triggered",
                              severity=highest_severity([a.labels for a in alerts]), group_key=source.group_key,
                              group_id=source.group_id, receiver=source.receiver, labels=dict(source.labels),
                              service=source.service, team=source.team, opened_at=now, opened_by=by,
                              links=[source.id], alerts={a.fingerprint: a for a in alerts})
    source.links.append(new.id)
    ledger.log(new, now, "opened", by, f"opened by {by or 'the API'}: split off from {source.id}")
    ledger.log(new, now, "split", by, f"split off from {source.id} with {len(alerts)} alerts", source=source.id,
               fingerprints=fingerprints)
    ledger.log(source, now, "split", by, f"{len(alerts)} alerts split off into {new.id}", into=new.id,
               fingerprints=fingerprints)
    ledger.reindex()
    changes.append((incident_json(new, timeline=False), "opened"))
    for incident in (new, source):
        ledger.resolve_if_done(incident, now, by, changes)
    return incident_json(new)


def link(ledger: Ledger, now: float, changes: list[Change], incident_id: str, other: str, by: str) -> dict:
    """Related, not merged: each lists the other. Closed incidents may be linked too."""
    if incident_id == other:
        raise IncidentError("other: an incident cannot be linked to itself")
    first, second = ledger.get(incident_id), ledger.get(other)
    for one, two in ((first, second), (second, first)):
        if two.id not in one.links:
            one.links.append(two.id)
            ledger.log(one, now, "linked", by, f"linked to {two.id}", other=two.id)
    return incident_json(first)


def changeable(ledger: Ledger, incident_id: str) -> Incident:
    incident = ledger.get(incident_id)
    if incident.state == "closed":
        raise IncidentConflict(f"{incident_id} is closed: a closed incident cannot change")
    return incident


def check_severity(severity: str) -> None:
    if severity not in SEVERITIES:
        raise IncidentError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
