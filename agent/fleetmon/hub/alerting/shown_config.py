"""The alerting config as Alertmanager's API shows it (``GET /api/v2/status``, ``config.original``): Alertmanager's
own keys only, fleetmon's additions left out, so that amtool's ``config show`` and ``config routes`` read it; every
secret written ``<secret>`` as Alertmanager writes its Secret and SecretURL fields."""

import re
from typing import Any

import yaml

from fleetmon.hub.alerting.config import ALERTMANAGER_KEYS, AlertingConfig

#: Alertmanager's receiver kinds (``<kind>_configs``); the others of a receiver are fleetmon's.
ALERTMANAGER_KINDS = frozenset({
    "discord", "email", "incidentio", "jira", "mattermost", "msteams", "msteamsv2", "opsgenie", "pagerduty",
    "pushover", "rocketchat", "slack", "sns", "telegram", "victorops", "webex", "webhook", "wechat"})
#: fleetmon's keys inside Alertmanager's sections, left out of config.original.
FLEETMON_ROUTE_KEYS = ("escalation", "incident")
FLEETMON_INTEGRATION_KEYS = {"webhook_configs": ("hmac_secret", "hmac_secret_file"), "pushover_configs": ("api_url",)}
#: The keys whose values Alertmanager writes as ``<secret>`` (its Secret and SecretURL fields), wherever they are.
SECRET_KEYS = frozenset({
    "alert_source_token", "api_key", "api_secret", "app_token", "auth_password", "auth_secret", "bearer_token",
    "bot_token", "client_certificate_key", "client_secret", "credentials", "mattermost_webhook_url",
    "opsgenie_api_key", "password", "proxy_connect_header", "rocketchat_token", "rocketchat_token_id", "routing_key",
    "secret_key", "secrets", "service_key", "slack_api_url", "slack_app_token", "smtp_auth_password",
    "smtp_auth_secret", "telegram_bot_token", "token", "token_id", "user_key", "victorops_api_key", "webhook_url",
    "wechat_api_secret"})
#: A tls_config's inline client key (prometheus/common's Secret), a secret only there.
TLS_SECRET_KEYS = frozenset({"key"})
#: Secrets by the integration they are in: a URL that is one there (Slack's and a webhook's), not elsewhere.
SECRET_KEYS_OF = {"slack_configs": frozenset({"api_url"}), "webhook_configs": frozenset({"url"})}
SECRET = "<secret>"
_USERINFO = re.compile(r"(?<=://)([^:/@]*):[^@/]*@")


def original_config(config: AlertingConfig) -> str:
    """The alerting config as Alertmanager shows it: its own keys (fleetmon's left out, so Alertmanager's tools
    read it) and every secret as ``<secret>``; "" when the hub has no alerting section."""
    document = config.document
    shown: dict[str, Any] = {key: document[key] for key in ALERTMANAGER_KEYS if key in document}
    if isinstance(shown.get("route"), dict):
        shown["route"] = _route(shown["route"])
    if isinstance(shown.get("receivers"), list):
        shown["receivers"] = [_receiver(r, config) if isinstance(r, dict) else r for r in shown["receivers"]]
    if not shown:
        return ""
    return yaml.safe_dump(_masked(shown), sort_keys=False, allow_unicode=True)


def _route(route: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in route.items() if key not in FLEETMON_ROUTE_KEYS}
    if isinstance(shown.get("routes"), list):
        shown["routes"] = [_route(child) if isinstance(child, dict) else child for child in shown["routes"]]
    return shown


def _receiver(receiver: dict[str, Any], config: AlertingConfig) -> dict[str, Any]:
    """Its name, labels and Alertmanager integrations. The labels as Alertmanager writes them (after the name,
    sorted, ``name`` among them), but only where the file sets some: Alertmanager 0.33+ shows them on every
    receiver, which amtool before 0.33 cannot read back (``config routes``)."""
    name = receiver.get("name")
    shown = {"name": name} if "name" in receiver else {}
    parsed = config.receivers.get(name) if isinstance(name, str) else None
    if "labels" in receiver and parsed is not None:
        shown["labels"] = dict(sorted(parsed.labels.items()))
    for key, value in receiver.items():
        if key.endswith("_configs") and key.removesuffix("_configs") in ALERTMANAGER_KINDS:
            dropped = FLEETMON_INTEGRATION_KEYS.get(key, ())
            items = value if isinstance(value, list) else []
            shown[key] = [_masked({k: v for k, v in item.items() if k not in dropped}, SECRET_KEYS_OF.get(key))
                          if isinstance(item, dict) else item for item in items]
    return shown


_SHOWN_AS_IS = frozenset({"labels", "payload", "details", "fields"})


def _masked(node: Any, also: frozenset[str] | None = None) -> Any:
    """``node`` with the values of secret keys (and of ``also`` at this level) replaced by ``<secret>``. Labels
    (a route's, a receiver's, Jira's) and free-form values (a webhook's payload, PagerDuty's and Opsgenie's
    details, Jira's and Slack's fields) are never secrets, whatever their keys: Alertmanager shows them."""
    if isinstance(node, list):
        return [_masked(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {key: value if key in _SHOWN_AS_IS else _secret(value) if key in SECRET_KEYS or (also and key in also)
            else _url_password(value) if key == "proxy_url"
            else _masked(value, TLS_SECRET_KEYS) if key in ("tls_config", "smtp_tls_config") else _masked(value)
            for key, value in node.items()}


def _url_password(url: Any) -> Any:
    """A URL's password as ``<secret>`` (``http://user:<secret>@proxy:3128``), as Alertmanager shows a proxy."""
    return _USERINFO.sub(lambda m: f"{m[1]}:{SECRET}@", url) if isinstance(url, str) else url


def _secret(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _secret(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_secret(item) for item in value]
    return SECRET if value not in (None, "") else value
