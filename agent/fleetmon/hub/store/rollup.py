"""Minute and hour aggregates as mergeable [min, max, sum, count] values (pure, no I/O).

The writer adds every stored sample to a buffer of minute aggregates; on each rollup pass the buffer is
merged into whatever the tier tables already hold for those buckets. Because min, max, sum and count merge
exactly, a sample that arrives late (back-fill, or a bucket already written) lands in its own bucket and
the result equals what an in-order arrival would have given. Hours are built from the buffered minutes.
"""

from collections.abc import Iterable, Mapping, Sequence

Aggregates = dict[int, list]  # series id -> [min, max, sum, count]


def bucket_of(ts: float, width: int) -> int:
    return int(ts // width) * width


class RollupBuffer:
    """Minute aggregates not yet written: (host id, minute start) -> series id -> [min, max, sum, count]."""

    __slots__ = ("minutes",)

    def __init__(self) -> None:
        self.minutes: dict[tuple[int, int], Aggregates] = {}

    def add(self, host_id: int, ts: float, series_ids: Sequence[int], values: Sequence[float]) -> None:
        if not series_ids:
            return
        key = (host_id, int(ts // 60) * 60)
        bucket = self.minutes.get(key)
        if bucket is None:
            bucket = self.minutes[key] = {}
        get = bucket.get
        for sid, value in zip(series_ids, values, strict=True):
            agg = get(sid)
            if agg is None:
                bucket[sid] = [value, value, value, 1]
            else:
                if value < agg[0]:
                    agg[0] = value
                elif value > agg[1]:
                    agg[1] = value
                agg[2] += value
                agg[3] += 1

    def __len__(self) -> int:
        return len(self.minutes)

    def clear(self) -> None:
        self.minutes.clear()


def merge(target: Aggregates, other: Mapping[int, Sequence]) -> None:
    """Fold ``other`` into ``target``; ``target`` owns its lists, ``other`` is left untouched."""
    for sid, (low, high, total, count) in other.items():
        agg = target.get(sid)
        if agg is None:
            target[sid] = [low, high, total, count]
        else:
            if low < agg[0]:
                agg[0] = low
            if high > agg[1]:
                agg[1] = high
            agg[2] += total
            agg[3] += count


def hours(minutes: Iterable[tuple[tuple[int, int], Aggregates]]) -> dict[tuple[int, int], Aggregates]:
    """The hour aggregates of a set of minute aggregates, as fresh values."""
    out: dict[tuple[int, int], Aggregates] = {}
    for (host_id, minute), aggregates in minutes:
        key = (host_id, minute - minute % 3600)
        merge(out.setdefault(key, {}), aggregates)
    return out
