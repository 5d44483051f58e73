"""Grafana dashboards rendered from the inventory: a fleet overview, one for the Jetsons and one for the
servers, querying a Prometheus that scrapes the hub's /metrics (every series carries ``host``).

Thresholds: a panel bound to a threshold rule (cpu, disk, jetson_power, ...) draws that rule's levels. The
level set most of the dashboard's hosts share becomes the panel's thresholds; every other level set gets
one field override matching its hosts' series by display name (legends start with the host), so the "now"
bar gauges color each host by its own levels. Grafana draws one set of threshold lines per axis on a time
series, the shared one, unless a single host is selected.

Hosts are picked with a ``group`` variable (the inventory's groups, each standing for a regex of its hosts:
the hub's series carry inventory labels, not groups) and a ``host`` variable of the hosts that report.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fleetmon.deploy.grafana_panels import (
    DATASOURCE,
    PLAIN_NUMBER,
    alert_table,
    bargauge,
    color_steps,
    info_table,
    stat,
    state_timeline,
    timeseries,
)
from fleetmon.deploy.thresholds import HostThresholds
from fleetmon.protocol import catalog
from fleetmon.protocol.thresholds import ABOVE, ALIASES
from fleetmon.protocol.units import rate_of, unit_of

SCHEMA_VERSION = 39
GRID_WIDTH = 24
HOSTS = 'host=~"$host"'
TAG = "fleetmon"
#: Thresholds on NVIDIA GPUs (NVML): the servers dashboard gets GPU panels when a server sets one.
NVML_RULES = ("gpu", "gpu_temperature", "gpu_power")


@dataclass(frozen=True, slots=True)
class Levels:
    direction: str
    warning: float | None
    critical: float | None


class Dashboard:
    """Panels laid out left to right in rows of 24 grid units, with unique ids."""

    def __init__(self, uid: str, title: str, description: str, hosts: list[HostThresholds],
                 groups: dict[str, list[str]]) -> None:
        self.uid, self.title, self.description = uid, title, description
        self.hosts, self.groups = hosts, groups
        self.panels: list[dict[str, Any]] = []
        self._x = self._y = self._line_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"x": 0, "y": self._y, "w": GRID_WIDTH, "h": 1}, "panels": []})
        self._y += 1

    def add(self, panel: dict[str, Any], width: int, height: int = 8) -> None:
        if self._x + width > GRID_WIDTH:
            self._newline()
        panel = {"id": len(self.panels) + 1, **panel,
                 "gridPos": {"x": self._x, "y": self._y, "w": width, "h": height}}
        self.panels.append(panel)
        self._x += width
        self._line_height = max(self._line_height, height)

    def thresholded(self, title: str, metric: str, rule: str, aggregate_by_host: bool = False,
                    legend_labels: Iterable[str] = ()) -> None:
        """A bar gauge of each host's current value beside its history, both drawing the rule's levels."""
        selector = f"{metric}{{{HOSTS}}}"
        expr = f"max by (host) ({selector})" if aggregate_by_host else selector
        legend = " ".join(["{{host}}", *(f"{{{{{label}}}}}" for label in legend_labels)])
        field_config = _field_config(metric, self._levels_by_host(rule, metric), bool(legend_labels))
        now = "highest per host now" if aggregate_by_host else "now"
        self.add(bargauge(f"{title} ({now})", expr, legend, field_config), 8)
        self.add(timeseries(title, [(expr, legend)], field_config), 16)

    def _levels_by_host(self, rule_name: str, metric: str) -> dict[str, Levels | None]:
        """Each host's levels for the rule; None where the host has it off (or aimed at another metric)."""
        levels: dict[str, Levels | None] = {}
        for host in self.hosts:
            rule = host.rule(rule_name)
            levels[host.host_id] = (Levels(rule.direction, rule.warning, rule.critical)
                                    if rule is not None and rule.metric == metric else None)
        return levels

    def _newline(self) -> None:
        if self._x:
            self._y += self._line_height
        self._x = self._line_height = 0

    def to_json(self, default_datasource: tuple[str, str] | None = None) -> dict[str, Any]:
        return {
            "uid": self.uid, "title": self.title, "description": self.description, "tags": [TAG],
            "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
            "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "timezone": "browser",
            "links": [{"title": "fleetmon dashboards", "type": "dashboards", "tags": [TAG], "asDropdown": True,
                       "includeVars": True, "keepTime": True, "icon": "external link", "tooltip": "",
                       "targetBlank": False}],
            "annotations": {"list": []},
            "templating": {"list": [_datasource_variable(default_datasource),
                                    _group_variable(self.groups, [host.host_id for host in self.hosts]),
                                    _host_variable()]},
            "panels": self.panels,
        }


