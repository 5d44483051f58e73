"""The roles' filters: deterministic mosquitto hashes and passwords, the agent's threshold preflight, the
broker's users and the hub's expected hosts and default dashboard."""

import base64
import hashlib
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import yaml

from fleetmon.agent.checks.spec import parse_checks
from fleetmon.config_reader import Errors, Node

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
