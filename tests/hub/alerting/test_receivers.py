"""Receivers against real peers: an HTTP sink, an SMTP server, the MQTT broker, a real Alertmanager; and the
config errors a user sees for what we do not support."""

import hashlib
import hmac
import json
import time

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon import __version__
from fleetmon.config_reader import ConfigError, Errors, Node
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.receivers import DeliveryError, Integration, ReceiverContext, parse_global, parse_receivers
from fleetmon.hub.alerting.receivers.pagerduty import dedup_key
from tests.conftest import Recorder, free_port
from tests.hub.alerting.conftest import SmtpSink
from tests.polling import wait_until

GROUP_KEY = '{}/{env="prod"}:{alertname="HighCPU"}'


# --- helpers ----------------------------------------------------------------------------------------------

def load(doc, context: ReceiverContext | None = None):
    """Receivers of an alertmanager.yml-shaped document (a dict or YAML text); ConfigError on errors."""
    doc = yaml.safe_load(doc) if isinstance(doc, str) else doc
    errors = Errors()
    glob = parse_global(Node(doc.get("global"), "global", errors).mapping())
    receivers = parse_receivers(Node(doc.get("receivers"), "receivers", errors), glob, context)
    if errors:
        raise ConfigError(errors)
    return receivers


def config_errors(doc) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(doc)
    return caught.value.errors


def integration(kind: str, config: dict, glob: dict | None = None, context: ReceiverContext | None = None):
    receivers = load({"global": glob or {}, "receivers": [{"name": "team.ops", f"{kind}_configs": [config]}]},
                     context)
    return receivers["team.ops"].integrations[0]


def alert(host: str, resolved: bool = False, **labels: str) -> AlertSnapshot:
    start = time.time() - 120
    return AlertSnapshot({"alertname": "HighCPU", "env": "prod", "host": host, **labels},
                         {"summary": f"CPU above 90% on {host}"}, start, start + 60 if resolved else None,
                         f"http://hub.example/hosts/{host}")


def batch(*alerts: AlertSnapshot) -> Notification:
    return Notification("team.ops", GROUP_KEY, {"alertname": "HighCPU"}, list(alerts),
                        external_url="http://hub.example:9180")


def send(target: Integration, notification: Notification) -> None:
    """What the delivery layer does for one attempt."""
    prepared = target.prepare(notification)
    assert prepared is not None
    target.send(prepared)


# --- configuration ----------------------------------------------------------------------------------------

def test_receivers_load_with_alertmanagers_keys_and_name_their_integrations(tmp_path):
    (tmp_path / "url").write_text("http://127.0.0.1:9/secret-hook\n")
    receivers = load(f"""
global:
  resolve_timeout: 10m
  slack_api_url: http://127.0.0.1:9/slack
  smtp_smarthost: 127.0.0.1:25
  smtp_from: hub@example.com
receivers:
- name: blackhole
- name: team.ops
  webhook_configs:
  - url: http://127.0.0.1:9/one
  - url_file: {tmp_path / "url"}
    send_resolved: false
    max_alerts: 5
  slack_configs:
  - channel: '#ops'
  email_configs:
  - to: ops@example.com
""")
    assert list(receivers) == ["blackhole", "team.ops"]
    assert receivers["blackhole"].integrations == []
    ops = receivers["team.ops"].integrations
    assert [i.name for i in ops] == ["webhook[0]", "webhook[1]", "slack[0]", "email[0]"]
    assert all(i.receiver == "team.ops" for i in ops)
    assert ops[1].url == "http://127.0.0.1:9/secret-hook" and ops[1].max_alerts == 5
    assert [i.send_resolved for i in ops] == [True, False, False, False]  # Alertmanager's defaults per kind
    assert ops[2].api_url == "http://127.0.0.1:9/slack"
    assert (ops[3].host, ops[3].port, ops[3].sender.source) == ("127.0.0.1", 25, "hub@example.com")
    assert "secret-hook" not in repr(ops[1])


