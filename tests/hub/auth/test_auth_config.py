"""The hub config's ``auth`` and ``listen_tls`` sections: what they read as, and every error with its key path
as `fleetmon hub check-config` prints it."""

import os
import subprocess
import sys

import pytest
import yaml

from fleetmon.config_reader import ConfigError
from fleetmon.hub.auth.config import DEFAULT_SESSION_TTL, User
from fleetmon.hub.auth.tokens import token_hash
from fleetmon.hub.config import ListenTls, load_config, parse_config, restart_needed
from tests.conftest import AGENT_SRC
from tests.hub.auth.visitor import users

HASH = users("vera")[0]["password_hash"]
TOKEN, OTHER_TOKEN = token_hash("one token"), token_hash("another token")
NAMES = "(letters, digits and . _ @ + -, at most 64)"


def errors_of(document: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    return caught.value.errors


def user(name="vera", role="viewer", **more) -> dict:
    return {"name": name, "role": role, "password_hash": HASH, **more}


def test_users_read_as_their_names_roles_hashes_and_tokens(tmp_path):
    path = tmp_path / "hub.yml"
    path.write_text(yaml.safe_dump({"api": {"token": "the-old-api-token-0123456789"}, "auth": {
        "session_ttl": "1h", "users": [user(tokens=[TOKEN]), {"name": "robot", "role": "operator",
                                                             "tokens": [OTHER_TOKEN]}]}}))
    auth = load_config(str(path)).auth
    assert dict(auth.users) == {"vera": User("vera", "viewer", HASH, (TOKEN,)),
                                "robot": User("robot", "operator", "", (OTHER_TOKEN,))}
    assert dict(auth.token_owners) == {TOKEN: "vera", OTHER_TOKEN: "robot"}
    assert (auth.session_ttl, auth.anonymous_read) == (3600.0, False)  # users and no word: no anonymous access


@pytest.mark.parametrize("auth, anonymous_read", [
    ({}, True),  # a hub without users reads as it always did
    ({"users": [user()]}, False),
    ({"users": [user()], "anonymous_read": True}, True),
    ({"anonymous_read": False}, False),
])
def test_anonymous_read_defaults_to_no_anonymous_access_once_users_are_configured(auth, anonymous_read):
    config = parse_config({"auth": auth})
    assert (config.auth.anonymous_read, config.auth.session_ttl) == (anonymous_read, DEFAULT_SESSION_TTL)


@pytest.mark.parametrize("auth, errors", [
    ({"users": [user(), user(role="admin")]}, ["auth.users[1].name: user 'vera' is listed twice"]),
    # a second entry is named as such even when the first has errors of its own
    ({"users": [user(role="boss"), user()]},
     ["auth.users[0].role: must be one of: viewer, operator, admin (got 'boss')",
      "auth.users[1].name: user 'vera' is listed twice"]),
    ({"users": [user(role="Admin")]}, ["auth.users[0].role: must be one of: viewer, operator, admin (got 'Admin')"]),
    ({"users": [{"name": "vera", "password_hash": HASH}]},
     ["auth.users[0].role: must be one of: viewer, operator, admin"]),
    ({"users": [user(password_hash="md5$abc")]},
     ["auth.users[0].password_hash: must be scrypt$N$r$p$<salt>$<hash> (`fleetmon hub hash-password` prints one)"]),
    ({"users": [user(password_hash=HASH.replace("$16384$", "$1000$"))]},
     ["auth.users[0].password_hash: N must be a power of two above 1, r and p at least 1 "
      "(`fleetmon hub hash-password` prints one)"]),
    ({"users": [user(password_hash="correct horse battery staple")]},  # the password itself: never taken
     ["auth.users[0].password_hash: must be scrypt$N$r$p$<salt>$<hash> (`fleetmon hub hash-password` prints one)"]),
    ({"users": [user(name="api", role="admin")]},
     ["auth.users[0].name: 'api' is the name api.token acts as; choose another"]),
    ({"users": [user(name="vera lynn")]}, [f"auth.users[0].name: 'vera lynn' is not a user name {NAMES}"]),
    ({"users": [user(name="")]}, [f"auth.users[0].name: '' is not a user name {NAMES}"]),
    ({"users": [user(name="v" * 65)]}, [f"auth.users[0].name: '{'v' * 65}' is not a user name {NAMES}"]),
    ({"users": [{"role": "viewer", "password_hash": HASH}]}, ["auth.users[0].name: must name the user"]),
    ({"users": [user(name=7)]}, ["auth.users[0].name: must be a string"]),
    ({"users": [{"name": "vera", "role": "viewer"}]},
     ["auth.users[0].password_hash: a user needs a password_hash, API tokens, or both"]),
    ({"users": [user(tokens=[TOKEN]), user(name="otto", tokens=[OTHER_TOKEN, TOKEN])]},
     ["auth.users[1].tokens[1]: this token is given to 'vera' already; a token names one user"]),
    ({"users": [user(tokens=[TOKEN, TOKEN])]},
     ["auth.users[0].tokens[1]: this token is given to 'vera' already; a token names one user"]),
    # a token twice is named as such even when its first holder has other errors
    ({"users": [user(role="boss", tokens=[TOKEN]), user(name="otto", tokens=[TOKEN])]},
     ["auth.users[0].role: must be one of: viewer, operator, admin (got 'boss')",
      "auth.users[1].tokens[0]: this token is given to 'vera' already; a token names one user"]),
    ({"users": [user(tokens=["the token itself"])]},
     ["auth.users[0].tokens[0]: must be sha256$<64 hex digits> (`fleetmon hub new-token` prints one)"]),
    ({"users": [user(tokens=TOKEN)]}, ["auth.users[0].tokens: must be a list"]),
    ({"users": [user(password="hunter2")]},
     ["auth.users[0].password: unknown key (expected one of: name, password_hash, role, tokens)"]),
    ({"users": ["vera"]}, ["auth.users[0]: must be a mapping with name, role, password_hash and tokens"]),
    ({"users": {"vera": user()}}, ["auth.users: must be a list"]),
    ({"session_ttl": "30s"}, ["auth.session_ttl: must be at least 60 (got 30)"]),
    ({"session_ttl": "8d"}, ["auth.session_ttl: must be at most 7d, the most any session lasts (got 691200s)"]),
    ({"session_ttl": "a while"},
     ["auth.session_ttl: must be a duration (seconds, or a string like '30s', '5m', '1h')"]),
    ({"anonymous_read": "yes"}, ["auth.anonymous_read: must be true or false"]),
    ({"sessions": {}}, ["auth.sessions: unknown key (expected one of: anonymous_read, session_ttl, users)"]),
    ("users", ["auth: must be a mapping"]),
])
def test_auth_errors_name_their_key_path(auth, errors):
    assert errors_of({"auth": auth}) == errors


def test_the_api_token_cannot_also_be_a_users_token():
    assert errors_of({"api": {"token": "one token, long enough"},
                      "auth": {"users": [user(tokens=[token_hash("one token, long enough")])]}}) == \
        ["api: the API token is also a token of user 'vera'; give each its own"]


def test_session_ttl_bounds_are_taken():
    assert parse_config({"auth": {"session_ttl": 60}}).auth.session_ttl == 60.0
    assert parse_config({"auth": {"session_ttl": "7d"}}).auth.session_ttl == 7 * 86400.0


@pytest.fixture
def pem_files(tmp_path):
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    return str(cert), str(key)


def test_listen_tls_reads_as_its_certificate_and_key(pem_files):
    cert, key = pem_files
    assert parse_config({"listen_tls": {"cert_file": cert, "key_file": key}}).listen_tls == ListenTls(cert, key)
    assert parse_config({}).listen_tls is None  # plain HTTP


@pytest.mark.parametrize("listen_tls, errors", [
    ({"cert_file": "{missing}", "key_file": "{key}"}, ["listen_tls.cert_file: cannot read {missing}"]),
    ({"cert_file": "{cert}", "key_file": "{missing}"}, ["listen_tls.key_file: cannot read {missing}"]),
    ({"cert_file": "{cert}"},
     ["listen_tls.key_file: must name a PEM file (HTTPS needs a certificate and its key)"]),
    ({"cert_file": "", "key_file": "{key}"},
     ["listen_tls.cert_file: must name a PEM file (HTTPS needs a certificate and its key)"]),
    ({}, ["listen_tls.cert_file: must name a PEM file (HTTPS needs a certificate and its key)",
          "listen_tls.key_file: must name a PEM file (HTTPS needs a certificate and its key)"]),
    ({"cert_file": "{cert}", "key_file": "{key}", "ca_file": "{cert}"},
     ["listen_tls.ca_file: unknown key (expected one of: cert_file, key_file)"]),
])
def test_listen_tls_errors_name_their_key_path(pem_files, tmp_path, listen_tls, errors):
    names = {"cert": pem_files[0], "key": pem_files[1], "missing": str(tmp_path / "nowhere.pem")}
    section = {key: value.format(**names) for key, value in listen_tls.items()}
    assert errors_of({"listen_tls": section}) == [error.format(**names) for error in errors]


def test_a_reload_applies_users_at_once_and_listen_tls_only_with_a_restart(pem_files, tmp_path):
    cert, key = pem_files
    running = parse_config({"auth": {"users": [user()]}, "listen_tls": {"cert_file": cert, "key_file": key}})
    other_users = parse_config({"auth": {"users": [user(name="otto", role="operator")]},
                                "listen_tls": {"cert_file": cert, "key_file": key}})
    assert restart_needed(running, other_users) == []
    other_key = tmp_path / "other.key"
    other_key.write_text("-----BEGIN PRIVATE KEY-----\n")
    moved = parse_config({"auth": {"users": [user()]}, "listen_tls": {"cert_file": cert, "key_file": str(other_key)}})
    assert restart_needed(running, moved) == ["listen_tls"]
    assert restart_needed(running, parse_config({"auth": {"users": [user()]}})) == ["listen_tls"]


def test_check_config_prints_each_auth_error_with_its_key_path(tmp_path):
    path = tmp_path / "hub.yml"
    path.write_text(yaml.safe_dump({"auth": {"users": [user(role="boss"), user(name="api")]},
                                    "listen_tls": {"cert_file": str(tmp_path / "none.crt")}}))
    done = subprocess.run([sys.executable, "-m", "fleetmon", "hub", "check-config", str(path)], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)), timeout=60)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    for where in ("auth.users[0].role", "auth.users[1].name", "listen_tls.cert_file", "listen_tls.key_file"):
        assert where in output, output
