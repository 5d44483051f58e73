"""The polling helper every test waits with: what it returns, and what its failure tells the reader."""

import pytest

from tests.polling import wait_until


class Counter:
    """A predicate that turns truthy on its ``until``-th call and returns the number of that call."""

    def __init__(self, until: int) -> None:
        self.until = until
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls if self.calls >= self.until else 0


class FalsyButLong:
    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "x" * 10000


def test_it_returns_the_first_truthy_value_and_stops_polling():
    counter = Counter(until=3)
    assert wait_until(counter, timeout=10, interval=0.001) == 3
    assert counter.calls == 3


def test_at_the_timeout_it_names_what_it_waited_for_and_the_last_value_seen():
    with pytest.raises(AssertionError, match=r"^timed out after 0.05s waiting for the queue to drain; "
                                             r"last value seen: \[\]$"):
        wait_until(lambda: [], timeout=0.05, interval=0.01, message="the queue to drain")


def test_a_long_last_value_is_cut_short_in_the_message():
    with pytest.raises(AssertionError, match=r"x\.\.\. \(10000 characters\)$") as failure:
        wait_until(FalsyButLong, timeout=0.01, interval=0.01)
    assert len(str(failure.value)) < 1000


def test_an_exception_ends_the_wait_at_once():
    """A predicate that finds the process under test dead fails the test now, not at the timeout."""
    counter = Counter(until=10 ** 9)

    def hub_alive():
        counter()
        raise AssertionError("the hub exited")

    with pytest.raises(AssertionError, match=r"^the hub exited$"):
        wait_until(hub_alive, timeout=10, interval=0.001)
    assert counter.calls == 1


def test_exceptions_it_is_told_to_ignore_mean_not_yet():
    counter = Counter(until=3)

    def read():
        if not counter():
            raise LookupError("no line yet")
        return "a reading"

    assert wait_until(read, timeout=10, interval=0.001, ignoring=(LookupError,)) == "a reading"


def test_an_ignored_exception_that_lasts_is_reported_and_chained():
    def never():
        raise LookupError("no line yet")

    with pytest.raises(AssertionError, match=r"it raised LookupError\('no line yet'\)$") as failure:
        wait_until(never, timeout=0.02, interval=0.01, ignoring=(LookupError,))
    assert isinstance(failure.value.__cause__, LookupError)
