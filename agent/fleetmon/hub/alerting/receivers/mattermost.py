"""mattermost_configs: a Mattermost incoming webhook, as Alertmanager (0.30 and later) sends it.

One POST of the webhook JSON: channel, username, icon_url, icon_emoji, type, ``props.card`` and
``priority`` on the message, and one Slack-style attachment with the text, fallback, color, pretext,
author, title, title_link, fields, thumb_url, footer, footer_icon and image_url; every one a template
(defaults ``mattermost.default.*``), left out of the JSON when empty. The deprecated ``attachments`` list,
when set, replaces that attachment and moves ``text`` to the message, cut to Mattermost's 16383
characters. A priority other than urgent, important or standard becomes standard; ``requested_ack``
needs important or urgent and ``persistent_notifications`` urgent, as Alertmanager corrects them. The URL
defaults to the global ``mattermost_webhook_url(_file)``.
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
    truncate_runes,
    url_secret,
)
from fleetmon.hub.alerting.receivers.common import render
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.templates import Field

#: The attachment's keys in the order of Alertmanager's JSON.
ATTACHMENT_KEYS = ("fallback", "color", "pretext", "text", "author_name", "author_link", "author_icon", "title",
                   "title_link", "fields", "thumb_url", "footer", "footer_icon", "image_url")
#: The templated keys and Alertmanager's defaults for them (notify/mattermost/config.go).
DEFAULTS = {"channel": "", "username": '{{ template "mattermost.default.username" . }}', "icon_url": "",
            "icon_emoji": "", "type": "",
            **{key: "" for key in ATTACHMENT_KEYS if key != "fields"},
            "color": '{{ template "mattermost.default.color" . }}',
            "text": '{{ template "mattermost.default.text" . }}',
            "title": '{{ template "mattermost.default.title" . }}',
            "title_link": '{{ template "mattermost.default.titlelink" . }}',
            "fallback": '{{ template "mattermost.default.fallback" . }}'}
KEYS = ("webhook_url", "webhook_url_file", "fields", "attachments", "props", "priority", *COMMON_KEYS, *DEFAULTS)
FIELD_KEYS = ("title", "value", "short")
PRIORITY_KEYS = ("priority", "requested_ack", "persistent_notifications")
PRIORITIES = ("urgent", "important", "standard")
MAX_TEXT = 16383  # characters


@dataclass(slots=True, frozen=True)
class AttachmentField:
    title: Field
    value: Field
    short: bool | None = None


@dataclass(slots=True, frozen=True)
class Attachment:
    texts: dict[str, Field]  # the keys of ATTACHMENT_KEYS but fields
    fields: tuple[AttachmentField, ...] = ()


@dataclass(eq=False, kw_only=True)
class Mattermost(ChatIntegration):
    kind: ClassVar[str] = "mattermost"
    webhook_url: str = field(repr=False)
    attachment_fields: tuple[AttachmentField, ...] = ()
    attachments: tuple[Attachment, ...] = ()  # the deprecated list; empty: one attachment from the top level
    card: Field | None = None
    priority: Field | None = None
    requested_ack: bool = False
    persistent_notifications: bool = False

    def message(self, notification: Notification) -> dict:
        texts = self.texts(notification)
        message = {key: texts[key] for key in ("channel", "username", "icon_url", "icon_emoji")}
        if self.attachments:
            message["text"] = truncate_runes(texts["text"], MAX_TEXT)
            attachments = [_attachment(render(item.texts, notification), item.fields, notification)
                           for item in self.attachments]
        else:
            attachments = [_attachment(texts, self.attachment_fields, notification)]
        message = {**{key: value for key, value in message.items() if value}, "attachments": attachments}
        if texts["type"]:
            message["type"] = texts["type"]
        if self.card is not None:
            card = render({"props.card": self.card}, notification)["props.card"]
            message["props"] = {"card": card} if card else {}
        if self.priority is not None:
            message["priority"] = self._priority(render({"priority.priority": self.priority}, notification))
        return _ordered(message)

    def _priority(self, rendered: dict[str, str]) -> dict:
        priority = rendered["priority.priority"].lower()
        priority = priority if priority in PRIORITIES else "standard"
        result = {"priority": priority}
        if self.requested_ack and priority != "standard":
            result["requested_ack"] = True
        if self.persistent_notifications and priority == "urgent":
            result["persistent_notifications"] = True
        return result

    def send(self, notification: Notification) -> None:
        post_json(self.webhook_url, self.message(notification), self.http, self.timeout)


def _ordered(message: dict) -> dict:
    order = ("text", "channel", "username", "icon_url", "icon_emoji", "attachments", "type", "props", "priority")
    return {key: message[key] for key in order if key in message}


def _attachment(texts: dict[str, str], fields: tuple[AttachmentField, ...], notification: Notification) -> dict:
    attachment = {}
    for key in ATTACHMENT_KEYS:
        if key == "fields":
            if fields:
                attachment["fields"] = [_field(item, notification) for item in fields]
        elif texts[key]:
            attachment[key] = texts[key]
    return attachment


def _field(item: AttachmentField, notification: Notification) -> dict:
    rendered = render({"title": item.title, "value": item.value}, notification)
    result = {key: value for key, value in rendered.items() if value}
    if item.short is not None:
        result["short"] = item.short
    return result


def _fields(node: Node, setup: IntegrationSetup) -> tuple[AttachmentField, ...]:
    fields = []
    for item in node.sequence():
        item = item.mapping(FIELD_KEYS)
        for key in ("title", "value"):
            if not item.child(key).string():
                item.child(key).fail("required")
        short = item.child("short")
        fields.append(AttachmentField(templates(item, setup, {"title": ""})["title"],
                                      templates(item, setup, {"value": ""})["value"],
                                      None if short.missing else short.boolean(False)))
    return tuple(fields)


def parse(node: Node, setup: IntegrationSetup) -> Mattermost:
    node = node.mapping(KEYS)
    attachments = []
    for item in node.child("attachments").sequence():
        item = item.mapping(ATTACHMENT_KEYS)
        attachments.append(Attachment(templates(item, setup, {key: "" for key in ATTACHMENT_KEYS if key != "fields"}),
                                      _fields(item.child("fields"), setup)))
    props = node.child("props").mapping(("card",))
    priority = node.child("priority").mapping(PRIORITY_KEYS)
    card = props.child("card").string()
    level = priority.child("priority").string()
    return Mattermost(**integration_fields(node, setup, send_resolved=True), http=http_config(node, setup),
                      fields=templates(node, setup, DEFAULTS), configured=chat_fields(node, DEFAULTS),
                      titles=("title", "fallback"), bodies=("text",),
                      webhook_url=url_secret(node, "webhook_url", setup.glob.mattermost_webhook_url,
                                             "mattermost_webhook_url(_file)"),
                      attachment_fields=_fields(node.child("fields"), setup), attachments=tuple(attachments),
                      card=templates(props, setup, {"card": ""})["card"] if card else None,
                      priority=templates(priority, setup, {"priority": ""})["priority"] if level else None,
                      requested_ack=priority.child("requested_ack").boolean(False),
                      persistent_notifications=priority.child("persistent_notifications").boolean(False))
