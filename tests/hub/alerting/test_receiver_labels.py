"""Receiver labels (Alertmanager 0.33): read by the loader as Alertmanager reads them (free names, string values,
``name`` always the receiver's), shown where Alertmanager's API v2 shows them (``/api/v2/receivers`` and the
status' ``config.original``; an alert's and a group's receiver stays a name-only reference), and the
``receiver_matchers`` filter of ``/api/v2/receivers``, ``/api/v2/alerts`` and ``/api/v2/alerts/groups`` with
Alertmanager's semantics (api/v2 matchFilterLabels, receiversMatchLabels and the groups' route filter).

The API is called on the hub's real app and parts (tests/hub/standin.py) and each answer checked against the
shapes written from Alertmanager's spec (alertmanager_api_v2_shapes.yaml, as the fuzz test does); the real amtool
(Debian's 0.25, which predates receiver labels) reads a running hub's config with them. Alertmanager's
``tracing`` and ``event_recorder`` are refused saying what the hub keeps instead."""

import json
import os
import shutil
import subprocess
import time
import urllib.parse

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetmon.config_reader import ConfigError
from fleetmon.hub.alerting.api_v2_filters import filter_labels
from fleetmon.hub.alerting.config import load_routing
from fleetmon.hub.alerting.matchers import parse_matcher
from fleetmon.hub.config import parse_config
from fleetmon.protocol.messages import rfc3339
from tests.hub.alerting.test_api_v2_fuzz import FILTERS, shape
from tests.hub.standin import app_of, stand_in_hub
from tests.polling import wait_until

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
#: Three receivers: pager (owned by ops, paging), chat (ops, no kind), mail (no owner; ``tier`` present but
#: empty). Critical alerts go to pager and continue (to chat, db alerts being mail's); the rest to chat.
ALERTING = """
route:
  receiver: chat
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  routes:
    - {matchers: ['severity="critical"'], receiver: pager, continue: true}
    - {matchers: ['service="db"'], receiver: mail}
    - {receiver: chat}
receivers:
  - name: pager
    labels: {owner: ops, kind: paging, token: not-a-secret}
  - name: chat
    labels: {owner: ops}
  - name: mail
    labels: {tier: "", name: mail}
"""
ALERTS = [{"labels": {"alertname": "Disk", "severity": "critical", "host": "h1"}},
          {"labels": {"alertname": "Cpu", "host": "h2"}},
          {"labels": {"alertname": "Slow", "service": "db", "host": "h3"}}]


def load(receivers: list) -> dict[str, dict[str, str]]:
    config = parse_config({"alerting": {"route": {"receiver": receivers[0]["name"]}, "receivers": receivers}})
    return {name: receiver.labels for name, receiver in config.alerting.receivers.items()}


def refusals(alerting: dict) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        parse_config({"alerting": alerting})
    return refused.value.errors


# --- the loader -------------------------------------------------------------------------------------------

def test_labels_are_free_strings_and_name_is_always_the_receivers_own():
    assert load([{"name": "team-X"}]) == {"team-X": {"name": "team-X"}}  # no labels: name alone
    # names need not be label names (hyphens, UTF-8, empty); a number is its text, nothing is "" (Go's yaml)
    assert load([{"name": "team-X-slack", "labels": {"owning-team": "team-X", "ünï": "✓", "": "x", "port": 8080,
                                                     "tier": None, "name": "team-X-slack"}}]) == {
        "team-X-slack": {"owning-team": "team-X", "ünï": "✓", "": "x", "port": "8080", "tier": "",
                         "name": "team-X-slack"}}


def test_labels_refused_as_alertmanager_refuses_them_each_with_its_path():
    base = {"route": {"receiver": "team-X"}}
    # Alertmanager's own message (config_test.go TestReceiverLabelsNameConflict), Go-quoted
    assert refusals({**base, "receivers": [{"name": "team-X", "labels": {"name": "different-name"}}]}) == [
        'alerting.receivers[0].labels.name: receiver label "name" must match receiver name "team-X", '
        'got "different-name"']
    assert refusals({**base, "receivers": [{"name": "team-X", "labels": ["owner=ops"]}]}) == [
        "alerting.receivers[0].labels: must be a mapping of label names to values"]
    # YAML read true from yes, on or true alike: which text was meant is lost, so it must be quoted
    assert refusals({**base, "receivers": [{"name": "team-X", "labels": {"paging": True, "x": {"a": "b"}}}]}) == [
        "alerting.receivers[0].labels.paging: must be a string (quote it)",
        "alerting.receivers[0].labels.x: must be a string (quote it)"]


