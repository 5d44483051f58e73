"""The per-unit rate limit (fleetmon.agent.logs.ratelimit) on an injected clock: what passes, what is
dropped, and that every drop is counted for the batch and for the metric."""

from typing import List, NamedTuple, Tuple

import pytest

from fleetmon.agent.logs.config import RateLimitConfig
from fleetmon.agent.logs.journal import JournalEntry
from fleetmon.agent.logs.ratelimit import NO_SOURCE, RateLimiter, source_of


class Case(NamedTuple):
    name: str
    why: str
    lines: int
    per: float
    burst: int
    sends: List[Tuple[float, str, int]]  # (at, source, how many at that moment)
    passed: int
    dropped: dict


CASES = [
    Case("within the burst", "a quiet unit may send its burst at once", 10, 10.0, 50, [(0.0, "a", 50)], 50, {}),
    Case("past the burst", "the 51st at the same moment is dropped and counted", 10, 10.0, 50,
         [(0.0, "a", 60)], 50, {"a": 10}),
    Case("refills at the rate", "10 per 10 s: one token per second; 5 s later 5 more pass", 10, 10.0, 10,
         [(0.0, "a", 10), (5.0, "a", 10)], 15, {"a": 5}),
    Case("refill stops at the burst", "an hour of silence earns the burst, not an hour of tokens", 10, 10.0, 20,
         [(0.0, "a", 20), (3600.0, "a", 30)], 40, {"a": 10}),
    Case("per source", "one chatty unit does not spend another's allowance", 1, 1.0, 5,
         [(0.0, "chatty", 8), (0.0, "quiet", 3)], 8, {"chatty": 3}),
    Case("no limit", "lines 0: everything passes, nothing is counted", 0, 10.0, 0, [(0.0, "a", 10000)], 10000, {}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_take(case):
    limiter = RateLimiter(RateLimitConfig(lines=case.lines, per=case.per, burst=case.burst))
    passed = sum(limiter.take(source, at) for at, source, count in case.sends for _ in range(count))
    assert passed == case.passed, case.why
    assert limiter.take_dropped() == case.dropped, case.why
    assert limiter.dropped_total == case.dropped


def test_drops_are_reported_once_per_batch_and_kept_in_the_running_total():
    limiter = RateLimiter(RateLimitConfig(lines=1, per=1.0, burst=1))
    for _ in range(4):
        limiter.take("a", 0.0)
    assert limiter.has_dropped and limiter.take_dropped() == {"a": 3}
    assert not limiter.has_dropped and limiter.take_dropped() == {}, "the next batch reports only new drops"
    limiter.take("a", 0.0)
    assert limiter.take_dropped() == {"a": 1} and limiter.dropped_total == {"a": 4}


class Source(NamedTuple):
    unit: str
    identifier: str
    want: str


SOURCES = [
    Source("nginx.service", "nginx", "nginx.service"),
    Source("", "kernel", "kernel"),  # the kernel has no unit: it counts under its identifier
    Source("", "myscript", "myscript"),
    Source("", "", NO_SOURCE),
]


@pytest.mark.parametrize("case", SOURCES, ids=lambda c: c.want)
def test_source_of(case):
    assert source_of(JournalEntry(0.0, "c", 3, case.unit, case.identifier, None, "journal", "m")) == case.want
