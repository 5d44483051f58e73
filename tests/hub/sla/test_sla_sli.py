"""What each second of a member was (fleetmon.hub.sla.sli), without I/O: the stretch between two spans of a
host, the stretch after its last one, a host's time from its spans, a check's from its results, a metric's
from its minutes. docs/sla.md, "What counts", is what these cases hold to."""

from typing import NamedTuple

import pytest

from fleetmon.hub.model import MISSING, OFFLINE, ONLINE, SILENT
from fleetmon.hub.sla.ledger import Span
from fleetmon.hub.sla.sli import (
    BAD,
    GOOD,
    UNKNOWN,
    MemberTime,
    after_last,
    between,
    check_time,
    default_stale_after,
    down_counts_bad,
    host_up_time,
    metric_time,
)
from fleetmon.hub.sla.spans import Spans


def span(session: int, first_seq: int, last_seq: int, start: float, end: float, interval: float = 10.0) -> Span:
    return Span("srv-01", session, first_seq, last_seq, start, end, interval)


class Between(NamedTuple):
    name: str
    why: str
    before: Span
    after: Span
    verdict: str


BETWEEN = [
    Between("seqs adjacent", "the agent ran (its seq went on by one) but took no sample for two minutes",
            span(1, 1, 10, 0, 90), span(1, 11, 20, 210, 300), BAD),
    Between("a seq hole", "seqs 11..21 exist somewhere but the hub does not hold them: maybe back-filled later",
            span(1, 1, 10, 0, 90), span(1, 22, 30, 210, 290), UNKNOWN),
    Between("another session", "the agent or its host restarted", span(1, 1, 10, 0, 90), span(2, 1, 10, 210, 300),
            BAD),
    Between("seqs out of time order", "the later span has the lower seqs: a clock stepped back, nothing to tell",
            span(1, 50, 60, 0, 90), span(1, 1, 10, 210, 300), UNKNOWN),
]


@pytest.mark.parametrize("case", BETWEEN, ids=lambda c: c.name)
def test_between_two_spans(case: Between) -> None:
    assert between(case.before, case.after) == case.verdict, case.why


class AfterLast(NamedTuple):
    name: str
    why: str
    state: str
    seeing: bool
    verdict: str


AFTER_LAST = [
    AfterLast("online", "samples arrive; the newest is not in the history yet", ONLINE, True, GOOD),
    AfterLast("silent, hub seeing", "the hub sees the fleet and this host sends nothing", SILENT, True, BAD),
    AfterLast("offline, hub seeing", "its will or its shutdown arrived", OFFLINE, True, BAD),
    AfterLast("missing, hub seeing", "a host the state no longer has alive", MISSING, True, BAD),
    AfterLast("silent, hub blind", "a blind hub cannot tell a silent host from its own deafness", SILENT, False,
              UNKNOWN),
    AfterLast("online, hub blind", "what the state says of it is as old as the blindness", ONLINE, False, UNKNOWN),
]


@pytest.mark.parametrize("case", AFTER_LAST, ids=lambda c: c.name)
def test_after_the_last_span(case: AfterLast) -> None:
    assert after_last(case.state, case.seeing) == case.verdict, case.why


class HostUp(NamedTuple):
    name: str
    why: str
    spans: list[Span]
    good: list[tuple[float, float]]
    bad: list[tuple[float, float]] = []
    unknown: list[tuple[float, float]] = []
    start: float = 0.0
    until: float = 1000.0
    state: str = ONLINE
    seeing: bool = True


HOST_UP = [
    HostUp("always up", "one span over the range; the last sample vouches for its interval", [span(1, 1, 100, 0, 990)],
           [(0, 1000)]),
    HostUp("the 110 s outage", "samples every 10 s, none at 100..200: the sample at 90 vouches up to 100, the one at "
           "210 takes over; the agent ran on (seqs adjacent)", [span(1, 1, 10, 0, 90), span(1, 11, 89, 210, 990)],
           [(0, 100), (210, 1000)], bad=[(100, 210)]),
    HostUp("the same outage as a seq hole", "samples 11..21 exist but are not stored yet: unknown, not bad",
           [span(1, 1, 10, 0, 90), span(1, 22, 100, 210, 990)], [(0, 100), (210, 1000)], unknown=[(100, 210)]),
    HostUp("a restart", "a new session after the gap: the host or agent restarted, which is downtime",
           [span(1, 1, 10, 0, 90), span(2, 1, 79, 210, 990)], [(0, 100), (210, 1000)], bad=[(100, 210)]),
    HostUp("not a member yet", "before the host's first span it was no member: neither good, bad nor unknown",
           [span(1, 1, 70, 300, 990)], [(300, 1000)]),
    HostUp("down since, hub seeing", "after the last span, up to now: bad while the hub sees it silent",
           [span(1, 1, 50, 0, 490)], [(0, 500)], bad=[(500, 1000)], state=SILENT),
    HostUp("down since, hub blind", "after the last span: unknown while the hub is blind",
           [span(1, 1, 50, 0, 490)], [(0, 500)], unknown=[(500, 1000)], state=SILENT, seeing=False),
    HostUp("inside one span", "a range inside a span is all good", [span(1, 1, 100, 0, 990)], [(200, 300)],
           start=200, until=300),
    HostUp("between the neighbours", "a range wholly in a gap gets its verdict from the spans on either side",
           [span(1, 1, 10, 0, 90), span(1, 11, 60, 510, 990)], [], bad=[(200, 300)], start=200, until=300),
    HostUp("overlapping sessions", "two runs of the agent overlapping in time (a clock jumped): all good",
           [span(1, 1, 50, 0, 500), span(2, 1, 70, 300, 990)], [(0, 1000)]),
    HostUp("no spans", "a host that never sampled is no member", [], []),
]


