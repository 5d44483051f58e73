"""The ``receivers:`` list of an alertmanager.yml, read into named receivers and their integrations.

Names are Alertmanager's: ``<kind>_configs`` lists with Alertmanager's keys, so an existing file loads
unchanged, plus fleetmon's own kinds (mqtt, alertmanager, file, apprise, datadog, sentry). Every key we do
not know is an error naming its path.

A receiver's ``labels`` (Alertmanager 0.33) are free: any names, string values, as Alertmanager takes them;
they only describe the receiver to Alertmanager's API v2 (its ``receiver_matchers`` filter). As there, the
label ``name`` is the receiver's name, added when absent and refused when it differs.
"""

from collections.abc import Callable

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.matchers import go_quote
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
RECEIVER_KEYS = ("name", "labels", *(f"{kind}_configs" for kind in KINDS))


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
        labels = receiver_labels(entry.child("labels"), name)
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
            receivers[name] = Receiver(name, integrations, labels)
    return receivers


def receiver_labels(node: Node, name: str) -> dict[str, str]:
    """A receiver's labels with its ``name``. Values as Alertmanager reads a string: a number is its text,
    nothing (``team:``) is ""; true and false are refused, as YAML may have read them from yes/no/on/off."""
    labels: dict[str, str] = {}
    if not node.missing and not isinstance(node.value, dict):
        node.fail("must be a mapping of label names to values")
        return {"name": name}
    for label, item in node.items():
        if item.value is None:
            labels[label] = ""
        elif isinstance(item.value, (str, int, float)) and not isinstance(item.value, bool):
            labels[label] = str(item.value)
        else:
            item.fail("must be a string (quote it)")
    if labels.get("name", name) != name:
        node.child("name").fail(f'receiver label "name" must match receiver name {go_quote(name)}, '
                                f'got {go_quote(labels["name"])}')
    labels["name"] = name
    return labels
