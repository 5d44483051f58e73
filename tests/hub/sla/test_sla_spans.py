"""Sets of time (fleetmon.hub.sla.spans): normalising, union, intersection, difference, clipping, and the
seconds they cover; checked by cases and against a second-by-second count."""

from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetmon.hub.sla.spans import Spans, union


class Made(NamedTuple):
    name: str
    why: str
    given: list[tuple[float, float]]
    pairs: list[tuple[float, float]]


MADE = [
    Made("empty", "no intervals is no time", [], []),
    Made("empty intervals dropped", "an interval that ends where (or before) it starts holds no second",
         [(5, 5), (7, 3)], []),
    Made("sorted", "the order intervals come in does not matter", [(20, 30), (0, 10)], [(0, 10), (20, 30)]),
    Made("overlapping joined", "a second covered twice is still one second", [(0, 10), (5, 15)], [(0, 15)]),
    Made("touching joined", "[0, 10) and [10, 20) leave no gap between them", [(0, 10), (10, 20)], [(0, 20)]),
    Made("contained swallowed", "an interval inside another adds nothing", [(0, 30), (10, 20)], [(0, 30)]),
]


@pytest.mark.parametrize("case", MADE, ids=lambda c: c.name)
def test_spans_normalise(case: Made) -> None:
    assert Spans(case.given).pairs == tuple(case.pairs), case.why


class Operation(NamedTuple):
    name: str
    why: str
    a: list[tuple[float, float]]
    b: list[tuple[float, float]]
    union: list[tuple[float, float]]
    intersection: list[tuple[float, float]]
    difference: list[tuple[float, float]]  # a - b


OPERATIONS = [
    Operation("disjoint", "nothing in common", [(0, 10)], [(20, 30)], [(0, 10), (20, 30)], [], [(0, 10)]),
    Operation("overlap", "b takes the end off a", [(0, 10)], [(5, 15)], [(0, 15)], [(5, 10)], [(0, 5)]),
    Operation("hole punched", "b in the middle of a splits it", [(0, 30)], [(10, 20)], [(0, 30)], [(10, 20)],
              [(0, 10), (20, 30)]),
    Operation("b covers a", "nothing of a is left", [(10, 20)], [(0, 30)], [(0, 30)], [(10, 20)], []),
    Operation("touching", "touching intervals share no second", [(0, 10)], [(10, 20)], [(0, 20)], [], [(0, 10)]),
    Operation("many against many", "each of b's intervals cuts a different one of a",
              [(0, 10), (20, 30), (40, 50)], [(5, 25), (45, 60)], [(0, 30), (40, 60)], [(5, 10), (20, 25), (45, 50)],
              [(0, 5), (25, 30), (40, 45)]),
    Operation("empty b", "taking nothing away leaves a", [(0, 10)], [], [(0, 10)], [], [(0, 10)]),
]


@pytest.mark.parametrize("case", OPERATIONS, ids=lambda c: c.name)
def test_spans_operations(case: Operation) -> None:
    a, b = Spans(case.a), Spans(case.b)
    assert (a | b).pairs == tuple(case.union), case.why
    assert (a & b).pairs == tuple(case.intersection), case.why
    assert (a - b).pairs == tuple(case.difference), case.why


def test_spans_clip_total_and_union_of_many() -> None:
    spans = Spans([(0, 10), (20, 30), (40, 50)])
    assert spans.clip(5, 45).pairs == ((5, 10), (20, 30), (40, 45))
    assert spans.total == 30
    assert spans.clip(5, 45).total == 20
    assert union([Spans([(0, 5)]), Spans([(5, 7)]), Spans([(9, 10)])]).pairs == ((0, 7), (9, 10))
    assert not Spans() and Spans.between(1, 2)


intervals = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=8)


def seconds(pairs: list[tuple[float, float]]) -> set[int]:
    return {t for start, end in pairs for t in range(int(start), int(end))}


@given(intervals, intervals)
def test_spans_agree_with_counting_seconds(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    """Whole-second intervals: every operation covers exactly the seconds set arithmetic says."""
    sa, sb = Spans(a), Spans(b)
    assert (sa | sb).total == len(seconds(a) | seconds(b))
    assert (sa & sb).total == len(seconds(a) & seconds(b))
    assert (sa - sb).total == len(seconds(a) - seconds(b))
    assert seconds(list((sa - sb).pairs)) == seconds(a) - seconds(b)
