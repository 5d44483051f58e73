"""Who may do what, through the hub's real app: the viewer reads, the operator also acknowledges and silences,
the admin also reads the audit log; ``api.token`` is an admin; anonymous readers as ``auth.anonymous_read``
says; wrong bearer tokens slowed down per client address."""

import time

import pytest

from fleetmon.hub.auth.ratelimit import WINDOW
from fleetmon.protocol.messages import rfc3339
from tests.hub.auth.visitor import API_TOKEN, TOKEN_OF, Visitor, users

NOW = time.time()
SILENCE = {"matchers": [{"name": "host", "value": "srv-01", "isRegex": False}], "startsAt": rfc3339(NOW),
           "endsAt": rfc3339(NOW + 3600), "comment": "maintenance"}
#: What each request answers once it is let through (the routes' own answers: nothing of these exists).
LET_THROUGH = {("GET", "/api/v1/hosts"): 200, ("GET", "/api/v1/openapi.yaml"): 200,
               ("POST", "/api/v1/acks"): 404, ("POST", "/api/v1/silences"): 200,
               ("DELETE", "/api/v1/silences/nope"): 404, ("POST", "/api/v2/alerts"): 200,
               ("GET", "/api/v1/audit"): 200}
BODIES = {"/api/v1/acks": {"target": "no-such-alert"}, "/api/v1/silences": SILENCE, "/api/v2/alerts": []}
WHO = {"anonymous": None, "viewer": TOKEN_OF["vera"], "operator": TOKEN_OF["otto"], "admin": TOKEN_OF["ada"],
       "api.token": API_TOKEN}


@pytest.mark.parametrize("who, method, path, allowed", [
    # reading: any user; nobody anonymous, as a hub with users has no anonymous_read by default
    ("anonymous", "GET", "/api/v1/hosts", False),
    ("viewer", "GET", "/api/v1/hosts", True),
    ("viewer", "GET", "/api/v1/openapi.yaml", True),
    # acknowledging, silencing, posting alerts: operators and admins
    ("viewer", "POST", "/api/v1/acks", False),
    ("viewer", "POST", "/api/v1/silences", False),
    ("viewer", "DELETE", "/api/v1/silences/nope", False),
    ("viewer", "POST", "/api/v2/alerts", False),
    ("operator", "POST", "/api/v1/acks", True),
    ("operator", "POST", "/api/v1/silences", True),
    ("operator", "DELETE", "/api/v1/silences/nope", True),
    ("operator", "POST", "/api/v2/alerts", True),
    ("admin", "POST", "/api/v1/acks", True),
    ("anonymous", "POST", "/api/v1/acks", False),
    # the audit log: admins only
    ("anonymous", "GET", "/api/v1/audit", False),
    ("viewer", "GET", "/api/v1/audit", False),
    ("operator", "GET", "/api/v1/audit", False),
    ("admin", "GET", "/api/v1/audit", True),
    # the old single API token keeps doing everything it did, and is an admin
    ("api.token", "POST", "/api/v1/silences", True),
    ("api.token", "GET", "/api/v1/audit", True),
])
def test_each_role_may_make_the_requests_of_its_rank(make_hub, who, method, path, allowed):
    answer = Visitor(make_hub()).call(method, path, BODIES.get(path), token=WHO[who])
    # Nobody logged in must log in (401); a user whose role does not reach is refused (403).
    expected = LET_THROUGH[method, path] if allowed else 401 if who == "anonymous" else 403
    assert answer.status == expected, answer.body[:300]
    if answer.status == 401:
        assert answer.json() == {"error": "login required"}
        assert answer.headers["www-authenticate"] == 'Bearer realm="fleetmon"'
    if answer.status == 403:
        assert answer.json() == {"error": f"role {'admin' if 'audit' in path else 'operator'} required"}


def firing_group(hub) -> dict:
    assert Visitor(hub).call("POST", "/api/v2/alerts", token=API_TOKEN, body=[
        {"labels": {"alertname": "DiskFull", "host": "srv-01"}, "startsAt": rfc3339(time.time())}]).status == 200
    hub.dispatcher.process(time.time())
    return Visitor(hub).call("GET", "/api/v1/alerts/groups", token=API_TOKEN).json()["groups"][0]


def test_an_operator_logged_in_acknowledges_and_silences_in_their_own_name_and_a_viewer_may_not(make_hub):
    hub = make_hub()
    group = firing_group(hub)
    viewer, operator = Visitor(hub, address="192.0.2.1"), Visitor(hub, address="192.0.2.2")
    viewer.login("vera")
    operator.login("otto")
    assert viewer.call("POST", "/api/v1/acks", {"target": group["id"]}).status == 403
    assert viewer.call("POST", "/api/v1/silences", SILENCE).status == 403
    assert viewer.call("GET", "/api/v1/alerts").json()["alerts"][0]["acknowledged"] is None

    acked = operator.call("POST", "/api/v1/acks", {"target": group["id"], "comment": "disk being replaced"})
    assert [a["by"] for a in acked.json()["acks"]] == ["otto"]
    silenced = operator.call("POST", "/api/v1/silences", SILENCE).json()
    assert silenced["silence"]["createdBy"] == "otto"
    ack = viewer.call("GET", "/api/v1/alerts").json()["alerts"][0]["acknowledged"]
    assert (ack["by"], ack["comment"]) == ("otto", "disk being replaced")


