"""A failure episode: from the first failed write attempt to the next one that succeeds.

While the environment fails the writes, the writer keeps the batch and tries again with backoff on a new
connection; nothing more is taken from the queue meanwhile, so the hub's queue fills and what it cannot
take is dropped and counted there. Writing resumes by itself. The episode is what ``Store.problem()``
tells people about: since when, and the latest failure.
"""

import logging
import time

from fleetmon.hub.store.corrupt import move_aside
from fleetmon.hub.store.counters import Counters
from fleetmon.hub.store.failures import REASONS, failure_reason, filesystem_read_only

log = logging.getLogger(__name__)

#: Backoff between attempts while writes fail (seconds): short first, so a brief fault costs little.
RETRY_FIRST, RETRY_MAX = 0.1, 2.0


def next_retry_delay(delay: float) -> float:
    """The wait before the attempt after one that waited ``delay``: doubled, up to RETRY_MAX."""
    return min(2 * delay, RETRY_MAX)


class FailureEpisode:
    """Records each failed attempt in the counters (logged once per distinct failure) and the end of the
    episode; holds the backoff. A corrupt file is moved aside at once: it never heals."""

    def __init__(self, path: str, counters: Counters) -> None:
        self._path = path
        self._counters = counters
        self.retry_delay = RETRY_FIRST
        #: When an idle writer tries a write again (time.monotonic()), while failing.
        self.next_probe = 0.0

    def back_off(self) -> None:
        self.retry_delay = next_retry_delay(self.retry_delay)

    def failed(self, exc: Exception) -> None:
        counters = self._counters
        reason, text = failure_reason(exc, lambda: filesystem_read_only(self._path))
        counters.write_errors += 1
        counters.failures[reason] += 1
        logged = text != counters.failure
        # The failure before failing_since: the thread that publishes the counters may run between any two of
        # these, and a failing_since without its failure reads "writes failing since ...: " (no reason).
        counters.failing_reason = REASONS.index(reason) + 1
        counters.failure = text
        if not counters.failing_since:
            counters.failing_since = time.time()
            self.retry_delay = RETRY_FIRST
        if logged:
            if reason == "unexpected":
                log.error("history store: writes failing, retrying", exc_info=exc)
            else:
                log.error("history store: writes failing, retrying: %s", text)
        self.next_probe = time.monotonic() + self.retry_delay
        if reason == "corrupt" and move_aside(self._path, text):
            counters.databases_replaced += 1

    def succeeded(self) -> None:
        counters = self._counters
        if counters.failing_since:
            log.warning("history store: writing again after %.1f s of failures (%s)",
                        time.time() - counters.failing_since, counters.failure)
            counters.failing_since = 0.0
            counters.failing_reason = 0
            counters.failure = ""