def test_unknown_keys_are_errors_with_their_key_path():
    errors = config_errors({"receivers": [{"name": "a", "webhook_configs": [{"url": "http://x/", "foo": 1}],
                                           "email_configs": [{"to": "a@b", "smarthost": "h:25", "from": "f@b",
                                                              "tls_config": {"server_nam": "x"}}]}]})
    assert any(e.startswith("receivers[0].webhook_configs[0].foo: unknown key") for e in errors), errors
    assert any(e.startswith("receivers[0].email_configs[0].tls_config.server_nam: unknown key") for e in errors)
    errors = config_errors({"global": {"smtp_auth_bogus": "x"}, "receivers": [{"name": "a", "bogus": 1}]})
    assert any(e.startswith("global.smtp_auth_bogus: unknown key") for e in errors), errors
    assert any(e.startswith("receivers[0].bogus: unknown key") for e in errors), errors


def test_incidentio_keys_alertmanager_does_not_have_are_unknown_and_its_token_is_required():
    errors = config_errors({"global": {"incidentio_api_key": "k"},
                            "receivers": [{"name": "a", "incidentio_configs": [{"url": "http://x/"}]}]})
    assert len(errors) == 2, errors
    assert errors[0].startswith("global.incidentio_api_key: unknown key")
    assert "receivers[0].incidentio_configs[0].alert_source_token: alert_source_token, alert_source_token_file or "\
           "http_config.authorization is required" in errors


def test_a_template_that_does_not_parse_is_an_error_with_its_key_path():
    errors = config_errors({"receivers": [{"name": "a", "slack_configs": [
        {"api_url": "http://x/", "text": "{{ .CommonAnnotations.summary "}], "email_configs": [
        {"to": "a@b", "from": "f@b", "smarthost": "h:25", "headers": {"Subject": "{{ nosuchfunction . }}"}}]}]})
    assert any(e.startswith("receivers[0].slack_configs[0].text: template does not parse: line 1") for e in errors)
    assert any(e.startswith("receivers[0].email_configs[0].headers.Subject: template does not parse")
               and "nosuchfunction" in e for e in errors), errors


def test_missing_and_malformed_values_are_errors(tmp_path):
    errors = config_errors({"receivers": [
        {"name": "a", "webhook_configs": [{"send_resolved": True}, {"url": "ftp://x/"}],
         "slack_configs": [{}], "email_configs": [{"smarthost": "no-port"}],
         "pagerduty_configs": [{"severity": "info"}], "mqtt_configs": [{"topic": "alerts/#"}],
         "file_configs": [{"path": str(tmp_path / "missing" / "x.jsonl")}],
         "alertmanager_configs": [{}]},
        {"name": "a"}, {"webhook_configs": []},
        {"name": "b", "webhook_configs": [{"url": "http://x/", "http_config": {
            "bearer_token": "t", "basic_auth": {"username": "u"}, "tls_config": {"ca_file": "/nonexistent.pem"}}}]},
    ]})
    expected = [
        "receivers[0].webhook_configs[0].url: url or url_file is required",
        "receivers[0].webhook_configs[1].url: must be an absolute http:// or https:// URL",
        "receivers[0].slack_configs[0].api_url: api_url, api_url_file or the global slack_api_url is required",
        "receivers[0].email_configs[0].to: required",
        "receivers[0].email_configs[0].from: required",
        "receivers[0].email_configs[0].smarthost: must be host:port",
        "receivers[0].pagerduty_configs[0].routing_key: routing_key or routing_key_file (Events API v2), or "
        "service_key",
        "receivers[0].mqtt_configs[0].topic: a topic to publish on cannot hold the wildcards",
        "receivers[0].file_configs[0].path: directory",
        "receivers[0].alertmanager_configs[0].url: required",
        "receivers[1].name: receiver 'a' is defined twice",
        "receivers[2].name: required",
        "receivers[3].webhook_configs[0].http_config: set at most one of",
        "receivers[3].webhook_configs[0].http_config.tls_config.ca_file: cannot load /nonexistent.pem",
    ]
    for prefix in expected:
        assert any(e.startswith(prefix) for e in errors), f"{prefix!r} not in {errors}"
    assert len(errors) == len(expected), errors


# --- webhook ----------------------------------------------------------------------------------------------

