"""The fault plan: which simulated host fails how, and when (pure, seeded).

With ``--faults`` a run carries one of each, on distinct hosts, at fixed fractions of the run (the plan
horizon: the run's duration, or ten minutes for an open-ended run) with a seeded jitter:

- death: the host stops and its Last Will (offline, reason "will") arrives; it reboots later with a new
  session and a new birth.
- silence: the host stops sampling but stays "online" (a hung agent), then resumes with the next seq.
- disk fill: "/" fills linearly from the host's usage to 99%, crossing the 85% and 95% edge levels at
  times ``crossing`` predicts.
- CPU spike: CPU use jumps to 98.5% and back, a warning and a critical edge alert firing and resolving.
- cascade: several hosts of one group die within a minute and stay down.

Times are seconds from the start of the run. The same seed and fleet always give the same plan.
"""

import random
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from fleetmon.simulate.fleet import HostSpec

DEATH, SILENCE, DISK_FILL, CPU_SPIKE = "death", "silence", "disk_fill", "cpu_spike"
KINDS = (DEATH, SILENCE, DISK_FILL, CPU_SPIKE)
OPEN_ENDED_HORIZON_S = 600.0
CASCADE_WINDOW_S = 50.0  # the cascade's deaths all fall within a minute
MIN_CASCADE, MAX_CASCADE = 3, 8
DISK_FULL_RATIO = 0.99


class Fault(NamedTuple):
    kind: str
    host: str
    at: float  # when it starts, seconds from the run's start
    until: Optional[float]  # when it ends (reboot, resume, spike over, disk at its end value); None: never
    group: str = ""  # a cascade's group; "" for a fault of one host alone
    start_value: float = 0.0  # disk fill: "/" usage at ``at``
    end_value: float = 0.0  # disk fill: "/" usage at ``until``

    def active(self, t: float) -> bool:
        return self.at <= t and (self.until is None or t < self.until)

    def value_at(self, t: float) -> float:
        """Disk fill: the "/" usage at ``t`` (linear between ``at`` and ``until``, then held)."""
        if self.until is None or t <= self.at:
            return self.start_value
        share = min(1.0, (t - self.at) / (self.until - self.at))
        return self.start_value + share * (self.end_value - self.start_value)

    def crossing(self, level: float) -> Optional[float]:
        """Disk fill: when usage first exceeds ``level``; None if it never does."""
        if self.until is None or not self.start_value < level < self.end_value:
            return None
        return self.at + (level - self.start_value) / (self.end_value - self.start_value) * (self.until - self.at)


class FaultPlan(NamedTuple):
    faults: Tuple[Fault, ...]
    horizon_s: float

    def of_kind(self, kind: str) -> List[Fault]:
        return [fault for fault in self.faults if fault.kind == kind]

    def first(self, kind: str) -> Optional[Fault]:
        """The single-host fault of ``kind`` (not part of a cascade), if the fleet was large enough for it."""
        return next((fault for fault in self.faults if fault.kind == kind and not fault.group), None)

    @property
    def cascade(self) -> List[Fault]:
        return [fault for fault in self.faults if fault.group]

    def for_host(self, host: str) -> List[Fault]:
        return [fault for fault in self.faults if fault.host == host]

    def describe(self) -> List[str]:
        """One line per fault, for people watching a demo."""
        lines = []
        for fault in sorted(self.faults, key=lambda f: f.at):
            end = "" if fault.until is None else f" until {fault.until:.1f}s"
            extra = f" (cascade in {fault.group})" if fault.group else ""
            if fault.kind == DISK_FILL:
                extra = f" ({fault.start_value:.0%} -> {fault.end_value:.0%})"
            lines.append(f"{fault.at:8.1f}s  {fault.kind:<9} {fault.host}{end}{extra}")
        return lines


NO_FAULTS = FaultPlan((), 0.0)


def plan_faults(hosts: Sequence[HostSpec], horizon_s: Optional[float], interval_s: float, seed: int) -> FaultPlan:
    """One fault of each kind and a cascade, on distinct hosts, as far as the fleet's size allows
    (single-host faults first: a fleet of five gets no cascade)."""
    horizon = horizon_s if horizon_s and horizon_s > 0 else OPEN_ENDED_HORIZON_S
    rng = random.Random(f"faults:{seed}")
    order = list(hosts)
    rng.shuffle(order)

    def when(share: float) -> float:
        return round(horizon * (share + rng.uniform(-0.03, 0.03)), 3)

    faults: List[Fault] = []
    single = [(DEATH, 0.25, 0.7), (SILENCE, 0.3, 0.75), (CPU_SPIKE, 0.35, 0.6), (DISK_FILL, 0.1, 0.9)]
    for (kind, start, end), spec in zip(single, order):
        at, until = when(start), when(end)
        if kind == DISK_FILL:
            faults.append(Fault(kind, spec.host, at, until, start_value=spec.root_usage, end_value=DISK_FULL_RATIO))
        else:
            faults.append(Fault(kind, spec.host, at, until))
    faults += _cascade(order[len(single):], horizon, interval_s, rng)
    return FaultPlan(tuple(faults), horizon)


def _cascade(candidates: Iterable[HostSpec], horizon: float, interval_s: float, rng: random.Random) -> List[Fault]:
    by_group: Dict[str, List[HostSpec]] = {}
    for spec in candidates:
        for group in spec.groups:
            by_group.setdefault(group, []).append(spec)
    eligible = sorted(group for group, members in by_group.items() if len(members) >= MIN_CASCADE)
    if not eligible:
        return []
    group = rng.choice(eligible)
    members = by_group[group]
    count = max(MIN_CASCADE, min(MAX_CASCADE, len(members) // 4))
    victims = rng.sample(members, count)
    start = round(horizon * 0.5, 3)
    window = min(CASCADE_WINDOW_S, horizon * 0.1, max(interval_s, 0.001) * 10)
    times = sorted(round(start + rng.uniform(0.0, window), 3) for _ in victims)
    return [Fault(DEATH, spec.host, at, None, group=group) for spec, at in zip(victims, times)]
