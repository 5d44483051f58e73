"""The store's SQLite schema and connection settings.

- ``raw``: one row per host-sample: its values packed in the order of a ``layouts`` row (a list of series
  ids), so ~100 series cost one row, not a hundred. ``UNIQUE(host_id, session, seq)`` keeps the first copy
  of a sample delivered twice. ``id`` only grows (AUTOINCREMENT), which lets ``meta.rollup_through`` say
  "every raw row up to here is in the tiers": after a crash the writer re-aggregates the rows above it.
- ``rollup_1m`` / ``rollup_1h``: one row per host and bucket, aggregates packed the same way (see codec).
- ``series``: (host, metric name, canonical labels JSON) -> id.
- checks, events, state changes and alert history: plain rows with a time index for retention.
"""

import sqlite3

VERSION = 1

_DDL = """
CREATE TABLE hosts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE series (
    id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL, name TEXT NOT NULL, labels TEXT NOT NULL,
    UNIQUE (host_id, name, labels));
CREATE TABLE layouts (id INTEGER PRIMARY KEY, series_ids BLOB NOT NULL UNIQUE);
CREATE TABLE raw (
    id INTEGER PRIMARY KEY AUTOINCREMENT, host_id INTEGER NOT NULL, ts REAL NOT NULL,
    session INTEGER NOT NULL, seq INTEGER NOT NULL, layout_id INTEGER NOT NULL, vals BLOB NOT NULL,
    UNIQUE (host_id, session, seq));
CREATE INDEX raw_host_ts ON raw (host_id, ts);
CREATE TABLE rollup_1m (
    host_id INTEGER NOT NULL, bucket INTEGER NOT NULL, layout_id INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (host_id, bucket));
CREATE TABLE rollup_1h (
    host_id INTEGER NOT NULL, bucket INTEGER NOT NULL, layout_id INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (host_id, bucket));
CREATE TABLE checks (
    host TEXT NOT NULL, ts REAL NOT NULL, name TEXT NOT NULL, ok INTEGER NOT NULL, value REAL,
    message TEXT NOT NULL);
CREATE INDEX checks_host_name_ts ON checks (host, name, ts);
CREATE INDEX checks_ts ON checks (ts);
CREATE TABLE events (
    host TEXT NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, details TEXT NOT NULL);
CREATE INDEX events_host_ts ON events (host, ts);
CREATE INDEX events_ts ON events (ts);
CREATE TABLE state_changes (
    host TEXT NOT NULL, ts REAL NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
    reason TEXT NOT NULL);
CREATE INDEX state_changes_host_ts ON state_changes (host, ts);
CREATE INDEX state_changes_ts ON state_changes (ts);
CREATE TABLE alerts (
    fingerprint TEXT NOT NULL, labels TEXT NOT NULL, status TEXT NOT NULL, starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL, ts REAL NOT NULL, source TEXT NOT NULL);
CREATE INDEX alerts_fingerprint_ts ON alerts (fingerprint, ts);
CREATE INDEX alerts_ts ON alerts (ts);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('rollup_through', 0);
"""


class SchemaMismatch(RuntimeError):
    """The file was written by another schema version: refused, never written."""


def connect(path: str, *, readonly: bool = False, busy_timeout: float = 10.0) -> sqlite3.Connection:
    """A connection in WAL mode; the writer commits explicitly, readers never write. ``busy_timeout``:
    seconds a statement waits for a lock another connection holds before it fails as locked."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if readonly:
            conn.execute("PRAGMA query_only = 1")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a power cut may lose the last transactions, never corrupt the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA cache_size = -65536")
    except BaseException:
        conn.close()  # a file that cannot be set up (full, read-only, corrupt) is not left open
        raise
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Create the schema in a new file; refuse a file written by an unknown version."""
    conn.execute("BEGIN IMMEDIATE")  # taken before reading the version, so two openers cannot both create
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found == 0:
            # one statement at a time: executescript would commit the transaction half-way
            for statement in _DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {VERSION}")
        elif found != VERSION:
            raise SchemaMismatch(f"history store schema version {found} is not supported (expected {VERSION})")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
