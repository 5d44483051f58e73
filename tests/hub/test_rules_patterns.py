"""Patterns across hosts on synthetic fleets: cascading failure, resource trend, load imbalance, heartbeat."""

import random

from fleetmon.hub.model import MISSING, OFFLINE, ONLINE, SILENT, HostView
from fleetmon.hub.rules import ActiveAlerts, RulesConfig, SeriesHistory, evaluate
from fleetmon.hub.rules.config import CascadingFailureRule, HeartbeatRule, LoadImbalanceRule, ResourceTrendRule
from fleetmon.hub.rules.patterns import cascading_failure, heartbeat_degraded, load_imbalance, resource_trend

NOW = 1_763_740_000.0
CPU = "fleetmon_cpu_usage_ratio"
MEMORY = "fleetmon_memory_usage_ratio"


def host(name, state=ONLINE, since=NOW - 3600, groups=("rack-a",), reason="", labels=None, **kw):
    labels = {"site": "lab", "name": name} if labels is None else labels
    return HostView(host=name, state=state, since=since, groups=groups, labels=labels, reason=reason, **kw)


def rack(count, prefix="a"):
    return [host(f"{prefix}{i:02d}") for i in range(count)]


def dead(view, at, state=OFFLINE, reason="will"):
    return HostView(host=view.host, state=state, since=at, groups=view.groups, labels=view.labels, reason=reason)


# -- cascading failure ---------------------------------------------------------------------------------------


def test_several_hosts_of_a_group_failing_together_fire_one_alert_for_the_group():
    fleet = rack(10)
    fleet[1], fleet[4], fleet[7] = dead(fleet[1], NOW - 30), dead(fleet[4], NOW - 20, SILENT, ""), \
        dead(fleet[7], NOW - 10)
    [alert] = cascading_failure(fleet, CascadingFailureRule())
    assert alert.labels == {"alertname": "CascadingFailure", "severity": "critical", "group": "rack-a",
                            "site": "lab"}  # the labels every host shares, not each host's own
    assert alert.annotations["hosts"] == "a01, a04, a07"
    assert alert.annotations["count"] == "3"
    assert alert.since == NOW - 10  # the third failure crossed min_hosts
    # 3 of 10, spread 20 s of a 300 s window: (1 - 20/600) x max(0.3, 1 - 1/3)
    assert alert.annotations["confidence"] == f"{(1 - 20 / 600) * (2 / 3):.2f}"


def test_failures_spread_over_more_than_the_window_are_not_a_cascade():
    fleet = rack(10)
    for i, index in enumerate((1, 4, 7)):
        fleet[index] = dead(fleet[index], NOW - i * 400)
    assert cascading_failure(fleet, CascadingFailureRule()) == []


def test_half_of_a_small_group_is_a_cascade_but_one_host_never_is():
    pair = rack(2)
    pair[0] = dead(pair[0], NOW)
    assert cascading_failure(pair, CascadingFailureRule()) == []
    four = rack(4)
    four[0], four[1] = dead(four[0], NOW - 5), dead(four[1], NOW)
    [alert] = cascading_failure(four, CascadingFailureRule())
    assert alert.annotations["hosts"] == "a00, a01"


def test_clean_shutdowns_are_maintenance_not_a_cascade():
    fleet = rack(5)
    fleet = [dead(view, NOW, reason="shutdown") for view in fleet[:4]] + fleet[4:]
    assert cascading_failure(fleet, CascadingFailureRule()) == []


def test_only_the_failing_group_alerts():
    fleet = rack(4, "a") + [host(f"b{i}", groups=("rack-b",)) for i in range(4)]
    fleet[0:3] = [dead(view, NOW - 1) for view in fleet[0:3]]
    assert [a.labels["group"] for a in cascading_failure(fleet, CascadingFailureRule())] == ["rack-a"]


def test_missing_hosts_do_not_dilute_the_group():
    fleet = rack(2) + [host(f"m{i}", MISSING) for i in range(6)]
    fleet[0:2] = [dead(view, NOW) for view in fleet[0:2]]
    [alert] = cascading_failure(fleet, CascadingFailureRule())
    assert alert.annotations["group_size"] == "2"


def test_a_cascade_fires_once_and_resolves_when_the_hosts_return():
    config = RulesConfig()
    fleet = rack(6)
    active = ActiveAlerts()
    assert active.update(evaluate(config, fleet, [], NOW - 100), NOW - 100) == []
    failed = [dead(view, NOW - 3 + i) for i, view in enumerate(fleet[:4])] + fleet[4:]
    fired = [a for a in active.update(evaluate(config, failed, [], NOW), NOW)
             if a["labels"]["alertname"] == "CascadingFailure"]
    assert [a["status"] for a in fired] == ["firing"]
    assert active.update(evaluate(config, failed, [], NOW + 60), NOW + 60) == []
    back = [a for a in active.update(evaluate(config, fleet, [], NOW + 120), NOW + 120)
            if a["labels"]["alertname"] == "CascadingFailure"]
    assert [(a["status"], a["fingerprint"]) for a in back] == [("resolved", fired[0]["fingerprint"])]


# -- resource trend ------------------------------------------------------------------------------------------


def memory(name, per_hour, start=0.4, noise=0.003, seed=0):
    rng = random.Random(f"{name}{seed}")
    points = [(NOW - 6 * 3600 + i * 60, start + per_hour * i / 60 + rng.gauss(0, noise)) for i in range(1, 361)]
    return SeriesHistory(name, MEMORY, {}, points)


