"""The roles' filters: deterministic mosquitto hashes and passwords, the agent's threshold preflight, the
broker's users, the hub's expected hosts and default dashboard, its users' hashes and preflight, and the
names and URL of its HTTPS listener."""

import base64
import hashlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from fleetmon.agent.checks.spec import parse_checks
from fleetmon.config_reader import Errors, Node
from fleetmon.hub.auth.config import parse_auth
from fleetmon.hub.auth.passwords import hash_password, password_hash_problem, verify_password
from fleetmon.hub.auth.tokens import token_hash

ROOT = Path(__file__).resolve().parents[2]


def _load_filter(path: Path):
    if "ansible.errors" not in sys.modules:  # the repository's venv has no Ansible: a stand-in error class
        errors = types.ModuleType("ansible.errors")
        errors.AnsibleFilterError = ValueError
        sys.modules.setdefault("ansible", types.ModuleType("ansible"))
        sys.modules["ansible.errors"] = errors
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load_filter(ROOT / "roles/fleetmon_common/filter_plugins/fleetmon_common.py")
agent = _load_filter(ROOT / "roles/fleetmon_agent/filter_plugins/fleetmon_agent.py")
broker = _load_filter(ROOT / "roles/fleetmon_broker/filter_plugins/fleetmon_broker.py")
hub = _load_filter(ROOT / "roles/fleetmon_hub/filter_plugins/fleetmon_hub.py")
CATALOG = yaml.safe_load((ROOT / "roles/fleetmon_agent/vars/catalog.yml").read_text())["_fleetmon_agent_catalog"]
DEFAULTS = yaml.safe_load((ROOT / "roles/fleetmon_agent/defaults/main.yml").read_text())


def test_mosquitto_hash_is_deterministic_and_verifiable():
    first = common.fleetmon_mosquitto_hash("s3cret", "lab2")
    assert first == common.fleetmon_mosquitto_hash("s3cret", "lab2")
    assert first != common.fleetmon_mosquitto_hash("s3cret", "lab3")  # salt differs per user
    _, scheme, iterations, salt, digest = first.split("$")
    assert scheme == "7" and iterations == "101"
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", base64.b64decode(salt), 101, 64)
    assert base64.b64decode(digest) == expected


def test_derived_passwords_are_stable_and_distinct():
    secret = "a" * 64
    assert common.fleetmon_derive_password(secret, "lab2") == common.fleetmon_derive_password(secret, "lab2")
    assert common.fleetmon_derive_password(secret, "lab2") != common.fleetmon_derive_password(secret, "lab3")
    assert common.fleetmon_derive_password(secret, "lab2") != common.fleetmon_derive_password("b" * 64, "lab2")
    with pytest.raises(ValueError):
        common.fleetmon_derive_password("", "lab2")


def test_role_default_thresholds_pass_preflight():
    assert agent.fleetmon_threshold_errors(DEFAULTS["fleetmon_agent_thresholds_defaults"], CATALOG) == []


def test_warning_past_critical_names_the_layer():
    host = {"cpu": {"warning": "99%"}}
    defaults = DEFAULTS["fleetmon_agent_thresholds_defaults"]
    merged = {**defaults, "cpu": {**defaults["cpu"], **host["cpu"]}}
    layers = [["fleetmon_agent_thresholds_defaults", defaults],
              ["fleetmon_agent_thresholds_group", {}], ["fleetmon_agent_thresholds_host", host]]
    (error,) = agent.fleetmon_threshold_errors(merged, CATALOG, layers)
    assert "thresholds.cpu: warning '99%' (set in fleetmon_agent_thresholds_host) is above critical '95%'" in error


