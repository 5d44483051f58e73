"""Where the incident book keeps its incidents: tables of their own in the hub's alerting database.

One row per incident (its record as JSON, rewritten when it changes) and one row per timeline entry
(appended, never rewritten: a long timeline costs nothing on each change). Everything is read back when the
book is built, so a restarted hub keeps every incident, its alerts, timeline and postmortem.

The alerting journal writes to the same file on its own connection: writes take the write lock up front
(``BEGIN IMMEDIATE``) and wait for the journal's commits (``busy_timeout``) instead of failing on them.
``synchronous=NORMAL`` in WAL mode: a killed hub loses nothing committed; a power cut may lose the last
commits, which — unlike the notification log — no duplicate page depends on.

Not thread-safe: the book calls it from one thread at a time (its commit lock).
"""

import json
import sqlite3

from fleetmon.hub.incidents.model import Entry, Incident, incident_from_record

SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_incidents (id TEXT PRIMARY KEY, number INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incident_timeline (incident TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL,
                                              kind TEXT NOT NULL, by TEXT NOT NULL, text TEXT NOT NULL,
                                              details TEXT NOT NULL, PRIMARY KEY (incident, seq));
"""
#: Milliseconds a write waits for the alerting journal's transaction to end.
BUSY_TIMEOUT_MS = 10_000


class IncidentStore:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._db.executescript(SCHEMA)

    def load(self) -> list[Incident]:
        """Every incident with its timeline, by number."""
        timelines: dict[str, list[Entry]] = {}
        for incident_id, seq, at, kind, by, text, details in self._db.execute(
                "SELECT incident, seq, at, kind, by, text, details FROM incident_timeline ORDER BY seq"):
            timelines.setdefault(incident_id, []).append(Entry(at, seq, kind, by, text, json.loads(details)))
        return [incident_from_record(json.loads(body), timelines.get(incident_id, []))
                for incident_id, body in self._db.execute("SELECT id, body FROM incident_incidents ORDER BY number")]

    def save(self, records: list[tuple[str, int, str]], entries: list[tuple[str, Entry]]) -> None:
        """Incident records (id, number, the record as JSON; replacing what was kept) and new timeline entries
        (incident id, entry), in one transaction; raises sqlite3.Error with nothing written."""
        if not records and not entries:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO incident_incidents VALUES (?, ?, ?)", records)
            self._db.executemany("INSERT OR REPLACE INTO incident_timeline VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(incident_id, e.seq, e.at, e.kind, e.by, e.text,
                                   json.dumps(e.details, sort_keys=True)) for incident_id, e in entries])
            self._db.execute("COMMIT")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()
