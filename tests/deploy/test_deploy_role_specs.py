"""The deployment roles document every default: meta/argument_specs.yml and defaults/main.yml agree."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fleetmon.hub.config import RESTART_KEYS

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "defaults" / "main.yml").exists())


def _load(path: Path):
    return yaml.safe_load(path.read_text()) or {}


def test_roles_exist():
    assert {"fleetmon_broker", "fleetmon_agent", "fleetmon_common"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    defaults = _load(ROOT / "roles" / role / "defaults" / "main.yml")
    options = _load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(options)) == [], "defaults without an argument spec"
    assert sorted(set(options) - set(defaults)) == [], "argument specs without a default"
    for name, spec in options.items():
        assert spec.get("default") == defaults[name], f"{name}: {spec.get('default')!r} != {defaults[name]!r}"
        assert spec.get("description"), f"{name}: no description"
        assert spec.get("type"), f"{name}: no type"


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_carry_the_role_prefix(role):
    prefix = "fleetmon_" if role == "fleetmon_common" else role + "_"
    for name in _load(ROOT / "roles" / role / "defaults" / "main.yml"):
        assert name.startswith(prefix), name
    constants = ROOT / "roles" / role / "vars" / "main.yml"
    for name in _load(constants) if constants.exists() else {}:
        assert name.startswith("_"), f"{name}: internal constants start with _"


def test_agent_catalog_is_current():
    """roles/fleetmon_agent/vars/catalog.yml mirrors the agent's metric catalogue (make deploy-catalog)."""
    result = subprocess.run([sys.executable, str(ROOT / "lab" / "gen_agent_catalog.py"), "--check"])
    assert result.returncode == 0, "roles/fleetmon_agent/vars/catalog.yml is stale: run make deploy-catalog"


def test_every_template_starts_managed():
    for template in (ROOT / "roles").glob("*/templates/*.j2"):
        text = template.read_text()
        if template.name in ("passwd.j2", "users.yml.j2"):  # mosquitto's password file has no comments
            continue
        # comment('c') where '#' is not a comment (the polkit rule is JavaScript)
        assert re.match(r"\{\{ ansible_managed \| comment(\('[a-z]+'\))? \}\}\n", text), template


def test_the_hub_role_restarts_for_what_the_hubs_reload_refuses():
    """A hub.yml change reloads, except in the sections the hub applies only at a restart."""
    constants = _load(ROOT / "roles" / "fleetmon_hub" / "vars" / "main.yml")
    assert sorted(constants["_fleetmon_hub_restart_keys"]) == sorted(RESTART_KEYS)
