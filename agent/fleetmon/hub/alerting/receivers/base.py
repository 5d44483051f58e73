"""What every receiver kind shares: the integration interface, its failure, and a receiver as a list of them.

A receiver (Alertmanager's term) is a name and its integrations: one per entry of its ``*_configs`` lists.
An integration sends one notification in one attempt; retrying, timing out and logging the attempts is the
delivery layer's job (fleetmon.hub.alerting.delivery), so a kind only has to say whether a failure is worth
another try.
"""

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from fleetmon.hub.alerting.notification import Notification

DEFAULT_TIMEOUT = 10.0  # seconds per attempt where the config gives none


class DeliveryError(Exception):
    """One failed attempt; ``retryable`` says whether the same notification may succeed later."""

    def __init__(self, message: str, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(eq=False, kw_only=True)
class Integration(abc.ABC):
    """One entry of a receiver's ``*_configs`` list."""

    kind: ClassVar[str]
    receiver: str
    index: int  # position within the receiver's list of this kind
    send_resolved: bool
    timeout: float = DEFAULT_TIMEOUT  # seconds per attempt, where the kind can bound one

    @property
    def name(self) -> str:
        return f"{self.kind}[{self.index}]"

    def prepare(self, notification: Notification) -> Notification | None:
        """What this integration sends of ``notification``; None when nothing at all.

        As in Alertmanager: without ``send_resolved`` a batch with no firing alert sends nothing (and counts
        as delivered, so the dispatcher logs it), and a batch with firing alerts goes out without its
        resolved ones. ``max_alerts`` truncation happens when the payload is built, which also counts the
        alerts dropped.
        """
        if self.send_resolved:
            return notification
        firing = notification.firing
        if not firing:
            return None
        if len(firing) == len(notification.alerts):
            return notification
        return notification.with_alerts(firing)

    @abc.abstractmethod
    def send(self, notification: Notification) -> None:
        """One attempt; raises DeliveryError when it fails."""


@dataclass(slots=True)
class Receiver:
    name: str
    integrations: list[Integration] = field(default_factory=list)
    # Alertmanager 0.33's receiver labels, for Alertmanager's API v2 to show and filter by; ``name`` is always
    # the receiver's own.
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ReceiverContext:
    """What integrations need from the running hub.

    ``publish(topic, payload, qos, retain)`` hands a message to the hub's MQTT connection; it returns once
    the message is accepted and raises OSError (e.g. ConnectionError) when it cannot be. The hub sets it
    once connected; until then mqtt_configs fail their attempts as retryable.
    """

    publish: Callable[[str, bytes, int, bool], None] | None = None
