"""``history.remote_write``: every sample the store holds, sent on to a Prometheus remote-write receiver.

It runs in a process of its own that tails the raw tier of the SQLite file: it reads the rows above the
last one it sent (``raw.id`` only grows and rows commit in id order), turns them into one WriteRequest and
posts it. So:

- the ingest path does no work for it at all, and the SQLite writer none either: encoding in a thread
  beside either would take the GIL they need (see ``process``: a busy thread slows SQLite writes a
  thousandfold);
- exactly what was stored goes out, back-filled samples included, at their own timestamps; a duplicate
  the store ignored is not sent again;
- the backlog while the receiver is away is the raw tier itself, not memory: the process holds one request
  at a time. The backlog is bounded by ``max_backlog`` host-samples; beyond it the oldest are skipped and
  counted as dropped; samples the raw tier prunes (older than ``raw_window``) before they are sent are
  counted too, as the ids missing among the rows sent or skipped (``raw.id`` has no gaps but for them);
- its position is kept beside the database (``<db stem>.remote-write.json``), so a restarted hub goes on
  where it stopped. Samples stored before remote write was first configured are not sent.

Requests that fail with 5xx, 429 or a network error are retried with exponential backoff
(``min_backoff`` .. ``max_backoff``); any other 4xx refuses the samples for good: they are counted as
failed, the reason is logged once, and the next request goes on.

Series: ``__name__`` and the sample's own labels plus ``host``. The host's inventory groups are left out:
they change when the inventory does, and a label that changes splits a series into two in the store.
"""

import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from fleetmon.hub.store.codec import unpack_ids, unpack_values
from fleetmon.hub.store.prompb import HEADERS, compress, encode_labels, write_request
from fleetmon.hub.store.remote_config import RemoteWriteConfig
from fleetmon.hub.store.remote_http import Client, RemoteError
from fleetmon.hub.store.schema import connect

log = logging.getLogger(__name__)

_POLL = 0.25  # seconds between looks at the raw tier while it has nothing to send
_SAVE_EVERY = 1.0  # seconds between writes of the position file, at most


@dataclass(slots=True)
class RemoteWriteCounters:
    samples_sent: int = 0  # series samples the receiver took
    samples_failed: int = 0  # refused by the receiver with a 4xx other than 429: not retried
    samples_dropped: int = 0  # skipped: the backlog passed max_backlog while the receiver was away
    host_samples_pruned: int = 0  # pruned from the raw tier (past raw_window) before they were sent
    requests_retried: int = 0  # failed requests tried again (5xx, 429, network)
    backlog: int = 0  # host-samples stored and not yet sent
    failing_since: float = 0.0  # Unix time of the first failure of the request now being retried; 0: sending


FIELDS = tuple(f.name for f in fields(RemoteWriteCounters))


def position_path(db: str) -> Path:
    path = Path(db)
    return path.with_name(path.stem + ".remote-write.json")