def test_webhook_posts_the_alertmanager_payload(http_sink):
    hook = integration("webhook", {"url": http_sink.url("/hooks/ops?x=1")})
    notification = batch(alert("a"), alert("b", resolved=True))
    send(hook, notification)
    request = http_sink.wait()[0]
    assert (request.method, request.path) == ("POST", "/hooks/ops?x=1")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == f"fleetmon/{__version__}"
    body = request.json()
    assert json.dumps(body) == json.dumps(notification.webhook_payload())  # same keys in the same order
    assert body["receiver"] == "team\\.ops"
    assert [a["status"] for a in body["alerts"]] == ["firing", "resolved"]
    assert body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"


def test_webhook_payload_is_what_a_real_alertmanager_sends(alertmanager, http_sink):
    """The same alerts through Alertmanager 0.25 and through our webhook give identical JSON: keys, order,
    escaping, times, fingerprints, common labels; for a first notification and a partly resolved one."""
    alertmanager.restart(f"""
route:
  receiver: team.ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
- name: team.ops
  webhook_configs:
  - url: {http_sink.url("/alertmanager")}
""")
    start = time.time() - 300
    posted = [{"labels": {"alertname": "HighCPU", "host": host, "env": "prod"},
               "annotations": {"summary": f"CPU hot on {host}", "runbook": "https://runbooks/cpu"},
               "startsAt": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start))}.25Z",
               "generatorURL": f"http://hub/{host}"} for host in ("a", "b")]
    alertmanager.post_alerts(posted)
    http_sink.wait(1, path="/alertmanager", timeout=20)
    posted[1]["endsAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    alertmanager.post_alerts(posted[1:])
    theirs = [r.json() for r in http_sink.wait(2, path="/alertmanager", timeout=20)[:2]]
    assert [a["status"] for a in theirs[1]["alerts"]] == ["firing", "resolved"]

    hook = integration("webhook", {"url": http_sink.url("/fleetmon")})
    for payload in theirs:
        alerts = [AlertSnapshot(a["labels"], a["annotations"], _unix(a["startsAt"]),
                                None if a["status"] == "firing" else _unix(a["endsAt"]), a["generatorURL"])
                  for a in payload["alerts"]]
        send(hook, Notification("team.ops", payload["groupKey"], payload["groupLabels"], alerts,
                                external_url=alertmanager.url))
    ours = [r.json() for r in http_sink.wait(2, path="/fleetmon")]
    assert [json.dumps(p) for p in ours] == [json.dumps(p) for p in theirs]


def _unix(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize(("http_config", "header"), [
    ({"authorization": {"credentials": "tok"}}, "Bearer tok"),
    ({"authorization": {"type": "Token", "credentials_file": "{secret}"}}, "Token from-file"),
    ({"bearer_token": "tok2"}, "Bearer tok2"),
    ({"bearer_token_file": "{secret}"}, "Bearer from-file"),
    ({"basic_auth": {"username": "hub", "password": "pw"}}, "Basic aHViOnB3"),
    ({"basic_auth": {"username": "hub", "password_file": "{secret}"}}, "Basic aHViOmZyb20tZmlsZQ=="),
])
def test_webhook_authenticates_as_http_config_says(http_sink, tmp_path, http_config, header):
    (tmp_path / "secret").write_text("from-file\n")
    config = json.loads(json.dumps(http_config).replace("{secret}", str(tmp_path / "secret")))
    send(integration("webhook", {"url": http_sink.url(), "http_config": config}), batch(alert("a")))
    assert http_sink.wait()[0].headers["Authorization"] == header


def test_global_http_config_is_the_default_of_every_http_receiver(http_sink):
    hook = integration("webhook", {"url": http_sink.url()}, glob={"http_config": {"bearer_token": "global"}})
    send(hook, batch(alert("a")))
    assert http_sink.wait()[0].headers["Authorization"] == "Bearer global"


def test_webhook_signature_is_hmac_sha256_of_the_exact_body(http_sink, tmp_path):
    (tmp_path / "hmac").write_text("shared-secret\n")
    send(integration("webhook", {"url": http_sink.url(), "hmac_secret_file": str(tmp_path / "hmac")}),
         batch(alert("a")))
    request = http_sink.wait()[0]
    expected = hmac.new(b"shared-secret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Fleetmon-Signature"] == f"sha256={expected}"
    send(integration("webhook", {"url": http_sink.url()}), batch(alert("a")))
    assert "X-Fleetmon-Signature" not in http_sink.wait(2)[1].headers


def test_send_resolved_false_drops_resolved_alerts_and_sends_nothing_when_all_are_resolved(http_sink):
    hook = integration("webhook", {"url": http_sink.url(), "send_resolved": False})
    assert hook.prepare(batch(alert("a", resolved=True), alert("b", resolved=True))) is None
    send(hook, batch(alert("a", resolved=True), alert("b"), alert("c", resolved=True)))
    body = http_sink.wait()[0].json()
    assert [(a["labels"]["host"], a["status"]) for a in body["alerts"]] == [("b", "firing")]
    assert body["commonLabels"]["host"] == "b"
    everything = integration("webhook", {"url": http_sink.url()})  # send_resolved defaults to true
    mixed = batch(alert("a", resolved=True), alert("b"))
    assert everything.prepare(mixed) is mixed


def test_webhook_max_alerts_truncates_and_counts(http_sink):
    send(integration("webhook", {"url": http_sink.url(), "max_alerts": 2}),
         batch(alert("a"), alert("b"), alert("c"), alert("d")))
    body = http_sink.wait()[0].json()
    assert [a["labels"]["host"] for a in body["alerts"]] == ["a", "b"]
    assert body["truncatedAlerts"] == 2


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (400, False),
                                                   (401, False), (404, False), (301, False)])
