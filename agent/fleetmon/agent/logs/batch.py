"""When the entries kept so far become a batch: the decision, on an injected clock.

One message per entry would cost a broker round trip and a hub transaction per line; one per minute
would make the console's live tail useless. A batch closes when it holds ``batch_lines`` entries or
``MAX_BATCH_BYTES`` of messages (an MQTT message stays small whatever the lines are), or
``batch_interval`` after its first entry. Drops by the rate limit are news too: with nothing else to
send, they go out alone ``batch_interval`` after the previous batch; so does a cursor that moved past
entries the filters did not keep (nothing is sent, the cursor is saved).
"""

from typing import Any, Dict, List

#: Message bytes in one batch; past this the batch closes early.
MAX_BATCH_BYTES = 1024 * 1024


class BatchBuilder:
    def __init__(self, max_lines: int, interval: float, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self.max_lines = max_lines
        self.interval = interval
        self.max_bytes = max_bytes
        self._entries: List[Dict[str, Any]] = []
        self._bytes = 0
        self._opened_at = 0.0
        self._closed_at = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: Dict[str, Any], size: int, now: float) -> None:
        if not self._entries:
            self._opened_at = now
        self._entries.append(entry)
        self._bytes += size

    def is_due(self, now: float, pending: bool = False) -> bool:
        """Whether to close the batch at ``now`` (monotonic seconds); ``pending``: something besides entries
        waits to be handed over (drops to report, a cursor that moved past entries not kept)."""
        if self._entries:
            return (len(self._entries) >= self.max_lines or self._bytes >= self.max_bytes
                    or now - self._opened_at >= self.interval)
        return pending and now - self._closed_at >= self.interval

    def seconds_left(self, now: float) -> float:
        """Until an open batch is due by time (the interval when none is open)."""
        return max(0.0, self._opened_at + self.interval - now) if self._entries else self.interval

    def take(self, now: float) -> List[Dict[str, Any]]:
        """The batch's entries, oldest first; the next batch starts empty."""
        entries, self._entries, self._bytes = self._entries, [], 0
        self._closed_at = now
        return entries
