"""A host's sample read by the shape of its previous one (``store.shapes``) stores exactly what the full path
(decode, ``Registry.resolve``) stores; any text the shape cannot vouch for goes the full path."""

import json
import math
from typing import NamedTuple

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetmon.hub.store import Store
from fleetmon.hub.store.items import sample_metrics
from fleetmon.hub.store.schema import connect, migrate
from fleetmon.hub.store.series import Registry

T0 = 1_700_000_000.0


@pytest.fixture
def registry(tmp_path):
    conn = connect(str(tmp_path / "history.db"))
    migrate(conn)
    yield Registry(conn)
    conn.close()


def wire(metrics, seq=1, ts=T0, host="srv-01", errors=None) -> bytes:
    body = {"v": 1, "type": "metrics", "host": host, "session": 1, "seq": seq, "ts": ts, "interval_s": 10,
            "duration_s": 0.01, "metrics": metrics}
    if errors is not None:
        body["errors"] = errors
    return json.dumps(body).encode()


def full_path(registry, raw, host_id=1):
    """What the full path stores of ``raw``: series ids, values (with their types) and entries skipped."""
    ids, values, bad = registry.resolve(host_id, sample_metrics("srv-01", 1, 1, T0, raw))
    return ids, values, bad


def learnt(registry, raw, host_id=1):
    """``raw`` through the full path, as the writer takes it: its shape is remembered when it can be."""
    ids, values, bad = full_path(registry, raw, host_id)
    registry.remember(host_id, raw, ids, registry.layout_id(tuple(ids)), values, bad)
    return ids, values, bad


def recalled(registry, raw, host_id=1):
    found = registry.recall(host_id, raw)
    return None if found is None else (list(found[0].ids), found[1])


BASE = {"fleetmon_cpu_usage_ratio": 0.25,
        "fleetmon_cpu_core_usage_ratio": [[{"core": "0"}, 0.1], [{"core": "1"}, 0.2]],
        "fleetmon_filesystem_free_bytes": [[{"mountpoint": "/", "device": "sda1"}, 123456789]],
        "fleetmon_load1": 1}


def test_the_next_sample_of_a_host_is_read_by_its_shape(registry):
    learnt(registry, wire(BASE))
    following = {**BASE, "fleetmon_cpu_usage_ratio": 0.75, "fleetmon_load1": 2.5,
                 "fleetmon_cpu_core_usage_ratio": [[{"core": "0"}, 1e-05], [{"core": "1"}, -0.0]]}
    raw = wire(following, seq=2, ts=T0 + 10)
    ids, values, _ = full_path(registry, raw)
    assert recalled(registry, raw) == (ids, values)
    assert [type(v) for v in recalled(registry, raw)[1]] == [type(v) for v in values]


number = st.one_of(
    st.integers(-2**63, 2**64 - 1),  # orjson reads these as integers
    st.integers(2**64, 2**70),  # ... and these as floats
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0, 0.0, -0.0, 1e300, -1e-300, 5e-324]))
label_text = st.text(st.sampled_from("ab0123456789.-+eE:,[]{} _/"), min_size=0, max_size=6)
series = st.one_of(number.map(lambda v: ("scalar", v)),
                   st.lists(st.dictionaries(st.sampled_from(["core", "device", "mountpoint"]), label_text,
                                            max_size=2), min_size=1, max_size=3, unique_by=lambda d: tuple(d.items()))
                   .map(lambda labels: ("labelled", labels)))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["m_a", "m_b", "m_c", "m_d"]), series, min_size=1),
       st.lists(st.lists(number, min_size=12, max_size=12), min_size=1, max_size=3),
       st.booleans())
def test_a_recalled_sample_stores_what_the_full_path_stores(tmp_path_factory, layout, rounds, spaced):
    """Whatever the numbers (their text included: exponents, -0, integers past 64 bits), a sample of the
    learnt shape gives the full path's ids, values and value types; one it cannot take gives None."""
    conn = connect(str(tmp_path_factory.mktemp("shapes") / "history.db"))
    migrate(conn)
    registry = Registry(conn)

    def sample(numbers):
        values = iter(numbers)
        metrics = {name: next(values) if kind == "scalar" else [[labels, next(values)] for labels in entry]
                   for name, (kind, entry) in layout.items()}
        text = json.dumps({"v": 1, "host": "srv-01", "metrics": metrics}, separators=(",", ":") if spaced else None)
        return text.encode()

    first = sample([0.5] * 12)
    _, _, bad = learnt(registry, first)
    assert bad == 0 and registry.shapes, "a clean sample's shape is remembered"
    for numbers in rounds:
        raw = sample(numbers)
        try:
            expected = full_path(registry, raw)
        except OverflowError:  # json.dumps writes floats orjson reads as infinite: not finite, never recalled
            expected = None
        found = recalled(registry, raw)
        if found is None:
            assert expected is None or expected[2] or not math.isfinite(sum(expected[1]))
            continue
        assert expected[2] == 0
        assert found == (expected[0], expected[1])
        assert [type(v) for v in found[1]] == [type(v) for v in expected[1]]
    conn.close()


class Refused(NamedTuple):
    name: str
    later: bytes  # a sample after the learnt BASE: none may be recalled


