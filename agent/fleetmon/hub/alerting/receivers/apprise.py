"""apprise_configs (fleetmon): the long tail of services (Teams, Telegram, ntfy, Discord, SMS gateways...)
through the Apprise library, one Apprise URL per service.

Apprise is imported only when a config uses it, and its URLs are checked while the config loads. Title
and body are Go templates, as Alertmanager's fields are; left out, they are ``{{ template
"apprise.default.title" . }}`` (the subject Alertmanager's receivers use) and ``{{ template
"apprise.default.body" . }}`` (its alert list), or for an incident's change fleetmon's texts. Firing
notifications go out as Apprise's "failure" type and resolved ones as "success", which services show with
their own colors or icons.

An attempt notifies every URL of the entry; when one fails, the retry notifies them all again. Give
services that must be retried independently their own entries. ``timeout``, when set, replaces the
connect and read timeouts of every URL (Apprise's own default is 4 s each, or the URL's cto/rto).
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import text
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, template
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.templates import Field

DEFAULTS = {"title": '{{ template "apprise.default.title" . }}', "body": '{{ template "apprise.default.body" . }}'}

KEYS = ("urls", "title", "body", "send_resolved", "timeout")


@dataclass(eq=False, kw_only=True)
class Apprise(Integration):
    kind: ClassVar[str] = "apprise"
    services: list[Any] = field(repr=False)  # Apprise plugin instances; their URLs hold secrets
    fields: dict[str, Field]  # title and body
    configured: frozenset[str] = frozenset()

    def send(self, notification: Notification) -> None:
        from apprise import NotifyType

        firing = notification.status == "firing"
        texts = render(self.fields, notification)
        if notification.incident is not None:
            texts = {"title": text.title(notification), "body": text.body(notification)} | \
                {key: texts[key] for key in self.configured}
        title, body = texts["title"], texts["body"]
        failed = [service.url(privacy=True) for service in self.services
                  if not service.notify(body=body, title=title,
                                        notify_type=NotifyType.FAILURE if firing else NotifyType.SUCCESS)]
        if failed:
            raise DeliveryError("Apprise could not notify {} (the hub log has its reason)".format(", ".join(failed)),
                                retryable=True)


def parse(node: Node, setup: IntegrationSetup) -> Apprise | None:
    node = node.mapping(KEYS)
    try:
        import apprise
    except ImportError:
        node.fail("needs the apprise package, which is not installed (pip install apprise)")
        return None
    fields = integration_fields(node, setup, send_resolved=False)
    services = []
    for item in node.child("urls").sequence():
        url = item.string()
        if not isinstance(item.value, str):
            continue
        service = apprise.Apprise.instantiate(url)
        if service is None:
            item.fail("not an Apprise URL this installation supports (forms: https://github.com/caronc/apprise/wiki)")
            continue
        if not node.child("timeout").missing:
            service.socket_connect_timeout = service.socket_read_timeout = fields["timeout"]
        services.append(service)
    if node.child("urls").missing:
        node.child("urls").fail("required: a list of Apprise URLs")
    texts = {key: template(node.child(key), setup.templates, default) for key, default in DEFAULTS.items()}
    return Apprise(**fields, services=services, fields=texts,
                   configured=frozenset(key for key in DEFAULTS if not node.child(key).missing))
