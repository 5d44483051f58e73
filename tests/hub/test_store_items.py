"""Whether a queued sample can be stored at all (``items.sample_metrics``): what SQLite cannot hold in the
raw row's identity is refused as malformed; what is inside the metrics object is judged per series later."""

from typing import NamedTuple

import orjson
import pytest

from fleetmon.hub.store.items import sample_metrics

METRICS = {"fleetmon_cpu_usage_ratio": 0.25}
T0 = 1_700_000_000.0


class Case(NamedTuple):
    name: str
    host: object = "srv-01"
    session: object = 1
    seq: object = 1
    ts: object = T0
    metrics: object = METRICS
    stored: bool = True


CASES = [
    Case("a sample as the hub passes it"),
    # the agent may send whole seconds
    Case("an integer time", ts=1_700_000_000),
    # the extremes of an SQLite INTEGER are still integers it holds
    Case("the largest session", session=2**63 - 1),
    Case("the smallest seq", seq=-2**63),
    Case("no host", host="", stored=False),
    Case("a host that is not a string", host=["srv-01"], stored=False),
    Case("a missing host", host=None, stored=False),
    # one past what an SQLite INTEGER holds: it would raise inside the batch
    Case("a session too large", session=2**63, stored=False),
    Case("a seq too small", seq=-2**63 - 1, stored=False),
    # JSON true is a bool, and a bool is an int to Python: it is not a session
    Case("a bool for a session", session=True, stored=False),
    Case("a float seq", seq=1.0, stored=False),
    Case("a time that is text", ts="yesterday", stored=False),
    # a point no query range can find, and one no bucket holds
    Case("a NaN time", ts=float("nan"), stored=False),
    Case("an infinite time", ts=float("inf"), stored=False),
    # finite as an integer, but past what a double holds
    Case("a time too large for a float", ts=10**400, stored=False),
    Case("a bool for a time", ts=False, stored=False),
    Case("metrics that are a list", metrics=["not", "an", "object"], stored=False),
    Case("metrics missing", metrics=None, stored=False),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_sample_is_storable_when_sqlite_can_hold_its_identity(case):
    found = sample_metrics(case.host, case.session, case.seq, case.ts, case.metrics)
    assert found == (case.metrics if case.stored else None)


class BytesCase(NamedTuple):
    name: str
    payload: bytes
    metrics: object  # what the writer stores the sample with; None: malformed


BYTES_CASES = [
    # the hub passes the message as received: the writer decodes it (cheaper than pickling the mapping)
    BytesCase("a metrics message", orjson.dumps({"v": 1, "metrics": METRICS}), METRICS),
    BytesCase("not JSON", b"{not json", None),
    BytesCase("a message without metrics", orjson.dumps({"v": 1}), None),
    BytesCase("a JSON array", b"[1, 2]", None),
    # an object is required: the metrics of a message are name -> value
    BytesCase("metrics that are a number", orjson.dumps({"metrics": 3}), None),
]


@pytest.mark.parametrize("case", BYTES_CASES, ids=[case.name for case in BYTES_CASES])
def test_metrics_given_as_received_bytes_are_decoded(case):
    assert sample_metrics("srv-01", 1, 1, T0, case.payload) == case.metrics
