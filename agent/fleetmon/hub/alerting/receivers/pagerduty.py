"""pagerduty_configs: PagerDuty Events API v2, one event per notification, as Alertmanager sends it.

The dedup_key is the SHA-256 of the group key, so the trigger of a group and its later resolve name the
same PagerDuty incident, and a restarted hub (or Alertmanager itself, migrating either way) keeps naming it.
The severity, unless configured, is the most severe ``severity`` label among the alerts that PagerDuty
knows (critical, error, warning, info), else error.
"""

import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import text
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.common import TEMPLATE_ERROR, literal, secret
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, parse_http_config, post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode

SEVERITIES = ("critical", "error", "warning", "info")  # most severe first
TEXT_KEYS = ("description", "client", "client_url", "source", "class", "component", "group")
KEYS = ("routing_key", "routing_key_file", "url", "severity", "details", "send_resolved", "timeout", "http_config",
        *TEXT_KEYS)
_MAX_SUMMARY = 1024  # characters; PagerDuty refuses longer summaries


def dedup_key(group_key: str) -> str:
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()


@dataclass(eq=False, kw_only=True)
class PagerDuty(Integration):
    kind: ClassVar[str] = "pagerduty"
    routing_key: str = field(repr=False)
    url: str
    http: HttpConfig
    texts: dict[str, str]  # the TEXT_KEYS the config sets, as written
    severity: str = ""  # "": from the alerts' labels
    details: dict[str, str] = field(default_factory=dict)

    def event(self, notification: Notification) -> dict:
        summary = self.texts.get("description") or text.title(notification)
        if len(summary) > _MAX_SUMMARY:
            summary = summary[:_MAX_SUMMARY - 1] + "…"
        details = {"firing": "\n".join(text.alert_line(a, notification) for a in notification.firing),
                   "resolved": "\n".join(text.alert_line(a, notification) for a in notification.resolved),
                   "num_firing": str(len(notification.firing)),
                   "num_resolved": str(len(notification.resolved)), **self.details}
        common = notification.common_labels
        payload = {"summary": summary,
                   "source": self.texts.get("source") or common.get("host") or common.get("instance") or "fleetmon",
                   "severity": self.severity or _severity(notification)}
        payload.update({key: self.texts[key] for key in ("class", "component", "group") if self.texts.get(key)})
        payload["custom_details"] = details
        event = {"routing_key": self.routing_key, "dedup_key": dedup_key(notification.group_key),
                 "event_action": "trigger" if notification.status == "firing" else "resolve",
                 "payload": payload, "client": self.texts.get("client") or "fleetmon"}
        client_url = self.texts.get("client_url") or notification.external_url
        if client_url:
            event["client_url"] = client_url
        return event

    def send(self, notification: Notification) -> None:
        post(self.url, encode(self.event(notification)), self.http, self.timeout)


def _severity(notification: Notification) -> str:
    labels = {alert.labels.get("severity", "").lower() for alert in notification.alerts}
    return next((severity for severity in SEVERITIES if severity in labels), "error")


def parse(node: Node, setup: IntegrationSetup) -> PagerDuty:
    for legacy in ("service_key", "service_key_file"):
        if not node.child(legacy).missing:
            node.child(legacy).fail("Events API v1 is not supported; use routing_key (an Events API v2 "
                                    "integration key)")
    node = node.mapping(KEYS + tuple(k for k in ("service_key", "service_key_file") if not node.child(k).missing))
    routing_key = secret(node, "routing_key")
    if not routing_key:
        node.child("routing_key").fail("routing_key or routing_key_file is required")
    url = node.child("url").string(setup.glob.pagerduty_url)
    check_url(node.child("url"), url)
    details = node.child("details").string_map()
    for key, value in details.items():
        if "{{" in value:
            node.child("details").child(key).fail(TEMPLATE_ERROR)
    severity = literal(node.child("severity"))
    if severity and severity not in SEVERITIES:
        node.child("severity").fail("must be one of: {} (got {!r})".format(", ".join(SEVERITIES), severity))
    http = node.child("http_config")
    return PagerDuty(**integration_fields(node, setup, send_resolved=True), routing_key=routing_key, url=url,
                     http=setup.glob.http_config if http.missing else parse_http_config(http),
                     texts={key: literal(node.child(key)) for key in TEXT_KEYS if not node.child(key).missing},
                     severity=severity, details=details)