def test_tracing_and_event_recorder_are_refused_saying_what_the_hub_keeps(tmp_path):
    alerting = {"route": {"receiver": "r"}, "receivers": [{"name": "r"}],
                "tracing": {"endpoint": "otel:4317", "client_type": "grpc"},
                "event_recorder": {"file_outputs": [{"path": "/var/log/am-events.jsonl"}]}}
    tracing, recorder = refusals(alerting)
    assert tracing.startswith("alerting.tracing: the hub does not export OpenTelemetry traces; remove the key")
    assert recorder.startswith("alerting.event_recorder: the hub does not write Alertmanager's event log")
    assert "/api/v1/alerting/history" in tracing and "/api/v1/alerting/history" in recorder
    # the same from an alertmanager.yml the hub config includes, named by that file's path
    included = tmp_path / "alertmanager.yml"
    included.write_text(yaml.safe_dump({k: v for k, v in alerting.items() if k != "event_recorder"}))
    (error,) = refusals({"include": str(included)})
    assert error.startswith(f"{included}.tracing: the hub does not export OpenTelemetry traces")


# --- the filter -------------------------------------------------------------------------------------------

LABELS = {"name": "mail", "owner": "ops", "tier": ""}  # tier: present, empty


@pytest.mark.parametrize("matcher, matches", [
    ('owner="ops"', True),
    ('owner!="ops"', False),
    ('owner=~"o.*"', True),
    ('name="mail"', True),  # the name label is there for every receiver
    ('team="ops"', False),  # a missing label is "" to every matcher with a value
    ('team!="ops"', True),
    ('team=""', True),  # ="" and =~"": absent passes ...
    ('team=~""', True),
    ('tier=""', True),  # ... and present with "" passes, as "" == ""
    ('owner=""', False),  # present with a value: the value is tested
    ('tier!=""', True),  # !="" and !~"": present passes whatever its value, even ""
    ('tier!~""', True),
    ('owner!=""', True),
    ('team!=""', False),  # absent: "" != "" is false
    ('team!~""', False),
    ('team=~".*"', True),  # a regex that matches "" passes an absent label
    ('owner!~"o.*"', False),
])
def test_filter_labels_as_alertmanagers_match_filter_labels(matcher, matches):
    assert filter_labels([parse_matcher(matcher)], LABELS) is matches


def test_filter_labels_needs_every_matcher_and_none_is_everything():
    assert filter_labels([], {}) and filter_labels([], LABELS)
    assert filter_labels([parse_matcher('owner="ops"'), parse_matcher('name="mail"')], LABELS)
    assert not filter_labels([parse_matcher('owner="ops"'), parse_matcher('name="chat"')], LABELS)


# --- the API ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    stand_in = stand_in_hub(tmp_path_factory.mktemp("receiver-labels"), ALERTING)
    alerts = [{**a, "startsAt": rfc3339(time.time() - 60)} for a in ALERTS]
    assert app_of(stand_in).call("POST", "/api/v2/alerts", body=json.dumps(alerts).encode()).status == 200
    stand_in.dispatcher.process(time.time())
    yield stand_in
    stand_in.close()


def get(hub, operation: str, *matchers: str, status: int = 200, **query: str):
    """The answer of a GET with these receiver_matchers, checked against Alertmanager's shape for it."""
    path = operation.split(" ", 1)[1]
    encoded = urllib.parse.urlencode([("receiver_matchers", m) for m in matchers] + list(query.items())).encode()
    answer = app_of(hub).call("GET", path, encoded)
    assert answer.status == status, answer.body
    document = json.loads(answer.body)
    errors = [e.message for e in shape(operation, answer.status).iter_errors(document)]
    assert not errors, errors
    return document


