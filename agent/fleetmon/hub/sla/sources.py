"""What the SLA engine reads from the history store, read-only: new raw rows for the presence ledger, check
results, minute means (through the store's own query API).

The history file is the writer process's; this side never writes it and may start before it exists (a hub
that never stored anything), in which case every read finds nothing.
"""

import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence

from fleetmon.hub.sla.ledger import Sample
from fleetmon.hub.store.config import MINUTE
from fleetmon.hub.store.query import Reader
from fleetmon.hub.store.schema import connect


class HistorySource:
    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._conn_file: tuple[int, int] | None = None  # the file the connection reads
        self._lock = threading.Lock()
        self._reader = Reader(path, lambda: hash(self._file()))

    def _file(self) -> tuple[int, int] | None:
        """Which file is at the path (device, inode): the store replaces a corrupt history with a new file,
        and a connection opened before still reads the old one."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        return found.st_dev, found.st_ino

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._reader.close()

    def _rows(self, sql: str, args: Sequence[object]) -> list[tuple]:
        with self._lock:
            file = self._file()
            if file is None:  # connecting would create an empty file in the writer's place
                return []
            if self._conn is not None and file != self._conn_file:
                self._conn.close()
                self._conn = None
            if self._conn is None:
                self._conn, self._conn_file = connect(self.path, readonly=True), file
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []  # the writer has created the file but not its schema yet
                raise

    def last_raw_id(self) -> int:
        """The highest raw.id the history ever gave (AUTOINCREMENT keeps it in sqlite_sequence): lower than
        the ledger's cursor only when the file was replaced by a new one."""
        rows = self._rows("SELECT seq FROM sqlite_sequence WHERE name = 'raw'", ())
        return rows[0][0] if rows else 0

    def samples_after(self, cursor: int, limit: int) -> list[Sample]:
        """Up to ``limit`` raw rows with ``id > cursor``, by id."""
        return [Sample(*row) for row in self._rows(
            "SELECT raw.id, hosts.name, raw.session, raw.seq, raw.ts FROM raw JOIN hosts ON hosts.id = raw.host_id "
            "WHERE raw.id > ? ORDER BY raw.id LIMIT ?", (cursor, limit))]

    def check_results(self, host: str, name: str, start: float, until: float) -> list[tuple[float, bool]]:
        """``(ts, ok)`` of check ``name`` on ``host`` before ``until``: the last one before ``start`` (it
        still holds at ``start``) and every one from ``start`` on, by time."""
        before = self._rows("SELECT ts, ok FROM checks WHERE host = ? AND name = ? AND ts < ? ORDER BY ts DESC "
                            "LIMIT 1", (host, name, start))
        inside = self._rows("SELECT ts, ok FROM checks WHERE host = ? AND name = ? AND ts >= ? AND ts < ? "
                            "ORDER BY ts", (host, name, start, until))
        return [(ts, bool(ok)) for ts, ok in before + inside]

    def minute_means(self, host: str, metric: str, labels: Mapping[str, str], start: float,
                     until: float) -> dict[float, list[float]]:
        """bucket start -> the minute's mean of every series of ``metric`` on ``host`` matching ``labels``."""
        if self._file() is None:
            return {}
        try:
            series = self._reader.query_many(host, (metric,), labels, start, until, MINUTE)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}
            raise
        means: dict[float, list[float]] = {}
        for found in series:
            for bucket, _low, mean, _high in found.points:
                means.setdefault(bucket, []).append(mean)
        return means
