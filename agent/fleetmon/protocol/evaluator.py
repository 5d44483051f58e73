"""How edge thresholds (fleetmon.protocol.thresholds) turn samples into alerts. The agent and the simulated
agents share it, so a simulated fleet alerts exactly as a real one.

Evaluation follows Prometheus: a series crossing a level (strictly: value > level above, < level below)
becomes pending; it fires once the condition has held for ``for`` seconds, and the alert's startsAt is the
moment it fired (Prometheus sends FiredAt as StartsAt). Pending ends silently if the value returns first.
A firing alert resolves once, when the value crosses back past level -/+ hysteresis, or when its series
is missing from a sample that carries the metric (a filesystem was unmounted). A sample without the
metric at all changes nothing, and neither does a check missing from a batch of check results (checks run
on their own schedules); a removed check's alerts end through ``ThresholdEvaluator.resolve_series``.
Warning and critical are separate alerts, and every matching series is its own alert, so a host with two
full disks has two.

Annotations: ``summary`` (rendered when the alert fires and kept for its episode, so the resolved copy
says why it fired, as Prometheus resends the last firing annotations), ``value`` (the latest value, in
its unit), ``threshold`` and ``rule``.

Alert labels, later entries winning: the host's inventory labels, the series' labels, the rule's
``labels``, then alertname, severity and host, which nothing overrides (a rule may not set them). Empty
values are dropped, as Alertmanager does, so the fingerprint is the one Alertmanager computes.
"""

import re
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Pattern, Set, Tuple

from fleetmon.protocol.alerts import alert
from fleetmon.protocol.metricset import MetricSet
from fleetmon.protocol.thresholds import ABOVE, PARTIAL_METRICS, ThresholdRule
from fleetmon.protocol.units import format_value


class _Selector(NamedTuple):
    label: str
    exact: Optional[str]
    regex: Optional[Pattern[str]]

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.label, "")  # an absent label reads as empty, as in Prometheus
        return value == self.exact if self.regex is None else self.regex.fullmatch(value) is not None


