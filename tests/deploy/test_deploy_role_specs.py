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
        if template.name == "passwd.j2":  # mosquitto's password file has no comments
            continue
        # comment('c') where '#' is not a comment (the polkit rule is JavaScript)
        assert re.match(r"\{\{ ansible_managed \| comment(\('[a-z]+'\))? \}\}\n", text), template


def test_the_hub_role_restarts_for_what_the_hubs_reload_refuses():
    """A hub.yml change reloads, except in the sections the hub applies only at a restart."""
    constants = _load(ROOT / "roles" / "fleetmon_hub" / "vars" / "main.yml")
    assert sorted(constants["_fleetmon_hub_restart_keys"]) == sorted(RESTART_KEYS)


COMMON = ROOT / "roles" / "fleetmon_common"
COMMON_SPECS = _load(COMMON / "meta" / "argument_specs.yml")["argument_specs"]
GUARD = "invocation_guard.yml"
INPUT = re.compile(r"\b_fleetmon_common_[a-z0-9_]+")


def _entry_points():
    return sorted(p.stem for p in (COMMON / "tasks").glob("*.yml") if p.name != GUARD)


def _tasks_text(entry: str) -> str:
    """An entry point's tasks and the task files it imports (the guard left out: it serves them all)."""
    text = re.sub(r"(?m)^\s*#.*\n", "", (COMMON / "tasks" / f"{entry}.yml").read_text())
    for imported in re.findall(r"file: ([a-z_]+)\.yml", text):
        if imported + ".yml" != GUARD:
            text += _tasks_text(imported)
    return text


def _common_includes():
    """Every include_role of fleetmon_common in the roles: (file, tasks_from, inputs)."""
    for tasks_file in sorted((ROOT / "roles").glob("*/tasks/*.yml")):
        for task in _load(tasks_file) or []:
            include = task.get("ansible.builtin.include_role") or {}
            if include.get("name") == "fleetmon_common":
                yield tasks_file.relative_to(ROOT), include.get("tasks_from", "main"), task.get("vars") or {}


def test_every_task_file_of_the_common_role_is_an_entry_point_with_a_spec():
    assert sorted(set(COMMON_SPECS) - {"main"}) == [e for e in _entry_points() if e != "main"]
    assert "main" in COMMON_SPECS


@pytest.mark.parametrize("entry", _entry_points())
def test_each_entry_point_starts_with_the_invocation_guard(entry):
    (first, *_) = _load(COMMON / "tasks" / f"{entry}.yml")
    assert first["ansible.builtin.import_tasks"] == {"file": GUARD}, f"{entry}: the guard comes first"
    assert first["vars"] == {"_fleetmon_common_entry_point": entry}


@pytest.mark.parametrize("entry", [e for e in _entry_points() if e != "main"])
def test_entry_point_inputs_are_prefixed_typed_and_the_ones_it_reads(entry):
    options = COMMON_SPECS[entry].get("options") or {}
    text = _tasks_text(entry)
    for name, spec in options.items():
        assert name.startswith("_fleetmon_common_"), f"{entry}: {name} is not an internal input"
        assert spec.get("type") and spec.get("description"), f"{entry}: {name} needs a type and a description"
        assert spec.get("required") != ("default" in spec), f"{entry}: {name} is required or has a default"
        if "default" in spec:  # an optional input falls back to its documented default where it is read
            assert f"{name} | default({spec['default']!r})".replace("'", "") in text.replace("'", ""), name
    read = set(INPUT.findall(text)) - {"_fleetmon_common_entry_point", "_fleetmon_common_architectures"}
    # client.yml hands its user to the credential entry point it imports
    imported = {name for sub in re.findall(r"file: ([a-z_]+)\.yml", (COMMON / "tasks" / f"{entry}.yml").read_text())
                if sub + ".yml" != GUARD for name in COMMON_SPECS[sub].get("options") or {}}
    assert sorted(read - imported) == sorted(options), f"{entry}: inputs read != inputs in its argument spec"


@pytest.mark.parametrize(("where", "entry", "inputs"), list(_common_includes()),
                         ids=[f"{where}:{entry}" for where, entry, _ in _common_includes()])
def test_the_roles_call_the_common_role_by_entry_point_with_its_inputs(where, entry, inputs):
    assert entry in COMMON_SPECS, f"{where}: tasks_from: {entry} names no entry point (without .yml)"
    options = COMMON_SPECS[entry].get("options") or {}
    assert sorted(set(inputs) - set(options)) == [], f"{where}: inputs {entry} does not take"
    required = {name for name, spec in options.items() if spec.get("required")}
    assert sorted(required - set(inputs)) == [], f"{where}: required inputs of {entry} missing"
