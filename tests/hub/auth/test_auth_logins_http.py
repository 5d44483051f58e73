"""Failed logins through the hub's real app: slowed down per client and per user with a growing back-off and
Retry-After, an unknown user refused as a wrong password is, and the audit log (admins only) that lists
logins, failed logins, acknowledgements and silences."""

import time

from fleetmon.hub.auth.authority import BAD_LOGIN, CLIENT_FREE_FAILURES
from fleetmon.hub.auth.ratelimit import FREE_FAILURES
from fleetmon.protocol.messages import rfc3339
from tests.hub.auth.visitor import API_TOKEN, TOKEN_OF, Visitor, users


def audit(hub, query: str = "") -> list[dict]:
    answer = Visitor(hub, address="203.0.113.99").call("GET", "/api/v1/audit", token=TOKEN_OF["ada"], query=query)
    assert answer.status == 200, answer.body
    return answer.json()["entries"]


def test_ten_failed_logins_are_slowed_down_with_a_growing_retry_after_and_audited(make_hub, clock):
    hub = make_hub()
    browser = Visitor(hub)
    answers = [browser.login("otto", f"guess {i}") for i in range(10)]
    assert [a.status for a in answers] == [401] * FREE_FAILURES + [429] * 5
    assert {a.body for a in answers[:FREE_FAILURES]} == {b'{"error":"' + BAD_LOGIN.encode() + b'"}'}
    waits = [int(a.headers["retry-after"]) for a in answers[FREE_FAILURES:]]
    assert waits == [a.json()["retry_after"] for a in answers[FREE_FAILURES:]] == [2, 4, 8, 16, 32]
    assert answers[FREE_FAILURES].json()["error"] == "too many failed logins: try again in 2 s"
    # While otto's name is being guessed even his right password waits: the answer must not tell a guess apart.
    assert browser.login("otto").status == 429

    failed = [(e["user"], e["client"], e["detail"]) for e in reversed(audit(hub)) if e["action"] == "login"]
    assert failed == [("otto", browser.address, "bad password")] * 5 + [("otto", browser.address, "throttled")] * 6
    clock.advance(64)  # the back-off of 11 failures
    assert browser.login("otto").status == 200
    assert audit(hub)[0] | {"at": 0} == {"at": 0, "user": "otto", "role": "operator", "client": browser.address,
                                          "action": "login", "target": "", "ok": True, "detail": ""}


def test_a_success_forgets_the_users_failures_and_the_clients_stay(make_hub, clock):
    hub = make_hub()
    browser = Visitor(hub)
    for i in range(FREE_FAILURES - 1):
        browser.login("otto", f"guess {i}")
    assert browser.login("otto").status == 200
    # otto's count starts again: another address's typos are free again
    other = Visitor(hub, address="192.0.2.50")
    for i in range(FREE_FAILURES - 1):
        assert other.login("otto", f"typo {i}").status == 401
    # the address keeps its failures: with all it has to spare spent, any name from it is slowed down
    for i in range(CLIENT_FREE_FAILURES - FREE_FAILURES + 1):
        assert browser.login(f"nobody-{i}", "typo").status == 401
    assert browser.login("vera").status == 429


def test_failures_are_counted_per_user_name_and_per_client_address(make_hub):
    hub = make_hub()
    guesser = Visitor(hub, address="198.51.100.1")
    for i in range(FREE_FAILURES):
        assert guesser.login("otto", f"guess {i}").status == 401
    # otto is being guessed: slowed down from any address
    assert Visitor(hub, address="198.51.100.2").login("otto").status == 429
    # the others behind the guesser's address (an office, a proxy) still log in: an address has more to spare
    assert guesser.login("vera").status == 200
    assert Visitor(hub, address="198.51.100.3").login("vera").status == 200


def test_a_guesser_spreading_over_names_is_slowed_down_by_its_address(make_hub):
    hub = make_hub()
    guesser = Visitor(hub, address="198.51.100.9")
    statuses = [guesser.login(f"name-{i}", "password1").status for i in range(CLIENT_FREE_FAILURES + 1)]
    assert statuses == [401] * CLIENT_FREE_FAILURES + [429]
    assert guesser.login("vera").status == 429, "a right password from the address waits too"


