"""Ingest validation: every malformed message is a counted rejection, never an exception."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetmon.hub.ingest import REASONS, Message, Rejected, decode
from fleetmon.hub.state import FleetState
from fleetmon.protocol import messages

PREFIX = "fleetmon/v1"
TOPIC = PREFIX + "/hosts/h1/"


def good(kind="metrics", **changes):
    builders = {
        "status": lambda: messages.status("h1", 2, 1, 100.0, "online", agent_version="0.1.0", started_at=99.0,
                                          interval_s=10, facts={}, groups=["servers"], labels={"site": "a"}),
        "metrics": lambda: messages.metrics("h1", 2, 5, 100.0, 10, 0.01, {"fleetmon_load1": 0.2}, {}),
        "checks": lambda: messages.checks("h1", 2, 1, 100.0, [{"name": "web", "ok": True}]),
        "alerts": lambda: messages.alerts("h1", 2, 1, 100.0, [{"status": "firing", "labels": {"alertname": "X"},
                                                                "fingerprint": "00"}]),
        "events": lambda: messages.event("h1", 2, 1, 100.0, "spool_dropped", "3 dropped"),
    }
    payload = builders[kind]()
    payload.update(changes)
    return payload


def run(topic, payload, max_bytes=65536):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode(topic, raw, 200.0, PREFIX, max_bytes)


def test_every_kind_decodes():
    for kind in ("status", "metrics", "checks", "alerts", "events"):
        result = run(TOPIC + kind, good(kind))
        assert isinstance(result, Message) and result.kind == kind and result.host == "h1", result
    backfill = run(TOPIC + "backfill", good("metrics"))
    assert isinstance(backfill, Message) and backfill.kind == "backfill" and backfill.received == 200.0


def test_each_problem_has_its_reason():
    cases = [
        ("oversized", TOPIC + "metrics", good(), 10),
        ("bad_topic", PREFIX + "/hosts/h1/secrets", good(), 65536),
        ("bad_topic", PREFIX + "/fleet/summary", good(), 65536),
        ("bad_json", TOPIC + "metrics", b"{nope", 65536),
        ("bad_json", TOPIC + "metrics", b"[1, 2]", 65536),
        ("unknown_version", TOPIC + "metrics", good(v=2), 65536),
        ("bad_envelope", TOPIC + "metrics", good(seq="7"), 65536),
        ("bad_envelope", TOPIC + "metrics", good(session=True), 65536),
        ("host_mismatch", TOPIC + "metrics", good(host="h2"), 65536),
        ("type_mismatch", TOPIC + "checks", good(), 65536),
        ("bad_body", TOPIC + "metrics", good(metrics=[1]), 65536),
        ("bad_body", TOPIC + "status", good("status", groups="servers"), 65536),
        ("bad_body", TOPIC + "status", good("status", state="sleeping"), 65536),
        ("bad_body", TOPIC + "alerts", good("alerts", alerts=[{"status": "firing"}]), 65536),
        ("bad_body", TOPIC + "alerts", good("alerts", complete="yes"), 65536),
    ]
    for reason, topic, payload, limit in cases:
        result = run(topic, payload, limit)
        assert isinstance(result, Rejected) and result.reason == reason, (reason, result)
        assert result.reason in REASONS


def nested(depth, leaf="x"):
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def with_deep(payload, depth):
    """The payload's JSON with the string "DEEP" replaced by objects nested ``depth`` levels (too deep for
    json.dumps to write)."""
    return json.dumps(payload).replace('"DEEP"', '{"a":' * depth + "1" + "}" * depth).encode()


def test_numbers_out_of_range_are_rejected_with_the_field_named():
    late_alert = {"status": "firing", "labels": {"alertname": "X"}, "fingerprint": "00",
                  "startsAt": "2300-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}
    cases = [
        # SQLite integers are signed 64-bit: these two stopped the history writer
        (TOPIC + "metrics", good(seq=2**63), "seq 9223372036854775808 is outside 0..9007199254740991"),
        (TOPIC + "metrics", good(session=2**64 - 1), "session 18446744073709551615 is outside"),
        (TOPIC + "backfill", good(seq=2**53), "seq 9007199254740992 is outside"),
        (TOPIC + "metrics", good(seq=-1), "seq -1 is outside"),
        (TOPIC + "status", good("status", session=-3), "session -3 is outside"),
        (TOPIC + "metrics", good(ts=-1.0), "ts -1.0 is outside"),
        (TOPIC + "checks", good("checks", ts=2.6e16), "ts 2.6e+16 is outside"),
        (TOPIC + "metrics", good(interval_s=0), "interval_s 0 is outside"),
        (TOPIC + "status", good("status", interval_s=1e9), "interval_s 1000000000.0 is outside"),
        (TOPIC + "alerts", good("alerts", alerts=[late_alert]), "alerts[0]: startsAt '2300-01-01T00:00:00Z'"),
        (TOPIC + "alerts", good("alerts", alerts=[{**late_alert, "startsAt": -1e12}]), "alerts[0]: startsAt -1"),
    ]
    for topic, payload, detail in cases:
        result = run(topic, payload)
        assert isinstance(result, Rejected) and result.reason == "out_of_range", (detail, result)
        assert detail in result.detail, result.detail


def test_the_edges_of_every_range_are_accepted():
    for changes in ({"seq": 2**53 - 1, "session": 2**53 - 1}, {"seq": 0, "session": 0}, {"ts": 0},
                    {"ts": 7258118400.0}, {"interval_s": 86400}, {"interval_s": 0.05}):
        assert isinstance(run(TOPIC + "metrics", good(**changes)), Message), changes


def test_what_the_state_and_the_pages_rely_on_is_checked():
    edge = {"status": "firing", "labels": {"alertname": "X"}, "fingerprint": "00"}
    cases = [
        ("bad_body", TOPIC + "metrics", good(metrics={"": 1}), "a metric name must not be empty"),
        ("bad_body", TOPIC + "status", good("status", agent="0.1"), "agent must be an object"),
        ("bad_body", TOPIC + "alerts", good("alerts", alerts=[{**edge, "annotations": {"a": 1}}]), "annotations"),
        ("bad_body", TOPIC + "alerts", good("alerts", alerts=[{**edge, "labels": {"alertname": "X", "": "y"}}]),
         "label name must not be empty"),
        ("bad_body", TOPIC + "alerts", good("alerts", alerts=[{**edge, "startsAt": "yesterday"}]), "RFC 3339"),
        ("bad_body", TOPIC + "alerts", good("alerts", alerts=[{**edge, "endsAt": "2020-01-01T00:00:00Z",
                                                                "startsAt": "2021-01-01T00:00:00Z"}]),
         "endsAt is before startsAt"),
        ("too_deep", TOPIC + "status", with_deep(good("status", facts="DEEP"), 600), "deeper than 512"),
        ("too_deep", TOPIC + "events", with_deep(good("events", event={"kind": "k", "details": "DEEP"}), 1000),
         "deeper"),
        # orjson refuses what Python's json would take and later fail to encode or convert
        ("bad_json", TOPIC + "metrics", b'{"v": 1, "metrics": {"a": NaN}}', "unexpected character"),
        ("bad_json", TOPIC + "metrics", b'{"v": 1, "metrics": {"a": 1e400}}', "infinity"),
        ("bad_json", TOPIC + "events", b'{"v": 1, "event": {"kind": "\\ud800"}}', "surrogate"),
    ]
    for reason, topic, payload, detail in cases:
        result = run(topic, payload)
        assert isinstance(result, Rejected) and result.reason == reason, (reason, detail, result)
        assert detail in result.detail, result.detail


def test_samples_are_not_walked_but_every_number_in_them_is_a_finite_float_or_a_64_bit_integer():
    # A sample's series are checked where they are used (store, /metrics, host API); the decoder already
    # guarantees that no number in them can overflow a float.
    sample = good(metrics={"big": 18446744073709551615, "bigger": [[{"x": "1"}, 10**30]], "deep": nested(100)})
    result = run(TOPIC + "metrics", sample)
    assert isinstance(result, Message)
    assert result.body["metrics"]["big"] == 2**64 - 1 and isinstance(result.body["metrics"]["bigger"][0][1], float)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(["status", "metrics", "backfill", "checks", "alerts", "events", "other"]),
       mutations=st.dictionaries(st.sampled_from(["v", "type", "host", "session", "seq", "ts", "state", "reason",
                                                  "metrics", "interval_s", "groups", "labels", "facts",
                                                  "thresholds", "checks", "results", "alerts", "event",
                                                  "agent"]),
                                 json_values, max_size=5))
def test_fuzzed_payloads_never_crash_ingest_or_state(kind, mutations):
    base = good("metrics" if kind in ("backfill", "other") else kind)
    base.update(mutations)
    state = FleetState({"h1": ["servers"]})
    result = decode(TOPIC + kind, json.dumps(base).encode(), 300.0, PREFIX, 65536)
    if isinstance(result, Message):
        state.apply(result)  # whatever validation let through, the state must digest
        state.tick(10_000.0)
        state.views(10_000.0)
    else:
        assert result.reason in REASONS


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300))
def test_random_bytes_are_rejected_not_raised(raw):
    assert isinstance(decode(TOPIC + "metrics", raw, 0.0, PREFIX, 65536), Rejected)
