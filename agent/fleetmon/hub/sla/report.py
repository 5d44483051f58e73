"""From members' classified time to what an SLA report says: seconds per verdict, availability, downtime,
the error budget and burn rates, as JSON and as CSV (pure; the formulas are docs/sla.md's).

Exclusions win over every verdict: a second outside the schedule or in maintenance is excluded, whatever
the host did. Over any range, ``good + bad + unknown + excluded`` is the range's length, per member and
(summed) for the SLO.
"""

import bisect
import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from fleetmon.hub.sla.config import SLO, CheckPasses, MetricBound
from fleetmon.hub.sla.sli import MemberTime
from fleetmon.hub.sla.spans import Spans


class Evaluated(NamedTuple):
    """One member of an SLO: its classified time over ``[start, until)`` and the time that does not count
    over ``[start, end)`` (the future part too, for the budget)."""

    member: str  # the host, or host/check
    host: str
    time: MemberTime
    excluded: Spans

    @property
    def is_member(self) -> bool:
        return bool(self.time.good or self.time.bad or self.time.unknown)


class Tally(NamedTuple):
    good: float
    bad: float
    unknown: float
    excluded: float

    @property
    def eligible(self) -> float:
        return self.good + self.bad


def tally(evaluated: Evaluated, start: float, until: float) -> Tally:
    """Seconds of each verdict in ``[start, until)``; what is none of good, bad, unknown is excluded."""
    time, excluded = evaluated.time, evaluated.excluded
    good = (time.good.clip(start, until) - excluded).total
    bad = (time.bad.clip(start, until) - excluded).total
    unknown = (time.unknown.clip(start, until) - excluded).total
    return Tally(good, bad, unknown, max(0.0, until - start) - good - bad - unknown)


def summed(tallies: Iterable[Tally]) -> Tally:
    found = list(tallies)
    return Tally(*(sum(t[i] for t in found) for i in range(4)))


def availability(good: float, bad: float) -> float | None:
    """good / (good + bad): unknown and excluded time count for neither; None without eligible time."""
    return good / (good + bad) if good + bad > 0 else None


def burn_rate(window: Tally, error_ratio: float) -> float | None:
    """How many times faster than the SLO allows the window spent budget: its bad share / (1 - target)."""
    return window.bad / window.eligible / error_ratio if window.eligible > 0 else None


def future_eligible(members: Sequence[Evaluated], until: float, end: float) -> float:
    """Seconds of ``[until, end)`` that will count, summed over the members: what is not excluded."""
    if end <= until:
        return 0.0
    ahead = Spans.between(until, end)
    return sum((ahead - m.excluded).total for m in members if m.is_member)


def allowed_bad(error_ratio: float, elapsed: Tally, ahead: float) -> float:
    """The error budget in seconds, as the SRE workbook defines it: (1 - target) times the period's eligible
    time, which is the eligible time so far and the time still to come that is not excluded."""
    return error_ratio * (elapsed.eligible + ahead)


def budget_left(bad: float, allowed: float) -> float | None:
    """1 - bad / budget: 1 untouched, 0 spent, below 0 overspent; None when nothing is eligible."""
    return 1.0 - bad / allowed if allowed > 0 else None


def objective(slo: SLO) -> str:
    """The SLO's good condition in words."""
    if isinstance(slo.good, CheckPasses):
        return f"check {slo.good.name} passes" + (" and the host is up" if slo.good.host_up_required else "")
    if isinstance(slo.good, MetricBound):
        return slo.good.describe()
    return "host up"


def _figures(counts: Tally) -> dict[str, Any]:
    return {"good_s": counts.good, "bad_s": counts.bad, "unknown_s": counts.unknown, "excluded_s": counts.excluded,
            "availability": availability(counts.good, counts.bad), "downtime_minutes": counts.bad / 60.0}


