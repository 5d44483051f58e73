"""pagerduty_configs: PagerDuty Events API v2, one event per notification, as Alertmanager sends it.

The dedup_key is the SHA-256 of the group key, so the trigger of a group and its later resolve name the
same PagerDuty incident, and a restarted hub (or Alertmanager itself, migrating either way) keeps naming it.
The texts are Go templates with Alertmanager's defaults: the summary ``{{ template
"pagerduty.default.description" . }}``, client and client_url the ``pagerduty.default.client*`` templates,
source the client's, and the details ``firing``, ``resolved``, ``num_firing`` and ``num_resolved`` (a
configured detail of the same name replaces one). The severity, unless configured, is fleetmon's choice:
the most severe ``severity`` label among the alerts that PagerDuty knows (critical, error, warning, info),
else error (Alertmanager always sends error). ``images`` (``src``, ``alt``, ``href``) and ``links`` (``href``,
``text``) are templates too, sent as Alertmanager sends them: an image whose src renders empty, or a link whose
href does, is left out.
"""

import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import text
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.common import render, secret, template, template_map
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field

SEVERITIES = ("critical", "error", "warning", "info")  # most severe first
#: The templated keys and Alertmanager's defaults for them (DefaultPagerdutyConfig; source defaults to client).
DEFAULTS = {"description": '{{ template "pagerduty.default.description" .}}',
            "client": '{{ template "pagerduty.default.client" . }}',
            "client_url": '{{ template "pagerduty.default.clientURL" . }}',
            "source": "", "class": "", "component": "", "group": "", "severity": ""}
DEFAULT_DETAILS = {"firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
                   "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
                   "num_firing": "{{ .Alerts.Firing | len }}", "num_resolved": "{{ .Alerts.Resolved | len }}"}
TEXT_KEYS = tuple(key for key in DEFAULTS if key != "severity")
KEYS = ("routing_key", "routing_key_file", "url", "severity", "details", "images", "links", "send_resolved",
        "timeout", "http_config", *TEXT_KEYS)
#: The keys of an image and of a link, the first the one it needs (Alertmanager's PagerdutyImage, PagerdutyLink).
IMAGE_KEYS = ("src", "alt", "href")
LINK_KEYS = ("href", "text")
_MAX_SUMMARY = 1024  # characters; PagerDuty refuses longer summaries


def dedup_key(group_key: str) -> str:
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()


@dataclass(eq=False, kw_only=True)
class PagerDuty(Integration):
    kind: ClassVar[str] = "pagerduty"
    routing_key: str = field(repr=False)
    url: str
    http: HttpConfig
    configured: frozenset[str] = frozenset()  # the keys of DEFAULTS the config sets
    fields: dict[str, Field]  # every key of DEFAULTS
    details: dict[str, Field] = field(default_factory=dict)
    images: list[dict[str, Field]] = field(default_factory=list)
    links: list[dict[str, Field]] = field(default_factory=list)

    def event(self, notification: Notification) -> dict:
        texts = render(self.fields, notification)
        details = render(self.details, notification)
        if notification.incident is not None and "description" not in self.configured:
            texts["description"] = text.title(notification)
        summary = texts["description"]
        if len(summary) > _MAX_SUMMARY:
            summary = summary[:_MAX_SUMMARY - 1] + "…"
        payload = {"summary": summary, "source": texts["source"] or texts["client"],
                   "severity": texts["severity"] or _severity(notification)}
        payload.update({key: texts[key] for key in ("class", "component", "group") if texts[key]})
        payload["custom_details"] = details
        event = {"routing_key": self.routing_key, "dedup_key": dedup_key(notification.group_key),
                 "event_action": "trigger" if notification.status == "firing" else "resolve",
                 "payload": payload, "client": texts["client"]}
        if texts["client_url"]:
            event["client_url"] = texts["client_url"]
        for key, items in (("images", self.images), ("links", self.links)):
            rendered = [render(item, notification) for item in items]
            kept = [item for item in rendered if next(iter(item.values()))]  # a src, an href
            if kept:
                event[key] = kept
        return event

    def send(self, notification: Notification) -> None:
        post(self.url, encode(self.event(notification)), self.http, self.timeout)


def _severity(notification: Notification) -> str:
    labels = {alert.labels.get("severity", "").lower() for alert in notification.alerts}
    return next((severity for severity in SEVERITIES if severity in labels), "error")


def _attachments(node: Node, keys: tuple[str, ...], setup: IntegrationSetup) -> list[dict[str, Field]]:
    return [{key: template(entry.child(key), setup.templates) for key in keys}
            for entry in (item.mapping(keys) for item in node.sequence())]


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
    templates = setup.templates
    details = {**{key: templates.text(value) for key, value in DEFAULT_DETAILS.items()},
               **template_map(node.child("details"), templates)}
    severity = node.child("severity").string()
    if severity and "{{" not in severity and severity not in SEVERITIES:
        node.child("severity").fail("must be one of: {} (got {!r})".format(", ".join(SEVERITIES), severity))
    fields = {key: template(node.child(key), templates, default) for key, default in DEFAULTS.items()}
    if node.child("source").missing:  # as Alertmanager: the source is the client unless set
        fields["source"] = template(node.child("client"), templates, DEFAULTS["client"])
    return PagerDuty(**integration_fields(node, setup, send_resolved=True), routing_key=routing_key, url=url,
                     http=entry_http_config(node, setup.glob.http_config),
                     configured=frozenset(key for key in DEFAULTS if not node.child(key).missing),
                     fields=fields, details=details, images=_attachments(node.child("images"), IMAGE_KEYS, setup),
                     links=_attachments(node.child("links"), LINK_KEYS, setup))
