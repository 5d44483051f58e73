"""Slack's Web API for slack_configs: where a message goes and with which token, how Slack's answers read, and
``update_message``'s edit of the group's message; the message itself is receivers.slack's.

An entry posts to an incoming webhook (``api_url(_file)``, else the global ``slack_api_url(_file)``) or, with
a bot token (``app_token(_file)``, else the global ``slack_app_token(_file)``), to ``app_url`` (else the
global ``slack_app_url``, default chat.postMessage) with ``Authorization: Bearer <token>``, as Alertmanager
sends it: the token takes the place of ``http_config``'s authorization, so the two exclude each other, and so
do an entry's URL and its token. The global token serves an entry that has neither its own URL nor its own
authorization.

Slack answers a webhook ``ok`` in plain text and the Web API JSON, HTTP 200 even when it refuses:
``{"ok": false, "error": "channel_not_found"}``. As in Alertmanager, a refusal and any other text fail for
good, an answer that looks like JSON but does not parse is worth another try (the HTTP status was already
sorted by receivers.http). The answer's Content-Type is not at hand here, so JSON is told by its ``{``.

``update_message`` (Alertmanager 0.32+) keeps the ``ts`` and ``channel`` of the message a group's first
notification posted in the notification log (fleetmon.hub.alerting.nflog, receiver data), where they survive a
restart; the group's later notifications, repeats and the resolution included, call chat.update on that
message instead of posting. A group that resolved and fires again posts a new one. When the message is gone
(deleted in Slack: chat.update answers ``message_not_found``), the notification is posted as a new message,
which later ones edit; Alertmanager fails each later notification of the group there, so none is seen.
Alertmanager takes it only
with an ``api_url`` of exactly https://slack.com/api/chat.postMessage (with a token it cannot load the
config: alertmanager#5164) and sends the edit to https://slack.com/api/chat.update; here the URL it posts to,
``api_url`` or ``app_url``, must end in ``/chat.postMessage``, and the edit goes beside it, so a proxy or a
stand-in in front of Slack works too.
"""

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.receivers.common import secret, secret_source
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup

KEYS = ("api_url", "api_url_file", "app_token", "app_token_file", "app_url", "update_message")
POST_METHOD, UPDATE_METHOD = "chat.postMessage", "chat.update"
#: The receiver data update_message keeps (Alertmanager's names for them).
TS, CHANNEL = "threadTs", "channelId"


def parse_target(node: Node, setup: IntegrationSetup) -> tuple[str, HttpConfig, bool]:
    """The URL an entry posts to, its HTTP settings (with the token as authorization) and its update_message;
    errors land on ``node`` (a slack_configs entry)."""
    glob = setup.glob
    http = entry_http_config(node, glob.http_config)
    own_url = not (node.child("api_url").missing and node.child("api_url_file").missing)
    own_token = not (node.child("app_token").missing and node.child("app_token_file").missing)
    own_auth = not node.child("http_config").missing and _authenticates(http)
    api_url, token = secret(node, "api_url"), secret(node, "app_token")
    if own_url and own_token:
        secret_source(node, "app_token").fail("set api_url(_file) or app_token(_file), not both")
    elif not (own_url or own_token or own_auth):
        token = glob.slack_app_token
    app_url = node.child("app_url").string(glob.slack_app_url)
    if not node.child("app_url").missing:
        check_url(node.child("app_url"), app_url)
    if token:
        if _authenticates(http):
            where, fix = ("its", "leave it out") if own_auth else ("the global", "give this entry an http_config "
                                                                            "of its own")
            node.child("http_config").fail(f"{where} http_config sets an authorization, which the app token "
                                           f"replaces: {fix}")
        url, http = app_url, replace(http, authorization=f"Bearer {token}")
    else:
        url = api_url or glob.slack_api_url
        if not url:
            node.child("api_url").fail("api_url, api_url_file or the global slack_api_url is required (or a bot "
                                       "token: app_token, app_token_file or the global slack_app_token)")
        elif own_url:
            check_url(secret_source(node, "api_url"), url)
    update = node.child("update_message").boolean(False)
    if update and url and not _posts_messages(url):
        node.child("update_message").fail(
            f"needs Slack's Web API: the URL it posts to (api_url, or app_url with an app token) must be a "
            f"{POST_METHOD} URL such as https://slack.com/api/{POST_METHOD}; a webhook cannot edit its messages")
    return url, http, update


def _authenticates(http: HttpConfig) -> bool:
    return bool(http.authorization) or http.oauth2 is not None


def _posts_messages(url: str) -> bool:
    return urlsplit(url).path.endswith("/" + POST_METHOD)


def update_url(post_url: str) -> str:
    """chat.update beside chat.postMessage."""
    parts = urlsplit(post_url)
    return urlunsplit(parts._replace(path=parts.path.removesuffix(POST_METHOD) + UPDATE_METHOD))


def edit_of(message: dict[str, Any], data: dict[str, str]) -> dict[str, Any] | None:
    """``message`` as the edit of the message ``data`` names (its channel, then its ts, as Alertmanager
    orders them); None when ``data`` names none."""
    ts, channel = data.get(TS), data.get(CHANNEL)
    if not (ts and channel):
        return None
    return {"channel": channel, "ts": ts, **{key: value for key, value in message.items() if key != "channel"}}


class MessageGone(DeliveryError):
    """The message an edit names is no longer in Slack."""


def read_answer(body: bytes, channel: str) -> dict[str, Any]:
    """Slack's 2xx answer: the Web API's JSON ({} for a webhook's ``ok``); DeliveryError when it refuses."""
    if body == b"ok":
        return {}
    where = f'channel "{channel}"'
    shown = body[:300].decode("utf-8", "replace")
    if not body.lstrip().startswith(b"{"):
        raise DeliveryError(f"{where}: received an error response from Slack: {shown}", retryable=False)
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise DeliveryError(f"{where}: could not read the JSON Slack answered: {exc}", retryable=True) from exc
    if answer.get("ok") is not True:
        error = answer.get("error") or shown
        refused = MessageGone if error == "message_not_found" else DeliveryError
        raise refused(f"{where}: error response from Slack: {error}", retryable=False)
    return answer


def remember(data: dict[str, str], answer: dict[str, Any]) -> None:
    """Keep the ts and channel Slack answered, for the group's next notification to edit."""
    ts, channel = answer.get("ts"), answer.get("channel")
    if isinstance(ts, str) and ts and isinstance(channel, str) and channel:
        data[TS], data[CHANNEL] = ts, channel
