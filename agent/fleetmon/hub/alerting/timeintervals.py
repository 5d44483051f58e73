"""Alertmanager's named time intervals (``time_intervals:`` and the older ``mute_time_intervals:``).

Routes refer to these by name to mute or to allow notifications at certain times. The rules follow
Alertmanager's configuration docs and its parser, so a config it accepts means the same here:

- an instant is in a named interval when it is in ANY of its specs; within one spec every field given must
  match, and a field left out (or an empty list) matches everything;
- the instant is first turned into wall-clock time in the spec's ``location`` (UTC unless given), so
  '09:00' to '17:00' in Europe/Berlin follows the clocks across daylight-saving changes;
- ``times`` are [start, end) in minutes of the day, '24:00' allowed as an end; all other ranges are inclusive;
- weeks run sunday to saturday, so 'saturday:sunday' is refused, as Alertmanager refuses it;
- days of the month may count back from the end ('-1' is the last day); a range reaching past the end of
  a shorter month is cut off at its end ('1:31' is all of February), one starting past it matches nothing.

Unquoted ``17:00`` or ``1:5`` are base-60 numbers to YAML 1.1 (PyYAML reads 1020 and 65), while Alertmanager's
Go parser keeps them as text. Times are therefore also accepted as that number of minutes, which is exactly
what the text said; a range read as a number lands outside its field's bounds and is reported, never misread.
"""

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from fleetmon.config_reader import Node

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_TIME = re.compile(r"^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")  # Alertmanager's own pattern
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_QUOTE_HINT = "; unquoted, YAML reads a range like 1:5 as a base-60 number, so quote it: '1:5'"
_UTC = ZoneInfo("UTC")

Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """One entry of a named interval's ``time_intervals`` list; empty tuples match everything."""

    times: tuple[Range, ...] = ()  # minutes of the day, end exclusive
    weekdays: tuple[Range, ...] = ()  # 0 = sunday
    days_of_month: tuple[Range, ...] = ()  # negative counts back from the end of the month
    months: tuple[Range, ...] = ()  # 1 = january
    years: tuple[Range, ...] = ()
    zone: tzinfo | None = _UTC  # None: the host's local time, Alertmanager's 'Local'

    def contains(self, when: float) -> bool:
        wall = datetime.fromtimestamp(when, self.zone)
        last_day = calendar.monthrange(wall.year, wall.month)[1]
        return (_any(self.times, wall.hour * 60 + wall.minute, lambda a, b, v: a <= v < b)
                and _any(self.weekdays, wall.isoweekday() % 7)
                and _any(self.days_of_month, wall.day, lambda a, b, v: _day(a, last_day) <= v <= _day(b, last_day))
                and _any(self.months, wall.month)
                and _any(self.years, wall.year))


def _any(ranges: tuple[Range, ...], value: int,
         inside: Callable[[int, int, int], bool] = lambda a, b, v: a <= v <= b) -> bool:
    return not ranges or any(inside(a, b, value) for a, b in ranges)


def _day(day: int, last_day: int) -> int:
    # Only resolving is needed: the day tested is always within 1..last_day, which is all Alertmanager's clamping
    # achieves, and a start past the month's end then matches nothing, as it skips such ranges.
    return last_day + day + 1 if day < 0 else day


class TimeIntervals:
    """All named intervals of one config, in the order they were defined."""

    def __init__(self, intervals: dict[str, tuple[TimeSpec, ...]] | None = None) -> None:
        self._intervals = dict(intervals or {})

    def __contains__(self, name: str) -> bool:
        return name in self._intervals

    def __len__(self) -> int:
        return len(self._intervals)

    def names(self) -> list[str]:
        return list(self._intervals)

    def specs(self, name: str) -> tuple[TimeSpec, ...]:
        return self._intervals[name]

    def active(self, name: str, when: float) -> bool:
        """Whether unix time ``when`` falls in interval ``name`` (KeyError for an undefined name; check
        references with ``in`` when reading the config)."""
        return any(spec.contains(when) for spec in self._intervals[name])


@dataclass(frozen=True, slots=True)
class RouteTimeMute:
    """A route's ``mute_time_intervals`` and ``active_time_intervals`` as a muter
    (fleetmon.hub.alerting.muting): they mute the whole route at an instant, whatever an alert's labels.
    Alertmanager never inherits them, so each route brings its own."""

    intervals: TimeIntervals
    mute: tuple[str, ...] = ()
    active: tuple[str, ...] = ()

    def reason(self, labels: Mapping[str, str], now: float) -> str:
        for name in self.mute:
            if self.intervals.active(name, now):
                return f"muted by time interval {name}"
        if self.active and not any(self.intervals.active(name, now) for name in self.active):
            return "outside active time intervals " + ",".join(self.active)
        return ""


def parse_time_intervals(node: Node) -> TimeIntervals:
    """The ``time_intervals:`` (or ``mute_time_intervals:``) list: [{name, time_intervals: [spec, ...]}]."""
    intervals: dict[str, tuple[TimeSpec, ...]] = {}
    for item in node.sequence():
        if not isinstance(item.value, dict):
            item.mapping()  # reports what is wrong with it
            continue
        entry = item.mapping(["name", "time_intervals"])
        name_node = entry.child("name")
        name = name_node.string()
        if name_node.missing or name_node.value == "":
            name_node.fail("required: the name routes refer to")
        elif name in intervals:
            name_node.fail(f"duplicate time interval name {name!r}")
        specs = tuple(parse_spec(spec) for spec in entry.child("time_intervals").sequence())
        if name and name not in intervals:
            intervals[name] = specs
    return TimeIntervals(intervals)


