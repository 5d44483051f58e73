"""The hub's dashboard layout: sections of panels per inventory group, resolved against the fleet state
(docs/hub.md, "Dashboard"). Pure data and functions; fleetmon.hub.web.dashboard serves the page.

The layout comes from the ``dashboard`` section of the hub config, which the Ansible hub role renders from
the inventory; without one the hub derives a section per group it knows. Resolving is pure: it reads host
records and returns the JSON the page draws, each host with the values of its section's panels and the
warning and critical levels its birth message announced for them.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fleetmon.hub.state import HostRecord
from fleetmon.protocol.thresholds import ABOVE
from fleetmon.protocol.units import Unit, rate_of, unit_of

DEFAULT_TITLE = "fleetmon"
UNGROUPED = "ungrouped"  # as group_rollups counts hosts without a group


@dataclass(frozen=True, slots=True)
class Panel:
    """One compact value per host, read from its last sample, in the unit the catalogue gives its metrics."""

    title: str
    metrics: tuple[str, ...]  # every series of every one of these feeds the value
    combine: str = "max"  # over those series: "max" (the fullest disk, the hottest zone) or "sum"
    rate: bool = False  # counters: the per-second rate between the host's last two samples
    bar_max: float | None = None  # the page draws a bar from 0 to this; None: the value alone

    def __post_init__(self) -> None:
        # One value, one unit: a panel summing watts and percentages is a mistake in PANELS, caught at import.
        units = sorted({unit_of(metric).name or "none" for metric in self.metrics})
        if len(units) != 1:
            raise ValueError(f"panel {self.title!r} combines metrics in different units ({', '.join(units)})")
        if self.rate and not unit_of(self.metrics[0]).rate:
            raise ValueError(f"panel {self.title!r}: no unit is known for a per-second rate of {units[0]}")

    @property
    def unit(self) -> Unit:
        """Its metrics' unit, or for a rate panel the unit of their per-second rate."""
        unit = unit_of(self.metrics[0])
        return rate_of(unit) if self.rate else unit


#: Every panel a layout may name, in the order a derived section shows them.
PANELS: dict[str, Panel] = {
    "cpu": Panel("CPU", ("fleetmon_cpu_usage_ratio",), bar_max=1.0),
    "memory": Panel("Memory", ("fleetmon_memory_usage_ratio",), bar_max=1.0),
    "swap": Panel("Swap", ("fleetmon_swap_usage_ratio",), bar_max=1.0),
    "load": Panel("Load", ("fleetmon_load1",)),
    "gpu": Panel("GPU", ("fleetmon_jetson_gpu_load_ratio", "fleetmon_gpu_utilization_ratio"), bar_max=1.0),
    "emc": Panel("EMC", ("fleetmon_jetson_emc_load_ratio",), bar_max=1.0),
    "power": Panel("Power", ("fleetmon_jetson_power_total_watts", "fleetmon_gpu_power_watts"), combine="sum"),
    "disk": Panel("Disk", ("fleetmon_filesystem_usage_ratio",), bar_max=1.0),
    "network": Panel("Network", ("fleetmon_network_receive_bytes_total", "fleetmon_network_transmit_bytes_total"),
                     combine="sum", rate=True),
    "temperature": Panel("Temp", ("fleetmon_jetson_temperature_celsius", "fleetmon_temperature_celsius",
                                  "fleetmon_gpu_temperature_celsius"), bar_max=100.0),
}
SERVER_PANELS = ("cpu", "memory", "disk", "network", "temperature")
JETSON_PANELS = ("cpu", "memory", "gpu", "emc", "power", "disk", "temperature")


@dataclass(frozen=True, slots=True)
class DashboardSection:
    group: str
    title: str = ""  # the group's name when empty
    panels: tuple[str, ...] = ()  # derived from the group's hosts when empty


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    title: str = DEFAULT_TITLE
    sections: tuple[DashboardSection, ...] = ()  # none: a section per group the hub knows


def is_jetson(record: HostRecord) -> bool:
    """A Jetson by its birth facts or, for a host not seen yet, by an inventory group named after Jetsons."""
    return "jetson" in record.facts or any("jetson" in group.lower() for group in record.groups)


def groups_of(record: HostRecord) -> tuple[str, ...]:
    return record.groups or (UNGROUPED,)


def default_panels(group: str, members: list[HostRecord]) -> tuple[str, ...]:
    """Server panels, Jetson panels, or both for a mixed group (a server's Jetson cells stay empty)."""
    kinds = {is_jetson(r) for r in members} if members else {"jetson" in group.lower()}
    wanted: set[str] = set()
    if True in kinds:
        wanted.update(JETSON_PANELS)
    if False in kinds:
        wanted.update(SERVER_PANELS)
    return tuple(name for name in PANELS if name in wanted)


