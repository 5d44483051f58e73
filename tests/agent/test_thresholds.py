"""Edge threshold evaluation: which alert transitions a host publishes as its samples change."""

import json
from pathlib import Path

import jsonschema

from fleetmon.config_reader import Errors, Node
from fleetmon.protocol import messages
from fleetmon.protocol.alerts import alert, fingerprint
from fleetmon.protocol.evaluator import ThresholdEvaluator
from fleetmon.protocol.metricset import MetricSet
from fleetmon.protocol.thresholds import parse_thresholds
from fleetmon.protocol.units import format_value

DISK = "fleetmon_filesystem_usage_ratio"
ROOT = {"mount": "/", "device": "/dev/sda1", "fstype": "ext4"}
DATA = {"mount": "/data", "device": "/dev/sdb1", "fstype": "xfs"}


def rules(doc):
    errors = Errors()
    parsed = parse_thresholds(Node(doc, "thresholds", errors))
    assert not errors, errors
    return parsed


def evaluator(doc, host_labels=None):
    return ThresholdEvaluator(rules(doc), "web-1", host_labels or {"site": "lab"})


def sample(*series):
    """sample((metric, value, labels), ...)"""
    metrics = MetricSet()
    for name, value, labels in series:
        metrics.add(name, value, labels)
    return metrics


def disk(value, labels=ROOT):
    return sample((DISK, value, labels))


def feed(ev, values, start=0.0, step=10.0, make=disk):
    """Feed one sample per value, `step` seconds apart; returns every transition in order."""
    out = []
    for index, value in enumerate(values):
        out += ev.evaluate(make(value), start + index * step)
    return out


def summary(transitions):
    return [(t["status"], t["labels"]["severity"], t["labels"].get("mount")) for t in transitions]


def test_value_held_past_for_fires_once_then_resolves_once():
    ev = evaluator({"disk": {"critical": "90%", "for": "30s"}})
    # pending at t=0, still pending at 10 and 20, fires at 30; staying high sends nothing more.
    transitions = feed(ev, [0.95, 0.96, 0.97, 0.97, 0.98, 0.99])
    assert summary(transitions) == [("firing", "critical", "/")]
    fired = transitions[0]
    assert fired["startsAt"] == "1970-01-01T00:00:30.000000Z"
    assert fired["endsAt"] == "0001-01-01T00:00:00Z"
    assert fired["annotations"]["value"] == "97.0%"
    assert fired["annotations"]["threshold"] == "90.0%"
    assert fired["annotations"]["summary"] == (
        "disk on web-1 (device=/dev/sda1, fstype=ext4, mount=/): 97.0% is above the critical level 90.0%")

    resolved = ev.evaluate(disk(0.5), 100.0)
    assert summary(resolved) == [("resolved", "critical", "/")]
    assert resolved[0]["labels"] == fired["labels"]
    assert resolved[0]["fingerprint"] == fired["fingerprint"]
    assert resolved[0]["startsAt"] == fired["startsAt"]
    assert resolved[0]["endsAt"] == "1970-01-01T00:01:40.000000Z"
    assert resolved[0]["annotations"]["value"] == "50.0%"
    assert resolved[0]["annotations"]["summary"] == fired["annotations"]["summary"]  # why it fired
    assert ev.evaluate(disk(0.4), 110.0) == []


def test_values_dancing_inside_the_hysteresis_band_neither_resolve_nor_refire():
    ev = evaluator({"disk": {"critical": "90%", "hysteresis": "5%"}})
    transitions = feed(ev, [0.91, 0.89, 0.92, 0.86, 0.90, 0.91, 0.855])
    assert summary(transitions) == [("firing", "critical", "/")]
    # Crossing back past 90% - 5% resolves; crossing 90% again is a new episode.
    transitions = feed(ev, [0.85, 0.88, 0.91], start=100.0)
    assert summary(transitions) == [("resolved", "critical", "/"), ("firing", "critical", "/")]
    assert transitions[1]["startsAt"] == "1970-01-01T00:02:00.000000Z"


def test_pending_resets_when_the_value_returns_before_for():
    ev = evaluator({"disk": {"critical": "90%", "for": "30s"}})
    assert feed(ev, [0.95, 0.95, 0.95, 0.80, 0.95, 0.95, 0.95]) == []
    assert ev.firing() == []
    # Held long enough from the second crossing (t=40) it fires at t=70.
    transitions = ev.evaluate(disk(0.95), 70.0)
    assert summary(transitions) == [("firing", "critical", "/")]