def test_an_unknown_user_is_refused_exactly_as_a_wrong_password_is(make_hub):
    tokens_only = {"name": "robot", "role": "operator", "tokens": users("otto")[0]["tokens"]}
    hub = make_hub({"users": [*users("vera", "ada"), tokens_only]})
    unknown = Visitor(hub, address="192.0.2.1").login("nobody", "whatever")
    wrong = Visitor(hub, address="192.0.2.2").login("vera", "whatever")
    robot = Visitor(hub, address="192.0.2.3").login("robot", "whatever")
    api = Visitor(hub, address="192.0.2.4").login("api", API_TOKEN)  # the API token's user has no password
    assert {(a.status, a.body) for a in (unknown, wrong, robot, api)} == {(401, wrong.body)}
    assert wrong.json() == {"error": BAD_LOGIN}
    # Why is in the audit log, for the admin: the answer says nothing of which names exist.
    why = {e["user"]: e["detail"] for e in audit(hub) if e["action"] == "login"}
    assert why == {"nobody": "unknown user", "vera": "bad password", "robot": "no password", "api": "unknown user"}


def test_the_audit_log_is_for_admins_and_lists_logins_failures_acks_silences_and_logouts(make_hub):
    hub = make_hub()
    assert Visitor(hub).call("POST", "/api/v2/alerts", token=API_TOKEN, body=[
        {"labels": {"alertname": "DiskFull", "host": "srv-01"}, "startsAt": rfc3339(time.time())}]).status == 200
    hub.dispatcher.process(time.time())
    group = Visitor(hub).call("GET", "/api/v1/alerts/groups", token=API_TOKEN).json()["groups"][0]
    started = time.time()

    operator = Visitor(hub, address="192.0.2.20")
    assert operator.login("otto", "not it").status == 401
    operator.login("otto")
    operator.call("POST", "/api/v1/acks", {"target": group["id"], "comment": "disk ordered"})
    silence = operator.call("POST", "/api/v1/silences", {
        "matchers": [{"name": "host", "value": "srv-01", "isRegex": False}], "startsAt": rfc3339(time.time()),
        "endsAt": rfc3339(time.time() + 3600), "comment": "replacing the disk"}).json()
    operator.call("DELETE", f"/api/v1/silences/{silence['id']}")
    operator.call("POST", "/api/v1/acks", {"target": "gone"})  # a change that fails is not one made
    operator.call("POST", "/api/v1/auth/logout")

    entries = [e for e in audit(hub, f"since={started}") if e["user"] == "otto"]
    assert [(e["action"], e["target"], e["ok"], e["detail"]) for e in entries] == [
        ("logout", "", True, ""),
        ("silence_expire", silence["id"], True, ""),
        ("silence", silence["id"], True, '{host="srv-01"}; replacing the disk'),
        ("ack", group["id"], True, "disk ordered"),
        ("login", "", True, ""),
        ("login", "", False, "bad password"),
    ]
    assert {(e["client"], e["role"]) for e in entries} == {("192.0.2.20", "operator"), ("192.0.2.20", None)}
    assert all(e["at"] >= started for e in entries)
    posted = [e for e in audit(hub) if e["action"] == "alerts"]
    assert [(e["user"], e["role"], e["detail"]) for e in posted] == [("api", "admin", "1 alerts")]

    assert len(audit(hub, "limit=2")) == 2
    assert audit(hub, f"since={time.time() + 60}") == []
    admin = Visitor(hub, address="192.0.2.21")
    admin.login("ada")
    assert admin.call("GET", "/api/v1/audit").json()["entries"][0]["action"] == "login"
    assert Visitor(hub).call("GET", "/api/v1/audit", token=API_TOKEN).status == 200
    viewer = Visitor(hub, address="192.0.2.22")
    viewer.login("vera")
    assert viewer.call("GET", "/api/v1/audit").status == 403
    assert Visitor(hub).call("GET", "/api/v1/audit", token=TOKEN_OF["otto"]).status == 403
    assert Visitor(hub).call("GET", "/api/v1/audit").status == 401