def resolve(config: DashboardConfig, records: Iterable[HostRecord]) -> dict[str, Any]:
    """The layout in force with its hosts, as ``GET /api/v1/dashboard`` answers it.

    A host shows in the section of each of its groups, as ``/api/v1/groups`` counts it. Host liveness,
    health and alerts are not repeated here: the page takes them from ``/api/v1/hosts`` and
    ``/api/v1/alerts``.
    """
    members: dict[str, list[HostRecord]] = {}
    for record in sorted(records, key=lambda r: r.host):
        for group in groups_of(record):
            members.setdefault(group, []).append(record)
    sections = config.sections or tuple(DashboardSection(group) for group in sorted(members, key=_group_order))
    out = []
    for section in sections:
        hosts = members.get(section.group, [])
        panels = section.panels or default_panels(section.group, hosts)
        out.append({"group": section.group, "title": section.title or section.group, "panels": list(panels),
                    "hosts": [_host_row(record, panels) for record in hosts]})
    used = {name for section in out for name in section["panels"]}
    return {"title": config.title, "source": "config" if config.sections else "default",
            "panels": {name: _panel_json(panel) for name, panel in PANELS.items() if name in used},
            "sections": out}


def panel_value(panel: Panel, record: HostRecord) -> float | None:
    now = _combined(panel, record.last_sample)
    if not panel.rate or now is None:
        return now
    before = _combined(panel, record.previous_sample)
    if before is None or record.last_sample_ts is None or record.previous_sample_ts is None:
        return None
    elapsed = record.last_sample_ts - record.previous_sample_ts
    # A counter that went down was reset (the host rebooted): no rate until the next sample. Two extreme
    # finite readings, or samples a microsecond apart, give no finite rate: nothing to show, not a 500.
    if not (elapsed > 0 and now >= before):
        return None
    rate = (now - before) / elapsed
    return rate if math.isfinite(rate) else None


def metric_levels(thresholds: Iterable[Any]) -> dict[str, dict[str, float]]:
    """Per metric, the lowest warning and critical levels of the host's upper-bound rules (from its birth)."""
    levels: dict[str, dict[str, float]] = {}
    for rule in thresholds:
        if not isinstance(rule, dict) or rule.get("direction", ABOVE) != ABOVE:
            continue
        for severity in ("warning", "critical"):
            level = _number(rule.get(severity))
            if level is not None:
                entry = levels.setdefault(str(rule.get("metric")), {})
                entry[severity] = min(level, entry.get(severity, level))
    return levels


def panel_levels(panel: Panel, by_metric: dict[str, dict[str, float]]) -> dict[str, float]:
    """The lowest levels over the panel's metrics. Rates have none: rules on counters are not on their rates."""
    levels: dict[str, float] = {}
    for metric in () if panel.rate else panel.metrics:
        for severity, level in by_metric.get(metric, {}).items():
            levels[severity] = min(level, levels.get(severity, level))
    return levels


def _host_row(record: HostRecord, panels: tuple[str, ...]) -> dict[str, Any]:
    values = {name: panel_value(PANELS[name], record) for name in panels}
    by_metric = metric_levels(record.thresholds)
    levels = {name: panel_levels(PANELS[name], by_metric) for name in panels}
    return {"host": record.host, "values": {k: v for k, v in values.items() if v is not None},
            "levels": {k: v for k, v in levels.items() if v}}


def _group_order(group: str) -> tuple[bool, str]:
    return group == UNGROUPED, group


def _panel_json(panel: Panel) -> dict[str, Any]:
    return {"title": panel.title, "unit": panel.unit.hub_page, "max": panel.bar_max}


def _combined(panel: Panel, sample: dict[str, Any] | None) -> float | None:
    values = [value for metric in panel.metrics for value in _series_values((sample or {}).get(metric))]
    if not values:
        return None
    return sum(values) if panel.combine == "sum" else max(values)


def _series_values(entry: Any) -> list[float]:
    """A metric's values in the wire form: a number, or a list of ``[labels, value]`` pairs."""
    if isinstance(entry, list):
        return [v for pair in entry if isinstance(pair, list) and len(pair) == 2
                and (v := _number(pair[1])) is not None]
    value = _number(entry)
    return [] if value is None else [value]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


#: The panels a central hub shows for a site's hosts: what each site hub's one-line view of a host carries.
SITE_PANELS = ("cpu", "memory", "gpu", "disk", "temperature")


def with_sites(layout: dict[str, Any], hosts: Iterable[dict[str, Any]],
               sites: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``layout`` (resolve's) with one section per site after its own, for a central hub in federation mode:
    the site's hosts with the values their site hub published, the title saying when the site is out of
    reach (its hosts then as last known)."""
    by_site: dict[str, list[dict[str, Any]]] = {}
    for host in hosts:
        by_site.setdefault(host["site"], []).append(host)
    sections = []
    for site in sites:
        name, state = site["site"], site["state"]
        title = f"site {name}" if state == "reachable" else f"site {name}: {state.replace('_', ' ')}, as last known"
        rows = [{"host": host["host"], "values": {p: host[p] for p in SITE_PANELS if _number(host.get(p)) is not None},
                 "levels": {}} for host in by_site.get(name, [])]
        sections.append({"group": f"site:{name}", "title": title, "site": name, "panels": list(SITE_PANELS),
                         "hosts": rows})
    if not sections:
        return layout
    panels = {**layout["panels"], **{name: _panel_json(PANELS[name]) for name in SITE_PANELS}}
    return {**layout, "panels": panels, "sections": [*layout["sections"], *sections]}
