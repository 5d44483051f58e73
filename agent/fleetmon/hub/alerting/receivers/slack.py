"""slack_configs: one message with one attachment to a Slack incoming webhook or Slack's Web API
(receivers.slack_api: the bot token, update_message and Slack's answers), as Alertmanager sends it.

Every text is a Go template (fleetmon.hub.alerting.templates); a key left out renders Alertmanager's
default (``{{ template "slack.default.title" . }}`` and so on), so the message reads as Alertmanager's
did. An incident's change (docs/incidents.md) has no Alertmanager default: unless the config sets them,
its title and text are fleetmon's (receivers.text).

Beside the attachment, ``message_text`` (Alertmanager 0.31+) is the message's own top-level ``text``, left
out when it renders empty. The attachment carries the ``fields`` (title and value templated, ``short`` the
field's own or ``short_fields``) and the ``actions`` (buttons: every text templated, the confirmation's
too) in Alertmanager's JSON, with its checks when the config loads: a field needs a title and a value, an
action a type, a text and a url (a link button) or a name (a button for the app's interactive endpoint), a
confirmation a text. An action with a url drops its name, value and confirm, as Alertmanager's config does.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import slack_api, text
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, template
from fleetmon.hub.alerting.receivers.http import HttpConfig
from fleetmon.hub.alerting.receivers.http import post as http_post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field

#: The templated keys and Alertmanager's defaults for them (config/notifiers.go, DefaultSlackConfig).
DEFAULTS = {
    "channel": "",
    "username": '{{ template "slack.default.username" . }}',
    "color": '{{ template "slack.default.color" . }}',
    "title": '{{ template "slack.default.title" . }}',
    "title_link": '{{ template "slack.default.titlelink" . }}',
    "pretext": '{{ template "slack.default.pretext" . }}',
    "text": '{{ template "slack.default.text" . }}',
    "fallback": '{{ template "slack.default.fallback" . }}',
    "callback_id": '{{ template "slack.default.callbackid" . }}',
    "icon_emoji": '{{ template "slack.default.iconemoji" . }}',
    "icon_url": '{{ template "slack.default.iconurl" . }}',
    "image_url": "",
    "thumb_url": "",
    "footer": '{{ template "slack.default.footer" . }}',
    "message_text": "",
}
KEYS = (*slack_api.KEYS, "send_resolved", "timeout", "http_config", "link_names", "mrkdwn_in", "fields",
        "short_fields", "actions", *DEFAULTS)
FIELD_KEYS = ("title", "value", "short")
#: An action's texts and its confirmation's, in the order of Alertmanager's JSON.
ACTION_TEXTS = ("type", "text", "url", "style", "name", "value")
CONFIRM_TEXTS = ("text", "title", "ok_text", "dismiss_text")
_MAX_TITLE = 1024  # characters; Slack cuts longer titles, Alertmanager truncates them first


@dataclass(slots=True, frozen=True)
class AttachmentField:
    """One entry of ``fields``; ``short`` is its own or the entry's ``short_fields``."""

    title: Field
    value: Field
    short: bool

    def templates(self, path: str) -> dict[str, Field]:
        return {f"{path}.title": self.title, f"{path}.value": self.value}

    def json(self, texts: dict[str, str], path: str) -> dict:
        """Alertmanager's field: title and value left out when they render empty, short always there."""
        shown = {key: texts[f"{path}.{key}"] for key in ("title", "value")}
        return {**{key: value for key, value in shown.items() if value}, "short": self.short}


@dataclass(slots=True, frozen=True)
class Action:
    """One entry of ``actions``: a template per key of ACTION_TEXTS (an empty one for what it does not send),
    and its confirmation's templates when it has one."""

    texts: dict[str, Field]
    confirm: dict[str, Field] | None = None

    def templates(self, path: str) -> dict[str, Field]:
        found = {f"{path}.{key}": value for key, value in self.texts.items()}
        if self.confirm is not None:
            found.update({f"{path}.confirm.{key}": value for key, value in self.confirm.items()})
        return found

    def json(self, texts: dict[str, str], path: str) -> dict:
        """Alertmanager's action: every text left out when it renders empty; the confirmation there whenever
        the config gives one, though it render empty."""
        action = {key: texts[f"{path}.{key}"] for key in self.texts if texts[f"{path}.{key}"]}
        if self.confirm is not None:
            action["confirm"] = {key: texts[f"{path}.confirm.{key}"] for key in self.confirm
                                 if texts[f"{path}.confirm.{key}"]}
        return action


