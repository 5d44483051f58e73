"""pagerduty_configs: PagerDuty's Events API, one event per notification, as Alertmanager sends it.

The dedup_key is the SHA-256 of the group key, so the trigger of a group and its later resolve name the
same PagerDuty incident, and a restarted hub (or Alertmanager itself, migrating either way) keeps naming it.
The texts are Go templates with Alertmanager's defaults: the summary ``{{ template
"pagerduty.default.description" . }}``, client and client_url the ``pagerduty.default.client*`` templates,
source the client's, and the details ``firing`` and ``resolved`` (the alerts as JSON objects), ``num_firing``
and ``num_resolved`` (numbers), as Alertmanager 0.30+ sends them; a configured detail of the same name replaces
one, and a detail's value is a tree of templates (receivers.template_tree). The severity, unless configured,
is fleetmon's choice: the most severe ``severity`` label among the alerts that PagerDuty knows (critical,
error, warning, info), else error (Alertmanager always sends error). ``images`` (``src``, ``alt``, ``href``) and
``links`` (``href``, ``text``) are templates too, sent as Alertmanager sends them: an image whose src renders
empty, or a link whose href does, is left out. The routing key is a template too.

With ``service_key(_file)`` instead of ``routing_key``, the event goes to Events API v1 (``create_event.json``:
``service_key``, ``event_type``, ``incident_key`` the same SHA-256, ``description``, ``details``; ``client`` and
``client_url`` on a trigger), where a 403 (PagerDuty's rate limit there) is worth another try, not a 429. The
v1 URL is PagerDuty's unless the entry sets ``url`` (Alertmanager always uses PagerDuty's).
"""

import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import text
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, secret, secret_source, template
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.template_tree import parse_tree, render_tree
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field, from_notification

SEVERITIES = ("critical", "error", "warning", "info")  # most severe first
#: The templated keys and Alertmanager's defaults for them (DefaultPagerdutyConfig; source defaults to client).
DEFAULTS = {"description": '{{ template "pagerduty.default.description" .}}',
            "client": '{{ template "pagerduty.default.client" . }}',
            "client_url": '{{ template "pagerduty.default.clientURL" . }}',
            "source": "", "class": "", "component": "", "group": "", "severity": ""}
DEFAULT_DETAILS = {"firing": "{{ .Alerts.Firing | toJson }}", "resolved": "{{ .Alerts.Resolved | toJson }}",
                   "num_firing": "{{ .Alerts.Firing | len }}", "num_resolved": "{{ .Alerts.Resolved | len }}"}
TEXT_KEYS = tuple(key for key in DEFAULTS if key != "severity")
KEYS = ("routing_key", "routing_key_file", "service_key", "service_key_file", "url", "severity", "details", "images",
        "links", "send_resolved", "timeout", "http_config", *TEXT_KEYS)
V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
#: The keys of an image and of a link, the first the one it needs (Alertmanager's PagerdutyImage, PagerdutyLink).
IMAGE_KEYS = ("src", "alt", "href")
LINK_KEYS = ("href", "text")
_MAX_SUMMARY = 1024  # characters; PagerDuty refuses longer summaries


def dedup_key(group_key: str) -> str:
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()


