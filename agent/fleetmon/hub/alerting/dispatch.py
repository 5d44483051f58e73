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
4. when every delivery succeeded, record them and drop the resolved alerts that did not change meanwhile;
   a group left empty goes away, so its next alert waits ``group_wait`` again.

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
"""

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fleetmon.hub.alerting.alert import NEVER, Alert, AlertError, from_json, merge
from fleetmon.hub.alerting.config import AlertingConfig
from fleetmon.hub.alerting.inhibit import Inhibitor
from fleetmon.hub.alerting.matchers import format_labels
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.route import Route
from fleetmon.hub.alerting.silences import Silence, Silences
from fleetmon.protocol.alerts import fingerprint

log = logging.getLogger("fleetmon.hub.alerting")

#: Resolved alerts no group holds any more are forgotten after this long (Alertmanager's GC interval).
RESOLVED_RETENTION = 900.0
#: How often that garbage collection runs.
GC_INTERVAL = 30.0


class Deliver(Protocol):
    def deliver(self, integration: Any, notification: Notification, deadline: float,
                done: Callable[[bool], None], durable: Callable[[float], bool] | None = None) -> None: ...


@dataclass(slots=True, frozen=True)
class LogEntry:
    """The last successful notification of one group to one receiver integration."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: float


@dataclass(slots=True, frozen=True)
class Ack:
    fingerprint: str
    starts_at: float  # the alert episode acknowledged: a later episode of the same alert is not
    by: str
    at: float
    comment: str = ""
    expires_at: float | None = None

    def covers(self, alert: Alert, now: float) -> bool:
        return alert.starts_at == self.starts_at and (self.expires_at is None or now < self.expires_at)


@dataclass(eq=False)
class Group:
    route: Route
    labels: dict[str, str]
    key: str  # Alertmanager's group key: route key ":" group labels
    id: str  # short and unique (route id and labels), for operators and the API
    next_flush: float
    alerts: dict[str, Alert] = field(default_factory=dict)
    flushed: bool = False
    in_flight: int = 0  # deliveries of the current flush not yet done
    flush_ok: bool = True
    firing_since: float | None = None  # first flush with a firing alert in this episode (escalation clock)
    tiers: int = 0  # escalation tiers activated in this episode


@dataclass(slots=True)
class Flap:
    changes: deque = field(default_factory=deque)
    flapping: bool = False


class Journal(Protocol):
    """Where the dispatcher's state and history go (fleetmon.hub.alerting.journal, or nothing)."""

    def alert(self, alert: Alert, status: str | None, now: float, source: str = "") -> None: ...
    def forget_alert(self, fp: str) -> None: ...
    def log_entry(self, key: tuple[str, str, str], entry: LogEntry | None) -> None: ...
    def silence(self, silence: Silence, action: str, now: float) -> None: ...
    def ack(self, ack: Ack, action: str, now: float) -> None: ...
    def escalation(self, group: str, firing_since: float | None, tiers: int) -> None: ...
    def barrier(self) -> Callable[[float], bool]: ...


