"""Calendar periods (fleetmon.hub.sla.periods): the period around an instant and the period a name means,
in the SLO's zone, across ISO week years and daylight-saving changes."""

from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from fleetmon.hub.sla.periods import DAILY, MONTHLY, QUARTERLY, WEEKLY, YEARLY, PeriodError, named_period, period_at

UTC, BERLIN = ZoneInfo("UTC"), ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


class Around(NamedTuple):
    name: str
    why: str
    kind: str
    when: str  # local time in ``zone``
    label: str
    start: str
    end: str
    zone: ZoneInfo = UTC


AROUND = [
    Around("a day", "midnight to midnight", DAILY, "2026-11-30 13:00", "2026-11-30", "2026-11-30", "2026-12-01"),
    Around("a week", "ISO weeks start on Monday: 2026-11-18 is the Wednesday of week 47", WEEKLY,
           "2026-11-18 08:00", "2026-W47", "2026-11-16", "2026-11-23"),
    Around("week 53", "2026 starts on a Thursday, so it has 53 ISO weeks; its last runs into 2027", WEEKLY,
           "2027-01-02 10:00", "2026-W53", "2026-12-28", "2027-01-04"),
    Around("week 1 of next year", "2024-12-30 is a Monday in the week holding 2025's first Thursday", WEEKLY,
           "2024-12-31 10:00", "2025-W01", "2024-12-30", "2025-01-06"),
    Around("a month", "first of the month to first of the next", MONTHLY, "2026-11-30 23:59", "2026-11",
           "2026-11-01", "2026-12-01"),
    Around("december", "the month after december is january of the next year", MONTHLY, "2026-12-15 00:00",
           "2026-12", "2026-12-01", "2027-01-01"),
    Around("a quarter", "Q4 is october to december", QUARTERLY, "2026-11-30 00:00", "2026-Q4", "2026-10-01",
           "2027-01-01"),
    Around("a year", "january to january", YEARLY, "2026-06-01 00:00", "2026", "2026-01-01", "2027-01-01"),
    Around("a month in Berlin", "the boundaries are Berlin's midnights, an hour before UTC's", MONTHLY,
           "2026-11-01 00:30", "2026-11", "2026-11-01", "2026-12-01", BERLIN),
]


@pytest.mark.parametrize("case", AROUND, ids=lambda c: c.name)
def test_period_at(case: Around) -> None:
    period = period_at(case.kind, at(case.when, case.zone), case.zone)
    assert (period.label, period.start, period.end) == (case.label, at(case.start, case.zone),
                                                        at(case.end, case.zone)), case.why
    assert named_period(case.label, case.zone) == period, "the label names the same period"


def test_a_day_across_a_daylight_saving_change_has_its_real_length() -> None:
    assert named_period("2026-03-29", BERLIN).seconds == 23 * 3600  # clocks go forward
    assert named_period("2026-10-25", BERLIN).seconds == 25 * 3600  # and back
    assert named_period("2026-03", BERLIN).seconds == 31 * 86400 - 3600


class Refused(NamedTuple):
    text: str
    message: str


REFUSED = [
    Refused("2026-13", "month must be in 1..12"),
    Refused("2026-W54", "is no period"),
    Refused("2026-02-30", "day is out of range"),
    Refused("2026-Q5", "is not a period"),
    Refused("1969", "years run from 1970 to 2199"),
    Refused("November", "is not a period (YYYY, YYYY-Qn, YYYY-MM, YYYY-Www or YYYY-MM-DD)"),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.text)
def test_named_period_refuses(case: Refused) -> None:
    with pytest.raises(PeriodError, match=case.message.replace("(", r"\(").replace(")", r"\)")):
        named_period(case.text, UTC)
