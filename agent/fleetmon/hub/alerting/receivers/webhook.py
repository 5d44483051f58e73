"""webhook_configs: Alertmanager's webhook, so receivers written for Alertmanager work unchanged.

The body is the version 4 payload (fleetmon.hub.alerting.notification). fleetmon adds an optional
signature: with ``hmac_secret`` set, ``X-Fleetmon-Signature: sha256=<hex>`` carries HMAC-SHA256 of the exact
body bytes, so a receiver can check the sender and that nothing changed on the way.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.common import secret, secret_source
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields

KEYS = ("url", "url_file", "send_resolved", "max_alerts", "timeout", "http_config", "hmac_secret",
        "hmac_secret_file")
SIGNATURE_HEADER = "X-Fleetmon-Signature"


def encode(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret_key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret_key, body, hashlib.sha256).hexdigest()


@dataclass(eq=False, kw_only=True)
class Webhook(Integration):
    kind: ClassVar[str] = "webhook"
    url: str = field(repr=False)
    http: HttpConfig
    max_alerts: int = 0  # 0: all
    hmac_secret: bytes = field(default=b"", repr=False)

    def send(self, notification: Notification) -> None:
        body = encode(notification.webhook_payload(self.max_alerts))
        headers = {SIGNATURE_HEADER: signature(self.hmac_secret, body)} if self.hmac_secret else {}
        post(self.url, body, self.http, self.timeout, headers=headers)


def parse(node: Node, setup: IntegrationSetup) -> Webhook:
    node = node.mapping(KEYS)
    url = secret(node, "url")
    if not url:
        node.child("url").fail("url or url_file is required")
    else:
        check_url(secret_source(node, "url"), url)
    return Webhook(**integration_fields(node, setup, send_resolved=True), url=url,
                   http=entry_http_config(node, setup.glob.http_config),
                   max_alerts=node.child("max_alerts").number(0, minimum=0, integer=True),
                   hmac_secret=secret(node, "hmac_secret").encode("utf-8"))
