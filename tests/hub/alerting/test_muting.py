"""Muting: the chain that asks each muter in turn, a route's time intervals as a muter, and the order the
dispatcher asks them in (fleetmon.hub.alerting.muting; Alertmanager's notify.Muter and pipeline order in
shared/reference/alertmanager.md §5.2)."""

from typing import NamedTuple

import pytest
import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.config import parse_alerting
from fleetmon.hub.alerting.dispatch import Dispatcher
from fleetmon.hub.alerting.matchers import parse_matchers
from fleetmon.hub.alerting.muting import Mutes
from fleetmon.hub.alerting.silences import Silence
from fleetmon.hub.alerting.timeintervals import RouteTimeMute, parse_time_intervals
from fleetmon.protocol.messages import rfc3339

NOW = 1_800_000_000.0  # a Friday, 08:00 UTC


class Fixed:
    """A muter that gives one answer and counts how often it was asked."""

    def __init__(self, reason: str) -> None:
        self.answer, self.asked = reason, 0

    def reason(self, labels, now):
        self.asked += 1
        return self.answer


class Chain(NamedTuple):
    name: str
    why: str
    answers: list[str]  # of the muters, in the chain's order
    reason: str
    asked: list[int]  # how often each muter was asked


CHAINS = [
    Chain("no muter", "nothing to ask, nothing mutes", [], "", []),
    Chain("none mutes", "every muter is asked and none mutes", ["", "", ""], "", [1, 1, 1]),
    Chain("the first mutes", "its reason is given and the others are not asked", ["first", "second"], "first",
          [1, 0]),
    Chain("a later one mutes", "the earlier ones said no; the one after is not asked", ["", "second", "third"],
          "second", [1, 1, 0]),
]


@pytest.mark.parametrize("case", CHAINS, ids=[c.name for c in CHAINS])
def test_the_chain_gives_the_first_reason(case):
    muters = [Fixed(answer) for answer in case.answers]
    assert Mutes(*muters).reason({"alertname": "Disk"}, NOW) == case.reason, case.why
    assert [m.asked for m in muters] == case.asked, case.why


INTERVALS = """
- name: morning
  time_intervals: [{times: [{start_time: '07:00', end_time: '09:00'}]}]
- name: night
  time_intervals: [{times: [{start_time: '22:00', end_time: '24:00'}, {start_time: '00:00', end_time: '06:00'}]}]
- name: weekend
  time_intervals: [{weekdays: [saturday, sunday]}]
"""


class Times(NamedTuple):
    name: str
    why: str
    mute: tuple[str, ...]
    active: tuple[str, ...]
    reason: str


TIMES = [
    Times("no intervals", "a route without time intervals is never muted by time", (), (), ""),
    Times("inside a mute interval", "08:00 is in the morning", ("night", "morning"), (),
          "muted by time interval morning"),
    Times("outside the mute intervals", "08:00 on a Friday is neither night nor weekend", ("night", "weekend"), (),
          ""),
    Times("inside an active interval", "the route notifies in the morning, and it is morning", (),
          ("night", "morning"), ""),
    Times("outside every active interval", "the route notifies only at night or at the weekend", (),
          ("night", "weekend"), "outside active time intervals night,weekend"),
    Times("muted inside an active interval", "a mute interval wins over an active one", ("morning",), ("morning",),
          "muted by time interval morning"),
]


@pytest.mark.parametrize("case", TIMES, ids=[c.name for c in TIMES])
def test_a_routes_time_intervals(case):
    errors = Errors()
    intervals = parse_time_intervals(Node(yaml.safe_load(INTERVALS), "time_intervals", errors))
    assert not errors, errors
    muter = RouteTimeMute(intervals, case.mute, case.active)
    assert muter.reason({"alertname": "Disk"}, NOW) == case.reason, case.why


# --- the order the dispatcher asks in --------------------------------------------------------------------------

CONFIG = """
route: {receiver: quiet, group_by: ['...'], group_wait: 0s}
receivers: [{name: quiet}]
inhibit_rules:
  - {source_matchers: ['alertname="SiteDown"'], target_matchers: ['site="north"']}
flapping: {changes: 1, window: 10m, settle: 5m}
"""


class Order(NamedTuple):
    name: str
    why: str
    labels: dict[str, str]
    flaps: bool  # the alert fires, resolves and fires again: two changes, more than the 1 allowed
    reason: str  # {silence} stands for the silence's id


ORDER = [
    Order("inhibited and silenced", "inhibition is asked first, as in Alertmanager's pipeline",
          {"alertname": "Disk", "site": "north", "team": "db"}, True, "inhibited by inhibit_rules[0]"),
    Order("silenced and flapping", "silences are asked before flap tracking", {"alertname": "Wobbly", "team": "db"},
          True, "silenced by {silence}"),
    Order("flapping only", "flap tracking is the last muter an API view asks", {"alertname": "Wobbly"}, True,
          "flapping"),
    Order("nothing", "an alert nobody mutes", {"alertname": "Disk", "site": "south"}, False, ""),
]


@pytest.mark.parametrize("case", ORDER, ids=[c.name for c in ORDER])
def test_the_dispatcher_asks_inhibition_then_silences_then_flaps(case):
    errors = Errors()
    config = parse_alerting(Node(yaml.safe_load(CONFIG), "", errors))
    assert not errors, errors
    dispatcher = Dispatcher(config, deliverer=None, clock=lambda: NOW)  # "quiet" has no integration to deliver to
    silence = dispatcher.set_silence(Silence("", tuple(parse_matchers('team="db"')), NOW - 60, NOW + 3600, "ops",
                                             "planned work"))

    def send(labels: dict[str, str], resolved: bool, at: float) -> None:
        item = {"labels": labels, "startsAt": rfc3339(at - 1)}
        if resolved:
            item["endsAt"] = rfc3339(at)
        assert dispatcher.put([item]) == []
        dispatcher.process(at)

    send({"alertname": "SiteDown"}, False, NOW - 30)
    for offset, resolved in ((-20, False), (-10, True), (0, False)) if case.flaps else ((0, False),):
        send(case.labels, resolved, NOW + offset)
    views = {tuple(sorted(v["labels"].items())): v for v in dispatcher.alert_views(NOW)}
    muted = views[tuple(sorted(case.labels.items()))]["muted"]
    assert muted == case.reason.format(silence=silence.id), case.why
