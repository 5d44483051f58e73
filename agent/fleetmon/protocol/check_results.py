"""CheckResult, the outcome of one check run, and its two published forms: metrics and the checks message.

A journey's result also carries its steps (``StepResult``): each one's outcome and timings, so a failing
journey names the step that broke and why, and its timings become the ``fleetmon_journey_step_*`` metrics.
Results of the other types have no steps, and their messages stay as they were.
"""

from typing import Any, Dict, NamedTuple, Optional, Tuple

from fleetmon.protocol.metricset import MetricSet

#: What became of a step: it passed, it failed, or it did not run (an earlier step failed, or a variable it
#: uses was never extracted).
STEP_OK, STEP_FAILED, STEP_SKIPPED = "ok", "fail", "skipped"
#: The phases of one HTTP exchange, as the ``phase`` label of fleetmon_journey_step_duration_seconds names them.
PHASES = ("dns", "connect", "tls", "first_byte", "total")


class StepTimings(NamedTuple):
    """Seconds spent in each phase of a step; None for a phase that did not happen (tls over http, or every
    phase after the one that failed). Over redirects, each phase is the sum over the requests."""

    dns: Optional[float] = None
    connect: Optional[float] = None
    tls: Optional[float] = None
    first_byte: Optional[float] = None  # from the request sent to the first byte of the response
    total: Optional[float] = None  # the whole step, body read included


class StepResult(NamedTuple):
    index: int  # 1-based, as people count steps
    name: str
    status: str  # STEP_OK, STEP_FAILED or STEP_SKIPPED
    message: str
    timings: StepTimings = StepTimings()
    http_status: Optional[int] = None  # of the last response, when one came
    extracted: Tuple[str, ...] = ()  # the names of the variables it set (never their values)
    always: bool = False

    @property
    def ok(self) -> bool:
        return self.status == STEP_OK


class CheckResult(NamedTuple):
    name: str
    type: str
    ok: bool
    message: str
    started_at: float  # unix seconds
    duration_s: float
    # Per type: latency seconds (tcp, http, dns, ping), seconds until notAfter (tls),
    # matching processes (process), exit code (command), seconds of the steps that ran (journey);
    # None where nothing was measured.
    value: Optional[float] = None
    steps: Optional[Tuple[StepResult, ...]] = None  # journeys only

    @property
    def failed_step(self) -> Optional[StepResult]:
        """The first step that failed, for a journey that failed."""
        return next((step for step in self.steps or () if step.status == STEP_FAILED), None)


def next_consecutive_failures(previous: int, result: CheckResult) -> int:
    """The failure streak after ``result``: one more on failure, back to zero on success."""
    return 0 if result.ok else previous + 1


def result_metrics(result: CheckResult, consecutive_failures: int, out: MetricSet) -> None:
    labels = {"check": result.name, "type": result.type}
    out.add("fleetmon_check_up", 1 if result.ok else 0, labels)
    out.add("fleetmon_check_duration_seconds", result.duration_s, labels)
    out.add("fleetmon_check_consecutive_failures", consecutive_failures, labels)
    if result.type == "tls" and result.value is not None:
        out.add("fleetmon_check_cert_expiry_seconds", result.value, {"check": result.name})
    for step in result.steps or ():
        if step.status == STEP_SKIPPED:
            continue  # a step that did not run has no outcome: its series keep their last value
        step_labels = {"check": result.name, "step": step.name}
        out.add("fleetmon_journey_step_up", 1 if step.ok else 0, step_labels)
        for phase, seconds in zip(PHASES, step.timings):
            if seconds is not None:
                out.add("fleetmon_journey_step_duration_seconds", seconds, dict(step_labels, phase=phase))


def result_to_json(result: CheckResult, consecutive_failures: int) -> Dict[str, Any]:
    """One entry of the checks MQTT message."""
    entry: Dict[str, Any] = {
        "name": result.name,
        "type": result.type,
        "ok": result.ok,
        "status": "ok" if result.ok else "fail",
        "message": result.message,
        "started_at": round(result.started_at, 3),
        "duration_s": round(result.duration_s, 6),
        "value": None if result.value is None else round(result.value, 6),
        "consecutive_failures": consecutive_failures,
    }
    if result.steps is not None:
        entry["steps"] = [step_to_json(step) for step in result.steps]
    return entry


def step_to_json(step: StepResult) -> Dict[str, Any]:
    return {
        "index": step.index,
        "name": step.name,
        "status": step.status,
        "message": step.message,
        "http_status": step.http_status,
        "timings_s": {phase: round(seconds, 6) for phase, seconds in zip(PHASES, step.timings)
                      if seconds is not None},
        "extracted": list(step.extracted),
        "always": step.always,
    }
