"""msteams_configs and msteamsv2_configs: Microsoft Teams, in both of the formats Alertmanager sends.

``msteams_configs`` posts an Office 365 connector MessageCard (title, summary, text, a red or green theme
color) to an Incoming Webhook URL. Microsoft is retiring those connectors; ``msteamsv2_configs`` posts to
a Power Automate Workflows URL a message with one Adaptive Card (version 1.2, full width): the title as a
bold heading colored Attention or Good, the text below it. The texts are Go templates with Alertmanager's
defaults (``msteams.default.*``, ``msteamsv2.default.*``, Markdown) and are not cut: Alertmanager does not
cut them either.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.chat import (
    COMMON_KEYS,
    ChatIntegration,
    chat_fields,
    http_config,
    post_json,
    templates,
    url_secret,
)
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields

#: The templated keys and Alertmanager's defaults (notify/msteams/config.go, notify/msteamsv2/config.go).
DEFAULTS = {"title": '{{ template "msteams.default.title" . }}',
            "summary": '{{ template "msteams.default.summary" . }}',
            "text": '{{ template "msteams.default.text" . }}'}
DEFAULTS_V2 = {"title": '{{ template "msteamsv2.default.title" . }}',
               "text": '{{ template "msteamsv2.default.text" . }}'}
KEYS = ("webhook_url", "webhook_url_file", *COMMON_KEYS, *DEFAULTS)
KEYS_V2 = ("webhook_url", "webhook_url_file", *COMMON_KEYS, *DEFAULTS_V2)
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


@dataclass(eq=False, kw_only=True)
class MSTeams(ChatIntegration):
    kind: ClassVar[str] = "msteams"
    webhook_url: str = field(repr=False)

    def message(self, notification: Notification) -> dict:
        texts = self.texts(notification)
        return {"@context": "http://schema.org/extensions", "type": "MessageCard", "title": texts["title"],
                "summary": texts["summary"], "text": texts["text"],
                "themeColor": "8C1A1A" if notification.status == "firing" else "2DC72D"}

    def send(self, notification: Notification) -> None:
        post_json(self.webhook_url, self.message(notification), self.http, self.timeout)


@dataclass(eq=False, kw_only=True)
class MSTeamsV2(ChatIntegration):
    kind: ClassVar[str] = "msteamsv2"
    webhook_url: str = field(repr=False)

    def message(self, notification: Notification) -> dict:
        texts = self.texts(notification)
        heading = {"type": "TextBlock", "text": texts["title"], "weight": "Bolder", "size": "Medium", "wrap": True,
                   "style": "heading", "color": "Attention" if notification.status == "firing" else "Good"}
        card = {"$schema": ADAPTIVE_CARD_SCHEMA, "type": "AdaptiveCard", "version": "1.2",
                "body": [heading, {"type": "TextBlock", "text": texts["text"], "wrap": True}],
                "msteams": {"width": "full"}}
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}

    def send(self, notification: Notification) -> None:
        post_json(self.webhook_url, self.message(notification), self.http, self.timeout)


def parse(node: Node, setup: IntegrationSetup) -> MSTeams:
    node = node.mapping(KEYS)
    return MSTeams(**integration_fields(node, setup, send_resolved=True), http=http_config(node, setup),
                   fields=templates(node, setup, DEFAULTS), configured=chat_fields(node, DEFAULTS),
                   titles=("title", "summary"), bodies=("text",), webhook_url=url_secret(node, "webhook_url"))


def parse_v2(node: Node, setup: IntegrationSetup) -> MSTeamsV2:
    node = node.mapping(KEYS_V2)
    return MSTeamsV2(**integration_fields(node, setup, send_resolved=True), http=http_config(node, setup),
                     fields=templates(node, setup, DEFAULTS_V2), configured=chat_fields(node, DEFAULTS_V2),
                     titles=("title",), bodies=("text",), webhook_url=url_secret(node, "webhook_url"))
