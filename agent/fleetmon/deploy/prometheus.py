"""Prometheus alert rules equivalent to the agents' edge thresholds, and the scrape config for the hub.

One rule group per threshold rule name. In it, one alert rule per severity and per distinct ``for`` and
labels (what Prometheus cannot vary per series); hosts whose levels, match or hysteresis differ are
branches of its expression joined by ``or``, each selecting its hosts by ``host``, and the threshold
annotation picks the host's level. An alert carries what the agent's carries (docs/agent.md): the series'
labels as the hub exposes them (host, inventory labels, mount, ...; not the job and instance labels the
scrape adds), the rule's labels, alertname and severity. As at the edge, a level is crossed strictly,
``for`` must pass, warning and critical are separate alerts, and with hysteresis a firing alert holds
until the value is past level -/+ hysteresis: the expression keeps matching there while the alert's own
ALERTS series is firing (a pending one's is not).

Rules on check results (fleetmon_check_*) are left out: checks travel on their own topic and the hub does
not put them on /metrics, so such a rule could never fire.
"""

import json
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fleetmon.deploy.thresholds import HostThresholds
from fleetmon.protocol import catalog
from fleetmon.protocol.thresholds import ABOVE, SEVERITIES, ThresholdRule
from fleetmon.protocol.units import format_value, unit_of

JOB = "fleetmon-hub"
DEFAULT_HUB_PORT = 9180
#: What Prometheus adds to every series it scrapes from the hub; the rules drop them (see _expr).
TARGET_LABELS = ("instance", "job")


@dataclass(frozen=True, slots=True)
class Branch:
    """Hosts whose rule crosses at the same level on the same series."""

    level: float
    hysteresis: float
    match: tuple[tuple[str, str], ...]
    hosts: tuple[str, ...]


def alert_rules(hosts: Iterable[HostThresholds]) -> tuple[dict[str, Any], list[str]]:
    """The rules file, and a note for each rule left out."""
    # An alert rule per (rule, severity, for, labels, ...): Prometheus can vary everything else per series.
    # Two rules with the same alert name and labels would be "duplicates" to promtool's lint.
    shared: dict[str, dict[tuple[Any, ...], dict[tuple[Any, ...], list[str]]]] = {}
    rules_by_key: dict[tuple[Any, ...], ThresholdRule] = {}
    notes: list[str] = []
    for host in hosts:
        for rule in host.rules:
            if rule.metric in catalog.CHECK_METRICS:
                notes.append(f"{host.host}: {rule.name} watches {rule.metric}, which the hub does not expose")
                continue
            for severity, level in rule.levels():
                key = (SEVERITIES.index(severity), severity, rule.metric, rule.direction, rule.for_seconds,
                       tuple(sorted(rule.labels.items())), rule.alertname, rule.summary)
                rules_by_key.setdefault(key, rule)
                branch = (level, rule.hysteresis, tuple(sorted(rule.match.items())))
                shared.setdefault(rule.name, {}).setdefault(key, {}).setdefault(branch, []).append(host.host_id)
    groups = []
    for name in sorted(shared):
        alerts = []
        for key, branches in sorted(shared[name].items(), key=lambda item: repr(item[0])):
            ordered = [Branch(level, hysteresis, match, tuple(sorted(hosts)))
                       for (level, hysteresis, match), hosts in sorted(branches.items(), key=repr)]
            alerts.append(_alert_rule(rules_by_key[key], key[1], ordered))
        groups.append({"name": f"fleetmon-{name}", "rules": alerts})
    return {"groups": groups}, notes


def scrape_config(target: str, ca_file: str | None = None) -> dict[str, Any]:
    """The hub's /metrics as a Prometheus scrape job. ``honor_labels``: the series' own labels (host and
    the inventory's) stay as the hub wrote them, rather than being renamed exported_*. With ``ca_file`` (the
    CA that signed the hub's certificate) the job scrapes over HTTPS and checks the certificate with it."""
    job: dict[str, Any] = {"job_name": JOB, "honor_labels": True, "metrics_path": "/metrics"}
    if ca_file:
        job.update(scheme="https", tls_config={"ca_file": ca_file})
    job["static_configs"] = [{"targets": [target]}]
    return {"scrape_configs": [job]}


