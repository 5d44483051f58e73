"""The ``receivers:`` list of an alertmanager.yml, read into named receivers and their integrations.

Names are Alertmanager's: ``<kind>_configs`` lists with Alertmanager's keys, so an existing file loads
unchanged, plus fleetmon's own kinds (mqtt, alertmanager, file, apprise, datadog, sentry). Every key we do
not know is an error naming its path.
"""

from collections.abc import Callable

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers import (
    alertmanager,
    apprise,
    datadog,
    discord,
    email,
    file,
    incidentio,
    jira,
    mattermost,
    mqtt,
    msteams,
    opsgenie,
    pagerduty,
    pushover,
    rocketchat,
    sentry,
    slack,
    sns,
    telegram,
    victorops,
    webex,
    webhook,
    wechat,
)
from fleetmon.hub.alerting.receivers.base import Integration, Receiver, ReceiverContext
from fleetmon.hub.alerting.receivers.settings import GlobalConfig, IntegrationSetup
from fleetmon.hub.alerting.templates import TemplateSet, default_templates

KINDS: dict[str, Callable[[Node, IntegrationSetup], Integration | None]] = {
    "webhook": webhook.parse, "slack": slack.parse, "email": email.parse, "pagerduty": pagerduty.parse,
    "mqtt": mqtt.parse, "alertmanager": alertmanager.parse, "file": file.parse, "apprise": apprise.parse,
    "discord": discord.parse, "msteams": msteams.parse, "msteamsv2": msteams.parse_v2, "telegram": telegram.parse,
    "webex": webex.parse, "rocketchat": rocketchat.parse, "mattermost": mattermost.parse, "pushover": pushover.parse,
    "opsgenie": opsgenie.parse, "victorops": victorops.parse, "jira": jira.parse, "sns": sns.parse,
    "wechat": wechat.parse, "incidentio": incidentio.parse, "datadog": datadog.parse, "sentry": sentry.parse,
}
RECEIVER_KEYS = ("name", *(f"{kind}_configs" for kind in KINDS))


def parse_receivers(node: Node, glob: GlobalConfig, context: ReceiverContext | None = None,
                    templates: TemplateSet | None = None) -> dict[str, Receiver]:
    """Receivers by name, in config order; errors land in the node's error list. A receiver without any
    integration is valid: routes use one to drop what they match. Templated fields are parsed against
    ``templates`` (the defaults alone when None)."""
    templates = templates or default_templates()
    receivers: dict[str, Receiver] = {}
    for entry in node.sequence():
        entry = entry.mapping(RECEIVER_KEYS)
        name_node = entry.child("name")
        name = name_node.string()
        integrations = []
        for kind, parse in KINDS.items():
            for index, item in enumerate(entry.child(f"{kind}_configs").sequence()):
                integration = parse(item, IntegrationSetup(name, index, glob, context, templates))
                if integration is not None:
                    integrations.append(integration)
        if not name:
            name_node.fail("required: a non-empty name")
        elif name in receivers:
            name_node.fail(f"receiver {name!r} is defined twice")
        else:
            receivers[name] = Receiver(name, integrations)
    return receivers
