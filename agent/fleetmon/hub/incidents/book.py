"""The incident book: incidents opened from the routes that ask for them or by hand, driven by people through
their lifecycle, kept in SQLite across restarts.

Two kinds of caller, two disciplines. The dispatcher tells the book what its groups do (``observe_group``,
``notified``, ``alert_acknowledged``, ``escalated``) with its own lock held: those calls only append to a
deque and wake the book's thread (``run``; ``process`` drains it now, for tests), so a slow disk never
stalls alert routing. People call the operations (``acknowledge``, ``resolve``, ``merge``...) from the
API: they change the incidents in memory under the book's lock and return at once.

Writes follow the alerting journal's reasoning (SQLite gives the GIL away at every step, so nobody who holds
a lock others wait for should write): changes only mark what changed, and the book's thread commits them
in one transaction per round, outside the lock. A failed commit is logged and tried again on the next
round. ``on_change`` (what the receivers are told) and ``acknowledge_alerts`` (the dispatcher's acks) are
called outside the lock too, so either may call back into the book.

The rules are elsewhere: where an alert goes and when the alerts move an incident, the ledger's
(fleetmon.hub.incidents.ledger); what each person's action does, actions.py's; which moves are allowed, the
lifecycle's (lifecycle.py).
"""

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson

from fleetmon.hub.alerting.observers import AlertRef
from fleetmon.hub.incidents import actions
from fleetmon.hub.incidents.ledger import Change, Ledger
from fleetmon.hub.incidents.model import Postmortem, incident_json, incident_record
from fleetmon.hub.incidents.postmortem import postmortem_markdown
from fleetmon.hub.incidents.stats import incident_stats
from fleetmon.hub.incidents.store import IncidentStore

log = logging.getLogger("fleetmon.hub.incidents")

T = TypeVar("T")

#: Seconds the book's thread waits without news; a commit that failed is tried again this often.
IDLE_WAIT = 5.0


