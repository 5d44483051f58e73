"""webex_configs: a Markdown message to a Webex room through the Messages API, as Alertmanager sends it.

One POST of ``{"markdown": ..., "roomId": ...}`` to ``api_url`` (the global ``webex_api_url``, by default
https://webexapis.com/v1/messages). ``room_id`` and ``message`` are templates; the message
(``webex.default.message``) is cut to Webex's 7439 bytes. The bot's access token goes in the entry's own
``http_config.authorization``, as Alertmanager requires.
"""

from dataclasses import dataclass
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.chat import (
    COMMON_KEYS,
    ChatIntegration,
    api_url,
    chat_fields,
    http_config,
    post_json,
    templates,
    truncate_bytes,
)
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields

DEFAULTS = {"message": '{{ template "webex.default.message" . }}', "room_id": ""}
KEYS = ("api_url", *COMMON_KEYS, *DEFAULTS)
MAX_MESSAGE_BYTES = 7439


@dataclass(eq=False, kw_only=True)
class Webex(ChatIntegration):
    kind: ClassVar[str] = "webex"
    api_url: str

    def message(self, notification: Notification) -> dict:
        texts = self.texts(notification)
        message = {"markdown": truncate_bytes(texts["message"], MAX_MESSAGE_BYTES)}
        if texts["room_id"]:
            message["roomId"] = texts["room_id"]
        return message

    def send(self, notification: Notification) -> None:
        post_json(self.api_url, self.message(notification), self.http, self.timeout)


def parse(node: Node, setup: IntegrationSetup) -> Webex:
    node = node.mapping(KEYS)
    if not node.child("room_id").string():
        node.child("room_id").fail("required: the ID of the Webex room to post in")
    if node.child("http_config").child("authorization").missing:
        node.child("http_config").child("authorization").fail(
            "required: the bot's access token (authorization: {credentials: <token>})")
    return Webex(**integration_fields(node, setup, send_resolved=True), http=http_config(node, setup),
                 fields=templates(node, setup, DEFAULTS), configured=chat_fields(node, DEFAULTS),
                 messages=("message",), api_url=api_url(node, setup.glob.webex_api_url))
