"""When each check runs, and what its results become: failure streaks and recovery guards.

Probes run in a small pool so a slow one (a 10 s HTTP timeout) never delays sampling; their results come
back through a queue that the agent's main loop empties, so all the schedule's state is touched by that
one thread. A reload rebuilds the schedule but keeps the streak and guard of each check whose settings did
not change: a reload must not reset a recovery's rate limit.

The probes (HTTP, journeys, programs) and the pool are imported and started with the first check that
comes due, and the recovery code with the first check that has a recovery: an agent without checks,
most of the fleet, does not carry them (0.4 to 0.6 MiB; docs/benchmarks.md).
"""

import logging
import queue
import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Set, Tuple

from fleetmon.agent.checks.spec import CheckSpec
from fleetmon.protocol.check_results import CheckResult, next_consecutive_failures

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from fleetmon.agent.checks.recovery import RecoveryGuard

log = logging.getLogger("fleetmon.agent")


class ScheduledCheck:
    __slots__ = ("failures", "guard", "next_run", "spec")

    def __init__(self, spec: CheckSpec, next_run: float) -> None:
        self.spec = spec
        self.next_run = next_run  # time.monotonic()
        self.failures = 0  # consecutive
        self.guard: Optional["RecoveryGuard"] = None
        if spec.recovery:
            from fleetmon.agent.checks.recovery import RecoveryGuard

            self.guard = RecoveryGuard(spec.name, spec.recovery)


class CheckSchedule:
    def __init__(self, on_result: Callable[[], None], workers: int = 4) -> None:
        self._on_result = on_result  # called from a pool thread: wake the main loop
        self._workers = workers
        self._pool: Optional["ThreadPoolExecutor"] = None  # with the first check that comes due
        self._results: "queue.Queue[Tuple[CheckSpec, Optional[CheckResult]]]" = queue.Queue()
        self._checks: Dict[str, ScheduledCheck] = {}
        # By name, not by check: a check changed by a reload waits for its previous version's probe.
        self._running: Set[str] = set()

    def install(self, specs: List[CheckSpec]) -> List[str]:
        """Replace the schedule; returns the names of the checks that are gone."""
        now = time.monotonic()
        previous, self._checks = self._checks, {}
        for spec in specs:
            old = previous.get(spec.name)
            self._checks[spec.name] = old if old is not None and old.spec == spec else ScheduledCheck(spec, now)
        return [name for name in previous if name not in self._checks]

    def next_due(self, default: float) -> float:
        return min([default] + [check.next_run for check in self._checks.values()])

    def start_due(self, now: float) -> None:
        for check in self._checks.values():
            if check.next_run <= now and check.spec.name not in self._running:
                check.next_run = now + check.spec.interval
                self._running.add(check.spec.name)
                self._started_pool().submit(self._probe, check.spec)

    def finished(self) -> List[Tuple[ScheduledCheck, CheckResult]]:
        """The results that came back since the last call, with their check's updated failure streak."""
        batch = []
        while True:
            try:
                spec, result = self._results.get_nowait()
            except queue.Empty:
                return batch
            self._running.discard(spec.name)
            check = self._checks.get(spec.name)
            if check is None or check.spec != spec or result is None:
                continue  # removed or changed by a reload while it ran, or crashed (logged)
            check.failures = next_consecutive_failures(check.failures, result)
            batch.append((check, result))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def _started_pool(self) -> "ThreadPoolExecutor":
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="check")
        return self._pool

    def _probe(self, spec: CheckSpec) -> None:
        try:
            from fleetmon.agent.checks.probes import run_check  # imported once, by the first probe

            self._results.put((spec, run_check(spec)))
        except Exception:  # a probe bug must not kill the pool thread silently
            log.exception("check %s crashed", spec.name)
            self._results.put((spec, None))
        self._on_result()
