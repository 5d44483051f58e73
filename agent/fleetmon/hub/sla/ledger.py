"""The presence ledger: which stretches of time each host's samples cover, kept in its own SQLite file.

The history keeps raw samples for a day (``history.raw_window``), but a monthly or yearly report needs to
know when each host sampled long after that. The ledger keeps the answer compactly: one *span* per run of
samples that are in the same session, have consecutive seqs and lie at most ``down_after`` apart
(``liveness.silent_after`` times the host's interval), so a month of an always-up host is one row.

It advances by ``raw.id``, which only grows: samples back-filled after an outage arrive later with higher
ids and are merged where their seqs belong, extending a span, or joining two spans into one when they fill
the hole between them. Merging is pure (``merge_spans``); the file only stores its result.
"""

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from fleetmon.hub.limits import MAX_INTERVAL

VERSION = 1

_DDL = """
CREATE TABLE spans (
    host TEXT NOT NULL, session INTEGER NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    start_ts REAL NOT NULL, end_ts REAL NOT NULL, interval REAL NOT NULL);
CREATE INDEX spans_host_session_seq ON spans (host, session, first_seq);
CREATE INDEX spans_host_start ON spans (host, start_ts);
CREATE INDEX spans_host_end ON spans (host, end_ts);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('raw_cursor', 0);
"""
_COLUMNS = "host, session, first_seq, last_seq, start_ts, end_ts, interval"


class Span(NamedTuple):
    """A run of one host's samples: each vouches for the host from its ``ts`` for one ``interval``."""

    host: str
    session: int
    first_seq: int
    last_seq: int
    start_ts: float  # the first sample's timestamp
    end_ts: float  # the last sample's timestamp
    interval: float  # the host's sampling interval when the span last grew


class Sample(NamedTuple):
    """One raw row of the history, as much of it as presence needs."""

    id: int  # raw.id: the order the history stored it in
    host: str
    session: int
    seq: int
    ts: float


class LedgerMismatch(RuntimeError):
    """The ledger file was written by another schema version: refused, never written."""


def merge_spans(spans: Iterable[Span], down_after: float) -> list[Span]:
    """Spans of one host and session (single samples are spans of one seq) merged, by seq: one joins the
    one before when it repeats its seqs (the same samples again), or follows it by one seq at most
    ``down_after`` later. Later timestamps win the interval."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.first_seq, s.start_ts)):
        if merged:
            before = merged[-1]
            repeats = span.first_seq <= before.last_seq
            follows = span.first_seq == before.last_seq + 1 and 0 <= span.start_ts - before.end_ts <= down_after
            if repeats or follows:
                merged[-1] = _joined(before, span)
                continue
        merged.append(span)
    return merged


def _joined(a: Span, b: Span) -> Span:
    interval = b.interval if b.end_ts >= a.end_ts else a.interval
    return Span(a.host, a.session, min(a.first_seq, b.first_seq), max(a.last_seq, b.last_seq),
                min(a.start_ts, b.start_ts), max(a.end_ts, b.end_ts), interval)


class PresenceLedger:
    """The spans in their file. Thread-safe: the rules loop advances it while HTTP readers read."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        try:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            found = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if found == 0:
                for statement in _DDL.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {VERSION}")
            elif found != VERSION:
                raise LedgerMismatch(f"SLA ledger {self.path}: schema version {found} is not supported "
                                     f"(expected {VERSION})")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def cursor(self) -> int:
        """The highest ``raw.id`` merged so far."""
        with self._lock:
            return self._conn.execute("SELECT value FROM meta WHERE key = 'raw_cursor'").fetchone()[0]

    def advance(self, samples: Sequence[Sample], cursor: int, interval_of: Callable[[str], float],
                silent_after: float) -> None:
        """Merge ``samples`` and move the cursor to ``cursor``, in one transaction: a crash keeps both or
        neither. ``interval_of(host)``: the host's sampling interval now, in seconds."""
        by_run: dict[tuple[str, int], list[Sample]] = {}
        for sample in samples:
            by_run.setdefault((sample.host, sample.session), []).append(sample)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for (host, session), found in by_run.items():
                    self._merge(host, session, found, interval_of(host), silent_after)
                self._conn.execute("UPDATE meta SET value = ? WHERE key = 'raw_cursor'", (cursor,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _merge(self, host: str, session: int, samples: list[Sample], interval: float, silent_after: float) -> None:
        low, high = min(s.seq for s in samples), max(s.seq for s in samples)
        rows = self._conn.execute(
            f"SELECT rowid, {_COLUMNS} FROM spans WHERE host = ? AND session = ? AND first_seq <= ? "
            "AND last_seq >= ?", (host, session, high + 1, low - 1)).fetchall()
        stored = [Span(*row[1:]) for row in rows]
        fresh = [Span(host, session, s.seq, s.seq, s.ts, s.ts, interval) for s in samples]
        merged = merge_spans(stored + fresh, silent_after * interval)
        if sorted(merged) == sorted(stored):
            return  # samples the ledger already holds (a history read again after it was replaced)
        self._conn.executemany("DELETE FROM spans WHERE rowid = ?", [(row[0],) for row in rows])
        self._conn.executemany(f"INSERT INTO spans ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", merged)

    def spans(self, host: str, start: float, end: float) -> list[Span]:
        """The host's spans that vouch for some of ``[start, end)``, with the last one before and the first
        one after (the stretches between them need both neighbours), by start."""
        with self._lock:
            # end_ts bounds the scan (its index); no interval is longer than MAX_INTERVAL
            inside = self._conn.execute(
                f"SELECT {_COLUMNS} FROM spans WHERE host = ? AND end_ts > ? AND start_ts < ? "
                "AND end_ts + interval > ?", (host, start - MAX_INTERVAL, end, start)).fetchall()
            before = self._conn.execute(
                f"SELECT {_COLUMNS} FROM spans WHERE host = ? AND end_ts < ? ORDER BY end_ts DESC LIMIT 1",
                (host, start)).fetchall()
            after = self._conn.execute(
                f"SELECT {_COLUMNS} FROM spans WHERE host = ? AND start_ts >= ? ORDER BY start_ts LIMIT 1",
                (host, end)).fetchall()
        return sorted({Span(*row) for row in before + inside + after}, key=lambda s: (s.start_ts, s.end_ts))

    def first_seen(self, host: str) -> float | None:
        """When the host's first span starts: before it the host was no member of any SLO yet."""
        with self._lock:
            return self._conn.execute("SELECT min(start_ts) FROM spans WHERE host = ?", (host,)).fetchone()[0]

    def all_spans(self, host: str) -> list[Span]:
        """Every span of ``host``, by start (for tests and for reading the ledger by hand)."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM spans WHERE host = ? ORDER BY start_ts, end_ts",
                                      (host,)).fetchall()
        return [Span(*row) for row in rows]
