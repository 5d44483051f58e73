"""slack_configs: one message with one attachment to a Slack incoming webhook or Slack's Web API
(receivers.slack_api: the bot token, update_message and Slack's answers), as Alertmanager sends it.

Every text is a Go template (fleetmon.hub.alerting.templates); a key left out renders Alertmanager's
default (``{{ template "slack.default.title" . }}`` and so on), so the message reads as Alertmanager's
did. An incident's change (docs/incidents.md) has no Alertmanager default: unless the config sets them,
its title and text are fleetmon's (receivers.text).
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
}
KEYS = (*slack_api.KEYS, "send_resolved", "timeout", "http_config", "link_names", "mrkdwn_in", *DEFAULTS)
_MAX_TITLE = 1024  # characters; Slack cuts longer titles, Alertmanager truncates them first


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

    def message(self, notification: Notification) -> dict:
        texts = render(self.fields, notification)
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
                      "image_url": texts["image_url"], "thumb_url": texts["thumb_url"], "footer": texts["footer"],
                      "color": texts["color"], "mrkdwn_in": list(self.mrkdwn_in)}
        always = ("text", "fallback", "callback_id", "footer")
        message = {key: texts[key] for key in ("channel", "username", "icon_emoji", "icon_url") if texts[key]}
        if self.link_names:
            message["link_names"] = True
        message["attachments"] = [{key: value for key, value in attachment.items() if value or key in always}]
        return message

    def send(self, notification: Notification) -> None:
        message, url = self.message(notification), self.api_url
        data = notification.receiver_data  # the group's message so far, for update_message (nflog)
        edit = slack_api.edit_of(message, data) if self.update_message else None
        if edit is not None:
            message, url = edit, slack_api.update_url(url)
        channel = message.get("channel", "")
        try:
            body = http_post(url, encode(message), self.http, self.timeout)
        except DeliveryError as exc:
            raise DeliveryError(f'channel "{channel}": {exc}', exc.retryable, exc.status) from exc
        answer = slack_api.read_answer(body, channel)
        if self.update_message:
            slack_api.remember(data, answer)


def parse(node: Node, setup: IntegrationSetup) -> Slack:
    node = node.mapping(KEYS)
    api_url, http, update_message = slack_api.parse_target(node, setup)
    fields = {key: template(node.child(key), setup.templates, default) for key, default in DEFAULTS.items()}
    mrkdwn_in = tuple(item.string() for item in node.child("mrkdwn_in").sequence())
    return Slack(**integration_fields(node, setup, send_resolved=False), api_url=api_url, http=http, fields=fields,
                 configured=frozenset(key for key in DEFAULTS if not node.child(key).missing),
                 link_names=node.child("link_names").boolean(False), update_message=update_message,
                 **({"mrkdwn_in": mrkdwn_in} if mrkdwn_in else {}))
