"""CheckResult, the outcome of one check run, and its two published forms: metrics and the checks message."""

from typing import Any, Dict, NamedTuple, Optional

from fleetmon.protocol.metricset import MetricSet


class CheckResult(NamedTuple):
    name: str
    type: str
    ok: bool
    message: str
    started_at: float  # unix seconds
    duration_s: float
    # Per type: latency seconds (tcp, http, dns, ping), seconds until notAfter (tls),
    # matching processes (process), exit code (command); None where nothing was measured.
    value: Optional[float] = None


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


def result_to_json(result: CheckResult, consecutive_failures: int) -> Dict[str, Any]:
    """One entry of the checks MQTT message."""
    return {
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
