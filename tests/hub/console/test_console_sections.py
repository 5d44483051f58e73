"""The host page's view of a host's series (fleetmon.hub.web.host_series): section, unit and help of each,
the birth's thresholds as lines; and the tier a bucketed read (a heatmap) is answered from."""

from typing import Any, NamedTuple

import pytest

from fleetmon.hub.store import StoreConfig
from fleetmon.hub.store.config import pick_tier_for_buckets
from fleetmon.hub.web.host_series import SECTIONS, describe, section_of, threshold_lines
from fleetmon.protocol import catalog


class Section(NamedTuple):
    metric: str
    want: str


SECTION_CASES = [
    # The catalogue files each metric under its collector.
    Section("fleetmon_cpu_usage_ratio", "system"),
    Section("fleetmon_filesystem_usage_ratio", "system"),
    Section("fleetmon_jetson_power_watts", "jetson"),
    # NVML's metrics are the GPU section (the collector is named after the library).
    Section("fleetmon_gpu_utilization_ratio", "gpu"),
    Section("fleetmon_check_up", "checks"),
    # The agent's own figures are the monitoring's: the hub section.
    Section("fleetmon_agent_spool_samples", "hub"),
    # Not in this hub's catalogue but fleetmon's (a newer agent): its name says where it belongs.
    Section("fleetmon_jetson_dla_load_ratio", "jetson"),
    Section("fleetmon_gpu_encoder_ratio", "gpu"),
    Section("fleetmon_pressure_cpu_ratio", "system"),
    # Anything else came from a scrape target.
    Section("http_requests_total", "scraped"),
    Section("app_queue_bytes", "scraped"),
]


@pytest.mark.parametrize("case", SECTION_CASES, ids=lambda c: c.metric)
def test_section_of(case):
    assert section_of(case.metric) == case.want


def test_every_catalogue_metric_has_one_of_the_sections():
    assert {section_of(spec.name) for spec in catalog.ALL} <= set(SECTIONS)


class Described(NamedTuple):
    metric: str
    unit: str
    help_given: bool


DESCRIBED = [
    # Units come from the catalogue ...
    Described("fleetmon_memory_used_bytes", "bytes", True),
    Described("fleetmon_cpu_usage_ratio", "ratio", True),
    Described("fleetmon_load1", "", True),
    # ... and for a scraped metric from its name's suffix, without help; a counter of requests has none.
    Described("app_queue_bytes", "bytes", False),
    Described("http_requests_total", "", False),
]


@pytest.mark.parametrize("case", DESCRIBED, ids=lambda c: c.metric)
def test_describe(case):
    described = describe(case.metric, {"target": "app"})
    assert (described["unit"], bool(described["help"]), described["labels"]) == (case.unit, case.help_given,
                                                                                   {"target": "app"})


class Lines(NamedTuple):
    id: str
    thresholds: Any
    want: list[dict[str, Any]]


def rule(**fields: Any) -> dict[str, Any]:
    """A rule as the birth message carries it (fleetmon.protocol.thresholds.rule_to_json)."""
    return {"name": "disk", "metric": "fleetmon_filesystem_usage_ratio", "match": {"mount": "/"},
            "direction": "above", "warning": 0.85, "critical": 0.95, "for_s": 120.0, "hysteresis": 0.05,
            "labels": {}, "alertname": "HostDiskUsageHigh", **fields}


LINES = [
    # One line per level, the rule's match as the labels of the series it is drawn on.
    Lines("both levels", [rule()], [
        {"metric": "fleetmon_filesystem_usage_ratio", "labels": {"mount": "/"}, "severity": "warning", "op": ">",
         "value": 0.85},
        {"metric": "fleetmon_filesystem_usage_ratio", "labels": {"mount": "/"}, "severity": "critical",
         "op": ">", "value": 0.95}]),
    # A rule below a level fires under it.
    Lines("below", [rule(metric="fleetmon_check_up", match={"check": "web"}, direction="below", warning=None,
                         critical=1)],
          [{"metric": "fleetmon_check_up", "labels": {"check": "web"}, "severity": "critical", "op": "<",
            "value": 1}]),
    # A regex match travels as written: the page matches it.
    Lines("a regex match", [rule(match={"mount": "~/data.*"}, critical=None)],
          [{"metric": "fleetmon_filesystem_usage_ratio", "labels": {"mount": "~/data.*"}, "severity": "warning",
            "op": ">", "value": 0.85}]),
    # Older agents may leave the match out: the rule covers every series.
    Lines("no match", [{"metric": "fleetmon_cpu_usage_ratio", "warning": 0.9}],
          [{"metric": "fleetmon_cpu_usage_ratio", "labels": {}, "severity": "warning", "op": ">", "value": 0.9}]),
    # Birth fields are not checked deeply on ingest: what cannot be drawn is left out, never an error.
    Lines("malformed rules are left out", [
        "disk", {"metric": 3, "warning": 1}, rule(direction="sideways"), rule(match={"mount": ["/"]}),
        rule(match="/"), rule(warning=True, critical="95%"), rule(warning=float("nan"), critical=None)], []),
    Lines("not a list", {"disk": rule()}, []),
]


@pytest.mark.parametrize("case", LINES, ids=lambda c: c.id)
def test_threshold_lines(case):
    assert threshold_lines(case.thresholds) == case.want


class TierCase(NamedTuple):
    id: str
    span: float
    buckets: int
    start_ago: float
    want: str


DAY = 86400.0
TIER_CASES = [
    # 1 h in 60 buckets: a minute each, the minute tier fits; raw would be 6 rows per cell for the same mean.
    TierCase("1 h in minutes", 3600, 60, 3600, "1m"),
    # 10 min in 60 buckets of 10 s: only raw samples are fine enough.
    TierCase("10 min", 600, 60, 600, "raw"),
    # 24 h in 60 buckets of 24 min: minutes (an hour is wider than a bucket).
    TierCase("24 h", DAY, 60, DAY, "1m"),
    # 7 d in 60 buckets of 2.8 h: hours fit.
    TierCase("7 d", 7 * DAY, 60, 7 * DAY, "1h"),
    # Buckets of a minute, but 20 days ago: past the minute tier's 14 d, only hours hold it.
    TierCase("old minutes", 3600, 60, 20 * DAY, "1h"),
]


@pytest.mark.parametrize("case", TIER_CASES, ids=lambda c: c.id)
def test_pick_tier_for_buckets(case):
    now = 1_800_000_000.0
    start = now - case.start_ago
    assert pick_tier_for_buckets(StoreConfig(), start, start + case.span, case.span / case.buckets, now) == case.want
