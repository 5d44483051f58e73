"""Go's time.Time and time.Duration for templates, over gotime-py and goduration (what gotpl itself uses).

Templates call Go's method names (``.StartsAt.Format "15:04"``, ``.EndsAt.Sub .StartsAt``, ``.Unix``) and
print values as Go prints them ("2024-01-02 03:04:05.12 +0000 UTC", "1h2m5s"). Also here: the base of
every template value with Go fields and methods (``GoValue``), shared with data.py.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from goduration.go import Duration
from gotime.go import UTC, Location, LocationError, ParseError, Time
from gotpl import TemplateExecutionError

RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"


def no_field(name: str, type_name: str) -> TemplateExecutionError:
    return TemplateExecutionError(f"can't evaluate field {name} in type {type_name}")


class GoValue:
    """A value whose template fields are ``FIELDS`` (attributes) and ``METHODS`` (Go name: Python method)."""

    __slots__ = ()
    GO_TYPE = ""
    FIELDS: tuple[str, ...] = ()
    METHODS: Mapping[str, str] = {}

    def __gotemplate_lookup__(self, name: str) -> object:
        if name in self.METHODS:
            return getattr(self, self.METHODS[name])
        if name in self.FIELDS:
            return getattr(self, _snake(name))
        raise no_field(name, self.GO_TYPE)


def _snake(name: str) -> str:
    return {"Receiver": "receiver", "Status": "status", "Alerts": "alerts", "GroupLabels": "group_labels",
            "CommonLabels": "common_labels", "CommonAnnotations": "common_annotations", "ExternalURL": "external_url",
            "NotificationReason": "notification_reason", "RouteLabels": "route_labels", "Labels": "labels",
            "Annotations": "annotations", "StartsAt": "starts_at", "EndsAt": "ends_at",
            "GeneratorURL": "generator_url", "Fingerprint": "fingerprint", "Name": "name", "Value": "value"}[name]


@dataclass(frozen=True, slots=True)
class GoDuration(GoValue):
    """Go's ``time.Duration``: what ``since`` and ``.EndsAt.Sub .StartsAt`` give."""

    value: Duration

    GO_TYPE = "time.Duration"
    METHODS = {"Seconds": "seconds", "Minutes": "minutes", "Hours": "hours", "Milliseconds": "milliseconds",
               "Nanoseconds": "nanoseconds", "String": "string", "Round": "round", "Truncate": "truncate",
               "Abs": "abs"}

    def seconds(self) -> float:
        return self.value.nanoseconds / 1e9

    def minutes(self) -> float:
        return self.value.nanoseconds / 6e10

    def hours(self) -> float:
        return self.value.nanoseconds / 3.6e12

    def milliseconds(self) -> int:
        return int(self.value.nanoseconds / 1e6)

    def nanoseconds(self) -> int:
        return self.value.nanoseconds

    def string(self) -> str:
        return str(self.value)

    def round(self, multiple: "GoDuration | int") -> "GoDuration":
        return GoDuration(self.value.round(_duration(multiple)))

    def truncate(self, multiple: "GoDuration | int") -> "GoDuration":
        return GoDuration(self.value.truncate(_duration(multiple)))

    def abs(self) -> "GoDuration":
        return GoDuration(Duration.from_nanoseconds(abs(self.value.nanoseconds)))

    def __str__(self) -> str:
        return self.string()

    def go_json(self) -> object:
        return self.value.nanoseconds


