"""One alert in the dispatcher, how it is read from Alertmanager-shaped JSON, and how copies merge.

Ingestion follows Alertmanager's API: a missing ``startsAt`` becomes ``endsAt`` or now; a missing
``endsAt`` becomes now + ``resolve_timeout`` (a *timeout* end, which a later explicit end overrides);
empty label values are dropped. Alerts from the hub's own rules and from agents are tracked by their
sources, so they carry no timeout: a firing one stays firing until its source resolves it.

Re-sending a fingerprint merges with the stored copy only when their activity ranges overlap; the newer
copy wins, keeping the earliest ``startsAt`` (Alertmanager's ``Alert.Merge``).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fleetmon.protocol.alerts import clean_labels, fingerprint
from fleetmon.protocol.messages import ZERO_TIME, rfc3339

NEVER = math.inf


class AlertError(ValueError):
    pass


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
                "startsAt": rfc3339(self.starts_at),
                "endsAt": rfc3339(self.ends_at) if self.ends_at != NEVER else ZERO_TIME,
                "generatorURL": self.generator_url, "fingerprint": self.fingerprint,
                "status": "resolved" if resolved else "firing", "updatedAt": rfc3339(self.updated_at)}


def parse_time(value: Any, what: str) -> float | None:
    """RFC 3339 (nanoseconds allowed) or unix seconds; None for missing or Go's zero time."""
    if value in (None, "", ZERO_TIME, "0001-01-01T00:00:00Z"):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise AlertError(f"{what} must be an RFC 3339 time, got {value!r}")
    text = value.strip()
    if "." in text:  # Python reads at most microseconds: cut nanoseconds before the zone
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AlertError(f"{what} must be an RFC 3339 time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise AlertError(f"{what} needs a time zone: {value!r}")
    if parsed.year <= 1:
        return None
    return parsed.timestamp()


def from_json(item: Any, now: float, resolve_timeout: float | None) -> Alert:
    """An alert from an API client (``resolve_timeout`` set) or from the hub's own sources (None)."""
    if not isinstance(item, dict):
        raise AlertError("an alert must be an object")
    labels = item.get("labels")
    if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise AlertError("labels must be an object of strings")
    labels = clean_labels(labels)
    if not labels:
        raise AlertError("an alert needs at least one label with a value")
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise AlertError("annotations must be an object of strings")
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
