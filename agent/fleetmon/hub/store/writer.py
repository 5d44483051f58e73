"""The writer thread: the only connection that writes. Drains the bounded queue in batches, one
transaction per batch, keeps the minute/hour tiers up to date and enforces retention.

Crash safety of the tiers: a batch commits raw rows first; their aggregates wait in memory and are merged
into the tier tables every ``rollup_interval`` in one transaction that also advances
``meta.rollup_through`` (the highest raw id now counted in the tiers). On start, raw rows above it are
aggregated again, so a crash loses no aggregate and a restart counts none twice.

Failures (docs/hub.md "History"), told apart by SQLite's result code, not its message:
- the environment's (disk full, read-only, I/O error, locked, corrupt): the batch is kept and retried with
  backoff on a new connection; nothing more is taken from the queue meanwhile, so the hub's queue fills and
  what it cannot take is dropped and counted there. Writing resumes by itself; a corrupt file is moved aside.
- an item's own (a value SQLite refuses, a wrong type): the batch is written again item by item, each in
  its own savepoint; the items that fail are counted as malformed and the rest is written.
- anything else is logged and counted, and the writer goes on.
"""

import functools
import json
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from fleetmon.hub.store.codec import pack_aggregates, pack_values, unpack_aggregates, unpack_values
from fleetmon.hub.store.config import StoreConfig
from fleetmon.hub.store.rollup import Aggregates, RollupBuffer, hours, merge
from fleetmon.hub.store.schema import SchemaMismatch, connect, migrate
from fleetmon.hub.store.series import Registry

log = logging.getLogger(__name__)

# Queue items are tuples tagged by their first element (cheap to build on the ingest path).
SAMPLE, CHECK, EVENT, STATE_CHANGE, ALERT = "sample", "check", "event", "state_change", "alert"

_RECORD_SQL = {
    CHECK: "INSERT INTO checks (host, ts, name, ok, value, message) VALUES (?, ?, ?, ?, ?, ?)",
    EVENT: "INSERT INTO events (host, ts, kind, message, details) VALUES (?, ?, ?, ?, ?)",
    STATE_CHANGE: "INSERT INTO state_changes (host, ts, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?)",
    ALERT: "INSERT INTO alerts (fingerprint, labels, status, starts_at, ends_at, ts, source) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)",
}
_RECORD_TABLES = ("checks", "events", "state_changes", "alerts")
_RAW_SQL = "INSERT OR IGNORE INTO raw (host_id, ts, session, seq, layout_id, vals) VALUES (?, ?, ?, ?, ?, ?)"
_INT64 = range(-2**63, 2**63)  # what an SQLite INTEGER holds

#: Failures that are the environment's, not an item's, by SQLite primary result code: the work is kept and
#: retried. The names are the ``reason`` label of fleetmon_hub_db_write_failures_total.
ENVIRONMENTAL = {
    sqlite3.SQLITE_FULL: "disk_full",
    sqlite3.SQLITE_READONLY: "read_only",
    sqlite3.SQLITE_PERM: "read_only",
    sqlite3.SQLITE_IOERR: "io_error",
    sqlite3.SQLITE_CANTOPEN: "cant_open",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_PROTOCOL: "locked",
    sqlite3.SQLITE_CORRUPT: "corrupt",
    sqlite3.SQLITE_NOTADB: "corrupt",
    sqlite3.SQLITE_NOMEM: "out_of_memory",
}
#: Every reason a write can fail for; "unexpected" is a failure no item and no known condition explains.
REASONS = (*dict.fromkeys(ENVIRONMENTAL.values()), "unexpected")
#: Backoff between attempts while writes fail (seconds): short first, so a brief fault costs little.
RETRY_FIRST, RETRY_MAX = 0.1, 2.0


def environmental_reason(exc: BaseException) -> str | None:
    """The REASONS name of a failure of the environment, None when it is not one."""
    if isinstance(exc, MemoryError):
        return "out_of_memory"
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    return None if code is None else ENVIRONMENTAL.get(code & 0xFF)


