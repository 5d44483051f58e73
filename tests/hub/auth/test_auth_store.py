"""``auth.db`` on a clock the test moves: sessions end when idle for ``session_ttl`` or a week after their
login however much they are used, outlive a restart of the hub; the audit log keeps what happened for the
record retention, newest first; and what a change did, named from its request and answer."""

import json

import pytest

from fleetmon.hub.auth.audit import MAX_TEXT, PRUNE_INTERVAL, AuditLog, Change, describe_change
from fleetmon.hub.auth.config import SESSION_MAX_AGE
from fleetmon.hub.auth.database import AuthDatabase
from fleetmon.hub.auth.sessions import TOUCH_INTERVAL, SessionStore

TTL = 600.0


@pytest.fixture
def database(tmp_path):
    opened = []

    def open_database() -> AuthDatabase:
        opened.append(AuthDatabase(str(tmp_path / "auth.db")))
        return opened[-1]

    yield open_database
    for db in opened:
        db.close()


def test_a_session_is_found_by_its_id_until_its_logout(database, clock):
    store = SessionStore(database(), clock)
    session_id, session = store.open("otto", "credential", TTL)
    assert store.find(session_id, TTL) == session
    assert (session.user, session.credential, session.created) == ("otto", "credential", clock.now)
    assert store.find("another id", TTL) is None
    store.end(session_id)
    assert store.find(session_id, TTL) is None


def test_an_idle_session_ends_and_one_in_use_lives_on_until_its_maximum_age(database, clock):
    store = SessionStore(database(), clock)
    idle, _ = store.open("vera", "c", TTL)
    used, _ = store.open("otto", "c", TTL)
    login = clock.now
    for _ in range(3):
        clock.advance(TTL / 2)
        assert store.find(used, TTL) is not None
    assert store.find(idle, TTL) is None  # not used for longer than the ttl
    clock.advance(TTL / 2)
    assert store.find(idle, TTL) is None  # and gone for good, not back with a longer ttl
    assert store.find(idle, 10 * TTL) is None

    while clock.now - login < SESSION_MAX_AGE:
        assert store.find(used, TTL) is not None
        clock.advance(TTL / 2)
    clock.advance(1)
    assert store.find(used, TTL) is None  # a week after the login, whatever its use


def test_a_session_in_use_is_written_back_once_a_minute_not_at_every_request(database, clock):
    store = SessionStore(database(), clock)
    session_id, opened = store.open("otto", "c", TTL)
    clock.advance(TOUCH_INTERVAL / 2)
    assert store.find(session_id, TTL).seen == opened.seen
    clock.advance(TOUCH_INTERVAL / 2)
    assert store.find(session_id, TTL).seen == clock.now


def test_sessions_outlive_a_restart_and_a_new_login_clears_the_ended_ones(database, clock):
    store = SessionStore(database(), clock)
    kept, _ = store.open("otto", "c", TTL)
    stale, _ = store.open("vera", "c", TTL)
    clock.advance(TTL - 1)
    store.find(kept, TTL)
    restarted = SessionStore(database(), clock)  # the hub restarted: the same file, a new connection
    assert restarted.find(kept, TTL).user == "otto"
    clock.advance(2)
    restarted.open("ada", "c", TTL)  # each login removes the sessions that have ended
    with database().connection() as db:
        assert sorted(user for (user,) in db.execute("SELECT user FROM sessions")) == ["ada", "otto"]
    assert restarted.find(stale, TTL) is None


def test_the_audit_log_answers_the_newest_first_since_a_time_and_up_to_a_limit(database, clock):
    log = AuditLog(database(), lambda: 30 * 86400.0, clock)
    log.record("otto", None, "192.0.2.1", "login", ok=False, detail="bad password")
    clock.advance(1)
    log.record("otto", "operator", "192.0.2.1", "login")
    clock.advance(1)
    log.record("otto", "operator", "192.0.2.1", "ack", "group-1", detail="on it")
    assert [e["action"] for e in log.entries(0, 10)] == ["ack", "login", "login"]
    assert log.entries(0, 10)[-1] == {"at": 1000.0, "user": "otto", "role": None, "client": "192.0.2.1",
                                      "action": "login", "target": "", "ok": False, "detail": "bad password"}
    assert [e["action"] for e in log.entries(1001.0, 10)] == ["ack", "login"]
    assert [e["target"] for e in log.entries(0, 1)] == ["group-1"]


def test_the_audit_log_keeps_entries_for_the_record_retention(database, clock):
    retention = 86400.0
    log = AuditLog(database(), lambda: retention, clock)
    log.record("otto", "operator", "a", "ack", "old")
    clock.advance(retention - PRUNE_INTERVAL)
    log.record("otto", "operator", "a", "ack", "newer")
    clock.advance(PRUNE_INTERVAL + 1)  # "old" is past the retention now, and the hourly prune is due
    log.record("otto", "operator", "a", "ack", "newest")
    assert [e["target"] for e in log.entries(0, 10)] == ["newest", "newer"]


def test_long_texts_someone_typed_are_cut(database, clock):
    log = AuditLog(database(), lambda: 86400.0, clock)
    log.record("x" * 5000, None, "a", "login", ok=False, detail="unknown user")
    assert len(log.entries(0, 1)[0]["user"]) == MAX_TEXT


def body(document) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize("method, path, request_body, answer_body, change", [
    ("POST", "/api/v1/acks", body({"target": "g1", "comment": "on it"}), body({"acks": []}),
     Change("ack", "g1", "on it")),
    ("POST", "/api/v1/silences", body({"comment": "maintenance"}),
     body({"id": "s1", "silence": {"matchersText": '{host="a"}'}}), Change("silence", "s1", '{host="a"}; maintenance')),
    ("POST", "/api/v1/silences", body({}), body({"id": "s1", "silence": {}}), Change("silence", "s1", "")),
    ("DELETE", "/api/v1/silences/s1", b"", body({"silence": {}}), Change("silence_expire", "s1", "")),
    ("POST", "/api/v2/alerts", body([{"labels": {}}]), body({"accepted": 1}), Change("alerts", "", "1 alerts")),
    # whatever the API adds later is audited all the same, by its method and path
    ("PUT", "/api/v1/notes/n1", body({"text": "x"}), b"{}", Change("change", "PUT /api/v1/notes/n1", "")),
    # a body that is not a JSON object names nothing, and breaks nothing
    ("POST", "/api/v1/acks", b"[1, 2]", b"not json", Change("ack", "", "")),
    ("POST", "/api/v1/acks", body({"target": 7}), b"", Change("ack", "", "")),
])
def test_what_a_change_did(method, path, request_body, answer_body, change):
    assert describe_change(method, path, request_body, answer_body) == change
