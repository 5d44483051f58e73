"""What the chat-style receivers share (Discord, Teams, Telegram, Webex, Rocket.Chat, Mattermost, Pushover).

Each of them posts one request per notification, built from Go-template fields with Alertmanager's
defaults, cut to the service's limits the way Alertmanager cuts them (``truncate_runes``, ``truncate_bytes``:
the last character kept becomes "…"), and judged by Alertmanager's rule for these notifiers: a 2xx answer
delivered, a 5xx worth another try, any other status (429 included) failed for good; connection errors and
timeouts are retried (receivers.http). An incident's change has no Alertmanager default: a title or body
field the config leaves out carries fleetmon's incident texts (receivers.text), as Slack's does.
"""

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import text
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, secret, secret_source, template
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config
from fleetmon.hub.alerting.receivers.http import post as http_post
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field

COMMON_KEYS = ("send_resolved", "timeout", "http_config")
_MARK = "…"


def truncate_runes(value: str, limit: int) -> str:
    """At most ``limit`` characters, the last one "…" when cut (Alertmanager's TruncateInRunes)."""
    if len(value) <= limit:
        return value
    return value[:limit] if limit <= 3 else value[:limit - 1] + _MARK


def truncate_bytes(value: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, ending in "…" when cut, never inside a character (TruncateInBytes)."""
    encoded = value.encode("utf-8")
    if len(encoded) <= limit:
        return value
    if limit <= 3:
        return _MARK if limit == 3 else "." * limit
    return encoded[:limit - len(_MARK.encode())].decode("utf-8", "ignore") + _MARK


def post(url: str, body: bytes, config: HttpConfig, timeout: float, content_type: str = "application/json",
         headers: Mapping[str, str] | None = None) -> bytes:
    """receivers.http.post, with Alertmanager's verdict for these notifiers: only a 5xx status is retried."""
    try:
        return http_post(url, body, config, timeout, content_type, headers)
    except DeliveryError as exc:
        if exc.status is None or exc.retryable == (exc.status >= 500):
            raise
        raise DeliveryError(str(exc), retryable=exc.status >= 500, status=exc.status) from exc


def post_json(url: str, payload: object, config: HttpConfig, timeout: float,
              headers: Mapping[str, str] | None = None) -> bytes:
    return post(url, encode(payload), config, timeout, headers=headers)


def http_config(node: Node, setup: IntegrationSetup) -> HttpConfig:
    """The entry's own ``http_config``, else the global one."""
    return entry_http_config(node, setup.glob.http_config)


def given_secret(node: Node, key: str) -> str | None:
    """``key`` or ``key_file`` when either is set (an error when it is empty or cannot be read); None when
    neither is."""
    if node.child(key).missing and node.child(key + "_file").missing:
        return None
    errors = len(node.errors)
    value = secret(node, key)
    if not value and len(node.errors) == errors:
        secret_source(node, key).fail("must not be empty")
    return value


def required_secret(node: Node, key: str, default: str = "", default_name: str = "") -> str:
    """``key`` or ``key_file``, else ``default`` (a global's); required: the error names ``default_name`` as
    the other way to give it."""
    value = given_secret(node, key)
    if value is None:
        if not default:
            node.child(key).fail(f"{key} or {key}_file" + (f" or the global {default_name}" if default_name else "")
                                 + " is required")
        return default
    return value


def url_secret(node: Node, key: str, default: str = "", default_name: str = "") -> str:
    """A URL that is a secret: ``required_secret``, the entry's own value checked to be an absolute http(s)
    URL (a global's is checked by parse_global)."""
    value = required_secret(node, key, default, default_name)
    if value and not (node.child(key).missing and node.child(key + "_file").missing):
        check_url(secret_source(node, key), value)
    return value


def api_url(node: Node, default: str, key: str = "api_url") -> str:
    """A plain URL key with a default (a global's, which parse_global has checked)."""
    url = node.child(key).string(default)
    if not node.child(key).missing:
        check_url(node.child(key), url)
    return url


def templates(node: Node, setup: IntegrationSetup, defaults: Mapping[str, str],
              html_keys: Iterable[str] = ()) -> dict[str, Field]:
    """Each key of ``defaults`` as a template, its default when absent; ``html_keys`` with html/template."""
    as_html = frozenset(html_keys)
    return {key: template(node.child(key), setup.templates, default, html=key in as_html)
            for key, default in defaults.items()}


def incident_message(notification: Notification) -> str:
    """The one text of an incident's change, for services that take a single message."""
    return text.title(notification) + "\n\n" + text.body(notification)


@dataclass(eq=False, kw_only=True)
class ChatIntegration(Integration):
    """An HTTP integration whose texts are template fields; ``titles`` and ``bodies`` name the fields that an
    incident's change fills with fleetmon's texts when the config leaves them out, ``messages`` those that
    take title and body in one text. ``escaped`` fields are HTML: the incident texts go in escaped."""

    http: HttpConfig
    fields: dict[str, Field]
    configured: frozenset[str] = frozenset()  # the keys of ``fields`` the config sets
    titles: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    escaped: frozenset[str] = field(default_factory=frozenset)

    def texts(self, notification: Notification) -> dict[str, str]:
        texts = render(self.fields, notification)
        if notification.incident is None:
            return texts
        for keys, produce in ((self.titles, text.title), (self.bodies, text.body), (self.messages, incident_message)):
            for key in keys:
                if key not in self.configured:
                    value = produce(notification)
                    texts[key] = html.escape(value, quote=False) if key in self.escaped else value
        return texts


def chat_fields(node: Node, defaults: Mapping[str, str]) -> frozenset[str]:
    """The keys of ``defaults`` the config sets."""
    return frozenset(key for key in defaults if not node.child(key).missing)
