"""Logging in and out of the hub's real app: the session cookie and its flags, who-am-i, the CSRF token every
change made with a session cookie must carry (and a bearer token need not), and the login's own checks."""

import hashlib
import sqlite3

import pytest

from fleetmon.hub.auth.config import SESSION_MAX_AGE
from fleetmon.hub.auth.middleware import SESSION_COOKIE
from tests.hub.auth.visitor import API_TOKEN, TOKEN_OF, Visitor, users

NO_ALERT = {"target": "no-such-alert"}  # an ack the API hears and answers 404: past the access control


def audit(hub) -> list[dict]:
    return Visitor(hub, address="203.0.113.99").call("GET", "/api/v1/audit", token=TOKEN_OF["ada"]).json()["entries"]


def test_a_login_opens_a_session_that_who_am_i_names_and_the_logout_ends(make_hub):
    hub = make_hub()
    browser = Visitor(hub)
    nobody = {"user": None, "role": None, "csrf": "", "anonymous_read": False, "users_configured": True}
    assert browser.call("GET", "/api/v1/auth/me").json() == nobody
    assert browser.call("GET", "/api/v1/hosts").status == 401

    answer = browser.login("otto")
    assert answer.json() == {"user": "otto", "role": "operator", "csrf": browser.csrf}
    assert len(browser.csrf) >= 32
    assert browser.call("GET", "/api/v1/auth/me").json() == {**nobody, "user": "otto", "role": "operator",
                                                             "csrf": browser.csrf}
    assert browser.call("GET", "/api/v1/hosts").status == 200
    session_id = browser.cookies[SESSION_COOKIE]

    assert browser.call("POST", "/api/v1/auth/logout").json() == {"ok": True}
    assert SESSION_COOKIE not in browser.cookies  # the hub cleared the cookie
    assert browser.call("GET", "/api/v1/auth/me").json() == nobody
    replayed = Visitor(hub)
    replayed.cookies[SESSION_COOKIE] = session_id  # a copy kept from before the logout logs nobody in
    assert replayed.call("GET", "/api/v1/auth/me").json()["user"] is None
    assert replayed.call("GET", "/api/v1/hosts").status == 401
    assert [(e["action"], e["user"], e["ok"]) for e in audit(hub)[:2]] == [("logout", "otto", True),
                                                                           ("login", "otto", True)]


@pytest.mark.parametrize("scheme, secure", [
    ("http", ""),  # a Secure cookie would never come back over plain HTTP
    ("https", True),  # over HTTPS it must not leak to a plain-HTTP request to the same host
])
def test_the_session_cookie_is_httponly_samesite_strict_and_secure_under_https(make_hub, scheme, secure):
    browser = Visitor(make_hub(), scheme=scheme)
    browser.login("vera")
    cookie = browser.session_cookie
    assert (cookie["httponly"], cookie["samesite"], cookie["path"], cookie["secure"]) == (True, "strict", "/", secure)
    assert int(cookie["max-age"]) == SESSION_MAX_AGE  # no longer than any session lives
    browser.call("POST", "/api/v1/auth/logout")
    cleared = browser.session_cookie
    assert (cleared.value, cleared["max-age"], cleared["httponly"], cleared["secure"]) == ("", "0", True, secure)


def test_the_database_keeps_a_digest_of_the_session_id_so_a_copy_of_it_logs_nobody_in(make_hub, tmp_path):
    hub = make_hub()
    browser = Visitor(hub)
    browser.login("vera")
    session_id = browser.cookies[SESSION_COOKIE]
    with sqlite3.connect(hub.config.auth_db) as db:
        stored = db.execute("SELECT id_hash, user FROM sessions").fetchall()
    assert stored == [(hashlib.sha256(session_id.encode()).hexdigest(), "vera")]
    forged = Visitor(hub)
    forged.cookies[SESSION_COOKIE] = stored[0][0]
    assert forged.call("GET", "/api/v1/auth/me").json()["user"] is None