def test_a_role_changed_in_the_config_counts_from_the_next_request_of_an_open_session(make_hub):
    hub = make_hub()
    operator = Visitor(hub)
    operator.login("otto")
    assert operator.call("POST", "/api/v1/acks", {"target": "nothing"}).status == 404
    demoted = [{**user, "role": "viewer"} if user["name"] == "otto" else user for user in users()]
    hub.config.auth = _parsed({"users": demoted})  # what a reload does: the config in force is replaced
    assert operator.call("GET", "/api/v1/auth/me").json()["role"] == "viewer"
    assert operator.call("POST", "/api/v1/acks", {"target": "nothing"}).status == 403


def _parsed(auth: dict):
    from fleetmon.hub.config import parse_config

    return parse_config({"auth": auth}).auth


@pytest.mark.parametrize("auth, api_token, read, change_error", [
    # with users and no word about it: no anonymous access at all
    ({"users": users()}, API_TOKEN, 401, "login required"),
    ({"users": users(), "anonymous_read": False}, API_TOKEN, 401, "login required"),
    # a wall display may read without a login; changing still needs one
    ({"users": users(), "anonymous_read": True}, API_TOKEN, 200, "login required"),
    # no users: the hub as it was, anyone reads and changes need the API token
    ({}, API_TOKEN, 200, "a valid API token is required: Authorization: Bearer <api.token>"),
    ({"anonymous_read": False}, API_TOKEN, 401, "a valid API token is required: Authorization: Bearer <api.token>"),
    # no users and no token: nobody can change anything, and the answer says why
    ({}, "", 200, "this hub has no API token configured (api.token in the hub config) and no users (auth.users), "
                  "so it refuses every change"),
])
def test_anonymous_read_decides_whether_reading_needs_a_login(make_hub, auth, api_token, read, change_error):
    hub = make_hub(auth, api_token)
    anonymous = Visitor(hub)
    for path in ("/api/v1/hosts", "/api/v1/alerts", "/api/v1/hosts/srv-01/series"):
        assert anonymous.call("GET", path).status in ((read,) if read == 401 else (200, 404)), path
    change = anonymous.call("POST", "/api/v1/acks", {"target": "x"})
    assert (change.status, change.json()) == (401, {"error": change_error})
    assert anonymous.call("GET", "/api/v1/audit").status == 401
    me = anonymous.call("GET", "/api/v1/auth/me").json()
    assert (me["anonymous_read"], me["users_configured"]) == (read == 200, bool(auth.get("users")))
    if api_token:
        assert Visitor(hub).call("GET", "/api/v1/hosts", token=api_token).status == 200


@pytest.mark.parametrize("path", ["/health/live", "/metrics", "/", "/dashboard", "/app.js", "/api/v1/auth/me"])
def test_probes_metrics_and_the_console_files_are_open_whatever_anonymous_read_says(make_hub, path):
    hub = make_hub({"users": users(), "anonymous_read": False})
    assert Visitor(hub).call("GET", path).status == 200
    # a wrong token there is not a failure: Prometheus' scrape of /metrics goes on whatever the console's users do
    assert Visitor(hub).call("GET", path, token="stale").status == 200


def test_a_wrong_bearer_token_is_slowed_down_per_address_and_a_right_one_always_passes(make_hub, clock):
    hub = make_hub()
    guesser = Visitor(hub, address="198.51.100.7")
    answers = [guesser.call("GET", "/api/v1/hosts", token=f"guess-{i}") for i in range(8)]
    assert [a.status for a in answers] == [401] * 5 + [429] * 3
    assert answers[0].json() == {"error": "a valid API token is required: Authorization: Bearer <token>"}
    # each attempt made while slowed down counts too: the wait doubles
    assert [int(a.headers["retry-after"]) for a in answers[5:]] == [a.json()["retry_after"] for a in answers[5:]] \
        == [2, 4, 8]
    assert "too many wrong API tokens" in answers[5].json()["error"]
    # a token is long and random: the right one passes whatever its address got wrong
    assert guesser.call("GET", "/api/v1/hosts", token=TOKEN_OF["vera"]).status == 200
    assert guesser.call("GET", "/api/v1/hosts", token=API_TOKEN).status == 200
    assert Visitor(hub, address="198.51.100.8").call("GET", "/api/v1/hosts", token="guess").status == 401
    clock.advance(8)
    assert guesser.call("GET", "/api/v1/hosts", token="guess-9").status == 401  # heard after the wait (and wrong)
    assert guesser.call("GET", "/api/v1/hosts", token="guess-10").status == 429
    clock.advance(WINDOW + 1)  # failures older than the window are forgotten
    assert guesser.call("GET", "/api/v1/hosts", token="guess-11").status == 401