@pytest.mark.parametrize("case", HOST_UP, ids=lambda c: c.name)
def test_host_up_time(case: HostUp) -> None:
    time = host_up_time(case.spans, case.start, case.until, case.state, case.seeing)
    assert time == MemberTime(Spans(case.good), Spans(case.bad), Spans(case.unknown)), case.why


def test_the_110_second_outage_to_the_second() -> None:
    """docs/sla.md's example: samples every 10 s, those at 100..200 s missing, the host bad for exactly 110 s."""
    time = host_up_time([span(1, 1, 10, 0, 90), span(1, 11, 89, 210, 990)], 0, 1000, ONLINE, True)
    assert (time.good.total, time.bad.total, time.unknown.total) == (890, 110, 0)


class Check(NamedTuple):
    name: str
    why: str
    results: list[tuple[float, bool]]
    good: list[tuple[float, float]]
    bad: list[tuple[float, float]] = []
    unknown: list[tuple[float, float]] = []
    stale_after: float = 90.0
    start: float = 0.0
    until: float = 300.0


CHECKS = [
    Check("passing every 30 s", "each result holds until the next", [(t, True) for t in range(0, 300, 30)],
          [(0, 300)]),
    Check("one failure", "the failed result at 60 holds until the next one at 90", [(0, True), (30, True),
          (60, False), (90, True), (120, True), (150, True), (180, True), (210, True), (240, True), (270, True)],
          [(0, 60), (90, 300)], bad=[(60, 90)]),
    Check("results stopped", "the last result at 60 holds for stale_after (90 s), then nothing is known",
          [(0, True), (30, True), (60, True)], [(0, 150)], unknown=[(150, 300)]),
    Check("a result before the range", "the one at -20 still holds when the range starts",
          [(-20, False), (40, True)], [(40, 130)], bad=[(0, 40)], unknown=[(130, 300)]),
    Check("no result yet", "before the check's first result it was no member", [(100, True)], [(100, 190)],
          unknown=[(190, 300)]),
]


@pytest.mark.parametrize("case", CHECKS, ids=lambda c: c.name)
def test_check_time(case: Check) -> None:
    time = check_time(case.results, case.start, case.until, case.stale_after)
    assert time == MemberTime(Spans(case.good), Spans(case.bad), Spans(case.unknown)), case.why


def test_default_staleness_is_three_median_spacings() -> None:
    assert default_stale_after([0, 30, 60, 90, 200]) == 90  # spacings 30, 30, 30, 110: median 30
    assert default_stale_after([100]) == 180  # one result shows no spacing: a check every minute assumed


def test_metric_minutes() -> None:
    """Good and bad minutes as the minute tier says; a member's minute without data is unknown."""
    time = metric_time([(0, True), (60, False), (180, True)], member_from=0, start=0, until=300)
    assert time == MemberTime(Spans([(0, 60), (180, 240)]), Spans([(60, 120)]), Spans([(120, 180), (240, 300)]))
    later = metric_time([(180, True)], member_from=150, start=0, until=300)
    assert later.unknown == Spans([(150, 180), (240, 300)]), "before the host's first sample: no member"
    assert metric_time([(0, True)], member_from=None, start=0, until=300) == MemberTime(Spans(), Spans(), Spans())


def test_a_down_host_fails_its_check_when_host_up_is_required() -> None:
    check = MemberTime(Spans([(0, 100)]), Spans(), Spans([(100, 300)]))
    host = MemberTime(Spans([(0, 50)]), Spans([(50, 300)]), Spans())
    assert down_counts_bad(check, host) == MemberTime(Spans([(0, 50)]), Spans([(50, 300)]), Spans())
