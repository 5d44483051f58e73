"""End-to-end delivery of samples: per host session, which seqs are durably in history, which are missing,
and what to ask the agent to send again.

The broker's QoS 1 only covers one hop: a broker restarted without persistence, a hub killed between
receiving a sample and committing it, or a network cut lose samples that every hop believed delivered. So
the hub acknowledges, per host and end to end, what its history has *committed*, and names the gaps:

- ``received`` is told of every sample handed to the store, with the store's write position (None when
  the store dropped it: it then counts as missing and is asked for again);
- ``committed`` is told the store's durable position: samples at or below it are in SQLite;
- ``tick`` returns the acks to publish now (docs/protocol.md, "Delivery"): at once, but at most every
  ``GAP_ACK_SPACING`` seconds, when a new gap appears; again every ``REQUEST_INTERVAL`` while gaps stay
  open; otherwise on progress every ``ACK_INTERVAL`` (so a 1,000-host fleet at 10 s adds one small message
  per host every 30 s, not one per sample).
- A gap the agent no longer holds (its spool bound, a lost disk) must not be asked for forever: after
  ``GIVE_UP_REQUESTS`` requests in a row with no gap of that host filled in between, the open gaps are
  given up, counted in ``lost_total`` (fleetmon_hub_samples_lost_total) and acknowledged as settled.

A restarted hub first reads the seqs its history holds (``restore``), so that samples the broker queued
for it, or that agents send again, fill gaps instead of being asked for twice. Only the newest session of a
host is tracked: an agent drains what it spooled in an earlier run as back-fill, which the store keeps
(and deduplicates), but no gap of an older session is asked for.

Pure: no I/O, the clock is passed in; the hub serialises the calls (ingest thread and rules thread) with
its own lock.
"""

import bisect
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fleetmon.protocol.messages import Ack

#: How far back a restarting hub reads the history's seqs (``Store.recent_sequences``).
RESTORE_WINDOW = 3600.0
#: Seconds between two acks of a host that only report progress.
ACK_INTERVAL = 30.0
#: A new gap is asked for at once, but a host gets at most one ack this often.
GAP_ACK_SPACING = 2.0
#: Seconds between two requests for gaps that stay open.
REQUEST_INTERVAL = 10.0
#: Requests in a row, with no gap of the host filled in between, before its open gaps are given up.
GIVE_UP_REQUESTS = 6
#: Missing ranges named in one ack (the oldest first); the rest are asked for once these are filled.
MAX_RANGES = 32

Range = tuple[int, int]  # inclusive; Ack (protocol.messages) carries them


class _Ranges:
    """Disjoint, non-adjacent inclusive ranges of ints, sorted."""

    def __init__(self) -> None:
        self.items: list[list[int]] = []

    def add(self, start: int, end: int) -> None:
        items = self.items
        index = bisect.bisect_left(items, [start])
        if index > 0 and items[index - 1][1] >= start - 1:
            index -= 1
        stop = index
        while stop < len(items) and items[stop][0] <= end + 1:
            start, end = min(start, items[stop][0]), max(end, items[stop][1])
            stop += 1
        items[index:stop] = [[start, end]]

    def __contains__(self, seq: int) -> bool:
        index = bisect.bisect_right(self.items, [seq, float("inf")]) - 1
        return index >= 0 and self.items[index][0] <= seq <= self.items[index][1]


@dataclass(slots=True)
class _Session:
    session: int
    upto: int = 0
    highest: int = 0  # the highest seq heard of (stored, pending or dropped)
    done: _Ranges = field(default_factory=_Ranges)  # above upto: committed or given up
    pending: dict[int, int] = field(default_factory=dict)  # seq -> store position, not yet committed
    published: Ack | None = None
    published_at: float = float("-inf")
    filled: bool = False  # a missing seq arrived since the last request
    requests_unanswered: int = 0

    def settle(self, start: int, end: int) -> None:
        self.done.add(start, end)
        first = self.done.items[0] if self.done.items else None
        if first is not None and first[0] <= self.upto + 1:
            self.upto = max(self.upto, first[1])
            del self.done.items[0]

    def missing(self, limit: int | None = MAX_RANGES) -> tuple[Range, ...]:
        """Open gaps in (upto, highest], oldest first, at most ``limit`` ranges (None: all)."""
        found: list[Range] = []
        holes = sorted(self.pending)
        cursor = self.upto + 1
        for start, end in [*self.done.items, [self.highest + 1, self.highest + 1]]:
            for gap in _without(cursor, start - 1, holes):
                found.append(gap)
                if len(found) == limit:
                    return tuple(found)
            cursor = end + 1
        return tuple(found)


