"""The roles' filters: deterministic mosquitto hashes and passwords, and the agent's threshold preflight."""

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
