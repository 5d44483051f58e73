"""The incident lifecycle as tables, without I/O (fleetmon.hub.incidents.lifecycle): where a person's action
leads from each state and why it is refused, when the alerts alone move an incident, and what a move tells
the receivers."""

from typing import NamedTuple

import pytest

from fleetmon.hub.incidents.lifecycle import (
    ACTIONS,
    STATES,
    acknowledged_by_alerts,
    announced_change,
    auto_resolves,
    next_state,
    retriggers,
)
from fleetmon.hub.incidents.model import IncidentConflict


class Move(NamedTuple):
    name: str
    why: str
    state: str
    action: str
    after: str | None  # None: refused
    refusal: str = ""  # a part of the refusal's message


MOVES = [
    Move("acknowledge a triggered one", "someone took it", "triggered", "acknowledge", "acknowledged"),
    Move("acknowledge again", "allowed and no move: it acknowledges the alerts that joined since", "acknowledged",
         "acknowledge", "acknowledged"),
    Move("acknowledge while investigating", "no step back to acknowledged", "investigating", "acknowledge",
         "investigating"),
    Move("investigate a triggered one", "investigating includes acknowledging: no need for two steps",
         "triggered", "investigate", "investigating"),
    Move("investigate an acknowledged one", "the next step", "acknowledged", "investigate", "investigating"),
    Move("investigate twice", "nothing to move to", "investigating", "investigate", None, "already investigating"),
    Move("resolve a triggered one", "a person may resolve at any active step", "triggered", "resolve", "resolved"),
    Move("resolve while investigating", "the usual end", "investigating", "resolve", "resolved"),
    Move("resolve twice", "resolved already: reopening is the way back", "resolved", "resolve", None,
         "reopen it first"),
    Move("acknowledge a resolved one", "nothing fires to acknowledge", "resolved", "acknowledge", None,
         "reopen it first"),
    Move("reopen a resolved one", "back to the start", "resolved", "reopen", "triggered"),
    Move("reopen an active one", "it is not resolved", "acknowledged", "reopen", None, "nothing to reopen"),
    Move("close a resolved one", "the postmortem is the book's check, not the lifecycle's", "resolved", "close",
         "closed"),
    Move("close an active one", "closing skips no step: resolve first", "investigating", "close", None,
         "resolve it before closing"),
    *(Move(f"{action} a closed one", "closed is final", "closed", action, None, "closed incident cannot change")
      for action in ACTIONS),
]


@pytest.mark.parametrize("case", MOVES, ids=[c.name for c in MOVES])
def test_where_a_persons_action_leads(case):
    if case.after is None:
        with pytest.raises(IncidentConflict, match=case.refusal):
            next_state("INC-7", case.state, case.action)
    else:
        assert next_state("INC-7", case.state, case.action) == case.after, case.why


def test_every_state_and_action_has_an_answer():
    for state in STATES:
        for action in ACTIONS:
            try:
                assert next_state("INC-1", state, action) in STATES
            except IncidentConflict as exc:
                assert str(exc).startswith("INC-1 "), "a refusal names the incident"


class AutoResolve(NamedTuple):
    name: str
    why: str
    state: str
    held_open: bool
    statuses: list[str]
    resolves: bool


AUTO_RESOLVE = [
    AutoResolve("all resolved", "nothing fires any more", "triggered", False, ["resolved", "resolved"], True),
    AutoResolve("one still fires", "not done", "acknowledged", False, ["resolved", "firing"], False),
    AutoResolve("held open", "a person wants to keep it open past its alerts", "investigating", True,
                ["resolved"], False),
    AutoResolve("no alerts", "opened by hand without alerts: only a person knows when it is over", "triggered",
                False, [], False),
    AutoResolve("already resolved", "no second resolution", "resolved", False, ["resolved"], False),
    AutoResolve("closed", "closed is final", "closed", False, ["resolved"], False),
]


@pytest.mark.parametrize("case", AUTO_RESOLVE, ids=[c.name for c in AUTO_RESOLVE])
def test_when_the_alerts_resolve_an_incident(case):
    assert auto_resolves(case.state, case.held_open, case.statuses) == case.resolves, case.why


@pytest.mark.parametrize(("state", "retriggered", "why"), [
    ("resolved", True, "resolved but not closed: the trouble is back"),
    ("closed", False, "closed incidents hold no alerts; a new one opens instead"),
    ("triggered", False, "already triggered"),
    ("investigating", False, "someone is on it: a new alert joins without a step back"),
])
def test_when_a_new_firing_alert_re_triggers(state, retriggered, why):
    assert retriggers(state) == retriggered, why


class ByAlerts(NamedTuple):
    name: str
    why: str
    state: str
    firing_acknowledged: list[bool]
    acknowledged: bool


BY_ALERTS = [
    ByAlerts("all acknowledged", "every firing alert has an ack in the dispatcher", "triggered", [True, True], True),
    ByAlerts("one not yet", "someone still has to look at one", "triggered", [True, False], False),
    ByAlerts("nothing fires", "no firing alert, nothing acknowledged", "triggered", [], False),
    ByAlerts("past triggered", "no move from investigating back to acknowledged", "investigating", [True], False),
]


@pytest.mark.parametrize("case", BY_ALERTS, ids=[c.name for c in BY_ALERTS])
def test_when_the_alerts_acks_acknowledge_the_incident(case):
    assert acknowledged_by_alerts(case.state, case.firing_acknowledged) == case.acknowledged, case.why


@pytest.mark.parametrize(("before", "after", "change", "why"), [
    ("triggered", "acknowledged", "acknowledged", "someone took it"),
    ("triggered", "investigating", "acknowledged", "investigating is taking it too"),
    ("acknowledged", "investigating", None, "already told that someone took it"),
    ("investigating", "resolved", "resolved", "over"),
    ("triggered", "resolved", "resolved", "over without an acknowledgement"),
    ("resolved", "triggered", "reopened", "re-triggered by an alert or reopened by a person"),
    ("resolved", "closed", "closed", "done with the postmortem"),
    ("investigating", "closed", "closed", "a merged incident closes from any state"),
])
def test_what_a_move_tells_the_receivers(before, after, change, why):
    assert announced_change(before, after) == change, why
