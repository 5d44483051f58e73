"""apprise_configs (fleetmon): the long tail of services (Teams, Telegram, ntfy, Discord, SMS gateways...)
through the Apprise library, one Apprise URL per service.

Apprise is imported only when a config uses it, and its URLs are checked while the config loads. Title
and body are literal or fleetmon's default rendering; firing notifications go out as Apprise's "failure"
type and resolved ones as "success", which services show with their own colors or icons.

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
from fleetmon.hub.alerting.receivers.common import literal
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields

KEYS = ("urls", "title", "body", "send_resolved", "timeout")


@dataclass(eq=False, kw_only=True)
class Apprise(Integration):
    kind: ClassVar[str] = "apprise"
    services: list[Any] = field(repr=False)  # Apprise plugin instances; their URLs hold secrets
    title: str = ""  # "": the default rendering
    body: str = ""

    def send(self, notification: Notification) -> None:
        from apprise import NotifyType

        firing = notification.status == "firing"
        title = self.title or text.title(notification)
        body = self.body or text.body(notification)
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
    return Apprise(**fields, services=services, title=literal(node.child("title")), body=literal(node.child("body")))
