"""The calendar periods an SLO is reported over, in the SLO's time zone: which one contains an instant, and
which one a name such as ``2026-11``, ``2026-W47``, ``2026-Q4``, ``2026`` or ``2026-11-30`` means.

Boundaries are local midnights, so a monthly SLO in Europe/Berlin starts its month at 00:00 Berlin time and
a day across a daylight-saving change is 23 or 25 hours long. Weeks are ISO weeks (Monday to Monday, the
week holding the year's first Thursday is week 1).

``NOMINAL_SECONDS`` is each kind's length in the SRE workbook's arithmetic (a month is 30 days), which the
burn-rate thresholds scale with (fleetmon.hub.sla.burn); reports use the real calendar boundaries.
"""

import re
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple

DAILY, WEEKLY, MONTHLY, QUARTERLY, YEARLY = "daily", "weekly", "monthly", "quarterly", "yearly"
KINDS = (DAILY, WEEKLY, MONTHLY, QUARTERLY, YEARLY)
_DAY = 86400.0
NOMINAL_SECONDS = {DAILY: _DAY, WEEKLY: 7 * _DAY, MONTHLY: 30 * _DAY, QUARTERLY: 90 * _DAY, YEARLY: 365 * _DAY}
#: The years a period may fall in: those fleetmon.hub.limits accepts as times.
FIRST_YEAR, LAST_YEAR = 1970, 2199

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
FORMS = "YYYY, YYYY-Qn, YYYY-MM, YYYY-Www or YYYY-MM-DD"


class Period(NamedTuple):
    kind: str
    label: str  # its name: 2026-11, 2026-W47, ...
    start: float  # Unix seconds, included
    end: float  # Unix seconds, excluded

    @property
    def seconds(self) -> float:
        return self.end - self.start


class PeriodError(ValueError):
    """A period name that names no period; the message says which forms there are."""


def period_at(kind: str, when: float, zone: tzinfo) -> Period:
    """The period of ``kind`` that contains the instant ``when``."""
    day = datetime.fromtimestamp(when, zone).date()
    if kind == DAILY:
        first = day
    elif kind == WEEKLY:
        first = day - timedelta(days=day.weekday())
    elif kind == MONTHLY:
        first = day.replace(day=1)
    elif kind == QUARTERLY:
        first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    elif kind == YEARLY:
        first = date(day.year, 1, 1)
    else:
        raise ValueError(f"unknown period kind {kind!r}")
    return _period(kind, first, zone)


def named_period(text: str, zone: tzinfo) -> Period:
    """The period a name means; PeriodError when it means none (2026-13, 2026-W54, 2026-02-30)."""
    text = text.strip()
    try:
        if match := _YEAR.match(text):
            first, kind = date(_year(match[1]), 1, 1), YEARLY
        elif match := _QUARTER.match(text):
            first, kind = date(_year(match[1]), 3 * int(match[2]) - 2, 1), QUARTERLY
        elif match := _MONTH.match(text):
            first, kind = date(_year(match[1]), int(match[2]), 1), MONTHLY
        elif match := _WEEK.match(text):
            first, kind = date.fromisocalendar(_year(match[1]), int(match[2]), 1), WEEKLY
        elif match := _DATE.match(text):
            first, kind = date(_year(match[1]), int(match[2]), int(match[3])), DAILY
        else:
            raise PeriodError(f"{text[:40]!r} is not a period ({FORMS})")
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"{text[:40]!r} is no period: {exc}") from None
    return _period(kind, first, zone)


def _year(text: str) -> int:
    year = int(text)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodError(f"years run from {FIRST_YEAR} to {LAST_YEAR} (got {year})")
    return year


def _period(kind: str, first: date, zone: tzinfo) -> Period:
    after = _next(kind, first)
    return Period(kind, _label(kind, first), _midnight(first, zone), _midnight(after, zone))


def _next(kind: str, first: date) -> date:
    if kind == DAILY:
        return first + timedelta(days=1)
    if kind == WEEKLY:
        return first + timedelta(days=7)
    months = {MONTHLY: 1, QUARTERLY: 3, YEARLY: 12}[kind]
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _label(kind: str, first: date) -> str:
    if kind == DAILY:
        return first.isoformat()
    if kind == WEEKLY:
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == MONTHLY:
        return f"{first.year}-{first.month:02d}"
    if kind == QUARTERLY:
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    return str(first.year)


def _midnight(day: date, zone: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
