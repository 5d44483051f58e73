"""What alerting keeps in SQLite: state that must survive a restart, and history with statistics.

State — the alert store, the notification log, silences, acknowledgements, escalation clocks — is what
lets a restarted hub neither repeat a notification nor forget a firing alert or an operator's silence.
History — every alert transition, delivery attempt, acknowledgement and silence change — answers "what
happened and who did what" and feeds the statistics (counts, mean time to acknowledge and to resolve).
Its own database file beside the metrics history: little data, written from several threads, never
contending with the history writer process. Writes are queued and committed in batches by the journal's
own thread: SQLite gives the GIL away at every step, so a caller that wrote directly would stall behind
the hub's busy ingest thread — and the dispatcher holds its lock while it records.

Batching must not cost crash safety (docs/alerting.md, "Crash safety"): ``barrier()`` hands out a wait
for every write queued so far, and the deliverer calls it before it sends a notification, so the alert
states and the notification-log entry a notification depends on are on disk first. A waiting barrier
makes the writer commit at once instead of gathering a batch. Commits are ``synchronous=FULL``: what a
notification depends on survives a power cut too, not only a killed process.
"""

import json
import logging
import math
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from fleetmon.hub.alerting.acks import Ack
from fleetmon.hub.alerting.alert import NEVER, Alert
from fleetmon.hub.alerting.delivery import Attempt
from fleetmon.hub.alerting.matchers import Matcher
from fleetmon.hub.alerting.nflog import LogEntry, LogKey
from fleetmon.hub.alerting.silences import Silence

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nflog (group_key TEXT, receiver TEXT, integration TEXT, firing TEXT, resolved TEXT,
                                  at REAL, data TEXT, PRIMARY KEY (group_key, receiver, integration));
CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, ends_at REAL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS escalations (group_key TEXT PRIMARY KEY, firing_since REAL, tiers INTEGER);
CREATE TABLE IF NOT EXISTS transitions (at REAL, fingerprint TEXT, status TEXT, alertname TEXT, severity TEXT,
                                        host TEXT, starts_at REAL, ends_at REAL, labels TEXT);
CREATE INDEX IF NOT EXISTS transitions_at ON transitions (at);
CREATE TABLE IF NOT EXISTS attempts (at REAL, receiver TEXT, integration TEXT, group_key TEXT, attempt INTEGER,
                                     ok INTEGER, final INTEGER, status INTEGER, duration REAL, error TEXT);
