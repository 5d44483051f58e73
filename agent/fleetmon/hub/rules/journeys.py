"""JourneyFailing: one synthetic journey failing from several locations at once.

A journey (a ``journey`` check, docs/agent.md) runs under one check name on probe hosts in different sites.
One probe failing alone says more about its own network than about the service, so the fleet alert waits
until the journey fails from ``min_locations`` of them (default 2), or from all of them when fewer run it.

The locations are the online hosts whose latest check results hold the journey (``HostView.checks``); an
offline or silent host is none: its last result is old news, and HostDown speaks for it. Labels are
alertname, check and severity only, not the failing hosts: they come and go while the outage is one, and a
label change would resolve the alert and raise another. Annotations name the failing locations and, for
each, the step that broke and why (as the agent wrote it, secrets already hidden).

Each host's agent may also alert on the journey by itself, through a threshold on fleetmon_check_up; that
alert is per host and stays as it is. JourneyFailing is the one to page on.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from fleetmon.hub.model import ONLINE, HostView
from fleetmon.hub.rules.alerts import FleetAlert, fleet_labels
from fleetmon.hub.rules.config import JourneyFailingRule

JOURNEY = "journey"
#: Characters of one location's reason in the annotations: a failure line, not a response body.
REASON_CHARS = 200


def journey_failing(hosts: Iterable[HostView], rule: JourneyFailingRule, now: float) -> list[FleetAlert]:
    alerts = []
    for check, located in sorted(journey_locations(hosts).items()):
        failing = [(host, result) for host, result in located if not result["ok"]]
        if not failing or len(failing) < min(rule.min_locations, len(located)):
            continue
        names = ", ".join(host for host, _ in failing)
        annotations = {
            "summary": f"journey {check} fails from {len(failing)} of {len(located)} locations: {names}",
            "locations": names,
            "passing_locations": ", ".join(host for host, result in located if result["ok"]) or "none",
            "failing_steps": "; ".join(f"{host}: {failing_step(result)}" for host, result in failing),
        }
        labels = fleet_labels("JourneyFailing", rule.severity, {}, {"check": check})
        alerts.append(FleetAlert(labels, annotations, since=now, for_s=rule.for_s))
    return alerts


def journey_locations(hosts: Iterable[HostView]) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    """Journey check name -> (host, latest result) of each online host running it, in host order."""
    located: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for view in sorted(hosts, key=lambda v: v.host):
        if view.state != ONLINE:
            continue
        for name, result in view.checks.items():
            if isinstance(result, Mapping) and result.get("type") == JOURNEY and isinstance(result.get("ok"), bool):
                located.setdefault(name, []).append((view.host, result))
    return located


def failing_step(result: Mapping[str, Any]) -> str:
    """'step 2 (token): why' from a failed journey's steps; its message when no step failed (a secret that
    could not be read)."""
    steps = result.get("steps")
    for step in steps if isinstance(steps, list) else ():
        if isinstance(step, Mapping) and step.get("status") == "fail":
            return f"step {step.get('index')} ({step.get('name')}): {_short(step.get('message'))}"
    return _short(result.get("message"))


def _short(text: Any) -> str:
    text = str(text or "")
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."