def test_http_answers_say_whether_to_retry(http_sink, status, retryable):
    http_sink.respond(status)
    with pytest.raises(DeliveryError) as caught:
        send(integration("webhook", {"url": http_sink.url()}), batch(alert("a")))
    assert caught.value.status == status and caught.value.retryable is retryable
    assert f"HTTP {status}" in str(caught.value)


def test_unreachable_and_silent_peers_are_retryable_failures(http_sink):
    closed = free_port()
    with pytest.raises(DeliveryError) as refused:
        send(integration("webhook", {"url": f"http://127.0.0.1:{closed}/"}), batch(alert("a")))
    assert refused.value.retryable and refused.value.status is None
    http_sink.respond(200, delay=5)
    began = time.monotonic()
    with pytest.raises(DeliveryError) as slow:
        send(integration("webhook", {"url": http_sink.url(), "timeout": "300ms"}), batch(alert("a")))
    assert time.monotonic() - began < 4
    assert slow.value.retryable and "no answer within 0.3s" in str(slow.value)


def test_https_verifies_against_the_configured_ca(make_http_sink, certificate):
    sink = make_http_sink(certificate)
    ca = {"tls_config": {"ca_file": str(certificate.cert)}}
    trusted = integration("webhook", {"url": sink.url(), "http_config": ca})
    send(trusted, batch(alert("a")))
    assert sink.wait()[0].json()["alerts"][0]["labels"]["host"] == "a"
    with pytest.raises(DeliveryError) as untrusted:
        send(integration("webhook", {"url": sink.url()}), batch(alert("a")))
    assert not untrusted.value.retryable and "certificate not trusted" in str(untrusted.value)
    wrong_name = integration("webhook", {"url": sink.url(), "http_config": {"tls_config": {
        "ca_file": str(certificate.cert), "server_name": "other.example"}}})
    with pytest.raises(DeliveryError, match="certificate not trusted"):
        send(wrong_name, batch(alert("a")))
    skip = integration("webhook", {"url": sink.url(), "http_config": {"tls_config": {"insecure_skip_verify": True}}})
    send(skip, batch(alert("b")))
    assert len(sink.wait(2)) == 2


# --- Slack ------------------------------------------------------------------------------------------------

