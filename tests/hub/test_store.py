"""The hub's history store against real SQLite files: tiers, back-fill, dedupe, retention, restart."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetmon.hub.store import (
    HOUR,
    MINUTE,
    RAW,
    AlertRecord,
    CheckRecord,
    Event,
    StateChange,
    Store,
    StoreConfig,
)
from fleetmon.hub.store.codec import aggregate_at, pack_aggregates, unpack_aggregates
from fleetmon.hub.store.rollup import RollupBuffer, hours, merge

ROOT = Path(__file__).resolve().parent.parent.parent
CPU, FS = "fleetmon_cpu_usage_ratio", "fleetmon_filesystem_usage_ratio"
# An hour boundary three hours ago: inside the raw window, and minute/hour buckets are easy to name.
T0 = float(int(time.time() // 3600) * 3600 - 3 * 3600)


def sample(cpu: float, root: float, data: float = 0.5) -> dict:
    return {CPU: cpu, FS: [[{"mount": "/", "device": "/dev/sda1"}, root], [{"mount": "/data", "device": "/dev/sdb1"},
                                                                          data]]}


@pytest.fixture
def store(tmp_path):
    opened = Store(str(tmp_path / "hub.db"))
    opened.start()
    yield opened
    opened.close()


def same_points(actual, expected) -> bool:
    """Point lists equal up to float rounding (avg is sum / count)."""
    return (len(actual) == len(expected)
            and all(a == pytest.approx(e) for got, want in zip(actual, expected, strict=True)
                    for a, e in zip(got, want, strict=True)))


def test_three_hosts_raw_and_rollups_match_hand_computed_values(store):
    for h, host in enumerate(("srv-01", "srv-02", "jetson-01")):
        # two minutes of 20 s samples: cpu 0.1, 0.2, ... per host offset
        for i in range(6):
            store.write_sample(host, 1, i + 1, T0 + 20 * i, sample(cpu=h + 0.1 * (i + 1), root=0.4 + 0.01 * i))
    store.flush()
    assert store.counters.samples_written == 18
    assert store.hosts() == ["jetson-01", "srv-01", "srv-02"]
    assert store.series_names("srv-02") == [CPU, FS]

    raw = store.query("srv-02", CPU, {}, T0, T0 + 300, tier=RAW)
    assert [s.tier for s in raw] == [RAW]
    assert same_points(raw[0].points, [(T0 + 20 * i, 1 + 0.1 * (i + 1)) for i in range(6)])

    minute = store.query("srv-02", CPU, {}, T0, T0 + 300, tier=MINUTE)[0].points
    # minute 0: 1.1, 1.2, 1.3; minute 1: 1.4, 1.5, 1.6  ->  (bucket, min, avg, max)
    assert same_points(minute, [(T0, 1.1, 1.2, 1.3), (T0 + 60, 1.4, 1.5, 1.6)])
    hour = store.query("jetson-01", CPU, {}, T0, T0 + 300, tier=HOUR)[0].points
    assert same_points(hour, [(T0, 2.1, 2.35, 2.6)])

    root = store.query("srv-01", FS, {"mount": "/"}, T0, T0 + 300, tier=MINUTE)
    assert len(root) == 1 and root[0].labels == {"mount": "/", "device": "/dev/sda1"}
    assert same_points(root[0].points, [(T0, 0.40, 0.41, 0.42), (T0 + 60, 0.43, 0.44, 0.45)])
    both = store.query("srv-01", FS, {}, T0, T0 + 300, tier=HOUR)
    assert [s.labels["mount"] for s in both] == ["/", "/data"]
    assert store.query("srv-01", FS, {"mount": "/nope"}, T0, T0 + 300) == []
    assert store.query("unknown-host", CPU, {}, T0, T0 + 300) == []


def test_backfill_lands_in_time_order_and_updates_written_buckets(store):
    for seq, offset in ((3, 0), (4, 30), (5, 90)):
        store.write_sample("srv-01", 2, seq, T0 + offset, sample(cpu=0.5, root=0.4))
    store.flush()  # minute and hour buckets are on disk now
    # samples taken while the broker was away arrive later, on the backfill topic
    store.write_sample("srv-01", 2, 1, T0 + 10, sample(cpu=0.1, root=0.4), backfill=True)
    store.write_sample("srv-01", 2, 2, T0 + 70, sample(cpu=0.9, root=0.4), backfill=True)
    store.flush()

    raw = store.query("srv-01", CPU, {}, T0, T0 + 120, tier=RAW)[0].points
    assert [ts - T0 for ts, _ in raw] == [0, 10, 30, 70, 90]
    minute = store.query("srv-01", CPU, {}, T0, T0 + 120, tier=MINUTE)[0].points
    assert same_points(minute, [(T0, 0.1, (0.5 + 0.1 + 0.5) / 3, 0.5), (T0 + 60, 0.5, 0.7, 0.9)])
    hour = store.query("srv-01", CPU, {}, T0, T0 + 120, tier=HOUR)[0].points
    assert same_points(hour, [(T0, 0.1, 2.5 / 5, 0.9)])
    assert store.counters.samples_backfilled == 2


def test_a_sample_delivered_twice_is_counted_once(tmp_path):
    path = str(tmp_path / "hub.db")
    store = Store(path)
    store.start()
    store.write_sample("srv-01", 1, 1, T0, sample(cpu=0.2, root=0.4))
    store.write_sample("srv-01", 1, 1, T0, sample(cpu=0.2, root=0.4))  # same batch
    store.write_sample("srv-01", 1, 2, T0 + 10, sample(cpu=0.4, root=0.4))
    store.flush()
    store.write_sample("srv-01", 1, 2, T0 + 10, sample(cpu=0.4, root=0.4))  # a later batch
    store.flush()
    store.close()
    store = Store(path)  # and after a restart (QoS 1 redelivery to a restarted hub)
    store.start()
    store.write_sample("srv-01", 1, 1, T0, sample(cpu=0.2, root=0.4))
    store.write_sample("srv-01", 1, 3, T0 + 20, sample(cpu=0.6, root=0.4))
    store.flush()
    assert store.counters.samples_duplicate == 1 and store.counters.samples_written == 1
    assert len(store.query("srv-01", CPU, {}, T0, T0 + 60, tier=RAW)[0].points) == 3
    found = store.query("srv-01", CPU, {}, T0, T0 + 60, tier=MINUTE)[0].points
    assert same_points(found, [(T0, 0.2, 0.4, 0.6)])
    store.close()


def test_retention_prune_drops_each_tier_at_its_own_age(tmp_path):
    config = StoreConfig(raw_window=3600, minute_retention=86400, hour_retention=7 * 86400,
                         record_retention=2 * 86400)
    store = Store(str(tmp_path / "hub.db"), config)
    store.start()
    now = T0
    ages = {"2h": 2 * 3600, "2d": 2 * 86400 + 60, "10d": 10 * 86400, "10m": 600}
    for seq, age in enumerate(ages.values(), start=1):
        store.write_sample("srv-01", 1, seq, now - age, sample(cpu=seq, root=0.4))
        store.write_check(CheckRecord("srv-01", now - age, "web", True, 0.01, "ok"))
    store.flush()
    store.prune(now=now)

    def kept(tier, start):
        found = store.query("srv-01", CPU, {}, start, now, tier=tier)
        return sorted(round(now - p[0]) for p in found[0].points) if found else []

    week = now - 30 * 86400
    assert kept(RAW, week) == [600]  # raw window 1 h
    assert [a // 60 * 60 for a in kept(MINUTE, week)] == [600, 7200]  # minute tier 1 day
    assert len(kept(HOUR, week)) == 3  # hour tier 7 days: the 10-day-old hour is gone
    assert [round(now - c.ts) for c in store.check_history("srv-01", "web", week, now)] == [7200, 600]
    store.close()


def test_restart_keeps_history_and_resumes_open_buckets(tmp_path):
    path = str(tmp_path / "hub.db")
    store = Store(path)
    store.start()
    store.write_sample("srv-01", 1, 1, T0, sample(cpu=0.2, root=0.4))
    store.write_state_change(StateChange("srv-01", T0, "missing", "online", "birth"))
    store.flush()
    before = store.query("srv-01", FS, {}, T0, T0 + 60, tier=RAW)
    store.close()

    store = Store(path)
    store.start()
    assert store.query("srv-01", FS, {}, T0, T0 + 60, tier=RAW) == before
    assert store.latest_state_changes("srv-01", 5)[0].to_state == "online"
    store.write_sample("srv-01", 1, 2, T0 + 30, sample(cpu=0.6, root=0.4))  # same minute as before the restart
    store.flush()
    found = store.query("srv-01", CPU, {}, T0, T0 + 60, tier=MINUTE)[0].points
    assert same_points(found, [(T0, 0.2, 0.4, 0.6)])
    store.close()


# Not store.flush(): it would merge the aggregates into the tiers, which the crash must find undone. The
# child then waits for its stdin to close (the test kills it first; a test that dies takes it along).
CRASHING_WRITER = textwrap.dedent("""
    import sys
    from fleetmon.hub.store import Store, StoreConfig
    from tests.polling import wait_until
    store = Store(sys.argv[1], StoreConfig(rollup_interval=3600, flush_interval=0.05))
    store.start()
    t0 = float(sys.argv[2])
    for i in range(6):
        store.write_sample("srv-01", 1, i + 1, t0 + 20 * i, {"fleetmon_cpu_usage_ratio": 0.1 * (i + 1)})
    wait_until(lambda: store.counters.samples_written >= 6, timeout=30, message="the six raw rows committed")
    print("written", flush=True)
    sys.stdin.read()
