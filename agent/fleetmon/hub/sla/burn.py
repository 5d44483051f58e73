"""Multi-window, multi-burn-rate alerts on an SLO's error budget, as the SRE workbook sets them up (ch. 5,
"Alerting on SLOs"), pure.

A rule fires when the burn rate over its long window *and* over its short window (a twelfth of it, so the
alert stops soon after the burning does) both reach its threshold. For a 30-day period the workbook's
thresholds are 14.4, 6, 3 and 1: the burn rate that spends 2 %, 5 %, 10 % and 10 % of the budget within 1 h,
6 h, 1 d and 3 d. A burn rate b held for a window w spends ``b * w / period`` of the budget, so for any
period the threshold is ``share * period / w`` (a weekly SLO pages at 14.4 * 7 / 30 = 3.36). A rule
whose long window is longer than the period is left out: no budget of the period can be spent over it.
"""

from collections.abc import Mapping
from typing import NamedTuple

from fleetmon.hub.rules.alerts import FleetAlert

ALERTNAME = "SLOBudgetBurn"
_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0


class BurnRule(NamedTuple):
    long: float  # seconds
    short: float
    budget_share: float  # of the period's budget, spent within ``long`` at the threshold's rate
    severity: str  # critical pages, warning opens a ticket

    @property
    def window(self) -> str:
        return f"{_duration(self.long)}/{_duration(self.short)}"

    def threshold(self, period_seconds: float) -> float:
        return self.budget_share * period_seconds / self.long


RULES = (
    BurnRule(_HOUR, 5 * _MINUTE, 0.02, "critical"),
    BurnRule(6 * _HOUR, 30 * _MINUTE, 0.05, "critical"),
    BurnRule(_DAY, 2 * _HOUR, 0.10, "warning"),
    BurnRule(3 * _DAY, 6 * _HOUR, 0.10, "warning"),
)
#: Every window a rule reads, shortest first: the burn rates ``burn_alerts`` needs.
WINDOWS = tuple(sorted({rule.long for rule in RULES} | {rule.short for rule in RULES}))


def rules_for(period_seconds: float) -> list[BurnRule]:
    return [rule for rule in RULES if rule.long <= period_seconds]


def burn_alerts(slo: str, rates: Mapping[float, float | None], period_seconds: float, budget_left: float | None,
                now: float) -> list[FleetAlert]:
    """The rules that fire for burn ``rates`` (window seconds -> burn rate, None without eligible time in it),
    one alert each; ``budget_left`` of the current period goes into the description."""
    alerts = []
    for rule in rules_for(period_seconds):
        threshold = rule.threshold(period_seconds)
        long_rate, short_rate = rates.get(rule.long), rates.get(rule.short)
        if long_rate is None or short_rate is None or long_rate < threshold or short_rate < threshold:
            continue
        left = "unknown" if budget_left is None else f"{budget_left:.1%}"
        alerts.append(FleetAlert(
            labels={"alertname": ALERTNAME, "slo": slo, "severity": rule.severity, "window": rule.window},
            annotations={
                "summary": f"SLO {slo} is spending its error budget {long_rate:.1f} times as fast as it may",
                "description": (f"burn rate {long_rate:.2f} over {_duration(rule.long)} and {short_rate:.2f} over "
                                f"{_duration(rule.short)}, both at least {threshold:.2f}; {left} of the period's "
                                "error budget left"),
            },
            since=now))
    return alerts


def _duration(seconds: float) -> str:
    for unit, size in (("d", _DAY), ("h", _HOUR), ("m", _MINUTE)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
