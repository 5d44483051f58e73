"""The SLA engine: keeps the presence ledger up with the history, and answers reports, summaries, budget
burn-downs and burn-rate alerts for the configured SLOs.

The hub wires it (one composition root): ``members`` is the fleet as the state knows it now, ``live`` a
host's liveness and whether the hub can see, ``maintenance`` the windows in which a host does not count.
``update`` is the one method that changes anything; the rules loop calls it every round, which also keeps
the ledger ahead of the history's raw retention. Everything else is a query and may run on any thread.
"""

import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from fleetmon.hub.alerting.timeintervals import TimeIntervals
from fleetmon.hub.rules.alerts import FleetAlert
from fleetmon.hub.sla import burn
from fleetmon.hub.sla.config import SLO, CheckPasses, MetricBound
from fleetmon.hub.sla.ledger import PresenceLedger
from fleetmon.hub.sla.periods import KINDS, NOMINAL_SECONDS, period_at
from fleetmon.hub.sla.report import (
    Evaluated,
    allowed_bad,
    budget_left,
    budget_points,
    build_report,
    burn_rate,
    future_eligible,
    summed,
    tally,
)
from fleetmon.hub.sla.sli import (
    MemberTime,
    check_time,
    default_stale_after,
    down_counts_bad,
    host_up_time,
    metric_time,
)
from fleetmon.hub.sla.sources import HistorySource
from fleetmon.hub.sla.spans import Spans, union

log = logging.getLogger(__name__)

#: Raw rows merged per ledger transaction, and transactions per update: a ledger far behind (a first start
#: beside a day of raw samples) catches up over several rounds instead of holding one up for minutes.
BATCH = 5000
BATCHES_PER_UPDATE = 4
#: The sampling interval of a host the fleet state does not know (HostRecord's default).
DEFAULT_INTERVAL = 10.0
#: Days of schedule kept computed, per schedule: ten years of one, or a year each of ten.
SCHEDULE_CACHE_DAYS = 3660
_DAY = 86400.0
_MINUTE = 60.0


class HostInfo(NamedTuple):
    """What an SLO's scope and the ledger need to know of a host, from the fleet state."""

    groups: tuple[str, ...]
    labels: Mapping[str, str]
    interval_s: float


class UnknownSLO(LookupError):
    """No SLO of that name is configured."""


Members = Callable[[], dict[str, HostInfo]]
Live = Callable[[str], tuple[str, bool]]
Maintenance = Callable[[str, tuple[str, ...], float, float], list[tuple[float, float]]]


