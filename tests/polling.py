"""The one way a test waits: poll for the event it is waiting for, never sleep a fixed time.

A fixed sleep is a guess about how fast the machine is. On a fast machine it wastes time; on a slow one
the event has not happened yet and the test fails, or, worse, a test asserting that something did *not*
happen passes without having checked anything. Polling for the positive event ends as soon as it happens
and fails loudly, with what it last saw, when it does not.

Absence is proven the same way: wait for a later positive event that must come after the one that must
not (a marker message, an evaluation tick, a later notification), then assert the absence.

This file runs under the agent's Python 3.8 as well.
"""

import time
from typing import Callable, Optional, Tuple, Type, TypeVar

T = TypeVar("T")

_SHOWN = 600  # characters of the last value an error message shows; enough to see why, short enough to read


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
               message: str = "the condition", ignoring: Tuple[Type[BaseException], ...] = ()) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    After ``timeout`` seconds it raises AssertionError naming ``message`` and the last value seen. An
    exception from ``predicate`` ends the wait at once (a dead process should fail the test now, not at
    the timeout), except those listed in ``ignoring``: they mean "not yet", as when a reader raises until
    its source has produced something, and the last of them is chained to the timeout's error.
    """
    deadline = time.monotonic() + timeout
    last: Optional[T] = None
    error: Optional[BaseException] = None
    while True:
        try:
            last, error = predicate(), None
        except ignoring as exc:
            error = exc
        else:
            if last:
                return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            seen = f"it raised {error!r}" if error is not None else f"last value seen: {_shown(last)}"
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message}; {seen}") from error
        time.sleep(min(interval, remaining))  # the poll interval: the one sleep a test may take


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(text)} characters)"
