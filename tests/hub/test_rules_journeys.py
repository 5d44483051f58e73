"""JourneyFailing from synthetic host views: how many locations must fail, which hosts count as locations,
what the alert says, and how it behaves over time through ActiveAlerts as the hub runs it."""

from typing import Any, NamedTuple

import pytest
import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.model import OFFLINE, ONLINE, SILENT, HostView
from fleetmon.hub.rules import ActiveAlerts, RulesConfig, evaluate, parse_rules
from fleetmon.hub.rules.config import JourneyFailingRule
from fleetmon.hub.rules.journeys import failing_step, journey_failing

T0 = 1_763_740_000.0


def result(ok: bool, check: str = "shop", check_type: str = "journey", step: int = 3) -> dict[str, Any]:
    """A journey result as the checks message carries it: failing at ``step`` (orders) when not ok."""
    steps = [{"index": i, "name": name, "status": "ok", "message": "200", "http_status": 200, "timings_s": {},
              "extracted": [], "always": False} for i, name in enumerate(("form", "token", "orders", "logout"), 1)]
    if not ok:
        steps[step - 1].update(status="fail", message="GET http://shop/api/orders: 503 in 4 ms, expected status 2xx")
        for later in steps[step:-1]:
            later.update(status="skipped", message=f"not run: step {step} failed")
    message = "4 steps passed in 20 ms" if ok else f"step {step} ({steps[step - 1]['name']}) failed: ..."
    return {"name": check, "type": check_type, "ok": ok, "status": "ok" if ok else "fail", "message": message,
            "started_at": T0, "duration_s": 0.02, "value": 0.02, "consecutive_failures": 0 if ok else 1,
            "steps": steps}


def probe(host: str, ok: bool, state: str = ONLINE, **more: dict[str, Any]) -> HostView:
    return HostView(host=host, state=state, since=T0, labels={"site": host[-1]}, checks={"shop": result(ok), **more})


class Case(NamedTuple):
    name: str
    why: str
    hosts: list[HostView]
    locations: str | None  # the failing locations a JourneyFailing names, None when none fires
    rule: JourneyFailingRule = JourneyFailingRule()


