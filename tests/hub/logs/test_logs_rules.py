"""Log rules: which alerts a rule's matches make (window, threshold, per host, group or fleet, ``for``), what
their labels and annotations say, and the whole evaluation against a real store."""

import urllib.parse
from pathlib import Path
from typing import NamedTuple

import pytest

from fleetmon.hub.logs.config import LogRule, RuleQuery
from fleetmon.hub.logs.reads import HostCount
from fleetmon.hub.logs.rules import evaluate_log_rules, log_alerts
from fleetmon.hub.logs.search import LogLine, LogQuery
from fleetmon.hub.rules.alerts import ActiveAlerts
from fleetmon.protocol.messages import rfc3339
from tests.hub.logs.journal import T0, entry, filled

NOW = T0
BASE = "https://hub.example/api/v1/logs"
GROUPS = {"a": ("edge",), "b": ("edge", "cameras"), "c": ("web",), "lab": ()}


class Lines:
    """Lines in memory, counted as the store counts them (hosts, priority, the window's entry times)."""

    def __init__(self, lines: list[tuple[str, float, str]], now: float = NOW) -> None:
        self.lines = [LogLine(n, host, now - ago, 3, "", "kernel", None, "kernel", message)
                      for n, (host, ago, message) in enumerate(lines, start=1)]

    def count_matches(self, query: LogQuery, sample: int = 5) -> list[HostCount]:
        found: dict[str, list[LogLine]] = {}
        for line in sorted(self.lines, key=lambda line: -line.id):
            if (query.hosts is None or line.host in query.hosts) and query.start <= line.ts <= query.end:
                found.setdefault(line.host, []).append(line)
        return [HostCount(host, len(lines), tuple(lines[:sample])) for host, lines in sorted(found.items())]


def rule(per: str = "host", threshold: int = 3, window: float = 300.0, **query) -> LogRule:
    return LogRule("DiskErrors", RuleQuery(**query), window_s=window, threshold=threshold, per=per,
                   severity="critical")


def at(host: str, *agos: float) -> list[tuple[str, float, str]]:
    return [(host, ago, f"disk error {ago:g}s ago") for ago in agos]


class Case(NamedTuple):
    name: str
    why: str
    rule: LogRule
    lines: list[tuple[str, float, str]]  # (host, seconds before now, message)
    fires: list[tuple[str, str]]  # (the alert's host or group label, its count); ("", n) for the fleet


