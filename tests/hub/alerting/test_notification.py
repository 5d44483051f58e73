"""The notification value and its Alertmanager webhook (v4) form, without I/O.

tests/hub/alerting/test_receivers.py compares the same form with what a real Alertmanager sends."""

from datetime import datetime, timezone

from fleetmon.hub.alerting.notification import AlertSnapshot, Notification, go_time, quote_meta
from fleetmon.protocol.alerts import fingerprint

T0 = datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=timezone.utc).timestamp()


def snapshot(host: str, ends_at: float | None = None, **labels: str) -> AlertSnapshot:
    return AlertSnapshot({"alertname": "HighCPU", "host": host, "env": "prod", **labels},
                         {"summary": f"CPU hot on {host}", "runbook": "r1"}, T0, ends_at, "http://hub/graph")


def notification(*alerts: AlertSnapshot, **extra) -> Notification:
    return Notification("team.ops", '{}/{env="prod"}:{alertname="HighCPU"}', {"alertname": "HighCPU"},
                        list(alerts), external_url="http://hub.example:9180", **extra)


def test_go_time_trims_trailing_zeros_like_rfc3339nano():
    assert go_time(T0) == "2024-01-02T03:04:05.12Z"
    assert go_time(1704164645.0) == "2024-01-02T03:04:05Z"
    assert go_time(1704164645.000001) == "2024-01-02T03:04:05.000001Z"
    assert go_time(0) == "1970-01-01T00:00:00Z"


def test_quote_meta_escapes_what_go_escapes_and_nothing_else():
    assert quote_meta("team.ops") == "team\\.ops"
    assert quote_meta("a+b*c?(d)|[e]{f}^g$h\\i") == "a\\+b\\*c\\?\\(d\\)\\|\\[e\\]\\{f\\}\\^g\\$h\\\\i"
    assert quote_meta("my-team #1 & co~") == "my-team #1 & co~"  # re.escape would escape these


def test_fingerprint_is_computed_from_labels_when_not_given():
    alert = snapshot("a")
    assert alert.fingerprint == fingerprint(alert.labels)
    assert AlertSnapshot({"a": "b"}, {}, T0, None, fingerprint="00000000000000ff").fingerprint == "00000000000000ff"


def test_webhook_payload_has_alertmanagers_keys_in_order_and_values():
    resolved_at = T0 + 60.5
    payload = notification(snapshot("b", instance="i"), snapshot("a", ends_at=resolved_at)).webhook_payload()
    assert list(payload) == ["receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations",
                             "externalURL", "version", "groupKey", "truncatedAlerts"]
    assert payload["receiver"] == "team\\.ops"
    assert payload["status"] == "firing"
    firing, resolved = payload["alerts"]
    assert list(firing) == ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"]
    labels = {"alertname": "HighCPU", "env": "prod", "host": "b", "instance": "i"}
    assert firing == {"status": "firing", "labels": labels, "annotations": {"runbook": "r1", "summary": "CPU hot on b"},
                      "startsAt": "2024-01-02T03:04:05.12Z", "endsAt": "0001-01-01T00:00:00Z",
                      "generatorURL": "http://hub/graph", "fingerprint": fingerprint(labels)}
    assert list(firing["labels"]) == sorted(firing["labels"])  # Go writes maps sorted by key
    assert resolved["status"] == "resolved"
    assert resolved["endsAt"] == "2024-01-02T03:05:05.62Z"
    assert payload["groupLabels"] == {"alertname": "HighCPU"}
    assert payload["commonLabels"] == {"alertname": "HighCPU", "env": "prod"}
    assert payload["commonAnnotations"] == {"runbook": "r1"}
    assert payload["externalURL"] == "http://hub.example:9180"
    assert payload["version"] == "4"
    assert payload["groupKey"] == '{}/{env="prod"}:{alertname="HighCPU"}'
    assert payload["truncatedAlerts"] == 0


def test_status_is_resolved_only_when_every_alert_is():
    done = notification(snapshot("a", ends_at=T0 + 1), snapshot("b", ends_at=T0 + 2))
    assert done.status == "resolved" and done.webhook_payload()["status"] == "resolved"
    assert len(done.resolved) == 2 and done.firing == []
    assert notification(snapshot("a", ends_at=T0 + 1), snapshot("b")).status == "firing"


def test_max_alerts_truncates_and_describes_only_the_alerts_sent():
    batch = notification(snapshot("a"), snapshot("b", ends_at=T0 + 5), snapshot("c", ends_at=T0 + 5))
    payload = batch.webhook_payload(max_alerts=1)
    assert [a["labels"]["host"] for a in payload["alerts"]] == ["a"]
    assert payload["truncatedAlerts"] == 2
    assert payload["commonLabels"]["host"] == "a"  # common to the one alert sent
    assert payload["commonAnnotations"] == {"runbook": "r1", "summary": "CPU hot on a"}
    tail = notification(snapshot("b", ends_at=T0 + 5), snapshot("a")).webhook_payload(max_alerts=1)
    assert tail["status"] == "resolved"  # the firing alert was cut off, as Alertmanager computes it
    assert batch.webhook_payload(max_alerts=3)["truncatedAlerts"] == 0
    assert len(batch.webhook_payload(max_alerts=0)["alerts"]) == 3


def test_reason_and_route_labels_appear_only_when_set_where_newer_alertmanagers_put_them():
    payload = notification(snapshot("a"), reason="first notification", route_labels={"team": "ops"}).webhook_payload()
    assert list(payload) == ["receiver", "status", "alerts", "notification_reason", "groupLabels", "commonLabels",
                             "commonAnnotations", "routeLabels", "externalURL", "version", "groupKey",
                             "truncatedAlerts"]
    assert payload["notification_reason"] == "first notification"
    assert payload["routeLabels"] == {"team": "ops"}


def test_with_alerts_keeps_everything_else():
    batch = notification(snapshot("a"), snapshot("b", ends_at=T0 + 5), reason="some alerts resolved", tier=2)
    only_firing = batch.with_alerts(batch.firing)
    assert [a.labels["host"] for a in only_firing.alerts] == ["a"]
    assert (only_firing.receiver, only_firing.group_key, only_firing.reason, only_firing.tier) == \
        (batch.receiver, batch.group_key, "some alerts resolved", 2)
    assert len(batch.alerts) == 2


def test_an_empty_batch_has_empty_common_maps():
    payload = notification().webhook_payload()
    assert payload["alerts"] == [] and payload["commonLabels"] == {} and payload["status"] == "resolved"
