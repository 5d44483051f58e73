"""The console's reads of the history store against a real SQLite file written by the real writer: several
metrics in one pass, downsampling, a host's series, a bucketed read over many hosts, records with limits."""

import time

import pytest

from fleetmon.hub.store import CheckRecord, Event, StateChange, Store

CPU, FS, CORE = "fleetmon_cpu_usage_ratio", "fleetmon_filesystem_usage_ratio", "fleetmon_cpu_core_usage_ratio"
# An hour boundary three hours ago: inside the raw window, minute buckets easy to name.
T0 = float(int(time.time() // 3600) * 3600 - 3 * 3600)


def sample(i: int, host: int = 0) -> dict:
    return {CPU: host + i / 100, FS: [[{"mount": "/"}, 0.5], [{"mount": "/data"}, 0.25 + i / 1000]],
            CORE: [[{"core": str(c)}, c + i / 100] for c in range(2)], "app_queue_bytes": [[{"target": "a"}, i]]}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    opened = Store(str(tmp_path_factory.mktemp("console-store") / "history.db"))
    opened.start()
    for i in range(60):  # 10 minutes at 10 s
        for h, host in enumerate(("srv-01", "srv-02", "srv-03")):
            opened.write_sample(host, 1, i + 1, T0 + 10 * i, sample(i, h))
    for i in range(5):
        opened.write_check(CheckRecord("srv-01", T0 + i, "web" if i % 2 else "ssh", bool(i % 3), None, f"run {i}"))
        opened.write_event(Event("srv-01", T0 + i, "reload", f"reload {i}", {}))
        opened.write_state_change(StateChange("srv-01", T0 + i, "online", "silent", f"change {i}"))
    opened.flush()
    yield opened
    opened.close()


@pytest.mark.parametrize("tier", ["raw", "1m", "1h"])
def test_one_pass_over_many_metrics_answers_what_one_query_per_metric_does(store, tier):
    many = store.query_many("srv-01", [CPU, FS, CORE], {}, T0, T0 + 600, tier)
    one_by_one = [series for metric in (CPU, FS, CORE) for series in store.query("srv-01", metric, {}, T0, T0 + 600,
                                                                                  tier)]
    assert many == one_by_one
    assert [(s.name, s.labels) for s in many] == [(CPU, {}), (FS, {"mount": "/"}), (FS, {"mount": "/data"}),
                                                  (CORE, {"core": "0"}), (CORE, {"core": "1"})]


def test_matchers_apply_to_every_metric_and_unknown_ones_are_absent(store):
    found = store.query_many("srv-01", [FS, CORE, "nothing"], {"mount": "/data"}, T0, T0 + 600, "raw")
    assert [(s.name, s.labels) for s in found] == [(FS, {"mount": "/data"})]
    assert store.query_many("nowhere", [CPU], {}, T0, T0 + 600, "raw") == []


def test_raw_points_are_downsampled_to_max_points_with_min_avg_and_max(store):
    raw = store.query_many("srv-02", [CPU], {}, T0, T0 + 600, "raw", max_points=60)
    assert len(raw[0].points) == 60 and len(raw[0].points[0]) == 2  # 60 samples: nothing to do
    thinned = store.query_many("srv-02", [CPU], {}, T0, T0 + 600, "raw", max_points=10)
    points = thinned[0].points
    assert len(points) <= 10 and all(len(p) == 4 for p in points)
    values = [1 + i / 100 for i in range(60)]  # srv-02 is host 1
    assert points[0][1] == pytest.approx(values[0]) and points[-1][3] == pytest.approx(values[-1])
    assert sum(p[2] for p in points) / len(points) == pytest.approx(sum(values) / len(values), rel=0.02)


def test_minute_points_are_min_avg_max_and_downsampled_by_whole_minutes(store):
    minutes = store.query_many("srv-01", [CPU], {}, T0, T0 + 599, "1m", max_points=600)[0].points
    assert [p[0] for p in minutes] == [T0 + 60 * m for m in range(10)]
    assert minutes[0] == pytest.approx((T0, 0.0, 0.025, 0.05))  # samples 0..5 of srv-01: 0.00 .. 0.05
    wide = store.query_many("srv-01", [CPU], {}, T0, T0 + 599, "1m", max_points=4)[0].points
    assert len(wide) <= 4 and all((p[0] - T0) % 60 == 0 for p in wide)
    assert min(p[1] for p in wide) == pytest.approx(0.0) and max(p[3] for p in wide) == pytest.approx(0.59)


def test_max_points_below_two_and_unknown_tiers_are_refused(store):
    with pytest.raises(ValueError, match="max_points"):
        store.query_many("srv-01", [CPU], {}, T0, T0 + 60, "raw", max_points=1)
    with pytest.raises(ValueError, match="unknown tier"):
        store.query_many("srv-01", [CPU], {}, T0, T0 + 60, "5m")


def test_a_hosts_series_are_listed_with_their_labels(store):
    assert store.series("srv-03") == [("app_queue_bytes", {"target": "a"}), (CORE, {"core": "0"}),
                                      (CORE, {"core": "1"}), (CPU, {}), (FS, {"mount": "/"}),
                                      (FS, {"mount": "/data"})]
    assert store.series("nowhere") == []
    assert store.knows("srv-03") and not store.knows("nowhere")


def test_a_bucketed_read_over_many_hosts_sums_and_keeps_the_last_reading(store):
    tier, found = store.bucketed(["srv-01", "srv-03", "nowhere"], [CPU], T0, T0 + 600, 5, tier="raw")
    assert tier == "raw"
    assert [(s.host, s.name) for s in found] == [("srv-01", CPU), ("srv-03", CPU)]
    srv03 = found[1].buckets
    assert sorted(srv03) == [0, 1, 2, 3, 4]
    total, count, last_ts, last = srv03[0]  # samples 0..11 (the first 120 s) of host 2
    assert (count, last_ts) == (12, T0 + 110) and total == pytest.approx(sum(2 + i / 100 for i in range(12)))
    assert last == pytest.approx(2.11)
    minute_tier, from_minutes = store.bucketed(["srv-01", "srv-03"], [CPU], T0, T0 + 600, 5)
    assert minute_tier == "1m"  # 120 s buckets: minutes fit
    assert from_minutes[1].buckets[0][:2] == pytest.approx(srv03[0][:2])  # the same sums and counts


def test_records_are_the_newest_within_the_limit_oldest_first(store):
    assert [c.message for c in store.checks("srv-01", T0, T0 + 10, limit=3)] == ["run 2", "run 3", "run 4"]
    assert [e.message for e in store.events("srv-01", T0, T0 + 10, limit=2)] == ["reload 3", "reload 4"]
    assert len(store.events("srv-01", T0, T0 + 10)) == 5
    assert [c.reason for c in store.state_changes("srv-01", T0 + 1, T0 + 2)] == ["change 1", "change 2"]