def merge(a: TimeIntervals, b: TimeIntervals, node: Node) -> TimeIntervals:
    """``time_intervals`` and ``mute_time_intervals`` share one namespace; a name in both is an error (the
    first definition is kept so that reading can go on and report everything)."""
    merged = dict(a._intervals)
    for name, specs in b._intervals.items():
        if name in merged:
            node.fail(f"duplicate time interval name {name!r} (defined in both time_intervals and "
                      "mute_time_intervals)")
        else:
            merged[name] = specs
    return TimeIntervals(merged)


def parse_spec(node: Node) -> TimeSpec:
    spec = node.mapping(["times", "weekdays", "days_of_month", "months", "years", "location"])
    return TimeSpec(
        times=tuple(r for r in map(_time_range, spec.child("times").sequence()) if r),
        weekdays=_ranges(spec.child("weekdays"), _WEEKDAY),
        days_of_month=_ranges(spec.child("days_of_month"), _DAY_OF_MONTH),
        months=_ranges(spec.child("months"), _MONTH),
        years=_ranges(spec.child("years"), _YEAR),
        zone=parse_zone(spec.child("location")))


def _time_range(node: Node) -> Range | None:
    if not isinstance(node.value, dict):
        node.fail("must be a mapping with start_time and end_time")
        return None
    entry = node.mapping(["start_time", "end_time"])
    start, end = _minute(entry.child("start_time"), False), _minute(entry.child("end_time"), True)
    if start is None or end is None:
        return None
    if start >= end:
        node.fail(f"start_time {_clock(start)} must be before end_time {_clock(end)}")
        return None
    return start, end


def _minute(node: Node, is_end: bool) -> int | None:
    value = node.value
    if node.missing:
        node.fail("required, as 'HH:MM'")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1440:
        minute = value  # YAML 1.1's reading of an unquoted HH:MM (see the module docstring)
    elif isinstance(value, str) and _TIME.match(value):
        hours, minutes = (int(part) for part in value.split(":"))
        minute = hours * 60 + minutes
    else:
        node.fail(f"{value!r} is not a time 'HH:MM' from 00:00 to 24:00")
        return None
    if minute == 1440 and not is_end:
        node.fail("24:00 is only valid as an end_time")
        return None
    return minute


def _ranges(node: Node, field: "_Field") -> tuple[Range, ...]:
    """Each item 'x' or 'x:y' (inclusive), its members read by the field's ``member`` (None when invalid)."""
    out = []
    for item in node.sequence():
        value = item.value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            item.fail(f"must be a {field.what} or a range of them 'start:end', as a string")
            continue
        text = str(value).strip().lower()
        parts = [part.strip() for part in text.split(":")]
        members = [field.member(part) for part in parts]
        if len(parts) > 2:
            item.fail(f"{value!r} is not a {field.what} or a range 'start:end'")
        elif None in members:
            hint = _QUOTE_HINT if isinstance(value, int) and value >= 60 else ""
            item.fail(f"unknown {field.what} {parts[members.index(None)]!r} (expected {field.expected}{hint})")
        elif problem := _order_problem(field, members[0], members[-1], text):
            item.fail(problem)
        else:
            out.append((members[0], members[-1]))
    return tuple(out)


def _integer(text: str, low: int, high: int) -> int | None:
    return int(text) if _INTEGER.match(text) and low <= int(text) <= high else None


def _weekday(text: str) -> int | None:
    return WEEKDAYS.index(text) if text in WEEKDAYS else None


def _month(text: str) -> int | None:
    return MONTHS.index(text) + 1 if text in MONTHS else _integer(text, 1, 12)


def _year(text: str) -> int | None:
    return _integer(text, 1, 9999)  # what datetime can hold; wider is no calendar year anyway


def _day_of_month(text: str) -> int | None:
    day = _integer(text, -31, 31)
    return day if day else None  # 0 is no day


@dataclass(frozen=True, slots=True)
class _Field:
    what: str
    expected: str
    member: Callable[[str], int | None]
    order_note: str = ""


_WEEKDAY = _Field("weekday", "sunday to saturday", _weekday, " (weeks run sunday to saturday; list both parts)")
_DAY_OF_MONTH = _Field("day of the month", "1 to 31, or -31 to -1 counting back from the last day", _day_of_month)
_MONTH = _Field("month", "january to december, or 1 to 12", _month)
_YEAR = _Field("year", "1 to 9999", _year)


def _order_problem(field: _Field, begin: int, end: int, text: str) -> str | None:
    if field is _DAY_OF_MONTH:
        # As Alertmanager: a negative start with a positive end could be right in long months and wrong in short
        # ones, so it is refused; other orders are judged on a 28-day month, the shortest there is.
        if begin < 0 < end:
            return f"range {text!r} starts counting from the end of the month, so its end must too"
        begin, end = (28 + begin if begin < 0 else begin), (28 + end if end < 0 else end)
    return f"range {text!r} ends before it starts{field.order_note}" if begin > end else None


def parse_zone(node: Node, local: bool = True) -> tzinfo | None:
    """An IANA time zone name, "UTC" (or empty) and, where ``local``, "Local" (None: the host's own time)."""
    name = node.string("UTC")
    if name in ("", "UTC"):  # Go's LoadLocation reads both as UTC
        return _UTC
    if name == "Local" and local:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, LookupError):  # not found is a LookupError; bad paths are ValueErrors
        node.fail(f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Berlin', 'UTC'"
                  + (" or 'Local')" if local else ")"))
        return _UTC


def _clock(minute: int) -> str:
    return f"'{minute // 60:02d}:{minute % 60:02d}'"
