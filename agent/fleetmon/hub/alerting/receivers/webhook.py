"""webhook_configs: Alertmanager's webhook, so receivers written for Alertmanager work unchanged.

The body is the version 4 payload (fleetmon.hub.alerting.notification), or, with ``payload`` set, that value
with every string rendered as a template (receivers.template_tree: a rendered ``{{ .CommonLabels | toJson }}``
is sent as a JSON object, not a string), written as Go's JSON encoder writes it. The ``url`` (or the
``url_file``'s content) may be a template too, rendered per notification as Alertmanager 0.34 does. Templates
see the alerts sent: with ``max_alerts``, the first that many. fleetmon adds an optional signature: with
``hmac_secret`` set, ``X-Fleetmon-Signature: sha256=<hex>`` carries HMAC-SHA256 of the exact body bytes, so a
receiver can check the sender and that nothing changed on the way.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import secret, secret_source, template
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.template_tree import parse_tree, render, render_tree
from fleetmon.hub.alerting.templates import Data, Field, from_notification
from fleetmon.hub.alerting.templates.data import go_json

KEYS = ("url", "url_file", "send_resolved", "max_alerts", "timeout", "http_config", "payload", "hmac_secret",
        "hmac_secret_file")
SIGNATURE_HEADER = "X-Fleetmon-Signature"


def encode(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret_key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret_key, body, hashlib.sha256).hexdigest()


@dataclass(eq=False, kw_only=True)
class Webhook(Integration):
    kind: ClassVar[str] = "webhook"
    url: str | Field = field(repr=False)  # a Field when it is a template
    http: HttpConfig
    max_alerts: int = 0  # 0: all
    payload: Any = None  # a tree of templates (template_tree); None: the version 4 payload
    hmac_secret: bytes = field(default=b"", repr=False)

    def send(self, notification: Notification) -> None:
        data = self.template_data(notification)
        body = self.body(notification, data)
        headers = {SIGNATURE_HEADER: signature(self.hmac_secret, body)} if self.hmac_secret else {}
        post(self.target(data), body, self.http, self.timeout, headers=headers)

    def template_data(self, notification: Notification) -> Data | None:
        """What the payload and url templates see: the alerts sent. None when neither is a template."""
        if self.payload is None and isinstance(self.url, str):
            return None
        return from_notification(notification.truncated(self.max_alerts))

    def body(self, notification: Notification, data: Data | None) -> bytes:
        if self.payload is None or data is None:
            return encode(notification.webhook_payload(self.max_alerts))
        try:
            return (go_json(render_tree(self.payload, data)) + "\n").encode("utf-8")
        except ValueError as exc:  # NaN or an infinity: Go's encoder refuses them too
            raise DeliveryError(f"payload is not JSON: {exc}", retryable=False) from None

    def target(self, data: Data | None) -> str:
        if isinstance(self.url, str) or data is None:
            return str(self.url)
        url = render(self.url, data)
        if not url:
            raise DeliveryError("webhook URL is empty after templating", retryable=False)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeliveryError("webhook URL is not an absolute http:// or https:// URL after templating",
                                retryable=False)
        return url


def parse(node: Node, setup: IntegrationSetup) -> Webhook:
    node = node.mapping(KEYS)
    url: str | Field = secret(node, "url")
    if not url:
        node.child("url").fail("url or url_file is required")
    elif "{{" in url:  # a template: checked once rendered
        url = template(Node(url, secret_source(node, "url").path, node.errors), setup.templates)
    else:
        check_url(secret_source(node, "url"), url)
    payload = node.child("payload")
    return Webhook(**integration_fields(node, setup, send_resolved=True), url=url,
                   http=entry_http_config(node, setup.glob.http_config),
                   max_alerts=node.child("max_alerts").number(0, minimum=0, integer=True),
                   payload=None if payload.missing or payload.value is None else parse_tree(payload, setup.templates),
                   hmac_secret=secret(node, "hmac_secret").encode("utf-8"))
