"""The agent daemon: collect → evaluate thresholds → publish (or spool), plus checks and recovery.

Threads: the main loop owns all state (scheduling, thresholds, sequence numbers); check probes run in a
small pool and hand their results back through a queue; the MQTT network loop, the spool drain and the
log shipper (logs/shipper.py, with ``logs.enabled``) run in their own threads. Samples stay in the
``Outbox`` until the hub's ack confirms them (spool.py says why and how); the drain sends back-fill only
while the hub's retained status says it is online. Signals only set flags: SIGHUP reloads the config (a
bad one is refused and the old one kept), SIGTERM/SIGINT stop cleanly with a retained 'offline' status.
"""

import json
import logging
import os
import signal
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional

from fleetmon import __version__
from fleetmon.agent.checks.schedule import CheckSchedule
from fleetmon.agent.checks.spec import CheckSpec
from fleetmon.agent.collectors.runner import CollectorRunner, build_collectors
from fleetmon.agent.config import AgentConfig, load_config
from fleetmon.agent.spool import Outbox, Spool
from fleetmon.agent.state import next_session, prepare_state_dir
from fleetmon.config_reader import ConfigError
from fleetmon.mqtt.link import PUBLISH_ACK_TIMEOUT, MqttLink
from fleetmon.protocol import messages
from fleetmon.protocol.check_results import result_metrics, result_to_json
from fleetmon.protocol.evaluator import ThresholdEvaluator
from fleetmon.protocol.metricset import MetricSet
from fleetmon.protocol.thresholds import rule_to_json
from fleetmon.protocol.topics import host_topics, hub_ack_topic, hub_status_topic

if TYPE_CHECKING:  # imported with logs.enabled only
    from fleetmon.agent.logs.shipper import LogShipper

log = logging.getLogger("fleetmon.agent")

#: Alert messages kept in memory while the broker is away (a flapping rule must not grow it forever).
MAX_PENDING_ALERT_MESSAGES = 1000
#: Events (recovery actions, config reloads, spool drops) kept the same way; the oldest go first.
MAX_PENDING_EVENTS = 1000