def names(receivers: list[dict]) -> list[str]:
    return [r["name"] for r in receivers]


def test_receivers_carry_their_labels_and_are_filtered_by_them(hub):
    shown = get(hub, "GET /api/v2/receivers")
    assert shown == [{"name": "pager", "labels": {"owner": "ops", "kind": "paging", "token": "not-a-secret",
                                                  "name": "pager"}},
                     {"name": "chat", "labels": {"owner": "ops", "name": "chat"}},
                     {"name": "mail", "labels": {"tier": "", "name": "mail"}}]
    assert names(get(hub, "GET /api/v2/receivers", 'owner="ops"')) == ["pager", "chat"]
    assert names(get(hub, "GET /api/v2/receivers", 'owner="ops"', 'kind!="paging"')) == ["chat"]
    assert names(get(hub, "GET /api/v2/receivers", 'name=~"ma.*"')) == ["mail"]
    assert names(get(hub, "GET /api/v2/receivers", 'tier!=""')) == ["mail"]  # present, though empty
    assert names(get(hub, "GET /api/v2/receivers", 'owner=""')) == ["mail"]  # without an owner
    assert get(hub, "GET /api/v2/receivers", 'owner="nobody"') == []


def test_alerts_are_kept_when_one_of_their_receivers_matches(hub):
    def kept(*matchers: str) -> dict[str, list[str]]:
        return {a["labels"]["alertname"]: names(a["receivers"]) for a in get(hub, "GET /api/v2/alerts", *matchers)}

    everything = {"Disk": ["pager", "chat"], "Cpu": ["chat"], "Slow": ["mail"]}
    assert kept() == everything
    # an alert shows all its receivers, by name only, when any one of them matches
    assert kept('kind="paging"') == {"Disk": ["pager", "chat"]}
    assert kept('owner="ops"') == {"Disk": ["pager", "chat"], "Cpu": ["chat"]}
    assert kept('owner="ops"', 'name="chat"') == {"Disk": ["pager", "chat"], "Cpu": ["chat"]}
    assert kept('tier!=""') == {"Slow": ["mail"]}
    # beside the other filters: all must pass
    answer = get(hub, "GET /api/v2/alerts", 'owner="ops"', filter='host="h2"')
    assert [a["labels"]["alertname"] for a in answer] == ["Cpu"]
    answer = get(hub, "GET /api/v2/alerts", 'owner="ops"', receiver="pag.*")
    assert [a["labels"]["alertname"] for a in answer] == ["Disk"]


def test_groups_are_kept_by_their_receivers_labels_and_alerts_list_the_kept_groups_receivers(hub):
    def kept(*matchers: str) -> list[tuple[str, str, list[list[str]]]]:
        return [(g["receiver"]["name"], g["labels"]["alertname"], [names(a["receivers"]) for a in g["alerts"]])
                for g in get(hub, "GET /api/v2/alerts/groups", *matchers)]

    # sorted by group labels, then receiver
    assert kept() == [("chat", "Cpu", [["chat"]]), ("chat", "Disk", [["chat", "pager"]]),
                      ("pager", "Disk", [["chat", "pager"]]), ("mail", "Slow", [["mail"]])]
    # the Disk alert is in pager's and chat's groups; with chat's group left out it lists pager only
    assert kept('kind="paging"') == [("pager", "Disk", [["pager"]])]
    assert kept('name!="pager"', 'owner="ops"') == [("chat", "Cpu", [["chat"]]), ("chat", "Disk", [["chat"]])]
    assert kept('owner="nobody"') == []


@pytest.mark.parametrize("operation", ["GET /api/v2/receivers", "GET /api/v2/alerts", "GET /api/v2/alerts/groups"])
def test_a_receiver_matcher_that_does_not_parse_is_a_400_saying_so(hub, operation):
    refused = get(hub, operation, 'owner=~"("', status=400)
    assert refused.startswith("failed to parse receiver_matchers param: ") and "(" in refused
    assert get(hub, operation, 'owner="ops"', "=", status=400).startswith("failed to parse receiver_matchers")


