"""Flap tracking as a table, on a fake clock (fleetmon.hub.alerting.flaps).

Every case uses one policy: more than 3 changes within 60 s and the alert flaps; 30 s without a change and it
has settled. State changes only in ``observe`` and ``tick``; ``flapping`` and ``reason`` only read.
"""

from typing import NamedTuple

import pytest

from fleetmon.hub.alerting.config import FlapPolicy
from fleetmon.hub.alerting.flaps import Flaps
from fleetmon.protocol.alerts import fingerprint

POLICY = FlapPolicy(changes=3, window=60.0, settle=30.0)
LABELS = {"alertname": "Wobbly", "host": "a"}
FP = fingerprint(LABELS)
TICK = "tick"


class Flap(NamedTuple):
    name: str
    why: str
    events: list  # a time: the alert changed state then; (TICK, time): the dispatcher's round at that time
    at: float  # when the question is asked
    flapping: bool
    policy: FlapPolicy = POLICY


FLAPS = [
    Flap("three changes", "3 changes in the window is the most an alert may make", [0, 10, 20], 21, False),
    Flap("four changes", "the fourth change within 60 s makes it flap", [0, 10, 20, 30], 31, True),
    Flap("spread wider than the window", "changes older than the window are forgotten: never more than 2 count",
         [0, 30, 61, 92], 93, False),
    Flap("held until settled", "29 s after the last change it has not settled yet", [0, 10, 20, 30], 59, True),
    Flap("settled", "30 s without a change settles it (inclusive)", [0, 10, 20, 30], 60, False),
    Flap("a change while flapping", "the settle time counts from the last change", [0, 10, 20, 30, 50], 79, True),
    Flap("settled, then one change", "a settled alert flaps again only on a full count: 20, 30 and 80 are 3",
         [0, 10, 20, 30, (TICK, 70), 80], 81, False),
    Flap("settled, one change, no tick between", "the flap ended when it settled, whether a round looked or not",
         [0, 10, 20, 30, 80], 81, False),
    Flap("settled, then a full count again", "20, 30, 70, 75 and 80 are within 60 s of 80: flapping again",
         [0, 10, 20, 30, (TICK, 60), 70, 75, 80], 81, True),
    Flap("ticks do not end a flap early", "a round before the settle time leaves it flapping",
         [0, 10, 20, 30, (TICK, 40), (TICK, 59)], 59, True),
    Flap("disabled", "with flap tracking off no change is counted", [0, 10, 20, 30, 40], 41, False,
         FlapPolicy(enabled=False, changes=3, window=60.0, settle=30.0)),
]


@pytest.mark.parametrize("case", FLAPS, ids=[c.name for c in FLAPS])
def test_flapping(case):
    flaps = Flaps(case.policy)
    for event in case.events:
        if isinstance(event, tuple):
            flaps.tick(event[1])
        else:
            flaps.observe(FP, event)
    assert flaps.flapping(FP, case.at) == case.flapping, case.why
    assert flaps.reason(LABELS, case.at) == ("flapping" if case.flapping else ""), case.why


def test_asking_changes_nothing():
    flaps = Flaps(POLICY)
    for at in (0, 10, 20, 30):
        flaps.observe(FP, at)
    # An API view asking after the settle time sees it settled, and asking again before it sees it flapping:
    # the query read no state into being.
    assert flaps.reason(LABELS, 100) == "" and flaps.reason(LABELS, 31) == "flapping"
    assert flaps.reason({"alertname": "Steady"}, 31) == ""


def test_a_forgotten_alert_starts_afresh():
    flaps = Flaps(POLICY)
    for at in (0, 10, 20, 30):
        flaps.observe(FP, at)
    flaps.forget(FP)
    assert not flaps.flapping(FP, 31)
    flaps.observe(FP, 40)
    assert not flaps.flapping(FP, 41), "the changes before it was forgotten no longer count"
