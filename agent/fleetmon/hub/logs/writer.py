"""The log store's writer: one thread that takes batches from a bounded queue, writes them in transactions and
prunes what retention no longer keeps.

- **Bounded.** The queue holds at most ``queue_lines`` lines. A batch that does not fit is dropped whole and
  counted (``dropped["queue_full"]``); ingest never waits for the disk and memory never grows with a backlog.
- **Few steps.** Each transaction inserts everything taken from the queue with one statement that reads the
  rows from one JSON array (``json_each``): Python's sqlite3 gives the GIL away at every step, and a writer
  thread that steps once per row beside the busy ingest thread falls behind by far (docs/benchmarks.md,
  "Hub: ingest"). The FTS index and the span bookkeeping happen inside SQLite, in the same transaction.
- **Pruned in chunks.** Retention by age deletes the oldest span whose lines were all stored more than
  ``retention`` ago; by count, the oldest lines beyond ``max_lines``, at most ``PRUNE_CHUNK`` at a time.
  Each chunk is its own transaction, and queued writes go first.
- **Failures.** A transaction SQLite refuses (a full disk, an I/O error) is rolled back, its lines are counted
  as lost (``dropped["write_failed"]``) and logged; the writer goes on with the next batch. A batch that is
  not what ingest accepts (a caller that skipped its checks) is dropped alone (``dropped["malformed"]``).
"""

import hashlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from fleetmon.hub.logs.config import LogsConfig
from fleetmon.hub.logs.schema import SPAN_LINES, SPAN_SECONDS, connect

log = logging.getLogger("fleetmon.hub.logs")

WRITE_LINES = 20_000  # lines one transaction takes from the queue at most
PRUNE_CHUNK = 10_000  # lines one pruning transaction deletes at most
PRUNE_INTERVAL = 60.0  # seconds between two looks at retention by age
DROP_REASONS = ("queue_full", "malformed", "write_failed")
_MAX_ID = 2**63 - 1
PRUNE_REASONS = ("age", "count")
_INSERT = ("INSERT OR IGNORE INTO lines (host, cursor, ts, priority, unit, identifier, pid, transport, message) "
           "SELECT " + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(9)) + " FROM json_each(?)")


class Batch(NamedTuple):
    host: str
    entries: Sequence[Mapping[str, Any]]  # schemas/logs.json's entries, checked by fleetmon.hub.ingest


class Span(NamedTuple):
    first_id: int
    lines: int
    min_ts: float
    max_ts: float
    min_priority: int
    opened: float


def cursor_key(cursor: str) -> int:
    """The 64-bit hash the store keeps instead of the journal cursor (fleetmon.hub.logs.schema)."""
    return int.from_bytes(hashlib.blake2b(cursor.encode(), digest_size=8).digest(), "big", signed=True)


