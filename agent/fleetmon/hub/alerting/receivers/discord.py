"""discord_configs: one message with one embed to a Discord webhook, as Alertmanager sends it.

The embed's title and description are the ``title`` and ``message`` templates (``discord.default.title``,
``discord.default.message``), cut to Discord's embed limits (256 and 4096 characters), ``content`` the
message text above the embed (2000 characters); the embed is red while anything fires and green once all
resolved. ``username`` and ``avatar_url`` are plain strings, sent only when set. Discord answers 204.
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
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields

#: The templated keys and Alertmanager's defaults for them (notify/discord/config.go, its docs for content).
DEFAULTS = {"title": '{{ template "discord.default.title" . }}',
            "message": '{{ template "discord.default.message" . }}',
            "content": '{{ template "discord.default.content" . }}'}
KEYS = ("webhook_url", "webhook_url_file", "username", "avatar_url", *COMMON_KEYS, *DEFAULTS)
MAX_TITLE, MAX_DESCRIPTION, MAX_CONTENT = 256, 4096, 2000  # characters (Discord's embed and message limits)
COLOR_FIRING, COLOR_RESOLVED = 0x992D22, 0x2ECC71


@dataclass(eq=False, kw_only=True)
class Discord(ChatIntegration):
    kind: ClassVar[str] = "discord"
    webhook_url: str = field(repr=False)
    username: str = ""
    avatar_url: str = ""

    def message(self, notification: Notification) -> dict:
        texts = self.texts(notification)
        message = {"content": truncate_runes(texts["content"], MAX_CONTENT),
                   "embeds": [{"title": truncate_runes(texts["title"], MAX_TITLE),
                               "description": truncate_runes(texts["message"], MAX_DESCRIPTION),
                               "color": COLOR_FIRING if notification.status == "firing" else COLOR_RESOLVED}]}
        if self.username:
            message["username"] = self.username
        if self.avatar_url:
            message["avatar_url"] = self.avatar_url
        return message

    def send(self, notification: Notification) -> None:
        post_json(self.webhook_url, self.message(notification), self.http, self.timeout)


def parse(node: Node, setup: IntegrationSetup) -> Discord:
    node = node.mapping(KEYS)
    return Discord(**integration_fields(node, setup, send_resolved=True), http=http_config(node, setup),
                   fields=templates(node, setup, DEFAULTS), configured=chat_fields(node, DEFAULTS),
                   titles=("title",), bodies=("message",), webhook_url=url_secret(node, "webhook_url"),
                   username=node.child("username").string(), avatar_url=node.child("avatar_url").string())
