"""How long each tier keeps data, how writes are batched, and which tier answers a query."""

from dataclasses import dataclass

from fleetmon.hub.store.remote_config import RemoteReadConfig, RemoteWriteConfig

RAW, MINUTE, HOUR = "raw", "1m", "1h"
TIERS = (RAW, MINUTE, HOUR)
BUCKET_SECONDS = {MINUTE: 60, HOUR: 3600}

DAY = 86400.0


@dataclass(slots=True, frozen=True)
class StoreConfig:
    raw_window: float = DAY  # seconds of raw samples kept
    minute_retention: float = 14 * DAY
    hour_retention: float = 365 * DAY
    record_retention: float = 30 * DAY  # checks, events, state changes, alert history
    batch_size: int = 2000  # samples and records per write transaction, at most
    flush_interval: float = 1.0  # longest a queued write waits for its batch to fill
    queue_size: int = 10_000  # writes waiting for the writer (a queued sample holds ~15 KB of Python objects);
    # beyond it they are dropped and counted
    rollup_interval: float = 60.0  # how often open minute/hour aggregates are written
    prune_interval: float = 600.0
    busy_timeout: float = 10.0  # how long a write waits for a lock another process holds before it is retried
    raw_max_span: float = 2 * 3600.0  # auto tier: raw answers ranges up to this long ...
    minute_max_span: float = 3 * DAY  # ... the minute tier up to this long, the hour tier beyond
    remote_write: RemoteWriteConfig | None = None  # every stored sample also sent to a long-term store
    remote_read: RemoteReadConfig | None = None  # the console's charts read from a long-term store

    def __post_init__(self) -> None:
        for name in ("raw_window", "minute_retention", "hour_retention", "record_retention", "flush_interval",
                     "rollup_interval", "prune_interval", "busy_timeout", "raw_max_span", "minute_max_span"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.batch_size < 1 or self.queue_size < 1:
            raise ValueError("batch_size and queue_size must be at least 1")


def pick_tier(config: StoreConfig, start: float, end: float, now: float) -> str:
    """The finest tier that still holds the whole range and keeps the answer small.

    raw      the range is at most ``raw_max_span`` long and starts inside the raw window;
    1m       the range is at most ``minute_max_span`` long and starts inside the minute retention;
    1h       anything else.
    """
    span = end - start
    if span <= config.raw_max_span and start >= now - config.raw_window:
        return RAW
    if span <= config.minute_max_span and start >= now - config.minute_retention:
        return MINUTE
    return HOUR


def pick_tier_for_buckets(config: StoreConfig, start: float, end: float, width: float, now: float) -> str:
    """The tier for a read cut into buckets ``width`` seconds wide (a heatmap): the coarsest whose own
    bucket still fits into one (fewer rows to read, the same means), never finer than ``pick_tier`` (a finer
    tier may not hold the whole range)."""
    fitting = HOUR if width >= BUCKET_SECONDS[HOUR] else MINUTE if width >= BUCKET_SECONDS[MINUTE] else RAW
    return max(fitting, pick_tier(config, start, end, now), key=TIERS.index)