def _alert_rule(rule: ThresholdRule, severity: str, branches: list[Branch]) -> dict[str, Any]:
    exprs = [_expr(rule, severity, branch) for branch in branches]
    out: dict[str, Any] = {"alert": rule.alertname,
                           "expr": exprs[0] if len(exprs) == 1 else "\nor\n".join(f"({e})" for e in exprs)}
    if rule.for_seconds:
        out["for"] = prometheus_duration(rule.for_seconds)
    out["labels"] = {**rule.labels, "severity": severity}
    threshold = _by_host([(branch.hosts, format_value(rule.metric, branch.level)) for branch in branches])
    out["annotations"] = {"summary": _summary(rule, severity, threshold), "value": unit_of(rule.metric).alert_value,
                          "threshold": threshold, "rule": rule.name}
    return out


def _expr(rule: ThresholdRule, severity: str, branch: Branch) -> str:
    host = _host_matcher(branch.hosts)
    # Without the scrape's target labels the alert carries the agent's labels and no more, and the hub's
    # edge alert and this one are the same alert; the series of several hubs scraped at once become one.
    selector = (f"max without ({', '.join(TARGET_LABELS)}) "
                f"({_selector(rule.metric, [host, *(_matcher(label, value) for label, value in branch.match)])})")
    operator = ">" if rule.direction == ABOVE else "<"
    crossed = f"{selector} {operator} {_number(branch.level)}"
    if not branch.hysteresis:
        return crossed
    release = branch.level - branch.hysteresis if rule.direction == ABOVE else branch.level + branch.hysteresis
    firing = _selector("ALERTS", [_matcher("alertname", rule.alertname), 'alertstate="firing"',
                                  _matcher("severity", severity)])
    # ALERTS carries the series' labels (host included) plus these: ignoring them pairs each series with its
    # own alert.
    ignored = ", ".join(sorted({"alertname", "alertstate", "severity", *rule.labels}))
    return f"{crossed}\nor\n({selector} {operator} {_number(release)}\n  and ignoring({ignored}) {firing})"


def _by_host(choices: list[tuple[tuple[str, ...], str]]) -> str:
    """Text that depends on the alert's host, as a Prometheus template: the last choice is the fallback."""
    if len(choices) == 1:
        return choices[0][1]
    parts = []
    for index, (hosts, text) in enumerate(choices[:-1]):
        condition = f'match "^(?:{"|".join(h.replace(".", "[.]") for h in hosts)})$" $labels.host'
        parts.append(f"{{{{ {'if' if index == 0 else 'else if'} {condition} }}}}{text}")
    return "".join(parts) + f"{{{{ else }}}}{choices[-1][1]}{{{{ end }}}}"


def _selector(metric: str, matchers: list[str]) -> str:
    return f"{metric}{{{', '.join(matchers)}}}"


def _host_matcher(hosts: list[str]) -> str:
    if len(hosts) == 1:
        return _matcher("host", hosts[0])
    # Host ids hold letters, digits, '.', '_' and '-' (the agent role checks): only '.' needs escaping.
    return _matcher("host", "~" + "|".join(host.replace(".", "\\.") for host in hosts))


def _matcher(label: str, selector: str) -> str:
    """The agent's match syntax: an exact value, or "~REGEX" (fully anchored, as PromQL's =~ is)."""
    if selector.startswith("~"):
        return f"{label}=~{json.dumps(selector[1:], ensure_ascii=False)}"
    return f"{label}={json.dumps(selector, ensure_ascii=False)}"


def _number(value: float) -> str:
    return f"{value:.12g}"  # 0.85 - 0.05 prints 0.8, not 0.7999999999999999


def prometheus_duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


def _summary(rule: ThresholdRule, severity: str, threshold: str) -> str:
    """The rule's summary with the agent's placeholders as Prometheus template expressions."""
    spec = None if rule.scraped else catalog.BY_NAME.get(rule.metric)
    series_labels = spec.labels if spec else ()
    series = (" (" + ", ".join(f"{name}={{{{ $labels.{name} }}}}" for name in sorted(series_labels)) + ")"
              if series_labels else "")
    fixed = {**rule.labels, "value": unit_of(rule.metric).alert_value, "threshold": threshold,
             "severity": severity, "rule": rule.name, "alertname": rule.alertname, "direction": rule.direction,
             "series": series}
    parts = []
    for literal, name, _spec, _conversion in string.Formatter().parse(rule.summary):
        parts.append(literal.replace("{{", '{{ "{{" }}'))
        if name is not None:
            parts.append(fixed.get(name, f"{{{{ $labels.{name} }}}}"))
    return "".join(parts)
