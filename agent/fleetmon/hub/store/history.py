"""Store: the hub's history, the one object the rest of the hub talks to.

Writes are queued and never block the caller: when the queue is full the write is dropped and counted
(``counters.samples_dropped``, and by reason in ``counters.dropped``). A single writer, in its own process
(see ``process``), batches them into SQLite; queries run on their own read-only connections. See ``schema``
for the tables, ``tiers`` for how the tiers stay exact, and ``failures`` and ``retry`` for what happens when
writes fail: ``problem()`` says so in a sentence while they do.
"""

import logging
import multiprocessing
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence

from fleetmon.hub.store.config import TIERS, StoreConfig, pick_tier, pick_tier_for_buckets
from fleetmon.hub.store.failures import describe
from fleetmon.hub.store.items import ALERT, CHECK, EVENT, SAMPLE, STATE_CHANGE
from fleetmon.hub.store.process import SHARED_SIZE, TEXT_SIZE, CounterView, serve
from fleetmon.hub.store.query import Reader
from fleetmon.hub.store.records import AlertRecord, BucketedSeries, CheckRecord, Event, QueriedSeries, StateChange
from fleetmon.hub.store.remote_http import RemoteError
from fleetmon.hub.store.remote_read import LongTermReader
from fleetmon.hub.store.remote_write import RemoteWriteProcess
from fleetmon.hub.store.schema import connect, migrate

log = logging.getLogger(__name__)

_POLL = 0.5  # how often a caller waiting on the writer checks that it is still alive
SEND_SIZE = 256  # writes shipped to the writer process in one message
#: Where a chart read was answered from (``chart_series``).
SQLITE, LONG_TERM = "sqlite", "long_term"


def _known_tier(tier: str) -> str:
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
    return tier


def drop_reason(failing_since: float, failing_reason: str) -> str:
    """Why the full queue could not take a write (the ``reason`` label of fleetmon_hub_db_dropped_total):
    while writes fail, the failure the queue filled up behind; else "queue_full": writes came faster than
    the writer took them."""
    return (failing_reason if failing_since else "") or "queue_full"


