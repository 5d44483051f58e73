"""The OpenAPI document of the hub's HTTP API (agent/fleetmon/hub/alerting/openapi.yaml) against the code.

The document must be well formed, name exactly the routes the real Starlette app registers, and describe
what the real code answers: responses of the real app (called in-process over ASGI, on a stand-in hub
with a real dispatcher, journal and fleet state) and of the functions behind it are validated against the
document's schemas with jsonschema (Draft 2020-12, the dialect of OpenAPI 3.1).
"""

import copy
import json
import re
import time
from datetime import datetime
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from starlette.routing import Route

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.api import OPENAPI
from fleetmon.hub.alerting.delivery import Attempt
from fleetmon.hub.alerting.journal import AlertJournal
from fleetmon.hub.alerting.matchers import parse_matcher
from fleetmon.hub.alerting.silences import Silence, matchers_from_json
from fleetmon.hub.alerting.timeintervals import TimeIntervals
from fleetmon.hub.auth.middleware import BASIC_AUTH_PATHS
from fleetmon.hub.auth.passwords import hash_password
from fleetmon.hub.auth.policy import required_role
from fleetmon.hub.auth.ratelimit import Throttle
from fleetmon.hub.auth.tokens import token_hash
from fleetmon.hub.config import parse_config
from fleetmon.hub.ingest import Message
from fleetmon.hub.parts import build_parts
from fleetmon.hub.sla.config import parse_slos
from fleetmon.hub.state import FleetState, group_rollups, host_summary
from fleetmon.hub.store import CheckRecord, Event, QueriedSeries, StateChange
from fleetmon.hub.web.app import build_app
from fleetmon.protocol.alerts import alert
from fleetmon.protocol.messages import rfc3339
from tests.hub.standin import Answer, Asgi, StandIn, stand_in_hub

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: What the operations need beyond a viewer's role, or less (fleetmon.hub.auth.policy), spelled out: an
#: operation that changes something, or is open to anyone, is one on purpose.
CHANGES = {("/api/v2/alerts", "post"), ("/api/v2/silences", "post"), ("/api/v2/silence/{id}", "delete"),
           ("/api/v1/acks", "post"), ("/api/v1/silences", "post"),
           ("/api/v1/silences/{id}", "delete"), ("/api/v1/maintenance", "post"), ("/api/v1/maintenance/{id}", "delete"),
           ("/api/v1/incidents", "post"), ("/api/v1/incidents/{id}/postmortem", "put"),
           *((f"/api/v1/incidents/{{id}}/{action}", "post") for action in (
               "ack", "investigate", "assign", "responders", "notes", "severity", "resolve", "hold", "reopen", "close",
               "merge", "split", "link"))}
ADMIN_ONLY = {("/api/v1/audit", "get")}
OPEN = {("/metrics", "get"), ("/health/live", "get"), ("/health/ready", "get"), ("/health/startup", "get"),
        ("/api/v1/auth/login", "post"), ("/api/v1/auth/logout", "post"), ("/api/v1/auth/me", "get")}
TOKEN = "s3cret-token"

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 with a zone (jsonschema checks date-time only with an extra package)."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        raise ValueError(f"not RFC 3339: {value!r}")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text())


def _operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _refs(node: Any):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _pointer(spec, node["$ref"])
    return node