CASES = [
    Case("all pass", "nothing fails", [probe("probe-a", True), probe("probe-b", True), probe("probe-c", True)], None),
    Case("one of three", "one probe failing alone is most likely its own network: no page",
         [probe("probe-a", False), probe("probe-b", True), probe("probe-c", True)], None),
    Case("two of three", "two sites see it: the service is broken",
         [probe("probe-a", False), probe("probe-b", False), probe("probe-c", True)], "probe-a, probe-b"),
    Case("three of three", "everyone sees it", [probe("probe-a", False), probe("probe-b", False),
                                               probe("probe-c", False)], "probe-a, probe-b, probe-c"),
    Case("one of two", "min_locations 2 of 2 running: one alone is not enough",
         [probe("probe-a", False), probe("probe-b", True)], None),
    Case("the only location", "fewer hosts run it than min_locations: all of them is enough",
         [probe("probe-a", False)], "probe-a"),
    Case("an offline failing host is no location", "its last result is old news (HostDown speaks for it): one of "
         "the two online probes fails", [probe("probe-a", False, OFFLINE), probe("probe-b", False),
                                         probe("probe-c", True)], None),
    Case("a silent failing host is no location", "as offline: no samples, so its results may be old",
         [probe("probe-a", False, SILENT), probe("probe-b", False), probe("probe-c", True)], None),
    Case("offline hosts leave fewer locations", "only probe-c still runs the journey, and it fails: all of them",
         [probe("probe-a", True, OFFLINE), probe("probe-b", True, OFFLINE), probe("probe-c", False)], "probe-c"),
    Case("other check types do not count", "an http check failing on two hosts is HostCheckFailing's, per host",
         [HostView(host=h, state=ONLINE, since=T0, checks={"shop": result(False, check_type="http")})
          for h in ("probe-a", "probe-b")], None),
    Case("min_locations 3, two fail", "the bar is raised", [probe("probe-a", False), probe("probe-b", False),
                                                            probe("probe-c", True)], None, JourneyFailingRule(
        min_locations=3)),
    Case("min_locations 3, three fail", "the raised bar is met", [probe("probe-a", False), probe("probe-b", False),
                                                                  probe("probe-c", False)],
         "probe-a, probe-b, probe-c", JourneyFailingRule(min_locations=3)),
    Case("min_locations 3, both of two fail", "fewer locations than the bar: all of them is enough",
         [probe("probe-a", False), probe("probe-b", False)], "probe-a, probe-b", JourneyFailingRule(min_locations=3)),
    Case("min_locations 1", "a user who wants every failure paged", [probe("probe-a", False), probe("probe-b", True)],
         "probe-a", JourneyFailingRule(min_locations=1)),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_journey_failing_fires_on_enough_locations(case):
    alerts = journey_failing(case.hosts, case.rule, T0)
    assert [a.annotations["locations"] for a in alerts] == ([] if case.locations is None else [case.locations]), \
        case.why


def test_the_alert_names_the_journey_its_locations_and_their_failing_steps():
    hosts = [probe("probe-a", False), probe("probe-b", True), probe("probe-c", False)]
    [alert] = journey_failing(hosts, JourneyFailingRule(severity="page", for_s=60.0), T0)
    # no host and no inventory label: the failing hosts change while the outage is one
    assert alert.labels == {"alertname": "JourneyFailing", "check": "shop", "severity": "page"}
    assert alert.annotations == {
        "summary": "journey shop fails from 2 of 3 locations: probe-a, probe-c",
        "locations": "probe-a, probe-c",
        "passing_locations": "probe-b",
        "failing_steps": "probe-a: step 3 (orders): GET http://shop/api/orders: 503 in 4 ms, expected status 2xx; "
                         "probe-c: step 3 (orders): GET http://shop/api/orders: 503 in 4 ms, expected status 2xx",
    }
    assert (alert.since, alert.for_s) == (T0, 60.0)


def test_each_journey_is_judged_alone():
    hosts = [probe(h, ok=True, web=result(False, check="web")) for h in ("probe-a", "probe-b")]
    hosts.append(probe("probe-c", True, web=result(True, check="web")))
    [alert] = journey_failing(hosts, JourneyFailingRule(), T0)
    assert alert.labels["check"] == "web" and alert.annotations["passing_locations"] == "probe-c"


class StepCase(NamedTuple):
    name: str
    why: str
    result: dict[str, Any]
    text: str


STEPS = [
    StepCase("a failed step", "the first step whose status is fail", result(False, step=2),
             "step 2 (token): GET http://shop/api/orders: 503 in 4 ms, expected status 2xx"),
    StepCase("no step failed", "a secret that could not be read fails the journey before any step",
             {"ok": False, "message": "cannot read secret password from /etc/x: Permission denied",
              "steps": [{"index": 1, "name": "a", "status": "skipped"}]},
             "cannot read secret password from /etc/x: Permission denied"),
    StepCase("steps that are no list", "an agent's message is input: a bad shape falls back to the message",
             {"ok": False, "message": "broken", "steps": "step 1"}, "broken"),
    StepCase("a long reason", "an annotation carries a line, not a response body",
             {"ok": False, "message": "x" * 500}, "x" * 197 + "..."),
]


@pytest.mark.parametrize("case", STEPS, ids=[case.name for case in STEPS])
def test_failing_step(case):
    assert failing_step(case.result) == case.text, case.why


def test_one_outage_is_one_alert_while_the_failing_probes_change():
    active = ActiveAlerts()
    config = RulesConfig()

    def at(offset, *failing):
        hosts = [probe(h, h not in failing) for h in ("probe-a", "probe-b", "probe-c")]
        return active.update(evaluate(config, hosts, [], T0 + offset), T0 + offset)

    assert at(0, "probe-a") == []
    [fired] = at(10, "probe-a", "probe-b")
    assert fired["status"] == "firing" and fired["annotations"]["locations"] == "probe-a, probe-b"
    assert at(20, "probe-b", "probe-c") == []  # the same alert, its annotations follow
    assert active.firing()[0]["annotations"]["locations"] == "probe-b, probe-c"
    [resolved] = at(30, "probe-c")
    assert resolved["status"] == "resolved" and resolved["fingerprint"] == fired["fingerprint"]


def test_for_delays_the_alert_and_enabled_false_turns_it_off():
    hosts = [probe("probe-a", False), probe("probe-b", False)]
    waiting = RulesConfig(journey_failing=JourneyFailingRule(for_s=120.0))
    active = ActiveAlerts()
    assert active.update(evaluate(waiting, hosts, [], T0), T0) == []
    assert [a["labels"]["alertname"] for a in active.update(evaluate(waiting, hosts, [], T0 + 120), T0 + 120)] == [
        "JourneyFailing"]
    off = RulesConfig(journey_failing=JourneyFailingRule(enabled=False))
    assert evaluate(off, hosts, [], T0) == []


def parse(text: str) -> tuple[RulesConfig, list[str]]:
    errors = Errors()
    config = parse_rules(Node(yaml.safe_load(text), "rules", errors))
    return config, list(errors)


def test_the_rule_reads_its_keys_and_names_its_errors():
    assert parse("")[0].journey_failing == JourneyFailingRule(enabled=True, severity="critical", for_s=0.0,
                                                              min_locations=2)
    config, errors = parse("journey_failing: {severity: page, for: 2m, min_locations: 3}")
    assert errors == [] and config.journey_failing == JourneyFailingRule(severity="page", for_s=120.0,
                                                                         min_locations=3)
    _, errors = parse("journey_failing: {min_locations: 0, locations: 2}")
    assert errors == ["rules.journey_failing.locations: unknown key (expected one of: enabled, for, min_locations, "
                      "severity)", "rules.journey_failing.min_locations: must be at least 1 (got 0)"]
