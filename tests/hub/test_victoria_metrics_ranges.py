"""The console's long-range host charts (6 h, 3 days, 7 days: the minute and hour tiers) read from a real
VictoriaMetrics (Debian's, its search flags as installed) through history.remote_read, against what the
hub's own SQLite tiers answer for the same samples, and from SQLite again once VictoriaMetrics has stopped.

A simulated host back-fills three days of samples at its own past timestamps (as an agent does after an
outage) through a real mosquitto; the hub stores them and remote-writes them to VictoriaMetrics. Its
samples fall on whole seconds, so every minute starts with one (the bucket boundary a range query gets
wrong unless it is shifted), and it was silent twice: 40 minutes inside the 6 h window and 5 hours inside
the 3-day one, each starting and ending mid-minute (buckets of fewer samples, which a thinned chart must
weigh by their counts).
"""

import itertools
import math
import random
import shutil
import sqlite3
import time
import urllib.request
from urllib.parse import urlencode

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.hub.store.downsample import bucket_width
from fleetmon.hub.store.query import Reader
from fleetmon.protocol.topics import host_topics
from fleetmon.simulate.fleet import build_fleet
from fleetmon.simulate.model import HostModel
from fleetmon.simulate.templates import SampleTemplate
from tests.hub.conftest import HubProcess
from tests.hub.test_victoria_metrics import VICTORIA_METRICS, VictoriaMetrics
from tests.polling import wait_until

HOUR, DAY = 3600, 86400
INTERVAL = 30  # seconds between the host's samples: two in every minute, the first on the minute
CPU, CORES, FILESYSTEM = "fleetmon_cpu_usage_ratio", "fleetmon_cpu_core_usage_ratio", "fleetmon_filesystem_usage_ratio"
RECEIVED = "fleetmon_network_receive_bytes_total"  # a counter: the chart draws its rate between the points' means
# What one of the host page's query_range requests asks for (host.js: ~8 metrics a request).
METRICS = (CPU, CORES, "fleetmon_load1", "fleetmon_memory_used_bytes", FILESYSTEM, RECEIVED)
BATCH = 500  # back-filled samples published before the hub has taken them
MAX_POINTS = 600  # host.js asks for max(100, the chart's width in pixels) points
# VictoriaMetrics' query API prints 12 significant digits; a mean is its sum over its count.
TOLERANCE = 1e-9


@pytest.fixture
def victoria(tmp_path):
    if not shutil.which(VICTORIA_METRICS):
        pytest.fail("victoria-metrics is not installed: run `make deps`")
    # Its search flags as installed: the response cache on, the 30 s latency offset. The samples are minutes
    # old, flushed before the first read, and no read is asked twice.
    instance = VictoriaMetrics(tmp_path, flags=())
    yield instance
    instance.stop()


