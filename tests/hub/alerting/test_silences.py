"""Silences as tables, without I/O: which alerts a silence mutes, when it is in force, and what an update keeps
(fleetmon.hub.alerting.silences; Alertmanager's semantics in shared/reference/alertmanager.md §2 and §7).
"""

from dataclasses import replace
from typing import NamedTuple

import pytest

from fleetmon.hub.alerting.matchers import parse_matchers
from fleetmon.hub.alerting.silences import Silence, SilenceError, Silences

NOW = 1_800_000_000.0
HOUR = 3600.0


def silence(matchers: str, starts_at: float = NOW - HOUR, ends_at: float = NOW + HOUR, silence_id: str = "") -> Silence:
    return Silence(silence_id, tuple(parse_matchers(matchers)), starts_at, ends_at, "ops", "planned work")


class Matching(NamedTuple):
    name: str
    why: str
    matchers: str
    labels: dict[str, str]
    muted: bool


MATCHING = [
    Matching("= equal", "the value is the same", 'alertname="Disk"', {"alertname": "Disk", "host": "a"}, True),
    Matching("= is not a prefix", "equality is exact", 'alertname="Disk"', {"alertname": "DiskFull"}, False),
    Matching("= needs the label", "a missing label is the empty string, not Disk", 'alertname="Disk"',
             {"host": "a"}, False),
    Matching("!= other value", "staging is not prod", 'alertname="Disk", env!="prod"',
             {"alertname": "Disk", "env": "staging"}, True),
    Matching("!= same value", "prod is prod", 'alertname="Disk", env!="prod"', {"alertname": "Disk", "env": "prod"},
             False),
    Matching("!= missing label", "a missing env is the empty string, which is not prod",
             'alertname="Disk", env!="prod"', {"alertname": "Disk"}, True),
    Matching("=~ matches", "srv-01 is in srv-0[12]", 'host=~"srv-0[12]"', {"host": "srv-01"}, True),
    Matching("=~ is anchored", "the regex must match the whole value, not a part of it", 'host=~"srv-0[12]"',
             {"host": "srv-011"}, False),
    Matching("=~ missing label", "the empty string is not in srv-0[12]", 'host=~"srv-0[12]"', {"alertname": "X"},
             False),
    Matching("=~ matching the empty string", "beside a matcher that needs a value, .* also takes a missing label",
             'alertname="Disk", host=~".*"', {"alertname": "Disk"}, True),
    Matching("!~ in the set", "prod is in prod|staging", 'alertname="Disk", env!~"prod|staging"',
             {"alertname": "Disk", "env": "prod"}, False),
    Matching("!~ outside the set", "dev is not in prod|staging", 'alertname="Disk", env!~"prod|staging"',
             {"alertname": "Disk", "env": "dev"}, True),
    Matching("!~ missing label", "the empty string is not in prod|staging", 'alertname="Disk", env!~"prod|staging"',
             {"alertname": "Disk"}, True),
    Matching("empty value, label missing", 'team="" means "has no team"', 'alertname="Disk", team=""',
             {"alertname": "Disk"}, True),
    Matching("empty value, label present", 'team="" does not take team=db', 'alertname="Disk", team=""',
             {"alertname": "Disk", "team": "db"}, False),
    Matching("all matchers", "matchers are ANDed: north is in north|east",
             'alertname="Maintenance", site=~"north|east"', {"alertname": "Maintenance", "site": "north"}, True),
    Matching("one matcher fails", "matchers are ANDed: south is not in north|east",
             'alertname="Maintenance", site=~"north|east"', {"alertname": "Maintenance", "site": "south"}, False),
]


@pytest.mark.parametrize("case", MATCHING, ids=[c.name for c in MATCHING])
def test_which_alerts_a_silence_mutes(case):
    silences = Silences()
    stored, _ = silences.set(silence(case.matchers), NOW)
    assert silences.reason(case.labels, NOW) == (f"silenced by {stored.id}" if case.muted else ""), case.why


class State(NamedTuple):
    name: str
    why: str
    at: float  # the silence runs from NOW to NOW + HOUR
    state: str
    mutes: bool


STATES = [
    State("before its start", "a pending silence mutes nothing yet", NOW - 1, "pending", False),
    State("at its start", "the start is inclusive", NOW, "active", True),
    State("in its window", "active", NOW + HOUR / 2, "active", True),
    State("at its end", "the end is inclusive too", NOW + HOUR, "active", True),
    State("after its end", "an expired silence mutes nothing any more", NOW + HOUR + 1, "expired", False),
]


