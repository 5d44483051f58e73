"""What the hub does with each message a host sends: decode it, apply it to the fleet state, write it to the
history, acknowledge its samples' delivery and hand its edge alerts to the dispatcher.

Runs inline on paho's network thread (fleetmon.hub.service): no hand-off on the hot path. Only the state
change happens under the state lock; history writes never block (the store queues them) and happen after
the lock is released. Needs no broker: the tests feed it messages as paho would.
"""

import logging
import threading
from typing import TYPE_CHECKING, Any

from fleetmon.hub.delivery import DeliveryTracker
from fleetmon.hub.exposition import HubCounters
from fleetmon.hub.ingest import Message, Rejected, decode
from fleetmon.hub.model import StateChange
from fleetmon.hub.rules import ActiveAlerts
from fleetmon.hub.state import FleetState
from fleetmon.hub.store import Store
from fleetmon.hub.store.records import AlertRecord, CheckRecord, Event
from fleetmon.protocol.messages import rfc3339

if TYPE_CHECKING:
    from fleetmon.hub.alerting.dispatch import Dispatcher
    from fleetmon.hub.logs.store import LogStore

log = logging.getLogger("fleetmon.hub")


class Intake:
    def __init__(self, prefix: str, max_message_bytes: int, fleet: FleetState, lock: threading.Lock,
                 history: Store, delivery: DeliveryTracker, delivery_lock: threading.Lock,
                 source_alerts: ActiveAlerts, dispatcher: "Dispatcher", counters: HubCounters,
                 logs: "LogStore | None" = None) -> None:
        self.prefix = prefix
        self.max_message_bytes = max_message_bytes  # a reload may change it
        self._fleet, self._lock = fleet, lock
        self._history = history
        self._delivery, self._delivery_lock = delivery, delivery_lock
        self._source_alerts = source_alerts
        self._dispatcher = dispatcher
        self._counters = counters
        self._logs = logs

    def take(self, topic: str, payload: bytes, received: float) -> Message | Rejected:
        """One message on a host topic, received at hub time ``received``: what it was taken for."""
        message = decode(topic, payload, received, self.prefix, self.max_message_bytes)
        if isinstance(message, Rejected):
            self._counters.reject(message.reason)
            log.debug("rejected %s: %s (%s)", topic, message.reason, message.detail)
            return message
        if message.kind == "logs":  # to the log store alone: a host that only sent logs is no fleet member
            if self._logs is not None:
                self._logs.take(message.host, message.body)
            return message
        if message.kind == "backfill":
            self._counters.backfilled += 1
            position = self._history.write_sample(message.host, message.session, message.seq, message.ts,
                                                  message.raw, backfill=True)
            with self._delivery_lock:
                self._delivery.received(message.host, message.session, message.seq, position)
            return message
        with self._lock:
            if message.kind == "alerts" and message.body.get("complete"):
                message = self._with_missed_resolutions(message)
            changes = self._fleet.apply(message)
            edge = [t for t in map(self._source_alerts.edge, message.body["alerts"]) if t] \
                if message.kind == "alerts" else []
        self._record(message, changes, edge)
        if edge:
            refused = self._dispatcher.put(edge, source="edge")
            if refused:  # decode checked every alert as the dispatcher does: a refusal is a bug, counted as one
                self._counters.reject("internal_error")
                log.error("host %s: the dispatcher refused edge alerts ingest had accepted: %s", message.host,
                          "; ".join(refused))
        return message

    def _with_missed_resolutions(self, message: Message) -> Message:
        """A complete alerts message lists every alert firing on the host: any other edge alert of the host
        still firing here ended while the hub could not hear it (its transition lost with a killed hub), and
        resolves now. Called under the state lock."""
        record = self._fleet.hosts.get(message.host)
        firing = {alert["fingerprint"] for alert in message.body["alerts"] if alert["status"] == "firing"}
        missed = [{**alert, "status": "resolved", "endsAt": rfc3339(message.received)}
                  for fp, alert in (record.edge_alerts.items() if record else ()) if fp not in firing]
        if not missed:
            return message
        log.info("host %s: %d edge alerts no longer firing there, resolved: %s", message.host, len(missed),
                 ", ".join(a["labels"].get("alertname", "") for a in missed))
        return message._replace(body={**message.body, "alerts": missed + list(message.body["alerts"])})

    def _record(self, message: Message, changes: list[StateChange], edge: list[dict[str, Any]]) -> None:
        """History writes and counters for one accepted message (outside the state lock)."""
        body = message.body
        if message.kind == "metrics":
            self._counters.ingested += 1
            self._counters.observe_lag(message.received - message.ts)
            position = self._history.write_sample(message.host, message.session, message.seq, message.ts,
                                                  message.raw)
            with self._delivery_lock:
                self._delivery.received(message.host, message.session, message.seq, position)
        elif message.kind == "checks":
            for result in body["results"]:
                value = result.get("value")
                self._history.write_check(CheckRecord(message.host, message.ts, result["name"], result["ok"],
                                                      value if isinstance(value, (int, float)) else None,
                                                      str(result.get("message", ""))))
        elif message.kind == "events":
            event = body["event"]
            self._history.write_event(Event(message.host, message.ts, event["kind"], str(event.get("message", "")),
                                            event.get("details") if isinstance(event.get("details"), dict) else {}))
        for transition in edge:
            record_alert(self._history, transition, "edge", message.received)
        for change in changes:
            record_change(self._history, change)


def record_change(history: Store, change: StateChange) -> None:
    """A host's liveness change: logged, and kept in the history."""
    log.info("host %s: %s -> %s (%s)", change.host, change.from_state, change.to_state, change.reason)
    history.write_state_change(change)


def record_alert(history: Store, transition: dict[str, Any], source: str, now: float) -> None:
    """An alert transition of the hub's own sources ("fleet" rules, "edge" alerts) kept in the history."""
    history.write_alert(AlertRecord(transition["fingerprint"], transition["labels"], transition["status"],
                                    transition["startsAt"], transition["endsAt"], now, source))