CASES = [
    Case("inside the window", "three lines in the last 5 minutes reach the threshold", rule(), at("a", 10, 60, 200),
         [("a", "3")]),
    Case("partly outside the window", "the line 10 minutes ago is not counted", rule(), at("a", 10, 60, 600), []),
    Case("the window's edge", "a line exactly one window ago still counts", rule(), at("a", 10, 60, 300),
         [("a", "3")]),
    Case("a longer window", "the same lines over 15 minutes", rule(window=900), at("a", 10, 60, 600), [("a", "3")]),
    Case("below the threshold", "two lines, threshold 3", rule(), at("a", 1, 2), []),
    Case("above the threshold", "the count is the alert's, not the threshold", rule(), at("a", 1, 2, 3, 4, 5),
         [("a", "5")]),
    Case("threshold 1", "any line fires", rule(threshold=1), at("c", 30), [("c", "1")]),
    Case("per host, spread out", "two lines on each of two hosts: neither host reaches 3", rule(),
         at("a", 1, 2) + at("c", 1, 2), []),
    Case("per host, each its own", "each host that reaches the threshold is its own alert", rule(),
         at("a", 1, 2, 3) + at("c", 1, 2, 3, 4), [("a", "3"), ("c", "4")]),
    Case("per fleet", "the same spread-out lines over the whole fleet", rule(per="fleet"),
         at("a", 1, 2) + at("c", 1, 2), [("", "4")]),
    Case("per group", "a and b are both in edge: 2 + 1; b's line also counts in cameras (1)", rule(per="group"),
         at("a", 1, 2) + at("b", 1) + at("c", 1, 2), [("edge", "3")]),
    Case("per group, a host in two groups", "b's lines count in edge and in cameras",
         rule(per="group"), at("b", 1, 2, 3), [("cameras", "3"), ("edge", "3")]),
    Case("per group, a host in none", "it counts in ungrouped, as the fleet's group roll-ups show it",
         rule(per="group", threshold=1), at("lab", 5), [("ungrouped", "1")]),
    Case("per group, the rule's groups only", "a rule that names cameras does not alert on edge",
         rule(per="group", groups=("cameras",)), at("a", 1, 2, 3) + at("b", 1, 2, 3), [("cameras", "3")]),
    Case("the rule's hosts", "lines of other hosts are not counted", rule(per="fleet", hosts=("c",)),
         at("a", 1, 2, 3) + at("c", 1, 2), []),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_which_alerts_a_rule_makes(case: Case) -> None:
    alerts = evaluate_log_rules([case.rule], Lines(case.lines), GROUPS, NOW, BASE)
    fired = [(alert.labels.get("host") or alert.labels.get("group") or "", alert.annotations["count"])
             for alert in alerts]
    assert fired == case.fires, case.why
    for alert in alerts:
        assert (alert.labels["alertname"], alert.labels["severity"], alert.since) == ("DiskErrors", "critical", NOW)


def test_labels_and_annotations() -> None:
    many = at("a", *range(8, 0, -1))  # oldest first, as a journal is sent
    (alert,) = evaluate_log_rules([rule(units=("",), priority=3, text='"disk error"')], Lines(many), GROUPS, NOW, BASE)
    assert dict(alert.labels) == {"alertname": "DiskErrors", "severity": "critical", "host": "a"}
    notes = alert.annotations
    assert notes["summary"] == "8 log lines matching DiskErrors's query in the last 5m on a (threshold 3)"
    assert (notes["count"], notes["window"], notes["threshold"]) == ("8", "5m", "3")
    assert notes["lines"].splitlines() == [f"{rfc3339(NOW - ago)} a kernel: disk error {ago}s ago"
                                           for ago in range(1, 6)], "the five newest, newest first"
    url = urllib.parse.urlsplit(notes["search"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == BASE
    assert urllib.parse.parse_qsl(url.query, keep_blank_values=True) == [
        ("host", "a"), ("unit", ""), ("priority", "err"), ("start", f"{NOW - 300:.3f}"), ("end", f"{NOW:.3f}"),
        ("q", '"disk error"')]
    assert "regex" not in notes


def test_a_group_alert_links_the_groups_search_and_a_regex_is_named() -> None:
    (alert,) = evaluate_log_rules([rule(per="group", groups=("cameras",), regex="error")],
                                  Lines(at("b", 1, 2, 3)), GROUPS, NOW, BASE)
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(alert.annotations["search"]).query)
    assert params["group"] == ["cameras"] and "host" not in params
    assert alert.annotations["regex"] == "error"
    assert alert.annotations["summary"].endswith("in group cameras (threshold 3)")


def test_a_count_a_regex_rule_stopped_at_is_a_lower_bound() -> None:
    line = LogLine(1, "a", NOW, 3, "", "kernel", None, "kernel", "x")
    (alert,) = log_alerts(rule(), LogQuery(), [HostCount("a", 50_000, (line,), capped=True)], GROUPS, NOW, BASE)
    assert alert.annotations["count"] == "at least 50000"


class Step(NamedTuple):
    after: float  # seconds after the first evaluation
    lines: list[tuple[str, float, str]]
    transitions: list[str]  # the statuses ActiveAlerts emits


FOR = [
    Step(0, at("a", 1, 2, 3), []),  # pending: for 60 s
    Step(30, at("a", 1, 2, 3), []),
    Step(59, at("a", 1, 2, 3), []),
    Step(60, at("a", 1, 2, 3), ["firing"]),  # held for 60 s: fires, startsAt = first + 60
    Step(90, at("a", 1, 2, 3), []),  # still firing: no new transition
    Step(120, at("a", 1, 2), ["resolved"]),  # below the threshold
    Step(150, at("a", 1, 2, 3), []),  # pending again, from the start
]


def test_for_holds_the_count_before_it_fires() -> None:
    held = LogRule("DiskErrors", RuleQuery(), threshold=3, for_s=60.0)
    active = ActiveAlerts()
    for step in FOR:
        now = NOW + step.after
        transitions = active.update(evaluate_log_rules([held], Lines(step.lines, now), GROUPS, now, BASE), now)
        assert [t["status"] for t in transitions] == step.transitions, f"at +{step.after:g} s"
        if step.transitions == ["firing"]:
            assert transitions[0]["startsAt"] == rfc3339(NOW + 60)


def test_against_the_store(tmp_path: Path) -> None:
    store = filled(tmp_path, {
        "j1": [entry(n, f"NVRM: Xid 79 #{n}", ts=NOW - n * 60, priority=3, unit="") for n in range(3, 0, -1)],
        "j2": [entry(1, "NVRM: Xid 79 long ago", ts=NOW - 3600, priority=3, unit="")],
        "w1": [entry(1, "GET / 200", ts=NOW - 30)]})
    gpu = LogRule("GpuFellOffBus", RuleQuery(units=("",), priority=3, text="NVRM"), window_s=600, threshold=2)
    (alert,) = evaluate_log_rules([gpu], store, {"j1": ("edge",), "j2": ("edge",)}, NOW, BASE)
    assert alert.labels["host"] == "j1" and alert.annotations["count"] == "3"
    assert alert.annotations["lines"].splitlines()[0].endswith("j1 app: NVRM: Xid 79 #1")
    per_group = LogRule("GpuFellOffBus", gpu.query, window_s=7200, threshold=4, per="group")
    (alert,) = evaluate_log_rules([per_group], store, {"j1": ("edge",), "j2": ("edge",)}, NOW, BASE)
    assert (alert.labels["group"], alert.annotations["count"]) == ("edge", "4")
    store.close()
