"""Where alerts go and what they do to incidents, as a table of scenarios without I/O
(fleetmon.hub.incidents.ledger, with the people's actions of fleetmon.hub.incidents.actions): which incident
an alert of a routing group opens or joins, when the alerts resolve, acknowledge and re-trigger an incident,
and how splits, merges, closed incidents and alerts in two groups change that."""

from collections.abc import Callable
from typing import NamedTuple

import pytest

from fleetmon.hub.alerting.observers import AlertRef
from fleetmon.hub.incidents import actions
from fleetmon.hub.incidents.ledger import Change, Ledger
from fleetmon.hub.incidents.model import Postmortem

NOW = 1_800_000_000.0
DISK = 'route-1:{alertname="DiskFull"}'
LOAD = 'route-1:{alertname="HighLoad"}'
STARTED = NOW - 600

Step = Callable[[Ledger, list[Change]], object]


def firing(fp: str, starts_at: float = STARTED, **labels: str) -> AlertRef:
    return AlertRef(fp, {"alertname": "DiskFull", "host": fp, **labels}, starts_at, False)


def resolved(fp: str, starts_at: float = STARTED) -> AlertRef:
    return AlertRef(fp, {"alertname": "DiskFull", "host": fp}, starts_at, True)


def flush(group_key: str, *alerts: AlertRef) -> Step:
    """One flush of a routing group whose route asks for incidents."""
    name = group_key.split('"')[1]
    return lambda ledger, changes: ledger.observe_group(group_key, f"id-{name}", {"alertname": name}, "ops",
                                                        list(alerts), NOW, changes)


def acked(fp: str) -> Step:
    return lambda ledger, changes: ledger.alert_acknowledged(fp, "ana", "on it", NOW, changes)


def person(action: Callable, *args: object) -> Step:
    return lambda ledger, changes: action(ledger, NOW, changes, *args)


def close_with_postmortem(incident_id: str) -> list[Step]:
    return [person(actions.set_postmortem, incident_id, Postmortem("", "disk", "none", "cleaned"), "ana"),
            person(actions.move, incident_id, "close", "ana", "")]


class Scenario(NamedTuple):
    name: str
    why: str
    steps: list[Step]
    incidents: dict[str, tuple[str, list[str]]]  # id → (state, fingerprints it holds)
    announced: list[tuple[str, str]] | None = None  # (id, change), in order; None: not checked


