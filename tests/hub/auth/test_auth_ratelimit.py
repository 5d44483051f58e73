"""The throttle of failed logins and wrong tokens (fleetmon.hub.auth.ratelimit) on a clock the test moves:
free failures, then a back-off doubling from 1 s to at most 5 minutes, counted per key within a window,
forgotten on request, in bounded memory."""

import pytest

from fleetmon.hub.auth.ratelimit import (
    FIRST_BACKOFF,
    FREE_FAILURES,
    KEPT_FAILURES,
    MAX_BACKOFF,
    WINDOW,
    Throttle,
    backoff,
)
from tests.hub.auth.visitor import Clock

CLIENT, USER = "client:192.0.2.1", "user:otto"


@pytest.mark.parametrize("failures, seconds", [
    (0, 0.0), (1, 0.0), (FREE_FAILURES - 1, 0.0),  # typos are free
    (FREE_FAILURES, FIRST_BACKOFF), (FREE_FAILURES + 1, 2.0), (FREE_FAILURES + 2, 4.0), (FREE_FAILURES + 8, 256.0),
    (FREE_FAILURES + 9, MAX_BACKOFF),  # 512 s, capped: a locked-out user is back within 5 minutes
    (KEPT_FAILURES, MAX_BACKOFF),
    (1000, MAX_BACKOFF),
])
def test_the_backoff_after_so_many_failures(failures, seconds):
    assert backoff(failures) == seconds


@pytest.fixture
def throttle(clock: Clock) -> Throttle:
    return Throttle(clock)


def fail(throttle: Throttle, times: int, *keys: str) -> list[float]:
    return [throttle.failed(keys or (CLIENT,)) for _ in range(times)]


def test_free_failures_then_a_wait_that_doubles_with_each_further_failure(throttle, clock):
    assert fail(throttle, FREE_FAILURES) == [0.0] * (FREE_FAILURES - 1) + [1.0]
    assert throttle.wait([CLIENT]) == 1.0
    clock.advance(0.25)
    assert throttle.wait([CLIENT]) == 0.75  # the Retry-After a client is told counts down
    clock.advance(0.75)
    assert throttle.wait([CLIENT]) == 0.0  # heard again
    assert fail(throttle, 3) == [2.0, 4.0, 8.0]  # a failure during the wait counts as well
    assert throttle.wait([CLIENT]) == 8.0


def test_a_throttle_may_give_more_failures_free_and_still_reaches_the_longest_backoff(clock):
    generous = Throttle(clock, free_failures=20)
    waits = fail(generous, 20 + 9)
    assert waits[:19] == [0.0] * 19 and waits[19] == FIRST_BACKOFF
    assert waits[-1] == MAX_BACKOFF  # the failures kept reach the cap


def test_the_wait_never_grows_beyond_the_longest_backoff(throttle):
    waits = fail(throttle, 100)
    assert max(waits) == waits[-1] == MAX_BACKOFF
    assert waits.index(MAX_BACKOFF) == FREE_FAILURES + 9 - 1


def test_keys_count_apart_and_a_request_under_several_waits_for_the_longest(throttle):
    fail(throttle, FREE_FAILURES + 2, CLIENT, USER)  # a guesser trying one user: both keys count
    fail(throttle, FREE_FAILURES, "client:192.0.2.2")
    assert throttle.wait([CLIENT]) == throttle.wait([USER]) == 4.0
    assert throttle.wait(["client:192.0.2.2"]) == 1.0
    assert throttle.wait(["client:192.0.2.2", USER]) == 4.0
    assert throttle.wait(["client:192.0.2.3", "user:vera"]) == 0.0
    assert throttle.wait([]) == 0.0


def test_forgetting_a_key_clears_its_wait_and_no_other(throttle):
    fail(throttle, FREE_FAILURES, CLIENT, USER)
    throttle.forget(USER)  # otto logged in: his name is no longer being guessed
    assert throttle.wait([USER]) == 0.0
    assert throttle.wait([CLIENT]) == 1.0
    throttle.forget("user:nobody")  # forgetting an unknown key is no error
    assert fail(throttle, 1, USER) == [0.0]  # counting starts again


def test_failures_older_than_the_window_are_forgotten(throttle, clock):
    fail(throttle, 3)
    clock.advance(WINDOW - 10)
    assert fail(throttle, 2) == [0.0, 1.0]  # five within the window
    clock.advance(11)  # the first three are past it: two left
    assert throttle.wait([CLIENT]) == 0.0
    assert fail(throttle, 1) == [0.0]
    clock.advance(WINDOW + 1)
    assert throttle.wait([CLIENT]) == 0.0
    assert len(throttle) == 0  # a key without recent failures takes no memory


def test_memory_is_bounded_the_least_recently_failed_key_forgotten_first(clock):
    throttle = Throttle(clock, max_keys=3)
    for key in ("a", "b", "c"):
        fail(throttle, FREE_FAILURES, key)
    fail(throttle, 1, "a")  # a failed last of the three
    fail(throttle, FREE_FAILURES, "d")
    assert len(throttle) == 3
    assert throttle.wait(["b"]) == 0.0  # forgotten
    assert [throttle.wait([key]) for key in ("a", "c", "d")] == [2.0, 1.0, 1.0]
