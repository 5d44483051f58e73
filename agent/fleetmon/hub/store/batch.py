"""One batch of queued items written in one transaction, with its poison items isolated.

The fast path inserts the whole batch with one statement per table. When it fails for a reason that is
not the environment's (``failures.environmental_reason``), one item is at fault: the batch is written
again item by item, each in its own savepoint; the items that fail are rolled back alone and counted as
malformed, and the rest is written. A failure of the environment goes up to the writer, which keeps the
batch and retries it whole.

A batch's raw rows commit first; their aggregates wait in ``OpenFile.buffer`` until the next rollup pass
(see ``tiers``).
"""

import logging
import time
from dataclasses import dataclass, field

from fleetmon.hub.store.codec import pack_values
from fleetmon.hub.store.counters import Counters
from fleetmon.hub.store.failures import describe, environmental_reason
from fleetmon.hub.store.items import RAW_SQL, RECORD_SQL, SAMPLE, record_row, sample_metrics, storable_identity
from fleetmon.hub.store.openfile import OpenFile

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What a batch transaction did, applied to the counters and the rollup buffer only once it committed."""

    pending: list[tuple] = field(default_factory=list)  # (host id, ts, series ids, values, backfill) inserted
    rows: int = 0  # raw rows offered (inserted or duplicate)
    records: int = 0
    samples_malformed: int = 0
    series_malformed: int = 0
    records_malformed: int = 0
    refused: str = ""  # the first item failure, for the log


def write_batch(file: OpenFile, batch: list[tuple], counters: Counters) -> None:
    """Write ``batch`` and count what became of each item; raises only the environment's failures."""
    started = time.perf_counter()
    try:
        outcome = _in_one_transaction(file, batch)
    except Exception as exc:  # the environment's failures go up, an item's are isolated
        if environmental_reason(exc) is not None:
            raise
        counters.write_errors += 1
        _rollback(file)
        outcome = _item_by_item(file, batch)
    for host_id, ts, ids, values, _ in outcome.pending:
        file.buffer.add(host_id, ts, ids, values)
    elapsed = time.perf_counter() - started
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


def _in_one_transaction(file: OpenFile, batch: list[tuple]) -> Outcome:
    """The fast path: the whole batch in one transaction, rows inserted with one statement per table."""
    conn, outcome = file.conn, Outcome()
    rows: list[tuple] = []
    records: dict[str, list[tuple]] = {}
    conn.execute("BEGIN")
    for item in batch:
        if item[0] != SAMPLE:
            records.setdefault(item[0], []).append(record_row(item[0], item[1]))
            continue
        staged = _stage(file, item, outcome)
        if staged is not None:
            rows.append(staged[0])
            outcome.pending.append(staged[1])
    before = conn.total_changes
    conn.executemany(RAW_SQL, rows)
    if conn.total_changes - before != len(rows):
        outcome.pending = _inserted_only(file, rows, outcome.pending)
    outcome.rows = len(rows)
    for kind, values in records.items():
        conn.executemany(RECORD_SQL[kind], values)
        outcome.records += len(values)
    _commit(file, bool(outcome.pending))
    return outcome


def _item_by_item(file: OpenFile, batch: list[tuple]) -> Outcome:
    """The batch again, each item in its own savepoint: an item that fails is rolled back alone."""
    conn, outcome = file.conn, Outcome()
    conn.execute("BEGIN")
    for item in batch:
        conn.execute("SAVEPOINT item")
        try:
            if item[0] == SAMPLE:
                staged = _stage(file, item, outcome)
                if staged is not None:
                    outcome.rows += 1
                    if conn.execute(RAW_SQL, staged[0]).rowcount == 1:
                        outcome.pending.append(staged[1])
            else:
                conn.execute(RECORD_SQL[item[0]], record_row(item[0], item[1]))
                outcome.records += 1
        except Exception as exc:  # whatever this one item raises, it alone is refused
            if environmental_reason(exc) is not None:
                raise
            conn.execute("ROLLBACK TO item")
            file.registry.reload()  # ids handed out for this item are gone with it
            if item[0] == SAMPLE:
                outcome.samples_malformed += 1
            else:
                outcome.records_malformed += 1
            outcome.refused = outcome.refused or f"{item[0]}: {describe(exc)}"
        conn.execute("RELEASE item")
    _commit(file, bool(outcome.pending))
    return outcome


def _stage(file: OpenFile, item: tuple, outcome: Outcome) -> tuple[tuple, tuple] | None:
    """A sample's raw row and what it adds to the rollups; None (counted) when it is malformed.

    A sample as received (bytes) in the shape of its host's previous one is read by that shape
    (``shapes``); any other goes the full path: decoded, each series looked up (``Registry.resolve``)."""
    _, host, session, seq, ts, wire, backfill = item
    registry = file.registry
    if type(wire) is bytes and storable_identity(host, session, seq, ts):
        host_id = registry.host_id(host)
        recalled = registry.recall(host_id, wire)
        if recalled is not None:
            shape, values = recalled
            ts = float(ts)
            return ((host_id, ts, session, seq, shape.layout_id, pack_values(values)),
                    (host_id, ts, shape.ids, values, backfill))
    metrics = sample_metrics(host, session, seq, ts, wire)
    if metrics is None:
        outcome.samples_malformed += 1
        return None
    host_id = registry.host_id(host)
    ids, values, bad = registry.resolve(host_id, metrics)
    outcome.series_malformed += bad
    layout_id = registry.layout_id(tuple(ids))
    if type(wire) is bytes:
        registry.remember(host_id, wire, ids, layout_id, values, bad)
    ts = float(ts)
    return (host_id, ts, session, seq, layout_id, pack_values(values)), (host_id, ts, ids, values, backfill)


def _commit(file: OpenFile, inserted: bool) -> None:
    if inserted:
        row = file.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'raw'").fetchone()
        last_raw_id = row[0]
    file.conn.execute("COMMIT")
    if inserted:
        file.last_raw_id = last_raw_id


def _rollback(file: OpenFile) -> None:
    if file.conn.in_transaction:
        file.conn.execute("ROLLBACK")
    file.registry.reload()  # ids handed out inside the failed transaction do not exist


def _inserted_only(file: OpenFile, rows: list[tuple], pending: list[tuple]) -> list[tuple]:
    """The samples whose raw row was really inserted (duplicates were ignored): the rows this batch added
    are exactly those above the last raw id; the first copy of a key in the batch is the one kept."""
    fresh = set(file.conn.execute("SELECT host_id, session, seq FROM raw WHERE id > ?", (file.last_raw_id,)))
    kept = []
    for row, sample in zip(rows, pending, strict=True):
        key = (row[0], row[2], row[3])
        if key in fresh:
            fresh.discard(key)
            kept.append(sample)
    return kept
