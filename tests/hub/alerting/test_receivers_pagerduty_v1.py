"""PagerDuty's Events API v1 (``service_key``): the event a real Alertmanager (Debian's 0.25) sends and the hub's,
compared field for field; v1's retry rule; and the details as Alertmanager 0.30+ renders them (trees of templates).

Alertmanager always posts v1 events to events.pagerduty.com, so it reaches the test's HTTPS sink through a
CONNECT proxy that tunnels every host to that sink, which holds a certificate for events.pagerduty.com that
Alertmanager is told to trust.
"""

import hashlib
import time

import pytest
import yaml

from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.receivers import DeliveryError
from tests.hub.alerting.conftest import Certificate, self_signed
from tests.hub.alerting.test_receivers import alert, batch, config_errors, integration, send
from tests.hub.alerting.test_receivers_proxies import HttpProxy


@pytest.fixture(scope="module")
def pagerduty_certificate(tmp_path_factory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("pagerduty"), "events.pagerduty.com", "DNS:events.pagerduty.com")


def test_a_v1_event_is_what_a_real_alertmanager_sends(alertmanager, make_http_sink, pagerduty_certificate):
    pagerduty_sink, ours_sink = make_http_sink(pagerduty_certificate), make_http_sink()
    proxy = HttpProxy(route=lambda host, port: ("127.0.0.1", pagerduty_sink.port))  # every host is the sink
    try:
        entry = {"service_key": "S3RV1CE", "client": "fleet {{ .Status }}", "description": "{{ len .Alerts }} down",
                 "details": {"team": "ops"}}
        alertmanager.restart(yaml.safe_dump({
            "route": {"receiver": "team.ops", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s"},
            "receivers": [{"name": "team.ops", "pagerduty_configs": [
                {**entry, "http_config": {"proxy_url": proxy.url(),
                                          "tls_config": {"ca_file": str(pagerduty_certificate.cert)}}}]}]}))
        start = time.time() - 300
        alertmanager.post_alerts([{"labels": {"alertname": "HighCPU", "host": "a"},
                                   "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))}])
        (request,) = pagerduty_sink.wait(1, timeout=20)
        assert request.path == "/generic/2010-04-15/create_event.json"
        assert [a.target for a in proxy.asked] == ["events.pagerduty.com:443"]
        theirs = request.json()
    finally:
        proxy.close()
    group_key = '{}:{alertname="HighCPU"}'
    send(integration("pagerduty", {**entry, "url": ours_sink.url("/v1")}),
         Notification("team.ops", group_key, {"alertname": "HighCPU"},
                      [AlertSnapshot({"alertname": "HighCPU", "host": "a"}, {}, start, None, "")],
                      external_url=alertmanager.url))
    ours = ours_sink.wait()[0].json()
    assert theirs["incident_key"] == hashlib.sha256(group_key.encode()).hexdigest()
    assert theirs["details"]["team"] == "ops"  # 0.25 sends its details as strings; 0.30+ as below
    assert {k: v for k, v in ours.items() if k != "details"} == {k: v for k, v in theirs.items() if k != "details"}
    assert list(ours) == list(theirs)  # the same keys in the same order: event_action "" and payload null too
    assert (ours["client"], ours["description"]) == ("fleet firing", "1 down")
    assert ours["details"]["num_firing"] == 1 and ours["details"]["firing"][0]["labels"]["host"] == "a"


def test_a_v1_resolve_has_no_client_and_v1s_rate_limit_is_a_403(http_sink, tmp_path):
    (tmp_path / "service.key").write_text("from-file\n")
    pagerduty = integration("pagerduty", {"service_key_file": str(tmp_path / "service.key"), "url": http_sink.url()})
    send(pagerduty, batch(alert("a", resolved=True)))
    resolve = http_sink.wait()[0].json()
    assert resolve["event_type"] == "resolve" and resolve["service_key"] == "from-file"
    assert "client" not in resolve and "client_url" not in resolve
    for status, retryable in ((403, True), (429, False), (503, True), (400, False)):
        http_sink.respond(status)
        with pytest.raises(DeliveryError) as caught:
            send(pagerduty, batch(alert("a")))
        assert (caught.value.status, caught.value.retryable) == (status, retryable)


def test_the_routing_key_is_a_template_and_an_empty_one_is_refused_without_a_request(http_sink):
    send(integration("pagerduty", {"routing_key": "key-{{ .CommonLabels.env }}", "url": http_sink.url()}),
         batch(alert("a")))
    assert http_sink.wait()[0].json()["routing_key"] == "key-prod"
    with pytest.raises(DeliveryError, match="routing key is empty after templating") as caught:
        send(integration("pagerduty", {"routing_key": "{{ .CommonLabels.nothing }}", "url": http_sink.url()}),
             batch(alert("a")))
    assert not caught.value.retryable and len(http_sink.requests) == 1


def test_details_are_trees_of_templates_read_back_as_structure(http_sink):
    details = {"num_firing": "{{ .Alerts.Firing | len }} of {{ len .Alerts }}",
               "hosts": ["{{ (index .Alerts 0).Labels.host }}", 7],
               "by": {"{{ .GroupLabels.alertname }}": "{{ .CommonLabels | toJson }}"}}
    send(integration("pagerduty", {"routing_key": "k", "url": http_sink.url(), "details": details}),
         batch(alert("a"), alert("b")))
    sent = http_sink.wait()[0].json()["payload"]["custom_details"]
    assert sent["num_firing"] == "2 of 2"  # a string: it does not read as a number
    assert sent["hosts"] == ["a", 7] and sent["by"] == {"HighCPU": {"alertname": "HighCPU", "env": "prod"}}
    assert sent["num_resolved"] == 0 and sent["resolved"] == [] and len(sent["firing"]) == 2


def test_pagerduty_key_errors():
    errors = config_errors({"receivers": [{"name": "a", "pagerduty_configs": [
        {"severity": "info"}, {"service_key": "a", "service_key_file": "/x"}, {"routing_key": "{{ .Status "}]}]})
    prefix = "receivers[0].pagerduty_configs"
    assert any(e.startswith(f"{prefix}[0].routing_key: routing_key or routing_key_file (Events API v2), or "
                            "service_key") for e in errors), errors
    assert any(e.startswith(f"{prefix}[1].service_key_file: set service_key or service_key_file, not both")
               for e in errors), errors
    assert any(e.startswith(f"{prefix}[2].routing_key: template does not parse") for e in errors), errors
