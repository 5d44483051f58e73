"""The fleet's recent trend per dashboard section and panel: the mean and the max of the section's hosts'
panel values, one point a minute over the last hour, for the sparklines of the console's overview
(``GET /api/v1/dashboard``: each section's ``trends``).

Sampled by the hub's rules loop from the resolved layout (fleetmon.hub.layout.resolve, which computes each
host's panel values): ``due`` asks whether this minute has its point yet, ``observe`` takes one. Kept in
memory only: an hour of trend is quickly regained after a restart, and is no history (the store is).
"""

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

WINDOW = 3600.0  # seconds of trend kept
STEP = 60  # seconds between points

Point = tuple[float, float, float]  # minute start, mean, max


class PanelTrends:
    """Written by the rules thread, read by the HTTP threads: the point lists change only under the lock."""

    def __init__(self, window: float = WINDOW, step: int = STEP) -> None:
        self._window, self._step = window, step
        self._lock = threading.Lock()
        self._points: dict[tuple[str, str], deque[Point]] = {}  # (group, panel) -> points, oldest first
        self._sampled: float | None = None  # the minute of the last point taken

    @property
    def sampled(self) -> float | None:
        """The minute of the latest point (None before the first): the live feed tells pages when it moves."""
        return self._sampled

    def due(self, now: float) -> bool:
        """Whether the minute ``now`` falls in has no point yet."""
        return self._minute(now) != self._sampled

    def observe(self, layout: Mapping[str, Any], now: float) -> None:
        """One point per section and panel from ``layout`` (resolve's answer) for the minute of ``now``. A panel
        no host has a value for gets no point (the sparkline shows a gap); one no longer in the layout is
        forgotten."""
        minute = self._minute(now)
        taken: dict[tuple[str, str], Point | None] = {}
        for section in layout["sections"]:
            for panel in section["panels"]:
                key = (section["group"], panel)
                if key in taken:  # a group shown twice: the same hosts, the same values
                    continue
                values = [row["values"][panel] for row in section["hosts"] if panel in row["values"]]
                taken[key] = (minute, sum(values) / len(values), max(values)) if values else None
        with self._lock:
            kept = {key: self._points.get(key) or deque(maxlen=int(self._window // self._step)) for key in taken}
            for key, point in taken.items():
                if point is not None:
                    kept[key].append(point)
            self._points = kept
            self._sampled = minute

    def of(self, group: str, panels: Sequence[str], now: float) -> dict[str, list[list[float]]]:
        """``{panel: [[minute, mean, max], ...]}`` for the section of ``group``, the last ``window`` seconds."""
        since = now - self._window
        with self._lock:
            return {panel: [list(point) for point in self._points.get((group, panel), ()) if point[0] > since]
                    for panel in panels}

    def _minute(self, now: float) -> float:
        return float(int(now // self._step) * self._step)
