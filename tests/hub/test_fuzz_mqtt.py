"""Fuzzing the MQTT path: generated payloads through the hub's own message intake (fleetmon.hub.intake:
decode → the fleet state → the history store, a real writer process on SQLite, and the alert dispatcher),
built by fleetmon.hub.parts as the hub builds it; after every message the pages that render what was
taken in (/metrics, the host API, the dashboard, the alerts) must still answer.

Payloads start from the protocol's own builders and are bent: the extremes named in issue 10 (seq 2^63,
session 2^64-1, times at -1e12 and 2.6e16 s), wrong types, NaN and Infinity, nesting past every limit,
unicode, truncated and random bytes. Deterministic (derandomize); FLEETMON_FUZZ_EXAMPLES=5000 runs longer.
"""

import json
import os
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fleetmon.hub.ingest import REASONS, Message, Rejected
from fleetmon.protocol import messages
from tests.hub.standin import app_of, stand_in_hub
from tests.polling import wait_until

EXAMPLES = int(os.environ.get("FLEETMON_FUZZ_EXAMPLES", "150"))
PREFIX = "fleetmon/v1"
HOSTS = ("h1", "h2")
KINDS = ("status", "metrics", "backfill", "checks", "alerts", "events", "logs")
T0 = 1_767_225_600.0  # the senders' clock (2026-01-01): payloads must not depend on when the test runs
PAGES = ("/metrics", "/api/v1/hosts", "/api/v1/hosts/h1", "/api/v1/hosts/h2", "/api/v1/groups",
         "/api/v1/dashboard", "/api/v1/alerts", "/api/v1/alerts/groups", "/api/v1/hub")

EXTREME_NUMBERS = st.sampled_from([
    0, 1, -1, 2**31, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30, -2**63, -2**63 - 1,
    0.0, -0.0, 5e-324, 1e-300, 1.7e308, -1.7e308, 2.6e16, -1e12, 7258118400.0, 7258118401.0, 1e19,
    float("nan"), float("inf"), float("-inf")])
NUMBERS = EXTREME_NUMBERS | st.integers() | st.floats()
TEXT = st.text(max_size=10) | st.sampled_from(["", "0001-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "∞", "\x00",
                                               "1970-01-01T00:00:00+00:00", "9999-12-31T23:59:59Z", "ok"])
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                      max_leaves=12)
#: Depths around every limit: the protocol's own, MAX_DEPTH (512), Python's encoders (~1,000), orjson (1,024).
DEPTHS = st.sampled_from([2, 6, 100, 512, 513, 990, 1000, 1023, 1030])
#: Where a value may be put, per kind (a path into the payload; "*" is the first element of a list).
FIELDS = {
    "status": [("session",), ("seq",), ("ts",), ("interval_s",), ("agent",), ("agent", "version"), ("facts",),
               ("facts", "model"), ("groups",), ("labels",), ("labels", "site"), ("thresholds",), ("checks",),
               ("state",), ("reason",), ("host",), ("v",)],
    "metrics": [("session",), ("seq",), ("ts",), ("interval_s",), ("metrics",), ("metrics", "fleetmon_load1"),
                ("metrics", "fleetmon_cpu_usage_ratio"), ("metrics", ""),
                ("metrics", "fleetmon_filesystem_usage_ratio"),
                ("metrics", "fleetmon_filesystem_usage_ratio", "*"),
                ("metrics", "fleetmon_filesystem_usage_ratio", "*", "*"),
                ("metrics", "fleetmon_filesystem_usage_ratio", "*", "*", "mount"),
                ("metrics", "fleetmon_network_receive_bytes_total"), ("errors",), ("type",)],
    "checks": [("ts",), ("results",), ("results", "*"), ("results", "*", "value"), ("results", "*", "ok"),
               ("results", "*", "name"), ("results", "*", "message")],
    "alerts": [("ts",), ("alerts",), ("alerts", "*", "startsAt"), ("alerts", "*", "endsAt"),
               ("alerts", "*", "labels"), ("alerts", "*", "labels", "severity"), ("alerts", "*", "annotations"),
               ("alerts", "*", "annotations", "summary"), ("alerts", "*", "status"), ("alerts", "*", "fingerprint"),
               ("alerts", "*", "generatorURL")],
    "events": [("ts",), ("event",), ("event", "kind"), ("event", "message"), ("event", "details"),
               ("event", "details", "x")],
    "logs": [("ts",), ("entries",), ("entries", "*"), ("entries", "*", "ts"), ("entries", "*", "cursor"),
             ("entries", "*", "priority"), ("entries", "*", "unit"), ("entries", "*", "pid"),
             ("entries", "*", "message"), ("dropped",), ("dropped", "x.service")],
}
FIELDS["backfill"] = FIELDS["metrics"]


