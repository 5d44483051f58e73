"""Notices: what receivers are told outside a group's flush — an incident's changes (fleetmon.hub.incidents).

A notice goes once to each integration of the incident's receiver (the receiver of the route that opened it,
else the root route's), through the same deliverer and its retries as every notification, and is not kept
in the notification log: it is news about the incident, not about the alerts, which the groups go on
notifying as they would. A resolution goes only to the integrations that send resolved notifications.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from fleetmon.hub.alerting.config import AlertingConfig
from fleetmon.hub.alerting.delivery import Deliverer
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification

log = logging.getLogger("fleetmon.hub.alerting")

#: How long a notice may keep being retried.
NOTICE_DEADLINE = 300.0


class IncidentNotices:
    def __init__(self, config: Callable[[], AlertingConfig], deliverer: Deliverer,
                 alerts: Callable[[list[str]], list[AlertSnapshot]]) -> None:
        self.config, self.deliverer, self.alerts = config, deliverer, alerts
        self.sent = 0

    def send(self, incident: dict[str, Any], change: str) -> None:
        config = self.config()
        name = incident.get("receiver") or config.route.receiver
        receiver = config.receivers.get(name)
        if receiver is None:
            return
        fingerprints = [a["fingerprint"] for a in incident.get("alerts", ())]
        notification = Notification(receiver=name, group_key=incident.get("groupKey") or f"incident/{incident['id']}",
                                    group_labels=dict(incident.get("labels") or {}), alerts=self.alerts(fingerprints),
                                    reason=f"incident {change}", external_url=config.external_url,
                                    incident_change=change, incident=_without_timeline(incident))
        for integration in receiver.integrations:
            if change in ("resolved", "closed") and not integration.send_resolved:
                continue
            self.sent += 1
            self.deliverer.deliver(integration, notification, time.time() + NOTICE_DEADLINE,
                                   _report(incident["id"], change, name, integration.name))


def _without_timeline(incident: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in incident.items() if key != "timeline"}


def _report(incident_id: str, change: str, receiver: str, integration: str) -> Callable[[bool], None]:
    def done(ok: bool) -> None:
        if not ok:
            log.warning("incident %s %s: the notice to %s/%s was not delivered", incident_id, change, receiver,
                        integration)
    return done
