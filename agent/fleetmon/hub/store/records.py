"""The values the store keeps and returns besides metric samples."""

from typing import Any, NamedTuple

from fleetmon.hub.model import StateChange  # noqa: F401 -- part of the store's vocabulary


class QueriedSeries(NamedTuple):
    """One series of a query answer (``Store.query``; the API answers it as its ``_asdict()``).

    ``points`` are ``(ts, value)`` from the raw tier, or ``(bucket_start, min, avg, max)`` from a rollup
    tier; ``tier`` says which answered.
    """

    name: str
    labels: dict[str, str]
    tier: str
    points: list[tuple[float, ...]]


class BucketedSeries(NamedTuple):
    """One series of a read over many hosts cut into equal time buckets (``Store.bucketed``).

    ``buckets`` maps a bucket's index to ``[sum, count, last_ts, last]``: the sum and count of the samples
    that fell in it, and the time and value of its last one. Read from a rollup tier, ``last`` is the last
    minute's (or hour's) max: for a counter, its last reading, which is what a rate needs.
    """

    host: str
    name: str
    labels: dict[str, str]
    buckets: dict[int, list[float]]


class CheckRecord(NamedTuple):
    """One check result as the hub stored it (the agent's own is fleetmon.protocol.check_results.CheckResult)."""

    host: str
    ts: float
    name: str
    ok: bool
    value: float | None
    message: str


class Event(NamedTuple):
    host: str
    ts: float
    kind: str
    message: str
    details: dict[str, Any]


class AlertRecord(NamedTuple):
    """One alert transition as the hub saw it (Alertmanager field names in the protocol)."""

    fingerprint: str
    labels: dict[str, str]
    status: str  # "firing" or "resolved"
    starts_at: str
    ends_at: str
    ts: float
    source: str = ""  # "edge" (from an agent) or "fleet" (a hub rule)
