"""incidentio_configs: incident.io's Alertmanager alert source, as Alertmanager's notifier (0.29+) posts to it.

The body is Alertmanager's webhook payload with ``version`` ``"1"``, cut to ``max_alerts`` (the rest counted
in ``truncatedAlerts``); when it is still over incident.io's 512 KiB limit only its first alert is sent, as
Alertmanager does (a group becomes one alert in incident.io, so the first one carries it). The alert source
token is the bearer token (``alert_source_token(_file)``), unless ``http_config.authorization`` gives the
Authorization header instead; one of the two is required. 429 and 5xx answers are retried.
"""

import logging
from dataclasses import dataclass, field, replace
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.common import secret, secret_source
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode

KEYS = ("url", "url_file", "alert_source_token", "alert_source_token_file", "max_alerts", "send_resolved",
        "timeout", "http_config")
MAX_PAYLOAD = 512 * 1024  # bytes incident.io accepts
log = logging.getLogger(__name__)


def payload(notification: Notification, max_alerts: int) -> bytes:
    message = notification.webhook_payload(max_alerts)
    message["version"] = "1"
    body = encode(message)
    if len(body) <= MAX_PAYLOAD:
        return body
    cut = encode({**message, "alerts": message["alerts"][:1]})
    log.warning("incident.io payload of %d bytes cut to its first alert (%d bytes; the limit is %d)", len(body),
                len(cut), MAX_PAYLOAD)
    return cut


@dataclass(eq=False, kw_only=True)
class Incidentio(Integration):
    kind: ClassVar[str] = "incidentio"
    url: str = field(repr=False)
    http: HttpConfig
    max_alerts: int = 0  # 0: all

    def send(self, notification: Notification) -> None:
        post(self.url, payload(notification, self.max_alerts), self.http, self.timeout)


def parse(node: Node, setup: IntegrationSetup) -> Incidentio:
    node = node.mapping(KEYS)
    url = secret(node, "url")
    if not url:
        node.child("url").fail("url or url_file is required")
    else:
        check_url(secret_source(node, "url"), url)
    http = entry_http_config(node, setup.glob.http_config)
    token = secret(node, "alert_source_token")
    own_authorization = not node.child("http_config").child("authorization").missing
    if token and own_authorization:
        secret_source(node, "alert_source_token").fail("set alert_source_token(_file) or "
                                                       "http_config.authorization, not both")
    if token:
        http = replace(http, authorization=f"Bearer {token}", oauth2=None)
    elif not http.authorization and http.oauth2 is None:
        node.child("alert_source_token").fail("alert_source_token, alert_source_token_file or "
                                              "http_config.authorization is required")
    return Incidentio(**integration_fields(node, setup, send_resolved=True), url=url, http=http,
                      max_alerts=node.child("max_alerts").number(0, minimum=0, integer=True))
