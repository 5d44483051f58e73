"""One alert in the dispatcher, how it is read from Alertmanager-shaped JSON, and how copies merge.

Ingestion follows Alertmanager's API: a missing ``startsAt`` becomes ``endsAt`` or now; a missing
``endsAt`` becomes now + ``resolve_timeout`` (a *timeout* end, which a later explicit end overrides);
empty label values are dropped. Alerts from the hub's own rules and from agents are tracked by their
sources, so they carry no timeout: a firing one stays firing until its source resolves it.

Re-sending a fingerprint merges with the stored copy only when their activity ranges overlap; the newer
copy wins, keeping the earliest ``startsAt`` (Alertmanager's ``Alert.Merge``).

Stricter than Alertmanager where Python cannot follow Go: every time must lie in the hub's accepted range
(fleetmon.hub.limits; Go's time reaches year 292 billion, RFC 3339 and Python's datetime stop at 9999), so
no alert the API took can make a later rendering or notification fail. Label and annotation names must
not be empty (as Alertmanager checks them).
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fleetmon.hub.limits import EARLIEST_TIME, LATEST_TIME, TIME_RANGE, number, plausible_time
from fleetmon.protocol.alerts import clean_labels, fingerprint
from fleetmon.protocol.messages import ZERO_TIME, rfc3339

NEVER = math.inf


class AlertError(ValueError):
    pass


class TimeRangeError(AlertError):
    """A well-formed time outside the accepted range (ingest counts these apart: reason out_of_range)."""


@dataclass(slots=True, frozen=True)
class Alert:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float  # NEVER while no end is known
    generator_url: str = ""
    timeout: bool = False  # ends_at was derived from resolve_timeout, not given by the source
    updated_at: float = 0.0  # when the hub received this copy; also the version the flush compares
    fingerprint: str = ""

    def resolved(self, now: float) -> bool:
        return self.ends_at <= now

    def to_json(self, now: float) -> dict[str, Any]:
        resolved = self.resolved(now)
        return {"labels": dict(self.labels), "annotations": dict(self.annotations),
                "startsAt": render_time(self.starts_at),
                "endsAt": render_time(self.ends_at) if self.ends_at != NEVER else ZERO_TIME,
                "generatorURL": self.generator_url, "fingerprint": self.fingerprint,
                "status": "resolved" if resolved else "firing", "updatedAt": render_time(self.updated_at)}


def render_time(ts: float) -> str:
    """RFC 3339, never raising. Nothing out of range is taken in any more, but a journal written by an
    older hub may still hold such a time: it renders as the nearest end of the accepted range rather than
    failing every page that lists it."""
    if not plausible_time(ts):
        ts = LATEST_TIME if ts > LATEST_TIME else EARLIEST_TIME  # NaN compares false: the earliest
    return rfc3339(ts)


def parse_time(value: Any, what: str) -> float | None:
    """RFC 3339 (nanoseconds allowed) or unix seconds; None for missing or Go's zero time."""
    if value in (None, "", ZERO_TIME, "0001-01-01T00:00:00Z"):
        return None
    if number(value):
        if not plausible_time(value):  # compared before float(): an int may be too large for one
            raise TimeRangeError(f"{what} {_short(value)} is outside the accepted Unix seconds {TIME_RANGE}")
        return float(value)
    if not isinstance(value, str):
        raise AlertError(f"{what} must be an RFC 3339 time, got {_short(value)}")
    text = value.strip()
    if "." in text:  # Python reads at most microseconds: cut nanoseconds before the zone
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AlertError(f"{what} must be an RFC 3339 time, got {_short(value)}") from None
    if parsed.tzinfo is None:
        raise AlertError(f"{what} needs a time zone: {_short(value)}")
    if parsed.year <= 1:
        return None
    seconds = parsed.timestamp()
    if not EARLIEST_TIME <= seconds <= LATEST_TIME:
        raise TimeRangeError(f"{what} {_short(value)} is outside the accepted range {TIME_RANGE}")
    return seconds


def _short(value: Any) -> str:
    """A client's value in an error message, cut so that a huge one does not make a huge answer."""
    if type(value) is int and value.bit_length() > 64:  # and repr() refuses ints beyond 4,300 digits
        return f"(an integer of {value.bit_length()} bits)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def from_json(item: Any, now: float, resolve_timeout: float | None) -> Alert:
    """An alert from an API client (``resolve_timeout`` set) or from the hub's own sources (None)."""
    if not isinstance(item, dict):
        raise AlertError("an alert must be an object")
    labels = item.get("labels")
    if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise AlertError("labels must be an object of strings")
    if "" in labels:
        raise AlertError("labels: a label name must not be empty")
    labels = clean_labels(labels)
    if not labels:
        raise AlertError("an alert needs at least one label with a value")
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise AlertError("annotations must be an object of strings")
    if "" in annotations:
        raise AlertError("annotations: an annotation name must not be empty")
    starts = parse_time(item.get("startsAt"), "startsAt")
    ends = parse_time(item.get("endsAt"), "endsAt")
    timeout = False
    if starts is None:
        starts = ends if ends is not None else now
    if ends is None:
        if resolve_timeout is not None:
            ends, timeout = now + resolve_timeout, True
        else:
            ends = NEVER
    if ends < starts:
        raise AlertError("endsAt is before startsAt")
    url = item.get("generatorURL") or ""
    if not isinstance(url, str):
        raise AlertError("generatorURL must be a string")
    return Alert(labels, dict(annotations), starts, ends, url, timeout, now, fingerprint(labels))


def parse_alerts(items: Iterable[Any], now: float, resolve_timeout: float | None) -> tuple[list[Alert], list[str]]:
    """The alerts of a list (see ``from_json``), and one error per item refused, naming its index."""
    accepted, errors = [], []
    for index, item in enumerate(items):
        try:
            accepted.append(from_json(item, now, resolve_timeout))
        except AlertError as exc:
            errors.append(f"alerts[{index}]: {exc}")
    return accepted, errors


def merge(old: Alert | None, new: Alert, now: float) -> Alert:
    """The stored copy after ``new`` arrives (``new.updated_at`` is the later receive time)."""
    if old is None:
        return new
    overlaps = (old.starts_at < new.ends_at < old.ends_at) or (old.starts_at < new.starts_at < old.ends_at)
    if not overlaps:
        return new
    merged = replace(new, starts_at=min(old.starts_at, new.starts_at))
    if new.resolved(now):
        if old.resolved(now) and old.ends_at > new.ends_at:
            merged = replace(merged, ends_at=old.ends_at)
    elif old.ends_at > new.ends_at and not old.timeout:
        merged = replace(merged, ends_at=old.ends_at)
    return merged
