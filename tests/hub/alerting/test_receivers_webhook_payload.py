"""A webhook's custom ``payload`` and templated ``url`` (Alertmanager 0.34), sent to a real HTTP sink.

Debian's Alertmanager (0.25) has neither, so the cases are Alertmanager's own (notify/webhook/webhook_test.go,
template/template_test.go's TestDeepCopyWithTemplate) with their expected bodies, and yaml.v2's rules for what
a rendered string reads as (gopkg.in/yaml.v2 resolve.go), each a row below.
"""

import hashlib
import hmac
import json
import math
import time

import pytest
import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.receivers import DeliveryError
from fleetmon.hub.alerting.receivers.go_yaml import MAX_VALUES, read, read_yaml
from fleetmon.hub.alerting.receivers.template_tree import parse_tree, render_tree
from fleetmon.hub.alerting.templates import TemplateSet, example_data
from tests.hub.alerting.test_receivers import config_errors, integration, send

START = time.mktime((2020, 1, 1, 0, 0, 0, 0, 0, 0)) - time.timezone
GROUP_KEY = '{}:{alertname="test1"}'


def notification(*label_sets: dict, annotations: dict | None = None) -> Notification:
    """Alertmanager's test alerts: started 2020-01-01, ended an hour later, from http://generator.url."""
    alerts = [AlertSnapshot(labels, annotations or {}, START, START + 3600, "http://generator.url")
              for labels in label_sets]
    return Notification("test_receiver", GROUP_KEY, {}, alerts, external_url="http://am.example")


def sent(http_sink, payload, note: Notification | None = None, **config):
    send(integration("webhook", {"url": http_sink.url("/hook"), "payload": payload, **config}),
         note or notification({"alertname": "TestAlert"}, annotations={"summary": "Test summary"}))
    return http_sink.wait()[0]


# --- Alertmanager's webhook cases -------------------------------------------------------------------------

def test_a_map_payload_renders_each_value_and_reads_json_back_as_structure(http_sink):
    request = sent(http_sink, {"custom": "some custom content", "commonLabels": "{{ .CommonLabels  | toJson }}"})
    assert request.json() == {"custom": "some custom content", "commonLabels": {"alertname": "TestAlert"}}
    assert request.headers["Content-Type"] == "application/json"


def test_a_list_payload(http_sink):
    payload = [{"custom": "some custom content", "commonLabels": "{{ .CommonLabels | toJson }}",
                "commonAnnotations": "{{ .CommonAnnotations | toJson }}"}, {"foo": "bar"}]
    assert sent(http_sink, payload).json() == [
        {"commonAnnotations": {"summary": "Test summary"}, "commonLabels": {"alertname": "TestAlert"},
         "custom": "some custom content"}, {"foo": "bar"}]


def test_a_string_payload_that_renders_to_a_yaml_list(http_sink):
    payload = "\n- commonLabels: {{ .CommonLabels | toJson }}\n- foo: bar\n"
    assert sent(http_sink, payload).json() == [{"commonLabels": {"alertname": "TestAlert"}}, {"foo": "bar"}]


def test_a_string_payload_built_with_list_dict_and_append(http_sink):
    payload = """
{{- $res := list -}}
{{- range .Alerts -}}
{{- $data := dict "foo" "bar" "commonLabels" .Labels -}}
{{- $res = append  $res $data -}}
{{- end -}}
{{ toJson $res }}
"""
    assert sent(http_sink, payload).json() == [{"commonLabels": {"alertname": "TestAlert"}, "foo": "bar"}]


def test_label_values_that_look_like_yaml_are_sent_verbatim(http_sink):
    """Alertmanager #5302: the rendered JSON is final, its strings are not read as YAML again."""
    payload = "{{- $res := list -}}{{- range .Alerts -}}{{- $res = append $res .Labels -}}{{- end -}}{{ toJson $res }}"
    labels = {"alertname": "test1", "id": "value1:", "num": "123", "truthy": "true", "empty": "null"}
    assert sent(http_sink, payload, notification(labels)).json() == [labels]


def test_the_body_is_written_as_gos_json_encoder_writes_it(http_sink):
    """Keys sorted, <, > and & escaped, a newline at the end; numbers, booleans and nulls of the config kept,
    and what the rendered strings read as: y is true in YAML 1.1, 1.0 is written 1, "" reads as null."""
    payload = {"b": "<{{ .Status }}> & co", "a": 1, "c": "y", "d": "1.0", "e": "", "f": None, "g": False}
    request = sent(http_sink, payload)
    assert request.body == b'{"a":1,"b":"\\u003cresolved\\u003e \\u0026 co","c":true,"d":1,"e":null,"f":null,' \
                           b'"g":false}\n'


def test_keys_are_templates_and_keys_that_are_not_strings_are_dropped(http_sink):
    request = sent(http_sink, {"{{ .Receiver }}": "{{ len .Alerts }}", 42: "ignored", True: "ignored"})
    assert request.json() == {"test_receiver": 1}