class Agent:
    def __init__(self, config: AgentConfig, overrides: Optional[Dict[str, Any]] = None) -> None:
        self.config = config
        self._overrides = overrides or {}
        self.state_dir = prepare_state_dir(config.state_dir)
        self.session = next_session(self.state_dir)
        self.started_at = time.time()
        self._seq: Dict[str, int] = {}
        self._seq_lock = threading.Lock()  # status messages are also built in the MQTT thread
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = False
        self.checks = CheckSchedule(on_result=self._wake.set)
        self._drain_wake = threading.Event()
        self.spool = Spool(os.path.join(self.state_dir, "spool"), config.spool.max_samples,
                           config.spool.max_bytes)
        self.outbox = Outbox(self.spool, self.session)
        # Whether the hub is there, from its retained status: learnt again on every connect, as a broker
        # restarted without persistence has no status (and no session of the hub to queue back-fill in).
        self._hub_online = threading.Event()
        self._hub_seen = False  # a hub confirms samples: keep them until it does (without one, nobody will)
        self._reported_drops = 0
        self._pending_alerts: List[Dict[str, Any]] = []  # transitions taken while the broker was away
        self._pending_events: Deque[Dict[str, Any]] = deque(maxlen=MAX_PENDING_EVENTS)  # the same, for events
        # Set when a hub comes online (its retained status): tell it every alert firing here, so that a
        # transition it lost (killed before it had journaled it) is made good. Taken by the main loop.
        self._alert_sync_due = False
        self.runner = CollectorRunner(build_collectors(config.collectors, config.interval))
        self.facts = self.runner.facts()
        self.evaluator = ThresholdEvaluator(config.thresholds, config.host_id, config.labels)
        self._install_checks(config.checks)
        self.link = self._new_link()
        self.logs = self._new_log_shipper(config)

    # --- lifecycle -------------------------------------------------------------------------------

    def run(self) -> int:
        for signum, handler in ((signal.SIGHUP, self._on_sighup), (signal.SIGTERM, self._on_stop),
                                (signal.SIGINT, self._on_stop)):
            signal.signal(signum, handler)
        log.info("fleetmon agent %s starting: host %s, session %d, interval %gs, collectors %s, broker %s",
                 __version__, self.config.host_id, self.session, self.config.interval,
                 ",".join(c.name for c in self.runner.collectors) or "none", self.config.broker.url)
        self.link.start()
        if self.logs is not None:
            self.logs.start()
        drain = threading.Thread(target=self._drain_loop, name="drain", daemon=True)
        drain.start()
        try:
            self._main_loop()
        finally:
            self._shutdown()
        return 0

    def _main_loop(self) -> None:
        next_sample = time.monotonic()
        while not self._stop.is_set():
            self._wake.clear()  # before the work, so a wake-up that arrives during it is not lost
            if self._reload_requested:
                self._reload_requested = False
                self._reload()
            self._handle_check_results()
            if self._alert_sync_due:
                self._sync_alerts()
            now = time.monotonic()
            if now >= next_sample:
                self._sample()
                next_sample += self.config.interval
                if next_sample <= time.monotonic():  # fell behind (suspend, slow collector): don't burst
                    next_sample = time.monotonic() + self.config.interval
            self.checks.start_due(now)
            due = self.checks.next_due(next_sample)
            self._wake.wait(max(0.0, due - time.monotonic()))

    def _shutdown(self) -> None:
        log.info("stopping")
        self.checks.close()
        if self.logs is not None:
            self.logs.stop()  # before the link: batches in flight get their acknowledgement or are spooled
        offline = messages.status(self.config.host_id, self.session, self._next_seq("status"), time.time(),
                                  "offline", reason="shutdown")
        self.link.stop(self.topics.status, messages.encode(offline))
        self.outbox.spill()
        self.runner.close()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._drain_wake.set()

    def _on_stop(self, signum, frame) -> None:
        self.stop()

    def _on_sighup(self, signum, frame) -> None:
        self._reload_requested = True
        self._wake.set()

    # --- MQTT ------------------------------------------------------------------------------------

    def _new_link(self) -> MqttLink:
        self.topics = host_topics(self.config.host_id, self.config.broker.topic_prefix)
        will = messages.status(self.config.host_id, self.session, self._next_seq("status"), time.time(),
                               "offline", reason="will")
        prefix = self.config.broker.topic_prefix
        self._hub_status_topic = hub_status_topic(prefix)
        self._ack_topic = hub_ack_topic(self.config.host_id, prefix)
        return MqttLink(self.config.broker, "fleetmon-agent-" + self.config.host_id, self.topics.status,
                        messages.encode(will), on_connected=self._on_connected, on_message=self._on_message,
                        subscriptions=(self.topics.status, self._hub_status_topic, self._ack_topic))

    def _new_log_shipper(self, config: AgentConfig) -> Optional["LogShipper"]:
        """Publishes through whatever link is current; delivers only while the hub (once seen) is online."""
        if not config.logs.enabled:
            return None
        from fleetmon.agent.logs.shipper import LogShipper

        return LogShipper(config.logs, config.host_id, self.session, self.state_dir,
                          publish=lambda body: self.link.publish(self.topics.logs, body, qos=1),
                          can_deliver=lambda: self.link.connected.is_set() and (
                              self._hub_online.is_set() or not self._hub_seen),
                          next_seq=lambda: self._next_seq("logs"))

    def _next_seq(self, kind: str) -> int:
        with self._seq_lock:
            self._seq[kind] = self._seq.get(kind, 0) + 1
            return self._seq[kind]

    def _birth(self) -> bytes:
        config = self.config
        checks = [{"name": c.name, "type": c.type, "interval_s": c.interval} for c in config.checks]
        payload = messages.status(
            config.host_id, self.session, self._next_seq("status"), time.time(), "online",
            agent_version=__version__, started_at=self.started_at, interval_s=config.interval,
            facts=self.facts, groups=config.groups, labels=config.labels,
            thresholds=[rule_to_json(rule) for rule in config.thresholds], checks=checks)
        return messages.encode(payload)

    def _on_connected(self) -> None:
        """Runs in the network thread on every (re)connect, before any retained message of the new
        connection."""
        self._hub_online.clear()
        self.link.publish(self.topics.status, self._birth(), qos=1, retain=True)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.status:
            self._on_status(payload)
        elif topic == self._hub_status_topic:
            self._on_hub_status(payload)
        elif topic == self._ack_topic:
            self._on_ack(payload)

    def _on_hub_status(self, payload: bytes) -> None:
        try:
            state = json.loads(payload).get("state")
        except (ValueError, AttributeError):
            state = None  # cleared or garbage: no hub to count on
        if state in ("online", "offline"):
            self._hub_seen = True
        if state == "online":
            log.info("the hub is online: back-fill may flow")
            self._hub_online.set()
            self._drain_wake.set()
            self._alert_sync_due = True
            self._wake.set()
        else:
            self._hub_online.clear()

    def _on_ack(self, payload: bytes) -> None:
        ack = messages.parse_ack(payload)
        if ack is None or ack.host != self.config.host_id:
            return
        self._hub_seen = True
        self.outbox.confirmed(ack.session, ack.upto)
        if self.outbox.requested(ack.session, ack.missing):
            log.info("the hub asks for %d samples again: %s", sum(b - a + 1 for a, b in ack.missing),
                     ", ".join(f"{a}-{b}" for a, b in ack.missing))
            self._drain_wake.set()

    def _on_status(self, payload: bytes) -> None:
        """Re-assert the birth when a will from an earlier session overwrote it (it can arrive late)."""
        try:
            status = json.loads(payload)
            stale = status.get("state") == "offline" and int(status.get("session", 0)) < self.session
        except (ValueError, TypeError, AttributeError):
            stale = True  # garbage on our own retained topic: replace it
        if stale:
            log.info("an earlier session's offline status replaced ours; publishing the birth again")
            self.link.publish(self.topics.status, self._birth(), qos=1, retain=True)

    def _publish(self, topic: str, payload: Dict[str, Any]) -> bool:
        return self.link.publish(topic, messages.encode(payload), qos=1) is not None

    def _event(self, kind: str, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        payload = messages.event(self.config.host_id, self.session, self._next_seq("events"), time.time(),
                                 kind, message, details)
        if not self._publish(self.topics.events, payload):
            log.info("event kept until the broker is back: %s: %s", kind, message)
            self._pending_events.append(payload)

    # --- sampling --------------------------------------------------------------------------------

    def _sample(self) -> None:
        ts = time.time()
        metrics, errors, duration = self.runner.collect()
        metrics.add("fleetmon_agent_spool_samples", len(self.spool))
        metrics.add("fleetmon_agent_spool_dropped_total", self.spool.dropped_total)
        if self.logs is not None:
            self.logs.add_metrics(metrics)
        transitions = self.evaluator.evaluate(metrics, ts)
        metrics.add("fleetmon_agent_alerts_firing", len(self.evaluator.firing()))
        payload = messages.metrics(self.config.host_id, self.session, self._next_seq("metrics"), ts,
                                   self.config.interval, duration, metrics.to_json(), errors)
        encoded = messages.encode(payload)
        if self.link.publish(self.topics.metrics, encoded, qos=1) is None:
            dropped = self.outbox.spill() + self.outbox.spooled(payload["seq"], encoded)
        elif self._hub_seen:
            dropped = self.outbox.published(payload["seq"], encoded, time.monotonic())
        else:
            dropped = 0  # no hub has ever answered: the broker taking it is all the delivery there is
        if dropped:
            log.warning("spool full: dropped the %d oldest samples", dropped)
        self._publish_alerts(transitions, ts)
        self._report_drops()

    def _publish_alerts(self, transitions: List[Dict[str, Any]], ts: float) -> None:
        if not transitions:
            return
        for alert in transitions:
            log.info("alert %s %s %s", alert["labels"].get("alertname"), alert["labels"].get("severity"),
                     alert["status"])
        payload = messages.alerts(self.config.host_id, self.session, self._next_seq("alerts"), ts, transitions)
        if not self._publish(self.topics.alerts, payload):
            # Alert transitions are state, not samples: keep them for when the broker is back.
            self._pending_alerts.append(payload)
            if len(self._pending_alerts) > MAX_PENDING_ALERT_MESSAGES:
                log.warning("broker away for long: dropping the oldest unsent alert transitions")
                del self._pending_alerts[0]

    def _sync_alerts(self) -> None:
        """Every alert firing now, as one complete message, after the transitions still pending."""
        self._report_drops()
        if self._pending_alerts:
            return  # the broker went away again: still due, tried again on the next round
        payload = messages.alerts(self.config.host_id, self.session, self._next_seq("alerts"), time.time(),
                                  self.evaluator.firing(), complete=True)
        self._alert_sync_due = not self._publish(self.topics.alerts, payload)

    def _report_drops(self) -> None:
        """Publish the drop count once the broker is reachable again; drops never pass silently."""
        dropped = self.spool.dropped_total - self._reported_drops
        if dropped and self.link.connected.is_set():
            self._event("spool_dropped", f"spool bound reached: {dropped} oldest samples dropped",
                        {"dropped": dropped, "dropped_total": self.spool.dropped_total,
                         "max_samples": self.spool.max_samples, "max_bytes": self.spool.max_bytes})
            self._reported_drops = self.spool.dropped_total
        while self._pending_alerts and self.link.connected.is_set():
            payload = self._pending_alerts[0]
            if not self._publish(self.topics.alerts, payload):
                break
            self._pending_alerts.pop(0)
        while self._pending_events and self.link.connected.is_set():
            if not self._publish(self.topics.events, self._pending_events[0]):
                break
            self._pending_events.popleft()

    def _drain_loop(self) -> None:
        """Send back-fill (what the hub asked for again, then spooled samples oldest first) at a bounded
        rate, while the broker is connected and the hub online."""
        while not self._stop.is_set():
            self._drain_wake.wait()  # set when the hub comes online, when it asks for samples, and on stop
            self._drain_wake.clear()
            while not self._stop.is_set() and self.link.connected.is_set() and self._hub_online.is_set():
                item = self.outbox.next_backfill(time.monotonic())
                if item is None:
                    break
                info = self.link.publish(self.topics.backfill, item.payload, qos=1)
                if info is None:
                    break
                try:
                    info.wait_for_publish(timeout=PUBLISH_ACK_TIMEOUT)
                except (RuntimeError, ValueError):
                    break
                if not info.is_published():
                    break
                self.outbox.backfilled(item, time.monotonic())
                self._stop.wait(1.0 / self.config.spool.drain_rate)

    # --- checks ----------------------------------------------------------------------------------

    def _install_checks(self, specs: List[CheckSpec]) -> None:
        for name in self.checks.install(specs):  # its results stop: end its alerts instead of leaving them firing
            self.evaluator.resolve_series({"check": name})

    def _handle_check_results(self) -> None:
        batch = self.checks.finished()
        if not batch:
            return
        ts = time.time()
        metrics = MetricSet()
        for check, result in batch:
            result_metrics(result, check.failures, metrics)
            if check.guard is not None:
                for event in check.guard.observe(result, time.monotonic()):
                    details = {k: v for k, v in event.items() if k not in ("kind", "message")}
                    self._event(event["kind"], event["message"], details)
        payload = messages.checks(self.config.host_id, self.session, self._next_seq("checks"), ts,
                                  [result_to_json(result, check.failures) for check, result in batch])
        self._publish(self.topics.checks, payload)
        self._publish_alerts(self.evaluator.evaluate(metrics, ts), ts)

    # --- reload ----------------------------------------------------------------------------------

    def _reload(self) -> None:
        path = self.config.source_path
        try:
            new = load_config(path, self._overrides)
            collectors = None
            if new.collectors != self.config.collectors or new.interval != self.config.interval:
                collectors = build_collectors(new.collectors, new.interval)
            if new.logs.enabled:
                from fleetmon.agent.logs.shipper import find_journalctl

                find_journalctl()
        except ConfigError as exc:
            log.error("reload refused, keeping the running config:\n  %s", "\n  ".join(exc.errors))
            self._event("config_rejected", "new config refused; the old one stays", {"errors": exc.errors})
            return
        old = self.config
        if collectors is not None:
            self.runner.close()
            self.runner = CollectorRunner(collectors)
            self.facts = self.runner.facts()
        new.source_path = path
        self.config = new
        self.evaluator.replace_rules(new.thresholds, new.labels)
        self._install_checks(new.checks)
        self.spool.max_samples, self.spool.max_bytes = new.spool.max_samples, new.spool.max_bytes
        relink = new.broker != old.broker or new.host_id != old.host_id
        if self.logs is not None and (relink or new.logs != old.logs):
            self.logs.stop()  # saves the cursor: the new shipper resumes after it
            self.logs = None
        if relink:
            self.link.stop(self.topics.status, messages.encode(messages.status(
                old.host_id, self.session, self._next_seq("status"), time.time(), "offline", reason="shutdown")))
            self.link = self._new_link()
            self.link.start()
        else:
            self.link.publish(self.topics.status, self._birth(), qos=1, retain=True)
        if self.logs is None and new.logs.enabled:
            self.logs = self._new_log_shipper(new)
            self.logs.start()
        logging.getLogger("fleetmon").setLevel(new.log_level.upper())
        log.info("config reloaded from %s", path)
        self._event("config_reloaded", "config reloaded", {"path": path})
