"""The ``slos:`` section of the hub config: one typed SLO per entry, every error with its key path
(docs/sla.md lists the keys).

An SLO says which members it covers (``scope``), what makes a second of a member good (``good``: the host
is up, a check passes, or a metric stays on the right side of a bound), the target in percent, the
calendar period its budget is counted over, and which time does not count (``schedule``, maintenance).
Schedules name the alerting config's ``time_intervals``, so "business hours" is written once for muting
notifications and for counting availability.
"""

import re
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import ClassVar
from zoneinfo import ZoneInfo

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.matchers import Matcher, MatcherError, matches_all, parse_matcher
from fleetmon.hub.alerting.timeintervals import TimeIntervals, parse_zone
from fleetmon.hub.sla.periods import KINDS, MONTHLY

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_METRIC = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_UTC = ZoneInfo("UTC")
SLO_KEYS = ("name", "description", "scope", "good", "target", "period", "timezone", "schedule",
            "exclude_maintenance", "burn_alerts")
HOST_UP, CHECK, METRIC = "host_up", "check", "metric"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which hosts an SLO covers: every criterion given must hold (a host in one of ``groups``, named in
    ``hosts``, matching every matcher over its labels); an empty scope is the whole fleet."""

    groups: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    matchers: tuple[Matcher, ...] = ()

    def covers(self, host: str, groups: tuple[str, ...], labels: dict[str, str]) -> bool:
        return ((not self.groups or any(group in self.groups for group in groups))
                and (not self.hosts or host in self.hosts)
                and matches_all(self.matchers, labels))


@dataclass(frozen=True, slots=True)
class HostUp:
    """Good while the host's samples arrive (fleetmon.hub.sla.uptime)."""

    kind: ClassVar[str] = HOST_UP


@dataclass(frozen=True, slots=True)
class CheckPasses:
    """Good while the last result of check ``name`` passed and is not stale; ``stale_after`` None: three
    times the observed median spacing of its results. ``host_up_required``: while the host is down (by the
    host_up rules) the check counts bad, since nobody could use what it checks."""

    name: str
    stale_after: float | None = None
    host_up_required: bool = False
    kind: ClassVar[str] = CHECK


@dataclass(frozen=True, slots=True)
class MetricBound:
    """Good in each minute whose mean of ``name`` (every series matching ``labels``) is below ``below`` or
    above ``above``: exactly one of them is set."""

    name: str
    below: float | None = None
    above: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    kind: ClassVar[str] = METRIC

    def good(self, mean: float) -> bool:
        return mean < self.below if self.below is not None else mean > self.above

    def describe(self) -> str:
        if self.below is not None:
            return f"{self.name} < {self.below:g}"
        return f"{self.name} > {self.above:g}"


Good = HostUp | CheckPasses | MetricBound


@dataclass(frozen=True, slots=True)
class SLO:
    name: str
    good: Good
    target: float  # percent, 0 < target < 100
    description: str = ""
    scope: Scope = field(default_factory=Scope)
    period: str = MONTHLY
    zone: tzinfo = _UTC
    schedule: tuple[str, ...] = ()  # names of time intervals; empty: all time counts
    exclude_maintenance: bool = True
    burn_alerts: bool = True

    @property
    def kind(self) -> str:
        return self.good.kind

    @property
    def error_ratio(self) -> float:
        """The share of eligible time that may be bad: 1 - target."""
        return 1.0 - self.target / 100.0


def parse_slos(node: Node, intervals: TimeIntervals) -> tuple[SLO, ...]:
    """The ``slos:`` list; errors go to the node's error list (reading never raises), each with its path,
    e.g. ``slos[2].target: must be between 0 and 100, exclusive (got 100)``."""
    slos: list[SLO] = []
    names: set[str] = set()
    for item in node.sequence():
        if not isinstance(item.value, dict):
            item.fail("must be a mapping with the SLO's name, good, target")
            continue
        errors_before = len(item.errors)
        slo = _slo(item.mapping(SLO_KEYS), intervals)
        if len(item.errors) > errors_before:
            continue  # a wrong SLO is not kept, so that nothing counts what it did not mean
        if slo.name in names:
            item.child("name").fail(f"another SLO is already named {slo.name!r}")
            continue
        names.add(slo.name)
        slos.append(slo)
    return tuple(slos)


