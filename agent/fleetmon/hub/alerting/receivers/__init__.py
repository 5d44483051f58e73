"""Receivers: where notifications go (webhook, Slack, email, PagerDuty, MQTT, Alertmanager, file, Apprise).

The dispatcher reads receivers with ``parse_receivers`` and hands each integration's notifications to the
delivery layer (fleetmon.hub.alerting.delivery); one module per kind holds its config keys and its sending.
"""

from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration, Receiver, ReceiverContext
from fleetmon.hub.alerting.receivers.config import KINDS, parse_receivers
from fleetmon.hub.alerting.receivers.settings import GlobalConfig, parse_global

__all__ = ["KINDS", "DeliveryError", "GlobalConfig", "Integration", "Receiver", "ReceiverContext", "parse_global",
           "parse_receivers"]
