"""The hub process: MQTT ingest → fleet state → history and fleet rules → alerts, fleet view, HTTP.

Threads: paho's network loop runs ingest inline (decode, apply to the state under ``lock``, queue the
history write) so there is no hand-off on the hot path; a rules thread ticks liveness, evaluates fleet
rules and republishes the fleet view; the alert dispatcher has a thread (routing, grouping, flushes) and
the deliverer one per receiver integration; the history store has its own writer process; uvicorn serves
HTTP in a thread, and the main thread reloads the config on SIGHUP and waits for SIGTERM or SIGINT.

The one composition root: the parts are built and wired by fleetmon.hub.parts, what a host's message does
is fleetmon.hub.intake; this module joins them to the broker, runs the threads and hands the HTTP app
(fleetmon.hub.web) the narrow inputs it reads. No module imports this one but the command line's.
"""

import logging
import signal
import socket
import threading
import time

import uvicorn

from fleetmon import __version__
from fleetmon.config_reader import ConfigError
from fleetmon.hub.config import HubConfig, load_config, restart_needed
from fleetmon.hub.federation.alerts import SOURCE as SITE
from fleetmon.hub.intake import record_alert, record_change
from fleetmon.hub.logs.rules import evaluate_log_rules
from fleetmon.hub.parts import build_parts, restore
from fleetmon.hub.republish import active_alerts, cleared, fleet_view
from fleetmon.hub.rules import FleetAlert, SeriesHistory, evaluate, evaluate_hub
from fleetmon.hub.rules.hub import HubHealth
from fleetmon.hub.state import WILL_GRACE
from fleetmon.hub.web.app import Health, build_app
from fleetmon.mqtt.link import MqttLink
from fleetmon.protocol import SCHEMA_VERSION
from fleetmon.protocol.messages import ack, encode
from fleetmon.protocol.topics import (
    fleet_alerts_topic,
    fleet_host_topic,
    host_subscription,
    hub_ack_topic,
    hub_probe_topic,
    hub_status_topic,
)

log = logging.getLogger("fleetmon.hub")

#: The broker keeps the hub's session (and QoS 1 messages for it) this long across hub restarts.
SESSION_EXPIRY = 3600
#: Publications paho may hold unsent: the fleet view is one retained message per host every interval.
MAX_QUEUED_PUBLICATIONS = 100_000
#: How often alerting history older than its retention is pruned.
PRUNE_INTERVAL = 3600.0
#: Seconds between the main thread's looks at its flags (a reload asked by SIGHUP, the HTTP thread).
MAIN_TICK = 0.25
#: Seconds a stopping HTTP server waits for open requests: a console's live stream never ends by itself.
STREAM_GRACE = 2.0


