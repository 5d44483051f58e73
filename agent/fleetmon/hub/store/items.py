"""What travels on the writer's queue, and the rows it becomes.

Queue items are tuples tagged by their first element (cheap to build on the ingest path):
``(SAMPLE, host, session, seq, ts, metrics, backfill)`` or ``(kind, record)`` for the other kinds. Records
travel as the caller made them and are converted here, in the writer, so that a value that cannot be
converted is one refused item, never an exception in the caller.
"""

import json
import math
from collections.abc import Mapping

import orjson

SAMPLE, CHECK, EVENT, STATE_CHANGE, ALERT = "sample", "check", "event", "state_change", "alert"

RECORD_SQL = {
    CHECK: "INSERT INTO checks (host, ts, name, ok, value, message) VALUES (?, ?, ?, ?, ?, ?)",
    EVENT: "INSERT INTO events (host, ts, kind, message, details) VALUES (?, ?, ?, ?, ?)",
    STATE_CHANGE: "INSERT INTO state_changes (host, ts, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?)",
    ALERT: "INSERT INTO alerts (fingerprint, labels, status, starts_at, ends_at, ts, source) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)",
}
RECORD_TABLES = ("checks", "events", "state_changes", "alerts")
RAW_SQL = "INSERT OR IGNORE INTO raw (host_id, ts, session, seq, layout_id, vals) VALUES (?, ?, ?, ?, ?, ?)"
_INT64 = range(-2**63, 2**63)  # what an SQLite INTEGER holds


def record_row(kind: str, record: tuple) -> tuple:
    """The row of a check, event, state change or alert record."""
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


def sample_metrics(host: object, session: object, seq: object, ts: object, metrics: object) -> Mapping | None:
    """The ``metrics`` mapping of a sample whose identity SQLite can store; None when the sample is
    malformed: a host that is not a non-empty string, a session or seq that is not an integer SQLite holds,
    a time that is not a finite number, or no metrics object. ``metrics`` given as the received message's
    JSON bytes is decoded here."""
    if isinstance(metrics, bytes):
        metrics = _metrics_of(metrics)
    return metrics if storable_identity(host, session, seq, ts) and isinstance(metrics, Mapping) else None


def storable_identity(host: object, session: object, seq: object, ts: object) -> bool:
    """Whether SQLite can store a sample's identity: a non-empty host, integer session and seq it holds, a
    finite time."""
    return (isinstance(host, str) and bool(host) and type(session) is int and session in _INT64
            and type(seq) is int and seq in _INT64 and type(ts) in (float, int) and finite(ts))


def finite(value: float) -> bool:
    """Whether ``value`` is a number a double holds: not NaN, not infinite, not an integer past its range."""
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
