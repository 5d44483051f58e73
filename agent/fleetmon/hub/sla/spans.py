"""Sets of time: sorted, disjoint, half-open intervals ``[start, end)`` in Unix seconds, and their arithmetic.

Every SLI (docs/sla.md) ends as a few such sets per member: good, bad and unknown time, and the time that
does not count (outside the schedule, in maintenance). Union, intersection and difference keep them
disjoint, so "good minus excluded" can never count a second twice, and ``total`` is the seconds a set
covers. Touching intervals are joined: ``[0, 10) | [10, 20)`` is ``[0, 20)``.
"""

from collections.abc import Iterable, Iterator

Interval = tuple[float, float]


class Spans:
    """An immutable set of time; build it from any intervals, overlapping, unsorted or empty ones included."""

    __slots__ = ("pairs",)

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        merged: list[list[float]] = []
        for start, end in sorted((float(s), float(e)) for s, e in intervals if e > s):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.pairs: tuple[Interval, ...] = tuple((start, end) for start, end in merged)

    @classmethod
    def between(cls, start: float, end: float) -> "Spans":
        return cls(((start, end),))

    @classmethod
    def _normal(cls, pairs: Iterable[Interval]) -> "Spans":
        """Intervals already sorted, disjoint and apart, as every operation's result is: not sorted again."""
        spans = cls.__new__(cls)
        spans.pairs = tuple(pairs)
        return spans

    @property
    def total(self) -> float:
        """The seconds the set covers."""
        return sum(end - start for start, end in self.pairs)

    def clip(self, start: float, end: float) -> "Spans":
        """The part of the set inside ``[start, end)``."""
        return Spans._normal((max(s, start), min(e, end)) for s, e in self.pairs if s < end and e > start)

    def __or__(self, other: "Spans") -> "Spans":
        return Spans(self.pairs + other.pairs)

    def __and__(self, other: "Spans") -> "Spans":
        found: list[Interval] = []
        mine, theirs = self.pairs, other.pairs
        i = j = 0
        while i < len(mine) and j < len(theirs):
            start, end = max(mine[i][0], theirs[j][0]), min(mine[i][1], theirs[j][1])
            if start < end:
                found.append((start, end))
            if mine[i][1] < theirs[j][1]:  # the interval that ends first can meet nothing further on
                i += 1
            else:
                j += 1
        return Spans._normal(found)

    def __sub__(self, other: "Spans") -> "Spans":
        found: list[Interval] = []
        theirs = other.pairs
        j = 0
        for start, end in self.pairs:
            while j < len(theirs) and theirs[j][1] <= start:  # removals wholly before this interval
                j += 1
            cursor, k = start, j
            while k < len(theirs) and theirs[k][0] < end:
                if theirs[k][0] > cursor:
                    found.append((cursor, theirs[k][0]))
                cursor = max(cursor, theirs[k][1])
                k += 1
            if cursor < end:
                found.append((cursor, end))
        return Spans._normal(found)

    def __iter__(self) -> Iterator[Interval]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Spans) and self.pairs == other.pairs

    def __hash__(self) -> int:
        return hash(self.pairs)

    def __repr__(self) -> str:
        return f"Spans({list(self.pairs)!r})"


def union(sets: Iterable[Spans]) -> Spans:
    """All of ``sets`` at once (one sort instead of one per pair)."""
    return Spans(interval for spans in sets for interval in spans.pairs)
