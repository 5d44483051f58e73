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
    ]
    for reason, topic, payload, limit in cases:
        result = run(topic, payload, limit)
        assert isinstance(result, Rejected) and result.reason == reason, (reason, result)
        assert result.reason in REASONS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(["status", "metrics", "backfill", "checks", "alerts", "events", "other"]),
       mutations=st.dictionaries(st.sampled_from(["v", "type", "host", "session", "seq", "ts", "state", "reason",
                                                  "metrics", "interval_s", "groups", "labels", "facts",
                                                  "thresholds", "checks", "results", "alerts", "event"]),
                                 json_values, max_size=5))
def test_fuzzed_payloads_never_crash_ingest_or_state(kind, mutations):
    base = good("metrics" if kind in ("backfill", "other") else kind)
    base.update(mutations)
    state = FleetState({"h1": ["servers"]})
    result = decode(TOPIC + kind, json.dumps(base).encode(), 300.0, PREFIX, 65536)
    if isinstance(result, Message):
        state.apply(result)  # whatever validation let through, the state must digest
        state.tick(10_000.0)
        state.views()
    else:
        assert result.reason in REASONS


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300))
def test_random_bytes_are_rejected_not_raised(raw):
    assert isinstance(decode(TOPIC + "metrics", raw, 0.0, PREFIX, 65536), Rejected)
