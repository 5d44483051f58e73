"""Grafana's provisioning files for the rendered dashboards: a Prometheus data source (the Prometheus that
scrapes the hub) and a dashboard provider loading the rendered JSON from a directory, in the YAML format of
Grafana's provisioning (`provisioning/datasources/*.yaml`, `provisioning/dashboards/*.yaml`, apiVersion 1).

The data source has a fixed uid, which the dashboards' ``datasource`` variable then selects by default, so
a Grafana provisioned with both shows the fleet at once. Its ``timeInterval`` is Prometheus's scrape
interval: Grafana's ``$__rate_interval`` is at least four of them, so ``rate()`` always sees two samples.
"""

from dataclasses import dataclass
from typing import Any

API_VERSION = 1
DATASOURCE_NAME = "fleetmon Prometheus"
DATASOURCE_UID = "fleetmon-prometheus"
PROVIDER_NAME = "fleetmon"
FOLDER = "fleetmon"
DEFAULT_DASHBOARDS_PATH = "/var/lib/grafana/dashboards/fleetmon"
DEFAULT_SCRAPE_INTERVAL = "15s"
#: Where each file goes under Grafana's provisioning directory (/etc/grafana/provisioning from Debian's and
#: Grafana's packages).
DATASOURCE_FILE = "datasources/fleetmon.yaml"
PROVIDER_FILE = "dashboards/fleetmon.yaml"


@dataclass(frozen=True, slots=True)
class Provisioning:
    """What the user's Grafana needs to know: where Prometheus answers, how often it scrapes, and where the
    rendered dashboard JSON is copied on the Grafana host."""

    prometheus_url: str
    dashboards_path: str = DEFAULT_DASHBOARDS_PATH
    scrape_interval: str = DEFAULT_SCRAPE_INTERVAL


def datasource(provisioning: Provisioning) -> dict[str, Any]:
    """The data source file. Server access ("proxy"): Grafana's backend queries Prometheus, so Prometheus
    need not be reachable from users' browsers."""
    return {"apiVersion": API_VERSION, "datasources": [{
        "name": DATASOURCE_NAME, "type": "prometheus", "uid": DATASOURCE_UID, "access": "proxy",
        "url": provisioning.prometheus_url, "isDefault": False, "editable": False,
        "jsonData": {"httpMethod": "POST", "timeInterval": provisioning.scrape_interval}}]}


def dashboard_provider(provisioning: Provisioning) -> dict[str, Any]:
    """The dashboard provider file: the rendered JSON in one folder, read again every minute; edits in the
    UI are refused, since the next render would overwrite them."""
    return {"apiVersion": API_VERSION, "providers": [{
        "name": PROVIDER_NAME, "orgId": 1, "folder": FOLDER, "type": "file", "disableDeletion": False,
        "updateIntervalSeconds": 60, "allowUiUpdates": False,
        "options": {"path": provisioning.dashboards_path, "foldersFromFilesStructure": False}}]}