def good(kind: str, host: str, seq: int, now: float) -> dict:
    if kind == "status":
        return messages.status(host, 3, seq, now, "online", agent_version="1.0", started_at=now - 5, interval_s=1,
                               facts={"model": "x"}, groups=["servers"], labels={"site": "a"},
                               thresholds=[{"metric": "fleetmon_cpu_usage_ratio", "warning": 0.9}], checks=[])
    if kind in ("metrics", "backfill"):
        return messages.metrics(host, 3, seq, now, 1, 0.01, {
            "fleetmon_cpu_usage_ratio": 0.5, "fleetmon_load1": 1.5,
            "fleetmon_network_receive_bytes_total": [[{"device": "eth0"}, 1000]],
            "fleetmon_filesystem_usage_ratio": [[{"mount": "/"}, 0.4]]}, {})
    if kind == "checks":
        return messages.checks(host, 3, seq, now, [{"name": "web", "ok": False, "value": 0.2, "message": "slow"}])
    if kind == "alerts":
        labels = {"alertname": "CpuHigh", "host": host, "severity": "warning"}
        return messages.alerts(host, 3, seq, now, [{"status": "firing", "labels": labels,
                                                    "annotations": {"summary": "busy"},
                                                    "startsAt": messages.rfc3339(now - 60),
                                                    "endsAt": messages.ZERO_TIME, "fingerprint": "0" * 16}])
    if kind == "logs":
        return messages.logs(host, 3, seq, now, [{"ts": now - 1, "cursor": f"c{seq}", "priority": 3,
                                                 "unit": "x.service", "identifier": "x", "pid": 9,
                                                 "transport": "stdout", "message": "failed"}], {"x.service": 2})
    return messages.event(host, 3, seq, now, "spool_dropped", "3 dropped", {"count": 3})


def put(payload: object, path: tuple, value: object) -> None:
    """Set ``value`` at ``path`` where the payload has room for it (a missing step leaves it as it is)."""
    node = payload
    for step in path[:-1]:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and step == "*" and node:
            node = node[0]
        else:
            return
    if isinstance(node, dict):
        node[path[-1]] = value
    elif isinstance(node, list) and path[-1] == "*" and node:
        node[0] = value


def encoded(payload: dict, deep: tuple | None) -> bytes:
    """JSON as any sender might write it: NaN and Infinity as Python writes them, and the string "DEEP" (put
    where ``deep`` says) replaced by arrays nested that deep, which json.dumps could not write."""
    text = json.dumps(payload, ensure_ascii=False)
    if deep is not None:
        text = text.replace('"DEEP"', "[" * deep[1] + "1" + "]" * deep[1], 1)
    return text.encode("utf-8")


@st.composite
def mqtt_messages(draw):
    kind = draw(st.sampled_from(KINDS))
    host = draw(st.sampled_from(HOSTS))
    payload = good(kind, host, draw(st.integers(1, 10**6)), T0)
    for _ in range(draw(st.integers(0, 3))):
        put(payload, draw(st.sampled_from(FIELDS[kind])), draw(st.one_of(EXTREME_NUMBERS, TEXT, VALUES)))
    deep = None
    if draw(st.booleans()):
        deep = (draw(st.sampled_from(FIELDS[kind])), draw(DEPTHS))
        put(payload, deep[0], "DEEP")
    raw = encoded(payload, deep)
    damage = draw(st.sampled_from(["none"] * 6 + ["truncate", "bytes", "latin1"]))
    if damage == "truncate":
        raw = raw[:draw(st.integers(0, len(raw)))]
    elif damage == "bytes":
        raw = draw(st.binary(max_size=64))
    elif damage == "latin1":
        raw = raw.replace(b"a", b"\xe9")
    topic_kind = draw(st.sampled_from([kind] * 8 + ["metrics", "secrets"]))
    return f"{PREFIX}/hosts/{host}/{topic_kind}", raw


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    stand_in = stand_in_hub(tmp_path_factory.mktemp("fuzz-mqtt"))
    stand_in.parts.history.start()
    yield stand_in
    stand_in.close()


def ingest(hub, topic: str, payload: bytes, now: float) -> Message | Rejected:
    """What the hub does with one message on a host topic (paho's callback hands it to the intake)."""
    result = hub.parts.intake.take(topic, payload, now)
    # The intake lets through only edge alerts the dispatcher takes: a refusal there is counted as an
    # internal error, and none may happen.
    assert "internal_error" not in hub.parts.counters.rejected, (topic, payload[:300])
    return result


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(message=mqtt_messages())
def test_no_message_breaks_ingest_the_state_the_store_or_a_page(hub, message):
    topic, payload = message
    now = time.time()
    result = ingest(hub, topic, payload, now)
    assert isinstance(result, (Message, Rejected))
    if isinstance(result, Rejected):
        assert result.reason in REASONS and result.detail
    event(f"rejected: {result.reason}" if isinstance(result, Rejected) else f"accepted: {result.kind}")
    hub.dispatcher.process(now)
    with hub.parts.lock:  # what the rules thread does with the state
        hub.parts.fleet.tick(now + 30)
        hub.parts.fleet.views(now + 30)
    app = app_of(hub)
    for path in PAGES:
        answer = app.call("GET", path)
        assert answer.status in (200, 404), (path, answer.status, answer.body[:300], topic, payload[:300])
    assert hub.parts.history.running, "the history writer stopped"


def test_after_the_fuzzing_a_good_sample_is_still_written_and_read_back(hub):
    # Runs after the fuzz test (file order) on the same store: poison must not have stopped the writer.
    now = time.time()
    sample = messages.metrics("after-fuzz", 1, 1, now, 1, 0.01, {"fleetmon_load1": 4.25}, {})
    result = ingest(hub, f"{PREFIX}/hosts/after-fuzz/metrics", messages.encode(sample), now)
    assert isinstance(result, Message)
    hub.parts.history.flush()
    series = wait_until(lambda: hub.parts.history.query("after-fuzz", "fleetmon_load1", None, now - 60, now + 60),
                        timeout=10, message="the sample in the history")
    assert series[0].points == [(round(now, 3), 4.25)]
    assert app_of(hub).call("GET", "/health/live").status == 200