@pytest.mark.parametrize(("rules", "fragment"), [
    ({"gpu_hot": {"metric": "fleetmon_gpu_hotness", "warning": 1}}, "unknown metric 'fleetmon_gpu_hotness'"),
    ({"queue": {"warning": 1}}, "is not a built-in alias"),
    ({"cpu": {"warning": "lots"}}, "must be a number or a percentage"),
    ({"temperature": {"warning": "80%"}}, "must be a number"),
    ({"cpu": {"for": "1m"}}, "needs a warning or a critical level"),
    ({"check": {"warning": 0, "critical": 1}}, "with direction below"),
    ({"disk": {"match": {"zone": "x"}, "warning": "80%"}}, "zone not a label of fleetmon_filesystem_usage_ratio"),
    ({"cpu": {"warn": "80%"}}, "unknown keys warn"),
])
def test_bad_thresholds_are_explained(rules, fragment):
    errors = agent.fleetmon_threshold_errors(rules, CATALOG)
    assert any(fragment in error for error in errors), errors


def test_scraped_metrics_are_free():
    assert agent.fleetmon_threshold_errors({"queue": {"metric": "app_queue", "scraped": True, "warning": 5}},
                                           CATALOG) == []


def test_check_types():
    assert agent.fleetmon_check_errors({"web": {"type": "http", "url": "http://x"}}, CATALOG) == []
    assert agent.fleetmon_check_errors({"web": {"type": "htp"}}, CATALOG)


RESTART_CHECKS = {
    # recovery without a unit restarts the check's own unit; systemctl asks for it as nginx.service
    "web": {"type": "systemd", "unit": "nginx", "recovery": {"action": "restart_unit"}},
    # recovery may name another unit than the one checked, with its type suffix kept
    "api": {"type": "http", "url": "http://127.0.0.1:8080/health",
            "recovery": {"action": "restart_unit", "unit": "api.socket"}},
    # the same unit from two checks is allowed once
    "api-port": {"type": "tcp", "port": 8080, "recovery": {"action": "restart_unit", "unit": "api.socket"}},
    # a dot that is not a unit type is part of the name
    "db": {"type": "tcp", "port": 5432, "recovery": {"action": "restart_unit", "unit": "pg.main"}},
    # a command recovery and a check without recovery allow nothing
    "cache": {"type": "tcp", "port": 6379, "recovery": {"action": "command", "command": "redis-cli ping"}},
    "ssh": {"type": "systemd", "unit": "ssh"},
}


def test_restart_units_are_those_of_restart_unit_recovery_as_systemd_names_them():
    assert agent.fleetmon_restart_units(RESTART_CHECKS) == ["api.socket", "nginx.service", "pg.main.service"]
    assert agent.fleetmon_restart_units({}) == []


def test_restart_units_agree_with_the_agents_own_reading_of_the_checks():
    errors = Errors()
    specs = parse_checks(Node(RESTART_CHECKS, "checks", errors))
    assert not errors, errors
    targets = {spec.recovery.target for spec in specs if spec.recovery and spec.recovery.action == "restart_unit"}
    assert {agent._unit_on_the_bus(target) for target in targets} == set(agent.fleetmon_restart_units(RESTART_CHECKS))


# hostvars as the filters see them: a mapping per inventory host, with the magic group_names.
HOSTVARS = {
    "srv-1": {"group_names": ["servers", "agents"]},
    # an inventory that sets the host id: the broker's user and the hub's expected host are named by it
    "jet-1": {"group_names": ["orin_nano", "jetsons", "agents"], "fleetmon_agent_host_id": "jetson-one"},
    "hub-1": {"group_names": ["broker", "hub"]},
}


def test_agent_hosts_are_named_by_their_host_id_in_inventory_order():
    assert common.fleetmon_agent_hosts(["srv-1", "jet-1"], HOSTVARS) == [
        {"name": "srv-1", "host_id": "srv-1", "groups": ["agents", "servers"]},
        {"name": "jet-1", "host_id": "jetson-one", "groups": ["agents", "jetsons", "orin_nano"]},
    ]
    assert common.fleetmon_agent_hosts([], HOSTVARS) == []


def test_pinned_passwords_win_and_the_others_are_derived():
    secret = "a" * 64
    users = common.fleetmon_with_passwords([{"name": "fleetmon-hub", "read": []}, {"name": "srv-1"}], secret,
                                           {"fleetmon-hub": "pinned"})
    assert users == [{"name": "fleetmon-hub", "read": [], "password": "pinned"},
                     {"name": "srv-1", "password": common.fleetmon_derive_password(secret, "srv-1")}]
    assert common.fleetmon_with_passwords([{"name": "srv-1"}], secret, None)[0]["password"] == users[1]["password"]


