"""The incident, ticketing and SaaS receivers (Opsgenie, VictorOps, Jira, SNS, WeChat, Datadog, Sentry) against
local stand-ins of their services, and SigV4 against AWS's published test suite.

Each stand-in is a real HTTP server (HttpSink) playing the service: it answers the way the service's API
documents (Jira's search, create, update and transitions; WeChat's token and errcode; SNS's XML; Datadog's
202), and the tests check the recorded requests against what the service documents and what Alertmanager's
notifier sends for the same alerts: method, path, query, auth headers, body fields and their rendered values.
"""

import hashlib
import json
import re
from datetime import datetime, timezone
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import DeliveryError, sigv4
from fleetmon.hub.alerting.receivers.sentry import parse_dsn
from tests.hub.alerting.conftest import Received
from tests.hub.alerting.test_receivers import GROUP_KEY, alert, batch, config_errors, integration, send

GROUP_HASH = hashlib.sha256(GROUP_KEY.encode()).hexdigest()  # Alertmanager's Key.Hash()
SUBJECT = "[FIRING:2] HighCPU (prod critical)"  # __subject of two_firing(): hosts a and b
ALERTS_URL = "http://hub.example:9180/#/alerts?receiver=team%5C.ops"  # __alertmanagerURL for receiver team.ops


def _list(host: str) -> str:
    """__text_alert_list of one alert of two_firing()."""
    return (f"Labels:\n - alertname = HighCPU\n - env = prod\n - host = {host}\n - severity = critical\n"
            f"Annotations:\n - summary = CPU above 90% on {host}\nSource: http://hub.example/hosts/{host}\n")


def two_firing() -> Notification:
    return batch(alert("a", severity="critical"), alert("b", severity="critical"))


def resolved() -> Notification:
    return batch(alert("a", resolved=True), alert("b", resolved=True))


def body_of(received: Received) -> dict:
    return json.loads(received.body)


def failure(target, notification: Notification) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        send(target, notification)
    return caught.value


# --- Opsgenie ---------------------------------------------------------------------------------------------
# Documented (Opsgenie Alert API v2): POST /v2/alerts with "Authorization: GenieKey <key>" and a JSON body of
# alias, message (130 characters at most), description, details, source, responders ({id|name|username, type}),
# tags, note, priority, entity, actions; POST /v2/alerts/<alias>/close?identifierType=alias with a source;
# PUT /v2/alerts/<alias>/message and /description?identifierType=alias. Opsgenie answers 202.

def test_opsgenie_creates_the_alert_with_alertmanagers_defaults_and_every_field(http_sink):
    http_sink.answer = lambda request: (202, b'{"result": "Request will be processed", "requestId": "r1"}')
    target = integration("opsgenie", {
        "api_key": "genie-1", "api_url": http_sink.url("/og"), "details": {"team": "{{ .CommonLabels.env }}-ops"},
        "responders": [{"name": "sre", "type": "team"},
                       {"username": "{{ .CommonLabels.owner }}", "type": "{{ if .CommonLabels.owner }}user{{ end }}"},
                       {"name": "db, net", "type": "teams"}, {"id": "4513b7ea", "type": "schedule"}],
        "tags": "fleet, {{ .CommonLabels.env }},", "note": "see runbook", "priority": "P1",
        "entity": "{{ .GroupLabels.alertname }}", "actions": "restart,ping"})
    send(target, two_firing())
    (request,) = http_sink.wait()
    assert (request.method, request.path) == ("POST", "/og/v2/alerts")
    assert request.headers["Authorization"] == "GenieKey genie-1"
    assert request.headers["Content-Type"] == "application/json"
    body = body_of(request)
    # opsgenie.default.description: the common annotations (none: the summaries differ), then the alerts
    assert body.pop("description") == f"\nAlerts Firing:\n{_list('a')}{_list('b')}\n"
    assert body == {
        "alias": GROUP_HASH, "message": SUBJECT,
        "details": {"alertname": "HighCPU", "env": "prod", "severity": "critical", "team": "prod-ops"},
        "source": ALERTS_URL,
        # the user responder rendered empty (no owner label) and is left out; "teams" became one team each
        "responders": [{"name": "sre", "type": "team"}, {"name": "db", "type": "team"},
                       {"name": " net", "type": "team"}, {"id": "4513b7ea", "type": "schedule"}],
        "tags": ["fleet", " prod"], "note": "see runbook", "priority": "P1", "entity": "HighCPU",
        "actions": ["restart", "ping"]}


def test_opsgenie_closes_by_alias_on_resolve_and_cuts_the_message(http_sink):
    target = integration("opsgenie", {"api_key": "genie-1", "api_url": http_sink.url("/og/"),
                                      "message": "x" * 200, "source": "fleet hub"})
    send(target, two_firing())
    send(target, resolved())
    create, close = http_sink.wait(2)
    assert body_of(create)["message"] == "x" * 129 + "…"  # 130 characters, as Alertmanager cuts it
    assert (close.method, close.path) == ("POST", f"/og/v2/alerts/{GROUP_HASH}/close?identifierType=alias")
    assert body_of(close) == {"source": "fleet hub"}
    assert close.headers["Authorization"] == "GenieKey genie-1"


