"""One maintenance window: whom it covers (hosts, groups, alert matchers) and when (a span, a recurrence).

An alert is inside a window when it meets every one of the window's matchers and, if the window names hosts
or groups, its ``host`` label is one of the hosts or a member of one of the groups (or its ``group`` label is
one of the groups). A window is active from ``starts_at`` to ``ends_at`` (either may be open for a recurring
one) and, when it recurs, only while one of its time specs (the grammar of an alerting time interval's
``time_intervals``) contains the instant; ``end`` closes it early for good.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.alert import AlertError, parse_time
from fleetmon.hub.alerting.matchers import Matcher, MatcherError, format_matchers, matches_all, parse_matchers
from fleetmon.hub.alerting.timeintervals import TimeSpec, parse_spec
from fleetmon.protocol.messages import rfc3339

#: The finest step of a recurring window: its specs are minute-exact, so spans are found minute by minute.
MINUTE = 60.0
KEYS = ("name", "hosts", "groups", "matchers", "starts_at", "ends_at", "time_intervals", "comment")

HostGroups = Callable[[str], Sequence[str]]


class WindowError(ValueError):
    """A window that cannot be kept; the message names the field, for people."""


@dataclass(frozen=True, slots=True)
class Window:
    id: str
    name: str
    hosts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    starts_at: float = -math.inf
    ends_at: float = math.inf
    recurrence: tuple[TimeSpec, ...] = ()  # empty: one span, from starts_at to ends_at
    comment: str = ""
    created_by: str = ""
    source: str = "api"  # "config": from the hub config (the inventory), "api": made by a person
    ended_at: float | None = None  # ended early
    spec_json: tuple[dict[str, Any], ...] = field(default=(), compare=False)  # the recurrence as it was written

    def active(self, now: float) -> bool:
        if self.ended_at is not None and now >= self.ended_at:
            return False
        if not self.starts_at <= now < self.ends_at:
            return False
        return not self.recurrence or any(spec.contains(now) for spec in self.recurrence)

    def covers(self, labels: Mapping[str, str], host_groups: HostGroups) -> bool:
        if not matches_all(self.matchers, labels):
            return False
        if not self.hosts and not self.groups:
            return True
        host = labels.get("host", "")
        return host in self.hosts or labels.get("group", "") in self.groups or \
            any(group in self.groups for group in host_groups(host))

    def covers_host(self, host: str, groups: Sequence[str]) -> bool:
        """Whether the host itself is in the window (the SLA's question): listed, or in a listed group, and
        its own labels (host, group) meet the matchers."""
        if not (self.hosts or self.groups) and not self.matchers:
            return False
        if (self.hosts or self.groups) and host not in self.hosts and not any(g in self.groups for g in groups):
            return False
        return all(any(m.matches({"host": host, "group": g}) for g in groups or ("",)) for m in self.matchers)

    def spans(self, start: float, end: float) -> list[tuple[float, float]]:
        """The active stretches within [start, end)."""
        lo = max(start, self.starts_at)
        hi = min(end, self.ends_at, math.inf if self.ended_at is None else self.ended_at)
        if lo >= hi:
            return []
        if not self.recurrence:
            return [(lo, hi)]
        found: list[tuple[float, float]] = []
        t = lo
        while t < hi:
            step = min(hi, (math.floor(t / MINUTE) + 1) * MINUTE)
            if any(spec.contains(t) for spec in self.recurrence):
                if found and found[-1][1] == t:
                    found[-1] = (found[-1][0], step)
                else:
                    found.append((t, step))
            t = step
        return found

    def status(self, now: float) -> str:
        if (self.ended_at is not None and now >= self.ended_at) or now >= self.ends_at:
            return "ended"
        if self.active(now):
            return "active"
        return "scheduled" if now < self.starts_at or self.recurrence else "ended"

    def ended(self, at: float) -> "Window":
        return replace(self, ended_at=at)

    def to_json(self, now: float) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "hosts": list(self.hosts), "groups": list(self.groups),
                "matchers": [str(m) for m in self.matchers], "matchersText": format_matchers(self.matchers),
                "startsAt": _time_json(self.starts_at), "endsAt": _time_json(self.ends_at),
                "timeIntervals": list(self.spec_json), "comment": self.comment, "createdBy": self.created_by,
                "source": self.source, "endedAt": None if self.ended_at is None else rfc3339(self.ended_at),
                "status": self.status(now)}


def window_from_node(node: Node, window_id: str, source: str, created_by: str = "") -> Window | None:
    """A window from config or from an API body (wrapped in a Node): errors go to the node's list with
    their key paths; None when there were any."""
    errors_before = len(node.errors)
    node = node.mapping(KEYS)
    name = node.child("name").string("")
    if not name:
        node.child("name").fail("required: what the window is for")
    hosts = tuple(node.child("hosts").string_list())
    groups = tuple(node.child("groups").string_list())
    matchers: list[Matcher] = []
    for item in node.child("matchers").sequence():
        try:
            matchers += parse_matchers(item.string(""))
        except MatcherError as exc:
            item.fail(str(exc))
    if not hosts and not groups and not matchers:
        node.fail("a window needs hosts, groups or matchers: it would cover every alert")
    specs_node = node.child("time_intervals")
    specs = tuple(parse_spec(spec) for spec in specs_node.sequence())
    starts = _time(node.child("starts_at"))
    ends = _time(node.child("ends_at"))
    if not specs and (starts is None or ends is None):
        node.fail("a one-off window needs starts_at and ends_at (or time_intervals to recur)")
    if starts is not None and ends is not None and ends <= starts:
        node.child("ends_at").fail("must be after starts_at")
    if len(node.errors) > errors_before:
        return None
    return Window(id=window_id, name=name, hosts=hosts, groups=groups, matchers=tuple(matchers),
                  starts_at=-math.inf if starts is None else starts, ends_at=math.inf if ends is None else ends,
                  recurrence=specs, comment=node.child("comment").string(""), created_by=created_by,
                  source=source, spec_json=tuple(specs_node.value) if isinstance(specs_node.value, list) else ())


def _time(node: Node) -> float | None:
    if node.missing:
        return None
    try:
        return parse_time(node.value, node.path)
    except AlertError as exc:
        node.fail(str(exc))
        return None


def _time_json(value: float) -> str | None:
    return rfc3339(value) if math.isfinite(value) else None
