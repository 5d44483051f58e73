"""Downsampling for charts (fleetmon.hub.store.downsample): bucket widths, what a bucket keeps, and that no
answer has more points than asked for."""

from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetmon.hub.store.downsample import bucket_width, downsample


class Width(NamedTuple):
    id: str
    first: float
    last: float
    max_points: int
    step: float
    want: float


WIDTHS = [
    # 24 h of minute buckets for 600 points: 86,340 s / 599 = 144.1 s, rounded up to whole minutes.
    Width("minute tier, 24 h, 600 points", 0, 86_340, 600, 60, 180),
    # Already fewer points than asked: never narrower than the tier's own bucket.
    Width("never below the tier's step", 0, 3_540, 600, 60, 60),
    # 2 h of raw 10 s samples for 600 points: 7,190 s / 599 = 12.003 s, rounded up to whole seconds.
    Width("raw, 2 h", 0, 7_190, 600, 1, 13),
    # Two points: the whole span must fit in one width so that two epoch-aligned buckets hold it.
    Width("two points", 100, 1_000, 2, 1, 900),
]


@pytest.mark.parametrize("case", WIDTHS, ids=lambda c: c.id)
def test_bucket_width(case):
    assert bucket_width(case.first, case.last, case.max_points, case.step) == case.want


class Thinned(NamedTuple):
    id: str
    points: list[tuple[float, float, float, int, float]]  # (ts, min, sum, count, max)
    max_points: int
    step: float
    want: list[tuple[float, float, float, float]]  # (bucket_start, min, mean, max)


CASES = [
    # Few enough: each point is only converted, its mean the sum over the count.
    Thinned("few enough points are only converted", [(0, 1, 6, 3, 3), (60, 2, 4, 2, 2)], 2, 60,
            [(0, 1, 2.0, 3), (60, 2, 2.0, 2)]),
    # Four points into two buckets 120 s wide (span 180 / (3 - 1) = 90 s, rounded up to whole minutes): a
    # spike in one minute survives as its bucket's max, a dip as its min.
    Thinned("a spike survives as the bucket's max", [(0, 1, 1, 1, 1), (60, 9, 9, 1, 9), (120, 0, 2, 1, 2),
                                                     (180, 2, 2, 1, 2)], 3, 60,
            [(0, 1, 5.0, 9), (120, 0, 2.0, 2)]),
    # The mean weighs each point by its count: a minute of 5 samples at 1.0 outweighs one of 1 sample at 7.0.
    Thinned("the mean weighs by count", [(0, 1, 5, 5, 1), (60, 7, 7, 1, 7), (120, 3, 3, 1, 3)], 2, 60,
            [(0, 1, 2.0, 7), (120, 3, 3.0, 3)]),
    # A gap stays a gap: buckets are cut in time, not by counting points.
    Thinned("a gap stays a gap", [(0, 1, 1, 1, 1), (10, 1, 1, 1, 1), (1_000, 5, 5, 1, 5)], 2, 1,
            [(0, 1, 1.0, 1), (1_000, 5, 5.0, 5)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_downsample(case):
    assert downsample(case.points, case.max_points, case.step) == case.want


@given(st.lists(st.tuples(st.floats(1e9, 1e9 + 10 * 86400), st.floats(-1e6, 1e6)), min_size=1, max_size=400,
                unique_by=lambda point: point[0]),
       st.integers(2, 300), st.sampled_from([1.0, 60.0, 3600.0]))
def test_no_answer_has_more_points_than_asked_and_every_bucket_brackets_its_mean(raw, max_points, step):
    points = [(ts, v, v, 1, v) for ts, v in sorted(raw)]
    out = downsample(points, max_points, step)
    assert len(out) <= max_points
    assert [p[0] for p in out] == sorted({p[0] for p in out})
    for _, low, mean, high in out:
        assert low <= mean + 1e-6 * abs(mean) + 1e-9 and mean <= high + 1e-6 * abs(mean) + 1e-9
    assert min(p[1] for p in out) == min(v for _, v in raw)
    assert max(p[3] for p in out) == max(v for _, v in raw)