SCENARIOS = [
    Scenario("a firing alert opens an incident", "the group has no incident yet",
             [flush(DISK, firing("a"))], {"INC-1": ("triggered", ["a"])}, [("INC-1", "opened")]),
    Scenario("a resolution alone opens nothing", "an alert that resolved before anyone looked is no incident",
             [flush(DISK, resolved("a"))], {}, []),
    Scenario("later alerts of the group join", "one incident per routing group while it is open",
             [flush(DISK, firing("a")), flush(DISK, firing("a"), firing("b"))],
             {"INC-1": ("triggered", ["a", "b"])}, [("INC-1", "opened")]),
    Scenario("another group, another incident", "incidents follow routing groups",
             [flush(DISK, firing("a")), flush(LOAD, firing("b"))],
             {"INC-1": ("triggered", ["a"]), "INC-2": ("triggered", ["b"])}),
    Scenario("some alerts resolved", "one still fires", [flush(DISK, firing("a"), firing("b")),
                                                          flush(DISK, resolved("a"), firing("b"))],
             {"INC-1": ("triggered", ["a", "b"])}, [("INC-1", "opened")]),
    Scenario("every alert resolved", "nothing fires any more: resolved, and the receivers are told",
             [flush(DISK, firing("a"), firing("b")), flush(DISK, resolved("a"), resolved("b"))],
             {"INC-1": ("resolved", ["a", "b"])}, [("INC-1", "opened"), ("INC-1", "resolved")]),
    Scenario("held open", "a person keeps it open past its alerts",
             [flush(DISK, firing("a")), person(actions.hold, "INC-1", True, "ana"), flush(DISK, resolved("a"))],
             {"INC-1": ("triggered", ["a"])}, [("INC-1", "opened")]),
    Scenario("released after its alerts resolved", "letting go of the hold resolves it at once",
             [flush(DISK, firing("a")), person(actions.hold, "INC-1", True, "ana"), flush(DISK, resolved("a")),
              person(actions.hold, "INC-1", False, "ana")],
             {"INC-1": ("resolved", ["a"])}, [("INC-1", "opened"), ("INC-1", "resolved")]),
    Scenario("a new alert re-triggers a resolved incident", "resolved, not closed: the trouble is back",
             [flush(DISK, firing("a")), flush(DISK, resolved("a")), flush(DISK, firing("b"))],
             {"INC-1": ("triggered", ["a", "b"])},
             [("INC-1", "opened"), ("INC-1", "resolved"), ("INC-1", "reopened")]),
    Scenario("the same alert firing again re-triggers", "a new episode of a held alert is news too",
             [flush(DISK, firing("a")), flush(DISK, resolved("a")), flush(DISK, firing("a", starts_at=NOW))],
             {"INC-1": ("triggered", ["a"])},
             [("INC-1", "opened"), ("INC-1", "resolved"), ("INC-1", "reopened")]),
    Scenario("a repeated flush does not undo a reopening", "the alerts resolve an incident when they resolve, not "
             "each time a flush lists them resolved again",
             [flush(DISK, firing("a")), flush(DISK, resolved("a")), person(actions.move, "INC-1", "reopen", "ana", ""),
              flush(DISK, resolved("a"))],
             {"INC-1": ("triggered", ["a"])}, [("INC-1", "opened"), ("INC-1", "resolved"), ("INC-1", "reopened")]),
    Scenario("a closed incident holds nothing", "the group's next firing alert opens a new incident",
             [flush(DISK, firing("a")), flush(DISK, resolved("a")), *close_with_postmortem("INC-1"),
              flush(DISK, firing("a", starts_at=NOW))],
             {"INC-1": ("closed", ["a"]), "INC-2": ("triggered", ["a"])},
             [("INC-1", "opened"), ("INC-1", "resolved"), ("INC-1", "closed"), ("INC-2", "opened")]),
    Scenario("every firing alert acknowledged", "the dispatcher's acks acknowledge the incident",
             [flush(DISK, firing("a"), firing("b")), acked("a"), acked("b")],
             {"INC-1": ("acknowledged", ["a", "b"])}, [("INC-1", "opened"), ("INC-1", "acknowledged")]),
    Scenario("one firing alert not acknowledged", "someone still has to look at b",
             [flush(DISK, firing("a"), firing("b")), acked("a")], {"INC-1": ("triggered", ["a", "b"])}),
    Scenario("a resolved alert needs no ack", "only firing alerts count",
             [flush(DISK, firing("a"), firing("b")), flush(DISK, firing("a"), resolved("b")), acked("a")],
             {"INC-1": ("acknowledged", ["a", "b"])}),
    Scenario("an ack of an earlier episode", "a new episode voids the dispatcher's ack of the last one",
             [flush(DISK, firing("a"), firing("b")), acked("a"), flush(DISK, firing("a", starts_at=NOW), firing("b")),
              acked("b")], {"INC-1": ("triggered", ["a", "b"])}),
    Scenario("split-off alerts stay in their new incident", "the group's flushes update them where they went",
             [flush(DISK, firing("a"), firing("b")), person(actions.split, "INC-1", ["b"], "", "ana"),
              flush(DISK, firing("a"), resolved("b"))],
             {"INC-1": ("triggered", ["a"]), "INC-2": ("resolved", ["b"])},
             [("INC-1", "opened"), ("INC-2", "opened"), ("INC-2", "resolved")]),
    Scenario("a new alert after a split", "joins the group's own incident, not the one split off",
             [flush(DISK, firing("a"), firing("b")), person(actions.split, "INC-1", ["b"], "", "ana"),
              flush(DISK, firing("a"), firing("b"), firing("c"))],
             {"INC-1": ("triggered", ["a", "c"]), "INC-2": ("triggered", ["b"])}),
    Scenario("a merged group's next alert joins the target", "merging hands the routing group over",
             [flush(DISK, firing("a")), flush(LOAD, firing("b")), person(actions.merge, "INC-2", "INC-1", "ana"),
              flush(LOAD, firing("b"), firing("c"))],
             {"INC-1": ("triggered", ["a", "b", "c"]), "INC-2": ("closed", ["b"])},
             [("INC-1", "opened"), ("INC-2", "opened"), ("INC-2", "closed")]),
    Scenario("merged alerts resolve the target", "the alerts moved follow their group there",
             [flush(DISK, firing("a")), flush(LOAD, firing("b")), person(actions.merge, "INC-2", "INC-1", "ana"),
              flush(DISK, resolved("a")), flush(LOAD, resolved("b"))],
             {"INC-1": ("resolved", ["a", "b"]), "INC-2": ("closed", ["b"])}),
    Scenario("merging firing alerts into a resolved incident", "the target is back in trouble",
             [flush(DISK, firing("a")), flush(DISK, resolved("a")), flush(LOAD, firing("b")),
              person(actions.merge, "INC-2", "INC-1", "ana")],
             {"INC-1": ("triggered", ["a", "b"]), "INC-2": ("closed", ["b"])},
             [("INC-1", "opened"), ("INC-1", "resolved"), ("INC-2", "opened"), ("INC-2", "closed"),
              ("INC-1", "reopened")]),
    Scenario("an alert in two groups", "a route with continue: each group's incident holds its own copy",
             [flush(DISK, firing("a")), flush(LOAD, firing("a")), flush(DISK, resolved("a"))],
             {"INC-1": ("resolved", ["a"]), "INC-2": ("triggered", ["a"])}),
    Scenario("an alert added by hand", "it follows its group from then on, and opens no second incident",
             [person(actions.open_by_hand, "disk trouble", "ana", "", ["a"], [firing("a")], ""),
              flush(DISK, resolved("a"))],
             {"INC-1": ("resolved", ["a"])}, [("INC-1", "opened"), ("INC-1", "resolved")]),
]


