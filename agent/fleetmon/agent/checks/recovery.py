"""Guarded recovery: after N failures in a row run an action, at most M times per sliding window.

The guard decides (``RecoveryGuard.observe``, given the clock as ``now``); ``run_action`` is the only
I/O. A restart loop that does not help stops at the window's limit and says so once, instead of
restarting a broken service forever.
"""

import logging
from collections import deque
from typing import Any, Deque, Dict, List

from fleetmon.agent.checks.run_program import CommandOutcome, run_argv
from fleetmon.agent.checks.spec import RecoverySpec
from fleetmon.protocol.check_results import CheckResult

log = logging.getLogger(__name__)


def run_action(recovery: RecoverySpec) -> CommandOutcome:
    return run_argv(recovery.argv, recovery.timeout)


class RecoveryGuard:
    """One per check that has ``recovery``; feed it every result of that check, in order."""

    def __init__(self, check: str, recovery: RecoverySpec) -> None:
        self.check = check
        self.recovery = recovery
        self.consecutive_failures = 0  # the whole streak, for fleetmon_check_consecutive_failures
        self._failures_since_action = 0
        self._attempts_in_streak = 0
        self._action_times: Deque[float] = deque()
        self._suppression_reported = False

    def observe(self, result: CheckResult, now: float) -> List[Dict[str, Any]]:
        """Events caused by this result: at most one recovery_action or recovery_suppressed."""
        if result.ok:
            self.consecutive_failures = 0
            self._failures_since_action = 0
            self._attempts_in_streak = 0
            self._suppression_reported = False
            return []
        self.consecutive_failures += 1
        self._failures_since_action += 1
        if self._failures_since_action < self.recovery.after:
            return []
        while self._action_times and self._action_times[0] <= now - self.recovery.window:
            self._action_times.popleft()
        if len(self._action_times) >= self.recovery.max_actions:
            if self._suppression_reported:
                return []
            self._suppression_reported = True
            reason = (f"{len(self._action_times)} actions in the last {self.recovery.window:g}s "
                      f"(max {self.recovery.max_actions}); waiting for the window to slide")
            return [self._event("recovery_suppressed", False, reason, attempt=self._attempts_in_streak + 1)]
        self._action_times.append(now)
        self._failures_since_action = 0
        self._attempts_in_streak += 1
        self._suppression_reported = False
        outcome = run_action(self.recovery)
        ok = outcome.exit_code == 0
        message = outcome.summary
        log.warning("check %s: recovery %s %s (attempt %d): %s", self.check, self.recovery.action,
                    self.recovery.target, self._attempts_in_streak, message if ok else "failed: " + message)
        return [self._event("recovery_action", ok, message, attempt=self._attempts_in_streak)]

    def _event(self, kind: str, ok: bool, message: str, attempt: int) -> Dict[str, Any]:
        return {
            "kind": kind,
            "check": self.check,
            "action": self.recovery.action,
            "target": self.recovery.target,
            "attempt": attempt,
            "ok": ok,
            "message": message,
            "window_actions": len(self._action_times),
        }
