"""Getting log batches to the broker in order, through the log spool while it is away, and the cursor.

A batch goes straight to the broker only when nothing older waits: the log spool is empty, the broker is
there (and the hub, once one has been seen: a broker restarted without persistence holds no session of
the hub to queue for) and fewer than ``IN_FLIGHT_WINDOW`` batches await the broker's acknowledgement.
Otherwise it goes to the log spool (``fleetmon.agent.spool.Spool`` in a directory of its own, with its own
bounds; at the bound the oldest batches go first, counted), which is drained oldest first whenever
delivery is possible again. A batch published before the connection dropped stays in flight: paho sends
it again on reconnect, ahead of anything newer. A batch still unacknowledged when the agent stops is
spooled: sent twice perhaps (the hub keeps one copy per cursor), never lost.

The resume cursor advances only past batches the broker acknowledged or the spool holds, and only in
the order they were made, so an agent restarted at any moment resumes without a gap. It is written at
most every ``CURSOR_SAVE_INTERVAL`` seconds (and always on stop): an older cursor after a crash costs
duplicates, not losses.
"""

import json
import logging
import time
from collections import deque
from typing import Any, Callable, Deque, Optional

from fleetmon.agent.logs.cursor import CursorFile
from fleetmon.agent.spool import Spool

log = logging.getLogger("fleetmon.agent.logs")

#: Batches published and not yet acknowledged by the broker; more wait in the spool.
IN_FLIGHT_WINDOW = 20
#: Seconds between writes of the cursor file while batches flow.
CURSOR_SAVE_INTERVAL = 5.0
_ACK_POLL = 0.02


class _Mark:
    """One batch's place in the journal: settled once the batch is with the broker or in the spool."""

    __slots__ = ("cursor", "settled")

    def __init__(self, cursor: Optional[str], settled: bool) -> None:
        self.cursor, self.settled = cursor, settled


class _InFlight:
    __slots__ = ("info", "lines", "mark", "payload", "seq", "spooled_as")

    def __init__(self, info: Any, seq: int, payload: bytes, lines: Optional[int], mark: Optional[_Mark],
                 spooled_as: Optional[str]) -> None:
        self.info, self.seq, self.payload, self.lines = info, seq, payload, lines
        self.mark = mark  # a live batch: its place in the journal
        self.spooled_as = spooled_as  # a batch from the spool: its name there, removed once acknowledged


class LogDelivery:
    """Used by the shipper's thread alone; ``publish`` (the daemon's MQTT link) is thread-safe."""

    def __init__(self, spool: Spool, session: int, publish: Callable[[bytes], Any],
                 can_deliver: Callable[[], bool], cursor_file: CursorFile,
                 saved_cursor: Optional[str] = None, clock: Callable[[], float] = time.monotonic,
                 window: int = IN_FLIGHT_WINDOW) -> None:
        self.spool = spool
        self.session = session
        self._publish = publish  # payload -> MQTTMessageInfo, or None when the broker is away
        self._can_deliver = can_deliver
        self._cursor_file = cursor_file
        self._clock = clock
        self.window = window
        self._in_flight: Deque[_InFlight] = deque()
        self._marks: Deque[_Mark] = deque()
        self._settled_cursor = saved_cursor
        self._saved_cursor = saved_cursor  # what the cursor file holds
        self._saved_at = float("-inf")
        self.published_lines = 0
        self.spool_write_failures = 0

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def saved_cursor(self) -> Optional[str]:
        return self._saved_cursor

    def hand_over(self, seq: int, payload: Optional[bytes], lines: int, cursor: Optional[str]) -> None:
        """A closed batch (``payload`` None: entries were read and none kept, only the cursor moves)."""
        mark = _Mark(cursor, settled=True)
        if payload is not None:
            info = None
            if not len(self.spool) and len(self._in_flight) < self.window and self._can_deliver():
                info = self._publish(payload)
            if info is None:
                self._spool(seq, payload)
            else:
                mark.settled = False
                self._in_flight.append(_InFlight(info, seq, payload, lines, mark, None))
        if cursor is not None:
            self._marks.append(mark)
        self._advance()

    def tick(self) -> None:
        """Take the broker's acknowledgements, send spooled batches if delivery is possible, save the cursor."""
        self._collect_acks()
        self._drain()
        self._advance()

    def close(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the batches in flight; spool the live ones still unconfirmed."""
        deadline = self._clock() + timeout
        while self._in_flight and self._clock() < deadline:
            self._collect_acks()
            if self._in_flight:
                time.sleep(_ACK_POLL)
        for item in self._in_flight:
            if item.mark is not None:
                self._spool(item.seq, item.payload)
                item.mark.settled = True
        self._in_flight.clear()
        self._advance(force=True)

    def _collect_acks(self) -> None:
        if not self._in_flight:
            return
        waiting: Deque[_InFlight] = deque()
        for item in self._in_flight:
            if not item.info.is_published():
                waiting.append(item)
                continue
            if item.spooled_as is not None:
                self.spool.remove(item.spooled_as)
            if item.mark is not None:
                item.mark.settled = True
            self.published_lines += item.lines if item.lines is not None else _lines_in(item.payload)
        self._in_flight = waiting

    def _drain(self) -> None:
        if not len(self.spool) or len(self._in_flight) >= self.window or not self._can_deliver():
            return
        sending = {item.spooled_as for item in self._in_flight if item.spooled_as is not None}
        for name in self.spool.names():
            if len(self._in_flight) >= self.window:
                return
            if name in sending:
                continue
            payload = self.spool.read(name)
            if payload is None:
                continue  # vanished from disk: the spool forgot it
            info = self._publish(payload)
            if info is None:
                return
            self._in_flight.append(_InFlight(info, 0, payload, None, None, name))

    def _spool(self, seq: int, payload: bytes) -> None:
        try:
            dropped = self.spool.put(self.session, seq, payload)
        except OSError as exc:
            self.spool_write_failures += 1
            log.error("cannot spool a log batch (%s): its entries are lost", exc)
            return
        if dropped:
            log.warning("log spool full: dropped the %d oldest batches", dropped)

    def _advance(self, force: bool = False) -> None:
        while self._marks and self._marks[0].settled:
            self._settled_cursor = self._marks.popleft().cursor
        if self._settled_cursor is None or self._settled_cursor == self._saved_cursor:
            return
        now = self._clock()
        if not force and now - self._saved_at < CURSOR_SAVE_INTERVAL:
            return
        try:
            self._cursor_file.save(self._settled_cursor)
        except OSError as exc:
            log.warning("cannot save the journal cursor: %s", exc)
            return
        self._saved_cursor, self._saved_at = self._settled_cursor, now


def _lines_in(payload: bytes) -> int:
    try:
        return len(json.loads(payload).get("entries", ()))
    except (ValueError, AttributeError):
        return 0
