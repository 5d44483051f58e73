"""Samples the hub has not confirmed yet: a small window in memory, the on-disk spool beyond it.

The broker's QoS 1 covers one hop only. A broker restarted without persistence, a hub killed before it
committed what it received, or a network cut lose samples that were "delivered", so the agent keeps every
sample until the hub says its history holds it (docs/protocol.md, "Delivery"):

- ``Spool``: one file per sample, named ``<session>-<seq>.json`` with zero padding, so the directory listing
  *is* the order and a restart picks up where the last run stopped. Files are written to a temporary name
  and renamed, so a crash never leaves half a sample. At the bound (count or bytes) the oldest samples are
  deleted and counted; the agent publishes that count as an event, so data is never lost silently.
- ``Outbox``: what is unconfirmed. A sample published live stays in memory for ``MEMORY_WINDOW`` seconds,
  which is far longer than the hub takes to confirm it (it acknowledges every ``ACK_INTERVAL``, 30 s): with
  a hub that confirms promptly nothing is written to disk. Agents run on Jetsons whose eMMC wears with
  every write, so writing each sample to disk "just in case" would cost flash for nothing. Only samples
  taken while the broker is away, or still unconfirmed after the window (the hub is away or behind), go to
  the spool; when the broker goes away, or the agent stops, the window is written there too (once).
  Confirmed samples are dropped from both.

Back-fill (spooled samples never sent, then those the hub asks for again) is handed out oldest first by
``next_backfill``; the daemon sends it only while the hub's retained status says it is online, so a
broker that restarted without the hub's session does not swallow it. A sample the hub asked for is sent
again at most every ``RESEND_HOLDOFF`` seconds (the request repeats while the gap is open); the live
publish does not count, as the hub only asks for a sample once a later one overtook it. Samples of an
earlier run of the agent (found in the spool at start) are confirmed by that session's ack when the hub
still has it retained; otherwise they are dropped once the broker has taken them, as the hub tracks
only a host's newest session.
"""

import bisect
import contextlib
import logging
import os
import threading
from collections import OrderedDict, deque
from typing import Callable, Deque, Dict, List, NamedTuple, Optional, Sequence, Tuple

log = logging.getLogger("fleetmon.agent.spool")

SUFFIX = ".json"
#: Seconds a published sample waits in memory for the hub's confirmation before it goes to the spool.
MEMORY_WINDOW = 120.0
#: The memory window's own bounds (the spool's bounds apply too, whichever is smaller).
MEMORY_SAMPLES = 1000
MEMORY_BYTES = 8 * 1024 * 1024
#: Seconds before a sample the hub asks for again is sent once more.
RESEND_HOLDOFF = 5.0


def entry_name(session: int, seq: int) -> str:
    return f"{session:010d}-{seq:012d}{SUFFIX}"


def _key(name: str) -> Tuple[int, int]:
    session, seq = name[: -len(SUFFIX)].split("-")
    return int(session), int(seq)


