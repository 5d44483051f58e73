"""The fleet state: one record per host, updated by decoded messages and by the passage of time.

Pure: the caller passes hub times in, takes the state changes out (to store and to alert on). Liveness
rules are in fleetmon.hub.model's docstring; the health score is ``health_score`` below.

The hub's own blindness (fleetmon.hub.sight) reaches the state through ``see``: while blind no gap
between samples and no clock skew is recorded (they would measure the hub, not the host), and silence is
counted from the moment sight returned. A will younger than ``WILL_GRACE`` is not yet shown to the rules:
a broker that shuts down sends every client's will a moment before it drops the hub, and those wills are
then discounted (``discount_wills``) rather than taken for deaths.
"""

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetmon.hub.ingest import Message
from fleetmon.hub.model import MISSING, OFFLINE, ONLINE, SILENT, HostView, StateChange

#: Seconds a Last Will waits before rules see it (a broker going down sends all wills just before it drops us).
WILL_GRACE = 2.0
#: Gaps between samples kept per host, for the heartbeat-degradation rule.
GAP_HISTORY = 20
#: Unlabelled gauges of the last sample copied into HostView.metrics for fleet rules and rollups.
VIEW_METRICS = ("fleetmon_cpu_usage_ratio", "fleetmon_memory_usage_ratio", "fleetmon_swap_usage_ratio",
                "fleetmon_load1", "fleetmon_jetson_gpu_load_ratio", "fleetmon_jetson_power_total_watts")


@dataclass(slots=True)
class HostRecord:
    host: str
    state: str
    since: float
    expected: bool = False
    reason: str = ""
    session: int = 0
    agent_version: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    thresholds: list[Any] = field(default_factory=list)
    declared_checks: list[Any] = field(default_factory=list)
    interval_s: float = 10.0
    last_sample: dict[str, Any] | None = None  # the metrics wire form of the last live sample
    last_sample_ts: float | None = None  # its timestamp on the host's clock
    last_sample_at: float | None = None  # when the hub received it
    previous_sample: dict[str, Any] | None = None  # the one before, for counter rates (dashboard)
    previous_sample_ts: float | None = None
    last_seq: int = 0
    samples_total: int = 0
    clock_skew_s: float | None = None  # hub receive time minus host timestamp of the last sample
    gaps: deque = field(default_factory=lambda: deque(maxlen=GAP_HISTORY))
    edge_alerts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by fingerprint
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest result by check name
    before_will: tuple[str, float, str] | None = None  # (state, since, reason) a will replaced