@pytest.mark.parametrize("case", STATES, ids=[c.name for c in STATES])
def test_a_silence_mutes_only_while_active(case):
    window = Silence("s", tuple(parse_matchers('alertname="Disk"')), NOW, NOW + HOUR, "ops", "planned work")
    assert window.state(case.at) == case.state, case.why
    assert window.mutes({"alertname": "Disk"}, case.at) == case.mutes, case.why
    silences = Silences({"s": window})
    assert silences.reason({"alertname": "Disk"}, case.at) == ("silenced by s" if case.mutes else ""), case.why


def test_every_active_silence_is_named_and_only_those():
    silences = Silences({"a": silence('alertname="Disk"', silence_id="a"),
                         "b": silence('host="x"', silence_id="b"),
                         "later": silence('host="x"', NOW + HOUR, NOW + 2 * HOUR, silence_id="later")})
    assert silences.reason({"alertname": "Disk", "host": "x"}, NOW) == "silenced by a,b"
    assert silences.muting({"alertname": "Disk", "host": "y"}, NOW) == ["a"]


class Update(NamedTuple):
    name: str
    why: str
    old: Silence | None  # stored before the change (id "old"); None: a new silence
    new: Silence
    same_id: bool  # the change updated the stored silence in place
    old_state: str | None  # the old silence's state after the change (None: there was none)
    starts_at: float  # the start of the silence stored


ACTIVE = silence('alertname="Disk"', silence_id="old")
PENDING = silence('alertname="Disk"', NOW + HOUR, NOW + 2 * HOUR, silence_id="old")
EXPIRED = silence('alertname="Disk"', NOW - 2 * HOUR, NOW - HOUR, silence_id="old")

UPDATES = [
    Update("create in the past", "a new silence starting in the past starts now", None,
           silence('alertname="Disk"', NOW - HOUR), False, None, NOW),
    Update("extend an active one", "same matchers and start, an end not in the past: updated in place", ACTIVE,
           replace(ACTIVE, ends_at=NOW + 3 * HOUR), True, "active", NOW - HOUR),
    Update("new matchers for an active one", "other matchers mute other alerts: a new silence, the old expires",
           ACTIVE, silence('alertname="Net"', silence_id="old"), False, "expired", NOW),
    Update("move a pending one", "a pending silence may move to another future start in place", PENDING,
           silence('alertname="Disk"', NOW + 2 * HOUR, NOW + 3 * HOUR, silence_id="old"), True, "pending",
           NOW + 2 * HOUR),
    Update("revive an expired one", "an expired silence is never changed: a new one, the old stays expired",
           EXPIRED, silence('alertname="Disk"', NOW, NOW + HOUR, silence_id="old"), False, "expired", NOW),
]


@pytest.mark.parametrize("case", UPDATES, ids=[c.name for c in UPDATES])
def test_what_an_update_keeps(case):
    silences = Silences({} if case.old is None else {"old": case.old})
    stored, _ = silences.set(case.new, NOW)
    assert (stored.id == "old") == case.same_id, case.why
    old = silences.by_id.get("old")
    assert (None if old is None else old.state(NOW + 1)) == case.old_state, case.why
    assert stored.starts_at == case.starts_at, case.why


class Expire(NamedTuple):
    name: str
    why: str
    stored: Silence
    starts_at: float | None  # after expiring; None: refused


EXPIRES = [
    Expire("an active one", "it ends now and keeps its start", ACTIVE, NOW - HOUR),
    Expire("a pending one", "it never started: it starts and ends now", PENDING, NOW),
    Expire("an expired one", "there is nothing left to expire", EXPIRED, None),
]


@pytest.mark.parametrize("case", EXPIRES, ids=[c.name for c in EXPIRES])
def test_expiring(case):
    silences = Silences({"old": case.stored})
    if case.starts_at is None:
        with pytest.raises(SilenceError, match="already expired"):
            silences.expire("old", NOW)
        return
    expired = silences.expire("old", NOW)
    assert (expired.starts_at, expired.ends_at, expired.state(NOW + 1)) == (case.starts_at, NOW, "expired"), case.why


class Invalid(NamedTuple):
    name: str
    why: str
    matchers: str
    error: str


INVALID = [
    Invalid("no matcher", "a silence must say what it mutes", "", "at least one matcher"),
    Invalid("only .*", "it would mute every alert, those without a host included", 'host=~".*"',
            "must not match the empty string"),
    Invalid("only an empty value", 'team="" alone mutes every alert without a team', 'team=""',
            "must not match the empty string"),
]


@pytest.mark.parametrize("case", INVALID, ids=[c.name for c in INVALID])
def test_a_silence_that_would_mute_too_much_is_refused(case):
    silences = Silences()
    with pytest.raises(SilenceError, match=case.error):
        silences.set(silence(case.matchers), NOW)
    assert silences.by_id == {}, case.why