class Spool:
    def __init__(self, directory: str, max_samples: int, max_bytes: int) -> None:
        self.directory = directory
        self.max_samples = max_samples
        self.max_bytes = max_bytes
        self.dropped_total = 0
        self._lock = threading.Lock()
        os.makedirs(directory, mode=0o750, exist_ok=True)
        self._names: List[str] = []  # sorted: (session, seq) order
        self._sizes: Dict[str, int] = {}
        # name -> when it was last back-filled (monotonic); -inf: published live only; absent: never sent
        self._sent: Dict[str, float] = {}
        self._bytes = 0
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name.endswith(".tmp"):
                os.unlink(path)  # an interrupted write: never renamed, never counted
            elif name.endswith(SUFFIX):
                size = os.path.getsize(path)
                self._names.append(name)
                self._sizes[name] = size
                self._bytes += size
        if self._names:
            log.info("spool holds %d samples from an earlier run", len(self._names))

    def __len__(self) -> int:
        return len(self._names)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def put(self, session: int, seq: int, payload: bytes, sent_at: Optional[float] = None) -> int:
        """Store one sample (``sent_at``: it was sent already, see ``_sent``); returns how many of the oldest
        were dropped to stay within the bound."""
        name = entry_name(session, seq)
        path = os.path.join(self.directory, name)
        with open(path + ".tmp", "wb") as handle:
            handle.write(payload)
        os.replace(path + ".tmp", path)
        with self._lock:
            if name in self._sizes:
                self._bytes -= self._sizes[name]
            else:
                bisect.insort(self._names, name)
            self._sizes[name] = len(payload)
            self._bytes += len(payload)
            if sent_at is not None:
                self._sent[name] = sent_at
            dropped = 0
            while len(self._names) > 1 and (len(self._names) > self.max_samples or self._bytes > self.max_bytes):
                self._remove_locked(self._names[0])
                dropped += 1
            self.dropped_total += dropped
        return dropped

    def oldest(self) -> Optional[Tuple[str, bytes]]:
        """The oldest sample as (name, payload), or None; it stays until ``remove(name)``."""
        return self._first(lambda name: True)

    def oldest_unsent(self) -> Optional[Tuple[str, bytes]]:
        """The oldest sample never sent (in this run), or None."""
        return self._first(lambda name: name not in self._sent)

    def _first(self, wanted: Callable[[str], bool]) -> Optional[Tuple[str, bytes]]:
        with self._lock:
            index = 0
            while index < len(self._names):
                name = self._names[index]
                if wanted(name):
                    payload = self._read_locked(name)  # removes the name when its file vanished
                    if payload is not None:
                        return name, payload
                    continue
                index += 1
            return None

    def read(self, name: str) -> Optional[bytes]:
        with self._lock:
            return self._read_locked(name) if name in self._sizes else None

    def _read_locked(self, name: str) -> Optional[bytes]:
        try:
            with open(os.path.join(self.directory, name), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            log.warning("spooled sample %s vanished from disk", name)
            self._remove_locked(name)
            return None

    def mark_sent(self, name: str, now: float) -> None:
        with self._lock:
            if name in self._sizes:
                self._sent[name] = now

    def sent_at(self, name: str) -> Optional[float]:
        with self._lock:
            return self._sent.get(name)

    def names_between(self, session: int, first: int, last: int) -> List[str]:
        """Names of the samples of ``session`` with ``first <= seq <= last``, in order."""
        with self._lock:
            low = bisect.bisect_left(self._names, entry_name(session, max(0, first)))
            high = bisect.bisect_right(self._names, entry_name(session, min(last, 10 ** 12 - 1)))
            return self._names[low:high]

    def confirm(self, session: int, upto: int) -> int:
        """Remove every sample of ``session`` with seq <= ``upto``; returns how many."""
        names = self.names_between(session, 0, upto)
        with self._lock:
            for name in names:
                self._remove_locked(name)
        return len(names)

    def remove(self, name: str) -> None:
        with self._lock:
            self._remove_locked(name)

    def _remove_locked(self, name: str) -> None:
        size = self._sizes.pop(name, None)
        if size is not None:
            del self._names[bisect.bisect_left(self._names, name)]
            self._bytes -= size
            self._sent.pop(name, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.directory, name))

    def names(self) -> List[str]:
        with self._lock:
            return list(self._names)


class Backfill(NamedTuple):
    session: int
    seq: int
    payload: bytes


class _Published(NamedTuple):
    payload: bytes
    published_at: float  # monotonic
    resent_at: float = float("-inf")  # last back-filled again (monotonic); the live publish does not count


