"""The writer thread: the only connection that writes. Drains the bounded queue in batches, one
transaction per batch, keeps the minute/hour tiers up to date and enforces retention.

Crash safety of the tiers: a batch commits raw rows first; their aggregates wait in memory and are merged
into the tier tables every ``rollup_interval`` in one transaction that also advances
``meta.rollup_through`` (the highest raw id now counted in the tiers). On start, raw rows above it are
aggregated again, so a crash loses no aggregate and a restart counts none twice.
"""

import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from fleetmon.hub.store.codec import pack_aggregates, pack_values, unpack_aggregates, unpack_values
from fleetmon.hub.store.config import StoreConfig
from fleetmon.hub.store.rollup import Aggregates, RollupBuffer, hours, merge
from fleetmon.hub.store.schema import connect
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


@dataclass(slots=True)
class Counters:
    """What the hub exports about its history store; written by the writer thread only, except
    ``samples_dropped`` and ``records_dropped`` (the callers', under the store's lock)."""

    samples_written: int = 0
    samples_backfilled: int = 0  # of samples_written
    samples_duplicate: int = 0  # (host, session, seq) already stored: ignored
    samples_dropped: int = 0  # the queue was full
    samples_malformed: int = 0  # not stored at all: bad host, session, seq, ts or metrics object
    series_malformed: int = 0  # entries skipped inside otherwise stored samples
    records_written: int = 0
    records_dropped: int = 0
    write_errors: int = 0  # transactions that failed and were rolled back
    batches: int = 0
    write_seconds_total: float = 0.0  # time in write transactions: batches, rollups, prunes
    last_batch_seconds: float = 0.0


@dataclass(slots=True, eq=False)
class Control:
    """A request the writer handles in queue order: everything queued before it is written first."""

    action: str  # "flush", "prune" or "stop"
    now: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