class LogWriter:
    def __init__(self, path: str, config: LogsConfig, clock: Callable[[], float] = time.time) -> None:
        self.config, self._clock = config, clock
        self._conn = connect(path, writer=True)
        self._names: dict[str, int] = dict(self._conn.execute("SELECT name, id FROM names"))
        self.count = self._conn.execute("SELECT count(*) FROM lines").fetchone()[0]  # lines stored now
        self.stored = self.duplicates = self.write_failures = 0
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self.pruned = dict.fromkeys(PRUNE_REASONS, 0)
        self._span: Span | None = None  # the span being filled; a new one after each start
        self._queue: deque[Batch] = deque()
        self._queued_lines = 0
        self._busy = False  # a transaction taken from the queue is being written
        self._stopping = False
        self._pruned_at = float("-inf")  # the last look at retention that found nothing to do
        self._prune_paused_until = float("-inf")  # after a failed pruning transaction
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def queued_lines(self) -> int:
        return self._queued_lines

    def offer(self, batch: Batch) -> bool:
        """Queue ``batch``; False (and counted) when the queue has no room for all of it."""
        size = len(batch.entries)
        with self._changed:
            if self._queued_lines + size > self.config.queue_lines:
                self.dropped["queue_full"] += size
                return False
            self._queue.append(batch)
            self._queued_lines += size
            self._changed.notify()
        return True

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is written; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._changed.wait(left)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (for up to ``timeout``), then close the file."""
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._conn.close()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._stopping and not self._prune_due():
                    next_look = max(self._pruned_at + PRUNE_INTERVAL, self._prune_paused_until)
                    self._changed.wait(max(0.05, next_look - self._clock()))
                if self._stopping and not self._queue:
                    return
                batches = self._take()
                self._busy = bool(batches)
            try:
                if batches:
                    self._write(batches)
                elif self._prune_due():
                    self._prune_once()
            except Exception as exc:  # a bug: logged with its traceback and counted; the writer goes on
                log.exception("log store: the writer failed")
                self._failed(exc, sum(len(batch.entries) for batch in batches))
                if not batches:
                    self._prune_paused_until = self._clock() + PRUNE_INTERVAL
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _take(self) -> list[Batch]:
        """Batches from the queue, WRITE_LINES lines at most (but always the first); under the lock."""
        taken: list[Batch] = []
        lines = 0
        while self._queue and (not taken or lines + len(self._queue[0].entries) <= WRITE_LINES):
            batch = self._queue.popleft()
            taken.append(batch)
            lines += len(batch.entries)
        self._queued_lines -= lines
        return taken

    def _prune_due(self) -> bool:
        now = self._clock()
        if now < self._prune_paused_until:
            return False
        return self.count > self.config.max_lines or now - self._pruned_at >= PRUNE_INTERVAL

    def _write(self, batches: list[Batch]) -> None:
        now = self._clock()
        lines = sum(len(batch.entries) for batch in batches)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            rows = [row for batch in batches for row in self._rows(batch)]
            before = self._sequence()
            inserted = self._conn.execute(_INSERT, (orjson.dumps(rows),)).rowcount if rows else 0
            if inserted:
                self._extend_span(before + 1, self._sequence(), inserted, rows, now)
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failed(exc, lines)
            return
        self.stored += inserted
        self.duplicates += len(rows) - inserted
        self.count += inserted

    def _rows(self, batch: Batch) -> list[list[Any]]:
        """The batch's rows for _INSERT; none, counted, for a batch that is not what ingest accepts (a caller
        that skipped fleetmon.hub.ingest): one such batch must not cost the others in its transaction."""
        names = self._name_id
        try:
            return [[names(batch.host), cursor_key(entry["cursor"]), float(entry["ts"]), int(entry["priority"]),
                     names(entry.get("unit") or ""), names(entry.get("identifier") or ""), entry.get("pid"),
                     names(entry.get("transport") or ""), str(entry["message"])] for entry in batch.entries]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.dropped["malformed"] += len(batch.entries)
            log.error("log store: a batch of %s from %s is malformed and was dropped: %r", len(batch.entries),
                      batch.host, exc)
            return []

    def _name_id(self, name: str) -> int:
        known = self._names.get(name)
        if known is None:
            self._conn.execute("INSERT OR IGNORE INTO names (name) VALUES (?)", (name,))
            known = self._names[name] = self._conn.execute("SELECT id FROM names WHERE name = ?",
                                                           (name,)).fetchone()[0]
        return known

    def _sequence(self) -> int:
        row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'lines'").fetchone()
        return int(row[0]) if row else 0

    def _extend_span(self, first: int, last: int, inserted: int, rows: list[list[Any]], now: float) -> None:
        """Record ids first..last (the transaction's) in the span being filled, or in a new one."""
        low, high, severe = min(row[2] for row in rows), max(row[2] for row in rows), min(row[3] for row in rows)
        span = self._span
        if span is None or span.lines + inserted > SPAN_LINES or now - span.opened >= SPAN_SECONDS:
            self._conn.execute("INSERT INTO spans (first_id, last_id, min_ts, max_ts, min_priority, stored) "
                               "VALUES (?, ?, ?, ?, ?, ?)", (first, last, low, high, severe, now))
            self._span = Span(first, inserted, low, high, severe, now)
            return
        self._span = span._replace(lines=span.lines + inserted, min_ts=min(span.min_ts, low),
                                   max_ts=max(span.max_ts, high), min_priority=min(span.min_priority, severe))
        self._conn.execute("UPDATE spans SET last_id = ?, min_ts = ?, max_ts = ?, min_priority = ?, stored = ? "
                           "WHERE first_id = ?", (last, self._span.min_ts, self._span.max_ts, self._span.min_priority,
                                                  now, span.first_id))

    def _prune_once(self) -> None:
        """One chunk of retention: the oldest span past the age, else the oldest lines beyond the count; when
        neither is left, the next look is PRUNE_INTERVAL away."""
        now = self._clock()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            expired = self._conn.execute("SELECT last_id FROM spans WHERE stored < ? ORDER BY first_id LIMIT 1",
                                         (now - self.config.retention_s,)).fetchone()
            if expired is not None:
                deleted = self._conn.execute("DELETE FROM lines WHERE id <= ?", expired).rowcount
                self._conn.execute("DELETE FROM spans WHERE last_id <= ?", expired)
                reason = "age"
            elif self.count > self.config.max_lines:
                chunk = min(PRUNE_CHUNK, self.count - self.config.max_lines)
                deleted = self._conn.execute("DELETE FROM lines WHERE id IN (SELECT id FROM lines ORDER BY id "
                                             "LIMIT ?)", (chunk,)).rowcount
                self._conn.execute("DELETE FROM spans WHERE last_id < (SELECT coalesce(min(id), ?) FROM lines)",
                                   (_MAX_ID,))
                reason = "count"
            else:
                self._conn.execute("COMMIT")
                self._pruned_at = now
                return
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failed(exc, 0)
            self._prune_paused_until = now + PRUNE_INTERVAL  # a disk that refuses deletes: later, not in a loop
            return
        self.count -= deleted
        self.pruned[reason] += deleted
        if self._span is not None and self._conn.execute("SELECT 1 FROM spans WHERE first_id = ?",
                                                         (self._span.first_id,)).fetchone() is None:
            self._span = None  # pruned away: the next write opens a new span

    def _failed(self, exc: Exception, lines: int) -> None:
        self.write_failures += 1
        self.dropped["write_failed"] += lines
        log.error("log store: a write failed (%s lines lost): %s", lines, exc)
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
        self._names = dict(self._conn.execute("SELECT name, id FROM names"))  # names of the lost transaction too
        self._span = None
