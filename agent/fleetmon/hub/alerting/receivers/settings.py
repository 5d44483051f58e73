"""Alertmanager's ``global:`` section (the keys we support) and what each kind's parser is handed.

Globals are defaults for the integrations: SMTP settings for email_configs, the Slack URLs and app token,
the PagerDuty URL, an ``http_config`` for every HTTP receiver that has none of its own.
"""

from dataclasses import dataclass, field

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers.base import DEFAULT_TIMEOUT, ReceiverContext
from fleetmon.hub.alerting.receivers.common import secret, secret_source
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, parse_http_config
from fleetmon.hub.alerting.receivers.tls import TlsSettings, parse_tls
from fleetmon.hub.alerting.templates import TemplateSet, default_templates

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
SLACK_APP_URL = "https://slack.com/api/chat.postMessage"
GLOBAL_KEYS = ("resolve_timeout", "http_config", "smtp_from", "smtp_hello", "smtp_smarthost", "smtp_auth_username",
               "smtp_auth_password", "smtp_auth_password_file", "smtp_auth_secret", "smtp_auth_secret_file",
               "smtp_auth_identity", "smtp_require_tls", "smtp_force_implicit_tls", "smtp_tls_config",
               "slack_api_url", "slack_api_url_file", "slack_app_token", "slack_app_token_file", "slack_app_url",
               "pagerduty_url")
# The chat services' globals (receivers.chat and its kinds).
CHAT_GLOBAL_KEYS = ("telegram_api_url", "telegram_bot_token", "telegram_bot_token_file", "webex_api_url",
                    "rocketchat_api_url", "rocketchat_token", "rocketchat_token_file", "rocketchat_token_id",
                    "rocketchat_token_id_file", "mattermost_webhook_url", "mattermost_webhook_url_file")
TELEGRAM_API_URL = "https://api.telegram.org"
WEBEX_API_URL = "https://webexapis.com/v1/messages"
ROCKETCHAT_API_URL = "https://open.rocket.chat/"
# The incident and ticketing services' globals (opsgenie, victorops, jira, wechat).
INCIDENT_GLOBAL_KEYS = ("opsgenie_api_key", "opsgenie_api_key_file", "opsgenie_api_url", "victorops_api_key",
                        "victorops_api_key_file", "victorops_api_url", "jira_api_url", "wechat_api_url",
                        "wechat_api_secret", "wechat_api_secret_file", "wechat_api_corp_id")
OPSGENIE_API_URL = "https://api.opsgenie.com/"
VICTOROPS_API_URL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
WECHAT_API_URL = "https://qyapi.weixin.qq.com/cgi-bin/"


@dataclass(slots=True)
class GlobalConfig:
    resolve_timeout: float = 300.0  # an alert posted without endsAt resolves this long after its last update
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: str = ""  # host:port
    smtp_auth_username: str = ""
    smtp_auth_password: str = field(default="", repr=False)
    smtp_auth_secret: str = field(default="", repr=False)  # CRAM-MD5's shared secret
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    smtp_force_implicit_tls: bool | None = None  # None: implicit TLS on port 465 only (receivers.email)
    smtp_tls: TlsSettings | None = None
    slack_api_url: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    slack_app_url: str = SLACK_APP_URL
    pagerduty_url: str = PAGERDUTY_URL
    telegram_api_url: str = TELEGRAM_API_URL
    telegram_bot_token: str = field(default="", repr=False)
    webex_api_url: str = WEBEX_API_URL
    rocketchat_api_url: str = ROCKETCHAT_API_URL
    rocketchat_token: str = field(default="", repr=False)
    rocketchat_token_id: str = field(default="", repr=False)
    mattermost_webhook_url: str = field(default="", repr=False)
    opsgenie_api_key: str = field(default="", repr=False)
    opsgenie_api_url: str = OPSGENIE_API_URL
    victorops_api_key: str = field(default="", repr=False)
    victorops_api_url: str = VICTOROPS_API_URL
    jira_api_url: str = ""
    wechat_api_url: str = WECHAT_API_URL
    wechat_api_secret: str = field(default="", repr=False)
    wechat_api_corp_id: str = ""
    http_config: HttpConfig = field(default_factory=HttpConfig)
    # Links back to the hub in notifications. Alertmanager takes it from --web.external-url; the hub sets it
    # from its own config, and the dispatcher copies it into every Notification.
    external_url: str = ""


