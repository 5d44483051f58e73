"""slack_configs: one message with one attachment to a Slack incoming webhook, as Alertmanager sends it.

Texts are literal (see common.literal); left out, the title and text come from fleetmon.hub.alerting.
receivers.text and the color follows the status (danger while firing, good once resolved).
"""

from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import text
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.common import literal, secret, secret_source
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, parse_http_config
from fleetmon.hub.alerting.receivers.http import post as http_post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode

TEXT_KEYS = ("channel", "username", "icon_emoji", "icon_url", "title", "title_link", "pretext", "text",
             "fallback", "color", "footer")
KEYS = ("api_url", "api_url_file", "send_resolved", "timeout", "http_config", "link_names", *TEXT_KEYS)
_MAX_TITLE = 1024  # characters; Slack cuts longer titles, Alertmanager truncates them first


@dataclass(eq=False, kw_only=True)
class Slack(Integration):
    kind: ClassVar[str] = "slack"
    api_url: str = field(repr=False)
    http: HttpConfig
    texts: dict[str, str]  # the TEXT_KEYS the config sets, as written
    link_names: bool = False

    def message(self, notification: Notification) -> dict:
        title = self.texts.get("title") or text.title(notification)
        if len(title) > _MAX_TITLE:
            title = title[:_MAX_TITLE - 1] + "…"
        attachment = {"title": title, "title_link": self.texts.get("title_link") or notification.external_url,
                      "pretext": self.texts.get("pretext", ""),
                      "text": self.texts.get("text") or text.body(notification),
                      "fallback": self.texts.get("fallback") or title,
                      "footer": self.texts.get("footer", ""),
                      "color": self.texts.get("color") or ("danger" if notification.status == "firing" else "good"),
                      "mrkdwn_in": ["fallback", "pretext", "text"]}
        message = {key: self.texts[key] for key in ("channel", "username", "icon_emoji", "icon_url")
                   if self.texts.get(key)}
        message.setdefault("username", "fleetmon")
        if self.link_names:
            message["link_names"] = True
        message["attachments"] = [{key: value for key, value in attachment.items() if value}]
        return message

    def send(self, notification: Notification) -> None:
        http_post(self.api_url, encode(self.message(notification)), self.http, self.timeout)


def parse(node: Node, setup: IntegrationSetup) -> Slack:
    node = node.mapping(KEYS)
    api_url = secret(node, "api_url") or setup.glob.slack_api_url
    if not api_url:
        node.child("api_url").fail("api_url, api_url_file or the global slack_api_url is required")
    elif not (node.child("api_url").missing and node.child("api_url_file").missing):
        check_url(secret_source(node, "api_url"), api_url)
    texts = {key: literal(node.child(key)) for key in TEXT_KEYS if not node.child(key).missing}
    http = node.child("http_config")
    return Slack(**integration_fields(node, setup, send_resolved=False), api_url=api_url,
                 http=setup.glob.http_config if http.missing else parse_http_config(http), texts=texts,
                 link_names=node.child("link_names").boolean(False))
