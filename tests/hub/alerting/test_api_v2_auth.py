"""HTTP basic auth on Alertmanager's API v2 (the hub's real app on its real parts, called in-process): a user's
name and password let in with that user's role; wrong passwords are throttled and audited as failed logins
are; a change with basic auth must be JSON (a cross-site form cannot send it); and the rest of the API does
not take basic auth."""

import asyncio
import base64
import json
import time

import pytest

from fleetmon.hub.web.app import build_app
from fleetmon.protocol.messages import rfc3339
from tests.hub.auth.visitor import Clock, auth_hub, password_of
from tests.hub.standin import Answer, exchange

SILENCE = {"matchers": [{"name": "host", "value": "h1", "isRegex": False}], "startsAt": rfc3339(time.time()),
           "endsAt": rfc3339(time.time() + 3600), "createdBy": "", "comment": "disk swap"}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def hub(tmp_path, clock):
    stand_in = auth_hub(tmp_path, clock)
    yield stand_in
    stand_in.close()


def call(hub, method: str, path: str, authorization: str = "", body=None,
         content_type: str = "application/json") -> Answer:
    headers = [(b"host", b"hub.example")]
    if authorization:
        headers.append((b"authorization", authorization.encode()))
    data = b"" if body is None else json.dumps(body).encode()
    if data:
        headers.append((b"content-type", content_type.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("192.0.2.20", 50000), "server": ("hub.example", 80)}
    messages = asyncio.run(exchange(build_app(hub.web()), scope, data))
    start = next(m for m in messages if m["type"] == "http.response.start")
    return Answer(start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
                  b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body"))


def basic(name: str, password: str | None = None) -> str:
    secret = password_of(name) if password is None else password
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


def test_basic_auth_lets_a_user_in_with_her_role(hub):
    assert call(hub, "GET", "/api/v2/alerts").status == 401  # users, no anonymous reader
    assert call(hub, "GET", "/api/v2/alerts", basic("vera")).status == 200
    assert call(hub, "POST", "/api/v2/silences", basic("vera"), SILENCE).status == 403
    made = call(hub, "POST", "/api/v2/silences", basic("otto"), SILENCE)
    assert made.status == 200, made.body
    shown = call(hub, "GET", f"/api/v2/silence/{made.json()['silenceID']}", basic("vera")).json()
    assert shown["createdBy"] == "otto"  # an empty createdBy is the user asking
    assert call(hub, "DELETE", f"/api/v2/silence/{shown['id']}", basic("vera")).status == 403
    assert call(hub, "DELETE", f"/api/v2/silence/{shown['id']}", basic("otto")).status == 200
    # Only Alertmanager's API takes basic auth; the rest of the hub's wants a token or a session.
    assert call(hub, "GET", "/api/v1/alerts", basic("vera")).status == 401


def test_a_change_with_basic_auth_must_be_json(hub):
    refused = call(hub, "POST", "/api/v2/silences", basic("otto"), SILENCE, content_type="text/plain")
    assert refused.status == 415 and "application/json" in refused.json()["error"]
    assert call(hub, "GET", "/api/v2/silences", basic("otto")).json() == []


def test_wrong_passwords_are_throttled_and_audited_as_failed_logins(hub, clock):
    wrong = basic("otto", "not otto's")
    assert [call(hub, "GET", "/api/v2/status", wrong).status for _ in range(6)] == [401] * 5 + [429]
    assert call(hub, "GET", "/api/v2/status", basic("otto")).status == 429  # the name is throttled, whoever asks
    clock.advance(600)
    assert call(hub, "GET", "/api/v2/status", basic("otto")).status == 200
    assert call(hub, "GET", "/api/v2/status", "Basic bm8tY29sb24=").status == 401  # base64 of "no-colon"
    assert call(hub, "GET", "/api/v2/status", "Basic !!!").status == 401
    entries = hub.parts.authority.audit.entries(0.0, 50)
    failures = [(e["user"], e["detail"]) for e in entries if e["action"] == "login" and not e["ok"]]
    assert failures.count(("otto", "bad password (basic auth)")) == 5
    assert ("otto", "throttled (basic auth)") in failures
    assert not [e for e in entries if e["action"] == "login" and e["ok"]]  # basic auth opens no session