def describe(exc: BaseException) -> str:
    """``exc`` for people: SQLite's message and its result code name."""
    name = getattr(exc, "sqlite_errorname", None)
    return f"{exc} ({name})" if name else f"{type(exc).__name__}: {exc}"


@dataclass(slots=True)
class Counters:
    """What the hub exports about its history store; written by the writer thread only, except
    ``samples_dropped`` and ``records_dropped`` (the callers', under the store's lock)."""

    samples_written: int = 0
    samples_backfilled: int = 0  # of samples_written
    samples_duplicate: int = 0  # (host, session, seq) already stored: ignored
    samples_dropped: int = 0  # the queue was full
    samples_malformed: int = 0  # not stored at all: bad host, session, seq, ts or metrics object, or refused
    series_malformed: int = 0  # entries skipped inside otherwise stored samples
    records_written: int = 0
    records_dropped: int = 0
    records_malformed: int = 0  # refused by SQLite or not convertible: not stored
    writes_lost: int = 0  # samples and records queued, then given up: the writer was stopped while writes failed
    write_errors: int = 0  # transactions that failed and were rolled back
    batches: int = 0
    durable_position: int = 0  # items (samples and records, in queue order) settled: committed or malformed
    failing_since: float = 0.0  # Unix time of the first failed attempt of the current episode; 0: writing
    failing_reason: int = 0  # 1 + index in REASONS of the latest failure while failing; 0: writing
    databases_replaced: int = 0  # corrupt database files moved aside for a new one
    write_seconds_total: float = 0.0  # time in write transactions: batches, rollups, prunes
    last_batch_seconds: float = 0.0
    failures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))  # failed attempts
    failure: str = ""  # while failing: the latest failure, for people


@dataclass(slots=True, eq=False)
class Control:
    """A request the writer handles in queue order: everything queued before it is written first."""

    action: str  # "flush", "prune" or "stop"
    now: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


@dataclass(slots=True)
class _Outcome:
    """What a batch transaction did, applied to the counters and the rollup buffer only once it committed."""

    pending: list[tuple] = field(default_factory=list)  # (host id, ts, series ids, values, backfill) inserted
    rows: int = 0  # raw rows offered (inserted or duplicate)
    records: int = 0
    samples_malformed: int = 0
    series_malformed: int = 0
    records_malformed: int = 0
    refused: str = ""  # the first item failure, for the log