class FleetState:
    def __init__(self, expected: Mapping[str, Sequence[str]] | None = None, silent_after: float = 3.0,
                 skew_tolerance: float = 30.0, now: float = 0.0) -> None:
        self.silent_after = silent_after  # intervals without a sample before an online host is silent
        self.skew_tolerance = skew_tolerance
        self.hosts: dict[str, HostRecord] = {}
        self.stale_statuses = 0
        self.inventory = False  # whether an inventory says which hosts belong to the fleet
        self.blind = False  # the hub cannot see the fleet right now (fleetmon.hub.sight)
        self.trusted_from = 0.0  # hub time from which the hub's view is whole: silence counts from here
        self._online_when_blinded: set[str] = set()  # who the settle waits for, besides those online now
        self.set_expected(expected or {}, now)

    def set_expected(self, expected: Mapping[str, Sequence[str]], now: float) -> list[str]:
        """Declare the inventory's hosts and their groups; returns the hosts that left the inventory.

        A host that left is forgotten if it was never seen; one that was seen stays, no longer expected.
        """
        self.inventory = bool(expected)
        left = []
        for host, record in list(self.hosts.items()):
            if record.expected and host not in expected:
                left.append(host)
            record.expected = host in expected
            if not record.expected and record.state == MISSING:
                del self.hosts[host]
        for host, groups in expected.items():
            record = self.hosts.get(host)
            if record is None:
                self.hosts[host] = HostRecord(host, MISSING, now, expected=True, groups=tuple(groups))
            elif record.state == MISSING:
                record.groups = tuple(groups)
        return left

    def apply(self, message: Message) -> list[StateChange]:
        record = self.hosts.get(message.host)
        if record is None:
            record = self.hosts[message.host] = HostRecord(message.host, MISSING, message.received)
        handler = _HANDLERS.get(message.kind)
        return handler(self, record, message) if handler else []

    def see(self, blind: bool, trusted_from: float) -> None:
        """What the hub's sight says (fleetmon.hub.sight): whether it is blind, and since when it sees."""
        if blind and not self.blind:
            self._online_when_blinded = {host for host, record in self.hosts.items() if record.state == ONLINE}
        self.blind, self.trusted_from = blind, trusted_from

    def discount_wills(self, after: float, now: float) -> list[StateChange]:
        """Undo the wills that arrived since ``after``: the broker sent them as it went down, so they say
        nothing about the hosts. Each host is back in the state the will replaced."""
        changes = []
        for record in self.hosts.values():
            if record.state == OFFLINE and record.reason == "will" and record.since >= after \
                    and record.before_will is not None:
                state, since, reason = record.before_will
                changes.append(StateChange(record.host, now, OFFLINE, state,
                                           "will discounted: the broker sent it as it went down"))
                record.state, record.since, record.reason, record.before_will = state, since, reason, None
        return changes

    def heard_since(self, since: float) -> bool:
        """Whether every host online now or when the hub went blind has sent a live sample since ``since``
        (the hub's settle can end). A host online before the blindness that is offline now, by a will the
        broker retained across its restart, is still waited for: it is most likely reconnecting."""
        watched = self._online_when_blinded | {host for host, record in self.hosts.items() if record.state == ONLINE}
        return all((self.hosts[host].last_sample_at or 0.0) >= since for host in watched if host in self.hosts)

    def tick(self, now: float) -> list[StateChange]:
        """Mark online hosts silent once no sample came for ``silent_after`` of their intervals (counted from
        ``trusted_from`` at the earliest), and, when there is an inventory, forget hosts outside it that are
        not alive (removed from the fleet). The caller does not tick while the hub cannot judge."""
        changes = []
        if self.inventory:
            for host in [h for h, r in self.hosts.items() if not r.expected and r.state in (OFFLINE, MISSING)]:
                del self.hosts[host]
        for record in self.hosts.values():
            if record.state != ONLINE:
                continue
            last = max(record.last_sample_at or 0.0, record.since, self.trusted_from)
            if now - last > self.silent_after * record.interval_s:
                changes.append(_move(record, SILENT, now, f"no sample for {now - last:.0f}s"))
        return changes

    def restore_edge_alert(self, host: str, alert: dict[str, Any]) -> None:
        """An edge alert a previous hub run saw firing: the agent will not announce it again."""
        record = self.hosts.get(host)
        if record is None:
            record = self.hosts[host] = HostRecord(host, MISSING, 0.0)
        record.edge_alerts[alert["fingerprint"]] = alert

    def views(self, now: float) -> list[HostView]:
        """What rules see: each host's state, except that a will younger than WILL_GRACE is not shown yet."""
        views = []
        for record in self.hosts.values():
            fresh_will = record.state == OFFLINE and record.reason == "will" and record.before_will is not None \
                and now - record.since < WILL_GRACE
            views.append(view(record, record.before_will if fresh_will else None))
        return views

    def skewed(self, record: HostRecord) -> bool:
        return record.clock_skew_s is not None and abs(record.clock_skew_s) > self.skew_tolerance

    # --- per kind ---------------------------------------------------------------------------------

    def _status(self, record: HostRecord, message: Message) -> list[StateChange]:
        body = message.body
        if message.session < record.session:
            self.stale_statuses += 1  # a late will of an earlier run: the host has moved on
            return []
        record.session = message.session
        if body["state"] == "offline":
            if record.state == OFFLINE:
                return []
            # Only a living host's will can be the broker's going down; a retained will of a host this hub
            # has not seen alive is the broker's record of a death, taken as it is.
            alive = record.state in (ONLINE, SILENT)
            record.before_will = (record.state, record.since, record.reason) if body["reason"] == "will" and alive \
                else None
            return [_move(record, OFFLINE, message.received, body["reason"])]
        record.agent_version = str(body.get("agent", {}).get("version", ""))
        record.facts = body["facts"]
        record.groups = tuple(body["groups"])
        record.labels = dict(body["labels"])
        record.thresholds = body["thresholds"]
        record.declared_checks = body["checks"]
        record.interval_s = float(body["interval_s"])
        if record.state == ONLINE:
            return []
        return [_move(record, ONLINE, message.received, "birth")]

    def _metrics(self, record: HostRecord, message: Message) -> list[StateChange]:
        if message.session < record.session:
            return []  # an earlier run's sample still in flight: history only
        changes = []
        if message.session > record.session or record.state in (SILENT, MISSING):
            record.session = message.session
            changes.append(_move(record, ONLINE, message.received, "samples"))
        elif record.state == OFFLINE:
            return []  # a sample of the session that just died, delivered after its will
        if record.last_sample_at is not None and not self.blind and record.last_sample_at >= self.trusted_from:
            record.gaps.append(message.received - record.last_sample_at)  # a gap across blindness is the hub's
        record.previous_sample, record.previous_sample_ts = record.last_sample, record.last_sample_ts
        record.last_sample = message.body["metrics"]
        record.last_sample_ts = message.ts
        record.last_sample_at = message.received
        record.last_seq = message.seq
        record.samples_total += 1
        if not self.blind:  # a backlog read late would look like a host clock running behind
            record.clock_skew_s = message.received - message.ts
        interval = message.body.get("interval_s")
        if isinstance(interval, (int, float)) and interval > 0:
            record.interval_s = float(interval)
        return changes

    def _checks(self, record: HostRecord, message: Message) -> list[StateChange]:
        if message.session < record.session:
            return []  # an earlier run's results, delivered late: older than what the host now says
        for result in message.body["results"]:
            record.checks[result["name"]] = result
        return []

    def _alerts(self, record: HostRecord, message: Message) -> list[StateChange]:
        for alert in message.body["alerts"]:
            if alert["status"] == "firing":
                record.edge_alerts[alert["fingerprint"]] = alert
            else:
                record.edge_alerts.pop(alert["fingerprint"], None)
        return []