def test_most_of_a_group_leaking_memory_fires_a_fleet_trend():
    fleet = rack(5)
    series = [memory(v.host, 0.03) for v in fleet[:4]] + [memory(fleet[4].host, 0.0)]
    [alert] = resource_trend(series, fleet, ResourceTrendRule(), NOW)
    assert alert.labels == {"alertname": "FleetResourceTrend", "severity": "warning", "group": "rack-a",
                            "metric": MEMORY, "site": "lab"}
    assert alert.annotations["hosts"] == "a00, a01, a02, a03"
    assert alert.annotations["fraction"] == "0.80"
    assert 0.7 < float(alert.annotations["confidence"]) <= 0.8


def test_a_trend_on_a_minority_or_on_too_few_hosts_does_not_fire():
    fleet = rack(8)
    minority = [memory(v.host, 0.03) for v in fleet[:3]] + [memory(v.host, 0.0) for v in fleet[3:]]
    assert resource_trend(minority, fleet, ResourceTrendRule(), NOW) == []
    pair = rack(2)
    assert resource_trend([memory(v.host, 0.03) for v in pair], pair, ResourceTrendRule(), NOW) == []


def test_a_shallow_or_noisy_rise_is_no_trend():
    fleet = rack(4)
    shallow = [memory(v.host, 0.002) for v in fleet]
    assert resource_trend(shallow, fleet, ResourceTrendRule(), NOW) == []
    noisy = [memory(v.host, 0.0, noise=0.05) for v in fleet]
    assert resource_trend(noisy, fleet, ResourceTrendRule(), NOW) == []


# -- load imbalance ------------------------------------------------------------------------------------------


def loaded(values, **kw):
    return [host(f"a{i:02d}", metrics={CPU: value}, **kw) for i, value in enumerate(values)]


def test_uneven_cpu_in_a_group_names_the_hottest_and_coldest_hosts():
    [alert] = load_imbalance(loaded([0.95, 0.9, 0.1, 0.05, 0.1]), LoadImbalanceRule(), NOW)
    assert alert.labels == {"alertname": "LoadImbalance", "severity": "warning", "group": "rack-a", "site": "lab"}
    assert alert.annotations["hottest"] == "a00 (95.0%)"
    assert alert.annotations["coldest"] == "a03 (5.0%)"
    assert 0 < float(alert.annotations["confidence"]) <= 1
    assert alert.for_s == 600.0  # one sample's CPU is noisy: it must persist


def test_even_idle_or_small_groups_are_not_imbalanced():
    assert load_imbalance(loaded([0.5, 0.55, 0.6, 0.45]), LoadImbalanceRule(), NOW) == []
    assert load_imbalance(loaded([0.10, 0.01, 0.0, 0.02]), LoadImbalanceRule(), NOW) == []  # mean below 20%
    assert load_imbalance(loaded([0.95, 0.05]), LoadImbalanceRule(), NOW) == []


def test_load_imbalance_counts_only_online_hosts_that_report_the_metric():
    three = loaded([0.9, 0.1, 0.5])
    assert len(load_imbalance(three, LoadImbalanceRule(min_hosts=3), NOW)) == 1
    offline = HostView(host="a08", state=OFFLINE, since=NOW, groups=("rack-a",), metrics={CPU: 0.0}, reason="will")
    fleet = [*three, host("a09"), offline]  # a09 reports no CPU
    assert load_imbalance(fleet, LoadImbalanceRule(min_hosts=4), NOW) == []


# -- heartbeat degradation -----------------------------------------------------------------------------------


def beating(gaps, interval=10.0, state=ONLINE):
    return host("jetson-03", state, interval_s=interval, gaps=tuple(gaps), groups=())


def test_gaps_that_stay_late_fire_heartbeat_degraded():
    [alert] = heartbeat_degraded([beating([10, 10, 10, 10, 25, 30, 22, 28])], HeartbeatRule(), NOW)
    assert alert.labels == {"alertname": "HeartbeatDegraded", "severity": "warning", "host": "jetson-03",
                            "site": "lab", "name": "jetson-03"}
    assert alert.annotations["evidence"] == "median"
    assert alert.annotations["confidence"] == "1.00"


def test_steadily_growing_gaps_fire_before_the_median_is_late():
    gaps = [10, 10.5, 11, 11.5, 12, 12.5, 13, 13.5, 14, 15, 15.5, 16.5]
    [alert] = heartbeat_degraded([beating(gaps)], HeartbeatRule(), NOW)
    assert alert.annotations["evidence"] == "trend"


def test_jitter_and_one_lost_sample_are_healthy():
    rng = random.Random(3)
    jitter = [10 + rng.uniform(-0.5, 0.5) for _ in range(30)]
    assert heartbeat_degraded([beating(jitter)], HeartbeatRule(), NOW) == []
    assert heartbeat_degraded([beating([10] * 10 + [20] + [10] * 5)], HeartbeatRule(), NOW) == []


def test_heartbeat_needs_enough_gaps_and_an_online_host():
    assert heartbeat_degraded([beating([30, 30, 30])], HeartbeatRule(), NOW) == []
    assert heartbeat_degraded([beating([30] * 10, state=SILENT)], HeartbeatRule(), NOW) == []


def test_the_late_threshold_scales_with_the_hosts_interval():
    assert heartbeat_degraded([beating([30] * 10, interval=30.0)], HeartbeatRule(), NOW) == []
    assert len(heartbeat_degraded([beating([30] * 10, interval=10.0)], HeartbeatRule(), NOW)) == 1