class SLAEngine:
    def __init__(self, slos: Sequence[SLO], history_path: str, ledger_path: str, members: Members, live: Live,
                 maintenance: Maintenance, intervals: TimeIntervals, silent_after: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._members, self._live, self._maintenance, self.clock = members, live, maintenance, clock
        self._history = HistorySource(history_path)
        self._ledger = PresenceLedger(ledger_path)
        self._config_lock = threading.Lock()
        self._slos: dict[str, SLO] = {}
        self._intervals = intervals
        self._silent_after = silent_after
        self._schedule_days: OrderedDict[tuple[tuple[str, ...], float], Spans] = OrderedDict()
        self.reconfigure(slos, intervals, silent_after)
        self.updated_at: float | None = None  # when ``update`` last brought the ledger up with the history
        self.update_failures = 0  # updates a history or ledger error stopped (the next one tries again)

    def close(self) -> None:
        self._history.close()
        self._ledger.close()

    def reconfigure(self, slos: Sequence[SLO], intervals: TimeIntervals, silent_after: float) -> None:
        """A reloaded config: its SLOs, time intervals and liveness.silent_after from now on."""
        with self._config_lock:
            self._slos = {slo.name: slo for slo in slos}
            self._intervals, self._silent_after = intervals, silent_after
            self._schedule_days.clear()

    @property
    def slos(self) -> tuple[SLO, ...]:
        return tuple(self._slos.values())

    def slo(self, name: str) -> SLO:
        found = self._slos.get(name)
        if found is None:
            raise UnknownSLO(f"no SLO named {name!r}")
        return found

    # -- the one change

    def update(self, now: float) -> None:
        """Merge the raw rows stored since the last update into the ledger, BATCHES_PER_UPDATE x BATCH of them
        at most (one indexed read when there are none). A history replaced by a new file (a corrupt one moved
        aside) is read again from its start."""
        try:
            members = self._members()
            cursor = self._ledger.cursor
            if self._history.last_raw_id() < cursor:
                log.warning("SLA ledger: the history's raw ids restarted below %d (a new file); reading it again",
                            cursor)
                self._ledger.advance([], 0, lambda host: DEFAULT_INTERVAL, self._silent_after)
                cursor = 0  # merging is idempotent: rows the ledger already holds change nothing
            for _ in range(BATCHES_PER_UPDATE):
                batch = self._history.samples_after(cursor, BATCH)
                if not batch:
                    break
                cursor = batch[-1].id
                self._ledger.advance(batch, cursor, lambda host: _interval(members, host), self._silent_after)
                if len(batch) < BATCH:
                    break
        except sqlite3.DatabaseError as exc:  # locked, busy, disk I/O, a corrupt file: the next round tries again
            self.update_failures += 1
            log.warning("SLA ledger update failed: %s", exc)
            return
        self.updated_at = now

    # -- queries

    def report(self, name: str, start: float, end: float, now: float) -> dict[str, Any]:
        """The report of SLO ``name`` over ``[start, end)`` as of ``now``, member by member."""
        slo = self.slo(name)
        until = min(max(start, now), end)
        return build_report(slo, self._label(slo, start, end), start, end, until,
                            self._evaluate(slo, start, end, until))

    def summaries(self, now: float) -> list[dict[str, Any]]:
        """Every SLO over its current period, without the members."""
        found = []
        for slo in self.slos:
            period = period_at(slo.period, now, slo.zone)
            until = min(now, period.end)
            found.append(build_report(slo, period.label, period.start, period.end, until,
                                      self._evaluate(slo, period.start, period.end, until), with_members=False))
        return found

    def budget_series(self, name: str, start: float, end: float, now: float,
                      step: float) -> list[tuple[float, float | None]]:
        """Budget left over ``[start, end)`` every ``step`` seconds up to ``now``: ``(ts, left)``, None where
        nothing is eligible; the last point is the report's own figure."""
        if step <= 0:
            raise ValueError("step must be positive")
        slo = self.slo(name)
        until = min(max(start, now), end)
        members = self._evaluate(slo, start, end, until)
        elapsed = summed(tally(m, start, until) for m in members)
        allowed = allowed_bad(slo.error_ratio, elapsed, future_eligible(members, until, end))
        times = [start + i * step for i in range(int((until - start) // step) + 1)]
        if times[-1] < until:
            times.append(until)
        return budget_points(members, start, until, allowed, times)

    def burn_alerts(self, now: float) -> list[FleetAlert]:
        """Every SLO's burn-rate alerts now (fleetmon.hub.sla.burn), for the fleet's ActiveAlerts."""
        alerts = []
        for slo in self.slos:
            if not slo.burn_alerts:
                continue
            period_seconds = NOMINAL_SECONDS[slo.period]
            rules = burn.rules_for(period_seconds)  # 1h/5m at least: every period is a day or longer
            period = period_at(slo.period, now, slo.zone)
            start = min(period.start, now - max(rule.long for rule in rules))
            try:
                members = self._evaluate(slo, start, period.end, now)
            except sqlite3.DatabaseError as exc:
                log.warning("SLO %s: burn rates not evaluated: %s", slo.name, exc)
                continue
            windows = {w for rule in rules for w in (rule.long, rule.short)}
            rates = {w: burn_rate(summed(tally(m, now - w, now) for m in members), slo.error_ratio) for w in windows}
            elapsed = summed(tally(m, period.start, now) for m in members)
            allowed = allowed_bad(slo.error_ratio, elapsed, future_eligible(members, now, period.end))
            alerts.extend(burn.burn_alerts(slo.name, rates, period_seconds, budget_left(elapsed.bad, allowed), now))
        return alerts

    # -- evaluation

    def _evaluate(self, slo: SLO, start: float, end: float, until: float) -> list[Evaluated]:
        """Each member in scope now: its time over ``[start, until)``, its exclusions over ``[start, end)``."""
        evaluated = []
        outside = self._outside_schedule(slo.schedule, start, end)
        for host, info in sorted(self._members().items()):
            if not slo.scope.covers(host, tuple(info.groups), dict(info.labels)):
                continue
            excluded = outside
            if slo.exclude_maintenance:
                excluded = excluded | Spans(self._maintenance(host, tuple(info.groups), start, end)).clip(start, end)
            member = f"{host}/{slo.good.name}" if isinstance(slo.good, CheckPasses) else host
            evaluated.append(Evaluated(member, host, self._member_time(slo, host, start, until), excluded))
        return evaluated

    def _member_time(self, slo: SLO, host: str, start: float, until: float) -> MemberTime:
        good = slo.good
        if isinstance(good, MetricBound):
            means = self._history.minute_means(host, good.name, good.labels, start, until)
            minutes = [(bucket, all(good.good(mean) for mean in found)) for bucket, found in means.items()]
            return metric_time(minutes, self._ledger.first_seen(host), start, until)
        if isinstance(good, CheckPasses):
            results = self._history.check_results(host, good.name, start, until)
            stale_after = good.stale_after or default_stale_after([ts for ts, _ in results])
            checked = check_time(results, start, until, stale_after)
            return down_counts_bad(checked, self._host_up(host, start, until)) if good.host_up_required else checked
        return self._host_up(host, start, until)

    def _host_up(self, host: str, start: float, until: float) -> MemberTime:
        state, seeing = self._live(host)
        return host_up_time(self._ledger.spans(host, start, until), start, until, state, seeing)

    def _label(self, slo: SLO, start: float, end: float) -> str:
        """The name of the period ``[start, end)`` is, in the SLO's zone; "" for any other range."""
        for kind in KINDS:
            period = period_at(kind, start, slo.zone)
            if (period.start, period.end) == (start, end):
                return period.label
        return ""

    def _outside_schedule(self, names: tuple[str, ...], start: float, end: float) -> Spans:
        """The time of ``[start, end)`` in none of the time intervals ``names``; none without a schedule."""
        if not names or end <= start:
            return Spans()
        first = start // _DAY * _DAY
        days = [first + i * _DAY for i in range(int((end - first) // _DAY) + 1)]
        return Spans.between(start, end) - union(self._active_day(names, day) for day in days)

    def _active_day(self, names: tuple[str, ...], day: float) -> Spans:
        """The minutes of the UTC day starting at ``day`` in any of ``names``, stepped minute by minute (time
        intervals are minute-granular)."""
        key = (names, day)
        with self._config_lock:
            cached = self._schedule_days.get(key)
            if cached is not None:
                self._schedule_days.move_to_end(key)
                return cached
            intervals = self._intervals
        minutes = (day + i * _MINUTE for i in range(int(_DAY // _MINUTE)))
        active = Spans((m, m + _MINUTE) for m in minutes if any(intervals.active(name, m) for name in names))
        with self._config_lock:
            if intervals is self._intervals:  # not a reload's leftover
                self._schedule_days[key] = active
                while len(self._schedule_days) > SCHEDULE_CACHE_DAYS:
                    self._schedule_days.popitem(last=False)
        return active


def _interval(members: Mapping[str, HostInfo], host: str) -> float:
    info = members.get(host)
    return info.interval_s if info is not None and info.interval_s > 0 else DEFAULT_INTERVAL
