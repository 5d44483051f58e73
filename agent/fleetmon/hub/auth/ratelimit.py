"""Slowing down guessing: failures counted per key (a client address, a user name); once a key has had its
free failures (FREE_FAILURES unless the throttle says otherwise) within WINDOW, each further attempt must wait
an exponential back-off after the last — 1 s, 2 s, 4 s … at most MAX_BACKOFF — or it is not heard at all.

An attempt made during the back-off counts as a failure too (it is answered 429 unheard), so hammering only
lengthens the wait. Memory is bounded: at most ``max_keys`` keys, the least recently failed forgotten first,
each with its last KEPT_FAILURES times (enough to reach the longest back-off).
"""

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

FREE_FAILURES = 5
WINDOW = 15 * 60.0
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0
MAX_KEYS = 10_000
KEPT_FAILURES = 32


def backoff(failures: int, free: int = FREE_FAILURES) -> float:
    """Seconds an attempt must wait after the last of ``failures`` recent failures, ``free`` of them free."""
    if failures < free:
        return 0.0
    return min(FIRST_BACKOFF * 2.0 ** (failures - free), MAX_BACKOFF)


class Throttle:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS,
                 free_failures: int = FREE_FAILURES) -> None:
        self._clock, self._max_keys, self._free = clock, max_keys, free_failures
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # key -> its recent failure times
        self._lock = threading.Lock()

    def wait(self, keys: Iterable[str]) -> float:
        """Seconds before an attempt under all of ``keys`` is heard; 0 when it is heard now."""
        now = self._clock()
        with self._lock:
            return max((self._wait(key, now) for key in keys), default=0.0)

    def failed(self, keys: Iterable[str]) -> float:
        """Count a failure under each key; returns the wait it brings on."""
        keys, now = tuple(keys), self._clock()
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if times is None:
                    times = self._failures[key] = deque(maxlen=KEPT_FAILURES)
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)
            return max((self._wait(key, now) for key in keys), default=0.0)

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)

    def _wait(self, key: str, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and now - times[0] > WINDOW:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0.0
        return max(0.0, times[-1] + backoff(len(times), self._free) - now)
