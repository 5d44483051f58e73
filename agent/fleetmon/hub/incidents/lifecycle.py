"""The incident lifecycle, as decisions without I/O: where a person's action leads from each state, why it is
refused where it is, and when the alerts alone move an incident.

    triggered → acknowledged → investigating → resolved → closed
        └─────────────┴──────────────┴──────────→ ┘  ↑ reopen / a new firing alert: back to triggered

A person acknowledges, investigates, resolves, reopens and closes; the alerts acknowledge (all firing ones
acknowledged in the dispatcher), resolve (all resolved, unless a person holds the incident open) and
re-trigger (a new firing alert on a resolved incident). Closed is final: nobody and nothing moves it again.
Acknowledging an incident already past "triggered" is allowed and changes no state: it acknowledges the
alerts that joined since.
"""

from fleetmon.hub.incidents.model import IncidentConflict

STATES = ("triggered", "acknowledged", "investigating", "resolved", "closed")
#: Still being worked on: what the alerts may resolve, and what a person may acknowledge or resolve.
ACTIVE = frozenset({"triggered", "acknowledged", "investigating"})
#: Past these, the incident counts as acknowledged (acknowledged_at, the time to acknowledge).
ACKNOWLEDGING = frozenset({"acknowledged", "investigating"})
ACTIONS = ("acknowledge", "investigate", "resolve", "reopen", "close")

#: (state, a person's action) → the state after it; a pair not listed is refused.
MOVES = {
    ("triggered", "acknowledge"): "acknowledged",
    ("acknowledged", "acknowledge"): "acknowledged",
    ("investigating", "acknowledge"): "investigating",
    ("triggered", "investigate"): "investigating",
    ("acknowledged", "investigate"): "investigating",
    ("triggered", "resolve"): "resolved",
    ("acknowledged", "resolve"): "resolved",
    ("investigating", "resolve"): "resolved",
    ("resolved", "reopen"): "triggered",
    ("resolved", "close"): "closed",
}


def next_state(incident_id: str, state: str, action: str) -> str:
    """The state a person's ``action`` leads to from ``state``; IncidentConflict saying why where it may not."""
    after = MOVES.get((state, action))
    if after is not None:
        return after
    if state == "closed":
        raise IncidentConflict(f"{incident_id} is closed: a closed incident cannot change state")
    if action == "close":
        raise IncidentConflict(f"{incident_id} is {state}: resolve it before closing it")
    if action == "reopen":
        raise IncidentConflict(f"{incident_id} is {state}, not resolved: there is nothing to reopen")
    if state == "resolved":
        raise IncidentConflict(f"{incident_id} is resolved: reopen it first")
    raise IncidentConflict(f"{incident_id} is already {state}")


def auto_resolves(state: str, held_open: bool, statuses: list[str]) -> bool:
    """Whether the alerts resolve the incident: it is active, nobody holds it open, it has alerts and every
    one of them is resolved. An incident without alerts (opened by hand) is resolved only by a person."""
    return state in ACTIVE and not held_open and bool(statuses) and all(s == "resolved" for s in statuses)


def retriggers(state: str) -> bool:
    """Whether a new firing alert (one that joins, or a held one firing again) re-triggers the incident."""
    return state == "resolved"


def acknowledged_by_alerts(state: str, firing_acknowledged: list[bool]) -> bool:
    """Whether the dispatcher's acknowledgements acknowledge the incident: it is triggered and every one of
    its firing alerts (there is at least one) is acknowledged."""
    return state == "triggered" and bool(firing_acknowledged) and all(firing_acknowledged)


def announced_change(before: str, after: str) -> str | None:
    """What a move tells the receivers: "acknowledged" when someone took a triggered incident (investigating
    counts), "resolved", "closed", "reopened" when it is triggered again; None for the moves in between."""
    if after in ("resolved", "closed"):
        return after
    if after == "triggered" and before != "triggered":
        return "reopened"
    if before == "triggered" and after in ACKNOWLEDGING:
        return "acknowledged"
    return None
