"""The incidents HTTP API (fleetmon.hub.incidents.api) on an app of just its routes over a real book and SQLite
file, called in-process over ASGI as uvicorn hands requests over (tests/hub/standin.py): every action with
its body, the 400s naming the field, 404s and 409s, the postmortem and its Markdown, the statistics.

The hub decides who may ask before a request reaches these routes; here a stand-in puts the user "ana" on
each request as the auth middleware does (conftest.py)."""

import json
from typing import Any, NamedTuple

import pytest

from tests.hub.standin import Answer, Asgi

NOW = 1_800_000_000.0
POSTMORTEM = {"summary": "disk filled", "rootCause": "logs not rotated", "impact": "writes failed",
              "resolution": "rotated", "followUps": [{"text": "alert on inodes", "owner": "bob", "done": False}]}


class Client:
    def __init__(self, app: Any) -> None:
        self.asgi = Asgi(app)

    def call(self, method: str, path: str, body: Any = None, query: str = "") -> Answer:
        raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        return self.asgi.call(method, path, query.encode(), raw, token=None)


@pytest.fixture
def client(app):
    return Client(app)


class Act(NamedTuple):
    name: str
    action: str
    body: Any
    status: int
    expected: dict[str, Any]  # fields of the answer's incident (200), or {"error": part of the message}
    incident: str = "INC-1"


ACTS = [
    Act("ack", "ack", {"comment": "on it"}, 200, {"id": "INC-1", "state": "acknowledged"}),
    Act("ack with an empty body", "ack", None, 200, {"state": "acknowledged"}),
    Act("investigate", "investigate", {}, 200, {"state": "investigating"}),
    Act("assign", "assign", {"assignee": "bob"}, 200, {"assignee": "bob"}),
    Act("unassign", "assign", {"assignee": ""}, 200, {"assignee": ""}),
    Act("assign nobody", "assign", {}, 400, {"error": "assignee is required"}),
    Act("responders", "responders", {"responders": ["bob", "carol"]}, 200, {"responders": ["bob", "carol"]}),
    Act("no responders", "responders", {"responders": []}, 400, {"error": "responders must be a non-empty list"}),
    Act("a blank responder", "responders", {"responders": ["bob", " "]}, 400,
        {"error": "responders[1] must be a non-empty string"}),
    Act("severity", "severity", {"severity": "critical"}, 200, {"severity": "critical"}),
    Act("a severity off the scale", "severity", {"severity": "huge"}, 400, {"error": "severity must be one of"}),
    Act("resolve", "resolve", {"comment": "cleaned up"}, 200, {"state": "resolved"}),
    Act("hold", "hold", {"held": True}, 200, {"heldOpen": True}),
    Act("hold, not a boolean", "hold", {"held": "yes"}, 400, {"error": "held must be true or false"}),
    Act("reopen a triggered one", "reopen", {}, 409, {"error": "not resolved: there is nothing to reopen"}),
    Act("close a triggered one", "close", {}, 409, {"error": "resolve it before closing it"}),
    Act("merge", "merge", {"into": "INC-2"}, 200, {"id": "INC-2"}),
    Act("merge into nothing", "merge", {"into": "INC-9"}, 404, {"error": "no incident INC-9"}),
    Act("split", "split", {"fingerprints": ["b"], "title": "host b"}, 200,
        {"id": "INC-3", "title": "host b", "links": ["INC-1"]}),
    Act("split an alert it lacks", "split", {"fingerprints": ["c"]}, 400,
        {"error": "fingerprints[0]: c is not an alert of INC-1"}),
    Act("link", "link", {"other": "INC-2"}, 200, {"links": ["INC-2"]}),
    Act("a comment that is no string", "ack", {"comment": 3}, 400, {"error": "comment must be a string"}),
    Act("a misspelt field", "assign", {"asignee": "bob"}, 400,
        {"error": "asignee: unknown field; expected assignee, by"}),
    Act("not JSON", "ack", b"{nope", 400, {"error": "the body is not JSON"}),
    Act("not an object", "ack", ["on it"], 400, {"error": "the body must be a JSON object"}),
    Act("an unknown incident", "ack", {}, 404, {"error": "no incident INC-9"}, incident="INC-9"),
]


@pytest.mark.parametrize("case", ACTS, ids=[c.name for c in ACTS])
def test_acting_on_an_incident(client, case):
    answer = client.call("POST", f"/api/v1/incidents/{case.incident}/{case.action}", case.body)
    assert answer.status == case.status, answer.body
    body = answer.json()
    if case.status == 200:
        assert {key: body["incident"][key] for key in case.expected} == case.expected
    else:
        assert case.expected["error"] in body["error"]


