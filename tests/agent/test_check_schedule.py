"""The check schedule: what runs when, and what a reload keeps (real probes of a closed local port)."""

import threading

from fleetmon.agent.checks.schedule import CheckSchedule
from fleetmon.agent.checks.spec import parse_checks
from fleetmon.config_reader import Errors, Node
from tests.conftest import free_port
from tests.polling import wait_until


def specs(**checks):
    errors = Errors()
    parsed = parse_checks(Node(checks, "checks", errors))
    assert not errors, errors
    return parsed


def closed_port():
    return free_port()  # nothing listens there: the check is refused


def failing(interval="10s", timeout="1s"):
    return {"type": "tcp", "host": "127.0.0.1", "port": closed_port(), "interval": interval, "timeout": timeout}


def run_once(schedule, woke, now, expected):
    """Start what is due and gather results until ``expected`` have come back (they return one by one)."""
    woke.clear()
    schedule.start_due(now)
    batch = []
    wait_until(lambda: batch.extend(schedule.finished()) or len(batch) >= expected, timeout=10,
               message=f"{expected} check results")
    return batch


def test_a_reload_keeps_the_streak_of_an_unchanged_check_and_resets_a_changed_one():
    woke = threading.Event()
    schedule = CheckSchedule(on_result=woke.set)
    try:
        kept, changed = failing(), failing()
        schedule.install(specs(kept=kept, changed=changed))
        first = run_once(schedule, woke, now=float("inf"), expected=2)
        assert sorted((c.spec.name, c.failures, r.ok) for c, r in first) == [("changed", 1, False), ("kept", 1, False)]
        assert woke.is_set()

        gone = schedule.install(specs(kept=kept, changed=dict(changed, timeout="2s")))
        assert gone == []
        second = run_once(schedule, woke, now=float("inf"), expected=2)
        # The unchanged check's streak goes on (its recovery guard too); the changed one starts again.
        assert sorted((c.spec.name, c.failures) for c, _ in second) == [("changed", 1), ("kept", 2)]
    finally:
        schedule.close()


def test_a_removed_check_is_named_and_its_late_result_dropped():
    schedule = CheckSchedule(on_result=lambda: None)
    try:
        schedule.install(specs(old=failing()))
        schedule.start_due(float("inf"))
        assert schedule.install(specs(new=failing(interval="30s"))) == ["old"]
        # Only the new check's result comes back: the old one's, whenever it lands, is dropped.
        schedule.start_due(float("inf"))
        batch = wait_until(schedule.finished, timeout=10, message="no result for the new check")
        assert [c.spec.name for c, _ in batch] == ["new"]
    finally:
        schedule.close()


def test_next_due_is_the_earliest_of_the_sample_and_every_check():
    schedule = CheckSchedule(on_result=lambda: None)
    try:
        schedule.install(specs(a=failing(interval="10s"), b=failing(interval="30s")))
        due_at_install = schedule.next_due(default=1e12)
        schedule.start_due(due_at_install)  # both run: each is next due one interval later
        assert schedule.next_due(default=1e12) == due_at_install + 10
        assert schedule.next_due(default=due_at_install + 5) == due_at_install + 5
        wait_until(lambda: len(schedule.finished()) or None, timeout=10, message="probes did not finish")
    finally:
        schedule.close()