def test_warning_and_critical_are_separate_alerts():
    ev = evaluator({"disk": {"warning": "80%", "critical": "90%"}})
    assert summary(ev.evaluate(disk(0.85), 0.0)) == [("firing", "warning", "/")]
    assert summary(ev.evaluate(disk(0.95), 10.0)) == [("firing", "critical", "/")]
    assert summary(ev.evaluate(disk(0.85), 20.0)) == [("resolved", "critical", "/")]
    assert summary(ev.evaluate(disk(0.10), 30.0)) == [("resolved", "warning", "/")]
    warning, critical = [feed(evaluator({"disk": {"warning": "80%", "critical": "90%"}}), [0.95])[i]
                         for i in (0, 1)]
    assert warning["fingerprint"] != critical["fingerprint"]


def test_each_matching_series_is_its_own_alert():
    ev = evaluator({"disk": {"critical": "90%"}})
    both = sample((DISK, 0.95, ROOT), (DISK, 0.97, DATA))
    transitions = ev.evaluate(both, 0.0)
    assert sorted(summary(transitions)) == [("firing", "critical", "/"), ("firing", "critical", "/data")]
    assert len({t["fingerprint"] for t in transitions}) == 2
    only_data_full = sample((DISK, 0.50, ROOT), (DISK, 0.97, DATA))
    assert summary(ev.evaluate(only_data_full, 10.0)) == [("resolved", "critical", "/")]
    assert [a["labels"]["mount"] for a in ev.firing()] == ["/data"]


def test_match_selects_series_by_exact_value_or_anchored_regex():
    ev = evaluator({"disk": {"critical": "90%", "match": {"mount": "~/da.*", "fstype": "xfs"}}})
    boot = {"mount": "/boot/data", "device": "/dev/sda2", "fstype": "xfs"}
    transitions = ev.evaluate(sample((DISK, 0.95, ROOT), (DISK, 0.95, DATA), (DISK, 0.95, boot)), 0.0)
    assert summary(transitions) == [("firing", "critical", "/data")]


def test_a_series_that_disappears_resolves_but_a_missing_metric_changes_nothing():
    ev = evaluator({"disk": {"critical": "90%"}, "check": {"critical": 1}})
    ev.evaluate(sample((DISK, 0.95, ROOT), (DISK, 0.97, DATA)), 0.0)
    # A check result arrives on its own: no filesystem metric at all, so the disk alerts stay.
    assert ev.evaluate(sample(("fleetmon_check_up", 1, {"check": "web", "type": "http"})), 5.0) == []
    assert len(ev.firing()) == 2
    # /data was unmounted: the next system sample lacks it.
    transitions = ev.evaluate(disk(0.95), 10.0)
    assert summary(transitions) == [("resolved", "critical", "/data")]
    assert transitions[0]["annotations"]["value"] == "97.0%"  # its last known value
    assert transitions[0]["endsAt"] == "1970-01-01T00:00:10.000000Z"


def test_failing_check_fires_below_its_level():
    ev = evaluator({"web_down": {"metric": "fleetmon_check_up", "match": {"check": "web"},
                                 "direction": "below", "critical": 1, "for": "1m", "alertname": "WebsiteDown",
                                 "summary": "{check} check failing on {host}"}})
    assert feed(ev, [0, 0, 0, 0, 0, 0], make=check) == []
    fired = ev.evaluate(check(0), 60.0)
    assert [(t["status"], t["labels"]["alertname"], t["labels"]["check"]) for t in fired] == [
        ("firing", "WebsiteDown", "web")]
    assert fired[0]["annotations"]["summary"] == "web check failing on web-1"
    assert fired[0]["annotations"]["value"] == "0"
    assert [t["status"] for t in ev.evaluate(check(1), 70.0)] == ["resolved"]


def check(up, name="web"):
    return sample(("fleetmon_check_up", up, {"check": name, "type": "http"}))


