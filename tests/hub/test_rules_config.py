"""The `rules:` section: defaults, units, and errors that name their key path."""

import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.rules import RulesConfig, parse_rules


def parse(text):
    errors = Errors()
    config = parse_rules(Node(yaml.safe_load(text), "rules", errors))
    return config, list(errors)


def test_a_missing_section_means_every_default():
    config, errors = parse("")
    assert errors == []
    assert config == RulesConfig()
    assert config.host_down.severity == "critical" and config.host_down.for_s == 0.0
    assert config.host_missing.for_s == 300.0
    assert config.history() == {"fleetmon_filesystem_usage_ratio": 21600.0, "fleetmon_memory_usage_ratio": 21600.0}


def test_a_full_section_reads_durations_percentages_and_per_host_overrides():
    config, errors = parse("""
host_down:
  severity: page
  for: 30s
  down_on_shutdown: true
  per_host: {jetson-07: {for: 5m}}
host_missing: {enabled: false}
predictive:
  metrics: [fleetmon_filesystem_usage_ratio]
  window: 12h
  horizon: 2d
  limit: 90%
  min_points: 20
  min_span: 2h
  min_r2: 0.7
cascading_failure: {window: 2m, min_hosts: 5, min_fraction: 30%}
resource_trend: {metrics: [fleetmon_swap_usage_ratio], window: 1d, min_slope: 0.5%}
load_imbalance: {for: 15m, min_mean: 30%, max_cv: 0.8}
heartbeat_degraded: {factor: 2, min_gaps: 10}
""")
    assert errors == []
    assert config.host_down.for_host("jetson-07") == 300.0
    assert config.host_down.for_host("srv-01") == 30.0
    assert config.host_down.down_on_shutdown and config.host_down.severity == "page"
    assert not config.host_missing.enabled
    predictive = config.predictive
    assert (predictive.window_s, predictive.horizon_s, predictive.limit, predictive.min_points,
            predictive.min_span_s, predictive.min_r2) == (43200.0, 172800.0, 0.9, 20, 7200.0, 0.7)
    assert (config.cascading_failure.window_s, config.cascading_failure.min_hosts,
            config.cascading_failure.min_fraction) == (120.0, 5, 0.3)
    assert config.resource_trend.min_slope_per_hour == 0.005
    assert (config.load_imbalance.for_s, config.load_imbalance.min_mean) == (900.0, 0.3)
    assert (config.heartbeat_degraded.factor, config.heartbeat_degraded.min_gaps) == (2.0, 10)
    assert config.history() == {"fleetmon_filesystem_usage_ratio": 43200.0, "fleetmon_swap_usage_ratio": 86400.0}


def test_disabled_rules_are_not_queried_for_history():
    config, _ = parse("predictive: {enabled: false}\nresource_trend: {enabled: false}")
    assert config.history() == {}


def test_errors_carry_key_paths():
    _, errors = parse("""
host_down:
  for: soon
  per_host: {jetson-07: {grace: 5m}}
predictive:
  horizon: tomorrow
  limit: full
  metrics: [fleetmon_nope, fleetmon_disk_read_bytes_total]
  min_span: 12h
cascading_failure: {min_hosts: 1, min_fraction: 150%}
resource_trend: {min_slope: 0}
load_imbalance: {metric: fleetmon_filesystem_usage_ratio, max_cv: -1}
heartbeat_degraded: {factor: 1, severity: ""}
host_dwn: {}
""")
    expected = [
        "rules.host_down.for: must be a duration",
        "rules.host_down.per_host.jetson-07.grace: unknown key",
        "rules.host_down.per_host.jetson-07: needs a 'for'",
        "rules.predictive.horizon: must be a duration",
        "rules.predictive.limit: must be a number or a percentage",
        "rules.predictive.metrics[0]: 'fleetmon_nope' is not a gauge",
        "rules.predictive.metrics[1]: 'fleetmon_disk_read_bytes_total' is not a gauge",
        "rules.predictive.min_span: must not exceed window",
        "rules.cascading_failure.min_hosts: must be at least 2",
        "rules.cascading_failure.min_fraction: must be above 0 and at most 1",
        "rules.resource_trend.min_slope: must be above 0",
        "rules.load_imbalance.metric: 'fleetmon_filesystem_usage_ratio' is not an unlabelled gauge",
        "rules.load_imbalance.max_cv: must be above 0",
        "rules.heartbeat_degraded.factor: must be above 1",
        "rules.heartbeat_degraded.severity: must not be empty",
        "rules.host_dwn: unknown key",
    ]
    for line in expected:
        assert any(error.startswith(line) for error in errors), (line, errors)
    assert len(errors) == len(expected), errors


def test_a_section_that_is_not_a_mapping_is_an_error():
    _, errors = parse("[host_down]")
    assert errors == ["rules: must be a mapping"]
    _, errors = parse("predictive: {metrics: []}")
    assert errors == ["rules.predictive.metrics: must name at least one metric"]