@settings(max_examples=150, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operation=st.sampled_from(["GET /api/v2/receivers", "GET /api/v2/alerts", "GET /api/v2/alerts/groups"]),
       matchers=st.lists(FILTERS, max_size=3))
def test_any_receiver_matchers_answer_in_alertmanagers_shapes(hub, operation, matchers):
    encoded = urllib.parse.urlencode([("receiver_matchers", m) for m in matchers]).encode()
    answer = app_of(hub).call("GET", operation.split(" ", 1)[1], encoded)
    assert answer.status in (200, 400), answer.body
    document = json.loads(answer.body)
    assert not list(shape(operation, answer.status).iter_errors(document)), document
    if answer.status == 400:
        assert document.startswith("failed to parse receiver_matchers param: ")


def test_config_original_shows_the_labels_as_alertmanager_writes_them(hub):
    original = yaml.safe_load(get(hub, "GET /api/v2/status")["config"]["original"])
    # after the name, sorted, with name; a label named like a secret is no secret
    assert original["receivers"] == [
        {"name": "pager", "labels": {"kind": "paging", "name": "pager", "owner": "ops", "token": "not-a-secret"}},
        {"name": "chat", "labels": {"name": "chat", "owner": "ops"}},
        {"name": "mail", "labels": {"name": "mail", "tier": ""}}]
    assert [list(r) for r in original["receivers"]] == [["name", "labels"]] * 3


def test_config_original_of_receivers_without_labels_has_none(tmp_path):
    # Alertmanager 0.33+ writes labels: {name: ...} on every receiver, which amtool before 0.33 cannot read
    # back; the hub writes them only where the file has some
    stand_in = stand_in_hub(tmp_path, "route: {receiver: team}\nreceivers: [{name: team}]\n")
    try:
        original = yaml.safe_load(get(stand_in, "GET /api/v2/status")["config"]["original"])
        assert original["receivers"] == [{"name": "team"}]
        assert get(stand_in, "GET /api/v2/receivers") == [{"name": "team", "labels": {"name": "team"}}]
    finally:
        stand_in.close()


def test_config_original_loads_back_with_the_same_labels(hub, tmp_path):
    path = tmp_path / "alertmanager.yml"
    path.write_text(get(hub, "GET /api/v2/status")["config"]["original"])
    assert {name: r.labels for name, r in load_routing(str(path)).receivers.items()} == \
        {name: r.labels for name, r in hub.config.alerting.receivers.items()}


# --- the real amtool --------------------------------------------------------------------------------------

def test_amtool_shows_the_labels_and_queries_alerts_of_a_hub_that_has_them(start_hub, tmp_path):
    if not os.path.exists(AMTOOL):
        pytest.fail("amtool is not installed: run `make deps`")
    token = "receiver-labels-token-0123456789"
    hub = start_hub({"api": {"token": token}, "alerting": {**yaml.safe_load(ALERTING), "flapping": {"enabled": False}}})
    http_config = tmp_path / "http.yml"
    http_config.write_text(yaml.safe_dump({"authorization": {"type": "Bearer", "credentials": token}}))
    env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "/usr/bin"), "TZ": "UTC"}

    def amtool(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([AMTOOL, f"--alertmanager.url=http://127.0.0.1:{hub.port}",
                               f"--http.config.file={http_config}", *args],
                              capture_output=True, text=True, timeout=30, env=env)

    shown = amtool("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert yaml.safe_load(shown.stdout)["receivers"][1] == {"name": "chat", "labels": {"name": "chat", "owner": "ops"}}
    # amtool 0.25 reads a config back strictly and knows no receiver labels: the same against Alertmanager 0.33+
    routes = amtool("config", "routes")
    assert routes.returncode != 0 and "labels" in routes.stderr, routes

    assert amtool("alert", "add", "alertname=Disk", "severity=critical").returncode == 0
    queried = wait_until(lambda: json.loads(amtool("-o", "json", "alert", "query", "Disk").stdout or "[]"),
                         timeout=10, message="amtool to see the alert")
    assert [names(a["receivers"]) for a in queried] == [["pager", "chat"]]  # references, name only