def _duration(value: "GoDuration | int") -> Duration:
    """A Duration argument: a GoDuration, or a number of nanoseconds (a constant in the template)."""
    if isinstance(value, GoDuration):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool):
        return Duration.from_nanoseconds(value)
    raise TemplateExecutionError(f"expected a time.Duration, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class GoTime(GoValue):
    """Go's ``time.Time``, with the methods templates call on it (``Format``, ``Unix``, ``UTC``, ...)."""

    value: Time

    GO_TYPE = "time.Time"
    METHODS = {"Format": "format", "String": "string", "Unix": "unix", "UnixMilli": "unix_milli",
               "UnixMicro": "unix_micro", "UnixNano": "unix_nano", "UTC": "utc", "Local": "local", "In": "in_",
               "IsZero": "is_zero", "Year": "year", "Month": "month", "Day": "day", "Hour": "hour",
               "Minute": "minute", "Second": "second", "Nanosecond": "nanosecond", "Weekday": "weekday",
               "YearDay": "year_day", "Add": "add", "Sub": "sub", "Before": "before", "After": "after",
               "Equal": "equal", "Round": "round", "Truncate": "truncate", "AddDate": "add_date"}

    @classmethod
    def from_unix(cls, seconds: float) -> "GoTime":
        whole = math.floor(seconds)
        return cls(Time.from_unix(whole, round((seconds - whole) * 1e6) * 1000, location=UTC))

    @classmethod
    def zero(cls) -> "GoTime":
        return cls(Time.zero())

    @classmethod
    def parse_rfc3339(cls, text: str) -> "GoTime":
        """A JSON time as Go's encoding/json reads it: RFC 3339 with optional fractional seconds."""
        try:
            return cls(named_offset(Time.parse(RFC3339_NANO, text)))
        except ParseError as exc:
            raise ValueError(f"not an RFC 3339 time: {text!r} ({exc})") from exc

    def format(self, layout: str) -> str:
        return self.value.format(layout)

    def string(self) -> str:
        return str(self.value)

    def unix(self) -> int:
        return self.value.unix()

    def unix_milli(self) -> int:
        return self.value.unix_milliseconds()

    def unix_micro(self) -> int:
        return self.value.unix_microseconds()

    def unix_nano(self) -> int:
        return self.value.unix_nanoseconds()

    def utc(self) -> "GoTime":
        return GoTime(self.value.utc())

    def local(self) -> "GoTime":
        return GoTime(self.value.local())

    def in_(self, location: Location) -> "GoTime":
        return GoTime(self.value.in_location(location))

    def is_zero(self) -> bool:
        return self.value.is_zero()

    def year(self) -> int:
        return self.value.year

    def month(self) -> str:
        return str(self.value.month)

    def day(self) -> int:
        return self.value.day

    def hour(self) -> int:
        return self.value.hour

    def minute(self) -> int:
        return self.value.minute

    def second(self) -> int:
        return self.value.second

    def nanosecond(self) -> int:
        return self.value.nanosecond

    def weekday(self) -> str:
        return str(self.value.weekday)

    def year_day(self) -> int:
        return self.value.year_day

    def add(self, duration: "GoDuration | int") -> "GoTime":
        return GoTime(self.value.add(_duration(duration)))

    def sub(self, other: "GoTime") -> GoDuration:
        return GoDuration(self.value.subtract(_time(other)))

    def before(self, other: "GoTime") -> bool:
        return self.value.before(_time(other))

    def after(self, other: "GoTime") -> bool:
        return self.value.after(_time(other))

    def equal(self, other: "GoTime") -> bool:
        return self.value.equal(_time(other))

    def round(self, multiple: "GoDuration | int") -> "GoTime":
        return GoTime(self.value.round(_duration(multiple)))

    def truncate(self, multiple: "GoDuration | int") -> "GoTime":
        return GoTime(self.value.truncate(_duration(multiple)))

    def add_date(self, years: int, months: int, days: int) -> "GoTime":
        return GoTime(self.value.add_date(years, months, days))

    def __str__(self) -> str:
        return self.string()

    def go_json(self) -> object:
        return self.value.format(RFC3339_NANO)


def named_offset(value: Time) -> Time:
    """A time parsed with a numeric offset is in a zone without a name; Go prints such a zone's name as
    its offset ("+0200"), so give it that name."""
    name, offset = value.zone()
    if name or value.location is UTC:
        return value
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return value.in_location(Location.fixed(f"{sign}{hours:02d}{minutes:02d}", offset))


def _time(value: object) -> Time:
    if not isinstance(value, GoTime):
        raise TemplateExecutionError(f"expected a time.Time, got {type(value).__name__}")
    return value.value


def load_location(name: str) -> Location:
    """Go's time.LoadLocation: "" and "UTC" are UTC, "Local" the hub's zone, else an IANA name."""
    if name in ("", "UTC"):
        return UTC
    try:
        return Location.load(name)
    except LocationError as exc:
        raise TemplateExecutionError(f"unknown time zone {name}") from exc