@dataclass(eq=False, kw_only=True)
class Slack(Integration):
    kind: ClassVar[str] = "slack"
    api_url: str = field(repr=False)  # the webhook, or the Web API's chat.postMessage
    http: HttpConfig  # with an app token, that token as its authorization
    fields: dict[str, Field]  # every key of DEFAULTS
    configured: frozenset[str] = frozenset()  # the keys the config sets
    link_names: bool = False
    mrkdwn_in: tuple[str, ...] = ("fallback", "pretext", "text")
    update_message: bool = False
    attachment_fields: tuple[AttachmentField, ...] = ()
    actions: tuple[Action, ...] = ()

    def message(self, notification: Notification) -> dict:
        templated = dict(self.fields)
        for index, item in enumerate(self.attachment_fields):
            templated.update(item.templates(f"fields[{index}]"))
        for index, action in enumerate(self.actions):
            templated.update(action.templates(f"actions[{index}]"))
        texts = render(templated, notification)
        if notification.incident is not None:
            for key, value in (("title", text.title(notification)), ("text", text.body(notification)),
                               ("fallback", text.title(notification))):
                if key not in self.configured:
                    texts[key] = value
        title = texts["title"]
        if len(title) > _MAX_TITLE:
            title = title[:_MAX_TITLE - 1] + "…"
        # Alertmanager's JSON: empty optional keys left out, text/fallback/callback_id/footer always there.
        attachment = {"title": title, "title_link": texts["title_link"], "pretext": texts["pretext"],
                      "text": texts["text"], "fallback": texts["fallback"], "callback_id": texts["callback_id"],
                      "fields": [item.json(texts, f"fields[{index}]")
                                 for index, item in enumerate(self.attachment_fields)],
                      "actions": [action.json(texts, f"actions[{index}]") for index, action in enumerate(self.actions)],
                      "image_url": texts["image_url"], "thumb_url": texts["thumb_url"], "footer": texts["footer"],
                      "color": texts["color"], "mrkdwn_in": list(self.mrkdwn_in)}
        always = ("text", "fallback", "callback_id", "footer")
        message = {key: texts[key] for key in ("channel", "username", "icon_emoji", "icon_url") if texts[key]}
        if self.link_names:
            message["link_names"] = True
        if texts["message_text"]:
            message["text"] = texts["message_text"]
        message["attachments"] = [{key: value for key, value in attachment.items() if value or key in always}]
        return message

    def send(self, notification: Notification) -> None:
        message = self.message(notification)
        data = notification.receiver_data  # the group's message so far, for update_message (nflog)
        edit = slack_api.edit_of(message, data) if self.update_message else None
        if edit is None:
            answer = self.post(self.api_url, message)
        else:
            try:
                answer = self.post(slack_api.update_url(self.api_url), edit)
            except slack_api.MessageGone:  # deleted in Slack: this notification starts a new message
                answer = self.post(self.api_url, message)
        if self.update_message:
            slack_api.remember(data, answer)

    def post(self, url: str, message: dict) -> dict:
        channel = message.get("channel", "")
        try:
            body = http_post(url, encode(message), self.http, self.timeout)
        except DeliveryError as exc:
            raise DeliveryError(f'channel "{channel}": {exc}', exc.retryable, exc.status) from exc
        return slack_api.read_answer(body, channel)


def parse(node: Node, setup: IntegrationSetup) -> Slack:
    node = node.mapping(KEYS)
    api_url, http, update_message = slack_api.parse_target(node, setup)
    fields = {key: template(node.child(key), setup.templates, default) for key, default in DEFAULTS.items()}
    mrkdwn_in = tuple(item.string() for item in node.child("mrkdwn_in").sequence())
    short = node.child("short_fields").boolean(False)
    return Slack(**integration_fields(node, setup, send_resolved=False), api_url=api_url, http=http, fields=fields,
                 configured=frozenset(key for key in DEFAULTS if not node.child(key).missing),
                 link_names=node.child("link_names").boolean(False), update_message=update_message,
                 attachment_fields=tuple(_field(item, setup, short) for item in node.child("fields").sequence()),
                 actions=tuple(_action(item, setup) for item in node.child("actions").sequence()),
                 **({"mrkdwn_in": mrkdwn_in} if mrkdwn_in else {}))


def _given(node: Node) -> bool:
    return isinstance(node.value, str) and node.value != ""


def _required(node: Node, setup: IntegrationSetup, why: str) -> Field:
    """A template that must not be empty (Alertmanager checks the text as written, before rendering)."""
    if node.missing or node.value == "":
        node.fail(f"required: {why}")
    return template(node, setup.templates)


def _field(node: Node, setup: IntegrationSetup, short_fields: bool) -> AttachmentField:
    node = node.mapping(FIELD_KEYS)
    return AttachmentField(_required(node.child("title"), setup, "a field needs a title and a value"),
                           _required(node.child("value"), setup, "a field needs a title and a value"),
                           node.child("short").boolean(short_fields))


def _action(node: Node, setup: IntegrationSetup) -> Action:
    node = node.mapping((*ACTION_TEXTS, "confirm"))
    confirm = None
    if not node.child("confirm").missing:  # checked even where a url drops it, as Alertmanager reads it first
        confirm_node = node.child("confirm").mapping(CONFIRM_TEXTS)
        confirm = {key: _required(confirm_node.child(key), setup, "the question the confirmation asks")
                   if key == "text" else template(confirm_node.child(key), setup.templates) for key in CONFIRM_TEXTS}
    texts = {"type": _required(node.child("type"), setup, "the action's type (button)"),
             "text": _required(node.child("text"), setup, "the button's label")}
    link = _given(node.child("url"))
    if not (link or _given(node.child("name"))):
        node.fail("needs url (a link button) or name (a button for the Slack app's interactive endpoint)")
    for key in ("url", "style", "name", "value"):
        if link and key in ("name", "value"):  # a link button has no name or value: Alertmanager clears them
            node.child(key).string()
            texts[key] = setup.templates.text("")
        else:
            texts[key] = template(node.child(key), setup.templates)
    return Action(texts, None if link else confirm)
