"""The `thresholds:` section of the agent config: aliases, units, defaults and errors with key paths."""

import json
import textwrap

import pytest

from fleetmon.agent.config import load_config, parse_config
from fleetmon.config_reader import ConfigError, Errors, Node
from fleetmon.protocol import catalog
from fleetmon.protocol.thresholds import (
    ALIAS_NAMES,
    ALIASES,
    ThresholdRule,
    parse_thresholds,
    resolved_metric,
    rule_to_json,
)


def parse(doc):
    errors = Errors()
    rules = parse_thresholds(Node(doc, "thresholds", errors))
    return {rule.name: rule for rule in rules}, list(errors)


def errors_of(doc):
    _, errors = parse(doc)
    assert errors, f"expected errors for {doc!r}"
    return errors


def test_alias_implies_metric_direction_and_alertname():
    rules, errors = parse({"cpu": {"warning": 0.85, "critical": 0.95}, "check": {"critical": 1}})
    assert errors == []
    assert rules["cpu"] == ThresholdRule(name="cpu", metric="fleetmon_cpu_usage_ratio", direction="above",
                                         warning=0.85, critical=0.95, alertname="HostCpuHigh")
    assert (rules["check"].metric, rules["check"].direction) == ("fleetmon_check_up", "below")
    assert rules["check"].alertname == "HostCheckFailing"


def test_every_alias_names_a_catalogue_metric():
    for name in ALIAS_NAMES:
        assert ALIASES[name].metric in catalog.BY_NAME, name
        assert resolved_metric(name) == ALIASES[name].metric
        rules, errors = parse({name: {"critical": 1}})
        assert errors == [] and rules[name].metric == ALIASES[name].metric


def test_resolved_metric_prefers_an_explicit_metric():
    assert resolved_metric("disk") == "fleetmon_filesystem_usage_ratio"
    assert resolved_metric("disk", "fleetmon_swap_usage_ratio") == "fleetmon_swap_usage_ratio"
    assert resolved_metric("queue_depth") is None


def test_alias_metric_can_be_overridden_and_keeps_its_direction():
    rules, errors = parse({"cpu": {"metric": "fleetmon_cpu_core_usage_ratio", "match": {"core": "0"},
                                   "critical": "99%"}})
    assert errors == []
    assert rules["cpu"].metric == "fleetmon_cpu_core_usage_ratio"
    assert rules["cpu"].match == {"core": "0"}


def test_percent_strings_for_ratio_levels_and_hysteresis():
    rules, errors = parse({"disk": {"warning": "85%", "critical": "95.5 %", "hysteresis": "5%", "for": "2m"}})
    assert errors == []
    disk = rules["disk"]
    assert disk.warning == pytest.approx(0.85)
    assert disk.critical == pytest.approx(0.955)
    assert disk.hysteresis == pytest.approx(0.05)
    assert disk.for_seconds == 120.0


def test_percent_is_refused_for_metrics_that_are_not_ratios():
    errors = errors_of({"temperature": {"warning": "80%"}})
    assert errors == ["thresholds.temperature.warning: must be a number"]


def test_custom_rule_gets_a_derived_alertname_unless_given():
    rules, errors = parse({
        "queue_depth": {"metric": "app_queue_depth", "scraped": True, "match": {"target": "worker"},
                        "warning": 100},
        "spare-disk": {"metric": "fleetmon_filesystem_free_bytes", "direction": "below", "critical": 1e9},
        "web_down": {"metric": "fleetmon_check_up", "match": {"check": "web"}, "direction": "below",
                     "critical": 1, "alertname": "WebsiteDown"},
    })
    assert errors == []
    assert rules["queue_depth"].alertname == "QueueDepthHigh"
    assert rules["spare-disk"].alertname == "SpareDiskLow"
    assert rules["web_down"].alertname == "WebsiteDown"


def test_scraped_metrics_take_any_label_in_match_and_summary():
    rules, errors = parse({"latency": {"metric": "http_request_duration_seconds", "scraped": True,
                                       "match": {"handler": "~/api/.*"}, "warning": 0.5,
                                       "summary": "{handler} is slow on {host}"}})
    assert errors == []
    assert rules["latency"].match == {"handler": "~/api/.*"}


def test_disabled_rule_is_left_out_but_still_checked():
    rules, errors = parse({"cpu": {"enabled": False}, "memory": {"enabled": False, "warning": "lots"}})
    assert rules == {}
    assert errors == ["thresholds.memory.warning: must be a number or a percentage like '85%'"]


