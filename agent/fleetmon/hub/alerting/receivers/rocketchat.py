"""rocketchat_configs: chat.postMessage of Rocket.Chat's REST API, one attachment, as Alertmanager sends it.

One POST to ``<api_url>/api/v1/chat.postMessage`` with the personal access token in ``X-Auth-Token`` and
its user ID in ``X-User-Id`` (each from the entry or the globals ``rocketchat_token(_file)``,
``rocketchat_token_id(_file)``; the URL from ``rocketchat_api_url``). Every text is a template: channel,
emoji and icon_url (the avatar) on the message; title (cut to 1024 characters), title_link, text, color,
image_url, thumb_url, the ``fields`` and the ``actions`` (buttons) on its attachment. Keys left empty are
left out of the JSON. ``link_names`` is read and, as in Alertmanager, not sent.

Rocket.Chat may refuse a message with status 200: delivered means a 2xx answer whose JSON says
``"success": true``; ``"success": false`` fails for good, an answer that is not JSON is worth another try.
"""

import json
from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.receivers.chat import (
    COMMON_KEYS,
    ChatIntegration,
    api_url,
    chat_fields,
    http_config,
    post_json,
    required_secret,
    templates,
    truncate_runes,
)
from fleetmon.hub.alerting.receivers.common import render, template
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.templates import Field

#: The templated keys and Alertmanager's defaults for them (notify/rocketchat/config.go).
DEFAULTS = {"channel": "",
            "color": '{{ if eq .Status "firing" }}red{{ else }}green{{ end }}',
            "emoji": '{{ template "rocketchat.default.emoji" . }}',
            "icon_url": '{{ template "rocketchat.default.iconurl" . }}',
            "text": '{{ template "rocketchat.default.text" . }}',
            "title": '{{ template "rocketchat.default.title" . }}',
            "title_link": '{{ template "rocketchat.default.titlelink" . }}',
            "image_url": "", "thumb_url": ""}
KEYS = ("api_url", "token", "token_file", "token_id", "token_id_file", "fields", "short_fields", "actions",
        "link_names", *COMMON_KEYS, *DEFAULTS)
FIELD_KEYS = ("title", "value", "short")
ACTION_KEYS = ("type", "text", "url", "msg")
MAX_TITLE = 1024  # characters
POST_MESSAGE = "api/v1/chat.postMessage"


@dataclass(eq=False, kw_only=True)
class RocketChat(ChatIntegration):
    kind: ClassVar[str] = "rocketchat"
    api_url: str
    token: str = field(repr=False)
    token_id: str = field(repr=False)
    attachment_fields: list[tuple[dict[str, Field], bool]] = field(default_factory=list)  # (title/value, short)
    actions: list[dict[str, Field]] = field(default_factory=list)

    def message(self, notification: Notification) -> dict:
        texts = self.texts(notification)
        attachment = {"title": truncate_runes(texts["title"], MAX_TITLE), "title_link": texts["title_link"],
                      "text": texts["text"], "image_url": texts["image_url"], "thumb_url": texts["thumb_url"],
                      "color": texts["color"]}
        attachment = {key: value for key, value in attachment.items() if value}
        if self.attachment_fields:
            attachment["fields"] = [{"short": short, **_non_empty(render(pair, notification))}
                                    for pair, short in self.attachment_fields]
        if self.actions:
            attachment["actions"] = [_action(render(action, notification)) for action in self.actions]
        message = {"channel": texts["channel"], "emoji": texts["emoji"], "avatar": texts["icon_url"]}
        return {**_non_empty(message), "attachments": [attachment]}

    def send(self, notification: Notification) -> None:
        message = self.message(notification)
        channel = message.get("channel", "")
        url = f"{self.api_url.rstrip('/')}/{POST_MESSAGE}"
        headers = {"X-Auth-Token": self.token, "X-User-Id": self.token_id}
        try:
            answer = post_json(url, message, self.http, self.timeout, headers=headers)
        except DeliveryError as exc:
            raise DeliveryError(f"channel {channel!r}: {exc}", retryable=exc.retryable, status=exc.status) from exc
        try:
            reply = json.loads(answer)
        except ValueError:
            raise DeliveryError(f"channel {channel!r}: the answer is not JSON: "
                                f"{answer[:200].decode('utf-8', 'replace')}", retryable=True) from None
        if not isinstance(reply, dict) or reply.get("success") is not True:
            error = reply.get("error", "") if isinstance(reply, dict) else ""
            raise DeliveryError(f"channel {channel!r}: Rocket.Chat refused the message: {error}", retryable=False)


def _non_empty(values: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value}


def _action(texts: dict[str, str]) -> dict:
    """A button, with the keys Alertmanager's action JSON always has (is_webview, msg_in_chat_window)."""
    action = {"type": "button", **_non_empty({"text": texts["text"], "url": texts["url"]}), "is_webview": False}
    if texts["msg"]:
        action["msg"] = texts["msg"]
    action["msg_in_chat_window"] = False
    return action


def parse(node: Node, setup: IntegrationSetup) -> RocketChat:
    node = node.mapping(KEYS)
    glob, tmpl = setup.glob, setup.templates
    short_default = node.child("short_fields").boolean(False)
    node.child("link_names").boolean(False)
    pairs = []
    for item in node.child("fields").sequence():
        item = item.mapping(FIELD_KEYS)
        pairs.append(({key: template(item.child(key), tmpl) for key in ("title", "value")},
                      item.child("short").boolean(short_default)))
    actions = []
    for item in node.child("actions").sequence():
        item = item.mapping(ACTION_KEYS)
        item.child("type").string()  # Alertmanager sends every action as a button
        actions.append({key: template(item.child(key), tmpl) for key in ("text", "url", "msg")})
    return RocketChat(**integration_fields(node, setup, send_resolved=False), http=http_config(node, setup),
                      fields=templates(node, setup, DEFAULTS), configured=chat_fields(node, DEFAULTS),
                      titles=("title",), bodies=("text",), api_url=api_url(node, glob.rocketchat_api_url),
                      token=required_secret(node, "token", glob.rocketchat_token, "rocketchat_token(_file)"),
                      token_id=required_secret(node, "token_id", glob.rocketchat_token_id,
                                               "rocketchat_token_id(_file)"),
                      attachment_fields=pairs, actions=actions)