def test_check_results_arrive_in_partial_batches():
    ev = evaluator({"check": {"critical": 1}})
    assert [t["labels"]["check"] for t in ev.evaluate(check(0, "web"), 0.0)] == ["web"]
    # Only the db check ran this time: web is still failing as far as anyone knows.
    assert [t["labels"]["check"] for t in ev.evaluate(check(0, "db"), 5.0)] == ["db"]
    assert ev.evaluate(check(1, "db"), 10.0)[0]["labels"]["check"] == "db"
    assert [a["labels"]["check"] for a in ev.firing()] == ["web"]


def test_a_removed_check_resolves_with_the_next_sample():
    ev = evaluator({"check": {"critical": 1}})
    ev.evaluate(sample(("fleetmon_check_up", 0, {"check": "web", "type": "http"}),
                       ("fleetmon_check_up", 0, {"check": "web2", "type": "http"})), 0.0)
    ev.resolve_series({"check": "web"})
    transitions = ev.evaluate(disk(0.5), 10.0)
    assert [(t["status"], t["labels"]["check"], t["endsAt"]) for t in transitions] == [
        ("resolved", "web", "1970-01-01T00:00:10.000000Z")]
    assert [a["labels"]["check"] for a in ev.firing()] == ["web2"]


def test_alert_labels_precedence():
    ev = evaluator({"disk": {"critical": "90%", "labels": {"team": "ops", "fstype": "any"}}},
                   host_labels={"site": "lab", "host": "spoofed", "severity": "info", "mount": "host-level",
                                "env": ""})
    labels = ev.evaluate(disk(0.95), 0.0)[0]["labels"]
    assert labels == {"alertname": "HostDiskUsageHigh", "severity": "critical", "host": "web-1",
                      "site": "lab", "mount": "/", "device": "/dev/sda1", "fstype": "any", "team": "ops"}


def test_firing_and_resolved_values_are_alertmanager_alerts():
    ev = evaluator({"cpu": {"warning": "85%"}})
    fired = ev.evaluate(sample(("fleetmon_cpu_usage_ratio", 0.9, None)), 1700000000.25)
    payload = json.loads(json.dumps(fired))
    assert payload == [{
        "status": "firing",
        "labels": {"alertname": "HostCpuHigh", "severity": "warning", "host": "web-1", "site": "lab"},
        "annotations": {"summary": "cpu on web-1: 90.0% is above the warning level 85.0%", "value": "90.0%",
                        "threshold": "85.0%", "rule": "cpu"},
        "startsAt": "2023-11-14T22:13:20.250000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint({"alertname": "HostCpuHigh", "severity": "warning", "host": "web-1",
                                    "site": "lab"}),
    }]
    assert ev.firing() == fired


def test_transitions_fit_the_published_alerts_message_schema():
    schema_path = Path(messages.__file__).parent / "schemas" / "alerts.json"
    validator = jsonschema.Draft202012Validator(json.loads(schema_path.read_text()),
                                                format_checker=jsonschema.FormatChecker())
    ev = evaluator({"disk": {"warning": "80%", "critical": "90%"}})
    transitions = ev.evaluate(sample((DISK, 0.95, ROOT), (DISK, 0.97, DATA)), 10.0)
    transitions += ev.evaluate(disk(0.10), 20.0)
    assert len(transitions) == 8
    payload = json.loads(messages.encode(messages.alerts("web-1", 1, 1, 20.0, transitions)))
    validator.validate(payload)


def _reference_fingerprint(labels):
    """FNV-1a 64 written out from its definition: hash the whole name/0xFF/value/0xFF byte stream."""
    stream = bytearray()
    for name in sorted(labels):
        stream += name.encode() + b"\xff" + labels[name].encode() + b"\xff"
    value = 14695981039346656037
    for byte in stream:
        value = (value ^ byte) * 1099511628211 % 2**64
    return format(value, "016x")