class Outbox:
    """The unconfirmed samples of this run (memory window + spool) and what to back-fill next.

    Thread-safe: the main loop adds samples, the MQTT thread applies the hub's acks, the drain thread
    takes back-fill.
    """

    def __init__(self, spool: Spool, session: int, memory_window: float = MEMORY_WINDOW) -> None:
        self.spool = spool
        self.session = session
        self.memory_window = memory_window
        self._lock = threading.Lock()
        self._memory: "OrderedDict[int, _Published]" = OrderedDict()  # seq -> published, in seq order
        self._memory_bytes = 0
        self._resend: Deque[int] = deque()  # seqs of this session the hub asked for, oldest first

    @property
    def in_memory(self) -> int:
        return len(self._memory)

    def published(self, seq: int, payload: bytes, now: float) -> int:
        """A live sample went out: keep it until confirmed. Returns spool drops caused by making room."""
        with self._lock:
            self._memory[seq] = _Published(payload, now)
            self._memory_bytes += len(payload)
        return self.expire(now)

    def spooled(self, seq: int, payload: bytes) -> int:
        """A sample that could not be published (the broker is away): to disk, to back-fill later."""
        return self.spool.put(self.session, seq, payload)

    def expire(self, now: float) -> int:
        """Move what outlived the memory window, or exceeds its bounds, to the spool."""
        moved: List[Tuple[int, _Published]] = []
        with self._lock:
            limit_samples = min(MEMORY_SAMPLES, self.spool.max_samples)
            limit_bytes = min(MEMORY_BYTES, self.spool.max_bytes)
            while self._memory:
                seq, entry = next(iter(self._memory.items()))
                if now - entry.published_at < self.memory_window and len(self._memory) <= limit_samples \
                        and self._memory_bytes <= limit_bytes:
                    break
                self._pop_locked(seq)
                moved.append((seq, entry))
        return sum(self.spool.put(self.session, seq, entry.payload, sent_at=entry.resent_at) for seq, entry in moved)

    def confirmed(self, session: int, upto: int) -> None:
        """The hub's history holds every sample of ``session`` up to ``upto``: let them go."""
        if session == self.session:
            with self._lock:
                while self._memory and next(iter(self._memory)) <= upto:
                    self._pop_locked(next(iter(self._memory)))
                while self._resend and self._resend[0] <= upto:
                    self._resend.popleft()
        self.spool.confirm(session, upto)

    def requested(self, session: int, ranges: Sequence[Tuple[int, int]]) -> int:
        """The hub asks for these seqs again (it replaces its previous request); returns how many are held."""
        if session != self.session:
            return 0
        wanted: List[int] = []
        with self._lock:
            for first, last in ranges:
                wanted.extend(seq for seq in self._memory if first <= seq <= last)
                wanted.extend(_key(name)[1] for name in self.spool.names_between(session, first, last))
            self._resend = deque(sorted(set(wanted)))
        return len(self._resend)

    def next_backfill(self, now: float) -> Optional[Backfill]:
        """What to send on the back-fill topic next: asked-for samples first, then spooled ones never sent."""
        with self._lock:
            while self._resend:
                seq = self._resend.popleft()
                entry = self._memory.get(seq)
                if entry is not None:
                    if now - entry.resent_at >= RESEND_HOLDOFF:
                        return Backfill(self.session, seq, entry.payload)
                    continue
                name = entry_name(self.session, seq)
                sent_at = self.spool.sent_at(name)
                if sent_at is None or now - sent_at >= RESEND_HOLDOFF:
                    payload = self.spool.read(name)
                    if payload is not None:
                        return Backfill(self.session, seq, payload)
        found = self.spool.oldest_unsent()
        if found is None:
            return None
        session, seq = _key(found[0])
        return Backfill(session, seq, found[1])

    def backfilled(self, item: Backfill, now: float) -> None:
        """The broker took ``item``. This run's samples wait for the hub's confirmation; an earlier run's
        are done (the hub tracks only the newest session)."""
        if item.session != self.session:
            self.spool.remove(entry_name(item.session, item.seq))
            return
        with self._lock:
            entry = self._memory.get(item.seq)
            if entry is not None:
                self._memory[item.seq] = entry._replace(resent_at=now)
                return
        self.spool.mark_sent(entry_name(item.session, item.seq), now)

    def spill(self) -> int:
        """Move the whole memory window to the spool: the broker is away (so this run may end before the
        hub confirms), or the agent stops. Returns spool drops."""
        with self._lock:
            entries = list(self._memory.items())
            self._memory.clear()
            self._memory_bytes = 0
        return sum(self.spool.put(self.session, seq, entry.payload, sent_at=entry.resent_at) for seq, entry in entries)

    def _pop_locked(self, seq: int) -> None:
        entry = self._memory.pop(seq)
        self._memory_bytes -= len(entry.payload)
