"""``fleetmon agent test-check NAME --config FILE``: one check, once, in the foreground, for a person.

It runs the check exactly as the daemon would (the same config reading, the same ``run_check``), so what
it prints is what the agent would publish: a journey's secrets read ``***`` here too. Exit 0 when the check
passes, 1 when it fails, 2 when the config is invalid or has no such check.
"""

import sys
from typing import List, Optional, TextIO

from fleetmon.agent.checks.probes import run_check
from fleetmon.agent.config import load_config
from fleetmon.config_reader import ConfigError
from fleetmon.protocol.check_results import PHASES, CheckResult, StepResult

EXIT_PASSED, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
_PHASE_NAMES = dict(zip(PHASES, ("dns", "connect", "tls", "first byte", "total")))


def run_in_foreground(name: str, config_path: str, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        err.write(f"fleetmon: invalid configuration in {config_path}:\n")
        err.write("".join(f"  {line}\n" for line in exc.errors))
        return EXIT_CONFIG
    spec = next((check for check in config.checks if check.name == name), None)
    if spec is None:
        known = ", ".join(check.name for check in config.checks) or "none"
        err.write(f"fleetmon: {config_path} has no check {name!r} (its checks: {known})\n")
        return EXIT_CONFIG
    result = run_check(spec)
    out.write("\n".join(report(result)) + "\n")
    return EXIT_PASSED if result.ok else EXIT_FAILED


def report(result: CheckResult) -> List[str]:
    """The lines a person reads: the check's outcome, then for a journey each step and its timings."""
    outcome = "ok" if result.ok else "FAIL"
    lines = [f"{result.type} {result.name}: {outcome} in {_ms(result.duration_s)} - {result.message}"]
    if result.value is not None and result.type != "journey":
        lines[0] += f" (value {result.value:g})"
    width = max((len(step.name) for step in result.steps or ()), default=0)
    for step in result.steps or ():
        lines += _step_lines(step, width)
    return lines


def _step_lines(step: StepResult, width: int) -> List[str]:
    status = {"ok": "ok", "fail": "FAIL"}.get(step.status, step.status)
    always = " (always)" if step.always else ""
    lines = [f"  {step.index:>2} {step.name:<{width}}  {status:<7} {step.message}{always}"]
    timings = ", ".join(f"{_PHASE_NAMES[phase]} {_ms(seconds)}" for phase, seconds in zip(PHASES, step.timings)
                        if seconds is not None)
    extracted = f"extracted {', '.join(step.extracted)}" if step.extracted else ""
    detail = "; ".join(part for part in (timings, extracted) if part)
    if detail:
        lines.append(" " * (width + 15) + detail)
    return lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