def test_broker_users_give_each_host_its_own_tree_and_the_hub_the_fleet():
    extra = [{"name": "nodered", "read": ["fm/fleet/#"]}, {"name": "audit", "write": ["x"]}]
    users = broker.fleetmon_broker_users(["srv-2", "srv-1"], "fleetmon-hub", extra, "fm")
    # the hub first, then the hosts by id, then the extra users by name
    assert [user["name"] for user in users] == ["fleetmon-hub", "srv-1", "srv-2", "audit", "nodered"]
    assert users[0] == {"name": "fleetmon-hub", "read": ["fm/hosts/#"], "write": [],
                        "readwrite": ["fm/fleet/#", "fm/hub/#"]}
    # a host reads its own status, the hub's status and its own acks; it writes only its own tree
    assert users[1] == {"name": "srv-1", "read": ["fm/hosts/srv-1/status", "fm/hub/status", "fm/hub/acks/srv-1"],
                        "write": ["fm/hosts/srv-1/#"], "readwrite": []}
    # an extra user gets exactly what it lists, and nothing for what it leaves out
    assert users[3] == {"name": "audit", "read": [], "write": ["x"], "readwrite": []}
    assert users[4] == {"name": "nodered", "read": ["fm/fleet/#"], "write": [], "readwrite": []}


def test_a_central_broker_gives_each_sites_bridge_its_own_tree_and_the_hub_every_site():
    users = broker.fleetmon_broker_users(["srv-1"], "fleetmon-hub", [], "fm", ["west", "east"])
    assert users[0]["read"] == ["fm/hosts/#", "fm/sites/#"]
    assert users[2:] == [{"name": "fleetmon-site-east", "read": [], "write": ["fm/sites/east/#"], "readwrite": []},
                         {"name": "fleetmon-site-west", "read": [], "write": ["fm/sites/west/#"], "readwrite": []}]


def test_the_sites_of_a_central_broker_come_from_the_brokers_naming_it():
    hostvars = {"center": {}, "east-broker": {"fleetmon_broker_center": "center", "fleetmon_site": "east"},
                "east-cam": {"fleetmon_site": "east"}, "west": {"fleetmon_broker_center": "center",
                                                             "fleetmon_site": "west"},
                "elsewhere": {"fleetmon_broker_center": "other", "fleetmon_site": "north"}}
    assert common.fleetmon_bridged_sites(list(hostvars), hostvars, "center") == ["east", "west"]
    assert common.fleetmon_bridged_sites(list(hostvars), hostvars, "east-broker") == []
    with pytest.raises(Exception, match="sets no fleetmon_site"):
        common.fleetmon_bridged_sites(["x"], {"x": {"fleetmon_broker_center": "center"}}, "center")


@pytest.mark.parametrize(("expected_hosts", "dashboard"), [
    # one section per group of the expected hosts, sorted, without the group that gathers them all
    ({"srv-1": ["agents", "servers"], "jetson-one": ["agents", "jetsons", "orin_nano"]},
     {"sections": [{"group": "jetsons"}, {"group": "orin_nano"}, {"group": "servers"}]}),
    # a group shared by several hosts is one section
    ({"a": ["agents", "servers"], "b": ["agents", "servers"]}, {"sections": [{"group": "servers"}]}),
    # hosts only in the gathering group, or no hosts: nothing, and hub.yml gets no dashboard section
    ({"a": ["agents"]}, {}),
    ({}, {}),
])
def test_default_dashboard_has_a_section_per_group_of_the_expected_hosts(expected_hosts, dashboard):
    assert hub.fleetmon_hub_default_dashboard(expected_hosts, "agents") == dashboard


# The hub's users: password and token hashes -------------------------------------------------------------

SECRET = "s" * 64


def test_password_hash_is_the_hubs_scrypt_and_the_hub_verifies_it():
    stored = hub.fleetmon_hub_password_hash("correct horse", SECRET, "alice")
    assert stored.startswith("scrypt$16384$8$1$")
    assert password_hash_problem(stored) is None
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    # the same parameters as the hub's own `fleetmon hub hash-password`
    assert stored.split("$")[:4] == hash_password("x").split("$")[:4]


