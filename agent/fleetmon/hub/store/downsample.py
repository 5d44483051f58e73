"""Fewer points for a chart than a tier holds: equal time buckets, each keeping the min, mean and max of what
fell in it, so a spike a chart cannot draw point by point still shows as the bucket's max (pure, no I/O).

A 24 h read of the minute tier holds 1,440 points per series, a 2 h raw read at 5 s 1,440 too; a chart a few
hundred pixels wide draws no more than one point per pixel. Buckets are aligned to multiples of their width
from the epoch, so the same range read again (the page refreshes) cuts the same buckets.
"""

import math
from collections.abc import Sequence

#: One point before downsampling: ``(ts, min, sum, count, max)``; a raw value v is ``(ts, v, v, 1, v)``.
Spread = tuple[float, float, float, int, float]


def bucket_width(first: float, last: float, max_points: int, step: float) -> float:
    """The narrowest width, a whole multiple of ``step`` (the tier's own: 60 s for the minute tier, 1 s for
    raw samples), that cuts ``first..last`` into at most ``max_points`` buckets aligned to the epoch.

    ``n`` epoch-aligned buckets of width ``w`` cover a span of at most ``(n - 1) * w`` whatever its phase, so
    ``w >= span / (max_points - 1)`` is enough; ``max_points`` is at least 2.
    """
    needed = (last - first) / (max_points - 1)
    return max(step, math.ceil(needed / step) * step)


def downsample(points: Sequence[Spread], max_points: int, step: float) -> list[tuple[float, float, float, float]]:
    """``points`` (sorted by time) merged into at most ``max_points`` buckets of equal width, each as
    ``(bucket_start, min, mean, max)``; the mean weighs each point by its count. Points already few enough
    are only converted."""
    if len(points) <= max_points:
        return [(ts, low, total / count, high) for ts, low, total, count, high in points]
    width = bucket_width(points[0][0], points[-1][0], max_points, step)
    out: list[tuple[float, float, float, float]] = []
    current = None
    low = high = total = 0.0
    count = 0
    for ts, p_low, p_total, p_count, p_high in points:
        bucket = math.floor(ts / width) * width
        if bucket != current:
            if current is not None:
                out.append((current, low, total / count, high))
            current, low, total, count, high = bucket, p_low, p_total, p_count, p_high
            continue
        if p_low < low:
            low = p_low
        if p_high > high:
            high = p_high
        total += p_total
        count += p_count
    out.append((current, low, total / count, high))
    return out
