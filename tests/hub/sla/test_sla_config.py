"""The ``slos:`` section (fleetmon.hub.sla.config): what a full entry reads as, and every refusal with the
key path that names the wrong value."""

from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest
import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.timeintervals import TimeIntervals, TimeSpec
from fleetmon.hub.sla.config import SLO, CheckPasses, HostUp, MetricBound, Scope, parse_slos

INTERVALS = TimeIntervals({"business_hours": (TimeSpec(times=((540, 1020),)),), "weekends": (TimeSpec(),)})


def parsed(text: str) -> tuple[tuple[SLO, ...], list[str]]:
    errors = Errors()
    slos = parse_slos(Node(yaml.safe_load(text), "slos", errors), INTERVALS)
    return slos, list(errors)


def test_a_full_entry() -> None:
    slos, errors = parsed("""
        - name: jetsons-up
          description: every Jetson answers
          scope: {groups: [jetsons], hosts: [jetson-01, jetson-02], matchers: ['site="lab"']}
          good: {host_up: true}
          target: 99.9
          period: quarterly
          timezone: Europe/Berlin
          schedule: [business_hours]
          exclude_maintenance: false
          burn_alerts: false
        - name: api
          good: {check: {name: api, stale_after: 5m, host_up_required: true}}
          target: 99.5
        - name: cpu
          good: {metric: {name: fleetmon_cpu_usage_ratio, below: 0.9, labels: {cpu: total}}}
          target: 95
    """)
    assert errors == []
    jetsons, api, cpu = slos
    assert (jetsons.name, jetsons.description, jetsons.good, jetsons.target, jetsons.period, jetsons.zone,
            jetsons.schedule, jetsons.exclude_maintenance, jetsons.burn_alerts) == (
        "jetsons-up", "every Jetson answers", HostUp(), 99.9, "quarterly", ZoneInfo("Europe/Berlin"),
        ("business_hours",), False, False)
    assert jetsons.scope.covers("jetson-01", ("jetsons",), {"site": "lab"})
    assert not jetsons.scope.covers("jetson-01", ("jetsons",), {"site": "home"}), "every criterion must hold"
    assert not jetsons.scope.covers("jetson-03", ("jetsons",), {"site": "lab"})
    assert api.good == CheckPasses("api", stale_after=300.0, host_up_required=True)
    assert (api.period, api.zone, api.schedule, api.exclude_maintenance, api.burn_alerts) == (
        "monthly", ZoneInfo("UTC"), (), True, True), "the defaults"
    assert cpu.good == MetricBound("fleetmon_cpu_usage_ratio", below=0.9, labels={"cpu": "total"})
    assert cpu.scope == Scope() and cpu.scope.covers("any", (), {}), "no scope: the whole fleet"
    assert cpu.error_ratio == pytest.approx(0.05)


def test_no_slos_section() -> None:
    assert parsed("null") == ((), [])


class Refused(NamedTuple):
    name: str
    entry: dict[str, Any]
    error: str


BASE = {"name": "up", "good": {"host_up": True}, "target": 99.9}

REFUSED = [
    Refused("no name", {"good": {"host_up": True}, "target": 99}, "slos[0].name: required: the SLO's name"),
    Refused("a bad name", {**BASE, "name": "api up"}, "slos[0].name: 'api up' does not match"),
    Refused("no target", {"name": "up", "good": {"host_up": True}}, "slos[0].target: required"),
    Refused("target 100", {**BASE, "target": 100}, "slos[0].target: must be between 0 and 100, exclusive (got 100)"),
    Refused("target as text", {**BASE, "target": "99.9%"}, "slos[0].target: must be a number"),
    Refused("no good", {"name": "up", "target": 99}, "slos[0].good: required: one of host_up, check or metric"),
    Refused("two goods", {**BASE, "good": {"host_up": True, "check": {"name": "api"}}},
            "slos[0].good: give exactly one of host_up, check or metric (got host_up, check)"),
    Refused("host_up false", {**BASE, "good": {"host_up": False}}, "slos[0].good.host_up: must be true"),
    Refused("check without a name", {**BASE, "good": {"check": {}}}, "slos[0].good.check.name: required"),
    Refused("check as text", {**BASE, "good": {"check": "api"}}, "slos[0].good.check: must be a mapping"),
    Refused("check name empty", {**BASE, "good": {"check": {"name": ""}}}, "slos[0].good.check.name: required"),
    Refused("bad staleness", {**BASE, "good": {"check": {"name": "api", "stale_after": "soon"}}},
            "slos[0].good.check.stale_after: must be a duration"),
    Refused("metric without a bound", {**BASE, "good": {"metric": {"name": "fleetmon_load1"}}},
            "slos[0].good.metric: give exactly one bound: below or above"),
    Refused("metric with both bounds", {**BASE, "good": {"metric": {"name": "fleetmon_load1", "below": 4,
                                                                    "above": 1}}},
            "slos[0].good.metric: give exactly one bound: below or above"),
    Refused("a metric name that is none", {**BASE, "good": {"metric": {"name": "cpu usage", "below": 1}}},
            "slos[0].good.metric.name: 'cpu usage' does not match"),
    Refused("unknown period", {**BASE, "period": "hourly"}, "slos[0].period: must be one of: daily, weekly, monthly"),
    Refused("unknown zone", {**BASE, "timezone": "Mars/Olympus"}, "slos[0].timezone: unknown time zone 'Mars/Olympus'"),
    Refused("unknown interval", {**BASE, "schedule": ["office"]},
            "slos[0].schedule[0]: unknown time interval 'office' (alerting.time_intervals: business_hours, weekends)"),
    Refused("empty schedule", {**BASE, "schedule": []}, "slos[0].schedule: must name at least one time interval"),
    Refused("a bad matcher", {**BASE, "scope": {"matchers": ["site=~("]}}, "slos[0].scope.matchers[0]:"),
    Refused("an unknown scope key", {**BASE, "scope": {"group": ["jetsons"]}}, "slos[0].scope.group: unknown key"),
    Refused("an unknown key", {**BASE, "window": "30d"}, "slos[0].window: unknown key"),
    Refused("not a mapping", "up", "slos[0]: must be a mapping"),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_refused(case: Refused) -> None:
    errors = Errors()
    slos = parse_slos(Node([case.entry], "slos", errors), INTERVALS)
    assert slos == (), "a wrong SLO is not kept"
    assert any(error.startswith(case.error) for error in errors), errors


def test_names_are_unique() -> None:
    errors = Errors()
    slos = parse_slos(Node([BASE, BASE], "slos", errors), INTERVALS)
    assert [slo.name for slo in slos] == ["up"]
    assert errors == ["slos[1].name: another SLO is already named 'up'"]