class IncidentBook:
    def __init__(self, path: str, clock: Callable[[], float] = time.time,
                 on_change: Callable[[dict, str], None] | None = None,
                 acknowledge_alerts: Callable[[list[str], str, str], None] | None = None,
                 alert_lookup: Callable[[str], AlertRef | None] | None = None) -> None:
        """``alert_lookup`` finds an alert the dispatcher holds by fingerprint, for incidents opened by hand
        with alerts; without it (or where it finds none) only alerts some incident holds can be named."""
        self.clock = clock
        self.on_change = on_change
        self.acknowledge_alerts = acknowledge_alerts
        self.alert_lookup = alert_lookup
        self._store = IncidentStore(path)
        self._lock = threading.RLock()  # the ledger
        self._commit_lock = threading.Lock()  # the store; taken before the ledger's, never while holding it
        self._inbox: deque[tuple[Callable[..., None], tuple]] = deque()  # atomic appends: the dispatcher's
        self._wake = threading.Event()
        self._stop = False
        self._ledger = Ledger(self._store.load())
        self.write_failures = 0
        self.announce_failures = 0
        self.apply_failures = 0

    # --- the dispatcher's side: queued, applied on the book's thread ------------------------------------

    def observe_group(self, group_key: str, group_id: str, group_labels: dict[str, str], receiver: str,
                      alerts: list[AlertRef], now: float) -> None:
        self._queue(self._ledger.observe_group, group_key, group_id, dict(group_labels), receiver, list(alerts), now)

    def notified(self, group_key: str, receiver: str, integration: str, ok: bool, detail: str, now: float) -> None:
        self._queue(self._ledger.notified, group_key, receiver, integration, ok, detail, now)

    def alert_acknowledged(self, fingerprint: str, by: str, comment: str, now: float) -> None:
        self._queue(self._ledger.alert_acknowledged, fingerprint, by, comment, now)

    def escalated(self, group_key: str, tier: int, receivers: list[str], now: float) -> None:
        self._queue(self._ledger.escalated, group_key, tier, list(receivers), now)

    def _queue(self, apply: Callable[..., None], *args: Any) -> None:
        self._inbox.append((apply, args))
        self._wake.set()

    def run(self) -> None:
        while not self._stop:
            self._wake.wait(IDLE_WAIT)
            self._wake.clear()
            try:
                self.process()
            except Exception:  # a bug in one round must not stop incidents for good
                log.exception("incident book round failed")
        self._commit()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    def process(self) -> None:
        """Apply what the dispatcher queued, tell the receivers, commit everything changed so far."""
        with self._changing(wake=False) as changes:  # this thread commits below: waking itself would spin
            while self._inbox:
                apply, args = self._inbox.popleft()
                try:
                    apply(*args, changes)
                except Exception:  # a bug in one observation must not lose the others, nor what they announce
                    self.apply_failures += 1
                    log.exception("incidents: applying %s%r failed", apply.__name__, args)
        self._commit()

    def shutdown(self) -> None:
        """Commit what is left and close the database (after ``stop`` and the end of ``run``)."""
        self._commit()
        self._store.close()

    @contextmanager
    def _changing(self, wake: bool = True) -> Iterator[list[Change]]:
        """The ledger under the lock; then, outside it, the receivers told and the thread woken to commit. An
        operation that raises has changed nothing (each validates first) and announces nothing."""
        changes: list[Change] = []
        with self._lock:
            yield changes
        for body, change in changes:
            self._announce(body, change)
        if wake:  # an operation's change: the book's thread commits it
            self._wake.set()

    def _announce(self, body: dict, change: str) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(body, change)
        except Exception:  # the receivers' trouble must not undo or fail the change
            self.announce_failures += 1
            log.exception("telling the receivers that %s was %s failed", body["id"], change)

    def _commit(self) -> None:
        with self._commit_lock:
            with self._lock:
                ledger = self._ledger
                records = [(i, ledger.incidents[i].number, orjson.dumps(incident_record(ledger.incidents[i])).decode())
                           for i in ledger.dirty]
                entries = ledger.unsaved
                ledger.dirty, ledger.unsaved = {}, []
            try:
                self._store.save(records, entries)
            except sqlite3.Error:
                self.write_failures += 1
                log.exception("incidents: writing %d incidents and %d timeline entries failed; tried again",
                              len(records), len(entries))
                with self._lock:
                    ledger.dirty.update(dict.fromkeys(r[0] for r in records))
                    ledger.unsaved[:0] = entries

    # --- people's side (fleetmon.hub.incidents.actions): each takes ``by``, returns the incident's JSON ------

    def open(self, title: str, *, by: str, severity: str = "", fingerprints: Sequence[str] = (),
             assignee: str = "") -> dict:
        """An incident opened by hand; ``severity`` defaults to the highest of its alerts' (else warning)."""
        fingerprints = list(dict.fromkeys(fingerprints))
        found = [self.alert_lookup(fp) if self.alert_lookup is not None else None for fp in fingerprints]
        return self._act(actions.open_by_hand, title, by, severity, fingerprints, found, assignee)

    def acknowledge(self, incident_id: str, *, by: str, comment: str = "") -> dict:
        return self._take(incident_id, "acknowledge", by, comment)

    def investigate(self, incident_id: str, *, by: str, comment: str = "") -> dict:
        """Someone works on it; from triggered this acknowledges it too (and its alerts in the dispatcher)."""
        return self._take(incident_id, "investigate", by, comment)

    def _take(self, incident_id: str, action: str, by: str, comment: str) -> dict:
        answer, fingerprints = self._act(actions.take, incident_id, action, by, comment)
        if fingerprints and self.acknowledge_alerts is not None:
            try:
                self.acknowledge_alerts(fingerprints, by, comment)
            except LookupError as exc:  # resolved meanwhile: there is nothing left to stop
                log.info("acknowledging the alerts of %s: %s", incident_id, exc)
        return answer

    def resolve(self, incident_id: str, *, by: str, comment: str = "") -> dict:
        return self._act(actions.move, incident_id, "resolve", by, comment)

    def reopen(self, incident_id: str, *, by: str, comment: str = "") -> dict:
        return self._act(actions.move, incident_id, "reopen", by, comment)

    def close(self, incident_id: str, *, by: str) -> dict:
        """Only a resolved incident whose postmortem says its root cause, impact and resolution."""
        return self._act(actions.move, incident_id, "close", by, "")

    def hold(self, incident_id: str, held: bool, *, by: str) -> dict:
        return self._act(actions.hold, incident_id, held, by)

    def assign(self, incident_id: str, assignee: str, *, by: str) -> dict:
        return self._act(actions.assign, incident_id, assignee, by)

    def add_responder(self, incident_id: str, responder: str, *, by: str) -> dict:
        return self._act(actions.add_responder, incident_id, responder, by)

    def note(self, incident_id: str, text: str, *, by: str) -> dict:
        return self._act(actions.note, incident_id, text, by)

    def set_severity(self, incident_id: str, severity: str, *, by: str) -> dict:
        return self._act(actions.set_severity, incident_id, severity, by)

    def set_postmortem(self, incident_id: str, postmortem: Postmortem, *, by: str) -> dict:
        return self._act(actions.set_postmortem, incident_id, postmortem, by)

    def merge(self, incident_id: str, *, into: str, by: str) -> dict:
        """Returns the incident merged into."""
        return self._act(actions.merge, incident_id, into, by)

    def split(self, incident_id: str, fingerprints: Sequence[str], *, by: str, title: str = "") -> dict:
        """Returns the new incident."""
        return self._act(actions.split, incident_id, fingerprints, title, by)

    def link(self, incident_id: str, *, other: str, by: str) -> dict:
        return self._act(actions.link, incident_id, other, by)

    def _act(self, action: Callable[..., T], *args: Any) -> T:
        now = self.clock()
        with self._changing() as changes:
            return action(self._ledger, now, changes, *args)

    # --- reads -------------------------------------------------------------------------------------------

    def get(self, incident_id: str) -> dict:
        with self._lock:
            return incident_json(self._ledger.get(incident_id))

    def stats(self, start: float, end: float) -> dict:
        with self._lock:
            return incident_stats(self._ledger.incidents.values(), start, end)

    def postmortem_markdown(self, incident_id: str) -> str:
        return postmortem_markdown(self.get(incident_id))

    # last: a method named ``list`` shadows the built-in in the annotations of the methods after it
    def list(self, state: str | None = None, since: float | None = None, limit: int = 500) -> list[dict]:
        """Newest first, without timelines; ``since``: those not closed before it (open now or closed since)."""
        with self._lock:
            chosen = [i for i in self._ledger.incidents.values()
                      if (state is None or i.state == state)
                      and (since is None or i.closed_at is None or i.closed_at >= since)]
            chosen.sort(key=lambda i: (i.opened_at, i.number), reverse=True)
            return [incident_json(i, timeline=False) for i in chosen[:limit]]

