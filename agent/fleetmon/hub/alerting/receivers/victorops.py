"""victorops_configs: Splunk On-Call (VictorOps) REST endpoint integration, as Alertmanager sends it.

One POST to ``<api_url><api_key>/<routing_key>`` per notification. The entity_id is the SHA-256 of the group
key, so the group's recovery resolves the incident its first notification opened. ``message_type`` is
CRITICAL unless it renders to INFO, WARNING or CRITICAL, and RECOVERY when every alert has resolved; the
state message is cut to 20480 characters. ``custom_fields`` go into the same JSON object; the names of the
fixed fields are refused there, as in Alertmanager.

One difference: Alertmanager retries only 5xx answers from this service; the hub retries a 429 (too many
requests) as well, as for every HTTP receiver (fleetmon.hub.alerting.receivers.http).
"""

from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import quote

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, secret, template, template_map
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.opsgenie import cut
from fleetmon.hub.alerting.receivers.pagerduty import dedup_key as group_key_hash
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field

#: The templated keys and Alertmanager's defaults for them (DefaultVictorOpsConfig).
DEFAULTS = {"routing_key": "", "message_type": "CRITICAL",
            "state_message": '{{ template "victorops.default.state_message" . }}',
            "entity_display_name": '{{ template "victorops.default.entity_display_name" . }}',
            "monitoring_tool": '{{ template "victorops.default.monitoring_tool" . }}'}
KEYS = ("api_key", "api_key_file", "api_url", "custom_fields", "send_resolved", "timeout", "http_config", *DEFAULTS)
RESERVED_FIELDS = ("routing_key", "message_type", "state_message", "entity_display_name", "monitoring_tool",
                   "entity_id", "entity_state")
MESSAGE_TYPES = ("INFO", "WARNING", "CRITICAL")
MAX_STATE_MESSAGE = 20480  # characters (runes), as Alertmanager cuts it


@dataclass(eq=False, kw_only=True)
class VictorOps(Integration):
    kind: ClassVar[str] = "victorops"
    api_key: str = field(repr=False)
    api_url: str  # ends in a slash
    http: HttpConfig
    fields: dict[str, Field]  # every key of DEFAULTS
    custom_fields: dict[str, Field] = field(default_factory=dict)

    def url(self, notification: Notification) -> str:
        routing_key = render({"routing_key": self.fields["routing_key"]}, notification)["routing_key"]
        if not routing_key:
            raise DeliveryError("routing_key rendered empty", retryable=False)
        return f"{self.api_url}{quote(self.api_key)}/{quote(routing_key)}"

    def message(self, notification: Notification) -> dict[str, str]:
        texts = render(self.fields, notification)
        message_type = texts["message_type"]
        if notification.status == "resolved":
            message_type = "RECOVERY"
        elif message_type not in MESSAGE_TYPES:
            message_type = "CRITICAL"
        message = {"message_type": message_type, "entity_id": group_key_hash(notification.group_key),
                   "entity_display_name": texts["entity_display_name"],
                   "state_message": cut(texts["state_message"], MAX_STATE_MESSAGE),
                   "monitoring_tool": texts["monitoring_tool"], **render(self.custom_fields, notification)}
        return dict(sorted(message.items()))  # Go writes a map's keys sorted

    def send(self, notification: Notification) -> None:
        post(self.url(notification), encode(self.message(notification)), self.http, self.timeout)


def parse(node: Node, setup: IntegrationSetup) -> VictorOps:
    node = node.mapping(KEYS)
    glob = setup.glob
    local = not (node.child("api_key").missing and node.child("api_key_file").missing)
    api_key = secret(node, "api_key") if local else glob.victorops_api_key
    if not api_key:
        node.child("api_key").fail("api_key, api_key_file or the global victorops_api_key is required")
    if not node.child("routing_key").string():
        node.child("routing_key").fail("required")
    api_url = node.child("api_url").string(glob.victorops_api_url)
    check_url(node.child("api_url"), api_url)
    if not api_url.endswith("/"):
        api_url += "/"
    custom = node.child("custom_fields")
    for name in RESERVED_FIELDS:
        if not custom.child(name).missing:
            custom.child(name).fail("is one of the fixed fields and cannot be a custom field")
    return VictorOps(**integration_fields(node, setup, send_resolved=True), api_key=api_key, api_url=api_url,
                     http=entry_http_config(node, glob.http_config),
                     fields={key: template(node.child(key), setup.templates, default)
                             for key, default in DEFAULTS.items()},
                     custom_fields={name: value for name, value in template_map(custom, setup.templates).items()
                                    if name not in RESERVED_FIELDS})
