"""The hub's parts, built and wired from its config: everything but the broker connection and the threads.

fleetmon.hub.service builds these, restores what a previous run left, and runs them; the tests build the
same parts to drive the real message path and the real HTTP app without a broker. Each part is given the
others it uses, and no more: the HTTP app gets ``web()``'s narrow inputs, never the parts themselves.
"""

import contextlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from fleetmon.hub.alerting.delivery import Deliverer
from fleetmon.hub.alerting.dispatch import Dispatcher
from fleetmon.hub.alerting.journal import AlertJournal
from fleetmon.hub.alerting.metrics import AlertingCollector
from fleetmon.hub.alerting.notices import IncidentNotices
from fleetmon.hub.alerting.observers import AlertRef
from fleetmon.hub.auth.authority import Authority
from fleetmon.hub.auth.database import AuthDatabase
from fleetmon.hub.config import HubConfig
from fleetmon.hub.delivery import RESTORE_WINDOW, DeliveryTracker
from fleetmon.hub.exposition import FleetCollector, HubCounters
from fleetmon.hub.federation.alerts import SOURCE as SITE
from fleetmon.hub.federation.center import Center
from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.incidents.book import IncidentBook
from fleetmon.hub.intake import Intake
from fleetmon.hub.layout import resolve
from fleetmon.hub.logs.metrics import LogCollector
from fleetmon.hub.logs.store import LogStore
from fleetmon.hub.maintenance.calendar import MaintenanceCalendar
from fleetmon.hub.rules import ActiveAlerts, FleetAlert, SeriesHistory
from fleetmon.hub.sight import Sight
from fleetmon.hub.sla.engine import HostInfo, SLAEngine
from fleetmon.hub.state import FleetState
from fleetmon.hub.store import Store
from fleetmon.hub.trends import PanelTrends
from fleetmon.hub.web.app import Health, WebParts
from fleetmon.hub.web.dashboard import fleet_layout
from fleetmon.hub.web.live import LiveFeed
from fleetmon.protocol.alerts import alert as alert_json

log = logging.getLogger("fleetmon.hub")