def test_fingerprints_equal_alertmanagers():
    # Quoted in the reference notes on Alertmanager (§1).
    assert fingerprint({"job": "foo", "severity": "warning"}) == "9266ef3da838ad95"
    # prometheus/common model/signature_test.go, printed as %016x.
    assert fingerprint({}) == format(14695981039346656037, "016x")
    assert fingerprint({"name": "garland, briggs", "fear": "love is not enough"}) == format(
        5799056148416392346, "016x")
    assert fingerprint({"first-label": "first-label-value", "second-label": "second-label-value",
                        "third-label": "third-label-value"}) == format(13843036195897128121, "016x")
    # Order-independent, UTF-8, and leading zeros kept.
    for labels in ({"alertname": "HostDiskUsageHigh", "host": "jetson-ü", "mount": "/data",
                    "severity": "critical"},
                   {"b": "1", "a": "2"}, {"zone": "cpu@thermal", "alertname": "HostJetsonTemperatureHigh"}):
        assert fingerprint(labels) == _reference_fingerprint(labels)
        assert len(fingerprint(labels)) == 16
        assert fingerprint(dict(reversed(list(labels.items())))) == fingerprint(labels)


def test_alert_value_drops_empty_labels_like_alertmanager():
    value = alert({"alertname": "X", "device": ""}, {}, 0.0)
    assert value["labels"] == {"alertname": "X"}
    assert value["fingerprint"] == fingerprint({"alertname": "X"})


def test_replace_rules_keeps_unchanged_rules_and_resolves_changed_or_removed_ones():
    ev = evaluator({"disk": {"critical": "90%"}, "cpu": {"critical": "90%"},
                    "memory": {"critical": "90%", "for": "1m"}})
    busy = sample((DISK, 0.95, ROOT), ("fleetmon_cpu_usage_ratio", 0.95, None),
                  ("fleetmon_memory_usage_ratio", 0.95, None))
    fired = ev.evaluate(busy, 0.0)
    assert sorted(t["labels"]["alertname"] for t in fired) == ["HostCpuHigh", "HostDiskUsageHigh"]

    reloaded = {"disk": {"critical": "90%"}, "memory": {"critical": "90%", "for": "1m"},
                "swap": {"critical": "50%"}}
    ev.replace_rules(rules(reloaded))
    # cpu's alert ends with the next sample; disk keeps firing without a second notification, and
    # memory's pending time still counts from t=0, so it fires at t=60.
    transitions = ev.evaluate(busy, 60.0)
    assert [(t["status"], t["labels"]["alertname"], t["endsAt"]) for t in transitions] == [
        ("resolved", "HostCpuHigh", "1970-01-01T00:01:00.000000Z"),
        ("firing", "HostMemoryHigh", "0001-01-01T00:00:00Z")]

    ev.replace_rules(rules(dict(reloaded, disk={"critical": "92%"})))
    transitions = ev.evaluate(busy, 70.0)
    assert [(t["status"], t["labels"]["alertname"], t["annotations"]["threshold"]) for t in transitions] == [
        ("resolved", "HostDiskUsageHigh", "90.0%"), ("firing", "HostDiskUsageHigh", "92.0%")]
    assert sorted(a["labels"]["alertname"] for a in ev.firing()) == ["HostDiskUsageHigh", "HostMemoryHigh"]


def test_new_host_labels_end_every_alert_and_start_it_again_under_the_new_labels():
    ev = evaluator({"disk": {"critical": "90%"}}, host_labels={"site": "lab"})
    before = ev.evaluate(disk(0.95), 0.0)
    ev.replace_rules(rules({"disk": {"critical": "90%"}}), {"site": "plant-2"})
    after = ev.evaluate(disk(0.95), 10.0)
    assert [(t["status"], t["labels"]["site"]) for t in after] == [("resolved", "lab"), ("firing", "plant-2")]
    assert after[0]["fingerprint"] == before[0]["fingerprint"] != after[1]["fingerprint"]
    ev.replace_rules(rules({"disk": {"critical": "90%"}}), {"site": "plant-2"})
    assert ev.evaluate(disk(0.95), 20.0) == []


def test_values_are_shown_in_their_unit():
    assert format_value("fleetmon_jetson_temperature_celsius", 81.46) == "81.5 °C"
    assert format_value("fleetmon_jetson_power_total_watts", 12.34) == "12.3 W"
    assert format_value("fleetmon_gpu_memory_used_bytes", 3.5 * 2**30) == "3.5 GiB"
    assert format_value("fleetmon_cpu_core_frequency_hertz", 1.9e9) == "1.9 GHz"
    assert format_value("fleetmon_check_cert_expiry_seconds", 5 * 86400) == "5.0d"
    assert format_value("fleetmon_check_duration_seconds", 0.25) == "0.25s"
    assert format_value("fleetmon_load1", 3.0) == "3"