CREATE INDEX IF NOT EXISTS attempts_at ON attempts (at);
CREATE TABLE IF NOT EXISTS actions (at REAL, kind TEXT, action TEXT, subject TEXT, by TEXT, body TEXT);
CREATE INDEX IF NOT EXISTS actions_at ON actions (at);
"""
HISTORY_TABLES = ("transitions", "attempts", "actions")
#: Seconds the writer thread waits for more writes before committing what it has.
COMMIT_INTERVAL = 0.2

log = logging.getLogger("fleetmon.hub.alerting")


class Journal(Protocol):
    """What the dispatcher records as it goes: AlertJournal, or NullJournal for a dispatcher that keeps nothing."""

    def alert(self, alert: Alert, status: str | None, now: float, source: str = "") -> None: ...
    def forget_alert(self, fp: str) -> None: ...
    def log_entry(self, key: LogKey, entry: LogEntry | None) -> None: ...
    def silence(self, silence: Silence, action: str, now: float) -> None: ...
    def ack(self, ack: Ack, action: str, now: float) -> None: ...
    def escalation(self, group: str, firing_since: float | None, tiers: int) -> None: ...
    def barrier(self) -> Callable[[float], bool]: ...


class NullJournal:
    """Keeps nothing, so nothing is ever waited for: a dispatcher without a journal (tests, tools)."""

    def alert(self, alert: Alert, status: str | None, now: float, source: str = "") -> None:
        pass

    def forget_alert(self, fp: str) -> None:
        pass

    def log_entry(self, key: LogKey, entry: LogEntry | None) -> None:
        pass

    def silence(self, silence: Silence, action: str, now: float) -> None:
        pass

    def ack(self, ack: Ack, action: str, now: float) -> None:
        pass

    def escalation(self, group: str, firing_since: float | None, tiers: int) -> None:
        pass

    def barrier(self) -> Callable[[float], bool]:
        return _committed


def _committed(timeout: float) -> bool:
    return True


class AlertJournal:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()  # the connection
        # The queue and its positions: never held while SQLite works, so writers only wait for each other.
        self._queue = threading.Condition(threading.Lock())
        self._pending: deque[tuple[str, tuple]] = deque()  # writes not yet committed
        self._queued = 0  # writes queued since the start: a barrier waits for this position
        self._settled = 0  # writes committed (or lost to a failed batch, which is logged) since the start
        self._hurry = False  # a barrier waits: commit now, do not gather a batch
        self._more = threading.Event()
        self._closed = False
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            columns = [row[1] for row in self._db.execute("PRAGMA table_info(nflog)")]
            if "data" not in columns:  # a journal written before entries kept receiver data
                self._db.execute("ALTER TABLE nflog ADD COLUMN data TEXT")
        self._writer = threading.Thread(target=self._write_loop, name="alert-journal", daemon=True)
        self._writer.start()

    def close(self) -> None:
        self._closed = True
        self._more.set()
        self._writer.join(timeout=10)
        with self._lock:
            self._commit_pending()
            self._db.close()

    def _write(self, sql: str, params: Iterable[Any]) -> None:
        with self._queue:
            self._pending.append((sql, tuple(params)))
            self._queued += 1
        self._more.set()

    def barrier(self) -> Callable[[float], bool]:
        """A wait for every write queued until now: ``wait(timeout)`` is True once they are committed."""
        with self._queue:
            position = self._queued

        def wait(timeout: float) -> bool:
            with self._queue:
                if self._settled >= position:
                    return True
                self._hurry = True
            self._more.set()
            with self._queue:
                return self._queue.wait_for(lambda: self._settled >= position, timeout)
        return wait

    def _write_loop(self) -> None:
        while not self._closed:
            self._more.wait()
            self._more.clear()
            if not self._hurry:
                self._more.wait(COMMIT_INTERVAL)  # let a burst gather into one transaction
            with self._lock:
                try:
                    self._commit_pending()
                except sqlite3.Error:
                    log.exception("alerting journal: a batch of writes failed")

    def _commit_pending(self) -> None:
        """Run the queued writes in one transaction (the caller holds the connection lock).

        A failed batch is lost (and logged); its barriers are released all the same, so a notification
        still goes out when the disk refuses its state: a page matters more than its crash guarantee.
        """
        with self._queue:
            batch, position = list(self._pending), self._queued
            self._pending.clear()
            self._hurry = False
        if not batch:
            return
        try:
            self._db.execute("BEGIN")
            try:
                for statement in batch:
                    self._db.execute(*statement)
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
        finally:
            with self._queue:
                self._settled = position
                self._queue.notify_all()

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            self._commit_pending()  # a reader sees everything written before it asked
            return self._db.execute(sql, tuple(params)).fetchall()

    # --- state (the dispatcher's Journal protocol) ------------------------------------------------

    def alert(self, alert: Alert, status: str | None, now: float, source: str = "") -> None:
        """The stored copy of an alert (``source``: "fleet" or "edge" for the hub's own, "" for the API's),
        and its transition into the history when ``status`` says it changed."""
        self._write("INSERT OR REPLACE INTO alerts VALUES (?, ?)",
                    (alert.fingerprint, json.dumps({**_alert(alert), "source": source})))
        if status is not None:
            labels = alert.labels
            self._write("INSERT INTO transitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (now, alert.fingerprint, status, labels.get("alertname", ""), labels.get("severity", ""),
                         labels.get("host", ""), alert.starts_at, None if alert.ends_at == NEVER else alert.ends_at,
                         json.dumps(dict(labels), sort_keys=True)))

    def forget_alert(self, fp: str) -> None:
        """The alert resolved long enough ago: it and its acknowledgement go (the history keeps both)."""
        self._write("DELETE FROM alerts WHERE fingerprint = ?", (fp,))
        self._write("DELETE FROM acks WHERE fingerprint = ?", (fp,))

    def log_entry(self, key: LogKey, entry: LogEntry | None) -> None:
        """The notification log of one group and receiver integration; None deletes it."""
        if entry is None:
            self._write("DELETE FROM nflog WHERE group_key = ? AND receiver = ? AND integration = ?", key)
            return
        self._write("INSERT OR REPLACE INTO nflog VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*key, json.dumps(sorted(entry.firing)), json.dumps(sorted(entry.resolved)), entry.at,
                     json.dumps(dict(entry.data)) if entry.data else None))

    def silence(self, silence: Silence, action: str, now: float) -> None:
        body = json.dumps(_silence(silence))
        self._write("INSERT OR REPLACE INTO silences VALUES (?, ?, ?)", (silence.id, silence.ends_at, body))
        self._write("INSERT INTO actions VALUES (?, 'silence', ?, ?, ?, ?)",
                    (now, action, silence.id, silence.created_by, body))

    def ack(self, ack: Ack, action: str, now: float) -> None:
        body = json.dumps(_ack(ack))
        self._write("INSERT OR REPLACE INTO acks VALUES (?, ?)", (ack.fingerprint, body))
        self._write("INSERT INTO actions VALUES (?, 'ack', ?, ?, ?, ?)", (now, action, ack.fingerprint, ack.by, body))

    def escalation(self, group: str, firing_since: float | None, tiers: int) -> None:
        if firing_since is None:
            self._write("DELETE FROM escalations WHERE group_key = ?", (group,))
        else:
            self._write("INSERT OR REPLACE INTO escalations VALUES (?, ?, ?)", (group, firing_since, tiers))

    def attempt(self, attempt: Attempt) -> None:
        """The deliverer's on_attempt: every try, successful or not."""
        self._write("INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (attempt.started, attempt.receiver, attempt.integration, attempt.group_key, attempt.attempt,
                     int(attempt.ok), int(attempt.final), attempt.status, attempt.duration, attempt.error))

    # --- restore -----------------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        """Everything ``Dispatcher.restore`` takes."""
        bodies = [json.loads(body) for (body,) in self._read("SELECT body FROM alerts")]
        alerts = [_alert_from(body) for body in bodies]
        sources = {body["fingerprint"]: body.get("source", "") for body in bodies}
        nflog = {(g, r, i): LogEntry(frozenset(json.loads(f)), frozenset(json.loads(s)), at, json.loads(d or "{}"))
                 for g, r, i, f, s, at, d in self._read("SELECT group_key, receiver, integration, firing, resolved, "
                                                        "at, data FROM nflog")}
        silences = [_silence_from(json.loads(body)) for (body,) in self._read("SELECT body FROM silences")]
        acks = [Ack(**json.loads(body)) for (body,) in self._read("SELECT body FROM acks")]
        escalations = {g: (since, tiers) for g, since, tiers in self._read("SELECT * FROM escalations")}
        return {"alerts": alerts, "nflog": nflog, "silences": silences, "acks": acks, "escalations": escalations,
                "sources": sources}

    def prune(self, before: float) -> None:
        """History older than the retention goes, and so do log entries and silences nobody needs any more."""
        with self._lock:
            self._commit_pending()
            for table in HISTORY_TABLES:
                self._db.execute(f"DELETE FROM {table} WHERE at < ?", (before,))
            self._db.execute("DELETE FROM nflog WHERE at < ?", (before,))
            self._db.execute("DELETE FROM silences WHERE ends_at < ?", (before,))

    # --- history and statistics -------------------------------------------------------------------

    def history(self, since: float, fingerprint: str = "", limit: int = 500) -> dict[str, list[dict[str, Any]]]:
        where, params = "at >= ?", [since]
        if fingerprint:
            where, params = where + " AND fingerprint = ?", [*params, fingerprint]
        transitions = [{"at": at, "fingerprint": fp, "status": status, "startsAt": starts, "endsAt": ends,
                        "labels": json.loads(labels)}
                       for at, fp, status, starts, ends, labels in self._read(
                           f"SELECT at, fingerprint, status, starts_at, ends_at, labels FROM transitions "
                           f"WHERE {where} ORDER BY at DESC LIMIT ?", (*params, limit))]
        actions = [{"at": at, "kind": kind, "action": action, "subject": subject, "by": by, "details": json.loads(body)}
                   for at, kind, action, subject, by, body in self._read(
                       "SELECT * FROM actions WHERE at >= ? ORDER BY at DESC LIMIT ?", (since, limit))]
        return {"transitions": transitions, "actions": actions}

    def attempts(self, since: float, limit: int = 500) -> list[dict[str, Any]]:
        columns = ("at", "receiver", "integration", "groupKey", "attempt", "ok", "final", "status", "duration", "error")
        rows = self._read("SELECT * FROM attempts WHERE at >= ? ORDER BY at DESC LIMIT ?", (since, limit))
        return [{**dict(zip(columns, row, strict=True)), "ok": bool(row[5]), "final": bool(row[6])} for row in rows]

    def stats(self, since: float) -> dict[str, Any]:
        def counts(column: str) -> dict[str, int]:
            return dict(self._read(f"SELECT {column}, COUNT(*) FROM transitions WHERE at >= ? AND status = 'firing' "
                                   f"GROUP BY {column} ORDER BY COUNT(*) DESC", (since,)))

        resolved = self._read("SELECT AVG(ends_at - starts_at), COUNT(*) FROM transitions "
                              "WHERE at >= ? AND status = 'resolved' AND ends_at IS NOT NULL", (since,))[0]
        # Time to acknowledge: from the alert's start to its first ack in that episode.
        acked = self._read("SELECT AVG(first - starts), COUNT(*) FROM (SELECT MIN(at) AS first, "
                           "json_extract(body, '$.starts_at') AS starts FROM actions WHERE kind = 'ack' AND at >= ? "
                           "GROUP BY subject, starts)", (since,))[0]
        return {"since": since, "firing": {"byAlertname": counts("alertname"), "bySeverity": counts("severity"),
                                           "byHost": counts("host")},
                "resolved": resolved[1], "meanTimeToResolve": _number(resolved[0]),
                "acknowledged": acked[1], "meanTimeToAcknowledge": _number(acked[0]),
                "notifications": dict(self._read("SELECT CASE WHEN ok THEN 'ok' ELSE 'failed' END, COUNT(*) "
                                                 "FROM attempts WHERE at >= ? AND final = 1 GROUP BY ok", (since,)))}


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 3)


