"""``auth.db`` beside ``history.db``: the console's sessions and the audit log, in SQLite so both outlive a
restart of the hub. One connection, used by the HTTP side only, under a lock (Starlette may call from its
thread pool as well as from the event loop)."""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,  -- sha256 of the cookie's session id: the file alone logs nobody in
    user TEXT NOT NULL,
    csrf TEXT NOT NULL,
    credential TEXT NOT NULL,  -- which password it was opened with: a new one ends the session
    created REAL NOT NULL,
    seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    at REAL NOT NULL,
    user TEXT,
    role TEXT,
    client TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
"""


class AuthDatabase:
    def __init__(self, path: str) -> None:
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a session or audit row lost in a power cut is no harm
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the auth database {path}: {exc}") from exc
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()