@dataclass(eq=False, kw_only=True)
class PagerDuty(Integration):
    kind: ClassVar[str] = "pagerduty"
    key: Field = field(repr=False)  # the routing key (a template, as Alertmanager renders it)
    v1: bool = False  # the key is an Events API v1 service key
    url: str
    http: HttpConfig
    configured: frozenset[str] = frozenset()  # the keys of DEFAULTS the config sets
    fields: dict[str, Field]  # every key of DEFAULTS
    details: dict[str, object] = field(default_factory=dict)  # trees of templates
    images: list[dict[str, Field]] = field(default_factory=list)
    links: list[dict[str, Field]] = field(default_factory=list)

    def event(self, notification: Notification) -> dict:
        data = from_notification(notification)  # once, for every template of the event
        texts = render({**self.fields, "key": self.key}, data)
        if not texts["key"]:
            raise DeliveryError(("service" if self.v1 else "routing") + " key is empty after templating",
                                retryable=False)
        details = {key: render_tree(value, data) for key, value in sorted(self.details.items())}  # a Go map
        if notification.incident is not None and "description" not in self.configured:
            texts["description"] = text.title(notification)
        summary = texts["description"]
        if len(summary) > _MAX_SUMMARY:
            summary = summary[:_MAX_SUMMARY - 1] + "…"
        firing = notification.status == "firing"
        if self.v1:
            event = {"service_key": texts["key"], "incident_key": dedup_key(notification.group_key),
                     "event_type": "trigger" if firing else "resolve", "description": summary, "event_action": "",
                     "payload": None}
            if firing:
                event.update((key, texts[key]) for key in ("client", "client_url") if texts[key])
            if details:
                event["details"] = details
            return event
        payload = {"summary": summary, "source": texts["source"] or texts["client"],
                   "severity": texts["severity"] or _severity(notification)}
        payload.update({key: texts[key] for key in ("class", "component", "group") if texts[key]})
        payload["custom_details"] = details
        event = {"routing_key": texts["key"], "dedup_key": dedup_key(notification.group_key),
                 "event_action": "trigger" if firing else "resolve",
                 "payload": payload, "client": texts["client"]}
        if texts["client_url"]:
            event["client_url"] = texts["client_url"]
        for key, items in (("images", self.images), ("links", self.links)):
            rendered = [render(item, data) for item in items]
            kept = [item for item in rendered if next(iter(item.values()))]  # a src, an href
            if kept:
                event[key] = kept
        return event

    def send(self, notification: Notification) -> None:
        try:
            post(self.url, encode(self.event(notification)), self.http, self.timeout)
        except DeliveryError as exc:
            if self.v1 and exc.status in (403, 429):  # v1's rate limit answers 403; a 429 means nothing there
                raise DeliveryError(str(exc), retryable=exc.status == 403, status=exc.status) from exc
            raise


def _severity(notification: Notification) -> str:
    labels = {alert.labels.get("severity", "").lower() for alert in notification.alerts}
    return next((severity for severity in SEVERITIES if severity in labels), "error")


def _attachments(node: Node, keys: tuple[str, ...], setup: IntegrationSetup) -> list[dict[str, Field]]:
    return [{key: template(entry.child(key), setup.templates) for key in keys}
            for entry in (item.mapping(keys) for item in node.sequence())]


def parse(node: Node, setup: IntegrationSetup) -> PagerDuty:
    node = node.mapping(KEYS)
    v1 = not (node.child("service_key").missing and node.child("service_key_file").missing)
    key_name = "service_key" if v1 else "routing_key"
    routing_key = secret(node, key_name)  # with both set, v1's: Alertmanager's choice
    if not routing_key:
        node.child(key_name).fail("routing_key or routing_key_file (Events API v2), or service_key or "
                                  "service_key_file (v1), is required")
    url = node.child("url").string(V1_URL if v1 else setup.glob.pagerduty_url)
    check_url(node.child("url"), url)
    templates = setup.templates
    configured = node.child("details")
    details = {key: templates.text(value) for key, value in DEFAULT_DETAILS.items()}
    details.update((name, parse_tree(configured.child(name), templates)) for name, _ in configured.items())
    severity = node.child("severity").string()
    if severity and "{{" not in severity and severity not in SEVERITIES:
        node.child("severity").fail("must be one of: {} (got {!r})".format(", ".join(SEVERITIES), severity))
    fields = {key: template(node.child(key), templates, default) for key, default in DEFAULTS.items()}
    if node.child("source").missing:  # as Alertmanager: the source is the client unless set
        fields["source"] = template(node.child("client"), templates, DEFAULTS["client"])
    return PagerDuty(**integration_fields(node, setup, send_resolved=True), url=url, v1=v1,
                     key=template(Node(routing_key, secret_source(node, key_name).path, node.errors), templates),
                     http=entry_http_config(node, setup.glob.http_config),
                     configured=frozenset(key for key in DEFAULTS if not node.child(key).missing),
                     fields=fields, details=details, images=_attachments(node.child("images"), IMAGE_KEYS, setup),
                     links=_attachments(node.child("links"), LINK_KEYS, setup))
