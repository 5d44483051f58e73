"""The hub process: MQTT ingest → fleet state → history and fleet rules → alerts, fleet view, HTTP.

Threads: paho's network loop runs ingest inline (decode, apply to the state under ``lock``, queue the
history write) so there is no hand-off on the hot path; a rules thread ticks liveness, evaluates fleet
rules and republishes the fleet view; the alert dispatcher has a thread (routing, grouping, flushes) and
the deliverer one per receiver integration; the history store has its own writer process; uvicorn serves
HTTP in a thread, and the main thread waits for SIGTERM or SIGINT.
"""

import logging
import signal
import threading
import time
from typing import Any

import uvicorn

from fleetmon import __version__
from fleetmon.agent.link import MqttLink
from fleetmon.hub.alerting.delivery import Deliverer
from fleetmon.hub.alerting.dispatch import Dispatcher
from fleetmon.hub.alerting.journal import AlertJournal
from fleetmon.hub.api import build_app
from fleetmon.hub.config import HubConfig
from fleetmon.hub.exposition import HubCounters
from fleetmon.hub.ingest import Message, Rejected, decode
from fleetmon.hub.model import StateChange
from fleetmon.hub.republish import cleared, fleet_view
from fleetmon.hub.rules import ActiveAlerts, Series, evaluate
from fleetmon.hub.state import FleetState
from fleetmon.hub.store import Store
from fleetmon.hub.store.records import AlertRecord, CheckResult, Event
from fleetmon.protocol import SCHEMA_VERSION
from fleetmon.protocol.messages import encode
from fleetmon.protocol.topics import fleet_alerts_topic, fleet_host_topic, host_subscription, hub_status_topic

log = logging.getLogger("fleetmon.hub")

#: Seconds after connecting during which retained messages are still arriving (startup probe).
RETAINED_SETTLE = 2.0
#: The broker keeps the hub's session (and QoS 1 messages for it) this long across hub restarts.
SESSION_EXPIRY = 3600
#: Publications paho may hold unsent: the fleet view is one retained message per host every interval.
MAX_QUEUED_PUBLICATIONS = 100_000
#: How often alerting history older than its retention is pruned.
PRUNE_INTERVAL = 3600.0