class Dispatcher:
    def __init__(self, config: AlertingConfig, deliverer: Deliver, journal: Journal | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.deliverer = deliverer
        self.journal = journal
        self.clock = clock
        self.lock = threading.RLock()
        self._wake = threading.Event()  # set by put, by a finished delivery and by operator changes
        self._stop = False
        self._inbox: deque[tuple[Alert, str]] = deque()  # (alert, source); atomic appends: put takes no lock
        self._due = 0.0  # the earliest flush or escalation of any group; no scan before then
        self._collected_at = 0.0
        self.alerts: dict[str, Alert] = {}
        self.sources: dict[str, str] = {}  # by fingerprint: "fleet" or "edge" for the hub's own, "" for the API
        self.groups: dict[tuple[str, str], Group] = {}
        self.nflog: dict[tuple[str, str, str], LogEntry] = {}
        self.silences = Silences()
        self.acks: dict[str, Ack] = {}
        self.flaps: dict[str, Flap] = {}
        self.escalations: dict[str, tuple[float | None, int]] = {}  # restored by group key
        self.inhibitor = Inhibitor(config.inhibit_rules)
        self.notifications_sent = 0
        self.notifications_failed = 0

    # --- input -----------------------------------------------------------------------------------

    def put(self, items: Iterable[dict[str, Any]], resolve_timeout: float | None = None,
            source: str = "") -> list[str]:
        """Queue alerts (Alertmanager-shaped JSON); returns one error per rejected item.

        ``resolve_timeout``: for API clients, Alertmanager's resolve_timeout; None for the hub's own
        sources, whose firing alerts never time out. ``source`` ("fleet", "edge") names the hub's own
        source, journaled so a restarted hub hands each firing alert back to the source that resolves it.
        """
        now = self.clock()
        accepted, errors = [], []
        for index, item in enumerate(items):
            try:
                accepted.append(from_json(item, now, resolve_timeout))
            except AlertError as exc:
                errors.append(f"alerts[{index}]: {exc}")
        if accepted:
            self._inbox.extend((alert, source) for alert in accepted)
            self._wake.set()
        return errors

    def restore(self, alerts: Iterable[Alert], nflog: dict, silences: Iterable[Silence], acks: Iterable[Ack],
                escalations: dict[str, tuple[float | None, int]], sources: dict[str, str] | None = None) -> None:
        """State a previous run kept (journal): the alerts regroup, and the log prevents duplicates."""
        with self.lock:
            self.sources.update(sources or {})
            self.nflog.update(nflog)
            self.silences.by_id.update({s.id: s for s in silences})
            self.acks.update({a.fingerprint: a for a in acks})
            self.escalations.update(escalations)
            now = self.clock()
            for alert in alerts:
                self.alerts[alert.fingerprint] = alert
                self._route(alert, now)

    # --- the loop --------------------------------------------------------------------------------

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
        """Ingest queued alerts, flush what is due; returns when the next flush or escalation is due."""
        with self.lock:
            while self._inbox:
                self._ingest(*self._inbox.popleft(), now)
            if now - self._collected_at >= GC_INTERVAL:
                self._collected_at = now
                self._forget_resolved(now)
            if now < self._due:
                return self._due
            due = now + 60.0
            for group in list(self.groups.values()):
                if group.in_flight:
                    continue
                if group.next_flush <= now:
                    group.next_flush = now + group.route.options.group_interval
                    self._flush(group, now, tiers_only=False)
                elif self._escalate(group, now):
                    self._flush(group, now, tiers_only=True)
                due = min(due, group.next_flush, self._next_escalation(group, now))
            self._due = due
            return due

    # --- ingest ----------------------------------------------------------------------------------

    def _ingest(self, alert: Alert, source: str, now: float) -> None:
        old = self.alerts.get(alert.fingerprint)
        stored = merge(old, alert, now)
        status = "resolved" if stored.resolved(now) else "firing"
        changed = old is None or old.resolved(now) != stored.resolved(now)
        if old is not None and changed:
            self._flap(stored.fingerprint, now)
        self.alerts[stored.fingerprint] = stored
        self.sources[stored.fingerprint] = source
        if self.journal:
            self.journal.alert(stored, status if changed else None, now, source)
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
                group = Group(route, labels, group_key, _group_id(route.id, group_key),
                              next_flush=min(stored.updated_at, now) + route.options.group_wait)
                group.firing_since, group.tiers = self.escalations.pop(group_key, (None, 0))
                self.groups[key] = group
            group.alerts[stored.fingerprint] = stored
            if not group.flushed and stored.starts_at + route.options.group_wait < now:
                group.next_flush = min(group.next_flush, now)
            self._due = min(self._due, group.next_flush)

    def _forget_resolved(self, now: float) -> None:
        held = {fp for group in self.groups.values() for fp in group.alerts}
        for fp, alert in list(self.alerts.items()):
            if fp not in held and alert.resolved(now - RESOLVED_RETENTION):
                del self.alerts[fp]
                self.sources.pop(fp, None)
                self.flaps.pop(fp, None)
                self.acks.pop(fp, None)
                if self.journal:
                    self.journal.forget_alert(fp)

    def _flap(self, fp: str, now: float) -> None:
        policy = self.config.flapping
        if not policy.enabled:
            return
        flap = self.flaps.setdefault(fp, Flap())
        flap.changes.append(now)
        while flap.changes and flap.changes[0] < now - policy.window:
            flap.changes.popleft()
        if len(flap.changes) > policy.changes and not flap.flapping:
            flap.flapping = True
            log.info("alert %s is flapping (%d changes in %gs): notifications held until it settles", fp,
                     len(flap.changes), policy.window)

    def flapping(self, fp: str, now: float) -> bool:
        flap = self.flaps.get(fp)
        if flap is None or not flap.flapping:
            return False
        if flap.changes and now - flap.changes[-1] >= self.config.flapping.settle:
            flap.flapping = False
            log.info("alert %s settled", fp)
            return False
        return True

    # --- flush -----------------------------------------------------------------------------------

    def mute_reason(self, alert: Alert, now: float, inhibition: Any = None) -> str:
        """Why this alert is not notified now ("" when it is): inhibited, silenced or flapping."""
        inhibition = inhibition or self.inhibitor.prepare(self._active_labels(now))
        rule = inhibition.inhibited_by(alert.labels)
        if rule:
            return f"inhibited by {rule}"
        silences = self.silences.muting(alert.labels, now)
        if silences:
            return "silenced by " + ",".join(silences)
        if self.flapping(alert.fingerprint, now):
            return "flapping"
        return ""

    def _active_labels(self, now: float) -> list:
        return [a.labels for a in self.alerts.values() if not a.resolved(now)]

    def _route_muted(self, route: Route, now: float) -> bool:
        intervals = self.config.time_intervals
        if any(intervals.active(name, now) for name in route.mute_time_intervals):
            return True
        return bool(route.active_time_intervals) and \
            not any(intervals.active(name, now) for name in route.active_time_intervals)

    def _flush(self, group: Group, now: float, tiers_only: bool) -> None:
        versions = {fp: a.updated_at for fp, a in group.alerts.items()}
        if not group.alerts:
            return
        group.flushed = True
        batch: list[Alert] = []
        if not self._route_muted(group.route, now):
            inhibition = self.inhibitor.prepare(self._active_labels(now))
            batch = [a for a in group.alerts.values() if not self.mute_reason(a, now, inhibition)]
        batch.sort(key=_flush_order)
        firing = frozenset(a.fingerprint for a in batch if not a.resolved(now))
        resolved = frozenset(a.fingerprint for a in batch if a.resolved(now))
        if firing and group.firing_since is None:
            group.firing_since = now
        deliveries = []
        if batch:
            acked = bool(firing) and all(self._acked(group.alerts[fp], now) for fp in firing)
            snapshot = [_snapshot(a, now) for a in batch]
            escalated = [(i + 1, name) for i, tier in enumerate(group.route.options.escalation[:group.tiers])
                         for name in tier.receivers]
            targets = escalated if tiers_only else [(0, group.route.receiver), *escalated]
            for tier, receiver_name in targets:
                deliveries += self._decide(group, tier, receiver_name, snapshot, firing, resolved, acked, now)
        if not firing and group.firing_since is not None:
            group.firing_since, group.tiers = None, 0
        if self.journal:
            self.journal.escalation(group.key, group.firing_since, group.tiers)
        if not deliveries:
            self._finish(group, versions, now)
            return
        group.in_flight, group.flush_ok = len(deliveries), True
        deadline = now + max(group.route.options.group_interval, 10.0)
        durable = None
        if self.journal:
            for _, _, log_key in deliveries:
                self.journal.log_entry(log_key, intent(self.nflog.get(log_key), firing, resolved, now))
            durable = self.journal.barrier()
        for integration, notification, log_key in deliveries:
            self.deliverer.deliver(integration, notification, deadline,
                                   self._done_callback(group, log_key, firing, resolved, versions, now), durable)

    def _decide(self, group: Group, tier: int, receiver_name: str, snapshot: list[AlertSnapshot],
                firing: frozenset[str], resolved: frozenset[str], acked: bool, now: float) -> list:
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
                after = group.route.options.escalation[tier - 1].after
                reason = f"escalated: not acknowledged within {after:g}s"
            notification = Notification(receiver=receiver_name, group_key=group.key, group_labels=dict(group.labels),
                                        alerts=list(snapshot), reason=reason, external_url=self.config.external_url,
                                        tier=tier)
            out.append((integration, notification, log_key))
        return out

    def _done_callback(self, group: Group, log_key: tuple[str, str, str], firing: frozenset[str],
                       resolved: frozenset[str], versions: dict[str, float], at: float) -> Callable[[bool], None]:
        def done(ok: bool) -> None:
            with self.lock:
                if ok:
                    entry = LogEntry(firing, resolved, at)
                    self.nflog[log_key] = entry
                    self.notifications_sent += 1
                    if self.journal:
                        self.journal.log_entry(log_key, entry)
                else:
                    group.flush_ok = False
                    self.notifications_failed += 1
                    if self.journal:  # take the intent back: the log says what was confirmed
                        self.journal.log_entry(log_key, self.nflog.get(log_key))
                group.in_flight -= 1
                if group.in_flight == 0 and group.flush_ok:
                    self._finish(group, versions, self.clock())
                self._due = 0.0  # a finished flush may make its group due again
            self._wake.set()
        return done

    def _finish(self, group: Group, versions: dict[str, float], now: float) -> None:
        """After a successful flush: drop resolved alerts that did not change meanwhile; an empty group goes."""
        for fp, version in versions.items():
            alert = group.alerts.get(fp)
            if alert is not None and alert.updated_at == version and alert.resolved(now):
                del group.alerts[fp]
        key = (group.route.id, fingerprint(group.labels))
        if not group.alerts and self.groups.get(key) is group:  # a reload may have retired the group
            del self.groups[key]

    # --- reload ---------------------------------------------------------------------------------

    def reconfigure(self, config: AlertingConfig) -> None:
        """Take a reloaded alerting config: routing tree, receivers, inhibit rules, time intervals, flap
        policy. The alerts the groups hold regroup under the new tree; a group whose route (by id) and
        group key did not change is kept with its schedule and escalation, and the notification log (by
        group key and receiver) is untouched, so an unchanged group notifies nothing new. A group the new
        tree no longer makes is dropped, as Alertmanager drops it on a reload: its receiver is not told
        that its alerts resolve. Alerts, silences, acknowledgements and flaps are not touched."""
        with self.lock:
            previous = {(g.route.id, g.key): g for g in self.groups.values()}
            held = {fp: alert for group in self.groups.values() for fp, alert in group.alerts.items()}
            self.config = config
            self.inhibitor = Inhibitor(config.inhibit_rules)
            self.groups = {}
            now = self.clock()
            for alert in held.values():
                self._route(alert, now, previous)
            self._due = 0.0
        self._wake.set()

    def firing_from(self, source: str) -> list[Alert]:
        """The firing alerts of one of the hub's own sources ("fleet", "edge"; "" for those journaled
        before sources were), for the source to resume from after a restart. The hub's own alerts never
        time out: an alert with an end is an API client's."""
        with self.lock:
            now = self.clock()
            return [a for fp, a in self.alerts.items()
                    if self.sources.get(fp, "") == source and a.ends_at == NEVER and not a.resolved(now)]

    # --- acknowledgement and escalation ----------------------------------------------------------

    def _acked(self, alert: Alert, now: float) -> bool:
        ack = self.acks.get(alert.fingerprint)
        return ack is not None and ack.covers(alert, now)

    def _group_acked(self, group: Group, now: float) -> bool:
        firing = [a for a in group.alerts.values() if not a.resolved(now)]
        return bool(firing) and all(self._acked(a, now) for a in firing)

    def _next_escalation(self, group: Group, now: float) -> float:
        tiers = group.route.options.escalation
        if group.firing_since is None or group.tiers >= len(tiers):
            return float("inf")
        return max(now, group.firing_since + tiers[group.tiers].after)

    def _escalate(self, group: Group, now: float) -> bool:
        """Activate the tiers whose time has come while the group is unacknowledged; True if any did."""
        tiers = group.route.options.escalation
        activated = False
        while group.firing_since is not None and group.tiers < len(tiers) \
                and now >= group.firing_since + tiers[group.tiers].after and not self._group_acked(group, now):
            group.tiers += 1
            activated = True
            log.info("group %s escalated to tier %d: %s", group.key, group.tiers,
                     ",".join(tiers[group.tiers - 1].receivers))
        return activated

    def acknowledge(self, target: str, by: str, comment: str, expires_at: float | None) -> list[Ack]:
        """Acknowledge one firing alert (by fingerprint) or every firing alert of one group (by group id)."""
        now = self.clock()
        with self.lock:
            alerts = self._target_alerts(target, now)
            acks = [Ack(a.fingerprint, a.starts_at, by, now, comment, expires_at) for a in alerts]
            for ack in acks:
                self.acks[ack.fingerprint] = ack
                if self.journal:
                    self.journal.ack(ack, "ack", now)
            self._due = 0.0  # decisions may change: look at every group in the next round
            self._wake.set()
            return acks

    def _target_alerts(self, target: str, now: float) -> list[Alert]:
        alert = self.alerts.get(target)
        if alert is not None:
            if alert.resolved(now):
                raise LookupError(f"alert {target} is resolved")
            return [alert]
        for group in self.groups.values():
            if group.id == target:
                firing = [a for a in group.alerts.values() if not a.resolved(now)]
                if not firing:
                    raise LookupError(f"group {target} has no firing alert")
                return firing
        raise LookupError(f"no firing alert or group with id {target}")

    # --- silences --------------------------------------------------------------------------------

    def set_silence(self, silence: Silence) -> Silence:
        now = self.clock()
        with self.lock:
            stored, expired = self.silences.set(silence, now)
            if self.journal:
                self.journal.silence(stored, "update" if stored.id == silence.id else "create", now)
                if expired is not None:
                    self.journal.silence(expired, "expire", now)
            self._due = 0.0  # decisions may change: look at every group in the next round
            self._wake.set()
            return stored

    def expire_silence(self, silence_id: str) -> Silence:
        now = self.clock()
        with self.lock:
            expired = self.silences.expire(silence_id, now)
            if self.journal:
                self.journal.silence(expired, "expire", now)
            self._due = 0.0  # decisions may change: look at every group in the next round
            self._wake.set()
            return expired

    # --- views for the API -----------------------------------------------------------------------

    def alert_views(self, now: float) -> list[dict[str, Any]]:
        with self.lock:
            inhibition = self.inhibitor.prepare(self._active_labels(now))
            groups_of: dict[str, list[str]] = {}
            receivers_of: dict[str, set[str]] = {}
            for group in self.groups.values():
                for fp in group.alerts:
                    groups_of.setdefault(fp, []).append(group.id)
                    receivers_of.setdefault(fp, set()).add(group.route.receiver)
            views = []
            for alert in self.alerts.values():
                view = alert.to_json(now)
                ack = self.acks.get(alert.fingerprint)
                view["muted"] = self.mute_reason(alert, now, inhibition)
                view["receivers"] = sorted(receivers_of.get(alert.fingerprint, ()))
                view["groups"] = groups_of.get(alert.fingerprint, [])
                view["acknowledged"] = _ack_json(ack) if ack and ack.covers(alert, now) else None
                views.append(view)
            return views

    def group_views(self, now: float) -> list[dict[str, Any]]:
        with self.lock:
            return [{"id": g.id, "groupKey": g.key, "route": g.route.id, "receiver": g.route.receiver,
                     "labels": dict(g.labels), "alerts": sorted(g.alerts),
                     "firing": sum(not a.resolved(now) for a in g.alerts.values()),
                     "acknowledged": self._group_acked(g, now), "escalationTier": g.tiers,
                     "firingSince": g.firing_since, "nextFlush": g.next_flush}
                    for g in self.groups.values()]


def needs_update(entry: LogEntry | None, firing: frozenset[str], resolved: frozenset[str], send_resolved: bool,
                 repeat_interval: float, now: float, acknowledged: bool = False) -> str | None:
    """Alertmanager's dedup decision (notify/dedup_stage.go), plus: no repeats while acknowledged."""
    if entry is None:
        return "first notification" if firing else None
    if not firing <= entry.firing:
        return "first notification" if not entry.firing else "new alerts added"
    if not firing:
        return "all alerts resolved" if entry.firing else None
    if send_resolved and not resolved <= entry.resolved:
        return "some alerts resolved"
    if entry.at < now - repeat_interval and not acknowledged:
        return "repeat interval elapsed"
    return None


def intent(entry: LogEntry | None, firing: frozenset[str], resolved: frozenset[str], now: float) -> LogEntry:
    """The log entry journaled before a notification goes out, in place of ``entry`` (the last one
    confirmed). Its firing alerts count as told: a crash after the send must not repeat them. Its
    resolutions do not: the alerts they resolve stay in ``firing`` and out of ``resolved``, so a crash
    before the confirmation sends them again."""
    if entry is None:
        return LogEntry(firing, frozenset(), now)
    return LogEntry(firing | (entry.firing & resolved), entry.resolved & resolved, now)


def _flush_order(alert: Alert) -> tuple:
    """Alertmanager's AlertSlice order: by job, then instance (present before absent), then the label set."""
    labels = alert.labels
    job, instance = labels.get("job"), labels.get("instance")
    names = sorted(labels)
    return (job is None, job or "", instance is None, instance or "", len(labels),
            [(n, labels[n]) for n in names])


def _snapshot(alert: Alert, now: float) -> AlertSnapshot:
    resolved = alert.resolved(now)
    return AlertSnapshot(labels=dict(alert.labels), annotations=dict(alert.annotations), starts_at=alert.starts_at,
                         ends_at=alert.ends_at if resolved else None, generator_url=alert.generator_url,
                         fingerprint=alert.fingerprint)


def _group_id(route_id: str, group_key: str) -> str:
    return hashlib.sha256(f"{route_id}\x00{group_key}".encode()).hexdigest()[:16]


def _ack_json(ack: Ack) -> dict[str, Any]:
    return {"by": ack.by, "at": ack.at, "comment": ack.comment, "expiresAt": ack.expires_at}