def test_by_is_who_asks_unless_the_body_says(client):
    note = client.call("POST", "/api/v1/incidents/INC-1/notes", {"text": "disk at 99%"}).json()["incident"]
    assert (note["timeline"][-1]["by"], note["timeline"][-1]["text"]) == ("ana", "disk at 99%")
    note = client.call("POST", "/api/v1/incidents/INC-1/notes", {"text": "x", "by": "bob"}).json()["incident"]
    assert note["timeline"][-1]["by"] == "bob"
    assert client.call("POST", "/api/v1/incidents/INC-1/notes", {"text": ""}).json() == {"error": "text is required"}


def test_opening_listing_and_reading(client):
    opened = client.call("POST", "/api/v1/incidents", {"title": "GPU fleet slow", "severity": "critical",
                                                       "assignee": "bob"})
    assert opened.status == 200
    incident = opened.json()["incident"]
    assert (incident["id"], incident["openedBy"], incident["severity"], incident["assignee"]) == (
        "INC-3", "ana", "critical", "bob")
    assert client.call("POST", "/api/v1/incidents", {"severity": "critical"}).json() == {"error": "title is required"}
    assert client.call("POST", "/api/v1/incidents", {"title": "t", "alerts": ["zz"]}).json() == {
        "error": "alerts[0]: the hub holds no alert with fingerprint 'zz'"}
    assert [i["id"] for i in client.call("GET", "/api/v1/incidents").json()["incidents"]] == ["INC-3", "INC-2", "INC-1"]
    assert [i["id"] for i in client.call("GET", "/api/v1/incidents", query="limit=1").json()["incidents"]] == ["INC-3"]
    client.call("POST", "/api/v1/incidents/INC-1/ack")
    assert [i["id"] for i in client.call("GET", "/api/v1/incidents", query="state=acknowledged").json()[
        "incidents"]] == ["INC-1"]
    assert client.call("GET", "/api/v1/incidents", query="state=open").status == 400
    got = client.call("GET", "/api/v1/incidents/INC-1")
    assert got.status == 200 and got.json()["incident"]["timeline"][0]["kind"] == "opened"
    assert client.call("GET", "/api/v1/incidents/INC-9").status == 404
    assert client.call("POST", "/api/v1/incidents/INC-1/explode", {}).status == 404


def test_the_postmortem_closes_the_incident_and_exports_as_markdown(client):
    client.call("POST", "/api/v1/incidents/INC-1/resolve")
    refused = client.call("POST", "/api/v1/incidents/INC-1/close")
    assert refused.status == 409 and "rootCause, impact and resolution" in refused.json()["error"]
    bad = client.call("PUT", "/api/v1/incidents/INC-1/postmortem", {**POSTMORTEM, "followUps": [{"owner": "x"}]})
    assert bad.json() == {"error": "followUps[0].text must be a non-empty string"}
    saved = client.call("PUT", "/api/v1/incidents/INC-1/postmortem", POSTMORTEM)
    assert saved.status == 200 and saved.json()["incident"]["postmortem"] == POSTMORTEM
    assert client.call("POST", "/api/v1/incidents/INC-1/close").json()["incident"]["state"] == "closed"
    assert client.call("POST", "/api/v1/incidents/INC-1/assign", {"assignee": "bob"}).status == 409
    markdown = client.call("GET", "/api/v1/incidents/INC-1/postmortem.md")
    assert (markdown.status, markdown.media_type) == (200, "text/markdown")
    assert markdown.body.decode().startswith("# INC-1 (warning): DiskFull\n")
    assert "- [ ] alert on inodes (bob)" in markdown.body.decode()
    assert client.call("GET", "/api/v1/incidents/INC-9/postmortem.md").status == 404


def test_statistics(client):
    client.call("POST", "/api/v1/incidents/INC-1/ack")
    stats = client.call("GET", "/api/v1/incidents/stats", query=f"since={NOW - 60}&until={NOW + 60}")
    assert stats.status == 200
    body = stats.json()
    assert (body["opened"], body["acknowledged"], body["unacknowledged"]) == (2, 1, 1)
    assert body["openByState"] == {"triggered": 1, "acknowledged": 1, "investigating": 0, "resolved": 0}
    assert client.call("GET", "/api/v1/incidents/stats", query=f"since={NOW}&until={NOW - 1}").json() == {
        "error": "until is before since"}
    assert client.call("GET", "/api/v1/incidents/stats", query="until=soon").json() == {
        "error": "until must be Unix seconds"}
