"""The least-squares line the trend rules share: exact on lines, stable on Unix timestamps, R² in 0..1."""

import math

from hypothesis import given
from hypothesis import strategies as st

from fleetmon.hub.rules.fit import linear_fit

T0 = 1_763_740_000.0

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@given(slope=st.floats(min_value=-1e-2, max_value=1e-2), intercept=finite,
       offsets=st.lists(st.floats(min_value=0, max_value=86400), min_size=2, max_size=50, unique=True))
def test_points_on_a_line_give_that_line_back_even_at_unix_time(slope, intercept, offsets):
    if max(offsets) - min(offsets) < 1.0:
        return
    points = [(T0 + dx, intercept + slope * dx) for dx in offsets]
    fit = linear_fit(points)
    assert fit is not None
    assert math.isclose(fit.slope, slope, rel_tol=1e-6, abs_tol=1e-12)
    assert math.isclose(fit.at(T0), intercept, rel_tol=1e-6, abs_tol=1e-6)
    if abs(slope) * (max(offsets) - min(offsets)) > 1e-3:
        assert fit.r2 > 0.999999
        assert math.isclose(fit.crossing(intercept + slope * 3600), T0 + 3600, abs_tol=1e-3)


timestamps = st.integers(min_value=0, max_value=10**9).map(lambda ms: T0 + ms / 1000)  # ms, as on the wire


@given(st.lists(st.tuples(timestamps, finite), min_size=2, max_size=60))
def test_r2_is_a_share_and_the_line_passes_through_the_mean(points):
    fit = linear_fit(points)
    if fit is None:
        assert len({x for x, _ in points}) == 1
        return
    assert 0.0 <= fit.r2 <= 1.0
    assert fit.n == len(points)
    assert math.isclose(fit.at(fit.x_mean), sum(y for _, y in points) / len(points), abs_tol=1e-6)


def test_degenerate_inputs_have_no_line():
    assert linear_fit([]) is None
    assert linear_fit([(T0, 1.0)]) is None
    assert linear_fit([(T0, 1.0), (T0, 2.0)]) is None
    assert linear_fit([(T0, 1.0), (T0 + 1, math.nan)]) is None
    flat = linear_fit([(T0, 0.5), (T0 + 60, 0.5), (T0 + 120, 0.5)])
    assert (flat.slope, flat.r2, flat.crossing(1.0)) == (0.0, 0.0, None)
