"""The dispatcher: alerts in, routed into aggregation groups, flushed on Alertmanager's schedule to receivers.

One lock guards the state; one thread (``run``) drains the inbox and flushes the groups that are due;
deliveries happen on the deliverer's own threads and report back through their ``done`` callbacks.
``put`` only appends to a deque and sets an event: the hub's ingest thread must never wait for a round
(a round may be slowed by SQLite, whose every step gives the GIL away). ``process(now)`` does one round
and returns when the next one is due, so tests can drive it with their own clock.

A flush, per Alertmanager (docs/alerting.md, "Lifecycle"):
1. snapshot the group's alerts (resolved ones as they are, firing ones without an end) in flush order;
2. drop what is muted now: inhibited, outside the route's active or inside its mute time intervals,
   silenced, or — fleetmon — held because it flaps;
3. for each receiver integration decide from its notification-log entry whether anything is news
   (first notification, new alerts added, all/some resolved, repeat interval elapsed — no repeat while
   the group is acknowledged) and deliver if so;
4. when every delivery succeeded, record them and drop the alerts resolved at the flush that did not change
   meanwhile.

A group's ticks: the first ``group_wait`` after its first alert arrived (at once if that alert started
longer ago and the group has never ticked), then every ``group_interval`` on that schedule. A group left
empty keeps ticking (an empty tick sends nothing) until the dispatcher's cleanup, every 30 s from the
dispatcher's start, drops it, as Alertmanager's dispatcher does on its own cleanup ticker. So an alert
that arrives for an emptied group before the cleanup goes out at the group's next tick, not after a fresh
``group_wait``, and the group's later ticks (repeats, resolutions) stay where they were; after the cleanup
it starts a new group.

Escalation (fleetmon): a group that has been firing unacknowledged for a tier's ``after`` also notifies
that tier's receivers, which then stay on the group until everything in it resolves.

Crash safety (docs/alerting.md, "Crash safety"): before a delivery is handed over, the notification log
entry it would write is journaled as an intent, and the delivery carries a barrier on the journal, so
nothing is sent before the alert states and that intent are committed. A killed hub therefore finds a
firing notification logged even if it never went out (at most once), and finds a resolution not yet
logged until it was confirmed sent (at least once). A failed delivery takes its intent back.

``reconfigure`` swaps the routing tree, receivers, inhibit rules and time intervals on a reload: alerts
regroup under the new tree, and a group whose route and labels did not change keeps its state, so its
notification log still says what its receivers were told.

The dispatcher composes the parts, each deciding one thing: the alert store (alert_store), aggregation
groups (groups), the notification log and its dedup decision (nflog), muting (muting: inhibit, silences,
timeintervals, flaps, maintenance windows), acknowledgements and escalation (acks), and the API's read-only
views (views). What people change — acknowledgements, silences — and the views are in operations.py; what
the dispatcher tells the incident book is in observers.py.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from fleetmon.hub.alerting.acks import Ack, Acks, escalation_reason, next_escalation, tiers_due
from fleetmon.hub.alerting.alert import Alert, parse_alerts
from fleetmon.hub.alerting.alert_store import AlertStore
from fleetmon.hub.alerting.config import AlertingConfig
from fleetmon.hub.alerting.delivery import Deliverer
from fleetmon.hub.alerting.flaps import Flaps
from fleetmon.hub.alerting.groups import Group, GroupCleanup, flush_order, group_id, next_tick, snapshot
from fleetmon.hub.alerting.inhibit import Inhibitor
from fleetmon.hub.alerting.journal import Journal, NullJournal
from fleetmon.hub.alerting.matchers import format_labels
from fleetmon.hub.alerting.muting import Mutes, NoWindows, Windows
from fleetmon.hub.alerting.nflog import LogEntry, LogKey, carried_data, intent, needs_update
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.observers import AlertRef, GroupObserver, NullObserver
from fleetmon.hub.alerting.operations import DispatcherOperations
from fleetmon.hub.alerting.route import Route
from fleetmon.hub.alerting.silences import Silence, Silences
from fleetmon.hub.alerting.timeintervals import RouteTimeMute
from fleetmon.protocol.alerts import fingerprint

log = logging.getLogger("fleetmon.hub.alerting")

#: How often the alert store forgets the resolved alerts no group holds any more.
GC_INTERVAL = 30.0


class Dispatcher(DispatcherOperations):
    def __init__(self, config: AlertingConfig, deliverer: Deliverer, journal: Journal | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.deliverer = deliverer
        self.journal: Journal = NullJournal() if journal is None else journal
        self.clock = clock
        self._lock = threading.RLock()
        self._wake = threading.Event()  # set by put, by a finished delivery and by operator changes
        self._stop = False
        self._inbox: deque[tuple[Alert, str]] = deque()  # (alert, source); atomic appends: put takes no lock
        self._due = 0.0  # the earliest flush or escalation of any group; no scan before then
        self._collected_at = 0.0
        self._cleanup = GroupCleanup(clock())
        self.store = AlertStore()
        self.groups: dict[tuple[str, str], Group] = {}
        self.nflog: dict[LogKey, LogEntry] = {}
        self.silences = Silences()
        self.acks = Acks()
        self.flaps = Flaps(config.flapping)
        self.escalations: dict[str, tuple[float | None, int]] = {}  # restored by group key
        self.inhibitor = Inhibitor(config.inhibit_rules)
        self.notifications_sent = 0
        self.notifications_failed = 0
        self.observer: GroupObserver = NullObserver()  # the incident book, once the hub wires it
        self.maintenance: Windows = NoWindows()  # the maintenance calendar, once the hub wires it
        self._windows_open: frozenset[str] = frozenset()

    def put(self, items: Iterable[dict[str, Any]], resolve_timeout: float | None = None,
            source: str = "") -> list[str]:
        """Queue alerts (Alertmanager-shaped JSON); returns one error per rejected item.

        ``resolve_timeout``: for API clients, Alertmanager's resolve_timeout; None for the hub's own
        sources, whose firing alerts never time out. ``source`` ("fleet", "edge") names the hub's own
        source, journaled so a restarted hub hands each firing alert back to the source that resolves it.
        """
        accepted, errors = parse_alerts(items, self.clock(), resolve_timeout)
        if accepted:
            self._inbox.extend((alert, source) for alert in accepted)
            self._wake.set()
        return errors

    def restore(self, alerts: Iterable[Alert], nflog: dict, silences: Iterable[Silence], acks: Iterable[Ack],
                escalations: dict[str, tuple[float | None, int]], sources: dict[str, str] | None = None) -> None:
        """State a previous run kept (journal): the alerts regroup, and the log prevents duplicates."""
        with self._lock:
            alerts = list(alerts)
            self.store.restore(alerts, sources or {})
            self.nflog.update(nflog)
            self.silences.by_id.update({s.id: s for s in silences})
            self.acks.by_fingerprint.update({a.fingerprint: a for a in acks})
            self.escalations.update(escalations)
            now = self.clock()
            for alert in alerts:
                self._route(alert, now)

    def run(self) -> None:
        while not self._stop:
            self._wake.clear()
            try:
                due = self.process(self.clock())
            except Exception:  # a bug in one round must not end notifications for good
                log.exception("alert dispatch failed")
                due = self.clock() + 1.0
            self._wake.wait(timeout=max(0.0, min(due - self.clock(), 1.0)))

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    def process(self, now: float) -> float:
        """Ingest queued alerts, flush what is due; returns when the next flush, escalation or group cleanup
        is due."""
        with self._lock:
            self.flaps.tick(now)
            while self._inbox:
                alert, source = self._inbox.popleft()
                if alert.updated_at >= self._cleanup.due:  # it arrived after the cleanup's tick: that goes first
                    self._cleanup.sweep(self.groups, alert.updated_at)
                self._ingest(alert, source, now)
            if now >= self._cleanup.due:
                self._cleanup.sweep(self.groups, now)
            if now - self._collected_at >= GC_INTERVAL:
                self._collected_at = now
                self._forget_resolved(now)
            self._watch_windows(now)
            if now < self._due:
                return min(self._due, self._cleanup.due)
            due = now + 60.0
            for group in list(self.groups.values()):
                if group.in_flight:
                    continue
                if group.next_flush <= now:
                    group.next_flush = next_tick(group.next_flush, group.route.options.group_interval, now)
                    group.flushed = True
                    self._flush(group, now, tiers_only=False)
                elif self._escalate(group, now):
                    self._flush(group, now, tiers_only=True)
                due = min(due, group.next_flush,
                          next_escalation(group.route.options.escalation, group.firing_since, group.tiers, now))
            self._due = due
            return min(due, self._cleanup.due)

    def _watch_windows(self, now: float) -> None:
        """A maintenance window opened or closed: every group that has flushed is looked at now, so a host
        still down when its window ends pages at once, not a group interval later (nothing new: no notice)."""
        open_now = self.maintenance.active_ids(now)
        if open_now != self._windows_open:
            self._windows_open = open_now
            for group in self.groups.values():
                if group.flushed:
                    group.next_flush = min(group.next_flush, now)
            self._due = 0.0

    def _ingest(self, alert: Alert, source: str, now: float) -> None:
        stored, transition, flipped = self.store.ingest(alert, source, now)
        if flipped:
            self.flaps.observe(stored.fingerprint, now)
        self.journal.alert(stored, transition, now, source)
        self._route(stored, now)

    def _route(self, stored: Alert, now: float, previous: dict[tuple[str, str], Group] | None = None) -> None:
        """Put the alert into the aggregation group of every route it matches; ``previous`` (route id and
        group key) holds the groups of the routing tree a reload replaced, which keep their state."""
        for route in self.config.route.match(stored.labels):
            labels = route.group_labels(stored.labels)
            key = (route.id, fingerprint(labels))
            group = self.groups.get(key)
            group_key = f"{route.key}:{format_labels(labels)}"
            kept = None if group is not None or previous is None else previous.get((route.id, group_key))
            if kept is not None:
                group = self.groups[key] = kept
                group.route, group.alerts = route, {}
            if group is None:
                # group_wait counts from the alert's arrival, not from when this round picked it up
                group = Group(route, labels, group_key, group_id(route.id, group_key),
                              next_flush=min(stored.updated_at, now) + route.options.group_wait)
                group.firing_since, group.tiers = self.escalations.pop(group_key, (None, 0))
                self.groups[key] = group
            group.alerts[stored.fingerprint] = stored
            if not group.flushed and stored.starts_at + route.options.group_wait < now:
                group.next_flush = min(group.next_flush, now)
            self._due = min(self._due, group.next_flush)

    def _forget_resolved(self, now: float) -> None:
        held = {fp for group in self.groups.values() for fp in group.alerts}
        for fp in self.store.forget_resolved(held, now):
            self.flaps.forget(fp)
            self.acks.forget(fp)
            self.journal.forget_alert(fp)

    # --- flush -----------------------------------------------------------------------------------

    def _mutes(self, now: float, route: Route | None = None) -> Mutes:
        """What mutes alerts at ``now``; a flush also asks the route's time intervals (a view does not: an
        alert may sit in groups of several routes)."""
        inhibition = self.inhibitor.prepare(self.store.firing_labels(now))
        if route is None:
            return Mutes(self.maintenance, inhibition, self.silences, self.flaps)
        times = RouteTimeMute(self.config.time_intervals, route.mute_time_intervals, route.active_time_intervals)
        return Mutes(self.maintenance, inhibition, self.silences, times, self.flaps)

    def _flush(self, group: Group, now: float, tiers_only: bool) -> None:
        if not group.alerts:
            return
        # what a successful flush removes: the alerts resolved now (muted or not), unless updated meanwhile
        versions = {fp: a.updated_at for fp, a in group.alerts.items() if a.resolved(now)}
        mutes = self._mutes(now, group.route)
        batch = sorted((a for a in group.alerts.values() if not mutes.reason(a.labels, now)), key=flush_order)
        firing = frozenset(a.fingerprint for a in batch if not a.resolved(now))
        resolved = frozenset(a.fingerprint for a in batch if a.resolved(now))
        if firing and group.firing_since is None:
            group.firing_since = now
        self._tell_observer(group, batch, now)
        deliveries = []
        if batch:
            acked = self.acks.all_acknowledged((group.alerts[fp] for fp in firing), now)
            snapshots = [snapshot(a, now) for a in batch]
            escalated = [(i + 1, name) for i, tier in enumerate(group.route.options.escalation[:group.tiers])
                         for name in tier.receivers]
            targets = escalated if tiers_only else [(0, group.route.receiver), *escalated]
            labels = group.route.render_labels(group.labels, snapshots, self.config.external_url)
            for tier, receiver_name in targets:
                deliveries += self._decide(group, tier, receiver_name, snapshots, firing, resolved, acked, now, labels)
        if not firing and group.firing_since is not None:
            group.firing_since, group.tiers = None, 0
        self.journal.escalation(group.key, group.firing_since, group.tiers)
        if not deliveries:
            self._finish(group, versions)
            return
        group.in_flight, group.flush_ok = len(deliveries), True
        deadline = now + max(group.route.options.group_interval, 10.0)
        observed = group.route.options.incident is not None
        for _, _, log_key in deliveries:
            self.journal.log_entry(log_key, intent(self.nflog.get(log_key), firing, resolved, now))
        durable = self.journal.barrier()
        for integration, notification, log_key in deliveries:
            self.deliverer.deliver(integration, notification, deadline,
                                   self._done_callback(group, log_key, firing, resolved, versions, now,
                                                       notification.reason if observed else None,
                                                       notification.receiver_data), durable)

    def _tell_observer(self, group: Group, batch: list[Alert], now: float) -> None:
        """The unmuted firing alerts of a group whose route asks for incidents, and its resolved ones muted or
        not (an alert that resolves while silenced still ends its part in an incident)."""
        options = group.route.options
        if options.incident is None:
            return
        shown = {a.fingerprint for a in batch}
        refs = [AlertRef(a.fingerprint, dict(a.labels), a.starts_at, a.resolved(now)) for a in group.alerts.values()
                if options.opens_incident(a.labels) and (a.fingerprint in shown or a.resolved(now))]
        if refs:
            self.observer.observe_group(group.key, group.id, dict(group.labels), group.route.receiver, refs, now)

    def _decide(self, group: Group, tier: int, receiver_name: str, snapshots: list[AlertSnapshot],
                firing: frozenset[str], resolved: frozenset[str], acked: bool, now: float,
                route_labels: dict[str, str]) -> list:
        receiver = self.config.receivers.get(receiver_name)
        if receiver is None:  # no alerting configured: alerts are kept and shown, not notified
            return []
        out = []
        for integration in receiver.integrations:
            log_key = (group.key, receiver_name, integration.name)
            reason = needs_update(self.nflog.get(log_key), firing, resolved, integration.send_resolved,
                                  group.route.options.repeat_interval, now, acked)
            if reason is None:
                continue
            if tier and reason == "first notification":
                reason = escalation_reason(group.route.options.escalation[tier - 1])
            notification = Notification(receiver=receiver_name, group_key=group.key, group_labels=dict(group.labels),
                                        alerts=list(snapshots), reason=reason, external_url=self.config.external_url,
                                        tier=tier, route_labels=dict(route_labels),
                                        receiver_data=carried_data(self.nflog.get(log_key)))
            out.append((integration, notification, log_key))
        return out

    def _done_callback(self, group: Group, log_key: LogKey, firing: frozenset[str],
                       resolved: frozenset[str], versions: dict[str, float], at: float,
                       reason: str | None = None, data: dict[str, str] | None = None) -> Callable[[bool], None]:
        """``reason``: the notification's, for the observer; None when the group's route has no incidents.
        ``data``: the notification's receiver data, logged with the entry as the integration left it."""
        def done(ok: bool) -> None:
            with self._lock:
                if reason is not None:
                    _, receiver, integration = log_key
                    self.observer.notified(group.key, receiver, integration, ok, reason, self.clock())
                if ok:
                    entry = LogEntry(firing, resolved, at, dict(data or {}))
                    self.nflog[log_key] = entry
                    self.notifications_sent += 1
                    self.journal.log_entry(log_key, entry)
                else:
                    group.flush_ok = False
                    self.notifications_failed += 1
                    # take the intent back: the log says what was confirmed
                    self.journal.log_entry(log_key, self.nflog.get(log_key))
                group.in_flight -= 1
                if group.in_flight == 0 and group.flush_ok:
                    self._finish(group, versions)
                self._due = 0.0  # a finished flush may make its group due again
            self._wake.set()
        return done

    def _finish(self, group: Group, versions: dict[str, float]) -> None:
        """After a successful flush: drop the alerts it saw resolved that did not change meanwhile. One that
        was firing then stays, even if it has resolved since: its resolution is the next tick's news. A group
        left empty stays too, ticking, until the cleanup (groups.GroupCleanup)."""
        for fp, version in versions.items():
            alert = group.alerts.get(fp)
            if alert is not None and alert.updated_at == version:
                del group.alerts[fp]

    def reconfigure(self, config: AlertingConfig) -> None:
        """Take a reloaded alerting config: routing tree, receivers, inhibit rules, time intervals, flap
        policy. The alerts the groups hold regroup under the new tree; a group whose route (by id) and
        group key did not change is kept with its schedule and escalation, and the notification log (by
        group key and receiver) is untouched, so an unchanged group notifies nothing new. A group the new
        tree no longer makes is dropped, as Alertmanager drops it on a reload: its receiver is not told
        that its alerts resolve. Alerts, silences, acknowledgements and flaps are not touched."""
        with self._lock:
            previous = {(g.route.id, g.key): g for g in self.groups.values()}
            held = {fp: alert for group in self.groups.values() for fp, alert in group.alerts.items()}
            self.config = config
            self.inhibitor = Inhibitor(config.inhibit_rules)
            self.flaps.policy = config.flapping
            self.groups = {}
            now = self.clock()
            for alert in held.values():
                self._route(alert, now, previous)
            self._due = 0.0
        self._wake.set()

    def route_labels(self, now: float) -> dict[str, dict[str, str]]:
        """By group id, the route labels of each group holding alerts, rendered against all its alerts (the
        API's groups); rendered outside the lock, as a template may take its time."""
        with self._lock:
            held = [(g, [snapshot(a, now) for a in sorted(g.alerts.values(), key=flush_order)])
                    for g in self.groups.values() if g.alerts and g.route.options.labels]
        url = self.config.external_url
        return {g.id: g.route.render_labels(g.labels, alerts, url) for g, alerts in held}

    def firing_from(self, source: str) -> list[Alert]:
        """The firing alerts of one of the hub's own sources ("fleet", "edge"; "" for those journaled
        before sources were), for the source to resume from after a restart."""
        with self._lock:
            return self.store.firing_from(source, self.clock())

    def _escalate(self, group: Group, now: float) -> bool:
        """Activate the tiers whose time has come while the group is unacknowledged; True if any did."""
        tiers = group.route.options.escalation
        due = tiers_due(tiers, group.firing_since, group.tiers, now)
        if due == group.tiers or self.acks.all_acknowledged(group.firing(now), now):
            return False
        for tier in range(group.tiers, due):
            log.info("group %s escalated to tier %d: %s", group.key, tier + 1, ",".join(tiers[tier].receivers))
            if group.route.options.incident is not None:
                self.observer.escalated(group.key, tier + 1, list(tiers[tier].receivers), now)
        group.tiers = due
        return True