class RemoteWriter:
    """Tails ``db``'s raw tier into ``config``'s receiver until ``stop`` is set (``run``), from the rows
    stored after its saved position (after the newest row, when it has none)."""

    def __init__(self, db: str, config: RemoteWriteConfig, counters: RemoteWriteCounters | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._config = config
        self.counters = counters or RemoteWriteCounters()
        self._client = Client(config.endpoint)
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._inode = 0
        self._series: dict[int, bytes] = {}  # series id -> its encoded labels
        self._layouts: dict[int, tuple[int, ...]] = {}
        self._position = 0  # raw id of the last row sent (or given up)
        self._waiting_since: float | None = None  # when an unfilled request was first seen
        self._saved_at = -math.inf
        self._logged: set[str] = set()  # failure reasons already logged
        self._tick: Callable[[], None] = lambda: None
        self._load_position()

    # -- the loop

    def run(self, stop: Any, tick: Callable[[], None] = lambda: None) -> None:
        """Send until ``stop`` (an Event) is set; ``tick`` runs after each pass (the process publishes its
        counters there)."""
        self._tick = tick
        while not stop.is_set():
            try:
                busy = self._step(stop)
            except sqlite3.Error as exc:  # the file is being created, replaced or is locked: look again later
                self._once(f"sqlite:{type(exc).__name__}", "remote write: cannot read the history store: %s", exc)
                self._close()
                busy = False
            tick()
            if not busy:
                stop.wait(_POLL)
        self._save_position(force=True)
        self._close()

    def _step(self, stop: Any) -> bool:
        """One request, when one is due; True when there may be more to send at once."""
        conn = self._open()
        newest = _newest(conn)
        self._skip_over_backlog(conn, newest)
        self.counters.backlog = max(0, newest - self._position)
        rows, samples, full = self._read(conn)
        if not rows:
            self._waiting_since = None
            return False
        now = self._clock()
        if not full:
            if self._waiting_since is None:
                self._waiting_since = now
            if now - self._waiting_since < self._config.batch_interval:
                return False
        self._waiting_since = None
        body = compress(write_request(self._encode(conn, rows)))
        before = self._position
        self._send(stop, conn, body, samples, rows[-1][0])
        if self._position >= rows[-1][0]:  # past these rows: the ids missing among them were pruned unsent
            self.counters.host_samples_pruned += rows[-1][0] - before - len(rows)
        self.counters.backlog = max(0, newest - self._position)
        return full

    def _read(self, conn: sqlite3.Connection) -> tuple[list[tuple], int, bool]:
        """The rows of the next request: whole host-samples up to ``batch_size`` series samples (at least
        one row); whether the request is full."""
        rows, samples = [], 0
        limit = self._config.batch_size
        cursor = conn.execute("SELECT id, host_id, ts, layout_id, vals FROM raw WHERE id > ? ORDER BY id",
                              (self._position,))
        try:
            for row in cursor:
                count = len(row[4]) // 8
                if rows and samples + count > limit:
                    return rows, samples, True
                rows.append(row)
                samples += count
                if samples >= limit:
                    return rows, samples, True
        finally:
            cursor.close()
        return rows, samples, False

    def _encode(self, conn: sqlite3.Connection, rows: list[tuple]) -> list[tuple[bytes, list[tuple[int, float]]]]:
        by_series: dict[int, list[tuple[int, float]]] = {}
        for _, _, ts, layout_id, vals in rows:
            ids = self._layouts.get(layout_id) or self._layout(conn, layout_id)
            stamp = round(ts * 1000)
            for sid, value in zip(ids, unpack_values(vals), strict=True):
                by_series.setdefault(sid, []).append((stamp, value))
        missing = [sid for sid in by_series if sid not in self._series]
        if missing:
            self._load_series(conn)
        return [(self._series[sid], sorted(samples)) for sid, samples in by_series.items()]

    def _send(self, stop: Any, conn: sqlite3.Connection, body: bytes, samples: int, last_id: int) -> None:
        """Post ``body`` until the receiver takes it, refuses it for good, or the backlog overtakes it."""
        delay = self._config.min_backoff
        counters = self.counters
        while True:
            try:
                self._client.request("POST", "", body, HEADERS)
            except RemoteError as exc:
                if not exc.retryable:
                    counters.samples_failed += samples
                    self._once(f"refused:{exc.reason}", "remote write: the receiver refused %d samples, not "
                               "retried (further refusals for this reason are counted, not logged): %s", samples, exc)
                    break
                if not counters.failing_since:
                    counters.failing_since = time.time()
                    log.warning("remote write: %s; retrying with backoff", exc)
                counters.requests_retried += 1
                self._tick()
                if stop.wait(delay):
                    return  # stopping: the position stays, the next run sends this request again
                delay = min(delay * 2, self._config.max_backoff)
                newest = _newest(conn)
                counters.backlog = newest - self._position
                if newest - self._position > self._config.max_backlog:
                    counters.samples_dropped += samples
                    self._position = last_id
                    self._skip_over_backlog(conn, newest)
                    counters.failing_since = 0.0
                    return
                continue
            self._position = last_id
            counters.samples_sent += samples
            if counters.failing_since:
                log.info("remote write: sending again")
                counters.failing_since = 0.0
            break
        self._position = last_id
        self._save_position()

    def _skip_over_backlog(self, conn: sqlite3.Connection, newest: int) -> None:
        """Keep at most ``max_backlog`` host-samples waiting: the oldest beyond it are dropped, counted."""
        keep_from = newest - self._config.max_backlog
        if self._position >= keep_from:
            return
        dropped, rows = conn.execute("SELECT coalesce(sum(length(vals)), 0) / 8, count(*) FROM raw "
                                     "WHERE id > ? AND id <= ?", (self._position, keep_from)).fetchone()
        self.counters.samples_dropped += dropped
        self.counters.host_samples_pruned += keep_from - self._position - rows
        self._once("backlog", "remote write: more than %d host-samples waiting for the receiver; the oldest are "
                   "dropped (counted in fleetmon_hub_remote_write_samples_dropped_total)", self._config.max_backlog)
        self._position = keep_from
        self._save_position()

    # -- the file, the caches, the position

    def _open(self) -> sqlite3.Connection:
        inode = os.stat(self._db).st_ino
        if self._conn is not None and inode != self._inode:  # replaced (a corrupt file moved aside)
            self._close()
            self._position = 0
        if self._conn is None:
            self._conn = connect(self._db, readonly=True)
            self._inode = inode
            self._series.clear()
            self._layouts.clear()
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _layout(self, conn: sqlite3.Connection, layout_id: int) -> tuple[int, ...]:
        blob = conn.execute("SELECT series_ids FROM layouts WHERE id = ?", (layout_id,)).fetchone()[0]
        ids = self._layouts[layout_id] = unpack_ids(blob)
        return ids

    def _load_series(self, conn: sqlite3.Connection) -> None:
        """The series added since the last load (ids only grow)."""
        for sid, name, labels, host in conn.execute(
                "SELECT series.id, series.name, series.labels, hosts.name FROM series "
                "JOIN hosts ON hosts.id = series.host_id WHERE series.id > ?", (max(self._series, default=0),)):
            self._series[sid] = encode_labels(series_labels(name, json.loads(labels), host))

    def _load_position(self) -> None:
        try:
            saved = json.loads(position_path(self._db).read_text())
            inode = os.stat(self._db).st_ino
        except FileNotFoundError:
            saved, inode = None, 0
        except (OSError, ValueError) as exc:
            log.warning("remote write: cannot read %s (%s); starting after the newest sample",
                        position_path(self._db), exc)
            saved, inode = None, 0
        if isinstance(saved, dict) and saved.get("inode") == inode and type(saved.get("position")) is int:
            self._position = saved["position"]
            return
        try:  # first run (or another file): what is stored from now on
            self._position = _newest(self._open())
        except (OSError, sqlite3.Error):
            self._position = 0

    def _save_position(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._saved_at < _SAVE_EVERY:
            return
        self._saved_at = now
        path = position_path(self._db)
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps({"position": self._position, "inode": self._inode}))
            os.replace(temporary, path)
        except OSError as exc:
            self._once("position", "remote write: cannot save its position in %s: %s", path, exc)

    def _once(self, key: str, message: str, *args: object) -> None:
        """Log ``message`` the first time ``key`` comes up; later ones only at debug level."""
        level = logging.DEBUG if key in self._logged else logging.ERROR
        self._logged.add(key)
        log.log(level, message, *args)


def _newest(conn: sqlite3.Connection) -> int:
    """The id of the newest raw row (ids only grow: AUTOINCREMENT never hands one out twice in a file)."""
    return conn.execute("SELECT coalesce(max(id), 0) FROM raw").fetchone()[0]


def series_labels(name: str, labels: dict[str, str], host: str) -> list[tuple[str, str]]:
    """A stored series' remote-write labels, sorted by name: ``__name__``, its own labels, ``host`` (which
    wins over a sample label of that name, as on /metrics)."""
    merged = {**labels, "__name__": name, "host": host}
    return sorted(merged.items())


# -- the process


def serve(db: str, config: RemoteWriteConfig, shared: Any, stop: Any) -> None:
    """The remote writer's process: runs until ``stop`` is set or its parent is gone."""
    counters = RemoteWriteCounters()
    parent = os.getppid()
    orphaned = threading.Event()

    class Stop:
        def is_set(self) -> bool:
            return stop.is_set() or orphaned.is_set()

        def wait(self, seconds: float) -> bool:
            stop.wait(seconds)
            return self.is_set()

    def tick() -> None:
        for index, name in enumerate(FIELDS):
            shared[index] = getattr(counters, name)
        if os.getppid() != parent:
            orphaned.set()

    RemoteWriter(db, config, counters).run(Stop(), tick)


class RemoteWriteProcess:
    """The hub's handle on the remote writer's process and its counters."""

    def __init__(self, context: Any, db: str, config: RemoteWriteConfig) -> None:
        self._shared = context.Array("d", len(FIELDS), lock=False)
        self._stop = context.Event()
        self._process = context.Process(target=serve, name="fleetmon-remote-write", daemon=True,
                                        args=(db, config, self._shared, self._stop))
        self._timeout = config.endpoint.timeout

    def start(self) -> None:
        self._process.start()

    def close(self) -> None:
        self._stop.set()
        if self._process.pid is not None:
            self._process.join(self._timeout + 5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()

    @property
    def running(self) -> bool:
        return self._process.is_alive()

    def figures(self) -> dict[str, float]:
        """The counters as the process last published them (each pass of its loop)."""
        return {name: self._shared[index] for index, name in enumerate(FIELDS)}