def render_dashboards(hosts: list[HostThresholds], groups_of: dict[str, list[str]],
                      default_datasource: tuple[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Dashboards by file name; ``groups_of`` maps each agent host's id to its inventory groups. The Jetson
    dashboard exists when the fleet has Jetsons, the servers dashboard when it has servers.
    ``default_datasource`` (name, uid): the data source the ``datasource`` variable starts on (a
    provisioned one); without it Grafana starts on the default Prometheus data source."""
    jetsons = [h for h in hosts if h.is_jetson]
    servers = [h for h in hosts if not h.is_jetson]
    dashboards = {"fleetmon-overview.json": overview(hosts, _groups(hosts, groups_of))}
    if jetsons:
        dashboards["fleetmon-jetsons.json"] = jetson_dashboard(jetsons, _groups(jetsons, groups_of))
    if servers:
        dashboards["fleetmon-servers.json"] = server_dashboard(servers, _groups(servers, groups_of))
    return {name: dashboard.to_json(default_datasource) for name, dashboard in dashboards.items()}


def overview(hosts: list[HostThresholds], groups: dict[str, list[str]]) -> Dashboard:
    board = Dashboard("fleetmon-overview", "fleetmon: fleet overview",
                      "Every server and Jetson: liveness, resources, temperatures and alerts.", hosts, groups)
    board.row("Fleet")
    up = f"fleetmon_host_up{{{HOSTS}}}"
    board.add(stat("Hosts online", f"sum({up})", "green"), 4, 4)
    board.add(stat("Hosts offline", f"count({up} == 0) or vector(0)", "red"), 4, 4)
    board.add(stat("Alerts firing (hub)", 'count(fleetmon_alert_firing{muted="false"}) or vector(0)', "orange"),
              4, 4)
    board.add(bargauge("Health score", f"fleetmon_host_health_score{{{HOSTS}}}", "{{host}}", {
        "defaults": {"unit": PLAIN_NUMBER, "min": 0, "max": 100, "color": {"mode": "thresholds"},
                     "thresholds": color_steps([("red", None), ("yellow", 50), ("green", 80)])}, "overrides": []}),
              12, 4)
    board.add(state_timeline("Online", up), GRID_WIDTH, 6)
    board.row("Resources")
    board.thresholded("CPU", "fleetmon_cpu_usage_ratio", "cpu")
    board.thresholded("Memory", "fleetmon_memory_usage_ratio", "memory")
    board.thresholded("Fullest filesystem", "fleetmon_filesystem_usage_ratio", "disk", aggregate_by_host=True)
    _network(board)
    board.row("Temperatures")
    board.thresholded("Temperature", "fleetmon_temperature_celsius", "temperature", aggregate_by_host=True)
    if any(h.is_jetson for h in hosts):
        board.thresholded("Jetson temperature", "fleetmon_jetson_temperature_celsius", "jetson_temperature",
                          aggregate_by_host=True)
    board.row("Alerts")
    board.add(alert_table(), 16, 8)
    edge_alerts = "fleetmon_agent_alerts_firing"
    board.add(bargauge("Edge alerts firing per host", f"{edge_alerts}{{{HOSTS}}}", "{{host}}", {
        "defaults": {"unit": unit_of(edge_alerts).grafana, "min": 0, "decimals": 0, "color": {"mode": "thresholds"},
                     "thresholds": color_steps([("green", None), ("red", 1)])}, "overrides": []}), 8, 8)
    return board


def jetson_dashboard(hosts: list[HostThresholds], groups: dict[str, list[str]]) -> Dashboard:
    board = Dashboard("fleetmon-jetsons", "fleetmon: Jetsons",
                      "Jetson modules: GPU, memory controller (EMC), power rails and thermal zones.", hosts, groups)
    board.row("CPU and memory")
    board.thresholded("CPU", "fleetmon_cpu_usage_ratio", "cpu")
    board.thresholded("Memory", "fleetmon_memory_usage_ratio", "memory")
    board.row("GPU")
    board.thresholded("GPU load", "fleetmon_jetson_gpu_load_ratio", "jetson_gpu")
    board.add(timeseries("GPU clock", [(f"fleetmon_jetson_gpu_frequency_hertz{{{HOSTS}}}", "{{host}} {{gpc}}")],
                         _plain("fleetmon_jetson_gpu_frequency_hertz")), 12)
    board.add(timeseries("Engines on (NVENC, NVDEC, VIC, DLA, ...)",
                         [(f"fleetmon_jetson_engine_active{{{HOSTS}}} == 1", "{{host}} {{engine}}")],
                         _plain("fleetmon_jetson_engine_active")), 12)
    board.row("Memory controller (EMC)")
    board.thresholded("EMC load", "fleetmon_jetson_emc_load_ratio", "emc")
    board.add(timeseries("EMC clock", [(f"fleetmon_jetson_emc_frequency_hertz{{{HOSTS}}}", "{{host}}")],
                         _plain("fleetmon_jetson_emc_frequency_hertz")), GRID_WIDTH)
    board.row("Power")
    board.thresholded("Module power", "fleetmon_jetson_power_total_watts", "jetson_power")
    board.add(timeseries("Power rails", [(f"fleetmon_jetson_power_watts{{{HOSTS}}}", "{{host}} {{rail}}")],
                         _plain("fleetmon_jetson_power_watts")), GRID_WIDTH)
    board.row("Thermal")
    board.thresholded("Hottest thermal zone", "fleetmon_jetson_temperature_celsius", "jetson_temperature",
                      aggregate_by_host=True)
    board.add(timeseries("Thermal zones", [(f"fleetmon_jetson_temperature_celsius{{{HOSTS}}}",
                                            "{{host}} {{zone}}")], _plain("fleetmon_jetson_temperature_celsius")), 16)
    board.add(timeseries("Fans", [(f"fleetmon_jetson_fan_speed_ratio{{{HOSTS}}}", "{{host}} {{fan}}")],
                         _plain("fleetmon_jetson_fan_speed_ratio")), 8)
    board.row("Board")
    board.add(info_table("Modules and releases", f"fleetmon_jetson_info{{{HOSTS}}}"), 16)
    board.add(info_table("Power mode (nvpmodel)", f"fleetmon_jetson_nvpmodel_info{{{HOSTS}}}"), 8)
    _other_thresholds(board)
    return board


def server_dashboard(hosts: list[HostThresholds], groups: dict[str, list[str]]) -> Dashboard:
    board = Dashboard("fleetmon-servers", "fleetmon: servers", "Linux servers: CPU, memory, disks, network, "
                      "temperatures (and NVIDIA GPUs where thresholds watch them).", hosts, groups)
    board.row("CPU and memory")
    board.thresholded("CPU", "fleetmon_cpu_usage_ratio", "cpu")
    board.add(timeseries("Load average (1 min)", [(f"fleetmon_load1{{{HOSTS}}}", "{{host}}")],
                         _plain("fleetmon_load1")), 12)
    board.add(timeseries("Cores", [(f"fleetmon_cpu_cores{{{HOSTS}}}", "{{host}}")], _plain("fleetmon_cpu_cores")), 12)
    board.thresholded("Memory", "fleetmon_memory_usage_ratio", "memory")
    board.thresholded("Swap", "fleetmon_swap_usage_ratio", "swap")
    board.row("Disks")
    board.thresholded("Filesystem usage", "fleetmon_filesystem_usage_ratio", "disk", legend_labels=("mount",))
    for title, metric in (("Disk read", "fleetmon_disk_read_bytes_total"),
                          ("Disk written", "fleetmon_disk_written_bytes_total")):
        board.add(timeseries(title, [(_rate(metric), "{{host}} {{device}}")], _plain(metric, rate=True)), 12)
    _network(board)
    board.row("Temperatures")
    board.thresholded("Temperature", "fleetmon_temperature_celsius", "temperature", legend_labels=("zone",))
    if any(h.rule(name) for h in hosts for name in NVML_RULES):
        board.row("NVIDIA GPUs")
        board.thresholded("GPU utilization", "fleetmon_gpu_utilization_ratio", "gpu", legend_labels=("gpu",))
        board.thresholded("GPU temperature", "fleetmon_gpu_temperature_celsius", "gpu_temperature",
                          legend_labels=("gpu",))
        board.thresholded("GPU power", "fleetmon_gpu_power_watts", "gpu_power", legend_labels=("gpu",))
    _other_thresholds(board)
    return board


def _network(board: Dashboard) -> None:
    for title, metric in (("Network received", "fleetmon_network_receive_bytes_total"),
                          ("Network sent", "fleetmon_network_transmit_bytes_total")):
        board.add(timeseries(title, [(f"sum by (host) ({_rate(metric)})", "{{host}}")], _plain(metric, rate=True)),
                  12)


def _other_thresholds(board: Dashboard) -> None:
    """A panel pair for each rule of the inventory's own (not an alias) on a metric the hub exposes:
    catalogue metrics from samples. Check results and scraped application metrics are not on /metrics."""
    rules: dict[str, tuple[str, tuple[str, ...]]] = {}
    for host in board.hosts:
        for rule in host.rules:
            spec = catalog.BY_NAME.get(rule.metric)
            if rule.name not in ALIASES and not rule.scraped and spec and rule.metric not in catalog.CHECK_METRICS:
                rules.setdefault(rule.name, (rule.metric, spec.labels))
    if rules:
        board.row("Other thresholds")
    for name, (metric, labels) in sorted(rules.items()):
        board.thresholded(f"{name} ({metric})", metric, name, legend_labels=labels)


def _rate(metric: str) -> str:
    return f"rate({metric}{{{HOSTS}}}[$__rate_interval])"


def _groups(hosts: list[HostThresholds], groups_of: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each inventory group that holds some of these hosts but not all (that is the "All" option), with
    those hosts' ids."""
    groups: dict[str, list[str]] = {}
    for host in hosts:
        for group in groups_of.get(host.host_id, []):
            groups.setdefault(group, []).append(host.host_id)
    return {name: members for name, members in sorted(groups.items()) if len(members) < len(hosts)}


# Units and thresholds ------------------------------------------------------------------------------------

def _plain(metric: str, rate: bool = False) -> dict[str, Any]:
    """No thresholds; the unit of the metric, or of its per-second rate."""
    unit = rate_of(unit_of(metric)) if rate else unit_of(metric)
    return {"defaults": {"unit": unit.grafana, "custom": {"lineWidth": 1, "fillOpacity": 0, "showPoints": "never"},
                         "thresholds": color_steps([("green", None)])}, "overrides": []}


def _field_config(metric: str, levels_by_host: dict[str, Levels | None], more_labels: bool) -> dict[str, Any]:
    """Thresholds shared by most hosts as defaults, one override per other level set (None: no rule)."""
    counts = Counter(levels_by_host.values())
    common = max(counts, key=lambda levels: (counts[levels], levels is not None)) if counts else None
    unit = unit_of(metric)
    defaults: dict[str, Any] = {"unit": unit.grafana, "thresholds": threshold_steps(common),
                                "custom": {"lineWidth": 1, "fillOpacity": 0, "showPoints": "never",
                                           "thresholdsStyle": {"mode": "dashed" if common else "off"}}}
    if unit.name == catalog.RATIO:
        defaults.update(min=0, max=1)
    overrides = []
    for levels in sorted((lv for lv in counts if lv != common), key=repr):
        hosts = sorted(h for h, lv in levels_by_host.items() if lv == levels)
        overrides.append({
            "matcher": {"id": "byRegexp", "options": _display_names(hosts, more_labels)},
            "properties": [{"id": "thresholds", "value": threshold_steps(levels)},
                           {"id": "custom.thresholdsStyle", "value": {"mode": "dashed" if levels else "off"}}]})
    return {"defaults": defaults, "overrides": overrides}


def threshold_steps(levels: Levels | None) -> dict[str, Any]:
    """Grafana colors a value by the last step it reaches: above rules go green, yellow, red upwards;
    below rules red, yellow, green."""
    if levels is None:
        return color_steps([("green", None)])
    if levels.direction == ABOVE:
        steps = [("green", None)]
        steps += [(color, value) for color, value in (("yellow", levels.warning), ("red", levels.critical))
                  if value is not None]
        return color_steps(steps)
    steps = [("red" if levels.critical is not None else "yellow", None)]
    if levels.critical is not None:
        steps.append(("yellow" if levels.warning is not None else "green", levels.critical))
    if levels.warning is not None:
        steps.append(("green", levels.warning))
    return color_steps(steps)


def _display_names(hosts: list[str], more_labels: bool) -> str:
    names = _host_regex(hosts)
    return f"^(?:{names})(?: .*)?$" if more_labels else f"^(?:{names})$"


# Variables -----------------------------------------------------------------------------------------------

def _datasource_variable(default: tuple[str, str] | None) -> dict[str, Any]:
    variable = {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus", "hide": 0,
                "refresh": 1, "regex": "", "options": [], "multi": False, "includeAll": False}
    if default:
        name, uid = default
        variable["current"] = {"text": name, "value": uid}
    return variable


def _group_variable(groups: dict[str, list[str]], every: list[str]) -> dict[str, Any]:
    """A custom variable whose options name inventory groups and stand for a regex of their hosts."""
    options = [("All", _host_regex(sorted(every)))] + [(name, _host_regex(hosts)) for name, hosts in groups.items()]
    return {"name": "group", "label": "Inventory group", "type": "custom", "hide": 0, "multi": False,
            "includeAll": False, "query": ", ".join(f"{text} : {value}" for text, value in options),
            "current": {"text": "All", "value": options[0][1], "selected": True},
            "options": [{"text": text, "value": value, "selected": i == 0} for i, (text, value) in enumerate(options)]}


def _host_variable() -> dict[str, Any]:
    query = 'label_values(fleetmon_host_up{host=~"$group"}, host)'
    return {"name": "host", "label": "Host", "type": "query", "datasource": DATASOURCE, "query": query,
            "refresh": 2, "sort": 1, "multi": True, "includeAll": True, "hide": 0,
            "current": {"text": ["All"], "value": ["$__all"]}, "options": [], "regex": ""}


def _host_regex(hosts: list[str]) -> str:
    # Host ids hold letters, digits, '.', '_' and '-' (the agent role checks): only '.' needs escaping.
    return "|".join(host.replace(".", "\\.") for host in hosts)
