"""A group's hosts side by side: one dashboard panel's value per host and time bucket, from the history's
bucketed read (fleetmon.hub.store.Store.bucketed), for the console's group page (pure).

A cell is what the panel shows for the host (fleetmon.hub.layout.Panel), over the bucket instead of at the
last sample: each series' mean in the bucket, then the panel's ``combine`` over the series (the fullest
disk, the sum of the interfaces). A rate panel (counters) takes each series' per-second rate from the last
reading of the bucket before to the last of this one; a counter that went down (a reboot) gives no rate,
and neither does the first bucket. A bucket without data is ``None``.
"""

from collections.abc import Sequence
from typing import Any

from fleetmon.hub.layout import Panel
from fleetmon.hub.store import BucketedSeries


def heatmap_rows(panel: Panel, hosts: Sequence[str], series: Sequence[BucketedSeries],
                 buckets: int) -> list[dict[str, Any]]:
    """``[{host, values}]`` in the order of ``hosts``, ``values`` one per bucket."""
    by_host: dict[str, list[BucketedSeries]] = {}
    for one in series:
        by_host.setdefault(one.host, []).append(one)
    return [{"host": host, "values": _cells(panel, by_host.get(host, []), buckets)} for host in hosts]


def _cells(panel: Panel, series: Sequence[BucketedSeries], buckets: int) -> list[float | None]:
    per_series = [_rates(one, buckets) if panel.rate else _means(one, buckets) for one in series]
    cells: list[float | None] = []
    for index in range(buckets):
        present = [values[index] for values in per_series if values[index] is not None]
        if not present:
            cells.append(None)
        else:
            cells.append(sum(present) if panel.combine == "sum" else max(present))
    return cells


def _means(series: BucketedSeries, buckets: int) -> list[float | None]:
    found = series.buckets
    return [found[i][0] / found[i][1] if i in found else None for i in range(buckets)]


def _rates(series: BucketedSeries, buckets: int) -> list[float | None]:
    found = series.buckets
    rates: list[float | None] = [None]
    for index in range(1, buckets):
        before, now = found.get(index - 1), found.get(index)
        if before is None or now is None or now[2] <= before[2] or now[3] < before[3]:
            rates.append(None)
        else:
            rates.append((now[3] - before[3]) / (now[2] - before[2]))
    return rates