def test_a_change_made_with_a_session_cookie_needs_its_csrf_token_and_one_with_a_bearer_token_does_not(make_hub):
    hub = make_hub()
    browser, other = Visitor(hub), Visitor(hub, address="192.0.2.11")
    browser.login("otto")
    other.login("otto")  # the same user in another browser: its own session, its own token
    assert other.csrf != browser.csrf
    for csrf in ("", "forged", other.csrf):
        refused = browser.call("POST", "/api/v1/acks", NO_ALERT, csrf=csrf)
        assert refused.status == 403, csrf
        assert "X-CSRF-Token" in refused.json()["error"]
    assert browser.call("POST", "/api/v1/acks", NO_ALERT).status == 404  # its own token: heard
    assert browser.call("GET", "/api/v1/acks", csrf="").status == 200  # reading needs none
    script = Visitor(hub, address="192.0.2.12")
    assert script.call("POST", "/api/v1/acks", NO_ALERT, token=TOKEN_OF["otto"]).status == 404
    # A bearer token beside the cookie decides who asks: a page of another site cannot send one.
    assert browser.call("POST", "/api/v1/acks", NO_ALERT, token=TOKEN_OF["otto"], csrf="").status == 404

    # The logout is a change too: another site's page cannot log the reader out.
    assert browser.call("POST", "/api/v1/auth/logout", csrf="").status == 403
    assert browser.call("GET", "/api/v1/auth/me").json()["user"] == "otto"
    refused = [(e["target"], e["user"], e["ok"]) for e in audit(hub) if e["action"] == "refused"]
    assert refused == [("POST /api/v1/auth/logout", "otto", False)] + [("POST /api/v1/acks", "otto", False)] * 3


def test_a_login_ends_the_session_the_browser_had(make_hub):
    hub = make_hub()
    browser = Visitor(hub)
    browser.login("vera")
    before = browser.cookies[SESSION_COOKIE]
    assert browser.login("otto").status == 200
    assert browser.cookies[SESSION_COOKIE] != before
    assert browser.call("GET", "/api/v1/auth/me").json()["user"] == "otto"
    kept = Visitor(hub)
    kept.cookies[SESSION_COOKIE] = before
    assert kept.call("GET", "/api/v1/auth/me").json()["user"] is None


def test_who_am_i_names_the_owner_of_a_bearer_token_without_a_csrf_token(make_hub):
    hub = make_hub()
    script = Visitor(hub)
    assert script.call("GET", "/api/v1/auth/me", token=TOKEN_OF["vera"]).json() == {
        "user": "vera", "role": "viewer", "csrf": "", "anonymous_read": False, "users_configured": True}
    assert script.call("GET", "/api/v1/auth/me", token=API_TOKEN).json()["user"] == "api"
    # On an open path a wrong token only makes the request anonymous.
    assert script.call("GET", "/api/v1/auth/me", token="wrong").json()["user"] is None


@pytest.mark.parametrize("body, content_type, status, error", [
    # A form of another site can post text/plain that parses as JSON: only JSON is a login.
    (b'{"user": "otto", "password": "otto\'s password"}', "text/plain", 415, "Content-Type: application/json"),
    (b"user=otto&password=x", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
    (b"{nope", "application/json", 400, "not JSON"),
    ({"user": "otto"}, "application/json", 400, "expected {user, password}"),
    ({"user": "otto", "password": 5}, "application/json", 400, "expected {user, password}"),
    (["otto", "x"], "application/json", 400, "expected {user, password}"),
    ({"user": "otto", "password": "x" * 1025}, "application/json", 400, "at most 1024"),
])
def test_a_login_that_is_no_json_login_is_refused_unchecked(make_hub, body, content_type, status, error):
    hub = make_hub()
    browser = Visitor(hub)
    for _ in range(6):  # more than the failures a client has before it is slowed down
        answer = browser.call("POST", "/api/v1/auth/login", body, content_type=content_type)
        assert answer.status == status and error in answer.json()["error"]
    assert SESSION_COOKIE not in browser.cookies
    assert not [e for e in audit(hub) if e["action"] == "login"]  # no password was checked
    assert browser.login("otto").status == 200  # nor a failure counted


def test_a_user_with_api_tokens_only_cannot_log_in(make_hub):
    robot = {"name": "robot", "role": "operator", "tokens": users("otto")[0]["tokens"]}
    hub = make_hub({"users": [*users("vera", "ada"), robot]})
    answer = Visitor(hub).login("robot", "")
    assert (answer.status, answer.json()) == (401, {"error": "unknown user or wrong password"})
    assert Visitor(hub).call("POST", "/api/v1/acks", NO_ALERT, token=TOKEN_OF["otto"]).status == 404
    assert audit(hub)[-1]["detail"] == "no password"