@pytest.mark.parametrize("doc, expected", [
    ({"cpu": {"warning": "high"}}, "thresholds.cpu.warning: must be a number or a percentage like '85%'"),
    ({"jetson_power": {"critical": [1]}}, "thresholds.jetson_power.critical: must be a number"),
    ({"cpu": {"warning": 0.95, "critical": 0.9}},
     "thresholds.cpu.warning: must be at most critical (0.9) when direction is above"),
    ({"check": {"warning": 0, "critical": 1}},
     "thresholds.check.warning: must be at least critical (1) when direction is below"),
    ({"cpu": {"critical": 0.9, "treshold": 1}}, "thresholds.cpu.treshold: unknown key"),
    ({"cpu": {}}, "thresholds.cpu: needs a warning or a critical level (or enabled: false)"),
    ({"fan": {"metric": "fleetmon_fan_rpm", "warning": 1}},
     "thresholds.fan.metric: unknown metric 'fleetmon_fan_rpm'"),
    ({"fan": {"warning": 1}}, "thresholds.fan.metric: is required ('fan' is not a built-in alias: cpu,"),
    ({"disk": {"critical": "90%", "match": {"mountpoint": "/"}}},
     "thresholds.disk.match.mountpoint: fleetmon_filesystem_usage_ratio has no label 'mountpoint' "
     "(its labels: mount, device, fstype)"),
    ({"disk": {"critical": "90%", "match": {"mount": "~/data(["}}},
     "thresholds.disk.match.mount: bad regular expression '/data(['"),
    ({"cpu": {"critical": 0.9, "direction": "up"}}, "thresholds.cpu.direction: must be one of: above, below"),
    ({"cpu": {"critical": 0.9, "for": "soon"}}, "thresholds.cpu.for: must be a duration"),
    ({"cpu": {"critical": 0.9, "hysteresis": -0.1}}, "thresholds.cpu.hysteresis: must not be negative"),
    ({"cpu": {"critical": 0.9, "labels": {"severity": "page"}}},
     "thresholds.cpu.labels.severity: is set by the agent"),
    ({"cpu": {"critical": 0.9, "labels": {"team-name": "ops"}}},
     "thresholds.cpu.labels.team-name: label names must match"),
    ({"cpu": {"critical": 0.9, "alertname": "cpu is high"}},
     "thresholds.cpu.alertname: 'cpu is high' does not match"),
    ({"disk": {"critical": 0.9, "summary": "{mountpoint} is full"}},
     "thresholds.disk.summary: unknown placeholder {mountpoint}"),
    ({"disk": {"critical": 0.9, "summary": "{value:.1f} used"}},
     "thresholds.disk.summary: placeholders must be plain names such as {host} or {mount} (got {value:.1f})"),
    ({"disk": {"critical": 0.9, "summary": "{mount"}}, "thresholds.disk.summary: bad template"),
    ({"cpu!": {"critical": 0.9}}, "thresholds.cpu!: rule names must start with a letter"),
    ({"cpu": 0.9}, "thresholds.cpu: must be a mapping"),
])
def test_errors_name_the_key_path(doc, expected):
    errors = errors_of(doc)
    assert any(error.startswith(expected) for error in errors), errors


def test_every_error_is_reported_at_once():
    errors = errors_of({"cpu": {"warning": "x", "critical": 0.9, "oops": 1},
                        "disk": {"critical": 0.9, "match": {"nope": "/"}}})
    assert len(errors) == 3


def test_agent_config_file_carries_thresholds(tmp_path):
    path = tmp_path / "agent.yml"
    path.write_text(textwrap.dedent("""\
        host_id: jetson-01
        thresholds:
          jetson_temperature:
            match: {zone: "~cpu|gpu"}
            warning: 85
            critical: 95
            for: 30s
            labels: {team: robotics}
          disk:
            match: {mount: /}
            critical: 95%
        """))
    config = load_config(str(path))
    rules = {rule.name: rule for rule in config.thresholds}
    assert rules["jetson_temperature"].metric == "fleetmon_jetson_temperature_celsius"
    assert rules["jetson_temperature"].for_seconds == 30.0
    assert rules["jetson_temperature"].labels == {"team": "robotics"}
    assert rules["disk"].critical == pytest.approx(0.95)
    # The birth message carries each rule so the hub knows the host's thresholds.
    described = json.loads(json.dumps([rule_to_json(rule) for rule in config.thresholds]))
    assert described[1] == {"name": "disk", "metric": "fleetmon_filesystem_usage_ratio",
                            "match": {"mount": "/"}, "direction": "above", "warning": None,
                            "critical": pytest.approx(0.95), "for_s": 0.0, "hysteresis": 0.0, "labels": {},
                            "alertname": "HostDiskUsageHigh"}


def test_bad_thresholds_fail_the_whole_config_with_key_paths():
    with pytest.raises(ConfigError) as caught:
        parse_config({"thresholds": {"cpu": {"warning": "high"}, "memory": {"critical": 2, "bogus": True}}})
    assert "thresholds.cpu.warning: must be a number or a percentage like '85%'" in caught.value.errors
    assert any(error.startswith("thresholds.memory.bogus: unknown key") for error in caught.value.errors)
