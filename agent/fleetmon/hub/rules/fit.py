"""Ordinary least squares over (x, y) points: the one piece of arithmetic the trend rules share.

x is centred on its mean before the sums are taken: Unix timestamps are ~1.7e9, and squaring them
uncentred leaves too few significant bits in a double for the slope of a slowly filling disk.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class LinearFit:
    """y ≈ intercept + slope · x, with intercept taken at ``x = x_mean`` (see ``at``)."""

    slope: float  # y units per x unit
    x_mean: float
    y_mean: float
    r2: float  # share of y's variance the line explains, 0..1; 0 when y does not vary
    n: int
    x_span: float  # last x minus first x

    def at(self, x: float) -> float:
        return self.y_mean + self.slope * (x - self.x_mean)

    def crossing(self, y: float) -> float | None:
        """The x where the line reaches ``y``; None for a flat line."""
        if self.slope == 0.0:
            return None
        return self.x_mean + (y - self.y_mean) / self.slope


def linear_fit(points: Sequence[tuple[float, float]]) -> LinearFit | None:
    """The least-squares line through ``points``; None when x does not vary or a value is not finite."""
    n = len(points)
    if n < 2:
        return None
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    x_sum, y_sum = sum(xs), sum(ys)
    if not (math.isfinite(x_sum) and math.isfinite(y_sum)):
        return None
    x_mean, y_mean = x_sum / n, y_sum / n
    dxs = [x - x_mean for x in xs]
    dys = [y - y_mean for y in ys]
    sxx = sum(dx * dx for dx in dxs)
    if sxx == 0.0:
        return None
    sxy = sum(dx * dy for dx, dy in zip(dxs, dys, strict=True))
    syy = sum(dy * dy for dy in dys)
    slope = sxy / sxx
    r2 = 0.0 if syy == 0.0 else min(1.0, max(0.0, sxy * sxy / (sxx * syy)))
    return LinearFit(slope=slope, x_mean=x_mean, y_mean=y_mean, r2=r2, n=n, x_span=max(xs) - min(xs))
