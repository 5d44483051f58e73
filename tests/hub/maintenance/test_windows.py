"""What a maintenance window covers and when: table tests of fleetmon.hub.maintenance.windows."""

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.maintenance.calendar import parse_maintenance
from fleetmon.hub.maintenance.windows import window_from_node

# Saturday 2026-11-28 00:00 UTC
SATURDAY = datetime(2026, 11, 28, tzinfo=timezone.utc).timestamp()
HOUR = 3600.0
GROUPS = {"jet-1": ("jetsons", "lab"), "srv-1": ("servers",)}


def window(**body):
    errors = Errors()
    made = window_from_node(Node({"name": "w", **body}, "w", errors), "id1", "api")
    assert not errors, list(errors)
    return made


@dataclass
class Covers:
    name: str
    window: dict
    labels: dict
    inside: bool


ONE_OFF = {"starts_at": SATURDAY, "ends_at": SATURDAY + HOUR}


@pytest.mark.parametrize("case", [
    Covers("a listed host", {"hosts": ["jet-1"]}, {"alertname": "HostDown", "host": "jet-1"}, True),
    Covers("another host", {"hosts": ["jet-1"]}, {"alertname": "HostDown", "host": "srv-1"}, False),
    Covers("a host of a listed group", {"groups": ["jetsons"]}, {"alertname": "HostDown", "host": "jet-1"}, True),
    Covers("a group-level alert of a listed group", {"groups": ["jetsons"]},
           {"alertname": "CascadingFailure", "group": "jetsons"}, True),
    Covers("a host outside the groups", {"groups": ["jetsons"]}, {"alertname": "HostDown", "host": "srv-1"}, False),
    Covers("matchers alone", {"matchers": ['alertname="DiskFull"']}, {"alertname": "DiskFull", "host": "x"}, True),
    Covers("matchers alone, not met", {"matchers": ['alertname="DiskFull"']}, {"alertname": "HostDown"}, False),
    Covers("a group and a matcher, both met", {"groups": ["lab"], "matchers": ['severity!="critical"']},
           {"alertname": "HighCPU", "host": "jet-1", "severity": "warning"}, True),
    Covers("a group and a matcher, the matcher not met", {"groups": ["lab"], "matchers": ['severity!="critical"']},
           {"alertname": "HostDown", "host": "jet-1", "severity": "critical"}, False),
], ids=lambda c: c.name)
def test_what_a_window_covers(case: Covers):
    assert window(**ONE_OFF, **case.window).covers(case.labels, lambda host: GROUPS.get(host, ())) is case.inside


@dataclass
class Active:
    name: str
    window: dict
    at: float
    active: bool
    ended_at: float | None = None


NIGHTLY = {"time_intervals": [{"times": [{"start_time": "02:00", "end_time": "04:00"}], "weekdays": ["saturday"]}]}


@pytest.mark.parametrize("case", [
    Active("before a one-off", ONE_OFF, SATURDAY - 1, False),
    Active("at its start", ONE_OFF, SATURDAY, True),
    Active("just before its end", ONE_OFF, SATURDAY + HOUR - 0.001, True),
    Active("at its end (exclusive)", ONE_OFF, SATURDAY + HOUR, False),
    Active("ended early", ONE_OFF, SATURDAY + 10, False, ended_at=SATURDAY + 5),
    Active("before the early end", ONE_OFF, SATURDAY + 4, True, ended_at=SATURDAY + 5),
    Active("recurring, inside", NIGHTLY, SATURDAY + 2.5 * HOUR, True),
    Active("recurring, outside the times", NIGHTLY, SATURDAY + 4 * HOUR, False),
    Active("recurring, another weekday", NIGHTLY, SATURDAY + 24 * HOUR + 2.5 * HOUR, False),
    Active("recurring, a week later", NIGHTLY, SATURDAY + 7 * 24 * HOUR + 3 * HOUR, True),
    Active("recurring with a bound, after it", {**NIGHTLY, "ends_at": SATURDAY + 24 * HOUR},
           SATURDAY + 7 * 24 * HOUR + 3 * HOUR, False),
], ids=lambda c: c.name)
def test_when_a_window_is_active(case: Active):
    made = window(groups=["lab"], **case.window)
    if case.ended_at is not None:
        made = made.ended(case.ended_at)
    assert made.active(case.at) is case.active


def test_spans_clip_one_offs_and_find_each_recurrence_to_the_minute():
    assert window(hosts=["a"], **ONE_OFF).spans(SATURDAY - HOUR, SATURDAY + 0.5 * HOUR) == \
        [(SATURDAY, SATURDAY + 0.5 * HOUR)]
    two_weeks = window(hosts=["a"], **NIGHTLY).spans(SATURDAY, SATURDAY + 14 * 24 * HOUR)
    assert two_weeks == [(SATURDAY + 2 * HOUR, SATURDAY + 4 * HOUR),
                         (SATURDAY + 7 * 24 * HOUR + 2 * HOUR, SATURDAY + 7 * 24 * HOUR + 4 * HOUR)]
    assert window(hosts=["a"], **ONE_OFF).ended(SATURDAY + 60).spans(SATURDAY, SATURDAY + HOUR) == \
        [(SATURDAY, SATURDAY + 60)]


@dataclass
class Bad:
    name: str
    body: dict
    errors: list[str] = field(default_factory=list)


@pytest.mark.parametrize("case", [
    Bad("no scope", {"name": "w", **ONE_OFF}, ["w: a window needs hosts, groups or matchers: it would cover every "
                                               "alert"]),
    Bad("no end", {"name": "w", "hosts": ["a"], "starts_at": SATURDAY},
        ["w: a one-off window needs starts_at and ends_at (or time_intervals to recur)"]),
    Bad("end before start", {"name": "w", "hosts": ["a"], "starts_at": SATURDAY, "ends_at": SATURDAY - 1},
        ["w.ends_at: must be after starts_at"]),
    Bad("a bad matcher", {"name": "w", "matchers": ["alertname=~("], **ONE_OFF}, ["w.matchers[0]"]),
    Bad("a bad time", {"name": "w", "hosts": ["a"], "starts_at": "tomorrow", "ends_at": SATURDAY}, ["w.starts_at"]),
    Bad("no name", {"hosts": ["a"], **ONE_OFF}, ["w.name: required: what the window is for"]),
    Bad("an unknown key", {"name": "w", "hosts": ["a"], "until": 5, **ONE_OFF}, ["w.until"]),
    Bad("a bad recurrence", {"name": "w", "hosts": ["a"], "time_intervals": [{"weekdays": ["someday"]}]},
        ["w.time_intervals[0].weekdays[0]"]),
], ids=lambda c: c.name)
def test_a_bad_window_names_its_key_path(case: Bad):
    errors = Errors()
    assert window_from_node(Node(case.body, "w", errors), "id", "api") is None
    for expected in case.errors:
        assert any(line.startswith(expected) for line in errors), (expected, list(errors))


def test_config_windows_are_named_once():
    errors = Errors()
    windows = parse_maintenance(Node([{"name": "patch", "hosts": ["a"], **ONE_OFF},
                                      {"name": "patch", "hosts": ["b"], **ONE_OFF}], "maintenance", errors))
    assert [w.id for w in windows] == ["patch"]
    assert any("maintenance[1].name: another window is named 'patch'" in line for line in errors)
