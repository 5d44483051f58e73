"""The ``logs:`` section: its defaults, a full rule, and every error with its key path."""

from typing import Any, NamedTuple

import pytest

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.logs.config import LogRule, LogsConfig, RuleQuery, parse_logs


def parsed(section: Any) -> tuple[LogsConfig, list[str]]:
    errors = Errors()
    return parse_logs(Node(section, "logs", errors)), list(errors)


def test_defaults() -> None:
    config, errors = parsed(None)
    assert errors == []
    assert config == LogsConfig(retention_s=7 * 86400.0, max_lines=10_000_000, queue_lines=100_000, rules=())


def test_a_full_section() -> None:
    config, errors = parsed({
        "retention": "3d", "max_lines": 2_000_000, "queue_lines": 50_000,
        "rules": [{"name": "GpuFellOffBus", "query": {"unit": "", "priority": "err", "text": "NVRM Xid",
                                                      "regex": r"Xid \(PCI:[0-9a-f:.]+\): 79", "hosts": ["j1"],
                                                      "groups": ["edge"]},
                   "window": "10m", "threshold": 1, "per": "group", "severity": "critical", "for": "1m"},
                  {"name": "SshFailures", "query": {"unit": ["ssh.service", "sshd.service"],
                                                    "text": "Failed password"}}]})
    assert errors == []
    assert config.retention_s == 3 * 86400.0 and config.max_lines == 2_000_000 and config.queue_lines == 50_000
    assert config.rules == (
        LogRule("GpuFellOffBus", RuleQuery(("",), 3, "NVRM Xid", r"Xid \(PCI:[0-9a-f:.]+\): 79", ("j1",), ("edge",)),
                window_s=600.0, threshold=1, per="group", severity="critical", for_s=60.0),
        LogRule("SshFailures", RuleQuery(("ssh.service", "sshd.service"), None, "Failed password")),
    )
    assert config.rules[1].window_s == 300.0 and config.rules[1].per == "host" and config.rules[1].severity == "warning"


def test_a_rule_query_resolves_its_groups_at_each_evaluation() -> None:
    query = RuleQuery(units=("nginx.service",), priority=3, hosts=("web-09",), groups=("edge",))
    resolved = query.over({"j1": ("edge",), "w1": ("web",)}, 100.0, 400.0)
    assert (resolved.hosts, resolved.units, resolved.priority, resolved.start, resolved.end) == \
        (("j1", "web-09"), ("nginx.service",), 3, 100.0, 400.0)
    assert RuleQuery().over({"j1": ("edge",)}, 0, 1).hosts is None, "no hosts, no groups: every host"


class Wrong(NamedTuple):
    name: str
    section: Any
    error: str


RULE = {"name": "R", "query": {"text": "x"}}
WRONG = [
    Wrong("not a mapping", ["rules"], "logs: must be a mapping"),
    Wrong("an unknown key", {"retain": "1d"}, "logs.retain: unknown key (expected one of: max_lines, queue_lines, "
                                             "retention, rules)"),
    Wrong("retention not a duration", {"retention": "a week"}, "logs.retention: must be a duration"),
    Wrong("retention under a minute", {"retention": "10s"}, "logs.retention: must be at least 60"),
    Wrong("max_lines too small", {"max_lines": 10}, "logs.max_lines: must be at least 1000"),
    Wrong("queue_lines not an integer", {"queue_lines": "many"}, "logs.queue_lines: must be an integer"),
    Wrong("rules not a list", {"rules": {"name": "R"}}, "logs.rules: must be a list"),
    Wrong("a rule not a mapping", {"rules": ["R"]}, "logs.rules[0]: must be a mapping"),
    Wrong("no name", {"rules": [{"query": {"text": "x"}}]}, "logs.rules[0].name: is required"),
    Wrong("a name with spaces", {"rules": [{**RULE, "name": "GPU gone"}]}, "logs.rules[0].name: 'GPU gone' does "
                                                                          "not match"),
    Wrong("two rules of one name", {"rules": [RULE, RULE]}, "logs.rules[1].name: another rule is named 'R'"),
    Wrong("an unknown rule key", {"rules": [{**RULE, "count": 3}]}, "logs.rules[0].count: unknown key"),
    Wrong("an unknown query key", {"rules": [{"name": "R", "query": {"grep": "x"}}]},
          "logs.rules[0].query.grep: unknown key"),
    Wrong("a bad priority", {"rules": [{"name": "R", "query": {"priority": "loud"}}]},
          "logs.rules[0].query.priority: must be 0..7 or one of emerg"),
    Wrong("a broken text query", {"rules": [{"name": "R", "query": {"text": "(oom OR"}}]},
          "logs.rules[0].query.text: not a valid full-text query"),
    Wrong("a broken regex", {"rules": [{"name": "R", "query": {"regex": "Xid ("}}]},
          "logs.rules[0].query.regex: not a regular expression"),
    Wrong("a unit that is a number", {"rules": [{"name": "R", "query": {"unit": [5]}}]},
          "logs.rules[0].query.unit[0]: must be a string"),
    Wrong("hosts not a list of strings", {"rules": [{"name": "R", "query": {"hosts": [1]}}]},
          "logs.rules[0].query.hosts[0]: must be a string"),
    Wrong("per something else", {"rules": [{**RULE, "per": "unit"}]}, "logs.rules[0].per: must be one of: host, "
                                                                      "group, fleet"),
    Wrong("threshold zero", {"rules": [{**RULE, "threshold": 0}]}, "logs.rules[0].threshold: must be at least 1"),
    Wrong("a window longer than retention", {"retention": "1h", "rules": [{**RULE, "window": "2h"}]},
          "logs.rules[0].window: must not be longer than logs.retention"),
    Wrong("an empty severity", {"rules": [{**RULE, "severity": ""}]}, "logs.rules[0].severity: must not be empty"),
    Wrong("a negative for", {"rules": [{**RULE, "for": -5}]}, "logs.rules[0].for: must be at least 0"),
]


@pytest.mark.parametrize("case", WRONG, ids=[case.name for case in WRONG])
def test_errors_name_their_key_path(case: Wrong) -> None:
    _, errors = parsed(case.section)
    assert any(error.startswith(case.error) for error in errors), errors
