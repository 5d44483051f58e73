"""Acknowledgements and escalation as tables, without I/O (fleetmon.hub.alerting.acks): what an ack covers,
when a group counts as acknowledged, which escalation tiers are due and when the next one is."""

from typing import NamedTuple

import pytest

from fleetmon.hub.alerting.acks import Ack, Acks, escalation_reason, next_escalation, tiers_due
from fleetmon.hub.alerting.alert import NEVER, Alert
from fleetmon.hub.alerting.route import EscalationTier
from fleetmon.protocol.alerts import fingerprint

NOW = 1_800_000_000.0
STARTED = NOW - 600  # the episode acknowledged


def alert(name: str, starts_at: float = STARTED) -> Alert:
    labels = {"alertname": name}
    return Alert(labels, {}, starts_at, NEVER, updated_at=starts_at, fingerprint=fingerprint(labels))


def ack(name: str, starts_at: float = STARTED, expires_at: float | None = None) -> Ack:
    return Ack(fingerprint({"alertname": name}), starts_at, "ana", NOW - 60, "on it", expires_at)


class Covers(NamedTuple):
    name: str
    why: str
    ack: Ack
    alert: Alert
    covered: bool


COVERS = [
    Covers("same episode", "the ack was made for this start of the alert", ack("Disk"), alert("Disk"), True),
    Covers("a later episode", "the alert resolved and fired again: news, whoever took the last one",
           ack("Disk"), alert("Disk", starts_at=NOW - 10), False),
    Covers("before its expiry", "an ack may end; until then it holds", ack("Disk", expires_at=NOW + 1),
           alert("Disk"), True),
    Covers("at its expiry", "the expiry instant itself is no longer covered", ack("Disk", expires_at=NOW),
           alert("Disk"), False),
    Covers("after its expiry", "an expired ack covers nothing", ack("Disk", expires_at=NOW - 1), alert("Disk"),
           False),
]


@pytest.mark.parametrize("case", COVERS, ids=[c.name for c in COVERS])
def test_what_an_ack_covers(case):
    assert case.ack.covers(case.alert, NOW) == case.covered, case.why
    acks = Acks()
    acks.add(case.ack)
    assert (acks.covering(case.alert, NOW) is case.ack) == case.covered, case.why


class Acknowledged(NamedTuple):
    name: str
    why: str
    acks: list[Ack]
    firing: list[Alert]
    acknowledged: bool


ACKNOWLEDGED = [
    Acknowledged("nothing fires", "a group with nothing firing is not acknowledged: there is nothing to take",
                 [ack("Disk")], [], False),
    Acknowledged("every one", "each firing alert has its ack", [ack("Disk"), ack("Net")],
                 [alert("Disk"), alert("Net")], True),
    Acknowledged("all but one", "Net fires unacknowledged: the group still needs someone", [ack("Disk")],
                 [alert("Disk"), alert("Net")], False),
    Acknowledged("one ack expired", "an expired ack counts as none", [ack("Disk"), ack("Net", expires_at=NOW)],
                 [alert("Disk"), alert("Net")], False),
    Acknowledged("an earlier episode", "Net's ack was for an episode that ended", [ack("Disk"), ack("Net")],
                 [alert("Disk"), alert("Net", starts_at=NOW - 5)], False),
]


@pytest.mark.parametrize("case", ACKNOWLEDGED, ids=[c.name for c in ACKNOWLEDGED])
def test_when_a_group_is_acknowledged(case):
    acks = Acks()
    for one in case.acks:
        acks.add(one)
    assert acks.all_acknowledged(case.firing, NOW) == case.acknowledged, case.why


def test_a_forgotten_ack_covers_nothing():
    acks = Acks()
    acks.add(ack("Disk"))
    acks.forget(ack("Disk").fingerprint)
    assert acks.covering(alert("Disk"), NOW) is None


TIERS = (EscalationTier(600, ("lead",)), EscalationTier(1800, ("manager",)))
SINCE = NOW - 3600


class Due(NamedTuple):
    name: str
    why: str
    firing_since: float | None
    active: int  # tiers active already
    at: float
    due: int  # tiers that should be active
    next_at: float  # when the next tier is due


DUE = [
    Due("nothing fires", "no episode, no escalation clock", None, 0, NOW, 0, float("inf")),
    Due("just started", "the first tier waits its 10 minutes", SINCE, 0, SINCE + 1, 0, SINCE + 600),
    Due("first tier's time", "after is inclusive: at 10 minutes the lead is added", SINCE, 0, SINCE + 600, 1,
        SINCE + 600),
    Due("first tier active", "the lead is on it; the manager waits for 30 minutes", SINCE, 1, SINCE + 700, 1,
        SINCE + 1800),
    Due("both overdue", "a round late (a restart, a busy hub) activates every tier whose time has come", SINCE, 0,
        SINCE + 2000, 2, SINCE + 2000),
    Due("all active", "no tier is left to add", SINCE, 2, SINCE + 4000, 2, float("inf")),
]


@pytest.mark.parametrize("case", DUE, ids=[c.name for c in DUE])
def test_which_tiers_are_due_and_when_the_next_is(case):
    assert tiers_due(TIERS, case.firing_since, case.active, case.at) == case.due, case.why
    assert next_escalation(TIERS, case.firing_since, case.active, case.at) == case.next_at, case.why


def test_an_escalated_notification_says_why():
    assert escalation_reason(TIERS[0]) == "escalated: not acknowledged within 600s"
