"""The simulation loop: every host samples once per interval at its own phase (so the load is spread evenly
across the interval, not sent in bursts), planned faults happen on schedule, and at the end every host
still running publishes a clean offline status."""

import heapq
import random
import threading
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

from fleetmon import __version__
from fleetmon.protocol import DEFAULT_PREFIX, messages
from fleetmon.protocol.check_results import CheckResult, result_to_json
from fleetmon.protocol.evaluator import ThresholdEvaluator
from fleetmon.protocol.thresholds import ThresholdRule, rule_to_json
from fleetmon.protocol.topics import HostTopics, host_topics
from fleetmon.simulate.faults import CPU_SPIKE, DEATH, DISK_FILL, NO_FAULTS, SILENCE, FaultPlan, plan_faults
from fleetmon.simulate.fleet import DEFAULT_SITES, HostSpec, build_fleet, checks_of, threshold_rules
from fleetmon.simulate.model import HostModel
from fleetmon.simulate.progress import Snapshot
from fleetmon.simulate.publisher import ConnectionPool, parse_broker_url
from fleetmon.simulate.templates import SampleTemplate

ONLINE, SILENT, DEAD = "online", "silent", "dead"
HOSTS_PER_CONNECTION = 250
AGENT_VERSION = __version__ + "-sim"
PROGRESS_EVERY_S = 0.5
# Sleeping for less than this costs more than it saves; hosts this close to due go out at once.
MIN_SLEEP_S = 0.0005
SERVICE_EVERY = 16  # hosts published between two reads of the broker's acknowledgements when behind
MAX_WAIT_S = 0.2  # how long a wait may go without looking at the stop flag
CHECK_MESSAGES = {"tcp": "connected to {target}", "http": "HTTP 200", "process": "1 process matches {target}"}


