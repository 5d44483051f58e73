"""The roles' filters: deterministic mosquitto hashes and passwords, and the agent's threshold preflight."""

import base64
import hashlib
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import yaml

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
