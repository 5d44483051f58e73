"""From members' time to a report (fleetmon.hub.sla.report), pure: the seconds, availability, downtime, the
error budget and its burn-down, and the CSV; each figure as docs/sla.md's formulas give it."""

from typing import NamedTuple

import pytest

from fleetmon.hub.sla.config import SLO, HostUp
from fleetmon.hub.sla.report import (
    Evaluated,
    Tally,
    budget_points,
    build_report,
    burn_rate,
    report_csv,
    status,
    summaries_csv,
    tally,
)
from fleetmon.hub.sla.sli import MemberTime
from fleetmon.hub.sla.spans import Spans

SLO_90 = SLO("web-up", HostUp(), 90.0, description="the web servers answer")


def member(name: str, good=(), bad=(), unknown=(), excluded=()) -> Evaluated:
    return Evaluated(name, name, MemberTime(Spans(good), Spans(bad), Spans(unknown)), Spans(excluded))


class Counted(NamedTuple):
    name: str
    why: str
    member: Evaluated
    expected: Tally  # over [0, 600)


COUNTED = [
    Counted("all four", "good, bad, unknown, and before it was a member", member("a", [(100, 400)], [(400, 500)],
            [(500, 600)]), Tally(300, 100, 100, 100)),
    Counted("excluded wins", "maintenance over bad and good time: neither counts", member(
        "a", [(0, 400)], [(400, 600)], excluded=[(300, 500)]), Tally(300, 100, 0, 200)),
    Counted("clipped", "time after the range end is not in the range", member("a", [(0, 900)]), Tally(600, 0, 0, 0)),
]


@pytest.mark.parametrize("case", COUNTED, ids=lambda c: c.name)
def test_tally_adds_up_to_the_range(case: Counted) -> None:
    found = tally(case.member, 0, 600)
    assert found == case.expected, case.why
    assert sum(found) == 600


def test_report_figures() -> None:
    """Two members over [0, 1000) at 600: a (good 500, bad 100) and b (good 300, unknown 300); the future 400 s
    of each are eligible unless excluded (b is in maintenance 700..800)."""
    members = [member("a", [(0, 500)], [(500, 600)]),
               member("b", [(0, 300)], unknown=[(300, 600)], excluded=[(700, 800)]),
               member("c")]  # in scope but no member yet: all its time excluded
    report = build_report(SLO_90, "", 0, 1000, 600, members)
    assert (report["good_s"], report["bad_s"], report["unknown_s"], report["excluded_s"]) == (800, 100, 300, 600)
    assert report["availability"] == 800 / 900, "time-weighted over the members, unknown left out"
    assert report["downtime_minutes"] == 100 / 60
    # the budget: 10 % of the eligible time, 900 s so far and 400 + 300 s still to come
    assert report["budget"] == {"allowed_bad_s": pytest.approx(160), "bad_s": 100, "left": pytest.approx(1 - 100 / 160)}
    assert (report["met"], report["status"]) == (True, "on track"), "88.9 % so far, but budget is left"
    assert report["member_count"] == 2, "c has not been a member yet"
    assert [(m["member"], m["availability"], m["downtime_minutes"]) for m in report["members"]] == [
        ("a", 500 / 600, 100 / 60), ("b", 1.0, 0.0), ("c", None, 0.0)]
    assert build_report(SLO_90, "", 0, 1000, 600, members, with_members=False).get("members") is None


def test_no_eligible_time_has_no_availability() -> None:
    report = build_report(SLO_90, "", 0, 600, 600, [member("a", unknown=[(0, 600)])])
    assert (report["availability"], report["met"], report["budget"]["left"]) == (None, None, None)


def test_an_overspent_budget_goes_negative() -> None:
    report = build_report(SLO_90, "", 0, 600, 600, [member("a", [(0, 300)], [(300, 600)])])
    assert report["budget"]["left"] == pytest.approx(1 - 300 / 60)
    assert (report["met"], report["status"]) == (False, "missed")


class Status(NamedTuple):
    name: str
    why: str
    left: float | None
    ended: bool
    status: str


STATUSES = [
    Status("no data", "nothing was eligible: no budget, no verdict", None, True, "no data"),
    Status("met", "the period is over and some budget is left: availability reached the target", 0.2, True, "met"),
    Status("met exactly", "the whole budget spent and not a second more is still the target", 0.0, True, "met"),
    Status("missed", "the period is over and more was bad than the budget allowed", -0.1, True, "missed"),
    Status("on track", "budget left mid-period, whatever the availability so far", 0.3, False, "on track"),
    Status("breached", "overspent mid-period: even a perfect rest of the period cannot make it", -0.01, False,
           "breached"),
]


@pytest.mark.parametrize("case", STATUSES, ids=lambda c: c.name)
def test_status(case: Status) -> None:
    assert status(case.left, case.ended) == case.status, case.why


def test_burn_rate() -> None:
    """The window's bad share over the share the target allows: 10 % bad against 90 % is 1, spending exactly
    the budget; with nothing eligible there is no rate."""
    assert burn_rate(Tally(90, 10, 0, 0), 0.1) == pytest.approx(1.0)
    assert burn_rate(Tally(0, 100, 0, 0), 0.001) == pytest.approx(1000)
    assert burn_rate(Tally(0, 0, 50, 50), 0.1) is None


def test_budget_burns_down_to_the_report_figure() -> None:
    members = [member("a", [(0, 100)], [(100, 200)]), member("b", [(0, 150)], [(150, 200)], excluded=[(180, 200)])]
    points = budget_points(members, 0, 200, 200.0, [0, 100, 150, 200])
    assert points == [(0, 1.0), (100, 1.0), (150, pytest.approx(1 - 50 / 200)), (200, pytest.approx(1 - 130 / 200))]


def test_csv() -> None:
    report = build_report(SLO_90, "2026-11", 0, 600, 600, [member("a", [(0, 500)], [(500, 600)]),
                                                          member("b", unknown=[(0, 600)])])
    assert report_csv(report) == (
        "member,host,good_s,bad_s,unknown_s,excluded_s,availability_percent,downtime_minutes\n"
        "a,a,500,100,0,0,83.3333,1.67\n"
        "b,b,0,0,600,0,,0.00\n"
        "*,,500,100,600,0,83.3333,1.67\n")
    assert summaries_csv([report]) == (
        "slo,label,start,end,target,availability_percent,downtime_minutes,budget_left_percent,good_s,bad_s,"
        "unknown_s,excluded_s\n"
        "web-up,2026-11,0,600,90,83.3333,1.67,-66.67,500,100,600,0\n")