class _CompiledRule(NamedTuple):
    rule: ThresholdRule
    selectors: Tuple[_Selector, ...]
    levels: Tuple[Tuple[str, float], ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(selector.matches(labels) for selector in self.selectors)


def _compile(rule: ThresholdRule) -> _CompiledRule:
    selectors = tuple(_Selector(label, None, re.compile(value[1:])) if value.startswith("~")
                      else _Selector(label, value, None) for label, value in rule.match.items())
    return _CompiledRule(rule, selectors, tuple(rule.levels()))


SeriesKey = Tuple[Tuple[str, str], ...]
StateKey = Tuple[str, SeriesKey]  # (severity, series labels)


class _AlertState:
    """One (severity, series) of a rule that is pending or firing."""

    __slots__ = ("fired_at", "firing", "labels", "level", "pending_since", "series", "severity", "summary",
                 "value")

    def __init__(self, severity: str, level: float, series: Mapping[str, str], since: float) -> None:
        self.severity, self.level, self.series = severity, level, series
        self.pending_since = since
        self.value = 0.0
        self.firing = False
        self.fired_at = 0.0
        # Fixed when it fires: the resolved copy keeps the fingerprint and says why it fired.
        self.labels: Dict[str, str] = {}
        self.summary = ""


class ThresholdEvaluator:
    """Turns samples into alert transitions: one 'firing' when an alert starts, one 'resolved' when it ends.

    Pure: no clock and no I/O; the caller passes each sample's time and publishes the transitions.
    """

    def __init__(self, rules: List[ThresholdRule], host: str, host_labels: Mapping[str, str]) -> None:
        self.host = host
        self.host_labels = dict(host_labels)
        self._rules: List[_CompiledRule] = []
        self._by_metric: Dict[str, List[_CompiledRule]] = {}
        self._states: Dict[str, Dict[StateKey, _AlertState]] = {}
        # Alerts ended by a reload or a removed check; they go out, resolved, with the next sample.
        self._ended: List[Tuple[ThresholdRule, _AlertState]] = []
        self._install(rules)

    def _install(self, rules: List[ThresholdRule]) -> None:
        self._rules = [_compile(rule) for rule in rules]
        self._by_metric = {}
        for compiled in self._rules:
            self._by_metric.setdefault(compiled.rule.metric, []).append(compiled)
            self._states.setdefault(compiled.rule.name, {})

    def evaluate(self, metrics: MetricSet, now: float) -> List[Dict[str, Any]]:
        """Feed one sample taken at ``now``; returns the alerts that started or ended with it."""
        transitions = [self._alert(rule, state, now) for rule, state in self._ended]
        self._ended = []
        present = set(metrics.names())
        if present.isdisjoint(self._by_metric):
            return transitions
        seen: Dict[str, Set[SeriesKey]] = {}
        for metric in present.intersection(self._by_metric):
            compiled_rules = self._by_metric[metric]
            for series in metrics.series(metric):
                key: SeriesKey = tuple(sorted(series.labels.items()))
                for compiled in compiled_rules:
                    if compiled.matches(series.labels):
                        seen.setdefault(compiled.rule.name, set()).add(key)
                        for severity, level in compiled.levels:
                            self._step(compiled.rule, severity, level, key, series.labels, series.value,
                                       now, transitions)
        for compiled in self._rules:
            if compiled.rule.metric in present and compiled.rule.metric not in PARTIAL_METRICS:
                self._drop_missing(compiled.rule, seen.get(compiled.rule.name, set()), now, transitions)
        return transitions

    def firing(self) -> List[Dict[str, Any]]:
        """Every alert firing now, with its latest value: what a (re)connecting publisher announces."""
        by_name = {compiled.rule.name: compiled.rule for compiled in self._rules}
        return [self._alert(by_name[name], state, None)
                for name, states in self._states.items() for state in states.values()
                if state.firing]

    def replace_rules(self, rules: List[ThresholdRule],
                      host_labels: Optional[Mapping[str, str]] = None) -> None:
        """Install reloaded rules (and host labels, when given).

        Rules whose definition is unchanged keep their pending and firing alerts. Alerts of removed or
        changed rules end, and all of them do when the host labels change (their labels, hence their
        fingerprints, change): the next ``evaluate`` returns them resolved, at its time.
        """
        if host_labels is not None and dict(host_labels) != self.host_labels:
            self.host_labels = dict(host_labels)
            unchanged: Set[str] = set()
        else:
            unchanged = {c.rule.name for c in self._rules if c.rule in rules}
        for compiled in self._rules:
            if compiled.rule.name not in unchanged:
                self._end(compiled.rule, self._states.pop(compiled.rule.name, {}).values())
        self._install(rules)

    def resolve_series(self, labels: Mapping[str, str]) -> None:
        """End the alerts of every series carrying all of ``labels``, e.g. {"check": name} for a check
        removed from the config, whose results simply stop. They go out, resolved, with the next sample."""
        wanted = set(labels.items())
        for compiled in self._rules:
            states = self._states[compiled.rule.name]
            gone = [key for key in states if wanted <= set(key[1])]
            self._end(compiled.rule, [states.pop(key) for key in gone])

    def _end(self, rule: ThresholdRule, states: Iterable[_AlertState]) -> None:
        self._ended += [(rule, state) for state in states if state.firing]

    def _step(self, rule: ThresholdRule, severity: str, level: float, key: SeriesKey,
              series: Mapping[str, str], value: float, now: float, transitions: List[Dict[str, Any]]) -> None:
        states = self._states[rule.name]
        state = states.get((severity, key))
        above = rule.direction == ABOVE
        crossed = value > level if above else value < level
        if state is None:
            if not crossed:
                return
            state = states[(severity, key)] = _AlertState(severity, level, series, now)
        state.value = value
        if not state.firing:
            if not crossed:
                del states[(severity, key)]
            elif now - state.pending_since >= rule.for_seconds:
                state.firing, state.fired_at = True, now
                state.labels = self._labels(rule, severity, series)
                state.summary = self._summary(rule, state)
                transitions.append(self._alert(rule, state, None))
            return
        cleared = value <= level - rule.hysteresis if above else value >= level + rule.hysteresis
        if cleared:
            del states[(severity, key)]
            transitions.append(self._alert(rule, state, now))

    def _drop_missing(self, rule: ThresholdRule, seen: Set[SeriesKey], now: float,
                      transitions: List[Dict[str, Any]]) -> None:
        states = self._states[rule.name]
        for state_key in [k for k in states if k[1] not in seen]:
            state = states.pop(state_key)
            if state.firing:
                transitions.append(self._alert(rule, state, now))

    def _labels(self, rule: ThresholdRule, severity: str, series: Mapping[str, str]) -> Dict[str, str]:
        labels = dict(self.host_labels)
        labels.update(series)
        labels.update(rule.labels)
        labels.update(alertname=rule.alertname, severity=severity, host=self.host)
        return labels

    def _summary(self, rule: ThresholdRule, state: _AlertState) -> str:
        described = ", ".join(f"{name}={label}" for name, label in sorted(state.series.items()))
        fields = dict(state.series)
        fields.update(rule.labels)
        fields.update(host=self.host, value=format_value(rule.metric, state.value),
                      threshold=format_value(rule.metric, state.level), severity=state.severity,
                      rule=rule.name, alertname=rule.alertname, direction=rule.direction,
                      series=f" ({described})" if described else "")
        return rule.summary.format_map(_BlankMissing(fields))

    def _alert(self, rule: ThresholdRule, state: _AlertState, resolved_at: Optional[float]) -> Dict[str, Any]:
        annotations = {"summary": state.summary, "value": format_value(rule.metric, state.value),
                       "threshold": format_value(rule.metric, state.level), "rule": rule.name}
        return alert(state.labels, annotations, state.fired_at, resolved_at)


class _BlankMissing(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""
