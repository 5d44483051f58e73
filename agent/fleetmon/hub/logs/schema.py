"""The log store's SQLite file: its tables, and why each is shaped as it is (bytes per line matter: a fleet
writes millions of lines a day, and docs/benchmarks.md "Logs" measures what each part costs).

- ``lines``: one row per journal entry. Host, unit, identifier and transport are few distinct strings
  repeated on every line, so they are ids into ``names`` (a line then carries a small integer instead of
  ``nvargus-daemon.service``, in the row and again in the indexes). The message is the last column, so the
  other columns are read without touching a long message's overflow pages. ``id`` (AUTOINCREMENT: never
  reused, even once every line was pruned) is the order of arrival; searches page and live tails follow by it.
- Indexes on (host, ts, priority) and (unit, ts, priority): a search by host or unit over a time range, at a
  priority, finds its ids in the index alone (the index holds the id too) and reads only the lines it
  answers; the priority costs a byte an entry.
- The journal cursor is what makes a batch sent twice be stored once, but at about 120 characters, kept
  twice (the row and the unique index), it would be the largest part of a line. The store keeps a 64-bit
  hash of it (``cursor``) under ``UNIQUE(host, cursor)``: two different cursors of one host collide with a
  chance of about n²/2⁶⁵, one in 370,000 at ten million lines of a host, and a collision drops one line.
- ``lines_text``: the FTS5 index of the messages, *external content* (``content='lines'``): like a
  contentless table it stores no copy of the text, but it can still read the text back from ``lines`` —
  to rebuild the index (``INSERT INTO lines_text(lines_text) VALUES('rebuild')``), check it, or highlight
  matches — and SQLite 3.40 deletes from a contentless table only when given the old text anyway. It keeps
  token positions (``detail=full``) because phrases (``"fallen off the bus"``) need them, and no per-row
  token counts (``columnsize=0``), which only ranking by relevance reads: results come newest first.
  Triggers keep it equal to ``lines``: an insert the unique index ignores indexes nothing.
- ``spans``: ranges of consecutive ids with the earliest and latest entry time among them, their most severe
  priority, and when they were stored (at most ``SPAN_LINES`` lines or ``SPAN_SECONDS`` each). A search over
  a time range, or at a priority, reads only the ids of the spans that can hold its lines, newest first,
  instead of every line since the newest (ids follow arrival, entry times mostly do too, but a host's spooled
  lines arrive late and a host without a clock says 1970; an ``emerg`` search skips every span without one).
  Retention by age deletes whole spans by when they were stored, so a host's clock cannot keep lines.
"""

import sqlite3

SCHEMA_VERSION = 1
#: A span closes after this many lines or this many seconds: a time-range search reads at most about one
#: span's lines beyond its range at each end, and retention by age is this fine.
SPAN_LINES = 10_000
SPAN_SECONDS = 300.0

_TABLES = """
CREATE TABLE IF NOT EXISTS names (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host INTEGER NOT NULL,
    cursor INTEGER NOT NULL,
    ts REAL NOT NULL,
    priority INTEGER NOT NULL,
    unit INTEGER,
    identifier INTEGER,
    pid INTEGER,
    transport INTEGER,
    message TEXT NOT NULL,
    UNIQUE (host, cursor)
);
CREATE INDEX IF NOT EXISTS lines_host_ts ON lines (host, ts, priority);
CREATE INDEX IF NOT EXISTS lines_unit_ts ON lines (unit, ts, priority);
CREATE VIRTUAL TABLE IF NOT EXISTS lines_text USING fts5 (
    message, content='lines', content_rowid='id', columnsize=0
);
CREATE TRIGGER IF NOT EXISTS lines_indexed AFTER INSERT ON lines BEGIN
    INSERT INTO lines_text (rowid, message) VALUES (new.id, new.message);
END;
CREATE TRIGGER IF NOT EXISTS lines_unindexed AFTER DELETE ON lines BEGIN
    INSERT INTO lines_text (lines_text, rowid, message) VALUES ('delete', old.id, old.message);
END;
CREATE TABLE IF NOT EXISTS spans (
    first_id INTEGER PRIMARY KEY,
    last_id INTEGER NOT NULL,
    min_ts REAL NOT NULL,
    max_ts REAL NOT NULL,
    min_priority INTEGER NOT NULL,
    stored REAL NOT NULL
);
"""


class SchemaMismatch(RuntimeError):
    """The file holds another version of the log store's tables: not ours to change."""


def connect(path: str, writer: bool) -> sqlite3.Connection:
    """A connection to the store's file: the writer's creates the tables; a reader's can only read.
    Autocommit mode (``isolation_level=None``): the writer opens its transactions itself. Each connection
    is used by one thread at a time, but closed by the one that closes the store."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    if writer:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            conn.close()
            raise SchemaMismatch(f"{path} holds log store schema {version}, this hub writes {SCHEMA_VERSION}")
        conn.executescript(_TABLES)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    else:
        conn.execute("PRAGMA query_only = ON")
    return conn
