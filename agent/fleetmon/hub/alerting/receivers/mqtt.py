"""mqtt_configs (fleetmon): the webhook payload published on an MQTT topic through the hub's own connection.

The topic tree is a public interface, so anyone who may read the topic (mosquitto_sub, Node-RED, Home
Assistant) gets notifications without an HTTP endpoint, in the shape webhook consumers already parse.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration, ReceiverContext
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode

KEYS = ("topic", "qos", "retain", "send_resolved")


@dataclass(eq=False, kw_only=True)
class MqttTopic(Integration):
    kind: ClassVar[str] = "mqtt"
    topic: str
    qos: int = 1
    retain: bool = False
    context: ReceiverContext | None = field(default=None, repr=False)

    def send(self, notification: Notification) -> None:
        publish = self.context.publish if self.context else None
        if publish is None:
            raise DeliveryError("the hub has no MQTT connection yet", retryable=True)
        try:
            publish(self.topic, encode(notification.webhook_payload()), self.qos, self.retain)
        except OSError as exc:
            raise DeliveryError(f"publishing on {self.topic} failed: {exc or type(exc).__name__}",
                                retryable=True) from exc


def parse(node: Node, setup: IntegrationSetup) -> MqttTopic:
    node = node.mapping(KEYS)
    topic_node = node.child("topic")
    topic = topic_node.string()
    if not topic:
        topic_node.fail("required")
    elif "+" in topic or "#" in topic:
        topic_node.fail("a topic to publish on cannot hold the wildcards + or #")
    fields = integration_fields(node, setup, send_resolved=True)
    return MqttTopic(**fields, topic=topic, qos=node.child("qos").number(1, minimum=0, maximum=1, integer=True),
                     retain=node.child("retain").boolean(False), context=setup.context)
