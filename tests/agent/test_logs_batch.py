"""When kept entries become a batch (fleetmon.agent.logs.batch), on an injected clock."""

from typing import List, NamedTuple, Tuple

import pytest

from fleetmon.agent.logs.batch import BatchBuilder


class Case(NamedTuple):
    name: str
    why: str
    added: List[Tuple[float, int]]  # (when, message bytes) of each entry added
    now: float
    due: bool
    pending: bool = False
    closed_at: float = -1.0  # when the previous batch was taken; below 0: none yet
    max_lines: int = 3
    max_bytes: int = 1000


CASES = [
    Case("empty", "nothing to send, nothing waiting", [], 100.0, False),
    Case("young", "one entry, 0.5 s old, interval 2 s: wait for more", [(10.0, 10)], 10.5, False),
    Case("interval reached", "the first entry has waited the whole interval", [(10.0, 10), (11.5, 10)], 12.0,
         True),
    Case("full by lines", "max_lines entries: send now, whatever the time", [(10.0, 1)] * 3, 10.0, True),
    Case("full by bytes", "a few long messages fill an MQTT message early", [(10.0, 600), (10.0, 600)], 10.0,
         True),
    Case("drops alone, early", "drops to report, but a batch went out 1 s ago", [], 11.0, False, pending=True,
         closed_at=10.0),
    Case("drops alone, due", "drops to report and an interval since the last batch", [], 12.0, True,
         pending=True, closed_at=10.0),
    Case("drops, first batch", "nothing was ever sent: drops go out at once", [], 0.5, True, pending=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_is_due(case):
    batch = BatchBuilder(case.max_lines, 2.0, max_bytes=case.max_bytes)
    if case.closed_at >= 0:
        batch.take(case.closed_at)
    for at, size in case.added:
        batch.add({"message": "x" * size}, size, at)
    assert batch.is_due(case.now, pending=case.pending) is case.due, case.why


def test_take_hands_the_entries_out_oldest_first_and_starts_over():
    batch = BatchBuilder(10, 2.0)
    for n in range(3):
        batch.add({"n": n}, 1, 5.0 + n)
    assert batch.seconds_left(6.0) == pytest.approx(1.0), "due 2 s after its first entry"
    assert [e["n"] for e in batch.take(8.0)] == [0, 1, 2]
    assert len(batch) == 0 and not batch.is_due(100.0)
    batch.add({"n": 3}, 1, 9.0)
    assert not batch.is_due(10.0), "the interval runs from the new batch's first entry"