def test_opsgenie_update_alerts_also_replaces_message_and_description(http_sink):
    target = integration("opsgenie", {"api_key": "{{ .CommonLabels.env }}-key", "api_url": http_sink.url("/"),
                                      "update_alerts": True, "description": "{{ len .Alerts }} hosts"})
    send(target, two_firing())
    create, message, description = http_sink.wait(3)
    assert create.path == "/v2/alerts"
    assert (message.method, message.path) == ("PUT", f"/v2/alerts/{GROUP_HASH}/message?identifierType=alias")
    assert body_of(message) == {"message": SUBJECT}
    assert (description.method, description.path) == ("PUT",
                                                      f"/v2/alerts/{GROUP_HASH}/description?identifierType=alias")
    assert body_of(description) == {"description": "2 hosts"}
    assert {r.headers["Authorization"] for r in (create, message, description)} == {"GenieKey prod-key"}


def test_opsgenie_takes_the_globals_and_a_key_file(http_sink, tmp_path):
    (tmp_path / "key").write_text("from-file\n")
    target = integration("opsgenie", {}, glob={"opsgenie_api_key_file": str(tmp_path / "key"),
                                               "opsgenie_api_url": http_sink.url("/g"),
                                               "http_config": {"bearer_token": "ignored"}})
    send(target, two_firing())
    (request,) = http_sink.wait()
    assert request.path == "/g/v2/alerts"
    assert request.headers["Authorization"] == "GenieKey from-file"  # wins over http_config, as in Go


@pytest.mark.parametrize(("status", "retryable"), [(422, False), (401, False), (429, True), (503, True)])
def test_opsgenie_failures_say_whether_to_retry(http_sink, status, retryable):
    http_sink.respond(status)
    target = integration("opsgenie", {"api_key": "k", "api_url": http_sink.url("/")})
    error = failure(target, two_firing())
    assert (error.status, error.retryable) == (status, retryable)


def test_opsgenie_config_errors_name_their_keys(tmp_path):
    (tmp_path / "key").write_text("k")
    prefix = "receivers[0].opsgenie_configs[0]"
    errors = config_errors({"receivers": [{"name": "r", "opsgenie_configs": [
        {"api_url": "http://127.0.0.1:9/", "responders": [{"type": "team"}, {"name": "x", "type": "squad"}],
         "priorty": "P1"},
        {"api_key": "k", "api_key_file": str(tmp_path / "key")}]}]})
    assert f"{prefix}.api_key: api_key, api_key_file or the global opsgenie_api_key is required" in errors
    assert f"{prefix}.responders[0]: set at least one of id, name, username" in errors
    assert any(e.startswith(f"{prefix}.responders[1].type: must be one of: team, teams") for e in errors)
    assert any(e.startswith(f"{prefix}.priorty: unknown key") for e in errors)
    assert "receivers[0].opsgenie_configs[1].api_key_file: set api_key or api_key_file, not both" in errors


# --- VictorOps / Splunk On-Call ---------------------------------------------------------------------------
# Documented (REST endpoint integration): POST <url>/<api key>/<routing key> with a JSON object of
# message_type (CRITICAL, WARNING, INFO, RECOVERY...), entity_id, entity_display_name, state_message,
# monitoring_tool and any custom fields.

def test_victorops_triggers_then_recovers_the_same_entity(http_sink):
    target = integration("victorops", {"api_key": "vo-key", "api_url": http_sink.url("/alert"),
                                       "routing_key": "{{ .CommonLabels.env }}-team",
                                       "custom_fields": {"runbook": "http://wiki/{{ .GroupLabels.alertname }}"}})
    send(target, two_firing())
    send(target, resolved())
    trigger, recovery = http_sink.wait(2)
    assert (trigger.method, trigger.path) == ("POST", "/alert/vo-key/prod-team")
    assert body_of(trigger) == {
        "entity_display_name": SUBJECT, "entity_id": GROUP_HASH, "message_type": "CRITICAL",
        "monitoring_tool": "Alertmanager", "runbook": "http://wiki/HighCPU",
        "state_message": f"\nAlerts Firing:\n{_list('a')}{_list('b')}\n"}
    assert list(body_of(trigger)) == sorted(body_of(trigger))  # a Go map: keys sorted
    assert body_of(recovery)["message_type"] == "RECOVERY"
    assert body_of(recovery)["entity_id"] == GROUP_HASH
    assert body_of(recovery)["entity_display_name"] == "[RESOLVED] HighCPU (prod)"


