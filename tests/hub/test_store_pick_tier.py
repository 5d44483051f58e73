"""Which tier answers a history query when the caller names none (``pick_tier``): the finest one that holds
the whole range and keeps the answer small."""

from typing import NamedTuple

import pytest

from fleetmon.hub.store import HOUR, MINUTE, RAW, StoreConfig, pick_tier

NOW = 10_000_000.0
HOURS, DAYS = 3600.0, 86400.0


class Case(NamedTuple):
    name: str
    start_ago: float  # seconds before NOW
    end_ago: float
    tier: str


# The default config: raw answers ranges up to 2 h inside its 1-day window, the minute tier ranges up to
# 3 days inside its 14 days, the hour tier everything else.
CASES = [
    # short and recent: raw has every sample of it
    Case("an hour up to now", 1 * HOURS, 0, RAW),
    # raw_max_span is inclusive
    Case("exactly the longest raw span", 2 * HOURS, 0, RAW),
    # too many raw points for one answer: minutes
    Case("three hours up to now", 3 * HOURS, 0, MINUTE),
    # short, but starts before the raw window: raw no longer holds it
    Case("an hour a day and more ago", 30 * HOURS, 29 * HOURS, MINUTE),
    # the raw window's edge itself is still inside it
    Case("starting exactly at the raw window's edge", 1 * DAYS, 1 * DAYS - 1 * HOURS, RAW),
    # minute_max_span is inclusive
    Case("exactly the longest minute span", 3 * DAYS, 0, MINUTE),
    # too many minutes for one answer: hours
    Case("four days up to now", 4 * DAYS, 0, HOUR),
    # short, but past the minute retention: only hours are left
    Case("a day twenty days ago", 20 * DAYS, 19 * DAYS, HOUR),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_tier_is_picked_by_range_length_and_age(case):
    assert pick_tier(StoreConfig(), NOW - case.start_ago, NOW - case.end_ago, NOW) == case.tier
