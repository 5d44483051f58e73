"""What the hub exports about its history store (fleetmon_hub_db_* on /metrics)."""

from dataclasses import dataclass, field

from fleetmon.hub.store.failures import REASONS


@dataclass(slots=True)
class Counters:
    """Written by the writer thread only, except ``samples_dropped`` and ``records_dropped`` (the callers',
    under the store's lock)."""

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