@dataclass(slots=True)
class HubParts:
    config: HubConfig  # the config in force: a reload replaces it (``reconfigure``)
    lock: threading.Lock  # guards ``fleet`` and ``sight``, changed by ingest and the rules loop
    fleet: FleetState  # one record per host: liveness, birth, last samples, checks, edge alerts
    fleet_reader: FleetReader  # the fleet state for the HTTP side, which never takes the lock itself
    sight: Sight  # whether the hub can trust its own view of the fleet
    history: Store  # samples, checks, events, state changes and alert transitions, in SQLite
    # What the history holds, so that samples queued or sent again fill gaps (docs/protocol.md, "Delivery");
    # its own lock, as ingest (paho's thread) and acks (rules thread) both use it.
    delivery: DeliveryTracker
    delivery_lock: threading.Lock
    counters: HubCounters
    # The alerts of the hub's own sources: the fleet rules' (pending and firing) and the agents' edge
    # alerts it relays (firing), each turned into transitions once.
    source_alerts: ActiveAlerts
    journal: AlertJournal
    deliverer: Deliverer
    dispatcher: Dispatcher
    intake: Intake
    authority: Authority  # who is asking the HTTP API, and what the config in force lets them do
    maintenance: MaintenanceCalendar  # planned downtime: mutes alerts, excluded from SLA reports
    incidents: IncidentBook  # alerts grouped into incidents, opened by routes or people; timelines, postmortems
    notices: IncidentNotices  # what receivers are told of an incident's changes
    sla: SLAEngine  # SLO reports from the history's presence ledger, check results and rollups; budget burn
    logs: LogStore  # the hosts' journal lines, searchable (FTS5), with retention; what log rules count
    trends: PanelTrends = field(default_factory=PanelTrends)  # the dashboard panels' last hour, in memory
    center: Center | None = None  # a central hub's sites (``federation:``); None on a site's or a lone hub

    def web(self, health: Health) -> WebParts:
        """What the HTTP app reads; ``health`` is what only the running hub knows of itself."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(FleetCollector(self.fleet_reader, self.counters))
        registry.register(AlertingCollector(self.dispatcher, self.deliverer))
        registry.register(LogCollector(self.logs.figures))
        dispatcher = self.dispatcher
        live = LiveFeed(self.fleet_reader, lambda: dispatcher.alert_views(time.time()),
                        layout=lambda: fleet_layout(self.config.dashboard, self.fleet_reader),
                        trend_minute=lambda: self.trends.sampled)
        return WebParts(fleet=self.fleet_reader, history=self.history, console_history=self.history,
                        fleet_alerts=lambda: [a.to_json(time.time()) for a in dispatcher.firing_from("fleet")],
                        trends=self.trends, live=live, hub_figures=self.counters.snapshot,
                        health=health, metrics=registry, dispatcher=self.dispatcher, journal=self.journal,
                        authority=self.authority, dashboard=lambda: self.config.dashboard,
                        maintenance=self.maintenance, incidents=self.incidents, sla=self.sla, logs=self.logs,
                        host_groups=lambda: {r.host: r.groups for r in self.fleet_reader.records()})

    def sample_trends(self, now: float) -> None:
        """The dashboard panels' trend point of this minute, once (the rules loop asks every round)."""
        if self.trends.due(now):
            self.trends.observe(resolve(self.config.dashboard, self.fleet_reader.records()), now)

    def rule_series(self, now: float) -> list[SeriesHistory]:
        """The history the fleet rules ask for (``rules.history()``: metric and window), per host with samples."""
        series = []
        with self.lock:
            hosts = [h for h, r in self.fleet.hosts.items() if r.last_sample is not None]
        for metric, window in self.config.rules.history().items():
            for host in hosts:
                for found in self.history.query(host, metric, None, now - window, now):
                    points = [(p[0], p[2] if len(p) == 4 else p[1]) for p in found.points]  # rollups: avg
                    series.append(SeriesHistory(host, metric, found.labels, points))
        return series

    def reconfigure(self, new: HubConfig, now: float) -> list[str]:
        """Apply a reloaded config (one ``restart_needed`` let through); returns the hosts it removed from
        the fleet, whose retained topics the caller clears."""
        with self.lock:
            left = self.fleet.set_expected(new.expected_hosts, now)
            gone = [host for host in left if host not in self.fleet.hosts]
            self.fleet.silent_after, self.fleet.skew_tolerance = new.liveness.silent_after, new.liveness.skew_tolerance
            self.sight.stall_after = _stall_after(new)
            self.sight.max_lag, self.sight.settle = new.liveness.max_lag, new.liveness.settle
        self.dispatcher.reconfigure(new.alerting)
        self.maintenance.reconfigure(new.maintenance)
        self.sla.reconfigure(new.slos, new.alerting.time_intervals, new.liveness.silent_after)
        self.logs.configure(new.logs)
        self.intake.max_message_bytes = new.max_message_bytes
        self.config = new
        return gone


def build_parts(config: HubConfig, now: float | None = None) -> HubParts:
    """Every part of a hub with ``config``, wired; nothing started, nothing restored (``restore``)."""
    now = time.time() if now is None else now
    lock = threading.Lock()
    fleet = FleetState(config.expected_hosts, config.liveness.silent_after, config.liveness.skew_tolerance, now)
    liveness = config.liveness
    sight = Sight(_stall_after(config), liveness.max_lag, liveness.settle, now, run=secrets.token_hex(4))
    history = Store(config.db, config.history)
    counters = HubCounters()
    counters.store, counters.sight = history.counters, sight
    delivery, delivery_lock = DeliveryTracker(), threading.Lock()
    source_alerts = ActiveAlerts()
    journal = AlertJournal(config.alerting_db)
    deliverer = Deliverer(on_attempt=journal.attempt)
    dispatcher = Dispatcher(config.alerting, deliverer, journal)
    logs = LogStore(config.logs_db, config.logs)
    intake = Intake(config.broker.topic_prefix, config.max_message_bytes, fleet, lock, history, delivery,
                    delivery_lock, source_alerts, dispatcher, counters, logs)
    # The authority reads the config in force at each request: ``parts`` below, whose config a reload replaces.
    authority = Authority(lambda: parts.config.auth, lambda: parts.config.api_token, AuthDatabase(config.auth_db),
                          lambda: parts.config.history.record_retention)
    maintenance = MaintenanceCalendar(config.alerting_db, config.maintenance)
    dispatcher.maintenance = maintenance
    notices = IncidentNotices(lambda: parts.config.alerting, deliverer, dispatcher.snapshots)
    incidents = IncidentBook(config.alerting_db, on_change=notices.send,
                             acknowledge_alerts=lambda fps, by, comment: _acknowledge(dispatcher, fps, by, comment),
                             alert_lookup=lambda fp: _alert_ref(dispatcher, fp))
    dispatcher.observer = incidents
    center = Center(config.federation, config.broker.topic_prefix, now) if config.federation.enabled else None
    reader = FleetReader(fleet, lock, center.sites if center is not None else None)
    sla = SLAEngine(config.slos, config.db, config.sla_db, members=lambda: _members(reader),
                    live=lambda host: _live(reader, sight, host), maintenance=maintenance.spans,
                    intervals=config.alerting.time_intervals, silent_after=config.liveness.silent_after)
    parts = HubParts(config, lock, fleet, reader, sight, history, delivery, delivery_lock, counters, source_alerts,
                     journal, deliverer, dispatcher, intake, authority, maintenance, incidents, notices, sla, logs,
                     center=center)
    return parts