@pytest.mark.parametrize("case", SCENARIOS, ids=[c.name for c in SCENARIOS])
def test_where_alerts_go_and_what_they_do(case):
    ledger, changes = Ledger([]), []
    for step in case.steps:
        step(ledger, changes)
    assert {i.id: (i.state, sorted(i.alerts)) for i in ledger.incidents.values()} == case.incidents, case.why
    if case.announced is not None:
        assert [(body["id"], change) for body, change in changes] == case.announced, case.why


def test_an_incident_opened_by_a_route_is_made_of_its_group_and_alerts():
    ledger, changes = Ledger([]), []
    ledger.observe_group(DISK, "id-disk", {"alertname": "DiskFull", "site": "north"}, "ops",
                         [firing("a", severity="warning", team="infra"),
                          firing("b", severity="critical", team="infra", service="db")], NOW, changes)
    (incident,) = ledger.incidents.values()
    assert (incident.id, incident.title, incident.severity) == ("INC-1", "DiskFull (site=north)", "critical")
    assert (incident.group_key, incident.group_id, incident.receiver) == (DISK, "id-disk", "ops")
    assert incident.labels == {"alertname": "DiskFull", "site": "north"}
    assert (incident.team, incident.service) == ("infra", ""), "team: common to the alerts; service: not common"
    assert (incident.opened_by, incident.opened_at) == ("route", NOW)
    assert [e.kind for e in incident.timeline] == ["opened", "alert_joined", "alert_joined"]


def test_notifications_and_escalations_go_on_the_groups_incident():
    ledger, changes = Ledger([]), []
    flush(DISK, firing("a"))(ledger, changes)
    ledger.notified(DISK, "ops", "webhook[0]", True, "first notification", NOW + 1, changes)
    ledger.notified(DISK, "ops", "email[0]", False, "connection refused", NOW + 2, changes)
    ledger.escalated(DISK, 1, ["lead"], NOW + 3, changes)
    ledger.notified(LOAD, "ops", "webhook[0]", True, "first notification", NOW + 4, changes)  # no incident: dropped
    entries = [(e.kind, e.details) for e in ledger.get("INC-1").timeline[2:]]
    assert entries == [
        ("notification_sent", {"receiver": "ops", "integration": "webhook[0]", "reason": "first notification"}),
        ("notification_failed", {"receiver": "ops", "integration": "email[0]", "error": "connection refused"}),
        ("escalated", {"tier": 1, "receivers": ["lead"]}),
    ]
