"""telegram_configs: the Bot API's sendMessage, as Alertmanager sends it (through the telebot library).

One POST to ``<api_url>/bot<token>/sendMessage`` with a JSON object of strings: ``chat_id``, ``text``,
``disable_web_page_preview`` (always), ``disable_notification``, ``message_thread_id`` and ``parse_mode``
when set. The text is the ``message`` template (``telegram.default.message``); with the default parse_mode
HTML it is rendered with html/template, so label values are escaped, and a text over Telegram's 4096
characters is replaced by a short notice (cutting HTML could break its tags); in the other modes it is cut
to 4096 characters. The bot token and the API URL default to the globals ``telegram_bot_token(_file)`` and
``telegram_api_url``.

Delivered means Telegram answered ``{"ok": true, ...}``. Alertmanager retries every failed sendMessage,
whatever Telegram said (a wrong chat, a bad token, flood control), so fleetmon does too; the attempts end
at the delivery deadline.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
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
    required_secret,
    templates,
    truncate_runes,
)
from fleetmon.hub.alerting.receivers.http import post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode

DEFAULTS = {"message": '{{ template "telegram.default.message" . }}'}
KEYS = ("api_url", "bot_token", "bot_token_file", "chat_id", "chat_id_file", "message_thread_id",
        "disable_notifications", "parse_mode", *COMMON_KEYS, *DEFAULTS)
PARSE_MODES = ("", "Markdown", "MarkdownV2", "HTML")
MAX_MESSAGE = 4096  # characters
# Alertmanager's words, tabs and all, for an HTML text Telegram would refuse as too long.
TOO_LONG = ("Alertmanager notification could not be sent: message length exceeds Telegram limits.\n\t\t\t"
            "Please check the template used for producing the message content.")


@dataclass(eq=False, kw_only=True)
class Telegram(ChatIntegration):
    kind: ClassVar[str] = "telegram"
    api_url: str
    bot_token: str = field(repr=False)
    chat_id: int
    message_thread_id: int = 0
    disable_notifications: bool = False
    parse_mode: str = "HTML"

    def request(self, notification: Notification) -> dict[str, str]:
        message = self.texts(notification)["message"]
        if self.parse_mode == "HTML":
            message = message if len(message) <= MAX_MESSAGE else TOO_LONG
        else:
            message = truncate_runes(message, MAX_MESSAGE)
        params = {"chat_id": str(self.chat_id), "text": message, "disable_web_page_preview": "true"}
        if self.disable_notifications:
            params["disable_notification"] = "true"
        if self.parse_mode:
            params["parse_mode"] = self.parse_mode
        if self.message_thread_id:
            params["message_thread_id"] = str(self.message_thread_id)
        return dict(sorted(params.items()))  # Go's JSON of a map: keys sorted

    def send(self, notification: Notification) -> None:
        url = f"{self.api_url.rstrip('/')}/bot{self.bot_token}/sendMessage"
        try:
            answer = post(url, encode(self.request(notification)), self.http, self.timeout)
        except DeliveryError as exc:
            raise DeliveryError(str(exc), retryable=True, status=exc.status) from exc
        try:
            reply = json.loads(answer)
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            detail = (f"{reply.get('description', '')} ({reply.get('error_code', '?')})" if isinstance(reply, dict)
                      else "not a Bot API answer: " + answer[:200].decode("utf-8", "replace"))
            raise DeliveryError(f"Telegram refused sendMessage: {detail}", retryable=True)


def parse(node: Node, setup: IntegrationSetup) -> Telegram:
    node = node.mapping(KEYS)
    glob = setup.glob
    bot_token = required_secret(node, "bot_token", glob.telegram_bot_token, "telegram_bot_token(_file)")
    parse_mode = node.child("parse_mode").string("HTML", choices=PARSE_MODES)
    return Telegram(**integration_fields(node, setup, send_resolved=True), http=http_config(node, setup),
                    fields=templates(node, setup, DEFAULTS, html_keys=("message",) if parse_mode == "HTML" else ()),
                    configured=chat_fields(node, DEFAULTS), messages=("message",),
                    escaped=frozenset({"message"}) if parse_mode == "HTML" else frozenset(),
                    api_url=api_url(node, glob.telegram_api_url), bot_token=bot_token, chat_id=_chat_id(node),
                    message_thread_id=node.child("message_thread_id").number(0, integer=True),
                    disable_notifications=node.child("disable_notifications").boolean(False), parse_mode=parse_mode)


def _chat_id(node: Node) -> int:
    inline, from_file = node.child("chat_id"), node.child("chat_id_file")
    if not inline.missing and not from_file.missing:
        from_file.fail("set chat_id or chat_id_file, not both")
    if from_file.missing:
        if inline.missing:
            inline.fail("chat_id or chat_id_file is required")
        chat_id = inline.number(0, integer=True)
        if inline.value == 0:
            inline.fail("must not be 0")
        return chat_id
    path = from_file.string()
    try:
        return int(Path(path).read_text(encoding="utf-8").strip())
    except OSError as exc:
        from_file.fail(f"cannot read {path}: {exc.strerror}")
    except (UnicodeDecodeError, ValueError):
        from_file.fail(f"{path} does not hold an integer chat ID")
    return 0
