"""Keeping the minute/hour tiers up to date, and retention.

Crash safety of the tiers: a batch commits raw rows first; their aggregates wait in memory and are merged
into the tier tables every ``rollup_interval`` in one transaction that also advances
``meta.rollup_through`` (the highest raw id now counted in the tiers). On start, raw rows above it are
aggregated again (see ``openfile``), so a crash loses no aggregate and a restart counts none twice.
"""

import time
from collections.abc import Iterable

from fleetmon.hub.store.codec import pack_aggregates, unpack_aggregates
from fleetmon.hub.store.config import StoreConfig
from fleetmon.hub.store.counters import Counters
from fleetmon.hub.store.items import RECORD_TABLES
from fleetmon.hub.store.openfile import OpenFile
from fleetmon.hub.store.rollup import Aggregates, hours, merge

#: The tables whose rows are kept per host, with the column that dates a row.
_PER_HOST = (("raw", "ts"), ("rollup_1m", "bucket"), ("rollup_1h", "bucket"))


def flush_rollups(file: OpenFile, counters: Counters) -> None:
    """Merge the buffered minute aggregates (and the hours they make) into the tier tables; on a failure
    the buffer is rebuilt from the raw rows when the connection is opened again."""
    if not file.buffer and file.rolled_through == file.last_raw_id:
        return
    started = time.perf_counter()
    conn = file.conn
    minutes = file.buffer.minutes.items()
    conn.execute("BEGIN")
    merge_tier(file, "rollup_1m", minutes)
    merge_tier(file, "rollup_1h", hours(minutes).items())
    conn.execute("UPDATE meta SET value = ? WHERE key = 'rollup_through'", (file.last_raw_id,))
    conn.execute("COMMIT")
    file.rolled_through = file.last_raw_id
    file.buffer.clear()
    counters.write_seconds_total += time.perf_counter() - started


def merge_tier(file: OpenFile, table: str, buckets: Iterable[tuple[tuple[int, int], Aggregates]]) -> None:
    registry, conn = file.registry, file.conn
    select = f"SELECT layout_id, data FROM {table} WHERE host_id = ? AND bucket = ?"
    rows = []
    for key, aggregates in buckets:
        stored = conn.execute(select, key).fetchone()
        if stored is not None:  # late data, or a bucket written by an earlier pass
            layout, packed = registry.layout(stored[0]), unpack_aggregates(stored[1])
            merged: Aggregates = dict(zip(layout, map(list, packed), strict=True))
            merge(merged, aggregates)
            aggregates = merged
        ids = tuple(aggregates)
        rows.append((*key, registry.layout_id(ids), pack_aggregates([aggregates[sid] for sid in ids])))
    conn.executemany(f"INSERT OR REPLACE INTO {table} (host_id, bucket, layout_id, data) VALUES (?, ?, ?, ?)",
                     rows)


def retention_cutoffs(config: StoreConfig, now: float) -> dict[str, float]:
    """Table -> the oldest time it keeps at ``now``: rows dated before it are past their retention."""
    cutoffs = {"raw": now - config.raw_window, "rollup_1m": now - config.minute_retention,
               "rollup_1h": now - config.hour_retention}
    return cutoffs | dict.fromkeys(RECORD_TABLES, now - config.record_retention)


def prune(file: OpenFile, config: StoreConfig, counters: Counters, now: float) -> None:
    """Drop what is past each tier's retention; the tiers are brought up to date first, so no raw row
    leaves before it is counted in them."""
    flush_rollups(file, counters)
    started = time.perf_counter()
    conn, cutoffs = file.conn, retention_cutoffs(config, now)
    host_ids = file.registry.host_ids()
    conn.execute("BEGIN")
    for table, column in _PER_HOST:  # per host: each is a range of the (host_id, time) index
        conn.executemany(f"DELETE FROM {table} WHERE host_id = ? AND {column} < ?",
                         [(host_id, cutoffs[table]) for host_id in host_ids])
    for table in RECORD_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE ts < ?", (cutoffs[table],))
    conn.execute("COMMIT")
    counters.write_seconds_total += time.perf_counter() - started