def restore(parts: HubParts, now: float) -> list[FleetAlert]:
    """What a previous run left: the seqs the history holds (delivery), the dispatcher's state from the
    alert journal, and the firing alerts of the hub's own sources, back to the source that resolves them:
    the fleet rules (their alerts, and their last verdict, returned: it stands until the hub judges the
    fleet again) and each host's edge alerts. The journal committed an alert before anything was notified
    about it (docs/alerting.md, "Crash safety"), so a resolution the broker queued for the hub's session
    while it was down, or a fleet condition that clears after the restart, is notified."""
    parts.delivery.restore(parts.history.recent_sequences(now - RESTORE_WINDOW))
    dispatcher = parts.dispatcher
    dispatcher.restore(**parts.journal.load())
    fleet, edge = dispatcher.firing_from("fleet"), dispatcher.firing_from("edge")
    if parts.center is not None:
        parts.center.restore(alert_json(a.labels, a.annotations, a.starts_at) for a in dispatcher.firing_from(SITE))
    legacy = dispatcher.firing_from("")
    if legacy:  # journaled before the journal kept sources: the history says which one
        told = {record.fingerprint: record.source for record in parts.history.latest_alerts()}
        for alert in legacy:
            (edge if told.get(alert.fingerprint) == "edge" else fleet).append(alert)
    edge_alerts = [alert_json(a.labels, a.annotations, a.starts_at) for a in edge]
    parts.source_alerts.restore(fleet=[alert_json(a.labels, a.annotations, a.starts_at) for a in fleet],
                                edge=edge_alerts)
    for alert in edge_alerts:
        host = alert["labels"].get("host")
        if host:
            parts.fleet.restore_edge_alert(host, alert)
    if fleet or edge:
        log.info("restored %d fleet and %d edge alerts from the alert journal", len(fleet), len(edge))
    return [FleetAlert(a.labels, a.annotations, a.starts_at) for a in fleet]


def _acknowledge(dispatcher: Dispatcher, fingerprints: list[str], by: str, comment: str) -> None:
    """An incident acknowledged: its firing alerts too, so their groups stop repeating and escalating."""
    for fp in fingerprints:
        with contextlib.suppress(LookupError):  # resolved meanwhile, or forgotten: nothing left to acknowledge
            dispatcher.acknowledge(fp, by, comment, None)


def _alert_ref(dispatcher: Dispatcher, fp: str) -> AlertRef | None:
    alert = dispatcher.alert(fp)
    return None if alert is None else AlertRef(fp, dict(alert.labels), alert.starts_at, alert.resolved(time.time()))


def _members(reader: FleetReader) -> dict[str, HostInfo]:
    return {r.host: HostInfo(r.groups, dict(r.labels), r.interval_s) for r in reader.records()}


def _live(reader: FleetReader, sight: Sight, host: str) -> tuple[str, bool]:
    """A host's liveness now, and whether the hub sees the fleet (an unknown host reads as missing)."""
    summary = reader.host(host)
    return ("missing" if summary is None else summary["state"]), not sight.blind


def _stall_after(config: HubConfig) -> float:
    """A rules loop late by this much means the hub was stalled; never less than two of its rounds."""
    return max(config.liveness.stall_after, 2 * config.rules_interval)
