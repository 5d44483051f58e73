"""When the entries kept so far become a batch: the decision, on an injected clock.

One message per entry would cost a broker round trip and a hub transaction per line; one per minute
would make the console's live tail useless. A batch closes when it holds ``batch_lines`` entries or
``MAX_BATCH_BYTES`` of messages (an MQTT message stays small whatever the lines are), or
``batch_interval`` after its first entry. Drops by the rate limit are news too: with nothing else to
send, they go out alone ``batch_interval`` after the previous batch; so does a cursor that moved past
entries the filters did not keep (nothing is sent, the cursor is saved).
"""

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

#: Message bytes in one batch (an estimate: characters plus a per-entry overhead); past this it closes early.
MAX_BATCH_BYTES = 160 * 1024
#: The bound on one encoded batch. The hub refuses a message over its ``max_message_bytes`` (256 KiB by
#: default) whole, after the broker has acknowledged it; a batch whose escaped JSON outgrew the estimate
#: (control characters, non-ASCII text) is split to stay under this, and a single entry's message is cut.
MAX_PAYLOAD_BYTES = 192 * 1024
#: What a message cut to fit ends with.
CUT = "…[cut]"

Entries = List[Dict[str, Any]]
Encode = Callable[[Entries, Optional[Mapping[str, int]]], bytes]


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


def split_to_fit(entries: Entries, dropped: Optional[Mapping[str, int]], encode: Encode,
                 limit: int = MAX_PAYLOAD_BYTES) -> List[Tuple[Entries, Optional[Mapping[str, int]]]]:
    """The batch as consecutive parts whose encoding is at most ``limit`` bytes, oldest first; the drop counts
    go with the first part. Halved until each part fits; an entry too long alone has its message cut."""
    if len(encode(entries, dropped)) <= limit:
        return [(entries, dropped)]
    if len(entries) <= 1:
        return [([_cut_to_fit(entry, dropped, encode, limit) for entry in entries], dropped)]
    half = len(entries) // 2
    return split_to_fit(entries[:half], dropped, encode, limit) + split_to_fit(entries[half:], None, encode, limit)


def _cut_to_fit(entry: Dict[str, Any], dropped: Optional[Mapping[str, int]], encode: Encode,
                limit: int) -> Dict[str, Any]:
    message = entry["message"]
    keep = len(message)
    while keep > 0:
        keep //= 2
        cut = dict(entry, message=message[:keep] + CUT)
        if len(encode([cut], dropped)) <= limit:
            return cut
    return dict(entry, message=CUT)
