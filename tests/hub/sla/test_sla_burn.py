"""Burn-rate alerts (fleetmon.hub.sla.burn), pure: the SRE workbook's thresholds for a 30-day period, scaled
for others, and which rules fire for given burn rates."""

from typing import NamedTuple

import pytest

from fleetmon.hub.sla.burn import ALERTNAME, RULES, burn_alerts, rules_for
from fleetmon.hub.sla.periods import DAILY, MONTHLY, NOMINAL_SECONDS, QUARTERLY, WEEKLY

M, H, D = 60.0, 3600.0, 86400.0
NOW = 1_800_000_000.0


class Thresholds(NamedTuple):
    name: str
    why: str
    period: str
    expected: dict[str, float]  # window -> threshold


THRESHOLDS = [
    Thresholds("30 days", "the workbook's own numbers: 2 % of the budget in 1 h is 14.4 times the allowed rate",
               MONTHLY, {"1h/5m": 14.4, "6h/30m": 6.0, "1d/2h": 3.0, "3d/6h": 1.0}),
    Thresholds("a week", "the same shares of a budget 7/30 as large: 14.4 * 7 / 30", WEEKLY,
               {"1h/5m": 3.36, "6h/30m": 1.4, "1d/2h": 0.7, "3d/6h": 0.7 / 3}),
    Thresholds("a quarter", "90 days: three times the monthly thresholds", QUARTERLY,
               {"1h/5m": 43.2, "6h/30m": 18.0, "1d/2h": 9.0, "3d/6h": 3.0}),
    Thresholds("a day", "no day's budget can be spent over 3 days: that rule is left out", DAILY,
               {"1h/5m": 0.48, "6h/30m": 0.2, "1d/2h": 0.1}),
]


@pytest.mark.parametrize("case", THRESHOLDS, ids=lambda c: c.name)
def test_thresholds_scale_with_the_period(case: Thresholds) -> None:
    period = NOMINAL_SECONDS[case.period]
    found = {rule.window: rule.threshold(period) for rule in rules_for(period)}
    assert found == pytest.approx(case.expected), case.why


def rates(**by_window: float | None) -> dict[float, float | None]:
    """Burn rates by window name (h1, m5, h6, m30, d1, h2, d3): the rest burn nothing."""
    seconds = {"m5": 5 * M, "m30": 30 * M, "h1": H, "h2": 2 * H, "h6": 6 * H, "d1": D, "d3": 3 * D}
    found: dict[float, float | None] = dict.fromkeys(seconds.values(), 0.0)
    found.update({seconds[name]: rate for name, rate in by_window.items()})
    return found


class Burn(NamedTuple):
    name: str
    why: str
    rates: dict[float, float | None]
    fired: list[tuple[str, str]]  # (window, severity) of the alerts, in rule order
    period: str = MONTHLY


BURNS = [
    Burn("nothing burns", "no bad time anywhere", rates(), []),
    Burn("fast burn", "1 h and 5 m both at 14.4 or more: page", rates(h1=15, m5=20), [("1h/5m", "critical")]),
    Burn("fast burn over", "the long window still burns but the short one recovered: the page stops early",
         rates(h1=15, m5=2), []),
    Burn("a short spike", "5 minutes at 100 are not an hour at 14.4: the long window keeps it from paging",
         rates(h1=8.4, m5=100), []),
    Burn("slower burn", "6 h and 30 m both at 6 or more: page", rates(h6=7, m30=7, h1=7, m5=7),
         [("6h/30m", "critical")]),
    Burn("ticket", "1 d and 2 h both at 3 or more: a ticket, not a page", rates(d1=3.5, h2=4, h6=4, h1=4, m5=4),
         [("1d/2h", "warning")]),
    Burn("slow leak", "3 d and 6 h at 1 or more: a ticket", rates(d3=1.2, h6=1.5), [("3d/6h", "warning")]),
    Burn("everything", "a hard outage fires every rule, each its own alert",
         rates(m5=1000, m30=1000, h1=1000, h2=1000, h6=1000, d1=1000, d3=1000),
         [("1h/5m", "critical"), ("6h/30m", "critical"), ("1d/2h", "warning"), ("3d/6h", "warning")]),
    Burn("no eligible time", "a window without eligible time has no burn rate and fires nothing",
         rates(h1=None, m5=50), []),
    Burn("a week's page", "weekly: 1 h and 5 m at 3.36 page", rates(h1=3.4, m5=3.4), [("1h/5m", "critical")],
         WEEKLY),
]


@pytest.mark.parametrize("case", BURNS, ids=lambda c: c.name)
def test_burn_alerts(case: Burn) -> None:
    alerts = burn_alerts("api-up", case.rates, NOMINAL_SECONDS[case.period], 0.42, NOW)
    assert [(a.labels["window"], a.labels["severity"]) for a in alerts] == case.fired, case.why
    for alert in alerts:
        assert alert.labels["alertname"] == ALERTNAME and alert.labels["slo"] == "api-up"
        assert alert.since == NOW
        assert "42.0% of the period's error budget left" in alert.annotations["description"]


def test_burn_alert_says_the_rates() -> None:
    (alert,) = burn_alerts("api-up", rates(h1=15, m5=20), NOMINAL_SECONDS[MONTHLY], None, NOW)
    assert alert.annotations["summary"] == "SLO api-up is spending its error budget 15.0 times as fast as it may"
    assert alert.annotations["description"] == ("burn rate 15.00 over 1h and 20.00 over 5m, both at least 14.40; "
                                                "unknown of the period's error budget left")


def test_short_windows_are_a_twelfth_of_the_long_ones() -> None:
    assert all(rule.short * 12 == rule.long for rule in RULES)
