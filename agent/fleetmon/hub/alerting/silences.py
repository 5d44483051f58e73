"""Silences: operator-made mutes with matchers, a time window, a creator and a comment (Alertmanager's model).

State at time t: pending before ``starts_at``, active while ``starts_at <= t <= ends_at`` (both inclusive),
expired after. Only active silences mute. Validation follows Alertmanager: at least one matcher, and at
least one that does not match the empty string, so a silence cannot mute every alert by accident.
Updating keeps the id only when the matchers are unchanged and the change is harmless (an active silence's
end, a pending one's window); otherwise a new silence replaces the old, which is expired.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from fleetmon.hub.alerting.alert import render_time
from fleetmon.hub.alerting.matchers import Matcher, MatcherError, format_matchers, matches_all, parse_matcher
from fleetmon.hub.limits import TIME_RANGE, plausible_time


class SilenceError(ValueError):
    pass


class SilenceNotFound(SilenceError):
    pass


@dataclass(slots=True, frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float = 0.0

    def state(self, now: float) -> str:
        if now < self.starts_at:
            return "pending"
        return "expired" if now > self.ends_at else "active"

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.state(now) == "active" and matches_all(self.matchers, labels)

    def to_json(self, now: float) -> dict:
        return {"id": self.id, "matchers": [_matcher_json(m) for m in self.matchers],
                "matchersText": format_matchers(self.matchers), "startsAt": render_time(self.starts_at),
                "endsAt": render_time(self.ends_at), "createdBy": self.created_by, "comment": self.comment,
                "updatedAt": render_time(self.updated_at),
                "status": {"state": self.state(now)}}


def matchers_from_json(items: list) -> tuple[Matcher, ...]:
    """Alertmanager's API form ``{name, value, isRegex, isEqual}``, or matcher strings such as ``a=~"b"``."""
    if not isinstance(items, list):
        raise SilenceError(f"matchers must be a list, got {type(items).__name__}")
    found = []
    for item in items:
        try:
            if isinstance(item, str):
                found.append(parse_matcher(item))
                continue
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                    or not isinstance(item.get("value"), str):
                raise SilenceError(f"a matcher must be a string or {{name, value, isRegex, isEqual}}, got {item!r}")
            regex, equal = bool(item.get("isRegex", False)), bool(item.get("isEqual", True))
            op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[(regex, equal)]
            found.append(Matcher.make(item["name"], op, item["value"]))
        except MatcherError as exc:
            raise SilenceError(str(exc)) from None
    return tuple(found)


def _matcher_json(m: Matcher) -> dict:
    return {"name": m.name, "value": m.value, "isRegex": m.op in ("=~", "!~"), "isEqual": m.op in ("=", "=~")}


def validate(matchers: tuple[Matcher, ...], starts_at: float, ends_at: float, created_by: str, comment: str) -> None:
    if not matchers:
        raise SilenceError("a silence needs at least one matcher")
    if all(m.matches_empty() for m in matchers):
        raise SilenceError("at least one matcher must not match the empty string, or the silence would mute "
                           f"alerts that lack those labels: {format_matchers(matchers)}")
    if not starts_at or not ends_at:
        raise SilenceError("a silence needs a start and an end")
    if not (plausible_time(starts_at) and plausible_time(ends_at)):
        raise SilenceError(f"a silence starts and ends within {TIME_RANGE}")
    if ends_at < starts_at:
        raise SilenceError("a silence cannot end before it starts")
    if not created_by.strip():
        raise SilenceError("a silence needs its creator (createdBy)")
    if not comment.strip():
        raise SilenceError("a silence needs a comment saying why")


@dataclass
class Silences:
    """Every silence, by id. Not thread-safe: the dispatcher's lock guards it."""

    by_id: dict[str, Silence] = field(default_factory=dict)

    def set(self, silence: Silence, now: float) -> tuple[Silence, Silence | None]:
        """Create or update; returns the stored silence and the one it expired (if it replaced one)."""
        validate(silence.matchers, silence.starts_at, silence.ends_at, silence.created_by, silence.comment)
        old = self.by_id.get(silence.id) if silence.id else None
        if silence.id and old is None:
            raise SilenceNotFound(f"no silence with id {silence.id}")
        if old is not None and _can_update(old, silence, now):
            updated = replace(silence, updated_at=now)
            self.by_id[old.id] = updated
            return updated, None
        if silence.ends_at < now:
            raise SilenceError("the silence would end in the past")
        created = replace(silence, id=str(uuid.uuid4()), starts_at=max(silence.starts_at, now), updated_at=now)
        self.by_id[created.id] = created
        expired = self.expire(old.id, now) if old is not None and old.state(now) != "expired" else None
        return created, expired

    def expire(self, silence_id: str, now: float) -> Silence:
        old = self.by_id.get(silence_id)
        if old is None:
            raise SilenceNotFound(f"no silence with id {silence_id}")
        state = old.state(now)
        if state == "expired":
            raise SilenceError(f"silence {silence_id} has already expired")
        expired = replace(old, ends_at=now, starts_at=now if state == "pending" else old.starts_at, updated_at=now)
        self.by_id[silence_id] = expired
        return expired

    def muting(self, labels: Mapping[str, str], now: float) -> list[str]:
        """Ids of the active silences that mute this label set."""
        return [s.id for s in self.by_id.values() if s.mutes(labels, now)]

    def reason(self, labels: Mapping[str, str], now: float) -> str:
        """A muter (fleetmon.hub.alerting.muting): "silenced by" the ids of the silences muting ``labels``."""
        ids = self.muting(labels, now)
        return "silenced by " + ",".join(ids) if ids else ""

    def prune(self, before: float) -> list[str]:
        """Forget silences that expired before ``before`` (retention); returns their ids."""
        gone = [s.id for s in self.by_id.values() if s.ends_at < before]
        for silence_id in gone:
            del self.by_id[silence_id]
        return gone


def _can_update(old: Silence, new: Silence, now: float) -> bool:
    if tuple(sorted(old.matchers, key=lambda m: m.sort_key)) != tuple(sorted(new.matchers, key=lambda m: m.sort_key)):
        return False
    state = old.state(now)
    if state == "active":
        return new.starts_at == old.starts_at and new.ends_at >= now
    if state == "pending":
        return new.starts_at >= now
    return False