def _without(start: int, end: int, holes: list[int]) -> Iterable[Range]:
    """[start, end] minus the sorted ``holes``, as ranges."""
    index = bisect.bisect_left(holes, start)
    while start <= end:
        if index < len(holes) and holes[index] <= end:
            if holes[index] > start:
                yield start, holes[index] - 1
            start = holes[index] + 1
            index += 1
        else:
            yield start, end
            return


class DeliveryTracker:
    def __init__(self) -> None:
        self._hosts: dict[str, _Session] = {}
        self._pending: deque[tuple[int, str, int, int]] = deque()  # (position, host, session, seq) in order
        self.lost_total = 0

    def restore(self, sequences: Mapping[str, Mapping[int, list[int]]]) -> None:
        """What the history already holds (``Store.recent_sequences``): the newest session of each host.
        Seqs below the oldest one loaded were settled before the window that was read."""
        for host, sessions in sequences.items():
            if not sessions:
                continue
            session = max(sessions)
            seqs = sorted(sessions[session])
            if not seqs:
                continue
            state = _Session(session, upto=seqs[0] - 1, highest=seqs[-1])
            run_start = previous = seqs[0]
            for seq in seqs[1:]:
                if seq != previous + 1:
                    state.settle(run_start, previous)
                    run_start = seq
                previous = seq
            state.settle(run_start, previous)
            self._hosts[host] = state

    def received(self, host: str, session: int, seq: int, position: int | None) -> None:
        """A metrics sample handed to the store at ``position`` (None: the store dropped it)."""
        state = self._hosts.get(host)
        if state is None:
            # A host this hub knows nothing of (new, or silent for longer than the history it restored): what
            # came before the first sample heard is not asked for, it may well be stored already.
            state = self._hosts[host] = _Session(session, upto=seq - 1)
        elif session > state.session:
            state = self._hosts[host] = _Session(session)  # the agent restarted: its whole session is due
        elif session < state.session:
            return  # an earlier run's back-fill: stored, not tracked
        if seq <= state.upto or seq in state.done or seq in state.pending:
            return  # a duplicate
        state.highest = max(state.highest, seq)
        if position is not None:
            state.filled = state.filled or seq < state.highest
            state.pending[seq] = position
            self._pending.append((position, host, session, seq))

    def committed(self, durable_position: int) -> None:
        """Every store item at or below ``durable_position`` is committed (or permanently rejected)."""
        pending = self._pending
        while pending and pending[0][0] <= durable_position:
            _, host, session, seq = pending.popleft()
            state = self._hosts.get(host)
            if state is not None and state.session == session and state.pending.pop(seq, None) is not None:
                state.settle(seq, seq)

    def tick(self, now: float) -> list[Ack]:
        """The acks to publish now; records them as published (and gives up gaps asked for in vain)."""
        due = []
        for host, state in self._hosts.items():
            ack = self._due(host, state, now)
            if ack is not None:
                state.published, state.published_at = ack, now
                due.append(ack)
        return due

    def _due(self, host: str, state: _Session, now: float) -> Ack | None:
        since = now - state.published_at
        previous = state.published
        missing = state.missing()
        if missing:
            new_gap = previous is None or not _covered(missing, previous.missing)
            if not (since >= REQUEST_INTERVAL or (new_gap and since >= GAP_ACK_SPACING)):
                return None
            if state.filled:
                state.requests_unanswered = 0
            state.filled = False
            if state.requests_unanswered >= GIVE_UP_REQUESTS:
                for start, end in state.missing(limit=None):
                    self.lost_total += end - start + 1
                    state.settle(start, end)
                state.requests_unanswered = 0
                missing = state.missing()
            else:
                state.requests_unanswered += 1
            return Ack(host, state.session, state.upto, missing)
        ack = Ack(host, state.session, state.upto, ())
        closed = previous is not None and bool(previous.missing)  # tell the agent soon it may let go
        if ack == previous or since < (GAP_ACK_SPACING if closed else ACK_INTERVAL):
            return None
        return ack

    def ack(self, host: str) -> Ack | None:
        """The host's current delivery state as an ack (without publishing it)."""
        state = self._hosts.get(host)
        return None if state is None else Ack(host, state.session, state.upto, state.missing())

    def forget(self, hosts: Iterable[str]) -> None:
        for host in hosts:
            self._hosts.pop(host, None)


def _covered(ranges: tuple[Range, ...], by: tuple[Range, ...]) -> bool:
    """Every range in ``ranges`` lies inside one of ``by`` (no new gap since ``by`` was asked for)."""
    return all(any(b[0] <= start and end <= b[1] for b in by) for start, end in ranges)
