"""The dispatcher's side that people and the API use: acknowledgements, silences and read-only views.

A base of fleetmon.hub.alerting.dispatch.Dispatcher, kept apart so the dispatcher's own module holds the
routing, grouping and flushing; each change here takes the dispatcher's lock, journals what it did, tells the
observer, and asks the next round to look at every group again.
"""

import threading
from collections.abc import Callable
from typing import Any

from fleetmon.hub.alerting import views
from fleetmon.hub.alerting.acks import Ack, Acks
from fleetmon.hub.alerting.alert import Alert
from fleetmon.hub.alerting.alert_store import AlertStore
from fleetmon.hub.alerting.groups import Group, snapshot
from fleetmon.hub.alerting.journal import Journal
from fleetmon.hub.alerting.muting import Mutes
from fleetmon.hub.alerting.notification import AlertSnapshot
from fleetmon.hub.alerting.observers import GroupObserver
from fleetmon.hub.alerting.silences import Silence, Silences


class DispatcherOperations:
    """Needs the dispatcher's state: its lock, alert store, groups, acks, silences, journal and observer."""

    _lock: threading.RLock
    _wake: threading.Event
    _due: float
    store: AlertStore
    groups: dict[tuple[str, str], Group]
    acks: Acks
    silences: Silences
    journal: Journal
    observer: GroupObserver

    clock: Callable[[], float]
    _mutes: Callable[[float], Mutes]

    def acknowledge(self, target: str, by: str, comment: str, expires_at: float | None) -> list[Ack]:
        """Acknowledge one firing alert (by fingerprint) or every firing alert of one group (by group id)."""
        now = self.clock()
        with self._lock:
            acks = [Ack(a.fingerprint, a.starts_at, by, now, comment, expires_at)
                    for a in self._target_alerts(target, now)]
            for ack in acks:
                self.acks.add(ack)
                self.journal.ack(ack, "ack", now)
                self.observer.alert_acknowledged(ack.fingerprint, by, comment, now)
            self.reconsider()
            return acks

    def _target_alerts(self, target: str, now: float) -> list[Alert]:
        alert = self.store.get(target)
        if alert is not None:
            if alert.resolved(now):
                raise LookupError(f"alert {target} is resolved")
            return [alert]
        for group in self.groups.values():
            if group.id == target:
                firing = group.firing(now)
                if not firing:
                    raise LookupError(f"group {target} has no firing alert")
                return firing
        raise LookupError(f"no firing alert or group with id {target}")

    def set_silence(self, silence: Silence) -> Silence:
        now = self.clock()
        with self._lock:
            stored, expired = self.silences.set(silence, now)
            self.journal.silence(stored, "update" if stored.id == silence.id else "create", now)
            if expired is not None:
                self.journal.silence(expired, "expire", now)
            self.reconsider()
            return stored

    def expire_silence(self, silence_id: str) -> Silence:
        now = self.clock()
        with self._lock:
            expired = self.silences.expire(silence_id, now)
            self.journal.silence(expired, "expire", now)
            self.reconsider()
            return expired

    def reconsider(self) -> None:
        """An operator's change may change decisions: look at every group in the next round."""
        self._due = 0.0
        self._wake.set()

    def alert(self, fp: str) -> Alert | None:
        with self._lock:
            return self.store.get(fp)

    def snapshots(self, fingerprints: list[str]) -> list[AlertSnapshot]:
        """The alerts (as a notification shows them) that the store still holds, in the order asked."""
        with self._lock:
            now = self.clock()
            return [snapshot(alert, now) for alert in map(self.store.get, fingerprints) if alert is not None]

    def alert_views(self, now: float) -> list[dict[str, Any]]:
        with self._lock:
            return views.alert_views(self.store, self.groups.values(), self.acks, self._mutes(now), now)

    def group_views(self, now: float) -> list[dict[str, Any]]:
        with self._lock:
            return views.group_views(self.groups.values(), self.acks, now)

    def ack_views(self) -> list[dict[str, Any]]:
        with self._lock:
            return views.ack_views(self.acks)

    def silence_views(self, now: float) -> list[dict[str, Any]]:
        with self._lock:
            return views.silence_views(self.silences, now)
