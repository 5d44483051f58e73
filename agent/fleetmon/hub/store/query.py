"""Reads: a small pool of read-only connections (WAL lets them run beside the writer)."""

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from fleetmon.hub.store.codec import aggregates_of, unpack_ids, unpack_values
from fleetmon.hub.store.config import BUCKET_SECONDS, RAW
from fleetmon.hub.store.downsample import downsample
from fleetmon.hub.store.records import AlertRecord, BucketedSeries, CheckRecord, Event, QueriedSeries, StateChange
from fleetmon.hub.store.schema import connect

_TIER_TABLES = {"1m": "rollup_1m", "1h": "rollup_1h"}
#: Where the wanted series sit in the rows of one layout: their slots in the answer, their indices in a row.
_Pick = tuple[list[int], list[int]]


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

    def _pick(self, conn: sqlite3.Connection, layout_id: int, slot_of: Mapping[int, int]) -> _Pick:
        """Where each wanted series sits in the rows of one layout: (answer slots, indices in the row)."""
        positions = self._index_of(conn, layout_id)
        found = [(slot, positions[sid]) for sid, slot in slot_of.items() if sid in positions]
        return [slot for slot, _ in found], [index for _, index in found]

    def query_many(self, host: str, metrics: Sequence[str], matchers: Mapping[str, str], start: float, end: float,
                   tier: str, max_points: int | None = None) -> list[QueriedSeries]:
        """The series of ``metrics`` on ``host`` whose labels equal every matcher, by metric then labels, read in
        one pass over the tier's rows (each row decoded once for all of them); with ``max_points``, each
        series downsampled to at most that many points (fleetmon.hub.store.downsample)."""
        with self._connection() as conn:
            row = conn.execute("SELECT id FROM hosts WHERE name = ?", (host,)).fetchone()
            if row is None:
                return []
            host_id = row[0]
            wanted = _wanted(conn, [host_id], metrics, matchers)
            if not wanted:
                return []
            slot_of = {sid: slot for slot, (sid, _, _, _) in enumerate(wanted)}
            picks: dict[int, _Pick] = {}
            points: list[list[tuple]] = [[] for _ in wanted]
            if tier == RAW:
                rows = conn.execute("SELECT ts, layout_id, vals FROM raw WHERE host_id = ? AND ts >= ? AND ts <= ? "
                                    "ORDER BY ts", (host_id, start, end))
                for ts, layout_id, vals in rows:
                    pick = picks.get(layout_id) or picks.setdefault(layout_id, self._pick(conn, layout_id, slot_of))
                    values = unpack_values(vals)
                    for slot, index in zip(*pick, strict=True):
                        points[slot].append((ts, values[index]))
            else:
                # every bucket that overlaps [start, end]
                rows = conn.execute(f"SELECT bucket, layout_id, data FROM {_TIER_TABLES[tier]} "
                                    "WHERE host_id = ? AND bucket > ? AND bucket <= ? ORDER BY bucket",
                                    (host_id, start - BUCKET_SECONDS[tier], end))
                for bucket, layout_id, data in rows:
                    slots, indices = picks.get(layout_id) or picks.setdefault(
                        layout_id, self._pick(conn, layout_id, slot_of))
                    for slot, (low, high, total, count) in zip(slots, aggregates_of(data, indices), strict=True):
                        points[slot].append((bucket, low, total, count, high))
        return [QueriedSeries(name, labels, tier, _thinned(pts, tier, max_points))
                for (_, _, name, labels), pts in zip(wanted, points, strict=True) if pts]

    def bucketed(self, hosts: Sequence[str], metrics: Sequence[str], start: float, end: float, tier: str,
                 buckets: int) -> list[BucketedSeries]:
        """Every series of ``metrics`` on each of ``hosts``, cut into ``buckets`` equal buckets from ``start``
        to ``end``, read in one statement over all the hosts (a heatmap of a group)."""
        width = (end - start) / buckets
        last = buckets - 1
        with self._connection() as conn:
            names = dict(conn.execute(f"SELECT id, name FROM hosts WHERE name IN ({_marks(hosts)})", list(hosts)))
            wanted = _wanted(conn, list(names), metrics, {}) if names else []
            if not wanted:
                return []
            found = [BucketedSeries(names[host_id], name, labels, {}) for _, host_id, name, labels in wanted]
            slot_of = {sid: slot for slot, (sid, _, _, _) in enumerate(wanted)}
            picks: dict[int, _Pick] = {}
            marks = _marks(names)
            if tier == RAW:
                rows = conn.execute(f"SELECT ts, layout_id, vals FROM raw WHERE host_id IN ({marks}) "
                                    "AND ts >= ? AND ts <= ? ORDER BY host_id, ts", (*names, start, end))
                decoded = ((ts, layout_id, unpack_values(vals)) for ts, layout_id, vals in rows)
            else:
                rows = conn.execute(f"SELECT bucket, layout_id, data FROM {_TIER_TABLES[tier]} "
                                    f"WHERE host_id IN ({marks}) AND bucket > ? AND bucket <= ? "
                                    "ORDER BY host_id, bucket", (*names, start - BUCKET_SECONDS[tier], end))
                decoded = ((ts, layout_id, data) for ts, layout_id, data in rows)
            for ts, layout_id, data in decoded:
                slots, indices = picks.get(layout_id) or picks.setdefault(
                    layout_id, self._pick(conn, layout_id, slot_of))
                index = min(max(int((ts - start) // width), 0), last)
                if tier == RAW:
                    cells = [(data[i], data[i], data[i], 1) for i in indices]
                else:
                    cells = aggregates_of(data, indices)
                for slot, (_, high, total, count) in zip(slots, cells, strict=True):
                    cell = found[slot].buckets.get(index)
                    if cell is None:
                        found[slot].buckets[index] = [total, count, ts, high]
                    else:
                        cell[0] += total
                        cell[1] += count
                        cell[2], cell[3] = ts, high
        return found

    def hosts(self) -> list[str]:
        with self._connection() as conn:
            return [name for (name,) in conn.execute("SELECT name FROM hosts ORDER BY name")]

    def knows(self, host: str) -> bool:
        with self._connection() as conn:
            return conn.execute("SELECT 1 FROM hosts WHERE name = ?", (host,)).fetchone() is not None

    def series_names(self, host: str) -> list[str]:
        with self._connection() as conn:
            return [name for (name,) in conn.execute(
                "SELECT DISTINCT series.name FROM series JOIN hosts ON hosts.id = series.host_id "
                "WHERE hosts.name = ? ORDER BY series.name", (host,))]

    def series(self, host: str) -> list[tuple[str, dict[str, str]]]:
        """Every series stored for ``host`` as (name, labels), by name then labels."""
        with self._connection() as conn:
            return [(name, json.loads(labels)) for name, labels in conn.execute(
                "SELECT series.name, series.labels FROM series JOIN hosts ON hosts.id = series.host_id "
                "WHERE hosts.name = ? ORDER BY series.name, series.labels", (host,))]

    def latest_state_changes(self, host: str, limit: int) -> list[StateChange]:
        """Newest first."""
        with self._connection() as conn:
            return [StateChange(*row) for row in conn.execute(
                "SELECT host, ts, from_state, to_state, reason FROM state_changes WHERE host = ? "
                "ORDER BY ts DESC, rowid DESC LIMIT ?", (host, limit))]

    def state_changes(self, host: str, start: float, end: float, limit: int) -> list[StateChange]:
        """The newest ``limit`` between ``start`` and ``end``, oldest first."""
        with self._connection() as conn:
            return [StateChange(*row) for row in conn.execute(
                "SELECT * FROM (SELECT host, ts, from_state, to_state, reason FROM state_changes WHERE host = ? "
                "AND ts >= ? AND ts <= ? ORDER BY ts DESC, rowid DESC LIMIT ?) ORDER BY ts",
                (host, start, end, limit))]

    def checks(self, host: str, start: float, end: float, limit: int) -> list[CheckRecord]:
        """Every check's results between ``start`` and ``end``: the newest ``limit``, oldest first."""
        with self._connection() as conn:
            return [CheckRecord(h, ts, n, bool(ok), value, message) for h, ts, n, ok, value, message in conn.execute(
                "SELECT * FROM (SELECT host, ts, name, ok, value, message FROM checks WHERE host = ? "
                "AND ts >= ? AND ts <= ? ORDER BY ts DESC LIMIT ?) ORDER BY ts", (host, start, end, limit))]

    def check_history(self, host: str, name: str, start: float, end: float) -> list[CheckRecord]:
        with self._connection() as conn:
            return [CheckRecord(h, ts, n, bool(ok), value, message) for h, ts, n, ok, value, message in conn.execute(
                "SELECT host, ts, name, ok, value, message FROM checks WHERE host = ? AND name = ? "
                "AND ts >= ? AND ts <= ? ORDER BY ts", (host, name, start, end))]

    def events(self, host: str, start: float, end: float, limit: int = -1) -> list[Event]:
        """The newest ``limit`` (all when negative) between ``start`` and ``end``, oldest first."""
        with self._connection() as conn:
            return [Event(h, ts, kind, message, json.loads(details)) for h, ts, kind, message, details in conn.execute(
                "SELECT * FROM (SELECT host, ts, kind, message, details FROM events WHERE host = ? AND ts >= ? "
                "AND ts <= ? ORDER BY ts DESC LIMIT ?) ORDER BY ts", (host, start, end, limit))]

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


def _wanted(conn: sqlite3.Connection, host_ids: Sequence[int], metrics: Sequence[str],
            matchers: Mapping[str, str]) -> list[tuple[int, int, str, dict[str, str]]]:
    """(series id, host id, name, labels) of the hosts' series of ``metrics`` whose labels equal every
    matcher: by host, then in the order of ``metrics``, then by labels."""
    order = {metric: position for position, metric in enumerate(metrics)}
    wanted = []
    for sid, host_id, name, text in conn.execute(
            f"SELECT id, host_id, name, labels FROM series WHERE host_id IN ({_marks(host_ids)}) "
            f"AND name IN ({_marks(metrics)}) ORDER BY host_id, labels", (*host_ids, *metrics)):
        labels = json.loads(text)
        if all(labels.get(k) == v for k, v in matchers.items()):
            wanted.append((sid, host_id, name, labels))
    wanted.sort(key=lambda found: (found[1], order[found[2]]))  # stable: labels stay sorted
    return wanted


def _marks(values: Iterable[object]) -> str:
    """One ``?`` per value, for ``IN (...)``."""
    return ", ".join("?" for _ in values)


def _thinned(points: list[tuple], tier: str, max_points: int | None) -> list[tuple[float, ...]]:
    """Raw ``(ts, value)`` points as they are while few enough, else downsampled; rollup ``(ts, min, sum,
    count, max)`` points as ``(ts, min, avg, max)``, downsampled when too many."""
    if tier == RAW:
        if max_points is None or len(points) <= max_points:
            return points
        return downsample([(ts, v, v, 1, v) for ts, v in points], max_points, 1.0)
    return downsample(points, max_points or len(points), BUCKET_SECONDS[tier])


def _alert(row: tuple) -> AlertRecord:
    fingerprint, labels, status, starts_at, ends_at, ts, source = row
    return AlertRecord(fingerprint, json.loads(labels), status, starts_at, ends_at, ts, source)