class Writer(threading.Thread):
    def __init__(self, path: str, config: StoreConfig, items: queue.Queue, counters: Counters) -> None:
        super().__init__(name="fleetmon-store-writer", daemon=True)
        self._path = path
        self._config = config
        self._items = items
        self.counters = counters
        self.ready = threading.Event()
        self.startup_error: Exception | None = None
        self._buffer = RollupBuffer()

    def run(self) -> None:
        try:
            self._open()
        except (sqlite3.Error, OSError) as exc:
            self.startup_error = exc
            self.ready.set()
            return
        self.ready.set()
        try:
            self._loop()
        finally:
            self._conn.close()

    def _open(self) -> None:
        self._conn = connect(self._path)
        self._registry = Registry(self._conn)
        row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'raw'").fetchone()
        self._last_raw_id = row[0] if row else 0
        self._rolled_through = self._conn.execute(
            "SELECT value FROM meta WHERE key = 'rollup_through'").fetchone()[0]
        replayed = 0
        for host_id, ts, layout_id, vals in self._conn.execute(
                "SELECT host_id, ts, layout_id, vals FROM raw WHERE id > ? ORDER BY id", (self._rolled_through,)):
            self._buffer.add(host_id, ts, self._registry.layout(layout_id), unpack_values(vals))
            replayed += 1
        if replayed:
            log.info("history store: %d samples not yet in the minute/hour tiers, aggregating them", replayed)
            self._flush_rollups()
        self._prune(time.time())

    def _loop(self) -> None:
        config = self._config
        next_rollup = time.monotonic() + config.rollup_interval
        next_prune = time.monotonic() + config.prune_interval
        while True:
            try:
                first = self._items.get(timeout=max(0.0, min(next_rollup, next_prune) - time.monotonic()))
            except queue.Empty:
                first = None
            batch, control = self._collect(first)
            if batch:
                self._write_batch(batch)
            now = time.monotonic()
            if now >= next_rollup:
                self._flush_rollups()
                next_rollup = now + config.rollup_interval
            if now >= next_prune:
                self._prune(time.time())
                next_prune = now + config.prune_interval
            if control is not None:
                try:
                    if control.action == "prune":
                        self._prune(time.time() if control.now is None else control.now, strict=True)
                    else:
                        self._flush_rollups(strict=True)
                except sqlite3.Error as exc:
                    control.error = exc
                control.done.set()
                if control.action == "stop":
                    return

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

    def _write_batch(self, batch: list[tuple]) -> None:
        started = time.perf_counter()
        conn, registry, counters = self._conn, self._registry, self.counters
        rows: list[tuple] = []
        pending: list[tuple] = []
        records: dict[str, list[tuple]] = {}
        conn.execute("BEGIN")
        try:
            for item in batch:
                if item[0] != SAMPLE:
                    records.setdefault(item[0], []).append(item[1])
                    continue
                _, host, session, seq, ts, metrics, backfill = item
                if isinstance(metrics, bytes):
                    metrics = _metrics_of(metrics)
                if not (isinstance(host, str) and host and type(session) is int and type(seq) is int
                        and type(ts) in (float, int) and math.isfinite(ts) and isinstance(metrics, Mapping)):
                    counters.samples_malformed += 1
                    continue
                host_id = registry.host_id(host)
                ids, values, bad = registry.resolve(host_id, metrics)
                counters.series_malformed += bad
                rows.append((host_id, ts, session, seq, registry.layout_id(tuple(ids)), pack_values(values)))
                pending.append((host_id, ts, ids, values, backfill))
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO raw (host_id, ts, session, seq, layout_id, vals) "
                             "VALUES (?, ?, ?, ?, ?, ?)", rows)
            if conn.total_changes - before != len(rows):
                pending = self._inserted_only(rows, pending)
            for kind, values in records.items():
                conn.executemany(_RECORD_SQL[kind], values)
            if pending:
                self._last_raw_id = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'raw'").fetchone()[0]
            conn.execute("COMMIT")
        except sqlite3.Error:
            self._rollback("writing a batch")
            return
        for host_id, ts, ids, values, _ in pending:
            self._buffer.add(host_id, ts, ids, values)
        elapsed = time.perf_counter() - started
        counters.samples_written += len(pending)
        counters.samples_backfilled += sum(1 for p in pending if p[4])
        counters.samples_duplicate += len(rows) - len(pending)
        counters.records_written += sum(len(v) for v in records.values())
        counters.batches += 1
        counters.last_batch_seconds = elapsed
        counters.write_seconds_total += elapsed

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

    def _flush_rollups(self, strict: bool = False) -> None:
        """Merge the buffered minute aggregates (and the hours they make) into the tier tables."""
        if not self._buffer and self._rolled_through == self._last_raw_id:
            return
        started = time.perf_counter()
        conn = self._conn
        minutes = self._buffer.minutes.items()
        conn.execute("BEGIN")
        try:
            self._merge_tier("rollup_1m", minutes)
            self._merge_tier("rollup_1h", hours(minutes).items())
            conn.execute("UPDATE meta SET value = ? WHERE key = 'rollup_through'", (self._last_raw_id,))
            conn.execute("COMMIT")
        except sqlite3.Error:
            self._rollback("writing the minute/hour tiers")  # the buffer is kept for the next pass
            if strict:
                raise
            return
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

    def _prune(self, now: float, strict: bool = False) -> None:
        """Drop what is past each tier's retention; the tiers are brought up to date first, so no raw row
        leaves before it is counted in them."""
        self._flush_rollups(strict=strict)
        if self._rolled_through != self._last_raw_id:
            return
        started = time.perf_counter()
        config, conn = self._config, self._conn
        host_ids = self._registry.host_ids()
        conn.execute("BEGIN")
        try:
            for sql, cutoff in (("DELETE FROM raw WHERE host_id = ? AND ts < ?", now - config.raw_window),
                                ("DELETE FROM rollup_1m WHERE host_id = ? AND bucket < ?",
                                 now - config.minute_retention),
                                ("DELETE FROM rollup_1h WHERE host_id = ? AND bucket < ?",
                                 now - config.hour_retention)):
                conn.executemany(sql, [(host_id, cutoff) for host_id in host_ids])
            for table in _RECORD_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE ts < ?", (now - config.record_retention,))
            conn.execute("COMMIT")
        except sqlite3.Error:
            self._rollback("pruning")
            if strict:
                raise
            return
        self.counters.write_seconds_total += time.perf_counter() - started

    def _rollback(self, doing: str) -> None:
        log.exception("history store: %s failed, rolled back", doing)
        self.counters.write_errors += 1
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
        self._registry.reload()  # ids handed out inside the failed transaction do not exist


def _metrics_of(payload: bytes) -> Mapping | None:
    """The ``metrics`` object of a metrics message as received (None, so malformed, if it has none)."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return body.get("metrics") if isinstance(body, dict) else None
