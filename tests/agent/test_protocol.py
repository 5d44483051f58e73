"""Topics, the metric set's wire form, envelopes, reconnect backoff."""

import json

import jsonschema
import pytest

from fleetmon.mqtt.link import Backoff
from fleetmon.protocol import messages
from fleetmon.protocol.metricset import MetricSet
from fleetmon.protocol.topics import host_subscription, host_topics, parse_host_topic


def test_topics_round_trip_and_reject_strangers():
    topics = host_topics("jetson-01", "site/fleetmon/v1")
    assert topics.metrics == "site/fleetmon/v1/hosts/jetson-01/metrics"
    assert parse_host_topic(topics.backfill, "site/fleetmon/v1") == ("jetson-01", "backfill")
    for bad in ("site/fleetmon/v1/hosts/jetson-01/metrics/x", "site/fleetmon/v1/hosts/a+b/metrics",
                "site/fleetmon/v1/hosts/jetson-01/secrets", "other/hosts/jetson-01/metrics"):
        assert parse_host_topic(bad, "site/fleetmon/v1") is None
    assert host_subscription() == "fleetmon/v1/hosts/+/+"


def test_metric_set_wire_form_is_compact_and_round_trips():
    metrics = MetricSet()
    metrics.add("fleetmon_load1", 0.5)
    metrics.add("fleetmon_cpu_cores", 4.0)
    metrics.add("fleetmon_temperature_celsius", 41.5, {"zone": "cpu"})
    metrics.add("fleetmon_temperature_celsius", 39, {"zone": "gpu"})
    metrics.add("fleetmon_load5", float("nan"))
    wire = metrics.to_json()
    assert wire == {"fleetmon_load1": 0.5, "fleetmon_cpu_cores": 4,
                    "fleetmon_temperature_celsius": [[{"zone": "cpu"}, 41.5], [{"zone": "gpu"}, 39]]}
    again = MetricSet.from_json(json.loads(json.dumps(wire)))
    assert again.to_json() == wire and len(again) == len(metrics) == 4
    assert again.get("fleetmon_temperature_celsius", zone="gpu") == 39
    assert [s.labels for s in again.series("fleetmon_temperature_celsius")] == [{"zone": "cpu"}, {"zone": "gpu"}]


@pytest.mark.parametrize("bad", [[1], {"m": "1"}, {"m": [[{"a": "b"}]]}, {"m": [["a", 1]]}, {"m": True}])
def test_malformed_wire_metrics_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError):
        MetricSet.from_json(bad)


def test_payload_builders_match_their_schemas(schemas):
    ts = 1763741234.5
    birth = messages.status("h1", 2, 1, ts, "online", agent_version="0.1.0", started_at=ts, interval_s=10,
                            facts={"cpus": 4}, groups=["servers"], labels={"site": "a"})
    death = messages.status("h1", 2, 2, ts, "offline", reason="will")
    jsonschema.validate(birth, schemas["status"])
    jsonschema.validate(death, schemas["status"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(death, reason=None), schemas["status"])
    sample = messages.metrics("h1", 2, 7, ts, 10, 0.003, {"fleetmon_load1": 0.1}, {"nvml": "gone"})
    jsonschema.validate(sample, schemas["metrics"])
    assert messages.encode(sample).startswith(b'{"v":1,"type":"metrics","host":"h1","session":2,"seq":7')
    assert messages.rfc3339(0) == "1970-01-01T00:00:00.000000Z"


def test_backoff_doubles_up_to_its_cap_with_jitter_and_resets():
    low = Backoff(1, 8, rand=lambda: 0.0)
    assert [low.next() for _ in range(5)] == [0.5, 1, 2, 4, 4]
    high = Backoff(1, 8, rand=lambda: 0.999999)
    waits = [high.next() for _ in range(5)]
    assert waits[-1] == pytest.approx(8, rel=1e-5) and waits[0] == pytest.approx(1, rel=1e-5)
    high.reset()
    assert high.next() == pytest.approx(1, rel=1e-5)