def test_password_hash_is_the_same_on_every_run_and_salted_per_user_and_fleet():
    stored = hub.fleetmon_hub_password_hash("pw", SECRET, "alice")
    assert stored == hub.fleetmon_hub_password_hash("pw", SECRET, "alice")  # a second run changes nothing
    assert stored != hub.fleetmon_hub_password_hash("pw", SECRET, "bob")  # same password, another salt
    assert stored != hub.fleetmon_hub_password_hash("pw", "t" * 64, "alice")  # another fleet's secret
    with pytest.raises(ValueError):
        hub.fleetmon_hub_password_hash("", SECRET, "alice")
    with pytest.raises(ValueError):
        hub.fleetmon_hub_password_hash("pw", "", "alice")


def test_auth_users_carry_hashes_only_and_the_hub_takes_them():
    users = [{"name": "alice", "role": "admin", "password": "pw-a", "tokens": ["tok-1", "tok-2"]},
             {"name": "bob", "role": "viewer", "password": "pw-b"},
             {"name": "ci", "role": "operator", "tokens": ["tok-3"]}]  # a script's user, no console login
    rendered = hub.fleetmon_hub_auth_users(users, SECRET)
    assert [(u["name"], u["role"]) for u in rendered] == [("alice", "admin"), ("bob", "viewer"), ("ci", "operator")]
    assert rendered[0]["tokens"] == [token_hash("tok-1"), token_hash("tok-2")]
    assert rendered[0]["tokens"][0] == "sha256$" + hashlib.sha256(b"tok-1").hexdigest()
    assert rendered[1]["tokens"] == []
    assert verify_password("pw-b", rendered[1]["password_hash"])
    assert "password_hash" not in rendered[2]
    assert "pw-a" not in repr(rendered) and "tok-1" not in repr(rendered)
    errors = Errors()
    auth = parse_auth(Node({"users": rendered}, "auth", errors))
    assert not errors, errors
    assert auth.token_owners[token_hash("tok-3")] == "ci" and not auth.anonymous_read


class UsersCase(NamedTuple):
    name: str
    users: object
    errors: list  # fragments, one per expected message, in order


ALICE = {"name": "alice", "role": "admin", "password": "pw"}
USERS_CASES = [
    UsersCase("no users", [], []),
    UsersCase("a user of each role, one with tokens",
              [ALICE, {"name": "bob", "role": "operator", "password": "pw", "tokens": ["t1"]},
               {"name": "carol", "role": "viewer", "password": "pw", "tokens": []}], []),
    # the hub knows three roles; a typo would otherwise surface only at check-config, far from the inventory
    UsersCase("an unknown role", [{**ALICE, "role": "root"}],
              ["fleetmon_hub_users[0] (alice): role 'root' is not one of viewer, operator, admin"]),
    UsersCase("no role", [{"name": "alice", "password": "pw"}], ["(alice): role None is not one of"]),
    # two entries of one name: which password would count?
    UsersCase("a duplicate user", [ALICE, {**ALICE, "role": "viewer"}],
              ["fleetmon_hub_users[1] (alice): user 'alice' is listed twice in fleetmon_hub_users (entries 0 and 1)"]),
    # an empty vault variable must not become a user nobody can log in as, or anyone can
    UsersCase("an empty password", [{**ALICE, "password": ""}],
              ["fleetmon_hub_users[0] (alice): password is empty; set it from a vault variable"]),
    UsersCase("no password, no tokens", [{"name": "alice", "role": "admin"}],
              ["(alice): needs a password (a vault variable), or API tokens"]),
    # a script's user: it only ever sends its token
    UsersCase("tokens only", [{"name": "ci", "role": "operator", "tokens": ["t1"]}], []),
    # the hub's rules for names, caught before check-config runs on the host
    UsersCase("a name with a space", [{**ALICE, "name": "alice smith"}],
              ["(alice smith): 'alice smith' is not a user name the hub takes"]),
    UsersCase("the API token's name", [{**ALICE, "name": "api"}],
              ["(api): 'api' is the name the hub gives the API token"]),
    UsersCase("no name", [{"role": "admin", "password": "pw"}], ["fleetmon_hub_users[0]: name is missing or empty"]),
    UsersCase("a misspelt key", [{**ALICE, "pasword": "x"}],
              ["(alice): unknown keys pasword; known: name, role, password, tokens"]),
    UsersCase("tokens not a list", [{**ALICE, "tokens": "t1"}], ["(alice): tokens must be a list"]),
    UsersCase("an empty token", [{**ALICE, "tokens": [""]}], ["(alice): tokens must be a list"]),
    # a token names its user: one shared by two users would log in as whichever the hub finds first
    UsersCase("a token of two users", [{**ALICE, "tokens": ["t1"]}, {"name": "bob", "role": "viewer",
                                                                      "password": "pw", "tokens": ["t1"]}],
              ["fleetmon_hub_users[1] (bob): one of its tokens is given twice (the other time to alice)"]),
    UsersCase("not a list", {"alice": ALICE}, ["fleetmon_hub_users must be a list"]),
    UsersCase("an entry that is not a mapping", ["alice"], ["fleetmon_hub_users[0] must be a mapping"]),
    # every problem at once, so one run shows them all
    UsersCase("several problems", [{**ALICE, "role": "root"}, {**ALICE, "password": ""}],
              ["role 'root'", "listed twice", "password is empty"]),
]


