"""Grafana's panel JSON: one builder per panel type the fleetmon dashboards use (fleetmon.deploy.grafana lays
them out), each querying the dashboard's Prometheus data source variable."""

from typing import Any

from fleetmon.protocol import catalog
from fleetmon.protocol.units import UNITS

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: The unit of counts (hosts, alerts) and of the hub's health score.
PLAIN_NUMBER = UNITS[catalog.NO_UNIT].grafana
#: Columns a table of series leaves out: the sample's time and value, and the labels of the scrape, not the host.
#: The legend of a panel that shows none, with the fields Grafana's schema requires of every legend.
HIDDEN_LEGEND = {"showLegend": False, "displayMode": "list", "placement": "bottom", "calcs": []}
HIDDEN_COLUMNS = {"Time": True, "Value": True, "__name__": True, "instance": True, "job": True}


def _target(expr: str, legend: str = "", ref: str = "A", instant: bool = False, table: bool = False) -> dict:
    target = {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
              "range": not instant, "instant": instant}
    if table:
        target["format"] = "table"
    return target


def timeseries(title: str, queries: list[tuple[str, str]], field_config: dict[str, Any]) -> dict[str, Any]:
    return {"type": "timeseries", "title": title, "datasource": DATASOURCE,
            "targets": [_target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)],
            "fieldConfig": field_config,
            "options": {"legend": {"showLegend": True, "displayMode": "table", "placement": "right",
                                   "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def bargauge(title: str, expr: str, legend: str, field_config: dict[str, Any]) -> dict[str, Any]:
    """A bar per series. A bar gauge has no custom field options: those of a time series sharing the field
    config (line width, threshold lines) are left out."""
    defaults = {key: value for key, value in field_config["defaults"].items() if key != "custom"}
    overrides = [{**override, "properties": [p for p in override["properties"] if not p["id"].startswith("custom.")]}
                 for override in field_config["overrides"]]
    return {"type": "bargauge", "title": title, "datasource": DATASOURCE,
            "targets": [_target(expr, legend, instant=True)],
            "fieldConfig": {"defaults": {**defaults, "color": {"mode": "thresholds"}}, "overrides": overrides},
            "options": {"orientation": "horizontal", "displayMode": "gradient", "valueMode": "color",
                        "showUnfilled": True, "namePlacement": "left", "sizing": "auto", "maxVizHeight": 300,
                        "minVizHeight": 16, "minVizWidth": 8, "legend": dict(HIDDEN_LEGEND),
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}}


def stat(title: str, expr: str, color: str) -> dict[str, Any]:
    return {"type": "stat", "title": title, "datasource": DATASOURCE, "targets": [_target(expr, instant=True)],
            "fieldConfig": {"defaults": {"unit": PLAIN_NUMBER, "decimals": 0,
                                         "color": {"mode": "fixed", "fixedColor": color},
                                         "thresholds": color_steps([("green", None)])}, "overrides": []},
            "options": {"colorMode": "value", "graphMode": "none", "textMode": "value", "justifyMode": "center",
                        "orientation": "auto", "wideLayout": True, "showPercentChange": False,
                        "percentChangeColorMode": "standard",
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}}


def state_timeline(title: str, expr: str) -> dict[str, Any]:
    return {"type": "state-timeline", "title": title, "datasource": DATASOURCE,
            "targets": [_target(expr, "{{host}}")],
            "fieldConfig": {"defaults": {"color": {"mode": "thresholds"},
                                         "thresholds": color_steps([("red", None), ("green", 1)]),
                                         "mappings": [{"type": "value", "options": {
                                             "0": {"text": "offline", "color": "red", "index": 1},
                                             "1": {"text": "online", "color": "green", "index": 0}}}]},
                            "overrides": []},
            "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                        "legend": dict(HIDDEN_LEGEND), "tooltip": {"mode": "single", "sort": "none"}}}


def alert_table() -> dict[str, Any]:
    """The hub's firing alerts (edge and fleet), from fleetmon_alert_firing: the hub's own ALERTS."""
    return {"type": "table", "title": "Firing alerts (hub)", "datasource": DATASOURCE,
            "targets": [_target("fleetmon_alert_firing", instant=True, table=True)],
            "fieldConfig": {"defaults": {}, "overrides": []},
            "options": {"showHeader": True, "frameIndex": 0, "sortBy": [{"displayName": "severity", "desc": False}]},
            "transformations": [{"id": "organize", "options": {
                "excludeByName": dict(HIDDEN_COLUMNS),
                "indexByName": {"alertname": 0, "severity": 1, "host": 2}}}]}


def info_table(title: str, expr: str) -> dict[str, Any]:
    return {"type": "table", "title": title, "datasource": DATASOURCE,
            "targets": [_target(expr, instant=True, table=True)],
            "fieldConfig": {"defaults": {}, "overrides": []}, "options": {"showHeader": True, "frameIndex": 0},
            "transformations": [{"id": "organize", "options": {
                "excludeByName": dict(HIDDEN_COLUMNS)}}]}


def color_steps(steps: list[tuple[str, float | None]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}