_HANDLERS = {"status": FleetState._status, "metrics": FleetState._metrics, "checks": FleetState._checks,
             "alerts": FleetState._alerts}


def _move(record: HostRecord, state: str, at: float, reason: str) -> StateChange:
    change = StateChange(record.host, at, record.state, state, reason)
    record.state, record.since, record.reason = state, at, reason
    return change


def view(record: HostRecord, shown: tuple[str, float, str] | None = None) -> HostView:
    """The rules' view of a host; ``shown`` (state, since, reason) replaces its liveness when given."""
    state, since, reason = shown or (record.state, record.since, record.reason)
    sample = record.last_sample or {}
    metrics = {name: float(sample[name]) for name in VIEW_METRICS
               if isinstance(sample.get(name), (int, float)) and not isinstance(sample.get(name), bool)}
    return HostView(host=record.host, state=state, since=since, groups=record.groups,
                    labels=record.labels, interval_s=record.interval_s, session=record.session,
                    last_sample_at=record.last_sample_at, gaps=tuple(record.gaps), metrics=metrics,
                    reason=reason, checks=declared_results(record))


def declared_results(record: HostRecord) -> dict[str, dict[str, Any]]:
    """The latest result of each check the host's last birth declares: a check removed from its config keeps
    its last result in ``record.checks``, which is no news about the host any more."""
    declared = {check.get("name") for check in record.declared_checks if isinstance(check, dict)}
    return {name: result for name, result in record.checks.items() if name in declared}