def test_the_signature_covers_the_custom_body(http_sink):
    request = sent(http_sink, {"a": "{{ .Status }}"}, hmac_secret="s3cret")
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Fleetmon-Signature"] == f"sha256={expected}"


def test_templates_see_only_the_alerts_max_alerts_lets_through(http_sink):
    note = notification({"alertname": "A", "n": "1"}, {"alertname": "A", "n": "2"}, {"alertname": "A", "n": "3"})
    request = sent(http_sink, {"count": "{{ len .Alerts }}", "first": "{{ (index .Alerts 0).Labels.n }}"},
                   note, max_alerts=2)
    assert request.json() == {"count": 2, "first": 1}


def test_a_null_payload_is_no_payload(http_sink):
    request = sent(http_sink, None)
    assert request.json()["version"] == "4"


def test_a_payload_template_that_fails_is_a_delivery_error_no_retry_fixes(http_sink):
    hook = integration("webhook", {"url": http_sink.url(), "payload": {"x": '{{ template "nothing" . }}'}})
    with pytest.raises(DeliveryError) as caught:
        send(hook, notification({"alertname": "A"}))
    assert not caught.value.retryable and "template failed" in str(caught.value)
    assert http_sink.requests == []


def test_a_payload_that_renders_to_an_infinity_is_refused_as_gos_encoder_refuses_it(http_sink):
    hook = integration("webhook", {"url": http_sink.url(), "payload": {"x": "{{ if true }}.inf{{ end }}"}})
    with pytest.raises(DeliveryError) as caught:
        send(hook, notification({"alertname": "A"}))
    assert not caught.value.retryable and "not JSON" in str(caught.value)


def test_payload_config_errors_name_their_key_path():
    errors = config_errors({"receivers": [{"name": "a", "webhook_configs": [
        {"url": "http://x/", "payload": {"ok": "{{ .Status }}", "bad": "{{ .Status "}},
        {"url": "http://x/", "payload": ["{{ nosuchfunction }}"]}]}]})
    assert any(e.startswith("receivers[0].webhook_configs[0].payload.bad: template does not parse") for e in errors)
    assert any(e.startswith("receivers[0].webhook_configs[1].payload[0]: template does not parse") for e in errors)
    assert len(errors) == 2, errors


# --- a templated URL --------------------------------------------------------------------------------------

def test_a_templated_url_is_rendered_per_notification(http_sink, tmp_path):
    base = http_sink.url("")
    send(integration("webhook", {"url": base + "/teams/{{ .CommonLabels.team }}?s={{ .Status }}"}),
         notification({"alertname": "A", "team": "db"}))
    (tmp_path / "url").write_text(base + "/file/{{ .CommonLabels.team }}\n")
    send(integration("webhook", {"url_file": str(tmp_path / "url")}), notification({"alertname": "A", "team": "web"}))
    assert [r.path for r in http_sink.wait(2)] == ["/teams/db?s=resolved", "/file/web"]


def test_a_templated_url_that_renders_to_nothing_usable_is_refused_without_a_request(http_sink):
    for url, message in (("{{ .CommonLabels.missing }}", "empty after templating"),
                         ("{{ .CommonLabels.alertname }}://x", "not an absolute http")):
        with pytest.raises(DeliveryError) as caught:
            send(integration("webhook", {"url": url}), notification({"alertname": "A"}))
        assert not caught.value.retryable and message in str(caught.value)
    assert http_sink.requests == []
    errors = config_errors({"receivers": [{"name": "a", "webhook_configs": [{"url": "http://x/{{ .Status "}]}]})
    assert errors[0].startswith("receivers[0].webhook_configs[0].url: template does not parse"), errors


# --- the tree, as DeepCopyWithTemplate renders it ---------------------------------------------------------

def rendered(value):
    errors = Errors()
    tree = parse_tree(Node(value, "payload", errors), TemplateSet())
    assert not errors, errors
    return render_tree(tree, example_data())


@pytest.mark.parametrize(("value", "expected"), [
    ("hello", "hello"),
    ("foo: bar", {"foo": "bar"}),
    (["foo", 42], ["foo", 42]),
    ({"foo": "bar", 42: "ignore", "nested": ["baz"]}, {"foo": "bar", "nested": ["baz"]}),
    (123, 123),
    ('[{"alertname":"test1","id":"value1:"}]', [{"alertname": "test1", "id": "value1:"}]),
    ('{"num":"123","truthy":"true","empty":"null","when":"2026-01-01"}',
     {"num": "123", "truthy": "true", "empty": "null", "when": "2026-01-01"}),
    ('{"num":123,"truthy":true,"empty":null}', {"num": 123, "truthy": True, "empty": None}),
])
def test_alertmanagers_deep_copy_cases(value, expected):
    assert rendered(value) == expected


