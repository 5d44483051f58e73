"""Ids for hosts, series and layouts, and the decoding of a sample's wire metrics into them (writer side).

The wire form (docs/protocol.md) maps a metric name to a number or to ``[[labels, value], ...]``. Looking
up a series by its wire shape (name and labels in the order they arrived) is one dict hit per series; the
canonical key (labels sorted, as JSON) is built only the first time a shape is seen. A host's next sample
in the same shape skips even that (``shapes``): the registry keeps each host's last shape.
"""

import json
import math
import sqlite3
from collections.abc import Mapping

from fleetmon.hub.store.codec import pack_ids, unpack_ids
from fleetmon.hub.store.items import finite
from fleetmon.hub.store.shapes import Shape, learn, recall


def canonical_labels(labels: Mapping[str, object]) -> str:
    return json.dumps({k: str(v) for k, v in labels.items()}, sort_keys=True, separators=(",", ":"))


class Registry:
    """Caches of the ``hosts``, ``series`` and ``layouts`` tables; new ids are inserted in the caller's
    transaction, so after a rollback the caches must be ``reload``-ed."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.reload()

    def reload(self) -> None:
        conn = self._conn
        #: Host id -> the shape of its last sample the full path stored whole (``shapes``).
        self.shapes: dict[int, Shape] = {}
        self._misses: dict[int, int] = {}  # host id -> samples in a row that took the full path
        self._hosts: dict[str, int] = dict(conn.execute("SELECT name, id FROM hosts"))
        self._series: dict[tuple[int, str, str], int] = {}
        self._by_wire: dict[int, dict[object, int]] = {}
        for sid, host_id, name, labels in conn.execute("SELECT id, host_id, name, labels FROM series"):
            self._series[(host_id, name, labels)] = sid
            decoded = json.loads(labels)
            key = (name, tuple(decoded.items())) if decoded else name
            self._by_wire.setdefault(host_id, {})[key] = sid
        self._layout_ids: dict[tuple[int, ...], int] = {}
        self._layouts: dict[int, tuple[int, ...]] = {}
        for layout_id, blob in conn.execute("SELECT id, series_ids FROM layouts"):
            ids = unpack_ids(blob)
            self._layout_ids[ids] = layout_id
            self._layouts[layout_id] = ids

    def host_id(self, name: str) -> int:
        host_id = self._hosts.get(name)
        if host_id is None:
            host_id = self._conn.execute("INSERT INTO hosts (name) VALUES (?)", (name,)).lastrowid
            self._hosts[name] = host_id
        return host_id

    def host_ids(self) -> list[int]:
        return list(self._hosts.values())

    def layout_id(self, series_ids: tuple[int, ...]) -> int:
        layout_id = self._layout_ids.get(series_ids)
        if layout_id is None:
            layout_id = self._conn.execute("INSERT INTO layouts (series_ids) VALUES (?)",
                                           (pack_ids(series_ids),)).lastrowid
            self._layout_ids[series_ids] = layout_id
            self._layouts[layout_id] = series_ids
        return layout_id

    def layout(self, layout_id: int) -> tuple[int, ...]:
        return self._layouts[layout_id]

    def resolve(self, host_id: int, metrics: Mapping[str, object]) -> tuple[list[int], list[float], int]:
        """Series ids and values of a sample, and how many entries were malformed and skipped.

        A malformed entry (not a number, not a list of ``[labels, number]``, a non-finite value, labels
        that are not a flat object, a series repeated in the sample) is skipped alone; the rest is kept.
        This runs for every series the hub stores, so the common case is a dict hit and two appends.
        """
        known = self._by_wire.get(host_id)
        if known is None:
            known = self._by_wire[host_id] = {}
        ids: list[int] = []
        values: list[float] = []
        bad = 0
        for name, entry in metrics.items():
            kind = type(entry)
            if kind is float or kind is int:
                try:
                    ids.append(known[name])
                except KeyError:
                    ids.append(known.setdefault(name, self._series_id(host_id, name, {})))
                values.append(entry)
            elif kind is list:
                for pair in entry:
                    try:
                        labels, value = pair
                        key = (name, tuple(labels.items()))
                        sid = known[key]  # TypeError when a label value is a list or object
                    except KeyError:
                        sid = known[key] = self._series_id(host_id, name, labels)
                    except (TypeError, ValueError, AttributeError):  # not a pair, labels not a flat object
                        bad += 1
                        continue
                    kind = type(value)
                    if kind is float or kind is int:
                        ids.append(sid)
                        values.append(value)
                    else:
                        bad += 1
            else:
                bad += 1
        # Checked once per sample, not per value: a sum is finite when every term is (or it overflowed).
        try:
            all_finite = math.isfinite(sum(values))
        except OverflowError:  # an integer too large for a float
            all_finite = False
        if not all_finite or len(set(ids)) != len(ids):
            ids, values, dropped = _finite_and_unique(ids, values)
            bad += dropped
        return ids, values, bad

    def remember(self, host_id: int, raw: bytes, ids: list[int], layout_id: int, values: list[float],
                 bad: int) -> None:
        """A sample of ``host_id`` as received (``raw``) took the full path: stored as ``ids`` and ``values``
        with ``bad`` entries skipped. Its shape is learnt when nothing was skipped; from a host whose shape
        keeps changing, ever more rarely (the 1st, 2nd, 4th, 8th... sample in a row not recalled), so that
        learning costs it little."""
        misses = self._misses.get(host_id, 0) + 1
        self._misses[host_id] = misses
        if bad or misses & (misses - 1):
            return
        shape = learn(raw, ids, layout_id, values)
        if shape is not None:
            self.shapes[host_id] = shape

    def recall(self, host_id: int, raw: bytes) -> tuple[Shape, list[float]] | None:
        """The shape and values of a sample of ``host_id`` as received, when it has the host's last shape."""
        shape = self.shapes.get(host_id)
        values = recall(shape, raw)
        if values is None:
            return None
        if host_id in self._misses:
            del self._misses[host_id]
        return shape, values

    def _series_id(self, host_id: int, name: str, labels: Mapping[str, object]) -> int:
        key = (host_id, name, canonical_labels(labels))
        sid = self._series.get(key)
        if sid is None:
            sid = self._conn.execute("INSERT INTO series (host_id, name, labels) VALUES (?, ?, ?)", key).lastrowid
            self._series[key] = sid
        return sid


def _finite_and_unique(ids: list[int], values: list[float]) -> tuple[list[int], list[float], int]:
    """The slow path of ``resolve``: drop non-finite values and repeats of a series (the first is kept)."""
    kept_ids: list[int] = []
    kept_values: list[float] = []
    seen: set[int] = set()
    for sid, value in zip(ids, values, strict=True):
        if sid not in seen and finite(value):
            seen.add(sid)
            kept_ids.append(sid)
            kept_values.append(value)
    return kept_ids, kept_values, len(ids) - len(kept_ids)