def health_score(record: HostRecord, skewed: bool) -> int:
    """0..100, documented in docs/hub.md: liveness first, then alerts, checks, pressure and clock.

    offline or missing: 0; silent: 10. An online host starts at 100 and loses 30 per firing critical edge
    alert, 10 per warning, 15 per failing check (of those it declares), 10 per resource above 90% (CPU, memory,
    worst disk) and 5 for a skewed clock; never below 0.
    """
    if record.state in (OFFLINE, MISSING):
        return 0
    if record.state == SILENT:
        return 10
    score = 100
    for alert in record.edge_alerts.values():
        score -= 30 if alert["labels"].get("severity") == "critical" else 10
    score -= 15 * sum(1 for result in declared_results(record).values() if not result.get("ok"))
    score -= 10 * sum(1 for value in _pressure(record.last_sample or {}) if value > 0.9)
    if skewed:
        score -= 5
    return max(0, score)


def _pressure(sample: dict[str, Any]) -> list[float]:
    values = (_scalar(sample, "fleetmon_cpu_usage_ratio"), _scalar(sample, "fleetmon_memory_usage_ratio"),
              _worst(sample, "fleetmon_filesystem_usage_ratio"))
    return [value for value in values if value is not None]


def group_rollups(state: FleetState) -> dict[str, dict[str, Any]]:
    """Per inventory group: host counts by state and the mean health score (missing hosts count as 0)."""
    groups: dict[str, dict[str, Any]] = {}
    for record in state.hosts.values():
        score = health_score(record, state.skewed(record))
        for group in record.groups or ("ungrouped",):
            entry = groups.setdefault(group, {"hosts": 0, "scores": [], **{s: 0 for s in (ONLINE, SILENT, OFFLINE,
                                                                                       MISSING)}})
            entry["hosts"] += 1
            entry[record.state] += 1
            entry["scores"].append(score)
    for entry in groups.values():
        scores = entry.pop("scores")
        entry["health"] = round(sum(scores) / len(scores)) if scores else 0
    return groups


def host_summary(record: HostRecord, skewed: bool) -> dict[str, Any]:
    """The one-line view of a host, as the API, the retained fleet view and `fleetmon status` show it."""
    sample = record.last_sample or {}
    return {
        "host": record.host, "state": record.state, "since": record.since, "reason": record.reason,
        "expected": record.expected, "session": record.session, "agent_version": record.agent_version,
        "groups": list(record.groups), "labels": record.labels,
        "health": health_score(record, skewed),
        "cpu": _scalar(sample, "fleetmon_cpu_usage_ratio"),
        "memory": _scalar(sample, "fleetmon_memory_usage_ratio"),
        "disk": _worst(sample, "fleetmon_filesystem_usage_ratio"),
        "gpu": _first(_scalar(sample, "fleetmon_jetson_gpu_load_ratio"),
                      _worst(sample, "fleetmon_gpu_utilization_ratio")),
        "temperature": _first(_worst(sample, "fleetmon_jetson_temperature_celsius"),
                              _worst(sample, "fleetmon_temperature_celsius")),
        "power_watts": _scalar(sample, "fleetmon_jetson_power_total_watts"),
        "alerts": sorted(a["labels"].get("alertname", "") for a in record.edge_alerts.values()),
        "failing_checks": sorted(name for name, result in declared_results(record).items() if not result.get("ok")),
        "last_sample_at": record.last_sample_at, "clock_skew_s": record.clock_skew_s, "clock_skewed": skewed,
    }


def _scalar(sample: dict[str, Any], name: str) -> float | None:
    value = sample.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _worst(sample: dict[str, Any], name: str) -> float | None:
    entry = sample.get(name)
    if not isinstance(entry, list):
        return _scalar(sample, name)
    values = [pair[1] for pair in entry if isinstance(pair, list) and len(pair) == 2
              and isinstance(pair[1], (int, float)) and not isinstance(pair[1], bool)]
    return float(max(values)) if values else None


def _first(*values: float | None) -> float | None:
    """The first value present: a Jetson's own reading, else the generic one (0 is a reading, not absent)."""
    return next((v for v in values if v is not None), None)
