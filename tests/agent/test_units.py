"""One source for units: every catalogue entry has a unit from the closed set, and every renderer (people,
Grafana, Prometheus alert templates, the hub's page) shows a metric in the unit its entry names.

The renderer tests need the hub and deploy packages (Python 3.10+); the rest runs on the agent's 3.8 too.
"""

import re
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from fleetmon.protocol import catalog
from fleetmon.protocol.units import BYTES_PER_SECOND, UNITS, format_value, rate_of, unit_of

AGENT_PACKAGE = Path(__file__).resolve().parents[2] / "agent" / "fleetmon"
needs_310 = pytest.mark.skipif(sys.version_info < (3, 10), reason="the hub and deploy renderers need Python 3.10+")


def test_every_catalogue_entry_has_a_unit_from_the_closed_set():
    strays = {spec.name: spec.unit for spec in catalog.ALL if spec.unit not in catalog.UNIT_NAMES}
    assert strays == {}
    # The table has a row for each unit a metric may have, and for the rates a panel draws; nothing else.
    rates = {unit.rate for unit in UNITS.values() if unit.rate}
    assert set(UNITS) == set(catalog.UNIT_NAMES) | rates
    assert all(rate in UNITS for rate in rates)


def test_catalogue_units_follow_prometheus_naming():
    """A metric's name ends in its base unit (a counter's before ``_total``); a unitless name ends in none."""
    suffixes = [name for name in catalog.UNIT_NAMES if name]
    for spec in catalog.ALL:
        stem = spec.name[:-len("_total")] if spec.type == catalog.C else spec.name
        named = next((unit for unit in suffixes if stem.endswith("_" + unit)), catalog.NO_UNIT)
        assert spec.unit == named, spec.name


class UnitCase(NamedTuple):
    metric: str
    unit: str
    why: str


UNIT_CASES = [
    UnitCase("fleetmon_cpu_usage_ratio", catalog.RATIO, "a catalogue gauge: its entry's unit"),
    UnitCase("fleetmon_disk_read_bytes_total", catalog.BYTES, "a counter has the unit of what it counts"),
    UnitCase("fleetmon_disk_io_time_seconds_total", catalog.SECONDS, "seconds spent, counted"),
    UnitCase("fleetmon_network_receive_packets_total", catalog.NO_UNIT, "packets are a count"),
    UnitCase("fleetmon_load1", catalog.NO_UNIT, "a load average has no unit"),
    UnitCase("app_request_latency_seconds", catalog.SECONDS, "scraped: the suffix Prometheus naming puts there"),
    UnitCase("app_queue_bytes", catalog.BYTES, "scraped: the suffix again"),
    UnitCase("app_sent_bytes_total", catalog.NO_UNIT, "scraped counter: unknown to the catalogue, a plain number"),
    UnitCase("app_requests", catalog.NO_UNIT, "no suffix, no unit"),
]


@pytest.mark.parametrize("case", UNIT_CASES, ids=[case.metric for case in UNIT_CASES])
def test_unit_of_a_metric(case):
    assert unit_of(case.metric) == UNITS[case.unit], case.why


class PeopleCase(NamedTuple):
    metric: str
    value: float
    shown: str
    why: str


PEOPLE_CASES = [
    PeopleCase("fleetmon_memory_usage_ratio", 0.973, "97.3%", "ratios are 0..1, people read percent"),
    PeopleCase("fleetmon_jetson_temperature_celsius", 81.46, "81.5 °C", "one decimal of a degree"),
    PeopleCase("fleetmon_gpu_power_watts", 12.34, "12.3 W", "one decimal of a watt"),
    PeopleCase("fleetmon_gpu_memory_used_bytes", 3.5 * 2**30, "3.5 GiB", "sizes in powers of 1024"),
    PeopleCase("fleetmon_disk_written_bytes_total", 2**40, "1 TiB", "a bytes counter is a size too"),
    PeopleCase("fleetmon_cpu_core_frequency_hertz", 1.9e9, "1.9 GHz", "frequencies in powers of 1000"),
    PeopleCase("fleetmon_check_cert_expiry_seconds", 5 * 86400, "5.0d", "long durations in days"),
    PeopleCase("fleetmon_check_duration_seconds", 0.25, "0.25s", "short ones in seconds"),
    PeopleCase("fleetmon_check_consecutive_failures", 3.0, "3", "a count prints as a number"),
    PeopleCase("app_hit_ratio", 0.5, "50.0%", "a scraped metric by its suffix"),
    PeopleCase("app_hits_total", 1e6, "1e+06", "a scraped counter is a plain number"),
]


@pytest.mark.parametrize("case", PEOPLE_CASES, ids=[case.metric for case in PEOPLE_CASES])
def test_values_are_shown_to_people_in_their_unit(case):
    assert format_value(case.metric, case.value) == case.shown, case.why


