"""The access decision (fleetmon.hub.auth.policy) as a table: what each request needs, and who has it —
viewers read, operators also change (acks, silences, posted alerts), admins also read the audit log; an
anonymous reader counts as a viewer only where ``auth.anonymous_read`` says so."""

import pytest

from fleetmon.hub.auth.authority import Authority
from fleetmon.hub.auth.config import AuthConfig
from fleetmon.hub.auth.database import AuthDatabase
from fleetmon.hub.auth.policy import ROLES, allows, required_role


@pytest.mark.parametrize("method, path, needed", [
    # reads of the API: a viewer, whatever the method that only reads
    ("GET", "/api/v1/hosts", "viewer"),
    ("HEAD", "/api/v1/hosts", "viewer"),
    ("OPTIONS", "/api/v1/alerts", "viewer"),
    ("get", "/api/v1/hosts", "viewer"),  # methods compare in upper case
    ("GET", "/api/v1/openapi.yaml", "viewer"),
    ("GET", "/api/v1/live", "viewer"),  # the event stream shows what the reads show
    ("GET", "/api/v1/auditor", "viewer"),  # only the audit path itself is the admin's, not a prefix of a word
    # open: probes, Prometheus' scrape, the console's own files, the login and what the page asks before it
    ("GET", "/metrics", "open"),
    ("GET", "/health/live", "open"),
    ("GET", "/health/startup", "open"),
    ("GET", "/", "open"),
    ("GET", "/dashboard", "open"),
    ("GET", "/app.js", "open"),
    ("GET", "/api/v1/auth/me", "open"),
    ("POST", "/api/v1/auth/login", "open"),
    ("POST", "/api/v1/auth/logout", "open"),
    # every change: an operator, also on a path that has none (a 405 or 404 then, after the check)
    ("POST", "/api/v1/acks", "operator"),
    ("POST", "/api/v1/silences", "operator"),
    ("DELETE", "/api/v1/silences/abc", "operator"),
    ("POST", "/api/v2/alerts", "operator"),
    ("PUT", "/api/v1/hosts", "operator"),
    ("POST", "/metrics", "operator"),
    ("POST", "/", "operator"),
    ("GET", "/api/v1/auth/login", "viewer"),  # only the POST is open
    # the audit log: admins, by any method
    ("GET", "/api/v1/audit", "admin"),
    ("HEAD", "/api/v1/audit", "admin"),
    ("GET", "/api/v1/audit/anything", "admin"),
    ("POST", "/api/v1/audit", "admin"),
])
def test_what_each_request_needs(method, path, needed):
    assert required_role(method, path) == needed


@pytest.mark.parametrize("role, reaches", [
    (None, {"open"}),  # nobody logged in (and no anonymous reading)
    ("viewer", {"open", "viewer"}),
    ("operator", {"open", "viewer", "operator"}),
    ("admin", {"open", "viewer", "operator", "admin"}),
    ("root", {"open"}),  # a role the hub does not know gives nothing
    ("", {"open"}),
])
def test_each_role_reaches_what_the_ones_below_it_reach(role, reaches):
    assert {needed for needed in ("open", *ROLES) if allows(role, needed)} == reaches


#: Requests a user would make, by what they are for.
READ_HOSTS = ("GET", "/api/v1/hosts")
ACK = ("POST", "/api/v1/acks")
SILENCE = ("POST", "/api/v1/silences")
EXPIRE = ("DELETE", "/api/v1/silences/abc")
AUDIT = ("GET", "/api/v1/audit")
LOGIN = ("POST", "/api/v1/auth/login")


@pytest.fixture
def anonymous_role(tmp_path):
    """The role an anonymous request gets from the real authority under a config's ``anonymous_read``."""
    authorities = []

    def role(anonymous_read: bool) -> str | None:
        config = AuthConfig(anonymous_read=anonymous_read)
        authorities.append(Authority(lambda: config, lambda: "", AuthDatabase(str(tmp_path / f"{anonymous_read}.db")),
                                     lambda: 86400.0))
        return authorities[-1].anonymous_role()

    yield role
    for authority in authorities:
        authority.close()


@pytest.mark.parametrize("who, allowed", [
    ("viewer", {READ_HOSTS, LOGIN}),
    ("operator", {READ_HOSTS, ACK, SILENCE, EXPIRE, LOGIN}),
    ("admin", {READ_HOSTS, ACK, SILENCE, EXPIRE, AUDIT, LOGIN}),
    ("anonymous, anonymous_read on", {READ_HOSTS, LOGIN}),  # a wall display: reads, never changes
    ("anonymous, anonymous_read off", {LOGIN}),  # the login is all it may do
])
def test_who_may_do_what(who, allowed, anonymous_role):
    role = anonymous_role(who.endswith("on")) if who.startswith("anonymous") else who
    requests = {READ_HOSTS, ACK, SILENCE, EXPIRE, AUDIT, LOGIN}
    assert {request for request in requests if allows(role, required_role(*request))} == allowed