class Hub:
    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.prefix = config.broker.topic_prefix
        self.lock = threading.Lock()
        self.started = threading.Event()
        self._stop = threading.Event()
        self._stop_requested = threading.Event()
        now = time.time()
        self.state = FleetState(config.expected_hosts, config.liveness.silent_after,
                                config.liveness.skew_tolerance, now)
        self.counters = HubCounters()
        self.store = Store(config.db, config.history)
        self.counters.store = self.store.counters
        self.active = ActiveAlerts()
        self._restore()
        self.journal = AlertJournal(config.alerting_db)
        self.deliverer = Deliverer(on_attempt=self.journal.attempt)
        self.dispatcher = Dispatcher(config.alerting, self.deliverer, self.journal)
        self.dispatcher.restore(**self.journal.load())
        self._dispatch_thread = threading.Thread(target=self.dispatcher.run, name="alerts", daemon=True)
        self._pruned_at = 0.0
        config.receiver_context.publish = self._publish_notification
        self._series: list[Series] = []
        self._history_at = 0.0
        self._connected_at = 0.0
        self._retained_views: set[str] = set()  # hosts whose fleet view the broker held when we connected
        self.link = MqttLink(config.broker, "fleetmon-hub", hub_status_topic(self.prefix), _hub_status("offline"),
                             on_connected=self._on_connected, on_message=self._on_message,
                             subscriptions=(host_subscription(self.prefix), fleet_host_topic("+", self.prefix)),
                             session_expiry=SESSION_EXPIRY, max_queued=MAX_QUEUED_PUBLICATIONS)
        self._rules_thread = threading.Thread(target=self._rules_loop, name="rules", daemon=True)
        self._fleet_view_prefix = fleet_host_topic("", self.prefix)

    # --- lifecycle -------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT, then stop cleanly: a last retained status, the history flushed."""
        self.store.start()
        self.link.start()
        self._rules_thread.start()
        self._dispatch_thread.start()
        server = uvicorn.Server(uvicorn.Config(build_app(self), host=self.config.listen_host,
                                               port=self.config.listen_port, log_level="warning",
                                               access_log=False, lifespan="off"))
        # uvicorn re-raises the signals it catches once it has stopped, which would kill the process before
        # the history is flushed; in its own thread it leaves the signals to us.
        http = threading.Thread(target=server.run, name="http", daemon=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stop_requested.set())
        http.start()
        log.info("fleetmon hub %s: broker %s, http://%s, history %s, %d expected hosts", __version__,
                 self.config.broker.url, self.config.listen, self.config.db, len(self.config.expected_hosts))
        while not self._stop_requested.wait(1.0):
            if not http.is_alive():
                log.error("the HTTP server stopped (is %s in use?)", self.config.listen)
                break
        server.should_exit = True
        http.join(timeout=10)
        self.stop()
        return 0 if self._stop_requested.is_set() else 1

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._rules_thread.join(timeout=10)
        self.dispatcher.stop()
        self._dispatch_thread.join(timeout=10)
        self.deliverer.stop()
        self.link.stop(hub_status_topic(self.prefix), _hub_status("offline"))
        self.journal.close()
        self.store.close()

    def liveness_problem(self) -> str:
        if not self._rules_thread.is_alive() and not self._stop.is_set():
            return "the rules thread stopped"
        if not self._dispatch_thread.is_alive() and not self._stop.is_set():
            return "the alert dispatcher stopped"
        if not self.store.running:
            return "the history writer stopped"
        return ""

    def readiness_problem(self) -> str:
        if not self.link.connected.is_set():
            return "not connected to the broker: " + (self.link.last_error or "connecting")
        return self.liveness_problem()

    def _restore(self) -> None:
        """Firing alerts of the previous run, so a restart neither re-raises nor forgets them."""
        fleet, edge = [], []
        for record in self.store.latest_alerts():
            if record.status != "firing":
                continue
            alert = {"status": "firing", "labels": record.labels, "annotations": {}, "startsAt": record.starts_at,
                     "endsAt": record.ends_at, "fingerprint": record.fingerprint}
            (edge if record.source == "edge" else fleet).append(alert)
            host = record.labels.get("host")
            if record.source == "edge" and host:
                self.state.restore_edge_alert(host, alert)
        self.active.restore(fleet=fleet, edge=edge)
        if fleet or edge:
            log.info("restored %d fleet and %d edge alerts from the history", len(fleet), len(edge))

    # --- ingest (paho's thread) ------------------------------------------------------------------

    def _on_connected(self) -> None:
        self._connected_at = time.monotonic()
        self.link.publish(hub_status_topic(self.prefix), _hub_status("online"), qos=1, retain=True)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic.startswith(self._fleet_view_prefix):
            if payload:
                self._retained_views.add(topic[len(self._fleet_view_prefix):])
            return
        received = time.time()
        message = decode(topic, payload, received, self.prefix, self.config.max_message_bytes)
        if isinstance(message, Rejected):
            self.counters.reject(message.reason)
            log.debug("rejected %s: %s (%s)", topic, message.reason, message.detail)
            return
        if message.kind == "backfill":
            self.counters.backfilled += 1
            self.store.write_sample(message.host, message.session, message.seq, message.ts, message.raw,
                                    backfill=True)
            return
        with self.lock:
            changes = self.state.apply(message)
            edge = [t for t in map(self.active.edge, message.body["alerts"]) if t] if message.kind == "alerts" else []
        self._record(message, changes, edge)
        if edge:
            self.dispatcher.put(edge)

    def _record(self, message: Message, changes: list[StateChange], edge: list[dict[str, Any]]) -> None:
        """History writes and counters for one accepted message (outside the state lock)."""
        body = message.body
        if message.kind == "metrics":
            self.counters.ingested += 1
            self.counters.observe_lag(message.received - message.ts)
            self.store.write_sample(message.host, message.session, message.seq, message.ts, message.raw)
        elif message.kind == "checks":
            for result in body["results"]:
                value = result.get("value")
                self.store.write_check(CheckResult(message.host, message.ts, result["name"], result["ok"],
                                                   value if isinstance(value, (int, float)) else None,
                                                   str(result.get("message", ""))))
        elif message.kind == "events":
            event = body["event"]
            self.store.write_event(Event(message.host, message.ts, event["kind"], str(event.get("message", "")),
                                         event.get("details") if isinstance(event.get("details"), dict) else {}))
        for transition in edge:
            self._store_alert(transition, "edge", message.received)
        for change in changes:
            self._store_change(change)

    # --- rules (their own thread) -----------------------------------------------------------------

    def _rules_loop(self) -> None:
        while not self._stop.wait(self.config.rules_interval):
            try:
                self._evaluate(time.time())
            except Exception:  # one bad evaluation must not stop fleet rules for good; it is logged
                log.exception("fleet rule evaluation failed")

    def _evaluate(self, now: float) -> None:
        if not self.started.is_set() and self._connected_at and \
                time.monotonic() - self._connected_at > RETAINED_SETTLE:
            self.started.set()
        if self.started.is_set() and self._retained_views:
            with self.lock:
                gone = sorted(self._retained_views - set(self.state.hosts))
            self._retained_views.clear()
            if gone:
                log.info("clearing the retained fleet view of hosts no longer in the fleet: %s", ", ".join(gone))
                self.forget_hosts(gone)
        if now - self._history_at >= self.config.history_rules_interval:
            self._series = self._history(now)
            self._history_at = now
        with self.lock:
            changes = self.state.tick(now)
            views = self.state.views()
        transitions = self.active.update(evaluate(self.config.rules, views, self._series, now), now)
        for change in changes:
            self._store_change(change)
        if transitions:
            self.dispatcher.put(transitions)
            self.link.publish(fleet_alerts_topic(self.prefix),
                              encode({"v": SCHEMA_VERSION, "type": "alerts", "ts": round(now, 3),
                                      "alerts": transitions}), qos=1)
            for transition in transitions:
                log.info("fleet alert %s %s", transition["labels"].get("alertname"), transition["status"])
                self._store_alert(transition, "fleet", now)
        if self.config.republish.enabled:
            self._republish(now)
        if now - self._pruned_at >= PRUNE_INTERVAL:
            self._pruned_at = now
            self.journal.prune(now - self.config.alerting.history_retention)

    def _history(self, now: float) -> list[Series]:
        series = []
        with self.lock:
            hosts = [h for h, r in self.state.hosts.items() if r.last_sample is not None]
        for metric, window in self.config.rules.history().items():
            for host in hosts:
                for found in self.store.query(host, metric, None, now - window, now):
                    points = [(p[0], p[2] if len(p) == 4 else p[1]) for p in found.points]  # rollups: avg
                    series.append(Series(host, metric, found.labels, points))
        return series

    def _republish(self, now: float) -> None:
        with self.lock:
            publications = fleet_view(self.state, self.prefix, now)
        expiry = int(self.config.republish.expiry)
        for publication in publications:
            self.link.publish(publication.topic, publication.payload, qos=1, retain=True, expiry=expiry)

    def _publish_notification(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """mqtt_configs receivers publish through the hub's own connection."""
        if self.link.publish(topic, payload, qos=qos, retain=retain) is None:
            raise ConnectionError("not connected to the broker")

    def forget_hosts(self, hosts: list[str]) -> None:
        for publication in cleared(hosts, self.prefix):
            self.link.publish(publication.topic, publication.payload, qos=1, retain=True)

    def _store_change(self, change: StateChange) -> None:
        log.info("host %s: %s -> %s (%s)", change.host, change.from_state, change.to_state, change.reason)
        self.store.write_state_change(change)

    def _store_alert(self, transition: dict[str, Any], source: str, now: float) -> None:
        self.store.write_alert(AlertRecord(transition["fingerprint"], transition["labels"], transition["status"],
                                           transition["startsAt"], transition["endsAt"], now, source))


def _hub_status(state: str) -> bytes:
    """The hub's retained birth (online) or will and clean shutdown (offline) on <prefix>/hub/status."""
    return encode({"v": SCHEMA_VERSION, "type": "hub_status", "state": state, "version": __version__,
                   "ts": round(time.time(), 3)})