class Hub:
    """The parts (fleetmon.hub.parts) joined to the broker and run: the threads, the signals, reloads."""

    def __init__(self, config: HubConfig) -> None:
        now = time.time()
        self.parts = parts = build_parts(config, now)
        self.prefix = config.broker.topic_prefix
        self.lock, self.fleet, self.sight, self.history = parts.lock, parts.fleet, parts.sight, parts.history
        self.counters, self.dispatcher, self.intake = parts.counters, parts.dispatcher, parts.intake
        self.center = parts.center  # federation mode: the sites bridged to this hub's broker
        self.started = threading.Event()
        self._stop = threading.Event()
        self._stop_requested = threading.Event()
        self._reload_requested = False  # set by SIGHUP, taken by the main thread
        # The fleet rules' last judgement, kept while the hub cannot judge.
        self._verdict: list[FleetAlert] = restore(parts, now)
        self._storage_since: float | None = None
        self._name = socket.gethostname()
        self._dispatch_thread = threading.Thread(target=self.dispatcher.run, name="alerts", daemon=True)
        self._incident_thread = threading.Thread(target=parts.incidents.run, name="incidents", daemon=True)
        self._burn: list[FleetAlert] = []  # the SLOs' budget-burn alerts, judged with the history rules
        self._pruned_at = 0.0
        config.receiver_context.publish = self._publish_notification
        self._series: list[SeriesHistory] = []
        self._history_at = 0.0
        self._retained_views: set[str] = set()  # hosts whose fleet view the broker held when we connected
        self._republished: list = []  # the last fleet-view round's publications (MQTTMessageInfo)
        self._probe_topic = hub_probe_topic(self.prefix)
        self.link = MqttLink(config.broker, "fleetmon-hub", hub_status_topic(self.prefix), _hub_status("offline"),
                             on_connected=self._on_connected, on_message=self._on_message,
                             on_disconnected=self._on_disconnected,
                             subscriptions=(host_subscription(self.prefix), fleet_host_topic("+", self.prefix),
                                            self._probe_topic,
                                            *(self.center.sites.subscriptions() if self.center else ())),
                             session_expiry=SESSION_EXPIRY, max_queued=MAX_QUEUED_PUBLICATIONS)
        self._rules_thread = threading.Thread(target=self._rules_loop, name="rules", daemon=True)
        self._fleet_view_prefix = fleet_host_topic("", self.prefix)

    @property
    def config(self) -> HubConfig:
        """The config in force (a reload replaces it)."""
        return self.parts.config

    # --- lifecycle -------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT, then stop cleanly: a last retained status, the history flushed."""
        self.history.start()
        self.link.start()
        self._rules_thread.start()
        self._dispatch_thread.start()
        self._incident_thread.start()
        health = Health(live=self.liveness_problem, ready=self.readiness_problem, started=self.started.is_set)
        tls = self.config.listen_tls
        server = uvicorn.Server(uvicorn.Config(build_app(self.parts.web(health)), host=self.config.listen_host,
                                               port=self.config.listen_port, log_level="warning",
                                               access_log=False, lifespan="off",
                                               timeout_graceful_shutdown=STREAM_GRACE,
                                               ssl_certfile=tls.cert_file if tls else None,
                                               ssl_keyfile=tls.key_file if tls else None))
        # uvicorn re-raises the signals it catches once it has stopped, which would kill the process before
        # the history is flushed; in its own thread it leaves the signals to us.
        http = threading.Thread(target=server.run, name="http", daemon=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stop_requested.set())
        # A handler runs on the main thread between two bytecodes, maybe inside a lock this thread holds:
        # SIGHUP only raises a flag, and this loop reloads.
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "_reload_requested", True))
        http.start()
        log.info("fleetmon hub %s: broker %s, %s://%s, history %s, %d expected hosts", __version__,
                 self.config.broker.url, "https" if tls else "http", self.config.listen, self.config.db,
                 len(self.config.expected_hosts))
        while not self._stop_requested.wait(MAIN_TICK):
            if self._reload_requested:
                self._reload_requested = False
                self.reload()
            if not http.is_alive():
                log.error("the HTTP server stopped (is %s in use%s?)", self.config.listen,
                          ", or its certificate unusable" if tls else "")
                break
        server.should_exit = True
        http.join(timeout=10)
        self.stop()
        return 0 if self._stop_requested.is_set() else 1

    def reload(self) -> bool:
        """Read the config file again (SIGHUP) and apply it without a restart; False when it is refused.

        A config with errors, or one that changes what only a restart can (``RESTART_KEYS``), is refused as
        a whole: the errors are logged and the hub runs on. Otherwise alerting (routes, receivers, inhibit
        rules, time intervals), fleet rules, expected hosts, liveness, the API token, users and roles and the
        rest apply at once, keeping every alert, notification log, silence, acknowledgement, the console
        sessions of the users that remain and the broker session.
        """
        path = self.config.source_path
        try:
            new = load_config(path, self.config.overrides)
        except ConfigError as exc:
            log.error("reload refused, the hub keeps its running config; errors in %s:\n  %s", path,
                      "\n  ".join(exc.errors))
            self.counters.config_reloads["failure"] += 1
            return False
        changed = restart_needed(self.config, new)
        if changed:
            log.error("reload refused, the hub keeps its running config: %s changed in %s, which only a restart "
                      "applies (systemctl restart fleetmon-hub)", ", ".join(changed), path)
            self.counters.config_reloads["failure"] += 1
            return False
        new.receiver_context.publish = self._publish_notification
        gone = self.parts.reconfigure(new, time.time())
        self._history_at = 0.0  # the new fleet rules may need other history
        logging.getLogger("fleetmon").setLevel(new.log_level.upper())
        if gone:
            self.forget_hosts(gone)
        self.counters.config_reloads["success"] += 1
        log.info("config reloaded from %s: %d expected hosts, %d alert receivers", path, len(new.expected_hosts),
                 len(new.alerting.receivers))
        return True

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._rules_thread.join(timeout=10)
        self.dispatcher.stop()
        self._dispatch_thread.join(timeout=10)
        self.parts.incidents.stop()
        self._incident_thread.join(timeout=10)
        self.parts.incidents.shutdown()
        self.parts.deliverer.stop()
        self.link.stop(hub_status_topic(self.prefix), _hub_status("offline"))
        self.parts.journal.close()
        self.parts.maintenance.close()
        self.parts.sla.close()
        self.parts.logs.close()
        self.parts.authority.close()
        self.history.close()

    def liveness_problem(self) -> str:
        if not self._rules_thread.is_alive() and not self._stop.is_set():
            return "the rules thread stopped"
        if not self._dispatch_thread.is_alive() and not self._stop.is_set():
            return "the alert dispatcher stopped"
        if not self._incident_thread.is_alive() and not self._stop.is_set():
            return "the incident book stopped"
        if not self.parts.logs.alive and not self._stop.is_set():
            return "the log store's writer stopped"
        if not self.history.running:
            return "the history writer stopped"
        return ""

    def readiness_problem(self) -> str:
        if not self.link.connected.is_set():
            return "not connected to the broker: " + (self.link.last_error or "connecting")
        blindness = self.sight.blindness
        if blindness is not None:
            return "blind: " + blindness.detail
        return self.liveness_problem() or self.history.problem()

    # --- ingest (paho's thread) ------------------------------------------------------------------

    def _on_connected(self) -> None:
        self.link.publish(hub_status_topic(self.prefix), _hub_status("online"), qos=1, retain=True)
        with self.lock:
            probe = self.sight.connected(time.time())
        self.link.publish(self._probe_topic, probe, qos=1)

    def _on_disconnected(self) -> None:
        """The broker session ended: blind until a probe comes back; the wills the broker sent on its way
        down (just before it dropped us) are not deaths. The hub's own stop ends it too: that is no fault."""
        if self._stop.is_set():
            return
        now = time.time()
        with self.lock:
            self.sight.disconnected(now)
            changes = self.fleet.discount_wills(now - WILL_GRACE, now)  # first: who was online is then known
            self.fleet.see(True, self.sight.trusted_from())
        log.warning("lost the broker connection: no host is judged until the hub sees the fleet again")
        for change in changes:
            record_change(self.history, change)

    def _on_message(self, topic: str, payload: bytes) -> None:
        """paho's callback: an exception escaping it would end the network thread and all ingest with it."""
        try:
            self._take(topic, payload)
        except Exception:  # a bug met by one message: that message is lost (counted, logged), ingest goes on
            self.counters.reject("internal_error")
            log.exception("ingest failed on a message on %s", topic)

    def _take(self, topic: str, payload: bytes) -> None:
        """The hub's own topics here (its probe, the fleet view it publishes); the hosts' to the intake."""
        if topic == self._probe_topic:
            with self.lock:
                was_blind = self.sight.blind
                self.sight.probe_returned(payload, time.time())
                self.fleet.see(self.sight.blind, self.sight.trusted_from())
            if was_blind and not self.sight.blind:
                log.info("the hub sees the fleet again (probe round trip %.3fs)", self.sight.lag or 0.0)
            return
        if topic.startswith(self._fleet_view_prefix):
            if payload:
                self._retained_views.add(topic[len(self._fleet_view_prefix):])
            return
        if self.center is not None and self.center.sites.owns(topic):
            refused = self.center.sites.take(topic, payload, time.time())
            if refused:
                self.counters.reject(refused)
            return
        self.intake.take(topic, payload, time.time())

    # --- rules (their own thread) -----------------------------------------------------------------

    def _rules_loop(self) -> None:
        while not self._stop.wait(self.config.rules_interval):
            try:
                self._evaluate(time.time())
            except Exception:  # one bad evaluation must not stop fleet rules for good; it is logged
                log.exception("fleet rule evaluation failed")

    def _evaluate(self, now: float) -> None:
        with self.lock:
            probe = self.sight.tick(now)
            self.fleet.see(self.sight.blind, self.sight.trusted_from())
        if probe is not None:
            self.link.publish(self._probe_topic, probe, qos=1)
        if not self.started.is_set() and self.sight.seeing_since is not None:
            self.started.set()  # the probe came back after the retained messages the subscription brought
        if self.link.connected.is_set():  # an ack not published is not a request made: the give-up counts requests
            self._acknowledge(now)
        self.parts.sla.update(now)
        history_due = now - self._history_at >= self.config.history_rules_interval
        if history_due:
            self._series = self.parts.rule_series(now)
            self._history_at = now
        with self.lock:
            if not self.sight.blind and self.fleet.heard_since(self.sight.trusted_from()):
                self.sight.caught_up(now)
            judging = self.sight.judging(now)
            changes = self.fleet.tick(now) if judging else []
            views = self.fleet.views(now)
            health = HubHealth(self._name, self.sight.blindness, *self._storage_health(now))
        self.parts.maintenance.learn_groups({view.host: view.groups for view in views})
        if judging:  # while blind or settling, the fleet rules' last verdict stands: nothing fires, nothing resolves
            self._verdict = evaluate(self.config.rules, views, self._series, now) + evaluate_log_rules(
                self.config.logs.rules, self.parts.logs, {v.host: v.groups for v in views}, now,
                self.config.alerting.external_url.rstrip("/") + "/api/v1/logs") + (
                self.center.conditions(now) if self.center else [])
            if history_due:
                self._burn = self.parts.sla.burn_alerts(now)
        if judging and self._retained_views:  # after the tick, which forgot hosts that left the inventory
            self._forget_retained_views()
        transitions = self.parts.source_alerts.update([*self._verdict, *self._burn,
                                                       *evaluate_hub(self.config.rules, health)], now)
        for change in changes:
            record_change(self.history, change)
        if transitions:
            self.dispatcher.put(transitions, source="fleet")
            self.link.publish(fleet_alerts_topic(self.prefix),
                              encode({"v": SCHEMA_VERSION, "type": "alerts", "ts": round(now, 3),
                                      "alerts": transitions}), qos=1)
            for transition in transitions:
                log.info("fleet alert %s %s", transition["labels"].get("alertname"), transition["status"])
                record_alert(self.history, transition, "fleet", now)
        if self.center is not None:
            self._relay_site_alerts(now)
        if self.config.republish.enabled:
            self._republish(now)
        if now - self._pruned_at >= PRUNE_INTERVAL:
            self._pruned_at = now
            self.parts.journal.prune(now - self.config.alerting.history_retention)
            self.parts.maintenance.prune(now)
        self.parts.sample_trends(now)
        self.counters.evaluations += 1  # last: whatever this round raised has been handed on

    def _acknowledge(self, now: float) -> None:
        """Publish the delivery acks due: what each host's samples are committed up to, what to send again."""
        durable = self.history.durable_position
        delivery = self.parts.delivery
        with self.parts.delivery_lock:
            delivery.committed(durable)
            due = delivery.tick(now)
            self.counters.samples_lost = delivery.lost_total
        for item in due:
            self.link.publish(hub_ack_topic(item.host, self.prefix),
                              encode(ack(item.host, now, item.session, item.upto, item.missing)), qos=1, retain=True)

    def _forget_retained_views(self) -> None:
        """Clear the retained fleet view the broker held for hosts no longer in the fleet."""
        with self.lock:
            gone = sorted(self._retained_views - set(self.fleet.hosts))
        self._retained_views.clear()
        if gone:
            log.info("clearing the retained fleet view of hosts no longer in the fleet: %s", ", ".join(gone))
            self.forget_hosts(gone)

    def _storage_health(self, now: float) -> tuple[str, float | None]:
        """The store's problem, if any, and since when this hub has seen it."""
        problem = self.history.problem()
        self._storage_since = None if not problem else self._storage_since or now
        return problem, self._storage_since

    def _relay_site_alerts(self, now: float) -> None:
        """Federation: the sites' alert transitions into this hub's alerting (and its alert history)."""
        transitions = self.center.transitions(now)
        if transitions:
            self.dispatcher.put(transitions, source=SITE)
            for transition in transitions:
                record_alert(self.history, transition, SITE, now)

    def _republish(self, now: float) -> None:
        # Skipped (counted) while the previous round is unsent: a slow link holds one round, not a growing queue.
        if any(not info.is_published() for info in self._republished):
            self.counters.republish_skipped += 1
            return
        with self.lock:
            publications = fleet_view(self.fleet, self.prefix, now)
        publications.append(active_alerts(self.parts.source_alerts.firing(), self.prefix, now))
        expiry = int(self.config.republish.expiry)
        sent = (self.link.publish(p.topic, p.payload, qos=1, retain=True, expiry=expiry) for p in publications)
        self._republished = [info for info in sent if info is not None]

    def _publish_notification(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """mqtt_configs receivers publish through the hub's own connection."""
        if self.link.publish(topic, payload, qos=qos, retain=retain) is None:
            raise ConnectionError("not connected to the broker")

    def forget_hosts(self, hosts: list[str]) -> None:
        for publication in cleared(hosts, self.prefix):
            self.link.publish(publication.topic, publication.payload, qos=1, retain=True)
        with self.parts.delivery_lock:
            self.parts.delivery.forget(hosts)
        for host in hosts:
            self.link.publish(hub_ack_topic(host, self.prefix), b"", qos=1, retain=True)


def _hub_status(state: str) -> bytes:
    """The hub's retained birth (online) or will and clean shutdown (offline) on <prefix>/hub/status."""
    return encode({"v": SCHEMA_VERSION, "type": "hub_status", "state": state, "version": __version__,
                   "ts": round(time.time(), 3)})