class Writer(threading.Thread):
    def __init__(self, path: str, config: StoreConfig, items: queue.Queue, counters: Counters) -> None:
        super().__init__(name="fleetmon-store-writer", daemon=True)
        self._path = path
        self._config = config
        self._items = items
        self.counters = counters
        self.ready = threading.Event()
        self.startup_error: Exception | None = None
        #: Set before a stop request is queued: a batch that cannot be written then is given up, not retried.
        self.stopping = threading.Event()
        self._buffer = RollupBuffer()
        self._conn: sqlite3.Connection | None = None
        self._retry_delay = RETRY_FIRST
        self._next_rollup = self._next_prune = self._next_probe = 0.0

    def run(self) -> None:
        try:
            replaced = self.counters.databases_replaced
            if self._attempt(self._prune_now, startup=True) and self.counters.databases_replaced > replaced:
                self._attempt(self._prune_now, startup=True)  # the new, empty file that replaced a corrupt one
        except SchemaMismatch as exc:  # a file of another schema version: refused, not retried
            self.startup_error = exc
            self.ready.set()
            return
        self.ready.set()
        try:
            self._loop()
        finally:
            self._close()

    # -- the connection

    def _open(self) -> None:
        """Connect, and rebuild every in-memory view of the file: ids, the raw id marks, and the aggregates
        of raw rows not yet in the tiers (after a crash, or a failure that closed the connection)."""
        conn = self._conn = connect(self._path, busy_timeout=self._config.busy_timeout)
        migrate(conn)
        self._registry = Registry(conn)
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'raw'").fetchone()
        self._last_raw_id = row[0] if row else 0
        self._rolled_through = conn.execute("SELECT value FROM meta WHERE key = 'rollup_through'").fetchone()[0]
        self._buffer.clear()
        replayed = 0
        for host_id, ts, layout_id, vals in conn.execute(
                "SELECT host_id, ts, layout_id, vals FROM raw WHERE id > ? ORDER BY id", (self._rolled_through,)):
            self._buffer.add(host_id, ts, self._registry.layout(layout_id), unpack_values(vals))
            replayed += 1
        if replayed:
            log.info("history store: %d samples not yet in the minute/hour tiers, aggregating them", replayed)
            self._flush_rollups()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                log.debug("history store: closing a failed connection", exc_info=True)
            self._conn = None

    def _attempt(self, work: Callable[[], None], startup: bool = False) -> Exception | None:
        """Run ``work`` on an open connection; on a failure record it, close the connection (the next
        attempt starts from what the file holds) and return it. At startup a schema version refusal is
        raised: that file is not ours to write."""
        try:
            if self._conn is None:
                self._open()
            work()
        except Exception as exc:  # every failure is recorded, logged and retried
            self._close()
            if startup and isinstance(exc, SchemaMismatch):
                raise
            self._failed(exc)
            return exc
        self._succeeded()
        return None

    def _failed(self, exc: Exception) -> None:
        counters = self.counters
        reason = environmental_reason(exc) or "unexpected"
        text = describe(exc)
        if reason in ("cant_open", "io_error", "read_only") and self._read_only_filesystem():
            # SQLite says it cannot open or write a file; the filesystem says why
            reason, text = "read_only", f"{text}; the filesystem is read-only"
        counters.write_errors += 1
        counters.failures[reason] += 1
        if not counters.failing_since:
            counters.failing_since = time.time()
            self._retry_delay = RETRY_FIRST
        if text != counters.failure:
            if reason == "unexpected":
                log.error("history store: writes failing, retrying", exc_info=exc)
            else:
                log.error("history store: writes failing, retrying: %s", text)
        counters.failing_reason = REASONS.index(reason) + 1
        counters.failure = text
        self._next_probe = time.monotonic() + self._retry_delay
        if reason == "corrupt":
            self._move_aside(text)

    def _read_only_filesystem(self) -> bool:
        try:
            return bool(os.statvfs(os.path.dirname(os.path.abspath(self._path))).f_flag & os.ST_RDONLY)
        except OSError:
            return False

    def _succeeded(self) -> None:
        counters = self.counters
        if counters.failing_since:
            log.warning("history store: writing again after %.1f s of failures (%s)",
                        time.time() - counters.failing_since, counters.failure)
            counters.failing_since = 0.0
            counters.failing_reason = 0
            counters.failure = ""

    def _move_aside(self, why: str) -> None:
        """A corrupt file never heals: keep it beside (for recovery by hand) and start a new one."""
        target = f"{self._path}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        try:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self._path + suffix):
                    os.replace(self._path + suffix, target + suffix)
        except OSError as exc:
            log.error("history store: %s is corrupt (%s) and could not be moved aside: %s", self._path, why, exc)
            return
        self.counters.databases_replaced += 1
        log.error("history store: %s is corrupt (%s); moved it to %s and started a new, empty history",
                  self._path, why, target)

    # -- the loop

    def _loop(self) -> None:
        now = time.monotonic()
        self._next_rollup = now + self._config.rollup_interval
        self._next_prune = now + self._config.prune_interval
        while True:
            try:
                if self._step():
                    return
            except Exception:  # a bug in one pass must not end all history
                log.exception("history store: unexpected failure in the writer; going on")
                self.counters.failures["unexpected"] += 1

    def _step(self) -> bool:
        """One pass: a batch, the periodic work that is due, a control request. True once stopped."""
        failing = bool(self.counters.failing_since)
        wake = min(self._next_rollup, self._next_prune, self._next_probe if failing else math.inf)
        try:
            first = self._items.get(timeout=max(0.0, wake - time.monotonic()))
        except queue.Empty:
            first = None
        batch, control = self._collect(first)
        if batch:
            self._settle(batch)
        now = time.monotonic()
        if now >= self._next_rollup:
            self._attempt(self._flush_rollups)
            self._next_rollup = now + self._config.rollup_interval
        if now >= self._next_prune:
            self._attempt(self._prune_now)
            self._next_prune = now + self._config.prune_interval
        if self.counters.failing_since and not batch and now >= self._next_probe:
            self._retry_delay = min(2 * self._retry_delay, RETRY_MAX)
            self._attempt(self._probe)  # idle while failing: find out when writing works again
        if control is None:
            return False
        work = functools.partial(self._prune_now, control.now) if control.action == "prune" else self._flush_rollups
        if control.action != "stop" or not self.counters.failing_since:
            control.error = self._attempt(work)
        control.done.set()
        return control.action == "stop"

    def _settle(self, batch: list[tuple]) -> None:
        """Write ``batch``, retrying while the environment fails it; given up only when stopping."""
        while not self.counters.failing_since or not self.stopping.is_set():
            if self._attempt(functools.partial(self._write_batch, batch)) is None:
                return
            if self.stopping.wait(self._retry_delay):
                break
            self._retry_delay = min(2 * self._retry_delay, RETRY_MAX)
        samples = sum(1 for item in batch if item[0] == SAMPLE)
        self.counters.writes_lost += len(batch)
        log.error("history store: stopping while writes fail (%s): %d samples and %d records not written",
                  self.counters.failure, samples, len(batch) - samples)

    def _collect(self, first: object) -> tuple[list[tuple], Control | None]:
        """Up to ``batch_size`` items, waiting at most ``flush_interval`` for the batch to fill; a control
        item ends the batch."""
        if first is None:
            return [], None
        if isinstance(first, Control):
            return [], first
        batch = [first]
        deadline = time.monotonic() + self._config.flush_interval
        get = self._items.get
        while len(batch) < self._config.batch_size:
            remaining = deadline - time.monotonic()
            try:
                item = get(timeout=remaining) if remaining > 0 else get(block=False)
            except queue.Empty:
                break
            if isinstance(item, Control):
                return batch, item
            batch.append(item)
        return batch, None

    # -- batches

    def _write_batch(self, batch: list[tuple]) -> None:
        started = time.perf_counter()
        try:
            outcome = self._batch_transaction(batch)
        except Exception as exc:  # the environment's failures go up, an item's are isolated
            if environmental_reason(exc) is not None:
                raise
            self._rollback()
            outcome = self._item_by_item(batch)
        for host_id, ts, ids, values, _ in outcome.pending:
            self._buffer.add(host_id, ts, ids, values)
        elapsed = time.perf_counter() - started
        counters = self.counters
        counters.samples_written += len(outcome.pending)
        counters.samples_backfilled += sum(1 for p in outcome.pending if p[4])
        counters.samples_duplicate += outcome.rows - len(outcome.pending)
        counters.samples_malformed += outcome.samples_malformed
        counters.series_malformed += outcome.series_malformed
        counters.records_written += outcome.records
        counters.records_malformed += outcome.records_malformed
        counters.batches += 1
        counters.durable_position += len(batch)
        counters.last_batch_seconds = elapsed
        counters.write_seconds_total += elapsed
        if outcome.refused:
            log.warning("history store: %d samples and %d records of a batch of %d refused, counted as malformed "
                        "(first: %s)", outcome.samples_malformed, outcome.records_malformed, len(batch),
                        outcome.refused)

    def _batch_transaction(self, batch: list[tuple]) -> _Outcome:
        """The fast path: the whole batch in one transaction, rows inserted with one statement per table."""
        conn, outcome = self._conn, _Outcome()
        rows: list[tuple] = []
        records: dict[str, list[tuple]] = {}
        conn.execute("BEGIN")
        for item in batch:
            if item[0] != SAMPLE:
                records.setdefault(item[0], []).append(_record_row(item[0], item[1]))
                continue
            staged = self._stage(item, outcome)
            if staged is not None:
                rows.append(staged[0])
                outcome.pending.append(staged[1])
        before = conn.total_changes
        conn.executemany(_RAW_SQL, rows)
        if conn.total_changes - before != len(rows):
            outcome.pending = self._inserted_only(rows, outcome.pending)
        outcome.rows = len(rows)
        for kind, values in records.items():
            conn.executemany(_RECORD_SQL[kind], values)
            outcome.records += len(values)
        self._commit(bool(outcome.pending))
        return outcome

    def _item_by_item(self, batch: list[tuple]) -> _Outcome:
        """The batch again, each item in its own savepoint: an item that fails is rolled back alone."""
        conn, outcome = self._conn, _Outcome()
        conn.execute("BEGIN")
        for item in batch:
            conn.execute("SAVEPOINT item")
            try:
                if item[0] == SAMPLE:
                    staged = self._stage(item, outcome)
                    if staged is not None:
                        outcome.rows += 1
                        if conn.execute(_RAW_SQL, staged[0]).rowcount == 1:
                            outcome.pending.append(staged[1])
                else:
                    conn.execute(_RECORD_SQL[item[0]], _record_row(item[0], item[1]))
                    outcome.records += 1
            except Exception as exc:  # whatever this one item raises, it alone is refused
                if environmental_reason(exc) is not None:
                    raise
                conn.execute("ROLLBACK TO item")
                self._registry.reload()  # ids handed out for this item are gone with it
                if item[0] == SAMPLE:
                    outcome.samples_malformed += 1
                else:
                    outcome.records_malformed += 1
                outcome.refused = outcome.refused or f"{item[0]}: {describe(exc)}"
            conn.execute("RELEASE item")
        self._commit(bool(outcome.pending))
        return outcome

    def _stage(self, item: tuple, outcome: _Outcome) -> tuple[tuple, tuple] | None:
        """A sample's raw row and what it adds to the rollups; None (counted) when it is malformed."""
        _, host, session, seq, ts, metrics, backfill = item
        if isinstance(metrics, bytes):
            metrics = _metrics_of(metrics)
        if not (isinstance(host, str) and host and type(session) is int and session in _INT64
                and type(seq) is int and seq in _INT64 and type(ts) in (float, int) and _finite(ts)
                and isinstance(metrics, Mapping)):
            outcome.samples_malformed += 1
            return None
        registry = self._registry
        host_id = registry.host_id(host)
        ids, values, bad = registry.resolve(host_id, metrics)
        outcome.series_malformed += bad
        ts = float(ts)
        return ((host_id, ts, session, seq, registry.layout_id(tuple(ids)), pack_values(values)),
                (host_id, ts, ids, values, backfill))

    def _commit(self, inserted: bool) -> None:
        if inserted:
            row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'raw'").fetchone()
            last_raw_id = row[0]
        self._conn.execute("COMMIT")
        if inserted:
            self._last_raw_id = last_raw_id

    def _rollback(self) -> None:
        self.counters.write_errors += 1
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
        self._registry.reload()  # ids handed out inside the failed transaction do not exist

    def _inserted_only(self, rows: list[tuple], pending: list[tuple]) -> list[tuple]:
        """The samples whose raw row was really inserted (duplicates were ignored): the rows this batch added
        are exactly those above the last raw id; the first copy of a key in the batch is the one kept."""
        fresh = set(self._conn.execute("SELECT host_id, session, seq FROM raw WHERE id > ?", (self._last_raw_id,)))
        kept = []
        for row, sample in zip(rows, pending, strict=True):
            key = (row[0], row[2], row[3])
            if key in fresh:
                fresh.discard(key)
                kept.append(sample)
        return kept

    # -- tiers and retention

    def _flush_rollups(self) -> None:
        """Merge the buffered minute aggregates (and the hours they make) into the tier tables; on a failure
        the buffer is rebuilt from the raw rows when the connection is opened again."""
        if not self._buffer and self._rolled_through == self._last_raw_id:
            return
        started = time.perf_counter()
        conn = self._conn
        minutes = self._buffer.minutes.items()
        conn.execute("BEGIN")
        self._merge_tier("rollup_1m", minutes)
        self._merge_tier("rollup_1h", hours(minutes).items())
        conn.execute("UPDATE meta SET value = ? WHERE key = 'rollup_through'", (self._last_raw_id,))
        conn.execute("COMMIT")
        self._rolled_through = self._last_raw_id
        self._buffer.clear()
        self.counters.write_seconds_total += time.perf_counter() - started

    def _merge_tier(self, table: str, buckets: Iterable[tuple[tuple[int, int], Aggregates]]) -> None:
        registry = self._registry
        select = f"SELECT layout_id, data FROM {table} WHERE host_id = ? AND bucket = ?"
        rows = []
        for key, aggregates in buckets:
            stored = self._conn.execute(select, key).fetchone()
            if stored is not None:  # late data, or a bucket written by an earlier pass
                layout, packed = registry.layout(stored[0]), unpack_aggregates(stored[1])
                merged: Aggregates = dict(zip(layout, map(list, packed), strict=True))
                merge(merged, aggregates)
                aggregates = merged
            ids = tuple(aggregates)
            rows.append((*key, registry.layout_id(ids), pack_aggregates([aggregates[sid] for sid in ids])))
        self._conn.executemany(f"INSERT OR REPLACE INTO {table} (host_id, bucket, layout_id, data) "
                               "VALUES (?, ?, ?, ?)", rows)

    def _prune_now(self, now: float | None = None) -> None:
        self._prune(time.time() if now is None else now)

    def _prune(self, now: float) -> None:
        """Drop what is past each tier's retention; the tiers are brought up to date first, so no raw row
        leaves before it is counted in them."""
        self._flush_rollups()
        started = time.perf_counter()
        config, conn = self._config, self._conn
        host_ids = self._registry.host_ids()
        conn.execute("BEGIN")
        for sql, cutoff in (("DELETE FROM raw WHERE host_id = ? AND ts < ?", now - config.raw_window),
                            ("DELETE FROM rollup_1m WHERE host_id = ? AND bucket < ?", now - config.minute_retention),
                            ("DELETE FROM rollup_1h WHERE host_id = ? AND bucket < ?", now - config.hour_retention)):
            conn.executemany(sql, [(host_id, cutoff) for host_id in host_ids])
        for table in _RECORD_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE ts < ?", (now - config.record_retention,))
        conn.execute("COMMIT")
        self.counters.write_seconds_total += time.perf_counter() - started

    def _probe(self) -> None:
        """A write that changes nothing: succeeds once the database takes writes again."""
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute("UPDATE meta SET value = value WHERE key = 'rollup_through'")
        self._conn.execute("COMMIT")


def _record_row(kind: str, record: tuple) -> tuple:
    """The row of a check, event, state change or alert record (converted here, in the writer, so that a
    value that cannot be converted is one refused item, never an exception in the caller)."""
    if kind == CHECK:
        return (record.host, float(record.ts), record.name, int(bool(record.ok)),
                None if record.value is None else float(record.value), str(record.message))
    if kind == EVENT:
        return (record.host, float(record.ts), record.kind, str(record.message),
                json.dumps(record.details, sort_keys=True, separators=(",", ":")))
    if kind == STATE_CHANGE:
        return record.host, float(record.ts), record.from_state, record.to_state, record.reason
    return (record.fingerprint, json.dumps(record.labels, sort_keys=True), record.status,
            record.starts_at, record.ends_at, float(record.ts), record.source)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _metrics_of(payload: bytes) -> Mapping | None:
    """The ``metrics`` object of a metrics message as received (None, so malformed, if it has none)."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return body.get("metrics") if isinstance(body, dict) else None
