"""The writer thread: the only connection that writes. Drains the bounded queue in batches, one
transaction per batch (``batch``), keeps the minute/hour tiers up to date and enforces retention
(``tiers``).

Every piece of work runs as an attempt on an open connection. A failed attempt closes the connection, so
the next one starts from what the file holds, and is recorded in the failure episode (``retry``): the
environment's failures (``failures``) are retried with backoff, the batch kept and nothing more taken
from the queue meanwhile; an item's own are isolated inside ``batch``; anything else is logged and
counted, and the writer goes on.
"""

import functools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetmon.hub.store.batch import write_batch
from fleetmon.hub.store.config import StoreConfig
from fleetmon.hub.store.counters import Counters
from fleetmon.hub.store.items import SAMPLE
from fleetmon.hub.store.openfile import OpenFile, open_file
from fleetmon.hub.store.retry import FailureEpisode
from fleetmon.hub.store.schema import SchemaMismatch
from fleetmon.hub.store.tiers import flush_rollups, prune

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Control:
    """A request the writer handles in queue order: everything queued before it is written first."""

    action: str  # "flush", "prune" or "stop"
    now: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


class Writer(threading.Thread):
    def __init__(self, path: str, config: StoreConfig, items: queue.Queue, counters: Counters) -> None:
        super().__init__(name="fleetmon-store-writer", daemon=True)
        self._path = path
        self._config = config
        self._items = items
        self.counters = counters
        self.ready = threading.Event()
        self.startup_error: Exception | None = None
        #: Set before a stop request is queued: a batch that cannot be written then is given up, not retried.
        self.stopping = threading.Event()
        self._file: OpenFile | None = None
        self._episode = FailureEpisode(path, counters)
        self._next_rollup = self._next_prune = 0.0

    def run(self) -> None:
        try:
            replaced = self.counters.databases_replaced
            if self._attempt(self._prune_now, startup=True) and self.counters.databases_replaced > replaced:
                self._attempt(self._prune_now, startup=True)  # the new, empty file that replaced a corrupt one
        except SchemaMismatch as exc:  # a file of another schema version: refused, not retried
            self.startup_error = exc
            self.ready.set()
            return
        self.ready.set()
        try:
            self._loop()
        finally:
            self._close()

    # -- the connection

    def _open(self) -> None:
        self._file, replayed = open_file(self._path, self._config.busy_timeout)
        if replayed:
            log.info("history store: %d samples not yet in the minute/hour tiers, aggregating them", replayed)
            flush_rollups(self._file, self.counters)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _attempt(self, work: Callable[[OpenFile], None], startup: bool = False) -> Exception | None:
        """Run ``work`` on an open connection; on a failure record it, close the connection (the next
        attempt starts from what the file holds) and return it. At startup a schema version refusal is
        raised: that file is not ours to write."""
        try:
            if self._file is None:
                self._open()
            work(self._file)
        except Exception as exc:  # every failure is recorded, logged and retried
            self._close()
            if startup and isinstance(exc, SchemaMismatch):
                raise
            self._episode.failed(exc)
            return exc
        self._episode.succeeded()
        return None

    # -- the loop

    def _loop(self) -> None:
        now = time.monotonic()
        self._next_rollup = now + self._config.rollup_interval
        self._next_prune = now + self._config.prune_interval
        while True:
            try:
                if self._step():
                    return
            except Exception:  # a bug in one pass must not end all history
                log.exception("history store: unexpected failure in the writer; going on")
                self.counters.failures["unexpected"] += 1

    def _step(self) -> bool:
        """One pass: a batch, the periodic work that is due, a control request. True once stopped."""
        episode = self._episode
        failing = bool(self.counters.failing_since)
        wake = min(self._next_rollup, self._next_prune, episode.next_probe if failing else math.inf)
        try:
            first = self._items.get(timeout=max(0.0, wake - time.monotonic()))
        except queue.Empty:
            first = None
        batch, control = self._collect(first)
        if batch:
            self._settle(batch)
        now = time.monotonic()
        if now >= self._next_rollup:
            self._attempt(self._flush_rollups)
            self._next_rollup = now + self._config.rollup_interval
        if now >= self._next_prune:
            self._attempt(self._prune_now)
            self._next_prune = now + self._config.prune_interval
        if self.counters.failing_since and not batch and now >= episode.next_probe:
            episode.back_off()
            self._attempt(_probe)  # idle while failing: find out when writing works again
        if control is None:
            return False
        work = functools.partial(self._prune_now, now=control.now) if control.action == "prune" else self._flush_rollups
        if control.action != "stop" or not self.counters.failing_since:
            control.error = self._attempt(work)
        control.done.set()
        return control.action == "stop"

    def _settle(self, batch: list[tuple]) -> None:
        """Write ``batch``, retrying while the environment fails it; given up only when stopping."""
        while not self.counters.failing_since or not self.stopping.is_set():
            if self._attempt(functools.partial(write_batch, batch=batch, counters=self.counters)) is None:
                return
            if self.stopping.wait(self._episode.retry_delay):
                break
            self._episode.back_off()
        samples = sum(1 for item in batch if item[0] == SAMPLE)
        self.counters.writes_lost += len(batch)
        log.error("history store: stopping while writes fail (%s): %d samples and %d records not written",
                  self.counters.failure, samples, len(batch) - samples)

    def _collect(self, first: object) -> tuple[list[tuple], Control | None]:
        """Up to ``batch_size`` items, waiting at most ``flush_interval`` for the batch to fill; a control
        item ends the batch."""
        if first is None:
            return [], None
        if isinstance(first, Control):
            return [], first
        batch = [first]
        deadline = time.monotonic() + self._config.flush_interval
        get = self._items.get
        while len(batch) < self._config.batch_size:
            remaining = deadline - time.monotonic()
            try:
                item = get(timeout=remaining) if remaining > 0 else get(block=False)
            except queue.Empty:
                break
            if isinstance(item, Control):
                return batch, item
            batch.append(item)
        return batch, None

    # -- the periodic work, as attempts

    def _flush_rollups(self, file: OpenFile) -> None:
        flush_rollups(file, self.counters)

    def _prune_now(self, file: OpenFile, now: float | None = None) -> None:
        prune(file, self._config, self.counters, time.time() if now is None else now)


def _probe(file: OpenFile) -> None:
    """A write that changes nothing: succeeds once the database takes writes again."""
    file.conn.execute("BEGIN IMMEDIATE")
    file.conn.execute("UPDATE meta SET value = value WHERE key = 'rollup_through'")
    file.conn.execute("COMMIT")