@dataclass(slots=True, frozen=True)
class IntegrationSetup:
    """What a kind's parser needs besides its own config entry."""

    receiver: str
    index: int
    glob: GlobalConfig
    context: ReceiverContext | None = None
    templates: TemplateSet = field(default_factory=default_templates)  # the config's `templates:` and ours


def parse_global(node: Node) -> GlobalConfig:
    """The ``global:`` mapping of an alertmanager.yml; errors land in the node's error list."""
    node = node.mapping(GLOBAL_KEYS + CHAT_GLOBAL_KEYS + INCIDENT_GLOBAL_KEYS)
    glob = GlobalConfig(
        resolve_timeout=node.child("resolve_timeout").duration(300.0, minimum=0.001),
        smtp_from=node.child("smtp_from").string(),
        smtp_hello=node.child("smtp_hello").string("localhost"),
        smtp_smarthost=node.child("smtp_smarthost").string(),
        smtp_auth_username=node.child("smtp_auth_username").string(),
        smtp_auth_password=secret(node, "smtp_auth_password"),
        smtp_auth_secret=secret(node, "smtp_auth_secret"),
        smtp_auth_identity=node.child("smtp_auth_identity").string(),
        smtp_require_tls=node.child("smtp_require_tls").boolean(True),
        smtp_force_implicit_tls=(None if node.child("smtp_force_implicit_tls").missing
                                 else node.child("smtp_force_implicit_tls").boolean(False)),
        smtp_tls=None if node.child("smtp_tls_config").missing else parse_tls(node.child("smtp_tls_config")),
        slack_api_url=secret(node, "slack_api_url"),
        slack_app_token=secret(node, "slack_app_token"),
        slack_app_url=node.child("slack_app_url").string(SLACK_APP_URL),
        pagerduty_url=node.child("pagerduty_url").string(PAGERDUTY_URL),
        telegram_api_url=node.child("telegram_api_url").string(TELEGRAM_API_URL),
        telegram_bot_token=secret(node, "telegram_bot_token"),
        webex_api_url=node.child("webex_api_url").string(WEBEX_API_URL),
        rocketchat_api_url=node.child("rocketchat_api_url").string(ROCKETCHAT_API_URL),
        rocketchat_token=secret(node, "rocketchat_token"),
        rocketchat_token_id=secret(node, "rocketchat_token_id"),
        mattermost_webhook_url=secret(node, "mattermost_webhook_url"),
        opsgenie_api_key=secret(node, "opsgenie_api_key"),
        opsgenie_api_url=node.child("opsgenie_api_url").string(OPSGENIE_API_URL),
        victorops_api_key=secret(node, "victorops_api_key"),
        victorops_api_url=node.child("victorops_api_url").string(VICTOROPS_API_URL),
        jira_api_url=node.child("jira_api_url").string(),
        wechat_api_url=node.child("wechat_api_url").string(WECHAT_API_URL),
        wechat_api_secret=secret(node, "wechat_api_secret"),
        wechat_api_corp_id=node.child("wechat_api_corp_id").string(),
        http_config=parse_http_config(node.child("http_config")),
    )
    if glob.slack_api_url:
        check_url(node.child("slack_api_url"), glob.slack_api_url)
    check_url(node.child("slack_app_url"), glob.slack_app_url)
    # Alertmanager lets both through only when the API URL is the app URL (the old workaround: that URL
    # with a bearer token in each receiver's http_config).
    if glob.slack_app_token and glob.slack_api_url and glob.slack_api_url != glob.slack_app_url:
        secret_source(node, "slack_app_token").fail(
            "set slack_app_token(_file) or slack_api_url(_file), not both (unless slack_api_url is slack_app_url)")
    check_url(node.child("pagerduty_url"), glob.pagerduty_url)
    for key in ("telegram_api_url", "webex_api_url", "rocketchat_api_url"):
        check_url(node.child(key), getattr(glob, key))
    if glob.mattermost_webhook_url:
        check_url(node.child("mattermost_webhook_url"), glob.mattermost_webhook_url)
    for key in ("opsgenie_api_url", "victorops_api_url", "wechat_api_url", "jira_api_url"):
        if getattr(glob, key):
            check_url(node.child(key), getattr(glob, key))
    return glob


def integration_fields(node: Node, setup: IntegrationSetup, send_resolved: bool) -> dict:
    """The Integration fields every kind reads the same way; ``send_resolved`` is the kind's default."""
    return {"receiver": setup.receiver, "index": setup.index,
            "send_resolved": node.child("send_resolved").boolean(send_resolved),
            "timeout": node.child("timeout").duration(DEFAULT_TIMEOUT, minimum=0.001)}