@pytest.mark.parametrize(("configured", "sent"), [("WARNING", "WARNING"), ("INFO", "INFO"), ("urgent", "CRITICAL")])
def test_victorops_message_type_falls_back_to_critical(http_sink, configured, sent):
    target = integration(
        "victorops", {"routing_key": "ops", "message_type": configured, "state_message": "x" * 20500},
        glob={"victorops_api_key": "g", "victorops_api_url": http_sink.url("/v/")})
    send(target, two_firing())
    (request,) = http_sink.wait()
    assert request.path == "/v/g/ops"
    assert body_of(request)["message_type"] == sent
    assert body_of(request)["state_message"] == "x" * 20479 + "…"  # cut to 20480 characters


def test_victorops_failures_and_config_errors(http_sink):
    http_sink.respond(400)
    target = integration("victorops", {"api_key": "k", "routing_key": "r", "api_url": http_sink.url("/")})
    assert failure(target, two_firing()).retryable is False
    errors = config_errors({"receivers": [{"name": "r", "victorops_configs": [
        {"custom_fields": {"entity_id": "x", "team": "ok"}}]}]})
    prefix = "receivers[0].victorops_configs[0]"
    assert f"{prefix}.api_key: api_key, api_key_file or the global victorops_api_key is required" in errors
    assert f"{prefix}.routing_key: required" in errors
    assert f"{prefix}.custom_fields.entity_id: is one of the fixed fields and cannot be a custom field" in errors


# --- Jira -------------------------------------------------------------------------------------------------
# Documented (Jira REST API v2/v3): POST search (search/jql on Cloud's v3) with {jql, maxResults, fields} answers
# {issues: [{key, fields: {status: {statusCategory: {key}}}}]}; POST issue with {fields: {project: {key},
# issuetype: {name}, summary, description, labels, priority: {name}, ...}} answers 201 {id, key}; PUT
# issue/<key> answers 204; GET issue/<key>/transitions answers {transitions: [{id, name}]}; POST
# issue/<key>/transitions with {transition: {id}} answers 204. Auth: basic (e-mail, API token) or bearer.

class FakeJira:
    """A Jira project that keeps its issues: finds them by the label in the JQL, creates, updates and
    transitions them."""

    def __init__(self, sink) -> None:
        self.issues: dict[str, dict] = {}  # key -> {"fields": ..., "done": bool}
        sink.answer = self.answer

    def answer(self, request: Received) -> tuple[int, bytes]:
        path = re.sub(r"^/rest/api/[23]", "", urlsplit(request.path).path)
        if request.method == "POST" and path in ("/search", "/search/jql"):
            query = body_of(request)
            assert query["maxResults"] == 2 and query["fields"] == ["status"]
            label = re.search(r'labels="([^"]+)"', query["jql"]).group(1)
            want_open = "statusCategory != Done" in query["jql"]
            found = [{"key": key, "fields": {"status": {"name": "Done" if issue["done"] else "Open",
                                                       "statusCategory": {"key": "done" if issue["done"] else "new"}}}}
                     for key, issue in self.issues.items()
                     if label in issue["fields"]["labels"] and not (want_open and issue["done"])]
            return 200, json.dumps({"issues": found}).encode()
        if request.method == "POST" and path == "/issue":
            fields = body_of(request)["fields"]
            if not fields.get("summary") or "project" not in fields or "issuetype" not in fields:
                return 400, b'{"errorMessages": [], "errors": {"summary": "You must specify a summary."}}'
            key = f"OPS-{len(self.issues) + 1}"
            self.issues[key] = {"fields": fields, "done": False}
            return 201, json.dumps({"id": "10000", "key": key}).encode()
        match = re.fullmatch(r"/issue/([A-Z]+-\d+)(/transitions)?", path)
        if match and match.group(1) in self.issues:
            issue = self.issues[match.group(1)]
            if request.method == "PUT" and not match.group(2):
                issue["fields"].update(body_of(request)["fields"])
                return 204, b""
            if request.method == "GET" and match.group(2):
                return 200, b'{"transitions": [{"id": "21", "name": "Reopen"}, {"id": "31", "name": "Done"}]}'
            if request.method == "POST" and match.group(2):
                issue["done"] = body_of(request)["transition"]["id"] == "31"
                return 204, b""
        return 404, b'{"errorMessages": ["Issue does not exist or you do not have permission to see it."]}'


def jira_config(sink, **extra) -> dict:
    return {"api_url": sink.url("/rest/api/2/"), "project": "OPS", "issue_type": "Bug",
            "http_config": {"basic_auth": {"username": "bot@example.com", "password": "api-token"}}, **extra}