""")


def test_aggregates_survive_a_crash_before_the_rollup_pass(tmp_path):
    path = str(tmp_path / "hub.db")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT / "agent"), str(ROOT)))}
    child = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, path, str(T0)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdin.close()
    store = Store(path)
    store.start()  # raw rows committed, aggregates were only in the killed process's memory
    found = store.query("srv-01", CPU, {}, T0, T0 + 120, tier=MINUTE)[0].points
    assert same_points(found, [(T0, 0.1, 0.2, 0.3), (T0 + 60, 0.4, 0.5, 0.6)])
    store.close()
    store = Store(path)  # a second restart counts nothing twice
    store.start()
    found = store.query("srv-01", CPU, {}, T0, T0 + 120, tier=HOUR)[0].points
    assert same_points(found, [(T0, 0.1, 0.35, 0.6)])
    store.close()


def test_query_without_a_tier_picks_one(store):
    now = time.time()
    store.write_sample("srv-01", 1, 1, now - 60, sample(cpu=0.3, root=0.4))
    store.flush()
    assert [s.tier for s in store.query("srv-01", CPU, {}, now - 3600, now)] == [RAW]
    assert [s.tier for s in store.query("srv-01", CPU, {}, now - 86400, now)] == [MINUTE]
    assert [s.tier for s in store.query("srv-01", CPU, {}, now - 7 * 86400, now)] == [HOUR]
    with pytest.raises(ValueError, match="unknown tier"):
        store.query("srv-01", CPU, {}, now - 60, now, tier="5m")


def test_malformed_metrics_are_skipped_and_counted(store):
    metrics = {
        CPU: 0.25,
        "bad_string": "high",
        "bad_bool": True,
        "bad_object": {"a": 1},
        FS: [[{"mount": "/"}, 0.4], [{"mount": "/x"}], "pair", [{"mount": ["nested"]}, 1.0], [{"mount": "/y"}, "1"],
             [{"mount": "/z"}, float("inf")], [{"mount": "/big"}, 10**400], [{"mount": "/"}, 0.9]],  # repeats "/"
    }
    store.write_sample("srv-01", 1, 1, T0, metrics)
    store.write_sample("srv-01", 1, 2, "yesterday", {CPU: 0.5})
    store.write_sample("srv-01", 1, 3, T0 + 1, ["not", "an", "object"])
    store.write_sample("srv-01", 1, 4, T0 + 2, {CPU: 0.75})
    store.flush()
    assert store.running
    assert store.counters.samples_written == 2
    assert store.counters.samples_malformed == 2
    assert store.counters.series_malformed == 10
    assert store.query("srv-01", FS, {}, T0, T0 + 10, tier=RAW)[0].points == [(T0, 0.4)]
    found = store.query("srv-01", CPU, {}, T0, T0 + 10, tier=MINUTE)[0].points
    assert same_points(found, [(T0, 0.25, 0.5, 0.75)])


def test_samples_given_as_received_bytes_are_decoded_by_the_writer(store):
    from fleetmon.protocol import messages

    payload = messages.encode(messages.metrics("srv-01", 1, 1, T0, 1.0, 0.01, sample(cpu=0.3, root=0.4), {}))
    store.write_sample("srv-01", 1, 1, T0, payload)
    store.write_sample("srv-01", 1, 2, T0 + 1, b"{not json")
    store.write_sample("srv-01", 1, 3, T0 + 2, b'{"v": 1}')
    store.flush()
    assert store.counters.samples_written == 1 and store.counters.samples_malformed == 2
    assert store.query("srv-01", CPU, {}, T0, T0 + 10, tier=RAW)[0].points == [(T0, 0.3)]


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path):
    store = Store(str(tmp_path / "hub.db"), StoreConfig(queue_size=2))
    # not started yet: nothing drains the queue
    assert store.write_sample("srv-01", 1, 1, T0, {CPU: 0.1})
    assert store.write_sample("srv-01", 1, 2, T0 + 10, {CPU: 0.2})
    assert not store.write_sample("srv-01", 1, 3, T0 + 20, {CPU: 0.3})
    assert not store.write_event(Event("srv-01", T0, "spool_dropped", "dropped 3", {"count": 3}))
    assert (store.counters.samples_dropped, store.counters.records_dropped) == (1, 1)
    store.start()
    store.flush()
    assert store.counters.samples_written == 2
    store.close()


def test_checks_events_state_changes_and_alerts_are_kept(store):
    store.write_check(CheckRecord("srv-01", T0, "web", False, 0.5, "HTTP 503"))
    store.write_check(CheckRecord("srv-01", T0 + 10, "web", True, 0.02, "HTTP 200"))
    store.write_check(CheckRecord("srv-01", T0 + 10, "db", True, None, "ok"))
    store.write_event(Event("srv-01", T0 + 5, "recovery_action", "restarted nginx", {"ok": True, "attempt": 1}))
    for i, (old, new) in enumerate((("missing", "online"), ("online", "offline"), ("offline", "online"))):
        store.write_state_change(StateChange("srv-01", T0 + i, old, new, "will" if new == "offline" else "birth"))
    labels = {"alertname": "HostDown", "host": "srv-01"}
    store.write_alert(AlertRecord("f1", labels, "firing", "2026-11-21T16:08:20Z", "0001-01-01T00:00:00Z", T0 + 1))
    store.write_alert(AlertRecord("f1", labels, "resolved", "2026-11-21T16:08:20Z", "2026-11-21T16:09:00Z", T0 + 2))
    store.write_alert(AlertRecord("f2", {"alertname": "X"}, "firing", "s", "e", T0 + 3, "fleet"))
    store.flush()

    web = store.check_history("srv-01", "web", T0, T0 + 60)
    assert [(c.ok, c.message) for c in web] == [(False, "HTTP 503"), (True, "HTTP 200")]
    assert store.check_history("srv-01", "db", T0, T0 + 60)[0].value is None
    assert store.events("srv-01", T0, T0 + 60)[0].details == {"ok": True, "attempt": 1}
    assert [c.to_state for c in store.latest_state_changes("srv-01", 2)] == ["online", "offline"]
    assert [(a.fingerprint, a.status) for a in store.latest_alerts()] == [("f1", "resolved"), ("f2", "firing")]
    assert store.latest_alerts()[0].labels == labels and store.latest_alerts()[1].source == "fleet"
    assert len(store.alert_history(T0, T0 + 60)) == 3


def test_flush_on_a_store_that_was_never_started_fails_loudly(tmp_path):
    with pytest.raises(RuntimeError, match="not running"):
        Store(str(tmp_path / "hub.db")).flush()


def test_a_file_of_another_schema_version_is_refused(tmp_path):
    import sqlite3

    path = str(tmp_path / "hub.db")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="version 99"):
        Store(path)


# -- the pure parts: packing and merging aggregates

aggregate = st.lists(st.floats(-1e12, 1e12), min_size=1, max_size=5).map(
    lambda values: (min(values), max(values), sum(values), len(values)))


@given(st.lists(aggregate, min_size=1, max_size=40), st.booleans(), st.booleans())
def test_packed_aggregates_read_back_exactly(aggregates, single, uniform):
    if single:
        aggregates = [(v, v, v, 1) for v, *_ in aggregates]
    elif uniform:
        aggregates = [(lo, hi, total, 7) for lo, hi, total, _ in aggregates]  # not a real aggregate, still packs
    blob = pack_aggregates(aggregates)
    assert unpack_aggregates(blob) == aggregates
    assert [aggregate_at(blob, i) for i in range(len(aggregates))] == aggregates


@given(st.lists(st.tuples(st.integers(0, 7199), st.floats(-1e6, 1e6)), min_size=1, max_size=60),
       st.integers(1, 5))
def test_aggregates_do_not_depend_on_arrival_order_or_on_how_they_were_split(values, parts):
    def aggregate(chunks):
        total: dict = {}
        for chunk in chunks:
            buffer = RollupBuffer()
            for ts, value in chunk:
                buffer.add(1, ts, [10], [value])
            for key, hour in hours(buffer.minutes.items()).items():
                merge(total.setdefault(key, {}), hour)
        return total

    at_once = aggregate([sorted(values)])
    in_pieces = aggregate([values[i::parts] for i in range(parts)])
    assert at_once.keys() == in_pieces.keys()
    for key, series in at_once.items():
        low, high, total, count = series[10]
        other = in_pieces[key][10]
        assert (low, high, count) == (other[0], other[1], other[3])
        assert total == pytest.approx(other[2], rel=1e-9, abs=1e-6)


# -- what end-to-end delivery relies on: positions, the durable position, what is already stored

def test_positions_count_every_queued_item_and_none_marks_a_drop(tmp_path):
    store = Store(str(tmp_path / "hub.db"), StoreConfig(queue_size=3))
    # not started yet: nothing drains the queue
    assert store.write_sample("srv-01", 1, 1, T0, {CPU: 0.1}) == 1
    assert store.write_check(CheckRecord("srv-01", T0, "web", True, 0.01, "ok")) == 2
    assert store.write_sample("srv-01", 1, 2, T0 + 10, {CPU: 0.2}) == 3
    assert store.write_sample("srv-01", 1, 3, T0 + 20, {CPU: 0.3}) is None
    assert store.durable_position == 0
    store.start()
    store.flush()
    assert store.durable_position == 3
    assert store.write_sample("srv-01", 1, 4, T0 + 30, {CPU: 0.4}) == 4
    store.close()


def test_the_durable_position_covers_malformed_items_once_they_are_settled(store):
    positions = [store.write_sample("srv-01", 1, 1, T0, {CPU: 0.1}),
                 store.write_sample("srv-01", 1, 2, "yesterday", {CPU: 0.2}),
                 store.write_sample("srv-01", 1, 3, T0 + 2, {CPU: 0.3})]
    store.flush()
    assert positions == [1, 2, 3]
    assert store.durable_position == 3
    assert store.counters.samples_written == 2 and store.counters.samples_malformed == 1


def test_recent_sequences_name_what_is_stored_per_host_and_session(store):
    for seq in (3, 1, 2, 7):
        store.write_sample("srv-01", 5, seq, T0 + seq, {CPU: 0.1})
    store.write_sample("srv-01", 6, 1, T0 + 8, {CPU: 0.1})
    store.write_sample("srv-02", 1, 9, T0 + 9, {CPU: 0.1})
    store.write_sample("srv-03", 1, 1, T0 - 100, {CPU: 0.1})  # older than asked for
    store.flush()
    assert store.recent_sequences(T0 + 2) == {"srv-01": {5: [2, 3, 7], 6: [1]}, "srv-02": {1: [9]}}
    assert store.recent_sequences(T0 + 10) == {}