def _slo(node: Node, intervals: TimeIntervals) -> SLO:
    name_node = node.child("name")
    name = name_node.string("", pattern=_NAME)
    if name_node.missing:
        name_node.fail("required: the SLO's name, letters, digits and _ . -")
    target_node = node.child("target")
    target = target_node.number(None)
    if target_node.missing:
        target_node.fail("required: the target in percent, e.g. 99.9")
    elif target is not None and not 0 < target < 100:
        target_node.fail(f"must be between 0 and 100, exclusive (got {target:g})")
    good = _good(node.child("good"))
    return SLO(name=name, good=good or HostUp(), target=target or 0.0,
               description=node.child("description").string(""),
               scope=_scope(node.child("scope")),
               period=node.child("period").string(MONTHLY, choices=KINDS),
               zone=parse_zone(node.child("timezone"), local=False) or _UTC,
               schedule=_schedule(node.child("schedule"), intervals),
               exclude_maintenance=node.child("exclude_maintenance").boolean(True),
               burn_alerts=node.child("burn_alerts").boolean(True))


def _good(node: Node) -> Good | None:
    if node.missing:
        node.fail("required: one of host_up, check or metric")
        return None
    node = node.mapping((HOST_UP, CHECK, METRIC))
    given = [key for key in (HOST_UP, CHECK, METRIC) if key in node.value]
    if len(given) != 1:
        if isinstance(node.value, dict) and node.value:
            node.fail("give exactly one of host_up, check or metric" + (f" (got {', '.join(given)})" if given else ""))
        elif isinstance(node.value, dict):
            node.fail("required: one of host_up, check or metric")
        return None
    if given[0] == HOST_UP:
        up = node.child(HOST_UP)
        if up.value is not True:
            up.fail("must be true (the SLO counts the time the host is up)")
            return None
        return HostUp()
    if given[0] == CHECK:
        return _check(node.child(CHECK))
    return _metric(node.child(METRIC))


def _check(node: Node) -> CheckPasses | None:
    if not isinstance(node.value, dict):
        node.fail("must be a mapping with the check's name")
        return None
    node = node.mapping(("name", "stale_after", "host_up_required"))
    name_node = node.child("name")
    name = name_node.string("")
    if not name:
        name_node.fail("required: the name of the check, as the agent runs it")
    return CheckPasses(name=name, stale_after=node.child("stale_after").duration(None, minimum=1),
                       host_up_required=node.child("host_up_required").boolean(False))


def _metric(node: Node) -> MetricBound | None:
    if not isinstance(node.value, dict):
        node.fail("must be a mapping with the metric's name and a bound")
        return None
    node = node.mapping(("name", "below", "above", "labels"))
    name_node = node.child("name")
    name = name_node.string("", pattern=_METRIC)
    if name_node.missing:
        name_node.fail("required: the metric's name, e.g. fleetmon_cpu_usage_ratio")
    below, above = node.child("below").number(None), node.child("above").number(None)
    if (below is None) == (above is None):
        node.fail("give exactly one bound: below or above")
    return MetricBound(name=name, below=below, above=above, labels=node.child("labels").string_map())


def _scope(node: Node) -> Scope:
    node = node.mapping(("groups", "hosts", "matchers"))
    matchers = []
    for item in node.child("matchers").sequence():
        if not isinstance(item.value, str):
            item.fail("must be a matcher such as 'site=\"lab\"'")
            continue
        try:
            matchers.append(parse_matcher(item.value))
        except MatcherError as exc:
            item.fail(str(exc))
    return Scope(groups=tuple(node.child("groups").string_list()), hosts=tuple(node.child("hosts").string_list()),
                 matchers=tuple(matchers))


def _schedule(node: Node, intervals: TimeIntervals) -> tuple[str, ...]:
    names = []
    for item in node.sequence():
        name = item.string("")
        if not isinstance(item.value, str):
            item.fail("must be the name of a time interval")
        elif name not in intervals:
            known = ", ".join(intervals.names()) or "none are defined"
            item.fail(f"unknown time interval {name!r} (alerting.time_intervals: {known})")
        else:
            names.append(name)
    if isinstance(node.value, list) and not node.value:
        node.fail("must name at least one time interval (or leave schedule out: all time counts)")
    return tuple(names)
