"""pushover_configs: Pushover's Message API, as Alertmanager sends it.

One POST to https://api.pushover.net/1/messages.json with every parameter in the query string (sorted, as
Go's url.Values encodes them) and an empty body: token, user, title (cut to 250 characters), message (1024,
then trimmed; "(no details)" when empty, which Pushover would refuse), url (512), url_title, priority
(by default 2, emergency, while firing and 0 once resolved), retry and expire in whole seconds (1m and 1h),
device, sound, ttl when set, and html=1 or monospace=1. title, message, url, url_title, priority, device
and sound are templates (``pushover.default.*``); with ``html`` the message is rendered with html/template.
``api_url`` is fleetmon's, for a relay or a test peer; Alertmanager always posts to Pushover itself.
"""

import math
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlencode

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.chat import (
    COMMON_KEYS,
    ChatIntegration,
    api_url,
    chat_fields,
    http_config,
    post,
    required_secret,
    templates,
    truncate_runes,
)
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields

API_URL = "https://api.pushover.net/1/messages.json"
#: The templated keys and Alertmanager's defaults for them (notify/pushover/config.go).
DEFAULTS = {"title": '{{ template "pushover.default.title" . }}',
            "message": '{{ template "pushover.default.message" . }}',
            "url": '{{ template "pushover.default.url" . }}',
            "url_title": "",
            "priority": '{{ if eq .Status "firing" }}2{{ else }}0{{ end }}',
            "device": "", "sound": ""}
KEYS = ("api_url", "user_key", "user_key_file", "token", "token_file", "retry", "expire", "ttl", "html", "monospace",
        *COMMON_KEYS, *DEFAULTS)
MAX_TITLE, MAX_MESSAGE, MAX_URL = 250, 1024, 512  # characters (pushover.net/api#limits)


@dataclass(eq=False, kw_only=True)
class Pushover(ChatIntegration):
    kind: ClassVar[str] = "pushover"
    api_url: str = API_URL
    user_key: str = field(repr=False)
    token: str = field(repr=False)
    retry: int = 60  # seconds
    expire: int = 3600
    ttl: int = 0  # 0: not sent
    html: bool = False
    monospace: bool = False

    def parameters(self, notification: Notification) -> list[tuple[str, str]]:
        texts = self.texts(notification)
        message = truncate_runes(texts["message"], MAX_MESSAGE).strip() or "(no details)"
        params = [("token", self.token), ("user", self.user_key), ("title", truncate_runes(texts["title"], MAX_TITLE))]
        if self.html:
            params.append(("html", "1"))
        if self.monospace:
            params.append(("monospace", "1"))
        params += [("message", message), ("url", truncate_runes(texts["url"], MAX_URL)),
                   ("url_title", texts["url_title"]), ("priority", texts["priority"]), ("retry", str(self.retry)),
                   ("expire", str(self.expire)), ("device", texts["device"]), ("sound", texts["sound"])]
        if self.ttl > 0:
            params.append(("ttl", str(self.ttl)))
        return sorted(params, key=lambda pair: pair[0])

    def send(self, notification: Notification) -> None:
        separator = "&" if "?" in self.api_url else "?"
        url = self.api_url + separator + urlencode(self.parameters(notification))
        post(url, b"", self.http, self.timeout, content_type="text/plain")


def _seconds(node: Node, default: float) -> int:
    return math.floor(node.duration(default, minimum=0))


def parse(node: Node, setup: IntegrationSetup) -> Pushover:
    node = node.mapping(KEYS)
    html, monospace = node.child("html").boolean(False), node.child("monospace").boolean(False)
    if html and monospace:
        node.child("monospace").fail("set html or monospace, not both")
    return Pushover(**integration_fields(node, setup, send_resolved=True), http=http_config(node, setup),
                    fields=templates(node, setup, DEFAULTS, html_keys=("message",) if html else ()),
                    configured=chat_fields(node, DEFAULTS), titles=("title",), bodies=("message",),
                    escaped=frozenset({"message"}) if html else frozenset(),
                    api_url=api_url(node, API_URL), user_key=required_secret(node, "user_key"),
                    token=required_secret(node, "token"), retry=_seconds(node.child("retry"), 60.0),
                    expire=_seconds(node.child("expire"), 3600.0), ttl=_seconds(node.child("ttl"), 0.0),
                    html=html, monospace=monospace)
