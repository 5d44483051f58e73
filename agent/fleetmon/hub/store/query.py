"""Reads: a small pool of read-only connections (WAL lets them run beside the writer)."""

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from fleetmon.hub.store.codec import aggregate_at, unpack_ids, value_at
from fleetmon.hub.store.config import BUCKET_SECONDS, RAW
from fleetmon.hub.store.records import AlertRecord, CheckRecord, Event, QueriedSeries, StateChange
from fleetmon.hub.store.schema import connect

_TIER_TABLES = {"1m": "rollup_1m", "1h": "rollup_1h"}


class Reader:
    def __init__(self, path: str, generation: Callable[[], int] = lambda: 0) -> None:
        self._path = path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._positions: dict[int, dict[int, int]] = {}  # layout id -> series id -> index; layouts never change
        self._generation = generation  # changes when the file is replaced (a corrupt one moved aside)
        self._seen_generation = generation()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            generation = self._generation()
            if generation != self._seen_generation:  # idle connections still read the file moved aside
                for conn in self._idle:
                    conn.close()
                self._idle.clear()
                self._positions.clear()
                self._seen_generation = generation
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = connect(self._path, readonly=True)
        try:
            yield conn
        finally:
            with self._lock:
                if generation == self._seen_generation:
                    self._idle.append(conn)
                else:
                    conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._idle:
                conn.close()
            self._idle.clear()

    def _index_of(self, conn: sqlite3.Connection, layout_id: int) -> dict[int, int]:
        positions = self._positions.get(layout_id)
        if positions is None:
            blob = conn.execute("SELECT series_ids FROM layouts WHERE id = ?", (layout_id,)).fetchone()[0]
            positions = self._positions[layout_id] = {sid: i for i, sid in enumerate(unpack_ids(blob))}
        return positions

    def query(self, host: str, metric: str, matchers: Mapping[str, str], start: float, end: float,
              tier: str) -> list[QueriedSeries]:
        with self._connection() as conn:
            row = conn.execute("SELECT id FROM hosts WHERE name = ?", (host,)).fetchone()
            if row is None:
                return []
            host_id = row[0]
            wanted: list[tuple[int, dict[str, str]]] = []
            for sid, text in conn.execute("SELECT id, labels FROM series WHERE host_id = ? AND name = ? "
                                          "ORDER BY labels", (host_id, metric)):
                labels = json.loads(text)
                if all(labels.get(k) == v for k, v in matchers.items()):
                    wanted.append((sid, labels))
            if not wanted:
                return []
            points: list[list[tuple[float, ...]]] = [[] for _ in wanted]
            if tier == RAW:
                rows = conn.execute("SELECT ts, layout_id, vals FROM raw WHERE host_id = ? AND ts >= ? AND ts <= ? "
                                    "ORDER BY ts", (host_id, start, end))
                for ts, layout_id, vals in rows:
                    positions = self._index_of(conn, layout_id)
                    for out, (sid, _) in zip(points, wanted, strict=True):
                        index = positions.get(sid)
                        if index is not None:
                            out.append((ts, value_at(vals, index)))
            else:
                # every bucket that overlaps [start, end]
                rows = conn.execute(f"SELECT bucket, layout_id, data FROM {_TIER_TABLES[tier]} "
                                    "WHERE host_id = ? AND bucket > ? AND bucket <= ? ORDER BY bucket",
                                    (host_id, start - BUCKET_SECONDS[tier], end))
                for bucket, layout_id, data in rows:
                    positions = self._index_of(conn, layout_id)
                    for out, (sid, _) in zip(points, wanted, strict=True):
                        index = positions.get(sid)
                        if index is not None:
                            low, high, total, count = aggregate_at(data, index)
                            out.append((bucket, low, total / count, high))
        return [QueriedSeries(metric, labels, tier, pts)
                for (_, labels), pts in zip(wanted, points, strict=True) if pts]

    def hosts(self) -> list[str]:
        with self._connection() as conn:
            return [name for (name,) in conn.execute("SELECT name FROM hosts ORDER BY name")]

    def series_names(self, host: str) -> list[str]:
        with self._connection() as conn:
            return [name for (name,) in conn.execute(
                "SELECT DISTINCT series.name FROM series JOIN hosts ON hosts.id = series.host_id "
                "WHERE hosts.name = ? ORDER BY series.name", (host,))]

    def latest_state_changes(self, host: str, limit: int) -> list[StateChange]:
        """Newest first."""
        with self._connection() as conn:
            return [StateChange(*row) for row in conn.execute(
                "SELECT host, ts, from_state, to_state, reason FROM state_changes WHERE host = ? "
                "ORDER BY ts DESC, rowid DESC LIMIT ?", (host, limit))]

    def check_history(self, host: str, name: str, start: float, end: float) -> list[CheckRecord]:
        with self._connection() as conn:
            return [CheckRecord(h, ts, n, bool(ok), value, message) for h, ts, n, ok, value, message in conn.execute(
                "SELECT host, ts, name, ok, value, message FROM checks WHERE host = ? AND name = ? "
                "AND ts >= ? AND ts <= ? ORDER BY ts", (host, name, start, end))]

    def events(self, host: str, start: float, end: float) -> list[Event]:
        with self._connection() as conn:
            return [Event(h, ts, kind, message, json.loads(details)) for h, ts, kind, message, details in conn.execute(
                "SELECT host, ts, kind, message, details FROM events WHERE host = ? AND ts >= ? AND ts <= ? "
                "ORDER BY ts", (host, start, end))]

    def alert_history(self, start: float, end: float) -> list[AlertRecord]:
        with self._connection() as conn:
            return [_alert(row) for row in conn.execute(
                "SELECT fingerprint, labels, status, starts_at, ends_at, ts, source FROM alerts "
                "WHERE ts >= ? AND ts <= ? ORDER BY ts", (start, end))]

    def latest_alerts(self) -> list[AlertRecord]:
        """The last transition stored for each fingerprint (what a restarted hub resumes from)."""
        with self._connection() as conn:
            return [_alert(row) for row in conn.execute(
                "SELECT fingerprint, labels, status, starts_at, ends_at, ts, source FROM alerts WHERE rowid IN "
                "(SELECT max(rowid) FROM alerts GROUP BY fingerprint) ORDER BY fingerprint")]

    def recent_sequences(self, since_ts: float) -> dict[str, dict[int, list[int]]]:
        found: dict[str, dict[int, list[int]]] = {}
        with self._connection() as conn:
            hosts = conn.execute("SELECT id, name FROM hosts").fetchall()
            for host_id, name in hosts:  # one host at a time: each is a range of the (host_id, ts) index
                sessions: dict[int, list[int]] = {}
                for session, seq in conn.execute("SELECT session, seq FROM raw WHERE host_id = ? AND ts >= ? "
                                                 "ORDER BY session, seq", (host_id, since_ts)):
                    sessions.setdefault(session, []).append(seq)
                if sessions:
                    found[name] = sessions
        return found


def _alert(row: tuple) -> AlertRecord:
    fingerprint, labels, status, starts_at, ends_at, ts, source = row
    return AlertRecord(fingerprint, json.loads(labels), status, starts_at, ends_at, ts, source)
