"""Why a write the full queue could not take is counted as dropped (``history.drop_reason``)."""

from typing import NamedTuple

import pytest

from fleetmon.hub.store.history import drop_reason


class Case(NamedTuple):
    name: str
    failing_since: float  # 0: writes are not failing
    failing_reason: str
    reason: str


CASES = [
    # the writer is only behind: the queue is too small for the load
    Case("writing", 0.0, "", "queue_full"),
    # the queue filled behind a batch the writer keeps retrying: the fault is why
    Case("the disk is full", 1_700_000_000.0, "disk_full", "disk_full"),
    Case("the database is locked", 1_700_000_000.0, "locked", "locked"),
    # a reason left from an episode that is over is no reason now
    Case("a stale reason while writing", 0.0, "locked", "queue_full"),
    # failing, but the writer process has not published why yet
    Case("failing, reason not yet known", 1_700_000_000.0, "", "queue_full"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_drop_is_counted_under_why_the_queue_is_full(case):
    assert drop_reason(case.failing_since, case.failing_reason) == case.reason