def _alert(alert: Alert) -> dict[str, Any]:
    return {"labels": dict(alert.labels), "annotations": dict(alert.annotations), "starts_at": alert.starts_at,
            "ends_at": None if alert.ends_at == NEVER else alert.ends_at, "generator_url": alert.generator_url,
            "timeout": alert.timeout, "updated_at": alert.updated_at, "fingerprint": alert.fingerprint}


def _alert_from(body: dict[str, Any]) -> Alert:
    fields = {key: value for key, value in body.items() if key != "source"}
    return Alert(**{**fields, "ends_at": NEVER if body["ends_at"] is None else body["ends_at"]})


def _silence(silence: Silence) -> dict[str, Any]:
    return {"id": silence.id, "matchers": [[m.name, m.op, m.value] for m in silence.matchers],
            "starts_at": silence.starts_at, "ends_at": silence.ends_at, "created_by": silence.created_by,
            "comment": silence.comment, "updated_at": silence.updated_at}


def _silence_from(body: dict[str, Any]) -> Silence:
    return Silence(**{**body, "matchers": tuple(Matcher.make(*m) for m in body["matchers"])})


def _ack(ack: Ack) -> dict[str, Any]:
    return {"fingerprint": ack.fingerprint, "starts_at": ack.starts_at, "by": ack.by, "at": ack.at,
            "comment": ack.comment, "expires_at": ack.expires_at}