def _as_json_schema(node: Any) -> Any:
    """Component references rewritten for a standalone schema whose ``$defs`` are the components."""
    if isinstance(node, dict):
        return {k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _as_json_schema(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_as_json_schema(v) for v in node]
    return node


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    root = {**_as_json_schema(copy.deepcopy(schema)), "$defs": _as_json_schema(spec["components"]["schemas"])}
    return Draft202012Validator(root, format_checker=FORMATS)


def assert_valid(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    errors = sorted(validator(spec, schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors) + \
        f"\n{json.dumps(instance, indent=1)[:3000]}"


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


# --- the document itself -------------------------------------------------------------------------------

def test_the_document_is_a_well_formed_openapi_3_1_document(spec):
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["paths"]
    for ref in _refs(spec):
        _pointer(spec, ref)
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(_as_json_schema(schema))
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    operation_ids = []
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        assert path.startswith("/"), where
        assert operation.get("summary") or operation.get("description"), f"{where}: say what it does"
        operation_ids.append(operation["operationId"])
        assert operation["responses"], f"{where} has no responses"
        for status, response in operation["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d|default", status), f"{where}: status {status}"
            response = _deref(spec, response)
            assert response["description"], f"{where} {status}"
            for media in response.get("content", {}).values():
                Draft202012Validator.check_schema(_as_json_schema(media["schema"]))
        parameters = [_deref(spec, p) for p in [*spec["paths"][path].get("parameters", []),
                                                 *operation.get("parameters", [])]]
        assert {p["name"] for p in parameters if p["in"] == "path"} == set(re.findall(r"{(\w+)}", path)), where
        for parameter in parameters:
            assert parameter["in"] in ("path", "query", "header", "cookie"), where
            assert parameter["in"] != "path" or parameter["required"] is True, where
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(schemes), where
        if "requestBody" in operation:
            assert "application/json" in operation["requestBody"]["content"], where
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_each_operation_documents_the_access_the_policy_gives_it(spec):
    assert "security" not in spec, "each operation says what it needs"
    needs = {(path, method): required_role(method, re.sub(r"{\w+}", "x", path))
             for path, method, _ in _operations(spec)}
    assert {operation for operation, needed in needs.items() if needed == "operator"} == CHANGES
    assert {operation for operation, needed in needs.items() if needed == "admin"} == ADMIN_ONLY
    assert {operation for operation, needed in needs.items() if needed == "open"} == OPEN
    for (path, method), needed in needs.items():
        operation = spec["paths"][path][method]
        if needed == "open":
            assert "security" not in operation, path
            continue
        # A read may be anonymous (auth.anonymous_read); what needs more always needs a user. Alertmanager's API
        # also takes basic auth (fleetmon.hub.auth.middleware).
        anonymous = [{}] if needed == "viewer" else []
        basic = [{"basicAuth": []}] if path.startswith(BASIC_AUTH_PATHS) else []
        assert operation["security"] == [*anonymous, {"bearerAuth": []}, {"sessionCookie": []}, *basic], path
        refusals = {"401": "Unauthorized", "429": "TooManyRequests"}  # no login, or a wrong token slowed down
        if needed != "viewer":
            refusals["403"] = "Forbidden"  # a role too low, or no CSRF token with a session cookie
        responses = operation["responses"]
        assert {status: responses.get(status) for status in refusals} == {
            status: {"$ref": f"#/components/responses/{name}"} for status, name in refusals.items()}, path
        assert needed != "viewer" or "403" not in responses, f"{path}: every user is at least a viewer"


# --- the document against the app ----------------------------------------------------------------------

def app_routes(app) -> set[tuple[str, str]]:
    pairs = set()
    for route in app.routes:
        assert isinstance(route, Route), f"an unexpected kind of route: {route!r}"
        pairs |= {(route.path, method.lower()) for method in route.methods if method != "HEAD"}
    return pairs


def test_the_document_names_exactly_the_routes_of_the_app(spec, tmp_path):
    hub = stand_in_hub(tmp_path)  # the hub's real parts; the handlers are not called
    # The page and its static files are not API.
    routes = {(path, method) for path, method in app_routes(build_app(hub.web()))
              if path.startswith(("/api/", "/metrics", "/health/"))}
    hub.close()
    documented = {(path, method) for path, method, _ in _operations(spec)}
    assert documented - routes == set(), "documented but not served"
    assert routes - documented == set(), "served but not documented"


# --- the document against what the code answers --------------------------------------------------------

ALERTING = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers: [{name: team}]
"""


class FakeStore:
    """The history store's query, as the real one answers it (one raw and one rollup series)."""

    def query(self, host, metric, matchers, start, end, tier):
        if tier not in (None, "raw", "1m", "1h"):
            raise ValueError(f"unknown tier {tier!r}; expected one of raw, 1m, 1h")
        if host != "jetson-01":
            return []
        return [QueriedSeries(metric, {"mount": "/"}, "raw", [(start, 0.5), (end, 0.6)]),
                QueriedSeries(metric, {"mount": "/data"}, "1m", [(start, 0.1, 0.2, 0.3)])]


def birth(host: str, now: float) -> list[Message]:
    status = {"state": "online", "agent": {"version": "1.2.3"}, "facts": {"model": "Jetson Orin"},
              "groups": ["jetsons", "berlin"], "labels": {"site": "berlin"},
              "thresholds": [{"metric": "fleetmon_cpu_usage_ratio", "warning": 0.9}], "checks": [{"name": "ntp"}],
              "interval_s": 10}
    metrics = {"interval_s": 10, "metrics": {"fleetmon_cpu_usage_ratio": 0.95, "fleetmon_memory_usage_ratio": 0.5,
                                             "fleetmon_filesystem_usage_ratio": [[{"mount": "/"}, 0.7]],
                                             "fleetmon_jetson_temperature_celsius": [[{"zone": "gpu"}, 51.0]]}}
    check = {"name": "ntp", "type": "command", "ok": False, "status": "fail", "message": "not synced",
             "started_at": now, "duration_s": 0.1, "value": None, "consecutive_failures": 2}
    alert = {"status": "firing", "labels": {"alertname": "CpuHigh", "severity": "warning", "host": host},
             "annotations": {}, "startsAt": rfc3339(now - 60), "endsAt": "0001-01-01T00:00:00Z",
             "fingerprint": "0123456789abcdef"}
    return [Message("status", host, 1, 1, now, status, now), Message("metrics", host, 1, 1, now - 1, metrics, now),
            Message("checks", host, 1, 1, now, {"results": [check]}, now),
            Message("alerts", host, 1, 1, now, {"alerts": [alert]}, now)]


@pytest.fixture
def hub(tmp_path):
    now = time.time()
    stand_in = stand_in_hub(tmp_path, ALERTING, TOKEN, {"jetson-01": ["jetsons"], "srv-01": ["servers"]},
                            started=False)
    for message in birth("jetson-01", now):
        stand_in.parts.fleet.apply(message)
    stand_in.history = FakeStore()
    stand_in.readiness_problem = lambda: "not connected to the broker: connecting"
    yield stand_in
    stand_in.close()


class Client:
    """Calls the app in-process over ASGI, and checks every answer against the document."""

    def __init__(self, spec: dict[str, Any], hub) -> None:
        self.spec, self.asgi = spec, Asgi(build_app(hub.web()))
        self.checked: set[tuple[str, str, str]] = set()

    def call(self, method: str, path: str, query: str = "", body: Any = None, token: str | None = None) -> Answer:
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        answer = self.asgi.call(method, path, query.encode(), data, token)
        self.check(method, path, answer)
        return answer

    def check(self, method: str, path: str, answer: Answer) -> None:
        template = next((t for t in self.spec["paths"]
                         if re.fullmatch(re.sub(r"{\w+}", "[^/]+", t), path)), None)
        assert template is not None, f"{path} is not in the document"
        operation = self.spec["paths"][template][method.lower()]
        responses = operation["responses"]
        where = f"{method} {path} -> {answer.status}"
        assert str(answer.status) in responses, f"{where} is not documented: {answer.body[:300]!r}"
        documented = _deref(self.spec, responses[str(answer.status)])
        if "content" not in documented:  # an answer without a body (Alertmanager's expiry)
            assert answer.body == b"", f"{where}: a body where none is documented: {answer.body[:300]!r}"
            self.checked.add((template, method.lower(), str(answer.status)))
            return
        content = documented["content"]
        assert answer.media_type in content, f"{where}: {answer.media_type} is not documented"
        if answer.media_type == "application/json":
            assert_valid(self.spec, content[answer.media_type]["schema"], answer.json())
        self.checked.add((template, method.lower(), str(answer.status)))


def test_every_operation_answers_as_documented(spec, hub):
    client = Client(spec, hub)
    dispatcher = hub.dispatcher

    # probes, metrics, fleet
    assert client.call("GET", "/health/live").status == 200
    assert client.call("GET", "/health/ready").json() == {"ok": False,
                                                          "problem": "not connected to the broker: connecting"}
    assert client.call("GET", "/health/startup").status == 503
    hub.started.set()
    assert client.call("GET", "/health/startup").status == 200
    hub.readiness_problem = lambda: ""
    assert client.call("GET", "/health/ready").status == 200
    hub.liveness_problem = lambda: "the rules thread stopped"
    assert client.call("GET", "/health/live").status == 503
    assert "fleetmon_host_up" in client.call("GET", "/metrics").body.decode()
    hosts = client.call("GET", "/api/v1/hosts").json()["hosts"]
    assert [h["host"] for h in hosts] == ["jetson-01", "srv-01"]
    detail = client.call("GET", "/api/v1/hosts/jetson-01").json()
    assert detail["failing_checks"] == ["ntp"] and detail["edge_alerts"]
    client.call("GET", "/api/v1/hosts/srv-01")
    assert client.call("GET", "/api/v1/hosts/nowhere").status == 404
    assert set(client.call("GET", "/api/v1/groups").json()["groups"]) == {"jetsons", "berlin", "servers"}
    assert {s["group"] for s in client.call("GET", "/api/v1/dashboard").json()["sections"]} >= {"jetsons"}
    client.call("GET", "/api/v1/hub")
    assert client.call("GET", "/api/v1/sites").status == 404  # no federation: section (below: a central hub's)
    series = client.call("GET", "/api/v1/query", "host=jetson-01&metric=m&start=0&end=60&match=mount=/").json()
    assert len(series["series"]) == 2
    assert client.call("GET", "/api/v1/query", "host=jetson-01").status == 400
    assert client.call("GET", "/api/v1/query", "host=a&metric=m&start=yesterday").status == 400
    assert client.call("GET", "/api/v1/query", "host=a&metric=m&tier=5m").status == 400

    # the document serves itself
    served = client.call("GET", "/api/v1/openapi.yaml")
    assert yaml.safe_load(served.body) == spec

    # changes without a valid token
    for method, path in (("POST", "/api/v2/alerts"), ("POST", "/api/v1/acks"), ("POST", "/api/v1/silences"),
                         ("DELETE", "/api/v1/silences/x")):
        assert client.call(method, path, body=[]).status == 401
        assert client.call(method, path, body=[], token="wrong").status == 401
        hub.config.api_token = ""
        assert "no API token" in client.call(method, path, body=[], token="").json()["error"]
        hub.config.api_token = TOKEN

    # alerts
    now = time.time()
    alerts = [{"labels": {"alertname": "DiskFull", "host": "srv-01", "severity": "critical"},
               "annotations": {"summary": "disk full"}, "startsAt": rfc3339(now - 120),
               "generatorURL": "http://prometheus/graph"},
              {"labels": {"alertname": "DiskFull", "host": "srv-02", "severity": "critical"}, "startsAt": now - 60},
              {"labels": {"alertname": "Gone", "host": "srv-01"}, "startsAt": rfc3339(now - 600),
               "endsAt": rfc3339(now - 300)}]
    assert client.call("POST", "/api/v2/alerts", body=alerts, token=TOKEN).json() == {"accepted": 3}
    assert client.call("POST", "/api/v2/alerts", body={"labels": {}}, token=TOKEN).status == 400
    assert client.call("POST", "/api/v2/alerts", body=[{"labels": {}}], token=TOKEN).status == 400
    assert client.call("POST", "/api/v2/alerts", body=b"{nope", token=TOKEN).status == 400
    dispatcher.process(time.time())
    firing = client.call("GET", "/api/v1/alerts").json()["alerts"]
    assert [a["labels"]["host"] for a in firing] == ["srv-01", "srv-02"]
    assert len(client.call("GET", "/api/v1/alerts", "resolved=true").json()["alerts"]) == 3
    assert len(client.call("GET", "/api/v1/alerts", "filter=host%3D%22srv-02%22").json()["alerts"]) == 1
    assert client.call("GET", "/api/v1/alerts", "filter=host%3D~%22(%22").status == 400
    groups = client.call("GET", "/api/v1/alerts/groups").json()["groups"]
    disk = next(g for g in groups if g["labels"] == {"alertname": "DiskFull"})

    # acknowledgements
    acks = client.call("POST", "/api/v1/acks", body={"target": disk["id"], "by": "ops", "comment": "on it",
                                                    "expiresAt": rfc3339(now + 3600)}, token=TOKEN).json()
    assert len(acks["acks"]) == 2
    assert client.call("POST", "/api/v1/acks", body={"target": firing[0]["fingerprint"]}, token=TOKEN).status == 200
    assert client.call("POST", "/api/v1/acks", body={"by": "ops"}, token=TOKEN).status == 400
    assert client.call("POST", "/api/v1/acks", body={"target": "x", "expiresAt": now - 1}, token=TOKEN).status == 400
    assert client.call("POST", "/api/v1/acks", body={"target": "x", "expiresAt": "soon"}, token=TOKEN).status == 400
    assert client.call("POST", "/api/v1/acks", body={"target": "nothing"}, token=TOKEN).status == 404
    assert len(client.call("GET", "/api/v1/acks").json()["acks"]) == 2
    assert all(a["acknowledged"] for a in client.call("GET", "/api/v1/alerts").json()["alerts"])
    assert client.call("GET", "/api/v1/alerts/groups").json()["groups"]

    # silences
    silence = {"matchers": [{"name": "host", "value": "srv-0[12]", "isRegex": True}, 'severity!="info"'],
               "startsAt": rfc3339(now), "endsAt": now + 3600, "createdBy": "ops", "comment": "maintenance"}
    created = client.call("POST", "/api/v1/silences", body=silence, token=TOKEN).json()
    pending = client.call("POST", "/api/v1/silences", token=TOKEN,
                          body={**silence, "startsAt": now + 600, "endsAt": rfc3339(now + 7200)}).json()
    assert client.call("POST", "/api/v1/silences", body={**silence, "endsAt": None}, token=TOKEN).status == 400
    assert client.call("POST", "/api/v1/silences", body={**silence, "id": "nope"}, token=TOKEN).status == 404
    assert client.call("POST", "/api/v1/silences", body=[], token=TOKEN).status == 400
    assert client.call("POST", "/api/v1/silences", token=TOKEN,
                       body={**silence, "matchers": [{"name": "host"}]}).status == 400
    assert client.call("DELETE", f"/api/v1/silences/{pending['id']}", token=TOKEN).status == 200
    assert client.call("DELETE", f"/api/v1/silences/{pending['id']}", token=TOKEN).status == 400
    assert client.call("DELETE", "/api/v1/silences/nope", token=TOKEN).status == 404
    states = [s["status"]["state"] for s in client.call("GET", "/api/v1/silences").json()["silences"]]
    assert states == ["active", "expired"]
    muted = client.call("GET", "/api/v1/alerts").json()["alerts"]
    assert all(a["muted"] == f"silenced by {created['id']}" for a in muted)

    # Alertmanager's API v2 on the same alerts and silences
    alertmanager_calls(client, created["id"])

    # history, notifications, statistics
    hub.journal.attempt(Attempt("team", "webhook[0]", disk["groupKey"], 1, False, "connection refused", None,
                                now, 0.01, False))
    hub.journal.attempt(Attempt("team", "webhook[0]", disk["groupKey"], 2, True, "", 200, now + 1, 0.02, True))
    assert client.call("POST", "/api/v2/alerts", token=TOKEN,
                       body=[{**alerts[1], "endsAt": rfc3339(time.time())}]).status == 200
    dispatcher.process(time.time())
    history = client.call("GET", "/api/v1/alerting/history", "since=0").json()
    assert {a["kind"] for a in history["actions"]} == {"ack", "silence"}
    assert {t["status"] for t in history["transitions"]} == {"firing", "resolved"}
    one = client.call("GET", "/api/v1/alerting/history", f"since=0&fingerprint={firing[0]['fingerprint']}&limit=1")
    assert len(one.json()["transitions"]) == 1
    attempts = client.call("GET", "/api/v1/alerting/notifications", "since=0&limit=x").json()["attempts"]
    assert [a["attempt"] for a in attempts] == [2, 1]
    stats = client.call("GET", "/api/v1/alerting/stats", "since=0").json()
    assert stats["notifications"] == {"ok": 1} and stats["acknowledged"] == 2 and stats["resolved"] == 2
    client.call("GET", "/api/v1/alerting/stats", "since=nope")

    # the console's reads, on the real store
    console_reads(client, hub, time.time())

    # users, sessions, the audit log
    auth_calls(client, hub)

    # above the alerts: maintenance windows, SLO reports
    maintenance_calls(client, time.time())
    sla_calls(client, hub)
    incident_calls(client, firing[0]["fingerprint"], firing[1]["fingerprint"])
    log_calls(client, hub)

    documented = {(path, method) for path, method, _ in _operations(spec)}
    assert {(path, method) for path, method, _ in client.checked} == documented, "call every operation"


def alertmanager_calls(client: Client, silence_id: str) -> None:
    """Alertmanager's API v2 while DiskFull fires on srv-01 and srv-02, both muted by ``silence_id``."""
    status = client.call("GET", "/api/v2/status").json()
    assert yaml.safe_load(status["config"]["original"])["receivers"] == [{"name": "team"}]
    assert client.call("GET", "/api/v2/receivers").json() == [{"name": "team", "labels": {"name": "team"}}]
    alerts = client.call("GET", "/api/v2/alerts", "filter=alertname%3D%22DiskFull%22").json()
    assert sorted(a["labels"]["host"] for a in alerts) == ["srv-01", "srv-02"]
    assert {(a["status"]["state"], tuple(a["status"]["silencedBy"])) for a in alerts} == {("suppressed", (silence_id,))}
    assert client.call("GET", "/api/v2/alerts", "silenced=false&receiver=team").json() == []
    assert client.call("GET", "/api/v2/alerts", "filter=host%3D~%22(%22").status == 400
    assert client.call("GET", "/api/v2/alerts", "receiver=(").status == 400
    groups = client.call("GET", "/api/v2/alerts/groups", "active=false").json()
    assert [(g["labels"], len(g["alerts"])) for g in groups] == [({"alertname": "DiskFull"}, 2)]
    assert client.call("GET", "/api/v2/alerts/groups", "active=maybe").status == 400
    assert silence_id in {s["id"] for s in client.call("GET", "/api/v2/silences", "expired=false").json()}
    assert client.call("GET", "/api/v2/silences", "filter=host%3D~%22(%22").status == 400
    silence = {"matchers": [{"name": "host", "value": "srv-01", "isRegex": False}], "startsAt": rfc3339(time.time()),
               "endsAt": rfc3339(time.time() + 600), "createdBy": "", "comment": "reboot"}
    assert client.call("POST", "/api/v2/silences", body=silence).status == 401
    made = client.call("POST", "/api/v2/silences", body=silence, token=TOKEN).json()["silenceID"]
    shown = client.call("GET", f"/api/v2/silence/{made}").json()
    assert (shown["createdBy"], shown["status"]["state"]) == ("api", "active")
    assert client.call("GET", "/api/v2/silence/nope").status == 404
    assert client.call("POST", "/api/v2/silences", body={**silence, "id": "nope"}, token=TOKEN).status == 404
    assert client.call("POST", "/api/v2/silences", body={**silence, "matchers": []}, token=TOKEN).status == 400
    assert client.call("DELETE", f"/api/v2/silence/{made}").status == 401
    assert client.call("DELETE", f"/api/v2/silence/{made}", token=TOKEN).status == 200
    assert client.call("GET", f"/api/v2/silence/{made}").json()["status"]["state"] == "expired"
    assert client.call("DELETE", "/api/v2/silence/nope", token=TOKEN).status == 404


def maintenance_calls(client: Client, now: float) -> None:
    window = {"name": "disk swap", "hosts": ["srv-01"], "starts_at": rfc3339(now), "ends_at": now + 3600,
              "comment": "ticket 42"}
    made = client.call("POST", "/api/v1/maintenance", body=window, token=TOKEN).json()
    recurring = client.call("POST", "/api/v1/maintenance", token=TOKEN, body={
        "name": "nightly", "groups": ["jetsons"],
        "time_intervals": [{"times": [{"start_time": "02:00", "end_time": "03:00"}]}]}).json()
    assert recurring["window"]["startsAt"] is None and recurring["window"]["timeIntervals"]
    assert client.call("POST", "/api/v1/maintenance", body={"name": "all"}, token=TOKEN).status == 400
    assert client.call("POST", "/api/v1/maintenance", body=[], token=TOKEN).status == 400
    listed = client.call("GET", "/api/v1/maintenance", token=TOKEN).json()["windows"]
    assert {w["id"]: w["status"] for w in listed}[made["id"]] == "active"
    assert client.call("DELETE", f"/api/v1/maintenance/{made['id']}", token=TOKEN).json()["window"]["endedAt"]
    assert client.call("DELETE", f"/api/v1/maintenance/{made['id']}", token=TOKEN).status == 409
    assert client.call("DELETE", "/api/v1/maintenance/nope", token=TOKEN).status == 404
    listed = client.call("GET", "/api/v1/maintenance", token=TOKEN).json()["windows"]
    assert made["id"] not in {w["id"] for w in listed}
    listed = client.call("GET", "/api/v1/maintenance", "all=true", token=TOKEN).json()["windows"]
    assert made["id"] in {w["id"] for w in listed}


def incident_calls(client: Client, first: str, second: str) -> None:
    def act(incident: str, action: str, body: Any = None, status: int = 200) -> dict:
        answer = client.call("POST", f"/api/v1/incidents/{incident}/{action}", body=body or {}, token=TOKEN)
        assert answer.status == status, (action, answer.body)
        return answer.json()

    opened = client.call("POST", "/api/v1/incidents", token=TOKEN, body={
        "title": "disks filling", "severity": "critical", "alerts": [first, second]}).json()["incident"]
    other = client.call("POST", "/api/v1/incidents", body={"title": "other"}, token=TOKEN).json()["incident"]
    assert client.call("POST", "/api/v1/incidents", body={"severity": "x"}, token=TOKEN).status == 400
    one = opened["id"]
    act(one, "ack", {"comment": "on it"})
    act(one, "investigate")
    act(one, "assign", {"assignee": "ana"})
    act(one, "responders", {"responders": ["bob"]})
    act(one, "notes", {"text": "rotating logs"})
    act(one, "severity", {"severity": "warning"})
    act(one, "link", {"other": other["id"]})
    split = act(one, "split", {"fingerprints": [second]})["incident"]
    act(split["id"], "merge", {"into": one})
    act(one, "hold", {"held": True})
    act(one, "resolve")
    act(one, "reopen")
    act(one, "resolve")
    assert "postmortem" in act(one, "close", status=409)["error"]
    postmortem = {"summary": "disk filled", "rootCause": "logs not rotated", "impact": "writes failed",
                  "resolution": "rotated", "followUps": [{"text": "alert on inodes", "owner": "bob", "done": False}]}
    assert client.call("PUT", f"/api/v1/incidents/{one}/postmortem", body=postmortem, token=TOKEN).status == 200
    assert client.call("PUT", f"/api/v1/incidents/{one}/postmortem", body={"rootCause": 3}, token=TOKEN).status == 400
    assert act(one, "close")["incident"]["state"] == "closed"
    act("INC-999", "ack", status=404)
    shown = client.call("GET", f"/api/v1/incidents/{one}", token=TOKEN).json()["incident"]
    assert [entry["kind"] for entry in shown["timeline"]][:2] == ["opened", "alert_joined"]
    assert client.call("GET", "/api/v1/incidents/INC-999", token=TOKEN).status == 404
    assert [i["id"] for i in client.call("GET", "/api/v1/incidents", "state=closed", token=TOKEN).json()["incidents"]]
    assert client.call("GET", "/api/v1/incidents", "state=open", token=TOKEN).status == 400
    assert "logs not rotated" in client.call("GET", f"/api/v1/incidents/{one}/postmortem.md", token=TOKEN).body.decode()
    assert client.call("GET", "/api/v1/incidents/INC-999/postmortem.md", token=TOKEN).status == 404
    assert client.call("GET", "/api/v1/incidents/stats", "since=0", token=TOKEN).json()
    assert client.call("GET", "/api/v1/incidents/stats", "until=soon", token=TOKEN).status == 400


def log_calls(client: Client, hub) -> None:
    logs = hub.parts.logs
    logs.take("srv-01", {"entries": [
        {"ts": time.time() - 5, "cursor": "c1", "priority": 3, "unit": "nginx.service", "identifier": "nginx",
         "pid": 7, "transport": "stdout", "message": "upstream timed out"}]})
    logs.flush(5)
    lines = client.call("GET", "/api/v1/logs", "q=timed&host=srv-01", token=TOKEN).json()["lines"]
    assert [line["message"] for line in lines] == ["upstream timed out"]
    assert client.call("GET", "/api/v1/logs", "priority=loud", token=TOKEN).status == 400
    assert client.call("GET", "/api/v1/logs/stream", "host=srv-01&after=0", token=TOKEN).status == 200
    assert client.call("GET", "/api/v1/logs/stream", "priority=loud", token=TOKEN).status == 400


def sla_calls(client: Client, hub) -> None:
    errors = Errors()
    slos = parse_slos(Node([{"name": "servers-up", "scope": {"groups": ["servers"]}, "good": {"host_up": True},
                             "target": 99.9, "period": "monthly"}], "slos", errors), TimeIntervals())
    assert not errors, list(errors)
    hub.parts.sla.reconfigure(slos, TimeIntervals(), 3.0)
    assert [s["slo"] for s in client.call("GET", "/api/v1/sla", token=TOKEN).json()["slos"]] == ["servers-up"]
    report = client.call("GET", "/api/v1/sla/servers-up/report", "period=2026-11", token=TOKEN).json()
    assert report["label"] == "2026-11"
    csv = client.call("GET", "/api/v1/sla/servers-up/report", "period=2026-11&format=csv", token=TOKEN)
    assert csv.body.decode().splitlines()[0].startswith("member,host,good_s,bad_s")
    assert client.call("GET", "/api/v1/sla/servers-up/report", "period=someday", token=TOKEN).status == 400
    assert client.call("GET", "/api/v1/sla/nope/report", token=TOKEN).status == 404
    assert client.call("GET", "/api/v1/sla/servers-up/budget", "period=2026-11", token=TOKEN).json()
    assert client.call("GET", "/api/v1/sla/servers-up/budget", "step=0", token=TOKEN).status == 400
    assert client.call("GET", "/api/v1/sla/nope/budget", token=TOKEN).status == 404


def console_reads(client: Client, hub, now: float) -> None:
    store = hub.parts.history
    store.start()
    for i in range(3):
        store.write_sample("jetson-01", 1, i + 1, now - 30 + 10 * i,
                           {"fleetmon_cpu_usage_ratio": 0.5 + i / 10, "app_queue_bytes": [[{"target": "app"}, 1e6]],
                            "fleetmon_filesystem_usage_ratio": [[{"mount": "/"}, 0.7]]})
    store.write_check(CheckRecord("jetson-01", now - 20, "ntp", False, None, "not synced"))
    store.write_event(Event("jetson-01", now - 25, "birth", "agent started", {"version": "1.2.3"}))
    store.write_state_change(StateChange("jetson-01", now - 25, "missing", "online", "birth"))
    store.flush()
    hub.dispatcher.put([alert({"alertname": "LoadImbalance", "group": "jetsons", "severity": "warning"},
                              {"summary": "uneven", "confidence": "0.80"}, now - 60)], source="fleet")
    hub.dispatcher.process(now)
    listed = client.call("GET", "/api/v1/hosts/jetson-01/series").json()
    assert {s["section"] for s in listed["series"]} == {"system", "scraped"}
    assert listed["thresholds"] == [{"metric": "fleetmon_cpu_usage_ratio", "labels": {}, "severity": "warning",
                                     "op": ">", "value": 0.9}]
    assert client.call("GET", "/api/v1/hosts/nowhere/series").status == 404
    ranged = client.call("GET", "/api/v1/query_range", f"host=jetson-01&metric=fleetmon_cpu_usage_ratio"
                                                       f"&metric=fleetmon_filesystem_usage_ratio&start={now - 60}"
                                                       f"&max_points=2").json()
    assert [(s["name"], len(s["points"])) for s in ranged["series"]] == [("fleetmon_cpu_usage_ratio", 2),
                                                                         ("fleetmon_filesystem_usage_ratio", 2)]
    assert client.call("GET", "/api/v1/query_range", "host=jetson-01&metric=m&tier=1m").json()["series"] == []
    assert "max_points" in client.call("GET", "/api/v1/query_range", "host=a&metric=m&max_points=1").json()["error"]
    assert client.call("GET", "/api/v1/query_range", "host=nowhere&metric=m").status == 404
    events = client.call("GET", "/api/v1/hosts/jetson-01/events").json()
    assert [e["kind"] for e in events["events"]] == ["birth"] and events["state_changes"][0]["to"] == "online"
    assert client.call("GET", "/api/v1/hosts/jetson-01/events", "start=nope").status == 400
    assert client.call("GET", "/api/v1/hosts/nowhere/events").status == 404
    assert list(client.call("GET", "/api/v1/hosts/jetson-01/checks").json()["checks"]) == ["ntp"]
    assert client.call("GET", "/api/v1/hosts/jetson-01/checks", "limit=0").status == 400
    assert client.call("GET", "/api/v1/hosts/nowhere/checks").status == 404
    group = client.call("GET", "/api/v1/groups/jetsons").json()
    assert [p["confidence"] for p in group["patterns"]] == [0.8]
    assert client.call("GET", "/api/v1/groups/nowhere").status == 404
    heatmap = client.call("GET", "/api/v1/groups/jetsons/heatmap", f"panel=cpu&start={now - 60}&end={now}&buckets=6")
    assert heatmap.json()["hosts"][0]["host"] == "jetson-01"
    assert client.call("GET", "/api/v1/groups/jetsons/heatmap", "panel=nope").status == 400
    assert client.call("GET", "/api/v1/groups/nowhere/heatmap", "panel=cpu").status == 404
    # Asgi hands the app the client's disconnect right after the request: the stream ends at once.
    assert client.call("GET", "/api/v1/live", "host=jetson-01").status == 200
    assert client.call("GET", "/api/v1/live", "&".join(["host=h"] * 101)).status == 400


def auth_calls(client: Client, hub) -> None:
    login, me = "/api/v1/auth/login", "/api/v1/auth/me"
    assert client.call("GET", me).json()["users_configured"] is False
    viewer_token = "a-viewer-token-0123456789"
    hub.config.auth = parse_config({"auth": {"users": [
        {"name": "ada", "role": "admin", "password_hash": hash_password("ada's password")},
        {"name": "vera", "role": "viewer", "tokens": [token_hash(viewer_token)]}]}}).auth
    authority = hub.parts.authority
    authority.logins, authority.bad_tokens = Throttle(lambda: 0.0), Throttle(lambda: 0.0)  # no back-off ends
    answer = client.call("POST", login, body={"user": "ada", "password": "ada's password"})
    assert answer.json()["role"] == "admin" and "HttpOnly" in answer.headers["set-cookie"]
    assert client.call("POST", login, body={"user": "ada"}).status == 400
    assert [client.call("POST", login, body={"user": "ada", "password": "guess"}).status for _ in range(6)] == \
        [401] * 5 + [429]
    assert client.call("GET", me, token=viewer_token).json()["role"] == "viewer"
    assert client.call("POST", "/api/v1/auth/logout").json() == {"ok": True}  # without a session: nothing to end
    assert client.call("GET", "/api/v1/hosts").status == 401  # users, and no anonymous_read
    assert client.call("GET", "/api/v1/audit").status == 401
    assert client.call("GET", "/api/v1/audit", token=viewer_token).status == 403
    entries = client.call("GET", "/api/v1/audit", "limit=50", token=TOKEN).json()["entries"]
    assert {(e["action"], e["ok"]) for e in entries} >= {("login", True), ("login", False), ("ack", True)}
    assert [client.call("GET", "/api/v1/audit", token="wrong").status for _ in range(6)] == [401] * 5 + [429]


# --- the document against the functions behind the answers ---------------------------------------------

def test_silences_in_every_state_match_the_silence_schema_and_their_matchers_read_back(spec):
    matchers = tuple(parse_matcher(text) for text in ('a="1"', 'b!="2"', 'c=~"x.*"', 'd!~"y|z"'))
    for now, state in ((50.0, "pending"), (150.0, "active"), (250.0, "expired")):
        body = Silence("id-1", matchers, 100.0, 200.0, "ops", "why", updated_at=90.0).to_json(now)
        assert body["status"]["state"] == state
        assert_valid(spec, component("Silence"), body)
        assert matchers_from_json(body["matchers"]) == matchers
        assert_valid(spec, component("SilenceRequest"), body)


def test_journal_rows_match_their_schemas(spec, tmp_path):
    journal = AlertJournal(str(tmp_path / "alerting.db"))
    try:
        journal.attempt(Attempt("team", "email[1]", "{}:{}", 0, False, "deadline passed", None, 10.0, 0.0, True))
        journal.attempt(Attempt("team", "webhook[0]", "{}:{}", 1, True, "", 204, 20.0, 0.5, True))
        rows = journal.attempts(0.0)
        assert len(rows) == 2
        for row in rows:
            assert_valid(spec, component("Attempt"), row)
        assert_valid(spec, component("History"), journal.history(0.0))
        assert_valid(spec, component("Stats"), journal.stats(0.0))
    finally:
        journal.close()


def test_fleet_views_match_their_schemas(spec):
    now = time.time()
    state = FleetState({"jetson-01": ["jetsons"], "missing-01": []}, now=now)
    for message in birth("jetson-01", now):
        state.apply(message)
    for record in state.hosts.values():
        assert_valid(spec, {**component("HostSummary"), "unevaluatedProperties": False},
                     host_summary(record, state.skewed(record)))
    rollups = group_rollups(state)
    assert set(rollups) == {"jetsons", "berlin", "ungrouped"}
    for rollup in rollups.values():
        assert_valid(spec, component("GroupRollup"), rollup)


def test_a_central_hubs_sites_and_site_hosts_match_their_schemas(spec, tmp_path):
    config = parse_config({"db": str(tmp_path / "history.db"), "federation": {"sites": ["east", "west"]}})
    config.api_token = TOKEN
    hub = StandIn(build_parts(config), started=True)
    now = time.time()
    view = {"host": "cam-1", "state": "online", "since": now, "reason": "birth", "expected": True, "session": 1,
            "agent_version": "1.2.3", "groups": ["cameras"], "labels": {}, "health": 100, "cpu": 0.2,
            "memory": 0.4, "disk": 0.5, "gpu": None, "temperature": 40.0, "power_watts": None, "alerts": [],
            "failing_checks": [], "last_sample_at": now, "clock_skew_s": 0.0, "clock_skewed": False}
    firing = alert({"alertname": "HostDown", "host": "cam-2", "severity": "critical"}, {}, now - 60)
    for topic, payload in (("east/bridge", b"1"), ("east/hub/status", b'{"state": "online"}'),
                           ("east/fleet/hosts/cam-1", json.dumps(view).encode()),
                           ("east/fleet/alerts/active", json.dumps({"alerts": [firing]}).encode()),
                           ("west/bridge", b"0")):
        assert hub.parts.center.sites.take(f"fleetmon/v1/sites/{topic}", payload, now) == ""
    client = Client(spec, hub)
    try:
        body = client.call("GET", "/api/v1/sites").json()
        assert [(s["site"], s["state"], s["link"]) for s in body["sites"]] == [
            ("east", "reachable", "up"), ("west", "unreachable", "down")]
        assert [a["labels"]["site"] for a in body["alerts"]] == ["east"]
        [host] = client.call("GET", "/api/v1/hosts").json()["hosts"]
        assert (host["host"], host["site"], host["site_state"]) == ("cam-1", "east", "reachable")
        assert client.call("GET", "/api/v1/hosts/cam-1").json()["site"] == "east"
    finally:
        hub.close()
