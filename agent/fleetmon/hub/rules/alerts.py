"""Fleet alerts: what a rule says should fire, and the set that turns evaluations into transitions.

A rule is a pure function of the fleet's state that returns ``FleetAlert`` conditions: labels (identity),
annotations, ``since`` (when the condition began, as far as the rule can tell from the data, otherwise the
evaluation time) and ``for_s`` (how long it must hold before it fires). ``ActiveAlerts`` holds the
result of successive evaluations and emits Alertmanager-shaped transitions (fleetmon.protocol.alerts):

- a condition first seen is pending; it fires once ``now >= since + for_s``, with startsAt exactly
  ``since + for_s``. A rule that derives ``since`` from the data (HostDown: the moment the host went down)
  therefore gives the same startsAt when a restarted hub evaluates it again;
- a firing alert absent from an evaluation resolves once, endsAt = that evaluation's time, carrying the
  latest annotations; a pending one that disappears ends silently (as in Prometheus);
- while firing, startsAt and the fingerprint never change; annotations follow the latest evaluation and
  show in ``firing()``, but do not make a new transition.

Edge alerts (evaluated by agents) pass through ``edge()`` unchanged, deduplicated by fingerprint, and are
never resolved by an evaluation: only their own agent resolves them. ``restore`` reloads the firing alerts
a previous run stored, so a restarted hub neither re-raises them nor forgets to resolve them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleetmon.protocol.alerts import alert, clean_labels, fingerprint
from fleetmon.protocol.messages import rfc3339


@dataclass(slots=True, frozen=True)
class FleetAlert:
    """One condition a rule finds true now; labels are already cleaned (no empty values)."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    since: float
    for_s: float = 0.0

    @property
    def fingerprint(self) -> str:
        return fingerprint(clean_labels(self.labels))


def fleet_labels(alertname: str, severity: str, inventory: Mapping[str, str],
                 own: Mapping[str, str]) -> dict[str, str]:
    """Labels of a fleet alert: the host's inventory labels, then the rule's own (host, group, metric,
    series labels), then alertname and severity, later entries winning; empty values dropped."""
    return clean_labels({**inventory, **own, "alertname": alertname, "severity": severity})


class ActiveAlerts:
    """The firing (and pending) fleet alerts and the firing edge alerts, keyed by fingerprint.

    Not thread-safe: one evaluation loop owns it.
    """

    def __init__(self) -> None:
        self._pending: dict[str, float] = {}  # fingerprint -> start of the pending condition
        # The firing transition as sent: its startsAt and fingerprint are the episode's.
        self._firing: dict[str, dict[str, Any]] = {}
        self._edge: dict[str, dict[str, Any]] = {}

    def update(self, alerts: Iterable[FleetAlert], now: float) -> list[dict[str, Any]]:
        """Take one evaluation of every fleet rule; return the transitions it causes, resolved first.

        ``alerts`` must be the complete result: a firing alert missing from it resolves. When two
        conditions share a fingerprint the first wins.
        """
        current: dict[str, FleetAlert] = {}
        for candidate in alerts:
            current.setdefault(candidate.fingerprint, candidate)
        transitions = []
        for key in [key for key in self._firing if key not in current]:
            transitions.append(_resolved(self._firing.pop(key), now))
        self._pending = {key: start for key, start in self._pending.items() if key in current}
        for key, condition in current.items():
            firing = self._firing.get(key)
            if firing is not None:
                firing["annotations"] = dict(condition.annotations)
                continue
            # A since in the future (a host clock ahead of ours leaking into the data) starts now instead.
            start = self._pending.setdefault(key, min(condition.since, now))
            fires_at = start + condition.for_s
            if now >= fires_at:
                del self._pending[key]
                started = alert(condition.labels, condition.annotations, fires_at)
                self._firing[key] = started
                transitions.append(_copy(started))
        return transitions

    def edge(self, transition: Mapping[str, Any]) -> dict[str, Any] | None:
        """An edge alert transition from an agent: itself if it is news, None if it is a duplicate.

        A firing alert is news unless the same fingerprint is already firing with the same startsAt (QoS 1
        redelivery, or the agent re-announcing its firing alerts on reconnect); a resolved one is news only
        while its fingerprint is firing here. A duplicate still refreshes the annotations ``firing()`` shows.
        """
        key = fingerprint(clean_labels(transition["labels"]))
        if transition["status"] == "firing":
            known = self._edge.get(key)
            self._edge[key] = dict(transition)
            return None if known is not None and known["startsAt"] == transition["startsAt"] else dict(transition)
        if self._edge.pop(key, None) is None:
            return None
        return dict(transition)

    def restore(self, fleet: Iterable[Mapping[str, Any]] = (), edge: Iterable[Mapping[str, Any]] = ()) -> None:
        """Reload firing alerts a previous run sent (Alertmanager-shaped dicts); resolved ones are skipped."""
        for stored in fleet:
            if stored["status"] == "firing":
                self._firing[fingerprint(clean_labels(stored["labels"]))] = _copy(stored)
        for stored in edge:
            if stored["status"] == "firing":
                self._edge[fingerprint(clean_labels(stored["labels"]))] = _copy(stored)

    def firing(self) -> list[dict[str, Any]]:
        """Every firing alert, fleet then edge, with its latest annotations."""
        return [_copy(a) for a in self._firing.values()] + [_copy(a) for a in self._edge.values()]


def _resolved(firing: Mapping[str, Any], now: float) -> dict[str, Any]:
    return {**_copy(firing), "status": "resolved", "endsAt": rfc3339(now)}


def _copy(value: Mapping[str, Any]) -> dict[str, Any]:
    return {**value, "labels": dict(value["labels"]), "annotations": dict(value.get("annotations", {}))}
