"""datadog_configs (fleetmon's; Alertmanager has none): alerts as Datadog events, through the Events API v1.

One ``POST https://api.<site>/api/v1/events`` per notification, the API key in the ``DD-API-KEY`` header.
A firing group posts an ``error`` event (or the configured ``alert_type``), its resolution a ``success``
one; both carry the same ``aggregation_key``, the SHA-256 of the group key (Datadog limits the key to 100
characters, which a group key can exceed), so Datadog shows them as one story. The event's tags are the
group's common labels as ``name:value``, then the configured ``tags``; ``text`` is cut to Datadog's 4000
characters. ``host`` (a template) ties the event to a Datadog host and its tags.

Datadog answers 202 when it takes the event; 403 (a wrong key) and 400 fail at once, 429 and 5xx are
retried, as for every HTTP receiver.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.common import render, secret, template
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.opsgenie import cut
from fleetmon.hub.alerting.receivers.pagerduty import dedup_key as group_key_hash
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field

DEFAULT_SITE = "datadoghq.com"
#: The templated keys and their defaults: the subject line, and the alerts as SNS and Pushover list them.
DEFAULTS = {"title": '{{ template "__subject" . }}', "text": '{{ template "sns.default.message" . }}', "host": ""}
KEYS = ("api_key", "api_key_file", "site", "api_url", "alert_type", "priority", "tags", "source_type_name",
        "send_resolved", "timeout", "http_config", *DEFAULTS)
ALERT_TYPES = ("error", "warning", "info")  # for firing groups; a resolved one is always "success"
PRIORITIES = ("normal", "low")
MAX_TEXT = 4000  # characters Datadog keeps of an event's text


def events_url(site: str) -> str:
    """The Events API of a Datadog site (``datadoghq.eu``, ``us5.datadoghq.com``, ...)."""
    return f"https://api.{site}/api/v1/events"


@dataclass(eq=False, kw_only=True)
class Datadog(Integration):
    kind: ClassVar[str] = "datadog"
    api_key: str = field(repr=False)
    url: str
    http: HttpConfig
    fields: dict[str, Field]  # every key of DEFAULTS
    tags: list[Field] = field(default_factory=list)
    alert_type: str = "error"
    priority: str = ""
    source_type_name: str = ""

    def event(self, notification: Notification) -> dict:
        texts = render(self.fields, notification)
        tags = [f"{name}:{value}" for name, value in sorted(notification.common_labels.items())]
        tags += [tag for tag in render(dict(enumerate(self.tags)), notification).values() if tag]
        event = {"title": texts["title"], "text": cut(texts["text"], MAX_TEXT),
                 "aggregation_key": group_key_hash(notification.group_key),
                 "alert_type": self.alert_type if notification.status == "firing" else "success", "tags": tags}
        if texts["host"]:
            event["host"] = texts["host"]
        if self.priority:
            event["priority"] = self.priority
        if self.source_type_name:
            event["source_type_name"] = self.source_type_name
        return event

    def send(self, notification: Notification) -> None:
        post(self.url, encode(self.event(notification)), self.http, self.timeout,
             headers={"DD-API-KEY": self.api_key, "Accept": "application/json"})


def parse(node: Node, setup: IntegrationSetup) -> Datadog:
    node = node.mapping(KEYS)
    api_key = secret(node, "api_key")
    if not api_key:
        node.child("api_key").fail("api_key or api_key_file is required")
    site = node.child("site").string(DEFAULT_SITE)
    if not site or "/" in site:
        node.child("site").fail("must be a Datadog site such as datadoghq.com or datadoghq.eu")
    url = node.child("api_url").string(events_url(site))
    check_url(node.child("api_url"), url)
    templates = setup.templates
    return Datadog(**integration_fields(node, setup, send_resolved=True), api_key=api_key, url=url,
                   http=entry_http_config(node, setup.glob.http_config),
                   fields={key: template(node.child(key), templates, default) for key, default in DEFAULTS.items()},
                   tags=[template(item, templates) for item in node.child("tags").sequence()],
                   alert_type=node.child("alert_type").string("error", choices=ALERT_TYPES),
                   priority=node.child("priority").string("", choices=PRIORITIES),
                   source_type_name=node.child("source_type_name").string())
