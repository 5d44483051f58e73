"""alertmanager_configs (fleetmon): forward a notification's alerts to an existing Alertmanager.

For teams whose paging already hangs off an Alertmanager: the hub decides what goes out and when; that
Alertmanager routes it on. Alerts are POSTed to its API (``{url}/api/v2/alerts``) as Prometheus posts
them: resolved alerts with their resolve time as endsAt, firing ones with endsAt ``firing_ttl`` ahead.

Why the ttl: an alert posted without endsAt resolves after the remote ``resolve_timeout`` (5m by default)
unless it is posted again, and the hub repeats a notification only every repeat_interval. So a firing
alert carries an end far enough ahead to outlive the next repeat, yet lets the remote Alertmanager resolve
it on its own if the hub goes away. Keep ``firing_ttl`` above the route's repeat_interval plus its
group_interval; the default fits Alertmanager's defaults (4h and 5m).
"""

import time
from dataclasses import dataclass
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification, go_time
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode

KEYS = ("url", "firing_ttl", "send_resolved", "timeout", "http_config")
DEFAULT_FIRING_TTL = 4.5 * 3600


@dataclass(eq=False, kw_only=True)
class AlertmanagerForward(Integration):
    kind: ClassVar[str] = "alertmanager"
    url: str  # the Alertmanager's base URL, with its route prefix if it has one
    http: HttpConfig
    firing_ttl: float = DEFAULT_FIRING_TTL

    def alerts(self, notification: Notification, now: float) -> list[dict]:
        return [self._alert(alert, now) for alert in notification.alerts]

    def _alert(self, alert: AlertSnapshot, now: float) -> dict:
        posted = {"labels": alert.labels, "annotations": alert.annotations, "startsAt": go_time(alert.starts_at),
                  "endsAt": go_time(now + self.firing_ttl if alert.ends_at is None else alert.ends_at)}
        if alert.generator_url:
            posted["generatorURL"] = alert.generator_url
        return posted

    def send(self, notification: Notification) -> None:
        post(self.url.rstrip("/") + "/api/v2/alerts", encode(self.alerts(notification, time.time())), self.http,
             self.timeout)


def parse(node: Node, setup: IntegrationSetup) -> AlertmanagerForward:
    node = node.mapping(KEYS)
    url = node.child("url").string()
    if not url:
        node.child("url").fail("required: the Alertmanager's base URL, e.g. http://alertmanager:9093")
    else:
        check_url(node.child("url"), url)
    return AlertmanagerForward(**integration_fields(node, setup, send_resolved=True), url=url,
                               http=entry_http_config(node, setup.glob.http_config),
                               firing_ttl=node.child("firing_ttl").duration(DEFAULT_FIRING_TTL, minimum=1))
