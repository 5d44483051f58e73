"""The per-unit rate limit on kept journal entries: a token bucket per source, and what it dropped.

One chatty unit must not crowd out the others, nor flood the broker and the hub: each source may send
``lines`` entries per ``per`` seconds on average and ``burst`` at once after a quiet spell. What is
dropped is never silent: it is counted per source, sent with the next batch (``dropped``) and kept as a
running total for the agent's ``fleetmon_agent_log_lines_dropped_total{unit}``.

A source is the entry's unit; an entry without one (the kernel, a process outside any unit) counts under
its identifier (``kernel`` for the kernel), or ``-`` when it has neither.
"""

from typing import Dict

from fleetmon.agent.logs.config import RateLimitConfig
from fleetmon.agent.logs.journal import JournalEntry

NO_SOURCE = "-"


def source_of(entry: JournalEntry) -> str:
    return entry.unit or entry.identifier or NO_SOURCE


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens, self.updated = tokens, updated


class RateLimiter:
    def __init__(self, config: RateLimitConfig) -> None:
        self.unlimited = config.lines == 0
        self.rate = config.lines / config.per  # tokens per second
        self.burst = float(config.burst)
        self._buckets: Dict[str, _Bucket] = {}
        self._dropped: Dict[str, int] = {}  # since take_dropped
        self.dropped_total: Dict[str, int] = {}

    def take(self, source: str, now: float) -> bool:
        """Spend one entry of ``source``'s allowance at ``now`` (monotonic seconds); False: dropped, and
        counted."""
        if self.unlimited:
            return True
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        self._dropped[source] = self._dropped.get(source, 0) + 1
        self.dropped_total[source] = self.dropped_total.get(source, 0) + 1
        return False

    @property
    def has_dropped(self) -> bool:
        """Whether drops wait to be reported in a batch."""
        return bool(self._dropped)

    def take_dropped(self) -> Dict[str, int]:
        """The drops per source since the previous call, for the batch being closed."""
        dropped, self._dropped = self._dropped, {}
        return dropped
