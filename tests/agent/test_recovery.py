"""Guarded recovery: real actions (a command that leaves a trace), driven through many failures with a
fake clock so the window can slide without sleeping."""

import shlex

from fleetmon.agent.checks.probes import run_check
from fleetmon.agent.checks.recovery import RecoveryGuard
from fleetmon.agent.checks.spec import parse_checks
from fleetmon.config_reader import Errors, Node

MINUTE = 60.0
HOUR = 3600.0


def check_with_recovery(**recovery):
    """A command check that always fails, with the given recovery settings."""
    errors = Errors()
    specs = parse_checks(Node({"app": {"type": "command", "command": "exit 1", "recovery": recovery}},
                              "checks", errors))
    assert not errors, errors
    return specs[0]


def restart_log(tmp_path):
    log = tmp_path / "restarts.log"
    return log, f"echo restarted >> {shlex.quote(str(log))}"


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_actions_are_limited_per_window_suppressed_once_and_resume_when_the_window_slides(tmp_path):
    log, action = restart_log(tmp_path)
    spec = check_with_recovery(action="command", command=action, after=3, max_actions=2, window="1h")
    failure = run_check(spec)
    assert not failure.ok
    guard = RecoveryGuard(spec.name, spec.recovery)

    events_at = []
    now = 0.0
    for _ in range(100):  # 100 failures, one a minute: 1h39m of a service that stays broken
        events_at.extend((now, event) for event in guard.observe(failure, now))
        now += MINUTE

    kinds = [(at, event["kind"]) for at, event in events_at]
    assert kinds == [
        (2 * MINUTE, "recovery_action"),  # the 3rd failure in a row
        (5 * MINUTE, "recovery_action"),  # 3 more failures after the first action
        (8 * MINUTE, "recovery_suppressed"),  # the 3rd action within the hour is refused, said once
        (62 * MINUTE, "recovery_action"),  # the first action left the window
        (65 * MINUTE, "recovery_action"),
        (68 * MINUTE, "recovery_suppressed"),
    ]
    assert lines(log) == ["restarted"] * 4
    assert guard.consecutive_failures == 100

    first, second, suppressed = (event for _, event in events_at[:3])
    assert first == {"kind": "recovery_action", "check": "app", "action": "command", "target": action,
                     "attempt": 1, "ok": True, "message": "exit 0", "window_actions": 1}
    assert (second["attempt"], second["window_actions"]) == (2, 2)
    assert suppressed["attempt"] == 3 and suppressed["ok"] is False
    assert suppressed["window_actions"] == 2
    assert "2 actions in the last 3600s (max 2)" in suppressed["message"]
    assert events_at[3][1]["attempt"] == 3  # attempts count within the failure streak


def test_a_passing_run_ends_the_streak(tmp_path):
    log, action = restart_log(tmp_path)
    spec = check_with_recovery(action="command", command=action, after=3, max_actions=5, window="1h")
    guard = RecoveryGuard(spec.name, spec.recovery)
    failure = run_check(spec)
    success = failure._replace(ok=True)

    outcomes = [guard.observe(result, minute * MINUTE)
                for minute, result in enumerate([failure, failure, success, failure, failure])]
    assert outcomes == [[]] * 5  # never 3 failures in a row
    assert guard.consecutive_failures == 2
    assert lines(log) == []
    assert guard.observe(failure, 5 * MINUTE)[0]["attempt"] == 1
    assert lines(log) == ["restarted"]


def test_a_failing_action_is_reported_with_its_output(tmp_path):
    spec = check_with_recovery(action="command", command="echo cannot restart >&2; exit 2", after=1)
    guard = RecoveryGuard(spec.name, spec.recovery)
    (event,) = guard.observe(run_check(spec), 0.0)
    assert event["kind"] == "recovery_action"
    assert (event["ok"], event["message"]) == (False, "cannot restart")


def test_an_action_is_stopped_at_its_timeout():
    spec = check_with_recovery(action="command", command="echo restarting; sleep 60", after=1, timeout="2s")
    guard = RecoveryGuard(spec.name, spec.recovery)
    (event,) = guard.observe(run_check(spec), 0.0)
    assert (event["ok"], event["message"]) == (False, "timed out after 2s: restarting")


def test_restart_unit_runs_systemctl_and_reports_its_failure_here():
    spec = check_with_recovery(action="restart_unit", unit="fleetmon-no-such-unit.service", after=1)
    guard = RecoveryGuard(spec.name, spec.recovery)
    (event,) = guard.observe(run_check(spec), 0.0)
    assert event["action"] == "restart_unit"
    assert event["target"] == "fleetmon-no-such-unit.service"
    assert event["ok"] is False  # no systemd here, or no such unit on a systemd host
    assert event["message"]
