"""PredictedExhaustion on simulated traces: a disk filling with noise fires; flat, noisy, draining, slow or
too-short traces do not."""

import random
from datetime import datetime, timezone

from fleetmon.hub.model import OFFLINE, ONLINE, HostView
from fleetmon.hub.rules import SeriesHistory
from fleetmon.hub.rules.config import PredictiveRule
from fleetmon.hub.rules.predictive import predicted_exhaustion

NOW = 1_763_740_000.0
DISK = "fleetmon_filesystem_usage_ratio"
ROOT = {"mount": "/", "device": "/dev/nvme0n1p1", "fstype": "ext4"}
HOSTS = {"srv-01": HostView(host="srv-01", state=ONLINE, since=NOW - 86400, labels={"site": "lab"})}


def trace(start, per_hour, noise=0.0, hours=6.0, step_s=60.0, seed=1):
    """A gauge sampled every ``step_s`` for ``hours`` up to NOW: linear plus gaussian noise."""
    rng = random.Random(seed)
    count = int(hours * 3600 / step_s)
    return [(NOW - (count - i) * step_s + step_s, start + per_hour * (i * step_s / 3600) + rng.gauss(0, noise))
            for i in range(count)]


DEFAULT = PredictiveRule()


def predict(points, rule=DEFAULT, hosts=HOSTS, labels=ROOT, metric=DISK):
    return predicted_exhaustion([SeriesHistory("srv-01", metric, labels, points)], hosts, rule, NOW)


def test_a_disk_filling_linearly_with_noise_fires():
    # 60% six hours ago, +2 points an hour: ~72% now, full in ~14 h
    [alert] = predict(trace(0.60, 0.02, noise=0.005))
    assert alert.labels == {"alertname": "PredictedExhaustion", "severity": "warning", "host": "srv-01",
                            "site": "lab", "metric": DISK, **ROOT}
    hours_left = float(alert.annotations["hours_left"])
    assert 12.0 < hours_left < 16.0
    predicted_at = datetime.strptime(alert.annotations["predicted_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(predicted_at.replace(tzinfo=timezone.utc).timestamp() - (NOW + hours_left * 3600)) <= 360
    assert alert.annotations["slope_per_hour"] == "2.0%"
    assert float(alert.annotations["confidence"]) > 0.9
    assert alert.annotations["limit"] == "100.0%"


def test_a_flat_disk_does_not_fire():
    assert predict(trace(0.80, 0.0, noise=0.002)) == []


def test_noise_without_a_trend_does_not_fire():
    for seed in range(20):
        assert predict(trace(0.85, 0.0, noise=0.05, seed=seed)) == [], seed


def test_a_draining_disk_does_not_fire():
    assert predict(trace(0.95, -0.02, noise=0.005)) == []


def test_a_slow_fill_beyond_the_horizon_does_not_fire_until_the_horizon_is_longer():
    slow = trace(0.50, 0.005)  # 53% now, full in ~94 h
    assert predict(slow) == []
    assert len(predict(slow, PredictiveRule(horizon_s=5 * 86400.0))) == 1


def test_a_burst_of_minutes_predicts_nothing():
    assert predict(trace(0.50, 1.0, hours=0.25, step_s=10)) == []  # steep, but only 15 minutes of it


def test_too_few_points_predict_nothing():
    assert predict(trace(0.60, 0.05, step_s=3600)) == []  # 6 hourly points < min_points 12


def test_log_rotation_sawtooth_does_not_fire():
    points = [(ts, 0.70 + 0.10 * ((ts % 3600) / 3600)) for ts, _ in trace(0, 0)]
    assert predict(points) == []


def test_points_outside_the_window_are_ignored():
    old_growth = [(ts - 7 * 3600, value) for ts, value in trace(0.2, 0.1)]  # filled fast, a day ago
    assert predict(old_growth + trace(0.80, 0.0)) == []


def test_the_limit_is_configurable():
    rising = trace(0.30, 0.02, noise=0.002)  # 42% now
    assert predict(rising) == []
    assert len(predict(rising, PredictiveRule(limit=0.8))) == 1


def test_memory_without_labels_fires_too_and_other_metrics_are_ignored():
    rising = trace(0.60, 0.03, noise=0.003)
    [alert] = predict(rising, labels={}, metric="fleetmon_memory_usage_ratio")
    assert alert.labels["metric"] == "fleetmon_memory_usage_ratio"
    assert predict(rising, labels={}, metric="fleetmon_swap_usage_ratio") == []


def test_offline_and_unknown_hosts_are_skipped():
    rising = trace(0.60, 0.02)
    offline = {"srv-01": HostView(host="srv-01", state=OFFLINE, since=NOW - 60, reason="will")}
    assert predict(rising, hosts=offline) == []
    assert predict(rising, hosts={}) == []