REFUSED = [
    # a label value with other digits is another series: strings are compared whole
    Refused("a label's digits changed", wire({**BASE, "fleetmon_cpu_core_usage_ratio": [[{"core": "0"}, 0.1],
                                                                                          [{"core": "2"}, 0.2]]})),
    Refused("a device renamed", wire({**BASE, "fleetmon_filesystem_free_bytes": [
        [{"mountpoint": "/", "device": "sda2"}, 1]]})),
    Refused("a metric more", wire({**BASE, "fleetmon_load5": 1.0})),
    Refused("a series fewer", wire({**BASE, "fleetmon_cpu_core_usage_ratio": [[{"core": "0"}, 0.1]]})),
    # not a number where one stood: the full path counts it as malformed
    Refused("null for a value", wire({**BASE, "fleetmon_load1": None})),
    Refused("true for a value", wire({**BASE, "fleetmon_load1": True})),
    Refused("a string for a value", wire({**BASE, "fleetmon_load1": "1"})),
    # past a double: orjson refuses it, as the full path does the whole sample
    Refused("a value past a double", wire(BASE).replace(b'"fleetmon_load1": 1', b'"fleetmon_load1": 1e999')),
    # not JSON numbers: orjson refuses them, and so the full path decides (it refuses the whole sample)
    Refused("two points", wire(BASE).replace(b"0.25", b"0.2.5")),
    Refused("a leading zero", wire(BASE).replace(b"0.25", b"025")),
    Refused("a plus sign", wire(BASE).replace(b"0.25", b"+0.25")),
    Refused("a number gone", wire(BASE).replace(b"0.25", b"")),
    # the same text but written differently: escapes and whitespace are not looked through
    Refused("an escaped character", wire(BASE).replace(b'"core"', b'"\\u0063ore"')),
    Refused("other whitespace", wire(BASE).replace(b": 0.25", b":0.25")),
    Refused("an unmatched quote", wire(BASE) + b'"'),
]


@pytest.mark.parametrize("case", REFUSED, ids=[case.name for case in REFUSED])
def test_a_sample_of_another_shape_goes_the_full_path(registry, case):
    learnt(registry, wire(BASE))
    assert recalled(registry, wire(BASE, seq=2)) is not None
    assert recalled(registry, case.later) is None


class NotLearnt(NamedTuple):
    name: str
    raw: bytes


NOT_LEARNT = [
    # {"a": "x", "b": 1, "a": 1} decodes to {"a": 1, "b": 1}, two members of three: "a" stands first but
    # its number is the second; the values agreeing here would not make the positions right next time
    NotLearnt("a duplicate key", wire(BASE).replace(b'"fleetmon_load1": 1', b'"fleetmon_load1": "x", '
                                                                            b'"fleetmon_up": 1, "fleetmon_load1": 1')),
    # a number as a label value would change the series with the number
    NotLearnt("a number label", wire({**BASE, "fleetmon_cpu_core_usage_ratio": [[{"core": 0}, 0.1]]})),
    # a sample with a malformed series is not remembered: what was skipped could be a value next time
    NotLearnt("a malformed series", wire({**BASE, "fleetmon_load1": [1, 2]})),
    NotLearnt("an escape", wire(BASE).replace(b'"core"', b'"\\u0063ore"')),
]


@pytest.mark.parametrize("case", NOT_LEARNT, ids=[case.name for case in NOT_LEARNT])
def test_a_sample_the_shape_cannot_vouch_for_is_not_remembered(registry, case):
    learnt(registry, case.raw)
    assert registry.shapes == {}


def test_other_hosts_and_a_reload_forget_nothing_wrongly(registry):
    learnt(registry, wire(BASE), host_id=1)
    other = registry.host_id("srv-02")
    assert recalled(registry, wire(BASE, host="srv-02"), host_id=other) is None  # another host's shape
    registry.reload()  # after a rolled-back transaction ids may be gone: shapes go with them
    assert recalled(registry, wire(BASE, seq=2)) is None


def test_a_host_whose_shape_keeps_changing_is_learnt_from_ever_more_rarely(registry):
    learnings = []
    for seq in range(1, 18):
        raw = wire(BASE, seq=seq, errors={"disk": f"read failed {seq}"})  # the text changes every time
        before = registry.shapes.get(1)
        if registry.recall(1, raw) is None:
            learnt(registry, raw)
        if registry.shapes.get(1) is not before:
            learnings.append(seq)
    assert learnings == [1, 2, 4, 8, 16]


def test_the_store_keeps_every_value_as_shapes_come_and_go(tmp_path):
    """Samples queued as received, their shape changing and coming back, one malformed series among them:
    each value read back is the one sent, and only the malformed entry is counted."""
    store = Store(str(tmp_path / "history.db"))
    store.start()
    try:
        sent = []
        for seq in range(1, 13):
            cores = [[{"core": "0"}, seq / 10]] + ([[{"core": "1"}, seq / 5]] if 4 <= seq <= 7 else [])
            metrics = {"fleetmon_load1": seq, "fleetmon_cpu_core_usage_ratio": cores}
            if seq == 9:
                metrics["fleetmon_temperature_celsius"] = "hot"
            sent.append(metrics)
            raw = orjson.dumps({"v": 1, "type": "metrics", "host": "srv-01", "session": 1, "seq": seq,
                                "ts": T0 + seq, "interval_s": 1, "duration_s": 0.01, "metrics": metrics})
            assert store.write_sample("srv-01", 1, seq, T0 + seq, raw) is not None
        store.flush()
        load = store.query("srv-01", "fleetmon_load1", start=T0, end=T0 + 20, tier="raw")
        assert [point[1] for point in load[0].points] == list(range(1, 13))
        cores = {tuple(s.labels.items()): s.points for s in
                 store.query("srv-01", "fleetmon_cpu_core_usage_ratio", start=T0, end=T0 + 20, tier="raw")}
        assert cores[(("core", "0"),)] == [(T0 + seq, seq / 10) for seq in range(1, 13)]
        assert cores[(("core", "1"),)] == [(T0 + seq, seq / 5) for seq in range(4, 8)]
        assert store.counters.samples_written == 12
        assert store.counters.series_malformed == 1
    finally:
        store.close()