def build_report(slo: SLO, label: str, start: float, end: float, until: float, members: Sequence[Evaluated],
                 with_members: bool = True) -> dict[str, Any]:
    """The JSON-ready report of ``slo`` over ``[start, end)``, elapsed up to ``until``."""
    counted = [(m, tally(m, start, until)) for m in members]
    total = summed(t for _, t in counted)
    allowed = allowed_bad(slo.error_ratio, total, future_eligible(members, until, end))
    left = budget_left(total.bad, allowed)
    report: dict[str, Any] = {
        "slo": slo.name, "description": slo.description, "kind": slo.kind, "objective": objective(slo),
        "target": slo.target, "period": slo.period, "label": label, "timezone": str(slo.zone),
        "start": start, "end": end, "until": until, **_figures(total),
        "budget": {"allowed_bad_s": allowed, "bad_s": total.bad, "left": left},
        "met": None if left is None else left >= 0, "status": status(left, until >= end),
        "member_count": sum(1 for m in members if m.is_member),
    }
    if with_members:
        report["members"] = [{"member": m.member, "host": m.host, **_figures(t)} for m, t in counted]
    return report


def status(left: float | None, ended: bool) -> str:
    """The verdict in a word. An unspent budget at the period's end is availability >= target exactly;
    before the end, an overspent one means the target is missed even if every second still to come is good."""
    if left is None:
        return "no data"
    if ended:
        return "met" if left >= 0 else "missed"
    return "on track" if left >= 0 else "breached"


CSV_COLUMNS = ("member", "host", "good_s", "bad_s", "unknown_s", "excluded_s", "availability_percent",
               "downtime_minutes")


def report_csv(report: dict[str, Any]) -> str:
    """One row per member, then the SLO's total (member ``*``); availability in percent, empty without
    eligible time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in [*report["members"], {**report, "member": "*", "host": ""}]:
        share = row["availability"]
        writer.writerow((row["member"], row["host"], _number(row["good_s"]), _number(row["bad_s"]),
                         _number(row["unknown_s"]), _number(row["excluded_s"]),
                         "" if share is None else f"{100.0 * share:.4f}", f"{row['downtime_minutes']:.2f}"))
    return out.getvalue()


SUMMARY_COLUMNS = ("slo", "label", "start", "end", "target", "availability_percent", "downtime_minutes",
                   "budget_left_percent", "good_s", "bad_s", "unknown_s", "excluded_s")


def summaries_csv(reports: Iterable[dict[str, Any]]) -> str:
    """One row per SLO report (a summary or a full report), percentages empty where there is no figure."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for report in reports:
        share, left = report["availability"], report["budget"]["left"]
        writer.writerow((report["slo"], report["label"], _number(report["start"]), _number(report["end"]),
                         f"{report['target']:g}", "" if share is None else f"{100.0 * share:.4f}",
                         f"{report['downtime_minutes']:.2f}", "" if left is None else f"{100.0 * left:.2f}",
                         _number(report["good_s"]), _number(report["bad_s"]), _number(report["unknown_s"]),
                         _number(report["excluded_s"])))
    return out.getvalue()


def _number(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def budget_points(members: Sequence[Evaluated], start: float, until: float, allowed: float,
                  times: Sequence[float]) -> list[tuple[float, float | None]]:
    """Budget left at each of ``times`` (ascending, within ``[start, until]``): 1 - (bad seconds of every
    member from ``start`` up to that time) / ``allowed``; a burn-down that ends at the report's figure."""
    bad = [interval for m in members for interval in (m.time.bad.clip(start, until) - m.excluded)]
    starts = sorted(s for s, _ in bad)
    ends = sorted(e for _, e in bad)
    start_sums, end_sums = _prefix(starts), _prefix(ends)
    points = []
    for t in times:
        # sum over intervals of their overlap with (-inf, t): (t - s) for those begun, less (t - e) for those ended
        begun, ended = bisect.bisect_left(starts, t), bisect.bisect_left(ends, t)
        spent = (begun * t - start_sums[begun]) - (ended * t - end_sums[ended])
        points.append((t, budget_left(spent, allowed)))
    return points


def _prefix(values: Sequence[float]) -> list[float]:
    sums = [0.0]
    for value in values:
        sums.append(sums[-1] + value)
    return sums