def test_slack_message_with_alertmanagers_default_templates(http_sink):
    slack = integration("slack", {"api_url": http_sink.url("/services/T0/B0/x"), "channel": "#ops",
                                  "icon_emoji": ":fire:", "send_resolved": True})
    send(slack, batch(alert("a"), alert("b", resolved=True)))
    message = http_sink.wait()[0].json()
    assert message["channel"] == "#ops" and message["icon_emoji"] == ":fire:"
    assert message["username"] == "Alertmanager"  # slack.default.username
    (attachment,) = message["attachments"]
    assert attachment["title"] == "[FIRING:1] HighCPU (prod)"  # __subject: the common labels' values
    assert attachment["title_link"] == "http://hub.example:9180/#/alerts?receiver=team%5C.ops"
    assert attachment["fallback"] == "[FIRING:1] HighCPU (prod) | http://hub.example:9180/#/alerts?receiver=team%5C.ops"
    assert attachment["color"] == "danger"
    assert attachment["text"] == "" and attachment["footer"] == "" and attachment["callback_id"] == ""
    assert attachment["mrkdwn_in"] == ["fallback", "pretext", "text"]
    send(slack, batch(alert("a", resolved=True)))
    resolved = http_sink.wait(2)[1].json()["attachments"][0]
    assert resolved["title"] == "[RESOLVED] HighCPU (prod a)" and resolved["color"] == "good"


def test_slack_literal_texts_and_global_url(http_sink):
    slack = integration("slack", {"title": "CPU trouble", "text": "see the dashboard", "color": "#ff8800"},
                        glob={"slack_api_url": http_sink.url("/global")})
    assert slack.send_resolved is False
    send(slack, batch(alert("a")))
    request = http_sink.wait()[0]
    assert request.path == "/global"
    attachment = request.json()["attachments"][0]
    assert (attachment["title"], attachment["text"], attachment["color"]) == \
        ("CPU trouble", "see the dashboard", "#ff8800")


# --- PagerDuty --------------------------------------------------------------------------------------------