def test_rates():
    # A bytes counter's rate is a transfer rate, in powers of 1000 as Grafana's Bps and the hub's page show it.
    assert rate_of(UNITS[catalog.BYTES]) == UNITS[BYTES_PER_SECOND]
    assert UNITS[BYTES_PER_SECOND].for_people(1.5e6) == "1.5 MB/s"
    # No panel draws a rate of a count: no unit is made up for one.
    with pytest.raises(ValueError, match="unitless counter"):
        rate_of(UNITS[catalog.NO_UNIT])


# Renderers --------------------------------------------------------------------------------------------------

def _fleet():
    """A server and a Jetson with a rule (warning 1, above) on every catalogue metric."""
    from fleetmon.config_reader import Errors, Node
    from fleetmon.deploy.thresholds import HostThresholds
    from fleetmon.protocol.thresholds import parse_thresholds

    doc = {f"on_{spec.name}": {"metric": spec.name, "warning": 1} for spec in catalog.ALL}
    errors = Errors()
    rules = tuple(parse_thresholds(Node(doc, "thresholds", errors)))
    assert not errors and len(rules) == len(catalog.ALL)
    return [HostThresholds(host=name, host_id=name, is_jetson=jetson, groups=(), layers=(), merged=doc,
                           origins=(), rules=rules, errors=())
            for name, jetson in (("srv-01", False), ("jet-01", True))]


@needs_310
def test_grafana_panels_use_the_unit_of_their_metric():
    from fleetmon.deploy.grafana import render_dashboards

    seen = set()
    for dashboard in render_dashboards(_fleet(), {}).values():
        for panel in dashboard["panels"]:
            exprs = [target["expr"] for target in panel.get("targets", [])]
            metrics = {name for expr in exprs for name in re.findall(r"fleetmon_\w+", expr)} & set(catalog.BY_NAME)
            if not metrics or "unit" not in panel["fieldConfig"]["defaults"]:
                continue  # tables of info series, or the hub's own series (host_up, alerts): not catalogue metrics
            (metric,) = metrics
            unit = rate_of(unit_of(metric)) if any("rate(" in expr for expr in exprs) else unit_of(metric)
            assert panel["fieldConfig"]["defaults"]["unit"] == unit.grafana, (panel["title"], metric)
            seen.add(metric)
    # Every metric the hub exposes got its panel (check results are not on the hub's /metrics).
    assert set(catalog.BY_NAME) - catalog.CHECK_METRICS <= seen


@needs_310
def test_prometheus_alerts_print_values_and_levels_in_the_unit_of_their_metric():
    from fleetmon.deploy.prometheus import alert_rules

    rules, notes = alert_rules(_fleet()[:1])
    alerts = {alert["annotations"]["rule"]: alert for group in rules["groups"] for alert in group["rules"]}
    for spec in catalog.ALL:
        if spec.name in catalog.CHECK_METRICS:
            continue  # left out, with a note: the hub does not expose check results
        annotations = alerts[f"on_{spec.name}"]["annotations"]
        assert annotations["value"] == unit_of(spec.name).alert_value, spec.name
        assert annotations["threshold"] == format_value(spec.name, 1.0), spec.name
    assert len(notes) == len(catalog.CHECK_METRICS)


@needs_310
def test_hub_page_panels_take_their_unit_from_their_metrics():
    from fleetmon.hub.layout import PANELS, DashboardConfig, DashboardSection, Panel, resolve

    every_panel = DashboardConfig(sections=(DashboardSection("all", panels=tuple(PANELS)),))
    page = resolve(every_panel, [])["panels"]
    for name, panel in PANELS.items():
        for metric in panel.metrics:
            unit = rate_of(unit_of(metric)) if panel.rate else unit_of(metric)
            assert panel.unit == unit, (name, metric)
        assert page[name]["unit"] == panel.unit.hub_page, name
    with pytest.raises(ValueError, match="different units"):
        Panel("Mixed", ("fleetmon_cpu_usage_ratio", "fleetmon_gpu_power_watts"))  # percent plus watts: no value
    with pytest.raises(ValueError, match="no unit is known for a per-second rate"):
        Panel("Packets", ("fleetmon_network_receive_packets_total",), rate=True)


@needs_310
def test_the_hub_page_knows_every_unit_it_is_sent():
    """The console's format() (static/lib/format.js) names every unit the overview's panels and the host page's
    series are sent in; any other prints as a plain number, the table's "number" (and a unitless series')."""
    (script,) = (AGENT_PACKAGE / "hub").rglob("lib/format.js")
    body = script.read_text(encoding="utf-8").split("export function format(unit, value, digits)", 1)[1]
    known = set(re.findall(r'case "(\w+)"', body.split("\n}\n", 1)[0]))
    sent = {unit.hub_page for unit in UNITS.values()} | set(UNITS)
    assert sent - {"number", ""} <= known