class Past:
    """Three days and an hour of one simulated host's samples, ending two minutes before the last whole
    minute, with its two silences: (ts, payload) in time order."""

    def __init__(self, now: float) -> None:
        spec = build_fleet(1, seed=3, jetson_share=0.0, host_prefix="vmr")[0]  # a server with 4 cores
        self.host, self.cores = spec.host, spec.cores
        self.end = math.floor(now / 60) * 60 - 120
        first = self.end - 3 * DAY - HOUR
        # [from, to): the host sent nothing. Mid-minute both ends; the first inside the 6 h window.
        self.silences = [(self.end - 3 * HOUR + 30, self.end - 2 * HOUR - 20 * 60 + 30),
                         (self.end - 40 * HOUR + 30, self.end - 35 * HOUR + 30)]
        model = HostModel(spec, first, INTERVAL, seed=3)
        template = SampleTemplate(self.host, int(first), INTERVAL, model.series())
        values = random.Random("vmr")
        self.samples: list[tuple[float, bytes]] = []
        seq = 0
        for ts in range(first, self.end, INTERVAL):
            stepped = model.step(values, ts - first, ts)
            if any(low <= ts < high for low, high in self.silences):
                continue
            seq += 1
            self.samples.append((float(ts), template.render(seq, ts, stepped[-1], [*stepped, 0])))

    def values(self, metric: str) -> list[tuple[float, float]]:
        """(ts, value) of an unlabelled metric, as published."""
        return [(ts, orjson.loads(payload)["metrics"][metric]) for ts, payload in self.samples]

    def buckets(self, width: int, start: float, end: float) -> list[int]:
        """The ``width``-second buckets overlapping ``start..end`` that hold samples."""
        return sorted({bucket for bucket in (int(ts // width) * width for ts, _ in self.samples)
                       if start - width < bucket <= end})


def back_fill(broker, hub, past: Past) -> None:
    """Every sample on the host's back-fill topic, QoS 1, a few hundred at a time: each batch confirmed by
    the broker and taken by the hub before the next (mosquitto queues at most 1,000 messages for a
    subscriber behind, and drops the rest; an agent back-fills at a bounded rate, spool.drain_rate)."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        topic = host_topics(past.host).backfill
        for first in range(0, len(past.samples), BATCH):
            batch = past.samples[first:first + BATCH]
            sent = [client.publish(topic, payload, qos=1) for _, payload in batch]
            for info in sent:
                info.wait_for_publish(30)
                assert info.is_published()
            taken = first + len(batch)
            wait_until(lambda taken=taken: (hub.metric("fleetmon_hub_backfill_samples_total") or 0) >= taken,
                       timeout=60, message=f"the hub taking the first {taken} back-filled samples")
    finally:
        client.loop_stop()
        client.disconnect()


def settled(hub, past: Past) -> int | None:
    """Series samples stored, once every sample is in SQLite's raw tier and counted in its minute and
    hour tiers; None before."""
    conn = sqlite3.connect(f"file:{hub.dir / 'history.db'}?mode=ro", uri=True, timeout=10)
    try:
        rows, values, newest = conn.execute("SELECT count(*), coalesce(sum(length(vals)), 0) / 8, "
                                            "coalesce(max(id), 0) FROM raw").fetchone()
        rolled = conn.execute("SELECT value FROM meta WHERE key = 'rollup_through'").fetchone()
    finally:
        conn.close()
    return values if rows == len(past.samples) and rolled and int(rolled[0]) >= newest else None


def chart(hub, host: str, start: float, end: float) -> dict:
    """The host chart's read, as host.js asks for it."""
    query = urlencode([("host", host), *(("metric", m) for m in METRICS), ("start", start), ("end", end),
                       ("max_points", MAX_POINTS)])
    with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/api/v1/query_range?{query}", timeout=60) as r:
        return orjson.loads(r.read())


def from_sqlite(hub, host: str, start: float, end: float, tier: str) -> list[dict]:
    """The same read from the hub's SQLite tiers, as the hub's own Store answers it without a long-term
    store (its read-only reader on the same file)."""
    reader = Reader(str(hub.dir / "history.db"))
    try:
        found = reader.query_many(host, METRICS, {}, start, end, tier, MAX_POINTS)
    finally:
        reader.close()
    return [{"name": s.name, "labels": s.labels, "points": [list(p) for p in s.points]} for s in found]


def identities(series: list[dict]) -> list[tuple]:
    return [(s["name"], s["labels"], [p[0] for p in s["points"]]) for s in series]


def values(series: list[dict]) -> list[float]:
    return [v for s in series for p in s["points"] for v in p[1:]]


def rates(points: list[list[float]]) -> list[tuple[float, float]]:
    """A counter's per-second rate between consecutive points' means, as host.js draws it."""
    return [(b[0], (b[2] - a[2]) / (b[0] - a[0])) for a, b in itertools.pairwise(points) if b[2] >= a[2]]


def one(series: list[dict], name: str, **labels: str) -> list[list[float]]:
    return next(s["points"] for s in series if s["name"] == name and all(s["labels"].get(k) == v
                                                                          for k, v in labels.items()))


def test_long_range_host_charts_read_from_victoria_metrics_match_the_sqlite_tiers(tmp_path, broker, victoria):
    hub = HubProcess(tmp_path, broker, {"history": {
        "rollup_interval": "1s",  # the tiers SQLite answers from are written within a second
        # Rows past the raw window (a day) are pruned every prune_interval; none is while the remote writer
        # may still have to send it.
        "prune_interval": "1h",
        "remote_write": {"url": f"{victoria.url}/api/v1/write", "batch_interval": "200ms",
                         "min_backoff": "100ms", "max_backoff": "1s"},
        "remote_read": {"url": victoria.url, "timeout": "30s"}}}).start()
    try:
        past = Past(time.time())
        back_fill(broker, hub, past)
        stored = wait_until(lambda: settled(hub, past), timeout=120, interval=0.5,
                            message="every back-filled sample in SQLite and in its tiers")
        wait_until(lambda: (hub.metric("fleetmon_hub_remote_write_samples_sent_total") or 0) >= stored
                   and hub.metric("fleetmon_hub_remote_write_queue_length") == 0, timeout=120, interval=0.5,
                   message="every stored sample sent to VictoriaMetrics")
        assert (hub.metric("fleetmon_hub_remote_write_samples_failed_total"),
                hub.metric("fleetmon_hub_remote_write_samples_dropped_total")) == (0, 0)
        with urllib.request.urlopen(f"{victoria.url}/internal/force_flush", timeout=10) as r:
            assert r.status == 200  # what VictoriaMetrics took is searchable now

        now = time.time()
        windows = {"6h": (now - 6 * HOUR, now, "1m", 60), "3d": (now - 3 * DAY, now, "1m", 60),
                   "7d": (now - 7 * DAY, now, "1h", HOUR)}
        answers = {}
        for name, (start, end, tier, step) in windows.items():
            answer = chart(hub, past.host, start, end)
            assert (answer["source"], answer["tier"]) == ("long_term", tier), name
            expected = from_sqlite(hub, past.host, start, end, tier)
            assert {s["name"] for s in expected} == set(METRICS), name
            # The same series at the same bucket starts as SQLite's tier, each point [start, min, mean, max] ...
            assert identities(answer["series"]) == identities(expected), name
            assert values(answer["series"]) == pytest.approx(values(expected), rel=TOLERANCE), name
            # ... at the buckets that hold samples and no other: a silence stays a gap, nothing carried into
            # it from the samples before. The 3-day read is thinned to MAX_POINTS buckets of whole minutes.
            minutes = past.buckets(step, start, end)
            width = step if len(minutes) <= MAX_POINTS else bucket_width(minutes[0], minutes[-1], MAX_POINTS, step)
            assert [p[0] for p in one(answer["series"], CPU)] == sorted({m // width * width for m in minutes}), name
            answers[name] = answer
        assert hub.metric("fleetmon_hub_long_term_reads_total") == 3
        assert hub.metric("fleetmon_hub_long_term_read_failures_total") == 0

        # The 6 h chart point by point from the published samples: its minutes, each sample on the minute in
        # its own bucket (not the one before), the band (min..max) and mean of each.
        six = one(answers["6h"]["series"], CPU)
        start = windows["6h"][0]
        published: dict[int, list[float]] = {}
        for ts, value in past.values(CPU):
            if start - 60 < ts // 60 * 60:
                published.setdefault(int(ts // 60 * 60), []).append(value)
        assert [p[0] for p in six] == sorted(published)
        assert [v for p in six for v in p[1:]] == pytest.approx(
            [a for _, v in sorted(published.items()) for a in (min(v), sum(v) / len(v), max(v))], rel=TOLERANCE)
        assert sum(1 for p in six if p[1] < p[3]) > 0.9 * len(six), "a band: two samples of a minute differ"
        assert sorted({len(v) for v in published.values()}) == [1, 2], "minutes cut by the silence hold one"
        quiet_from, quiet_to = past.silences[0]
        gap = [p[0] for p in six if quiet_from <= p[0] and p[0] + 60 <= quiet_to]
        assert gap == [] and any(p[0] == quiet_from // 60 * 60 for p in six) \
            and any(p[0] == quiet_to // 60 * 60 for p in six), "the line stops at the silence and goes on after"

        # The 7-day chart's hours around the 5-hour silence: the hours it covers whole are not there.
        hours = [p[0] for p in one(answers["7d"]["series"], CPU)]
        quiet_from, quiet_to = past.silences[1]
        assert [h for h in hours if quiet_from <= h and h + HOUR <= quiet_to] == []
        assert quiet_from // HOUR * HOUR in hours and quiet_to // HOUR * HOUR in hours

        # Labelled series (per core, per mount) and the counter's rate as the chart draws it.
        for name in ("6h", "3d", "7d"):
            sqlite_series = from_sqlite(hub, past.host, windows[name][0], windows[name][1], windows[name][2])
            got, want = rates(one(answers[name]["series"], RECEIVED)), rates(one(sqlite_series, RECEIVED))
            assert len(got) > 50 and [t for t, _ in got] == [t for t, _ in want]
            assert [r for _, r in got] == pytest.approx([r for _, r in want], rel=1e-6), name
            assert len([s for s in answers[name]["series"] if s["name"] == CORES]) == past.cores == 4
            assert one(answers[name]["series"], FILESYSTEM, mount="/")

        # VictoriaMetrics stops: the same charts come from SQLite, and say so.
        victoria.stop()
        for name, (start, end, tier, _) in windows.items():
            answer = chart(hub, past.host, start, end)
            assert (answer["source"], answer["tier"]) == ("sqlite", tier), name
            assert answer["series"] == from_sqlite(hub, past.host, start, end, tier), name
            assert identities(answer["series"]) == identities(answers[name]["series"]), name
        assert hub.metric("fleetmon_hub_long_term_read_failures_total") == 3
        assert hub.log.count("long-term store failed a chart read") == 1  # logged once until it answers again
    finally:
        hub.stop()
        print(f"--- hub log ---\n{hub.log}")