class SimOptions(NamedTuple):
    hosts: int
    interval_s: float = 10.0
    duration_s: Optional[float] = None  # None: until stopped
    broker_url: str = "mqtt://127.0.0.1:1883"
    jetson_share: float = 0.3
    faults: bool = False
    seed: int = 1
    prefix: str = DEFAULT_PREFIX
    host_prefix: str = "sim"
    sites: Tuple[str, ...] = DEFAULT_SITES
    connections: Optional[int] = None  # None: one per HOSTS_PER_CONNECTION hosts
    qos: int = 1
    leave_retained: bool = False
    ca_file: Optional[str] = None

    def problems(self) -> List[str]:
        """What is wrong with these options, one line each; empty when they can run."""
        found = []
        if self.hosts < 1:
            found.append("--hosts must be at least 1")
        if self.interval_s <= 0:
            found.append("--interval must be positive")
        if self.duration_s is not None and self.duration_s <= 0:
            found.append("--duration must be positive")
        if not 0.0 <= self.jetson_share <= 1.0:
            found.append("--jetson-share must be between 0 and 1")
        if self.connections is not None and self.connections < 1:
            found.append("--connections must be at least 1")
        if not self.sites:
            found.append("--groups needs at least one group")
        try:
            parse_broker_url(self.broker_url)
        except ValueError as exc:
            found.append(str(exc))
        return found

    @property
    def pool_size(self) -> int:
        wanted = self.connections or -(-self.hosts // HOSTS_PER_CONNECTION)
        return max(1, min(wanted, self.hosts))


def fleet_and_plan(options: SimOptions) -> Tuple[List[HostSpec], FaultPlan]:
    """The hosts and the faults a run with ``options`` will have: tests and demos can know them beforehand."""
    fleet = build_fleet(options.hosts, options.seed, options.jetson_share, options.host_prefix, options.sites)
    plan = plan_faults(fleet, options.duration_s, options.interval_s, options.seed) if options.faults else NO_FAULTS
    return fleet, plan


class RunReport(NamedTuple):
    plan: FaultPlan
    hosts: Tuple[str, ...]
    started_at: float  # wall clock when sampling began: fault times count from here
    elapsed_s: float
    messages: int
    samples: int
    errors: Dict[str, int]
    target_rate: float  # host-samples per second the schedule asks for
    reconnects: int
    max_lag_s: float  # the furthest a sample fell behind its due time

    @property
    def sample_rate(self) -> float:
        return self.samples / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        errors = sum(self.errors.values())
        detail = " ({})".format(", ".join(f"{k} {v}" for k, v in sorted(self.errors.items()))) if errors else ""
        return (f"{len(self.hosts)} hosts, {self.elapsed_s:.1f}s: {self.messages} messages, {self.samples} "
                f"host-samples = {self.sample_rate:.0f}/s (schedule {self.target_rate:.0f}/s, furthest behind "
                f"{self.max_lag_s:.3f}s), errors {errors}{detail}, reconnects {self.reconnects}")


class _Host:
    """A simulated agent while it runs: its session, sequence numbers and liveness."""

    __slots__ = ("checks", "connection", "evaluator", "model", "phase", "rules", "samples", "seq", "session",
                 "spec", "started_at", "state", "template", "topics")

    def __init__(self, spec: HostSpec, model: HostModel, topics: HostTopics, rules: List[ThresholdRule],
                 connection: int, phase: float, session: int, started_at: float, watched: bool) -> None:
        self.spec, self.model, self.topics, self.connection, self.phase = spec, model, topics, connection, phase
        self.checks = checks_of(spec)
        self.rules = rules
        self.state = ONLINE
        self.samples = 0
        self.start_session(session, started_at, watched)

    def start_session(self, session: int, started_at: float, watched: bool) -> None:
        self.session, self.started_at = session, started_at
        self.seq: Dict[str, int] = {}
        self.template = SampleTemplate(self.spec.host, session, self.model.interval_s, self.model.series())
        # Only hosts a fault pushes across a level need evaluating: normal values stay below every level.
        self.evaluator = ThresholdEvaluator(self.rules, self.spec.host, self.spec.labels) if watched else None

    def next_seq(self, kind: str) -> int:
        seq = self.seq.get(kind, 0) + 1
        self.seq[kind] = seq
        return seq

    def birth(self, ts: float) -> bytes:
        spec = self.spec
        checks = [{"name": c.name, "type": c.type, "interval_s": c.every * self.model.interval_s}
                  for c in self.checks]
        return messages.encode(messages.status(
            spec.host, self.session, self.next_seq("status"), ts, "online", agent_version=AGENT_VERSION,
            started_at=self.started_at, interval_s=self.model.interval_s,
            facts=spec.facts(self.model.boot_time), groups=spec.groups, labels=spec.labels,
            thresholds=[rule_to_json(rule) for rule in self.rules], checks=checks))

    def offline(self, ts: float, reason: str) -> bytes:
        return messages.encode(messages.status(self.spec.host, self.session, self.next_seq("status"), ts,
                                               "offline", reason=reason))


class Simulation:
    def __init__(self, options: SimOptions, stop: Optional[threading.Event] = None, progress=None) -> None:
        problems = options.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.options = options
        self.stop = stop or threading.Event()
        self.progress = progress
        self.fleet, self.plan = fleet_and_plan(options)
        self.pool = ConnectionPool(parse_broker_url(options.broker_url), options.pool_size,
                                   f"fleetmon-sim-{options.host_prefix}", options.qos, options.ca_file)
        self.samples = 0
        self.max_lag = 0.0
        self._values = random.Random(f"values:{options.seed}")
        self._hosts: Dict[str, _Host] = {}

    def run(self) -> RunReport:
        self._create_hosts(time.time())
        self.pool.start()
        started, started_at = time.monotonic(), time.time()
        try:
            for host in self._hosts.values():
                self.pool.set_status(host.connection, host.topics.status, host.birth(time.time()))
            started, started_at = time.monotonic(), time.time()
            self._loop(started)
        finally:
            elapsed = time.monotonic() - started
            self._finish()
        return RunReport(self.plan, tuple(self._hosts), started_at, elapsed, self.pool.sent, self.samples,
                         dict(self.pool.errors), len(self.fleet) / self.options.interval_s, self.pool.reconnects,
                         self.max_lag)

    def _create_hosts(self, now: float) -> None:
        options, count = self.options, len(self.fleet)
        # A session that grows with the clock: a later run's births supersede an earlier run's statuses.
        session = int(now)
        rules: Dict[str, List[ThresholdRule]] = {}  # the same for every host of a kind: parse them once
        for spec in self.fleet:
            faults = {f.kind: f for f in self.plan.for_host(spec.host)}
            model = HostModel(spec, now, options.interval_s, options.seed, cpu_spike=faults.get(CPU_SPIKE),
                              disk_fill=faults.get(DISK_FILL))
            if spec.kind not in rules:
                rules[spec.kind] = threshold_rules(spec, options.interval_s)
            host = _Host(spec, model, host_topics(spec.host, options.prefix), rules[spec.kind],
                         spec.index % self.pool.size,
                         options.interval_s * spec.index / count, session, now,
                         watched=CPU_SPIKE in faults or DISK_FILL in faults)
            self._hosts[spec.host] = host

    def _timeline(self) -> List[Tuple[float, int, str, str]]:
        events = []
        for fault in self.plan.faults:
            if fault.kind == DEATH:
                events.append((fault.at, "die", fault.host))
                if fault.until is not None:
                    events.append((fault.until, "reboot", fault.host))
            elif fault.kind == SILENCE:
                events.append((fault.at, "silence", fault.host))
                if fault.until is not None:
                    events.append((fault.until, "resume", fault.host))
        timeline = [(at, order, action, host) for order, (at, action, host) in enumerate(events)]
        heapq.heapify(timeline)
        return timeline

    def _loop(self, started: float) -> None:
        options, stop, pool = self.options, self.stop, self.pool
        interval, duration = options.interval_s, options.duration_s
        order = sorted(self._hosts.values(), key=lambda h: h.phase)
        timeline = self._timeline()
        next_progress = started
        cycle = 0
        while True:
            base = started + cycle * interval
            for position, host in enumerate(order):
                due = base + host.phase
                t = due - started
                now = time.monotonic()
                if duration is not None and (t >= duration or now - started >= duration):
                    return
                if due - now > MIN_SLEEP_S:
                    if not self._wait_until(due):
                        return
                else:
                    if stop.is_set():
                        return
                    self.max_lag = max(self.max_lag, now - due)
                    if position % SERVICE_EVERY == 0:
                        pool.service(0.0)
                while timeline and timeline[0][0] <= t:
                    _, _, action, name = heapq.heappop(timeline)
                    self._apply(action, self._hosts[name], t)
                if host.state == ONLINE:
                    self._sample(host, t)
                if now >= next_progress and self.progress is not None:
                    next_progress = now + PROGRESS_EVERY_S
                    self.progress.update(self.snapshot(now - started))
            cycle += 1

    def _wait_until(self, due: float) -> bool:
        """Serve the network until ``due``; False when told to stop meanwhile."""
        while True:
            if self.stop.is_set():
                return False
            remaining = due - time.monotonic()
            if remaining <= 0:
                return True
            self.pool.service(min(remaining, MAX_WAIT_S))

    def _apply(self, action: str, host: _Host, t: float) -> None:
        now = time.time()
        if action == "die":
            host.state = DEAD
            self.pool.set_status(host.connection, host.topics.status, host.offline(now, "will"))
        elif action == "reboot":
            host.model.reboot(now)
            host.start_session(host.session + 1, now, host.evaluator is not None)
            host.state = ONLINE
            self.pool.set_status(host.connection, host.topics.status, host.birth(now))
        elif action == "silence" and host.state == ONLINE:
            host.state = SILENT
        elif action == "resume" and host.state == SILENT:
            host.state = ONLINE

    def _sample(self, host: _Host, t: float) -> None:
        ts = time.time()
        values = host.model.step(self._values, t, ts)
        duration = values[-1]
        transitions = []
        firing = 0
        if host.evaluator is not None:
            transitions = host.evaluator.evaluate(host.model.watched(t), ts)
            firing = len(host.evaluator.firing())
        values.append(firing)
        pool, connection, topics = self.pool, host.connection, host.topics
        pool.publish(connection, topics.metrics, host.template.render(host.next_seq("metrics"), ts, duration, values))
        self.samples += 1
        if transitions:
            pool.publish(connection, topics.alerts, messages.encode(messages.alerts(
                host.spec.host, host.session, host.next_seq("alerts"), ts, transitions)))
        host.samples += 1
        due = [check for check in host.checks if host.samples % check.every == 0]
        if due:
            results = []
            for check in due:
                latency = 0.0005 + 0.004 * self._values.random()
                message = CHECK_MESSAGES.get(check.type, "ok").format(target=check.target)
                value = 1.0 if check.type == "process" else latency
                results.append(result_to_json(CheckResult(check.name, check.type, True, message, ts - latency,
                                                          latency, value), 0))
            pool.publish(connection, topics.checks, messages.encode(messages.checks(
                host.spec.host, host.session, host.next_seq("checks"), ts, results)))

    def snapshot(self, elapsed: float) -> Snapshot:
        states = [host.state for host in self._hosts.values()]
        return Snapshot(elapsed, self.options.duration_s, self.pool.sent, self.samples,
                        sum(self.pool.errors.values()), states.count(DEAD), states.count(SILENT))

    def _finish(self) -> None:
        if not self.options.leave_retained:
            now = time.time()
            for host in self._hosts.values():
                if host.state != DEAD:  # a dead host's will stays: it never came back to stop cleanly
                    self.pool.set_status(host.connection, host.topics.status, host.offline(now, "shutdown"))
        self.pool.close()


def run(options: SimOptions, stop: Optional[threading.Event] = None, progress=None) -> RunReport:
    """Run a simulation until ``options.duration_s`` has passed or ``stop`` is set."""
    return Simulation(options, stop, progress).run()