def test_pagerduty_trigger_then_resolve_share_the_dedup_key(http_sink):
    pagerduty = integration("pagerduty", {"routing_key": "R0UT1NG", "url": http_sink.url("/v2/enqueue"),
                                          "component": "cpu", "details": {"team": "ops"}})
    http_sink.respond(202, 202)
    send(pagerduty, batch(alert("a", severity="warning"), alert("b", severity="critical")))
    send(pagerduty, batch(alert("a", resolved=True, severity="warning"), alert("b", resolved=True,
                                                                               severity="critical")))
    trigger, resolve = (r.json() for r in http_sink.wait(2))
    assert trigger["routing_key"] == "R0UT1NG"
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    assert dedup_key(GROUP_KEY) == trigger["dedup_key"]
    payload = trigger["payload"]
    assert payload["summary"] == "[FIRING:2] HighCPU (prod)"  # pagerduty.default.description
    assert payload["severity"] == "critical"  # the most severe label among the alerts
    assert payload["component"] == "cpu" and payload["source"] == "Alertmanager" == trigger["client"]
    details = payload["custom_details"]  # Alertmanager 0.30+: the alerts as objects, the counts as numbers
    assert details["num_firing"] == 2 and details["num_resolved"] == 0 and details["team"] == "ops"
    assert [a["labels"]["host"] for a in details["firing"]] == ["a", "b"] and details["resolved"] == []
    assert details["firing"][1]["annotations"] == {"summary": "CPU above 90% on b"}
    assert details["firing"][0]["status"] == "firing" and details["firing"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert trigger["client_url"] == "http://hub.example:9180/#/alerts?receiver=team%5C.ops"


def test_pagerduty_summary_is_cut_to_1024_characters_and_429_is_retried(http_sink):
    pagerduty = integration("pagerduty", {"routing_key": "k", "url": http_sink.url(), "description": "x" * 2000,
                                          "severity": "info"})
    http_sink.respond(429)
    with pytest.raises(DeliveryError) as caught:
        send(pagerduty, batch(alert("a")))
    assert caught.value.retryable
    event = http_sink.wait()[0].json()
    assert len(event["payload"]["summary"]) == 1024 and event["payload"]["severity"] == "info"


# --- email ------------------------------------------------------------------------------------------------

def email_config(sink: SmtpSink, **extra) -> dict:
    return {"to": "ops@example.com, Oncall <oncall@example.com>", "from": "fleetmon <hub@example.com>",
            "smarthost": f"127.0.0.1:{sink.port}", "hello": "hub.example", "require_tls": False, **extra}


def test_email_in_plain_smtp_with_text_and_html(make_smtp_sink):
    sink = make_smtp_sink()
    mailer = integration("email", email_config(sink, headers={"X-Team": "ops", "subject": "CPU!"},
                                               text='{{ template "__text_alert_list" .Alerts }}'))
    send(mailer, batch(alert("a"), alert("b")))
    (mail,) = sink.wait()
    assert mail.mail_from == "hub@example.com"
    assert mail.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    assert mail.message["Subject"] == "CPU!" and mail.message["X-Team"] == "ops"
    assert mail.message["To"] == "ops@example.com, Oncall <oncall@example.com>"
    assert mail.message["Message-Id"].endswith("@hub.example>")
    assert mail.message.get_content_type() == "multipart/alternative"
    assert " - host = b\r\nAnnotations:\r\n - summary = CPU above 90% on b\r\n" in mail.part("text/plain")
    html = mail.part("text/html")  # email.default.html
    assert "summary = CPU above 90% on a<br>" in html and "<title>[FIRING:2] HighCPU (prod)</title>" in html
    assert mail.login is None and not mail.tls


def test_email_default_subject_and_auth_without_tls(make_smtp_sink):
    sink = make_smtp_sink(users={"hub": "s3cret"})
    send(integration("email", email_config(sink, auth_username="hub", auth_password="s3cret")), batch(alert("a")))
    (mail,) = sink.wait()
    assert mail.login == "hub"
    assert mail.message["Subject"] == "[FIRING:1] HighCPU (prod a)"  # email.default.subject
    assert mail.message.get_content_type() == "text/html"  # no text: no plain-text part, as in Alertmanager
    with pytest.raises(DeliveryError) as refused:
        send(integration("email", email_config(sink, auth_username="hub", auth_password="wrong")), batch(alert("a")))
    assert refused.value.status == 535 and not refused.value.retryable


def test_email_over_starttls_with_auth(make_smtp_sink, certificate):
    sink = make_smtp_sink(users={"hub": "s3cret"}, certificate=certificate)
    mailer = integration("email", email_config(sink, require_tls=True, auth_username="hub", auth_password="s3cret",
                                               auth_identity="hub", tls_config={"ca_file": str(certificate.cert)}))
    send(mailer, batch(alert("a")))
    (mail,) = sink.wait()
    assert mail.tls and mail.login == "hub"
    assert "CPU above 90% on a" in mail.message.get_content()
    untrusted = integration("email", email_config(sink, require_tls=True))
    with pytest.raises(DeliveryError, match="certificate not trusted") as caught:
        send(untrusted, batch(alert("a")))
    assert not caught.value.retryable


def test_email_refuses_clear_text_when_tls_is_required(make_smtp_sink):
    sink = make_smtp_sink()
    mailer = integration("email", {**email_config(sink), "require_tls": True})
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as caught:
        send(mailer, batch(alert("a")))
    assert not caught.value.retryable
    assert sink.mails == []
    with pytest.raises(DeliveryError, match="offers no AUTH"):
        send(integration("email", email_config(sink, auth_username="hub", auth_password="x")), batch(alert("a")))


def test_email_to_a_closed_port_is_retryable():
    mailer = integration("email", {"to": "a@example.com", "from": "h@example.com",
                                   "smarthost": f"127.0.0.1:{free_port()}", "require_tls": False})
    with pytest.raises(DeliveryError) as caught:
        send(mailer, batch(alert("a")))
    assert caught.value.retryable


# --- MQTT -------------------------------------------------------------------------------------------------

def test_mqtt_publishes_the_webhook_payload(broker):
    recorder = Recorder(broker, topic="ops/#")
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
            info = client.publish(topic, payload, qos=qos, retain=retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise ConnectionError(mqtt.error_string(info.rc))
            info.wait_for_publish(5)

        target = integration("mqtt", {"topic": "ops/alerts/notifications"}, context=ReceiverContext(publish))
        notification = batch(alert("a"), alert("b", resolved=True))
        send(target, notification)
        (received,) = recorder.wait("notifications")
        assert received == notification.webhook_payload()
        message = recorder.messages[0]
        assert message.topic == "ops/alerts/notifications" and message.qos == 1 and not message.retain
    finally:
        client.loop_stop()
        client.disconnect()
        recorder.close()


def test_mqtt_without_a_connection_is_a_retryable_failure():
    target = integration("mqtt", {"topic": "ops/alerts", "qos": 0}, context=ReceiverContext())
    with pytest.raises(DeliveryError, match="no MQTT connection") as caught:
        send(target, batch(alert("a")))
    assert caught.value.retryable

    def broken(topic, payload, qos, retain):
        raise ConnectionError("not connected")

    with pytest.raises(DeliveryError, match="not connected"):
        send(integration("mqtt", {"topic": "ops/alerts"}, context=ReceiverContext(broken)), batch(alert("a")))


# --- forwarding to Alertmanager ---------------------------------------------------------------------------

def test_alerts_forwarded_to_a_real_alertmanager_fire_then_resolve(alertmanager):
    forward = integration("alertmanager", {"url": alertmanager.url + "/"})
    firing = batch(alert("a", severity="warning"))
    send(forward, firing)
    (held,) = wait_until(lambda: alertmanager.alerts(), message="the forwarded alert in Alertmanager")
    assert held["labels"] == {"alertname": "HighCPU", "env": "prod", "host": "a", "severity": "warning"}
    assert held["annotations"] == {"summary": "CPU above 90% on a"}
    assert held["status"]["state"] == "active"
    assert held["generatorURL"] == "http://hub.example/hosts/a"
    assert held["fingerprint"] == firing.alerts[0].fingerprint
    assert _unix(held["startsAt"]) == pytest.approx(firing.alerts[0].starts_at, abs=0.001)
    assert _unix(held["endsAt"]) > time.time() + 4 * 3600  # firing_ttl: outlives the next repeat
    resolved = firing.alerts[0]
    resolved.ends_at = time.time() - 1
    send(forward, firing.with_alerts([resolved]))
    wait_until(lambda: alertmanager.alerts() == [], message="Alertmanager to see the alert resolved")


# --- file -------------------------------------------------------------------------------------------------

def test_file_appends_one_json_line_per_notification(tmp_path, capsys):
    path = tmp_path / "notifications.jsonl"
    sink = integration("file", {"path": str(path)})
    first, second = batch(alert("a")), batch(alert("a", resolved=True))
    send(sink, first)
    send(sink, second)
    assert [json.loads(line) for line in path.read_text().splitlines()] == \
        [first.webhook_payload(), second.webhook_payload()]
    send(integration("file", {"path": "-"}), first)
    assert json.loads(capsys.readouterr().out) == first.webhook_payload()


# --- Apprise ----------------------------------------------------------------------------------------------

def test_apprise_reaches_a_json_endpoint(http_sink):
    target = integration("apprise", {"urls": [f"json://127.0.0.1:{http_sink.port}/notify"], "send_resolved": True})
    send(target, batch(alert("a")))
    send(target, batch(alert("a", resolved=True)))
    firing, resolved = http_sink.wait(2)
    assert firing.path == "/notify"
    assert firing.json()["title"] == "[FIRING:1] HighCPU (prod a)"  # apprise.default.title: __subject
    assert firing.json()["message"].startswith("Alerts Firing:\nLabels:\n - alertname = HighCPU\n")
    assert " - summary = CPU above 90% on a\n" in firing.json()["message"]
    assert (firing.json()["type"], resolved.json()["type"]) == ("failure", "success")
    http_sink.respond(500)
    with pytest.raises(DeliveryError, match=r"Apprise could not notify json://127\.0\.0\.1") as caught:
        send(target, batch(alert("a")))
    assert caught.value.retryable


def test_apprise_urls_are_checked_when_the_config_loads():
    errors = config_errors({"receivers": [{"name": "a", "apprise_configs": [
        {"urls": ["json://127.0.0.1:1/ok", "nosuchservice://x", 5], "title": "{{ .Status "}, {}]}]})
    assert any(e.startswith("receivers[0].apprise_configs[0].urls[1]: not an Apprise URL") for e in errors), errors
    assert any(e.startswith("receivers[0].apprise_configs[0].urls[2]: must be a string") for e in errors)
    assert any(e.startswith("receivers[0].apprise_configs[0].title: template does not parse") for e in errors)
    assert any(e.startswith("receivers[0].apprise_configs[1].urls: required") for e in errors)
