"""opsgenie_configs: Opsgenie's Alert API v2, as Alertmanager's notifier calls it.

A firing notification creates an alert (``POST v2/alerts``) whose alias is the SHA-256 of the group key, so
Opsgenie folds the group's later notifications into the same alert (the new text lands in its activity log)
and a resolved one closes it (``POST v2/alerts/<alias>/close?identifierType=alias``). With
``update_alerts`` the message and description of an existing alert are replaced as well (two PUTs after the
create). The key goes in ``Authorization: GenieKey <key>``, where Opsgenie looks for it; it overrides an
``http_config`` authorization, as in Alertmanager.

Alertmanager's rules: the message is cut to 130 characters, the details are the common labels plus the
configured ones (a configured detail of the same name wins), tags and actions are comma-separated lists, a
responder whose fields all render empty is left out and a ``teams`` responder becomes one ``team`` per
comma-separated name. The key itself is rendered as a template too.
"""

from dataclasses import dataclass, field, replace
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.common import render, secret, secret_source, template, template_map
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.pagerduty import dedup_key as group_key_hash
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field, TemplateSet, TemplateSyntaxError

#: The templated keys and Alertmanager's defaults for them (DefaultOpsGenieConfig).
DEFAULTS = {"message": '{{ template "opsgenie.default.message" . }}',
            "description": '{{ template "opsgenie.default.description" . }}',
            "source": '{{ template "opsgenie.default.source" . }}',
            "tags": "", "note": "", "priority": "", "entity": "", "actions": ""}
KEYS = ("api_key", "api_key_file", "api_url", "details", "responders", "update_alerts", "send_resolved", "timeout",
        "http_config", *DEFAULTS)
RESPONDER_KEYS = ("id", "name", "username", "type")
RESPONDER_TYPES = ("team", "teams", "user", "escalation", "schedule")
MAX_MESSAGE = 130  # characters (runes), as Alertmanager cuts it


def cut(text: str, limit: int) -> str:
    """Alertmanager's TruncateInRunes: at most ``limit`` characters, the last one an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[:limit] if limit <= 3 else text[:limit - 1] + "…"


def join_url(base: str, path: str, query: str = "") -> str:
    """``path`` appended to ``base``'s path (which ends in a slash), ``query`` as the query string."""
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path + path, query, ""))


def split_list(text: str) -> list[str]:
    """Alertmanager's safeSplit: the comma-separated items of ``text`` with the empty ones dropped."""
    return [item for item in text.strip().split(",") if item]


@dataclass(eq=False, kw_only=True)
class OpsGenie(Integration):
    kind: ClassVar[str] = "opsgenie"
    api_key: Field = field(repr=False)
    api_url: str  # ends in a slash
    http: HttpConfig
    fields: dict[str, Field]  # every key of DEFAULTS
    details: dict[str, Field] = field(default_factory=dict)
    responders: list[dict[str, Field]] = field(default_factory=list)
    update_alerts: bool = False

    def requests(self, notification: Notification) -> list[tuple[str, str, dict]]:
        """(method, URL, body) of each request, in order."""
        texts = render(self.fields, notification)
        alias = group_key_hash(notification.group_key)
        query = "identifierType=alias"
        if notification.status == "resolved":
            return [("POST", join_url(self.api_url, f"v2/alerts/{alias}/close", query),
                     {"source": texts["source"]})]
        details = {**notification.common_labels, **render(self.details, notification)}
        message = {"alias": alias, "message": cut(texts["message"], MAX_MESSAGE)}
        if texts["description"]:
            message["description"] = texts["description"]
        message.update(details=dict(sorted(details.items())), source=texts["source"])
        responders = self._responders(notification)
        if responders:
            message["responders"] = responders
        tags = split_list(texts["tags"])
        if tags:
            message["tags"] = tags
        message.update({key: texts[key] for key in ("note", "priority", "entity") if texts[key]})
        actions = split_list(texts["actions"])
        if actions:
            message["actions"] = actions
        requests = [("POST", join_url(self.api_url, "v2/alerts"), message)]
        if self.update_alerts:
            requests.append(("PUT", join_url(self.api_url, f"v2/alerts/{alias}/message", query),
                             {"message": message["message"]} if message["message"] else {}))
            requests.append(("PUT", join_url(self.api_url, f"v2/alerts/{alias}/description", query),
                             {"description": texts["description"]} if texts["description"] else {}))
        return requests

    def _responders(self, notification: Notification) -> list[dict]:
        responders = []
        for fields in self.responders:
            responder = render(fields, notification)
            if not any(responder.values()):  # e.g. filled from a label the alerts do not have
                continue
            if responder["type"] == "teams":
                responders.extend({"name": team, "type": "team"} for team in split_list(responder["name"]))
                continue
            responders.append({**{key: responder[key] for key in ("id", "name", "username") if responder[key]},
                               "type": responder["type"]})
        return responders

    def send(self, notification: Notification) -> None:
        key = render({"api_key": self.api_key}, notification)["api_key"]
        headers = {"Authorization": f"GenieKey {key}"}
        http = replace(self.http, authorization="")  # the GenieKey header wins, as in Go's client
        for method, url, body in self.requests(notification):
            post(url, encode(body), http, self.timeout, headers=headers, method=method)


def key_template(node: Node, key: str, value: str, templates: TemplateSet) -> Field:
    """A secret that Alertmanager renders as a template (Opsgenie's API key, WeChat's secret)."""
    try:
        return templates.text(value)
    except TemplateSyntaxError:
        secret_source(node, key).fail("does not parse as a template")
        return templates.text("")


def parse_responder(node: Node, templates: TemplateSet) -> dict[str, Field]:
    node = node.mapping(RESPONDER_KEYS)
    if all(node.child(key).missing for key in ("id", "name", "username")):
        node.fail("set at least one of id, name, username")
    kind = node.child("type").string()
    if "{{" not in kind and kind.lower() not in RESPONDER_TYPES:
        node.child("type").fail("must be one of: {} (got {!r})".format(", ".join(RESPONDER_TYPES), kind))
    return {key: template(node.child(key), templates) for key in RESPONDER_KEYS}


def parse(node: Node, setup: IntegrationSetup) -> OpsGenie:
    node = node.mapping(KEYS)
    glob = setup.glob
    local = not (node.child("api_key").missing and node.child("api_key_file").missing)
    api_key = secret(node, "api_key") if local else glob.opsgenie_api_key
    if not api_key:
        node.child("api_key").fail("api_key, api_key_file or the global opsgenie_api_key is required")
    api_url = node.child("api_url").string(glob.opsgenie_api_url)
    check_url(node.child("api_url"), api_url)
    if not api_url.endswith("/"):
        api_url += "/"
    templates = setup.templates
    return OpsGenie(**integration_fields(node, setup, send_resolved=True),
                    api_key=key_template(node, "api_key", api_key, templates), api_url=api_url,
                    http=entry_http_config(node, glob.http_config),
                    fields={key: template(node.child(key), templates, default) for key, default in DEFAULTS.items()},
                    details=template_map(node.child("details"), templates),
                    responders=[parse_responder(item, templates) for item in node.child("responders").sequence()],
                    update_alerts=node.child("update_alerts").boolean(False))