def test_jira_creates_then_resolves_then_reopens_the_groups_issue(http_sink):
    jira = FakeJira(http_sink)
    target = integration("jira", jira_config(
        http_sink, labels=["fleet", "{{ .CommonLabels.env }}"], resolve_transition="Done",
        reopen_transition="Reopen", reopen_duration="1h30m", wont_fix_resolution="Won't Fix",
        fields={"components": [{"name": "{{ .GroupLabels.alertname }}"}], "customfield_10001": "{{ len .Alerts }}",
                "customfield_10002": "{{ .CommonLabels.env }}", "customfield_10003": ""}))
    send(target, two_firing())
    search, create = http_sink.wait(2)
    assert search.headers["Authorization"] == "Basic Ym90QGV4YW1wbGUuY29tOmFwaS10b2tlbg=="
    assert search.headers["Accept-Language"] == "en"
    assert (search.method, search.path) == ("POST", "/rest/api/2/search")
    assert body_of(search)["jql"] == (
        "(resolution is EMPTY or resolution != \"Won't Fix\") and (resolutiondate is EMPTY OR resolutiondate "
        f'>= -90m) and project="OPS" and labels="ALERT{{{GROUP_HASH}}}" order by status ASC,resolutiondate DESC')
    assert (create.method, create.path) == ("POST", "/rest/api/2/issue")
    fields = body_of(create)["fields"]
    assert fields == {
        "components": [{"name": "HighCPU"}], "customfield_10001": 2, "customfield_10002": "prod",
        "customfield_10003": None,  # an empty rendered value reads as YAML null, as in Alertmanager
        "description": fields["description"], "issuetype": {"name": "Bug"},
        "labels": sorted(["fleet", "prod", f"ALERT{{{GROUP_HASH}}}"]), "priority": {"name": "High"},
        "project": {"key": "OPS"}, "summary": SUBJECT}
    assert fields["description"].startswith("\n\n# Alerts Firing:\n\nLabels:\n  - alertname = HighCPU\n")
    assert list(jira.issues) == ["OPS-1"]

    send(target, resolved())
    search, update, transitions, transition = http_sink.wait(6)[2:]
    assert "statusCategory != Done" in body_of(search)["jql"]
    assert (update.method, update.path) == ("PUT", "/rest/api/2/issue/OPS-1")
    assert body_of(update)["fields"]["summary"] == "[RESOLVED] HighCPU (prod)"
    assert (transitions.method, transitions.path) == ("GET", "/rest/api/2/issue/OPS-1/transitions")
    assert (transition.method, body_of(transition)) == ("POST", {"transition": {"id": "31"}})
    assert jira.issues["OPS-1"]["done"]

    send(target, two_firing())  # within reopen_duration: the done issue is found and reopened
    requests = http_sink.wait(10)[6:]
    assert [(r.method, r.path) for r in requests] == [
        ("POST", "/rest/api/2/search"), ("PUT", "/rest/api/2/issue/OPS-1"),
        ("GET", "/rest/api/2/issue/OPS-1/transitions"), ("POST", "/rest/api/2/issue/OPS-1/transitions")]
    assert body_of(requests[-1]) == {"transition": {"id": "21"}}
    assert not jira.issues["OPS-1"]["done"] and list(jira.issues) == ["OPS-1"]


def test_jira_resolved_without_an_issue_sends_only_the_search_and_cloud_searches_v3(http_sink):
    FakeJira(http_sink)
    target = integration("jira", jira_config(http_sink, api_type="cloud",
                                             summary={"template": "{{ .Status }}", "enable_update": False}))
    send(target, resolved())
    (search,) = http_sink.wait()
    assert search.path == "/rest/api/3/search/jql"  # Cloud's search endpoint, as Alertmanager picks it
    send(target, two_firing())
    send(target, two_firing())
    _, create, _, update = http_sink.wait(5)[1:]
    assert body_of(create)["fields"]["summary"] == "firing"
    assert "summary" not in body_of(update)["fields"]  # enable_update: false


def test_jira_failures_say_whether_to_retry(http_sink):
    target = integration("jira", jira_config(http_sink, resolve_transition="Close"))
    http_sink.respond(503)
    assert failure(target, two_firing()).retryable is True
    http_sink.respond(200)  # a search answer that is no JSON ("ok"): no retry makes it one
    error = failure(target, two_firing())
    assert error.retryable is False and "not JSON" in str(error)
    jira = FakeJira(http_sink)
    no_summary = integration("jira", jira_config(http_sink, summary=""))
    error = failure(no_summary, two_firing())  # Jira refuses an issue without a summary with 400
    assert (error.status, error.retryable) == (400, False)
    send(target, two_firing())
    error = failure(target, resolved())  # the workflow has no "Close"
    assert error.retryable is False and "no transition 'Close'" in str(error)
    assert not jira.issues["OPS-1"]["done"]