@pytest.mark.parametrize("case", USERS_CASES, ids=[case.name for case in USERS_CASES])
def test_user_errors_name_the_entry_and_never_a_secret(case):
    errors = hub.fleetmon_hub_user_errors(case.users)
    assert len(errors) == len(case.errors), errors
    for error, fragment in zip(errors, case.errors, strict=True):
        assert fragment in error
        assert "pw" not in error.replace("password", "") and "t1" not in error


# The hub's HTTPS listener: certificate names, its URL from its own host ----------------------------------

class ListenCase(NamedTuple):
    name: str
    listen: str
    tls: bool
    cert_names: list
    local_url: str


LISTEN_CASES = [
    # every interface: the readiness probe comes through the loopback, which the certificate must name
    ListenCase("all IPv4 interfaces", "0.0.0.0:9180", True,
               ["hub-1", "10.20.0.2", "127.0.0.1", "hub.example.net", "localhost"], "https://127.0.0.1:9180"),
    ListenCase("all IPv6 interfaces", "[::]:9443", True,
               ["hub-1", "10.20.0.2", "::1", "hub.example.net", "localhost"], "https://[::1]:9443"),
    # one address: people and the probe use it, and the certificate names it once
    ListenCase("the inventory's address", "10.20.0.2:9180", True, ["hub-1", "10.20.0.2", "hub.example.net"],
               "https://10.20.0.2:9180"),
    ListenCase("another address", "192.168.7.1:9180", True,
               ["hub-1", "10.20.0.2", "192.168.7.1", "hub.example.net"], "https://192.168.7.1:9180"),
    ListenCase("a name", "hub.example.net:9180", True, ["hub-1", "10.20.0.2", "hub.example.net"],
               "https://hub.example.net:9180"),
    # the loopback only, TLS off (the role's default there): plain HTTP
    ListenCase("the loopback, no TLS", "127.0.0.1:9180", False,
               ["hub-1", "10.20.0.2", "127.0.0.1", "hub.example.net"], "http://127.0.0.1:9180"),
]


@pytest.mark.parametrize("case", LISTEN_CASES, ids=[case.name for case in LISTEN_CASES])
def test_certificate_names_and_local_url_follow_the_listen_address(case):
    assert hub.fleetmon_hub_cert_names("hub-1", "10.20.0.2", case.listen, ["hub.example.net"]) == case.cert_names
    assert hub.fleetmon_hub_local_url(case.listen, case.tls) == case.local_url


def test_a_listen_address_the_hub_would_refuse_is_refused_here_too():
    with pytest.raises(ValueError):
        hub.fleetmon_hub_local_url("9180", True)