class Store:
    def __init__(self, path: str, config: StoreConfig | None = None) -> None:
        self.path = path
        self.config = config or StoreConfig()
        try:
            conn = connect(path)
            try:
                migrate(conn)  # here, so that a file of another schema version is refused by the constructor
            finally:
                conn.close()
        except sqlite3.Error as exc:  # disk full, read-only, locked, corrupt: the writer retries and recovers
            log.error("history store: %s cannot be opened for writing yet: %s", path, describe(exc))
        context = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
        self._items = context.Queue()
        self._results = context.Queue()
        self._shared = context.Array("d", SHARED_SIZE, lock=False)
        self._text = context.Array("c", TEXT_SIZE, lock=False)
        self._process = context.Process(target=serve, name="fleetmon-store-writer", daemon=True,
                                        args=(path, self.config, self._items, self._results, self._shared,
                                              self._text))
        self.counters = CounterView(self._shared, self._text)
        # The long-term store (docs/hub.md, "Long-term store"): fed by a process of its own, read by charts.
        self._remote_write = None if self.config.remote_write is None else RemoteWriteProcess(
            context, path, self.config.remote_write)
        self._long_term = None if self.config.remote_read is None else LongTermReader(self.config.remote_read)
        self.counters.remote_write, self.counters.long_term = self._remote_write, self._long_term
        self._episode = (0.0, 0, 0)  # (failing since, samples, records dropped while failing since then)
        self._reader = Reader(path, lambda: self.counters.databases_replaced)
        self._lock = threading.Lock()  # the pending batch, the counts of what was sent, the positions
        self._pending: list[tuple] = []
        self._sent = 0
        self._position = 0  # of the last item queued
        self._control_lock = threading.Lock()
        self._control_seq = 0
        self._stopped = threading.Event()
        self._sender = threading.Thread(target=self._send_loop, name="fleetmon-store-sender", daemon=True)

    # -- lifecycle

    def start(self) -> None:
        """Start the writer process; returns once pending aggregates from an earlier run are recovered."""
        self._process.start()
        while True:
            try:
                _, error = self._results.get(timeout=_POLL)
                break
            except queue.Empty:
                if not self._process.is_alive():
                    raise RuntimeError("the history store writer did not start") from None
        if error is not None:
            raise RuntimeError(f"the history store writer did not start: {error}")
        self._sender.start()
        if self._remote_write is not None:
            self._remote_write.start()

    @property
    def running(self) -> bool:
        return self._process.is_alive()

    def problem(self) -> str:
        """"" while history is being written; else why not, since when, and what it cost so far."""
        since = self.counters.failing_since
        if not since:
            return ""
        with self._lock:
            episode, samples, records = self._episode
        if episode != since:
            samples = records = 0
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
        dropped = f"{samples:,} samples" + (f" and {records:,} records" if records else "")
        return f"history writes failing since {stamp}: {self.counters.failure}; {dropped} dropped"

    @property
    def queue_depth(self) -> int:
        """Writes not yet taken by the writer (as of its last report, at most half a second old)."""
        with self._lock:
            return self._sent - self.counters.consumed + len(self._pending)

    def flush(self) -> None:
        """Block until everything queued so far is written, aggregates included."""
        self._control("flush")

    def prune(self, now: float | None = None) -> None:
        """Enforce retention now (the writer also does it every ``prune_interval``)."""
        self._control("prune", now)

    def close(self) -> None:
        """Write what is queued, stop the writer, close every connection."""
        if self._process.is_alive():
            self._control("stop")
            self._process.join()
        if self._remote_write is not None:
            self._remote_write.close()
        self._stopped.set()
        self._reader.close()

    def _control(self, action: str, now: float | None = None) -> None:
        with self._control_lock:
            if not self._process.is_alive():
                raise RuntimeError("the history store writer is not running")
            self._send_pending()
            self._control_seq += 1
            seq = self._control_seq
            self._items.put((action, now, seq))
            while True:
                try:
                    answer, error = self._results.get(timeout=_POLL)
                except queue.Empty:
                    if not self._process.is_alive():
                        raise RuntimeError("the history store writer stopped") from None
                    continue
                if answer == seq:
                    break
        if error is not None:
            raise RuntimeError(f"history store {action} failed: {error}")

    def _send_loop(self) -> None:
        """Ship a partly filled batch at least every half flush interval, so writes never wait long."""
        while not self._stopped.wait(self.config.flush_interval / 2):
            self._send_pending()

    def _send_pending(self) -> None:
        with self._lock:  # put under the lock too: the writer must receive items in the order of their positions
            batch, self._pending = self._pending, []
            self._sent += len(batch)
            if batch:
                self._items.put(batch)  # only appends to the queue's buffer: its feeder thread pickles and sends

    # -- writes (never block)

    @property
    def durable_position(self) -> int:
        """Every item queued at a position up to this one is settled: committed to SQLite, or rejected for
        good as malformed (and counted). It never passes an item whose write failed and is being retried;
        it lags a commit by at most half a second (the writer process publishes its counters that often)."""
        return self.counters.durable_position

    def write_sample(self, host: str, session: int, seq: int, ts: float, metrics: Mapping[str, object] | bytes,
                     backfill: bool = False) -> int | None:
        """Queue one sample: its position in this store's write order, or None when it was dropped.

        Every queued item, sample or record, takes the next position (1, 2, ...; per Store instance), and
        the writer settles them in that order, so ``durable_position`` says which are in the database.

        ``metrics`` is the wire form (not modified afterwards), or — what the hub passes — the metrics
        message's JSON bytes as received: the writer process reads them again (by the shape of the host's
        previous sample, ``shapes``, or decoding them), because pickling the decoded mapping across the pipe
        costs the ingest thread ~100 µs a sample (bytes: ~4 µs).
        Malformed entries inside ``metrics`` are skipped and counted by the writer, not raised here.
        """
        return self._put((SAMPLE, host, session, seq, ts, metrics, backfill), sample=True)

    # Records travel as they are: the writer converts them, so a value that cannot be stored is one refused
    # (counted) item there, never an exception here.

    def write_check(self, result: CheckRecord) -> int | None:
        return self._put((CHECK, result))

    def write_event(self, event: Event) -> int | None:
        return self._put((EVENT, event))

    def write_state_change(self, change: StateChange) -> int | None:
        return self._put((STATE_CHANGE, change))

    def write_alert(self, record: AlertRecord) -> int | None:
        return self._put((ALERT, record))

    def _put(self, item: tuple, sample: bool = False) -> int | None:
        with self._lock:
            if self._sent - self.counters.consumed + len(self._pending) >= self.config.queue_size:
                self._count_drop(sample)
                return None
            self._pending.append(item)
            self._position += 1
            position = self._position
            full = len(self._pending) >= SEND_SIZE
        if full:
            self._send_pending()
        return position

    def _count_drop(self, sample: bool) -> None:
        """Under the lock: a write the full queue could not take, by why it is full."""
        counters = self.counters
        since = counters.failing_since
        key = ("sample" if sample else "record", drop_reason(since, counters.failing_reason_name))
        counters.dropped[key] = counters.dropped.get(key, 0) + 1
        episode, samples, records = self._episode if self._episode[0] == since else (since, 0, 0)
        if sample:
            counters.samples_dropped += 1
            samples += 1
        else:
            counters.records_dropped += 1
            records += 1
        self._episode = (episode, samples, records)

    # -- reads

    def query(self, host: str, metric: str, matchers: Mapping[str, str] | None = None, start: float = 0.0,
              end: float | None = None, tier: str | None = None) -> list[QueriedSeries]:
        """Series of ``metric`` on ``host`` whose labels equal every matcher, between ``start`` and ``end``
        (Unix seconds, inclusive; ``end`` defaults to now). The tier is picked by ``pick_tier`` unless given."""
        return self.query_many(host, (metric,), matchers, start, end, tier)

    def tier_for(self, start: float, end: float) -> str:
        """The tier a read of ``start..end`` without a tier is answered from (``pick_tier``, now)."""
        return pick_tier(self.config, start, end, time.time())

    def query_many(self, host: str, metrics: Sequence[str], matchers: Mapping[str, str] | None = None,
                   start: float = 0.0, end: float | None = None, tier: str | None = None,
                   max_points: int | None = None) -> list[QueriedSeries]:
        """``query`` for several metrics in one read of the host's rows, by metric then labels; with
        ``max_points`` (at least 2) each series is downsampled to at most that many points, each point then
        ``(bucket_start, min, avg, max)`` (fleetmon.hub.store.downsample)."""
        if max_points is not None and max_points < 2:
            raise ValueError("max_points must be at least 2")
        now = time.time()
        end = now if end is None else end
        tier = pick_tier(self.config, start, end, now) if tier is None else _known_tier(tier)
        return self._reader.query_many(host, metrics, matchers or {}, start, end, tier, max_points)

    def chart_series(self, host: str, metrics: Sequence[str], matchers: Mapping[str, str] | None, start: float,
                     end: float, tier: str, max_points: int | None) -> tuple[str, list[QueriedSeries]]:
        """``query_many`` for the console's charts: from the long-term store when one is configured
        (``history.remote_read``), else — or when it fails: logged, counted — from SQLite; with where the
        answer came from (SQLITE or LONG_TERM)."""
        long_term = self._long_term
        if long_term is not None:
            _known_tier(tier)
            try:
                found = long_term.query_many(host, metrics, matchers or {}, start, end, tier, max_points)
            except RemoteError as exc:
                long_term.failures += 1
                if not long_term.failing:
                    log.error("history: the long-term store failed a chart read, answering from SQLite until it "
                              "works again: %s", exc)
                long_term.failing = True
            else:
                long_term.reads += 1
                if long_term.failing:
                    log.info("history: the long-term store answers chart reads again")
                long_term.failing = False
                return LONG_TERM, found
        return SQLITE, self.query_many(host, metrics, matchers, start, end, tier, max_points)

    def bucketed(self, hosts: Sequence[str], metrics: Sequence[str], start: float, end: float, buckets: int,
                 tier: str | None = None) -> tuple[str, list[BucketedSeries]]:
        """The series of ``metrics`` on ``hosts`` cut into ``buckets`` equal buckets of ``start..end``, in one
        read over all the hosts; the tier (picked by ``pick_tier_for_buckets`` unless given) and the series."""
        if not start < end or buckets < 1:
            raise ValueError("bucketed reads need start before end and at least one bucket")
        if tier is None:
            tier = pick_tier_for_buckets(self.config, start, end, (end - start) / buckets, time.time())
        tier = _known_tier(tier)
        return tier, self._reader.bucketed(hosts, metrics, start, end, tier, buckets) if hosts else []

    def hosts(self) -> list[str]:
        return self._reader.hosts()

    def knows(self, host: str) -> bool:
        """Whether the history holds anything of ``host``'s samples."""
        return self._reader.knows(host)

    def series_names(self, host: str) -> list[str]:
        return self._reader.series_names(host)

    def series(self, host: str) -> list[tuple[str, dict[str, str]]]:
        """Every series stored for ``host``: (name, labels), by name then labels."""
        return self._reader.series(host)

    def state_changes(self, host: str, start: float, end: float, limit: int = 1000) -> list[StateChange]:
        """The newest ``limit`` liveness changes of ``host`` between ``start`` and ``end``, oldest first."""
        return self._reader.state_changes(host, start, end, limit)

    def checks(self, host: str, start: float, end: float, limit: int = 1000) -> list[CheckRecord]:
        """The newest ``limit`` check results of ``host`` (all its checks) between ``start`` and ``end``, oldest
        first."""
        return self._reader.checks(host, start, end, limit)

    def latest_state_changes(self, host: str, limit: int = 20) -> list[StateChange]:
        return self._reader.latest_state_changes(host, limit)

    def check_history(self, host: str, name: str, start: float, end: float) -> list[CheckRecord]:
        return self._reader.check_history(host, name, start, end)

    def events(self, host: str, start: float, end: float, limit: int = -1) -> list[Event]:
        """The newest ``limit`` events (all when negative) between ``start`` and ``end``, oldest first."""
        return self._reader.events(host, start, end, limit)

    def alert_history(self, start: float, end: float) -> list[AlertRecord]:
        return self._reader.alert_history(start, end)

    def latest_alerts(self) -> list[AlertRecord]:
        return self._reader.latest_alerts()

    def recent_sequences(self, since_ts: float) -> dict[str, dict[int, list[int]]]:
        """host -> session -> sorted seqs of the samples stored with ``ts >= since_ts`` (what a restarted
        hub already holds)."""
        return self._reader.recent_sequences(since_ts)