def test_jira_config_errors_name_their_keys():
    errors = config_errors({"receivers": [{"name": "r", "jira_configs": [{"api_type": "server", "labels": "x"}]}]})
    prefix = "receivers[0].jira_configs[0]"
    assert f"{prefix}.api_url: api_url or the global jira_api_url is required" in errors
    assert f"{prefix}.project: required" in errors
    assert f"{prefix}.issue_type: required" in errors
    assert f"{prefix}.api_type: must be one of: auto, cloud, datacenter (got 'server')" in errors
    assert f"{prefix}.labels: must be a list" in errors


# --- SNS and SigV4 ----------------------------------------------------------------------------------------
# AWS's SigV4 test suite (the aws-sig-v4-test-suite cases as kept in awslabs/aws-c-auth): credentials
# AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1, service "service", 20150830T123600Z.
SUITE = sigv4.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_DATE = "20150830T123600Z"
SUITE_TOKEN = ("AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeo"
               "IYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5V"
               "SXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yj"
               "c8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==")
HOST = {"Host": "example.amazonaws.com"}
FORM = b"Param1=value1"


@pytest.mark.parametrize(("case", "method", "url", "headers", "body", "signature"), [
    ("get-vanilla", "GET", "/", {}, b"", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("post-vanilla", "POST", "/", {}, b"", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", {}, b"",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("get-header-value-trim", "GET", "/", {"My-Header1": " value1", "My-Header2": ' "a   b   c"'}, b"",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("post-x-www-form-urlencoded", "POST", "/",
     {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "13",
      "x-amz-content-sha256": hashlib.sha256(FORM).hexdigest()}, FORM,
     "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"),
    ("post-sts-header-before", "POST", "/", {"X-Amz-Security-Token": SUITE_TOKEN}, b"",
     "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
])
def test_sigv4_signs_awss_published_test_suite(case, method, url, headers, body, signature):
    signed = {**HOST, **headers, "X-Amz-Date": SUITE_DATE}
    header = sigv4.authorization(method, "https://example.amazonaws.com" + url, signed, body, SUITE, "us-east-1",
                                 "service", SUITE_DATE)
    names = ";".join(sorted(name.lower() for name in signed))
    assert header == (f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                      f"SignedHeaders={names}, Signature={signature}"), case


def test_sigv4_signing_key_is_awss_documented_derivation():
    # AWS's "Examples of how to derive a signing key for Signature Version 4" (IAM, 20120215, us-east-1).
    key = sigv4.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


class FakeSns:
    """SNS's Query API: checks the SigV4 signature of each request as AWS does (recomputed from the signed
    headers it names, with the secret it knows, and the date within 15 minutes) and answers Publish in XML."""

    def __init__(self, sink, secret: str = "sns-secret") -> None:
        self.secret = secret
        self.sink = sink
        sink.answer = self.answer

    def answer(self, request: Received) -> tuple[int, bytes]:
        authorization = request.headers.get("Authorization", "")
        match = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/sns/aws4_request, "
                             r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", authorization)
        if not match:
            return self.error(400, "IncompleteSignature", "Authorization header is malformed")
        access_key, _, region, names, signature = match.groups()
        amz_date = request.headers["X-Amz-Date"]
        age = datetime.now(timezone.utc) - datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        if abs(age.total_seconds()) > 900 or not {"host", "x-amz-date"} <= set(names.split(";")):
            return self.error(403, "SignatureDoesNotMatch", "Signature expired or host unsigned")
        signed = {name: request.headers[name] for name in names.split(";")}
        expected = sigv4.authorization("POST", f"http://{request.headers['Host']}{request.path}", signed,
                                       request.body, sigv4.Credentials(access_key, self.secret), region, "sns",
                                       amz_date)
        if expected.rsplit("=", 1)[1] != signature:
            return self.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
        params = dict(parse_qsl(request.body.decode()))
        if params.get("Action") != "Publish" or params.get("Version") != "2010-03-31" or "Message" not in params:
            return self.error(400, "InvalidParameter", "Invalid parameter: Message")
        return 200, (b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
                     b"<MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult>"
                     b"</PublishResponse>")

    @staticmethod
    def error(status: int, code: str, message: str) -> tuple[int, bytes]:
        return status, (f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender'
                        f"</Type><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>").encode()


def sns_config(sink, **extra) -> dict:
    return {"api_url": sink.url("/"), "sigv4": {"region": "eu-west-1", "access_key": "AKIAFLEET",
                                                "secret_key": "sns-secret"}, **extra}


def test_sns_publishes_a_signed_message_to_the_topic(http_sink):
    FakeSns(http_sink)
    target = integration("sns", sns_config(http_sink, topic_arn="arn:aws:sns:eu-west-1:123456789012:fleet",
                                           attributes={"env": "{{ .CommonLabels.env }}"}))
    send(target, two_firing())
    (request,) = http_sink.wait()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert request.headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAFLEET/") and "/eu-west-1/sns/aws4_request" in request.headers["Authorization"]
    params = dict(parse_qsl(request.body.decode()))
    assert params == {
        "Action": "Publish", "Version": "2010-03-31", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:fleet",
        "Message": f"\n\nAlerts Firing:\n{_list('a')}{_list('b')}\n\n\n",  # sns.default.message
        "MessageAttributes.entry.1.Name": "env", "MessageAttributes.entry.1.Value.DataType": "String",
        "MessageAttributes.entry.1.Value.StringValue": "prod", "Subject": SUBJECT}


def test_sns_sms_is_cut_to_1600_bytes_and_fifo_topics_dedup_by_group(http_sink, monkeypatch):
    FakeSns(http_sink, secret="env-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-1")
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    target = integration("sns", {"api_url": http_sink.url("/"), "phone_number": "+15555550100",
                                 "message": "é" * 1000})
    send(target, two_firing())
    fifo = integration("sns", {"api_url": http_sink.url("/"), "topic_arn": "arn:aws:sns:us-east-2:1:fleet.fifo"})
    send(fifo, two_firing())
    sms, queued = http_sink.wait(2)
    assert sms.headers["X-Amz-Security-Token"] == "session-1"
    params = dict(parse_qsl(sms.body.decode()))
    assert params["Message"] == "é" * 800  # 1600 bytes of UTF-8
    assert params["PhoneNumber"] == "+15555550100"
    assert (params["MessageAttributes.entry.1.Name"], params["MessageAttributes.entry.1.Value.StringValue"]) == (
        "truncated", "true")
    params = dict(parse_qsl(queued.body.decode()))
    assert params["MessageGroupId"] == params["MessageDeduplicationId"] == GROUP_HASH


def test_sns_refusal_carries_the_services_error_code(http_sink):
    FakeSns(http_sink, secret="another-secret")
    target = integration("sns", sns_config(http_sink, target_arn="arn:aws:sns:eu-west-1:1:endpoint/APNS/app/x"))
    error = failure(target, two_firing())
    assert (error.status, error.retryable) == (403, False)
    assert "SignatureDoesNotMatch" in str(error)


def test_sns_config_errors_name_their_keys(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    errors = config_errors({"receivers": [{"name": "r", "sns_configs": [
        {"topic_arn": "arn:1", "phone_number": "+1", "sigv4": {"access_key": "A", "role_arn": "arn:aws:iam::1:role/x"}},
        {"sigv4": {"region": "eu-west-1"}}]}]})
    prefix = "receivers[0].sns_configs[0]"
    assert f"{prefix}: set exactly one of topic_arn, phone_number, target_arn (got topic_arn, phone_number)" in errors
    assert not any(e.startswith(f"{prefix}.sigv4.role_arn") for e in errors)  # AssumeRole is supported
    assert f"{prefix}.sigv4: set both access_key and secret_key, or neither" in errors
    assert f"{prefix}.sigv4.region: required (or the AWS_REGION environment variable)" in errors
    assert "receivers[0].sns_configs[1]: set exactly one of topic_arn, phone_number, target_arn" in errors


# --- WeChat -----------------------------------------------------------------------------------------------
# Documented (WeChat Work server API): GET gettoken?corpid=&corpsecret= answers {errcode, errmsg,
# access_token, expires_in}; POST message/send?access_token= with {touser|toparty|totag, msgtype, agentid,
# text|markdown: {content}, safe} answers {errcode: 0, errmsg: "ok"}; errcode 42001: the token expired.

class FakeWeChat:
    def __init__(self, sink) -> None:
        self.tokens = 0
        self.expire_next = False
        sink.answer = self.answer

    def answer(self, request: Received) -> tuple[int, bytes]:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        if request.method == "GET" and parts.path == "/cgi-bin/gettoken":
            if query != {"corpid": ["corp-1"], "corpsecret": ["s3cret"]}:
                return 200, b'{"errcode": 40013, "errmsg": "invalid corpid"}'
            self.tokens += 1
            return 200, json.dumps({"errcode": 0, "errmsg": "ok", "access_token": f"tok{self.tokens}",
                                    "expires_in": 7200}).encode()
        if request.method == "POST" and parts.path == "/cgi-bin/message/send":
            if query.get("access_token") != [f"tok{self.tokens}"] or self.expire_next:
                self.expire_next = False
                return 200, b'{"errcode": 42001, "errmsg": "access_token expired"}'
            if body_of(request).get("msgtype") not in ("text", "markdown"):
                return 200, b'{"errcode": 40008, "errmsg": "invalid message type"}'
            return 200, b'{"errcode": 0, "errmsg": "ok"}'
        return 404, b""


def test_wechat_fetches_a_token_once_and_sends_the_message(http_sink):
    FakeWeChat(http_sink)
    target = integration("wechat", {"to_user": "@all", "agent_id": "1000002"},
                         glob={"wechat_api_url": http_sink.url("/cgi-bin/"), "wechat_api_secret": "s3cret",
                               "wechat_api_corp_id": "corp-1"})
    send(target, two_firing())
    send(target, two_firing())
    token, first, second = http_sink.wait(3)
    assert (token.method, urlsplit(token.path).path) == ("GET", "/cgi-bin/gettoken")
    assert (first.method, first.path) == ("POST", "/cgi-bin/message/send?access_token=tok1")
    assert second.path == first.path  # the token is kept
    assert body_of(first) == {
        "text": {"content": f"{SUBJECT}\n\nAlerts Firing:\n{_list('a')}{_list('b')}\n\n"
                            f"AlertmanagerUrl:\n{ALERTS_URL}"},
        "touser": "@all", "agentid": "1000002", "safe": "0", "msgtype": "text", "markdown": {"content": ""}}


def test_wechat_expired_token_is_dropped_and_retried_other_errors_are_not(http_sink):
    wechat = FakeWeChat(http_sink)
    target = integration("wechat", {"api_url": http_sink.url("/cgi-bin"), "api_secret": "s3cret", "corp_id": "corp-1",
                                    "message_type": "markdown", "message": "**{{ .Status }}**"})
    send(target, two_firing())
    wechat.expire_next = True
    assert failure(target, two_firing()).retryable is True
    send(target, two_firing())
    assert wechat.tokens == 2
    assert body_of(http_sink.requests[-1])["markdown"] == {"content": "**firing**"}
    bad = integration("wechat", {"api_url": http_sink.url("/cgi-bin/"), "api_secret": "wrong", "corp_id": "corp-1"})
    error = failure(bad, two_firing())
    assert error.retryable is False and "no access token" in str(error)


def test_wechat_config_errors_name_their_keys():
    errors = config_errors({"receivers": [{"name": "r", "wechat_configs": [{"message_type": "news"}]}]})
    prefix = "receivers[0].wechat_configs[0]"
    assert f"{prefix}.api_secret: api_secret, api_secret_file or the global wechat_api_secret is required" in errors
    assert f"{prefix}.corp_id: corp_id or the global wechat_api_corp_id is required" in errors
    assert f"{prefix}.message_type: must be one of: text, markdown (got 'news')" in errors


# --- Datadog ----------------------------------------------------------------------------------------------
# Documented (Events API v1, POST /api/v1/events): header DD-API-KEY; body title, text (4000 characters),
# aggregation_key (100 characters), alert_type (error, warning, info, success, ...), tags ["key:value"],
# host, priority (normal, low), source_type_name; answers 202 {"status": "ok", "event": {...}}.

def test_datadog_posts_an_error_event_then_a_success_event_with_the_same_aggregation_key(http_sink):
    http_sink.answer = lambda request: (202, b'{"status": "ok", "event": {"id": 1}}')
    target = integration("datadog", {"api_key": "dd-key", "api_url": http_sink.url("/api/v1/events"),
                                     "tags": ["team:{{ .CommonLabels.env }}-ops"],
                                     "host": "{{ .GroupLabels.alertname }}",
                                     "priority": "low", "text": "x" * 5000})
    send(target, two_firing())
    send(target, resolved())
    fired, cleared = http_sink.wait(2)
    assert (fired.method, fired.path) == ("POST", "/api/v1/events")
    assert fired.headers["DD-API-KEY"] == "dd-key"
    event = body_of(fired)
    assert event == {"title": SUBJECT, "text": "x" * 3999 + "…", "aggregation_key": GROUP_HASH, "alert_type": "error",
                     "tags": ["alertname:HighCPU", "env:prod", "severity:critical", "team:prod-ops"],
                     "host": "HighCPU", "priority": "low"}
    assert len(event["aggregation_key"]) <= 100
    assert body_of(cleared)["alert_type"] == "success"
    assert body_of(cleared)["aggregation_key"] == GROUP_HASH


def test_datadog_site_default_url_failures_and_config_errors(http_sink):
    assert integration("datadog", {"api_key": "k"}).url == "https://api.datadoghq.com/api/v1/events"
    assert integration("datadog", {"api_key": "k", "site": "datadoghq.eu"}).url == "https://api.datadoghq.eu/api/v1/events"
    http_sink.respond(403)
    target = integration("datadog", {"api_key": "bad", "api_url": http_sink.url("/api/v1/events")})
    error = failure(target, two_firing())
    assert (error.status, error.retryable) == (403, False)
    errors = config_errors({"receivers": [{"name": "r", "datadog_configs": [{"alert_type": "success",
                                                                            "priority": "high"}]}]})
    prefix = "receivers[0].datadog_configs[0]"
    assert f"{prefix}.api_key: api_key or api_key_file is required" in errors
    assert f"{prefix}.alert_type: must be one of: error, warning, info (got 'success')" in errors
    assert f"{prefix}.priority: must be one of: normal, low (got 'high')" in errors


# --- Sentry -----------------------------------------------------------------------------------------------
# Documented (Sentry's envelope endpoint and event payloads): POST /api/<project id>/envelope/ with
# "X-Sentry-Auth: Sentry sentry_version=7, sentry_client=..., sentry_key=<public key>"; the body is newline-
# separated JSON: the envelope header (event_id, dsn, sent_at), the item header (type "event", length of the
# payload in bytes), the event (event_id of 32 hex digits, timestamp, platform, level in fatal/error/warning/
# info/debug, message, tags, fingerprint). Sentry answers 200 {"id": "<event id>"}.

def parse_envelope(body: bytes) -> tuple[dict, dict, dict]:
    header_line, rest = body.split(b"\n", 1)
    item_line, rest = rest.split(b"\n", 1)
    item = json.loads(item_line)
    payload = rest[:item["length"]]
    assert rest[item["length"]:] in (b"", b"\n")
    return json.loads(header_line), item, json.loads(payload)


def test_sentry_sends_the_alert_as_an_event_in_an_envelope(http_sink):
    http_sink.answer = lambda request: (200, json.dumps({"id": parse_envelope(request.body)[0]["event_id"]}).encode())
    dsn = f"http://f00dbeef@127.0.0.1:{http_sink.port}/sentry/42"
    target = integration("sentry", {"dsn": dsn, "environment": "{{ .CommonLabels.env }}",
                                    "tags": {"source": "fleetmon"}})
    send(target, two_firing())
    (request,) = http_sink.wait()
    assert (request.method, request.path) == ("POST", "/sentry/api/42/envelope/")
    assert request.headers["Content-Type"] == "application/x-sentry-envelope"
    auth = request.headers["X-Sentry-Auth"]
    assert auth.startswith("Sentry ") and {"sentry_version=7", "sentry_key=f00dbeef"} <= set(auth[7:].split(", "))
    header, item, event = parse_envelope(request.body)
    assert header["dsn"] == dsn and header["event_id"] == event["event_id"]
    assert item["type"] == "event"
    assert re.fullmatch(r"[0-9a-f]{32}", event["event_id"])
    assert datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert (event["platform"], event["level"], event["environment"]) == ("other", "error", "prod")
    assert event["message"] == {"formatted": SUBJECT}
    assert event["fingerprint"] == [GROUP_KEY]
    assert event["tags"] == {"alertname": "HighCPU", "env": "prod", "severity": "critical", "source": "fleetmon"}
    assert [a["labels"]["host"] for a in event["extra"]["alerts"]] == ["a", "b"]


def test_sentry_resolved_is_not_sent_unless_asked_and_then_as_info(http_sink):
    dsn = f"http://key@127.0.0.1:{http_sink.port}/7"
    assert integration("sentry", {"dsn": dsn}).prepare(resolved()) is None  # send_resolved defaults to false
    target = integration("sentry", {"dsn": dsn, "send_resolved": True})
    send(target, resolved())
    (request,) = http_sink.wait()
    assert request.path == "/api/7/envelope/"
    event = parse_envelope(request.body)[2]
    assert event["level"] == "info" and event["fingerprint"] == [GROUP_KEY]


def test_sentry_dsn_parsing_failures_and_config_errors(http_sink):
    dsn = parse_dsn("https://pub:sec@o1.ingest.sentry.io/4505")
    assert (dsn.public_key, dsn.secret_key, dsn.envelope_url) == ("pub", "sec",
                                                                  "https://o1.ingest.sentry.io/api/4505/envelope/")
    assert parse_dsn("https://o1.ingest.sentry.io/4505") is None  # no public key
    assert parse_dsn("https://key@o1.ingest.sentry.io/project") is None
    http_sink.respond(429)
    target = integration("sentry", {"dsn": f"http://key@127.0.0.1:{http_sink.port}/7"})
    assert failure(target, two_firing()).retryable is True
    errors = config_errors({"receivers": [{"name": "r", "sentry_configs": [{"dsn": "https://sentry.io/1"},
                                                                          {"level": "critical"}]}]})
    assert ("receivers[0].sentry_configs[0].dsn: must be a Sentry DSN: https://<public key>@<host>/<project id>"
            in errors)
    assert "receivers[0].sentry_configs[1].dsn: dsn or dsn_file is required" in errors
    assert any(e.startswith("receivers[0].sentry_configs[1].level: must be one of: fatal, error") for e in errors)


# --- globals ----------------------------------------------------------------------------------------------

def test_the_globals_of_these_kinds_load_and_an_unknown_one_is_named():
    errors = config_errors({"global": {"opsgenie_api_url": "not a url", "jira_api_url": "http://jira.example/rest/api/2/",
                                       "incidentio_url": "http://x"},
                            "receivers": [{"name": "r"}]})
    assert "global.opsgenie_api_url: must be an absolute http:// or https:// URL" in errors
    assert any(e.startswith("global.incidentio_url: unknown key") for e in errors)
    assert not any(e.startswith("global.jira_api_url") for e in errors)