# --- what a rendered string reads as: yaml.v2's rules -----------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("", None), ("~", None), ("Null", None), ("null", None),
    ("y", True), ("Yes", True), ("ON", True), ("n", False), ("off", False), ("FALSE", False),
    ("tRUE", "tRUE"), ("yes please", "yes please"),
    ("0", 0), ("+5", 5), ("-17", -17), ("012", 10), ("0o17", 15), ("0x1F", 31), ("0b101", 5), ("-0b101", -5),
    ("1_000", 1000), ("08", 8.0), ("1e3", 1000.0), ("1.5", 1.5), (".5", 0.5), ("-.inf", -math.inf),
    ("9223372036854775807", 2**63 - 1), ("18446744073709551615", 2**64 - 1),
    ("-9223372036854775809", -9223372036854775809.0), ("1e400", "1e400"), ("1_0.5", 10.5),
    ("2026-01-01", "2026-01-01"), ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z"), ("10:30", "10:30"),
    ("'5'", "5"), ('"true"', "true"), ("!!str 5", "5"), ("!!float 5", 5.0), ("!custom 5", "5"),
    ("a: &x {b: 1}\nc: *x", {"a": {"b": 1}, "c": {"b": 1}}),
    ("<<: {a: 1, b: 1}\nb: 2", {"a": 1, "b": 2}),
    ("<<: [{a: 1}, {a: 2, c: 3}]", {"a": 1, "c": 3}),
    ("{1: a, true: b, c: d}", {"c": "d"}),
    ("first\n---\nsecond", "first"),
])
def test_rendered_strings_read_as_yaml_v2_reads_them(text, expected):
    assert read(text) == expected


@pytest.mark.parametrize("text", ["a: b: c", "!!int x", "!!bool maybe", "{[1]: a}", "&a [*a]", "[" * 5000])
def test_what_yaml_v2_cannot_read_is_an_error_and_the_payload_keeps_the_string(text):
    with pytest.raises(ValueError):
        read(text)
    assert rendered(text) == text


@pytest.mark.parametrize("text", [
    '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}', '[1.5, -0, 1e3, 1E-2, 2.5e+10, 0.1]',
    '"a string"', '{"esc": "tab\\t nl\\n quote\\" slash\\/ \\u00e9 \\u2028"}', '{"dup": 1, "dup": 2}',
    '[9223372036854775807, -9223372036854775808, 18446744073709551615]', ' {"spaced" : [ 1 , 2 ] } ',
    '{"when": "2026-01-01", "num": "123", "yes": "y"}', '[[[[["deep"]]]]]', '{}', '[]',
])
def test_json_takes_the_shortcut_and_reads_as_yaml_v2_reads_it(text):
    assert read(text) == read_yaml(text)
    assert type(read(text)) is type(read_yaml(text))


@pytest.mark.parametrize(("text", "expected"), [
    ("[18446744073709551616]", [1.8446744073709552e19]),  # beyond uint64: a float, as yaml.v2 reads it
    ('{"x": 1e400}', {"x": "1e400"}),  # out of float range: the text
    ("[NaN]", ["NaN"]),
    ('{"a": 1} trailing', {"a": 1}),  # yaml.v2 reads the first document and looks no further
])
def test_json_that_yaml_v2_reads_otherwise_goes_the_yaml_way(text, expected):
    assert read(text) == read_yaml(text) == expected


def test_a_deeply_nested_label_value_is_sent_as_text_and_crashes_nothing():
    """libyaml's parser would overflow the C stack here; the pure-Python one gives up (RecursionError)."""
    deep = "[" * 100_000 + "]" * 100_000
    assert rendered(deep) == deep


def test_a_label_value_of_nested_aliases_cannot_grow_a_huge_payload(http_sink):
    """Nine levels of ten aliases would be 10**9 values: beyond MAX_VALUES the string is sent as it is."""
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
    with pytest.raises(ValueError, match=str(MAX_VALUES)):
        read(bomb)
    request = sent(http_sink, {"v": "{{ .CommonLabels.bomb }}"}, notification({"alertname": "A", "bomb": bomb}))
    assert json.loads(request.body) == {"v": bomb}


def test_config_original_shows_a_payload_as_it_is_whatever_its_keys():
    """A payload is free-form: Alertmanager shows it, a key named like a secret (token) included."""
    from fleetmon.hub.alerting.shown_config import original_config
    from fleetmon.hub.config import parse_config

    config = parse_config({"alerting": {"route": {"receiver": "r"}, "receivers": [{"name": "r", "webhook_configs": [
        {"url": "http://receiver.test/hook", "payload": {"token": "{{ .Status }}", "password": "plain"}}],
        "pagerduty_configs": [{"routing_key": "k", "details": {"token": "shown"}}]}]}})
    shown = yaml.safe_load(original_config(config.alerting))["receivers"][0]
    assert shown["webhook_configs"][0]["payload"] == {"token": "{{ .Status }}", "password": "plain"}
    assert shown["webhook_configs"][0]["url"] == shown["pagerduty_configs"][0]["routing_key"] == "<secret>"
    assert shown["pagerduty_configs"][0]["details"] == {"token": "shown"}
