"""wechat_configs: WeChat Work (企业微信) application messages, as Alertmanager's notifier sends them.

The access token comes from ``GET <api_url>gettoken?corpid=…&corpsecret=…`` and is kept for two hours, as
Alertmanager keeps it; the message goes to ``POST <api_url>message/send?access_token=…`` as a ``text`` or
``markdown`` message. WeChat answers 200 with an ``errcode``: 0 is delivered, 42001 (token expired) drops
the token and is retried, anything else fails for good. A token answer without a token fails for good
too (a wrong secret or corp id).
"""

import json
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, secret, template
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.opsgenie import key_template
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field

#: The templated keys and Alertmanager's defaults for them (DefaultWechatConfig).
DEFAULTS = {"message": '{{ template "wechat.default.message" . }}',
            "to_user": '{{ template "wechat.default.to_user" . }}',
            "to_party": '{{ template "wechat.default.to_party" . }}',
            "to_tag": '{{ template "wechat.default.to_tag" . }}',
            "agent_id": '{{ template "wechat.default.agent_id" . }}'}
KEYS = ("api_secret", "api_secret_file", "api_url", "corp_id", "message_type", "send_resolved", "timeout",
        "http_config", *DEFAULTS)
TOKEN_LIFETIME = 2 * 3600.0  # seconds a token is used before a new one is fetched
TOKEN_EXPIRED = 42001


def _url(base: str, path: str, query: dict[str, str]) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path + path, urlencode(sorted(query.items())), ""))


@dataclass(eq=False, kw_only=True)
class WeChat(Integration):
    kind: ClassVar[str] = "wechat"
    api_secret: Field = field(repr=False)
    corp_id: Field
    api_url: str  # ends in a slash
    http: HttpConfig
    message_type: str
    fields: dict[str, Field]  # every key of DEFAULTS
    _token: str = field(default="", repr=False)
    _token_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def message(self, notification: Notification) -> dict:
        texts = render(self.fields, notification)
        # Go's struct order; text and markdown are structs, which omitempty never leaves out.
        message: dict = {"text": {"content": texts["message"] if self.message_type == "text" else ""}}
        message.update({name: texts[key] for name, key in (("touser", "to_user"), ("toparty", "to_party"),
                                                             ("totag", "to_tag"), ("agentid", "agent_id"))
                        if texts[key]})
        message.update(safe="0", msgtype=self.message_type,
                       markdown={"content": texts["message"] if self.message_type == "markdown" else ""})
        return message

    def token(self, notification: Notification) -> str:
        with self._lock:
            if self._token and time.monotonic() - self._token_at <= TOKEN_LIFETIME:
                return self._token
        keys = render({"corpsecret": self.api_secret, "corpid": self.corp_id}, notification)
        answer = post(_url(self.api_url, "gettoken", keys), None, self.http, self.timeout, method="GET")
        token = _decode(answer).get("access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryError(f"WeChat gave no access token: check api_secret for corp_id {keys['corpid']}",
                                retryable=False)
        with self._lock:
            self._token, self._token_at = token, time.monotonic()
        return token

    def send(self, notification: Notification) -> None:
        message = encode(self.message(notification))
        url = _url(self.api_url, "message/send", {"access_token": self.token(notification)})
        answer = _decode(post(url, message, self.http, self.timeout))
        code = answer.get("errcode")
        if code == 0:
            return
        if code == TOKEN_EXPIRED:
            with self._lock:
                self._token = ""
        raise DeliveryError(f"WeChat answered errcode {code}: {answer.get('errmsg', '')}",
                            retryable=code == TOKEN_EXPIRED)


def _decode(answer: bytes) -> dict:
    try:
        value = json.loads(answer)
    except ValueError:
        raise DeliveryError("WeChat's answer is not JSON", retryable=True) from None
    if not isinstance(value, dict):
        raise DeliveryError("WeChat's answer is not a JSON object", retryable=True)
    return value


def parse(node: Node, setup: IntegrationSetup) -> WeChat:
    node = node.mapping(KEYS)
    glob = setup.glob
    local = not (node.child("api_secret").missing and node.child("api_secret_file").missing)
    api_secret = secret(node, "api_secret") if local else glob.wechat_api_secret
    if not api_secret:
        node.child("api_secret").fail("api_secret, api_secret_file or the global wechat_api_secret is required")
    corp_id = node.child("corp_id").string(glob.wechat_api_corp_id)
    if not corp_id:
        node.child("corp_id").fail("corp_id or the global wechat_api_corp_id is required")
    api_url = node.child("api_url").string(glob.wechat_api_url)
    check_url(node.child("api_url"), api_url)
    if not api_url.endswith("/"):
        api_url += "/"
    templates = setup.templates
    return WeChat(**integration_fields(node, setup, send_resolved=False),
                  api_secret=key_template(node, "api_secret", api_secret, templates),
                  corp_id=key_template(node, "corp_id", corp_id, templates), api_url=api_url,
                  http=entry_http_config(node, glob.http_config),
                  message_type=node.child("message_type").string("text", choices=("text", "markdown")),
                  fields={key: template(node.child(key), templates, default) for key, default in DEFAULTS.items()})
