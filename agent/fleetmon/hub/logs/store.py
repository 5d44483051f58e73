"""The hub's log store: the journal lines hosts send, kept in their own SQLite file (logs.db beside the
history) with a full-text index, for searches, live tails and log rules.

``take`` is what the hub's intake calls for each accepted ``logs`` message: it only queues the batch for the
writer thread (fleetmon.hub.logs.writer) and counts what the host says its rate limit dropped. Reads run on
the caller's thread, each thread with its own read-only connection (SQLite's WAL lets them read while the
writer writes). The file's layout is in fleetmon.hub.logs.schema, the reads in fleetmon.hub.logs.reads.
"""

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from fleetmon.hub.logs import reads
from fleetmon.hub.logs.config import LogsConfig
from fleetmon.hub.logs.reads import HostCount
from fleetmon.hub.logs.schema import connect
from fleetmon.hub.logs.search import LogLine, LogQuery
from fleetmon.hub.logs.writer import DROP_REASONS, Batch, LogWriter

#: The most lines one search answers.
MAX_LIMIT = 5000


class LogStore:
    def __init__(self, path: str, config: LogsConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        """Opens (or creates) the file and starts the writer."""
        self.path = path
        self.clock = clock
        self._writer = LogWriter(path, config or LogsConfig(), clock)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.received = 0  # lines offered by the intake
        self.dropped_at_host: dict[str, int] = {}  # host -> lines its rate limit dropped, as it reported
        self._writer.start()

    # --- writes ---------------------------------------------------------------------------------------------

    def take(self, host: str, body: Mapping[str, Any]) -> bool:
        """A ``logs`` message ingest accepted (schemas/logs.json): queued for the writer; False when the queue
        had no room and the batch was dropped (counted). Never blocks on the disk."""
        dropped = body.get("dropped")
        if dropped:
            self.dropped_at_host[host] = self.dropped_at_host.get(host, 0) + sum(dropped.values())
        entries = body["entries"]
        if not entries:
            return True
        self.received += len(entries)
        return self._writer.offer(Batch(host, entries))

    def configure(self, config: LogsConfig) -> None:
        """A reloaded ``logs`` section: retention, count and queue bound apply from the writer's next look."""
        self._writer.config = config

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every batch taken so far is written (tests, benchmarks, shutdown)."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        """Write what is queued, then close the writer's and the readers' connections."""
        self._writer.stop()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # --- reads ----------------------------------------------------------------------------------------------

    def search(self, query: LogQuery, limit: int = 100, before: int | None = None) -> list[LogLine]:
        """The newest ``limit`` (at most MAX_LIMIT) lines matching ``query`` with an id below ``before``,
        newest first. ``query.text`` must have gone through search.text_query; sqlite3.OperationalError
        otherwise, for a text FTS5 refuses."""
        return reads.search(self._reader(), query, min(limit, MAX_LIMIT), before)

    def follow(self, query: LogQuery, after: int, limit: int = 500) -> list[LogLine]:
        """The lines matching ``query`` that arrived after the line ``after``, oldest first, ``limit`` at most."""
        return reads.follow(self._reader(), query, after, min(limit, MAX_LIMIT))

    def latest_id(self) -> int:
        return reads.latest_id(self._reader())

    def count_matches(self, query: LogQuery, sample: int = 5) -> list[HostCount]:
        """Per host, how many lines match ``query`` and the newest ``sample`` of them (log rules)."""
        return reads.count_matches(self._reader(), query, sample)

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path, writer=False)
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    # --- figures --------------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs (a liveness problem when it does not, while the hub runs)."""
        return self._writer.alive

    def figures(self) -> dict[str, Any]:
        """What /metrics and the hub's figures show (fleetmon.hub.logs.metrics)."""
        writer = self._writer
        return {"received": self.received, "stored": writer.stored, "duplicates": writer.duplicates,
                "dropped": {reason: writer.dropped[reason] for reason in DROP_REASONS},
                "dropped_at_host": dict(self.dropped_at_host), "pruned": dict(writer.pruned),
                "lines": writer.count, "queued": writer.queued_lines, "write_failures": writer.write_failures,
                "bytes": _file_bytes(self.path)}


def _file_bytes(path: str) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += os.stat(path + suffix).st_size
    return total
