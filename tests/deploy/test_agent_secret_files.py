"""The agent role's journey secrets (fleetmon_agent_secrets) by a real ansible-playbook on this machine, in a
temporary config directory: one file per name in <config dir>/secrets, root and the agent user's group, 0640,
the value its only line (what the agent's journey reads); the files of names no longer listed removed; a second
run changes nothing and check mode writes nothing; preflight refuses a bad name or value naming the key; and no
value ever appears in what ansible prints, at -v and with --diff. The tasks are the role's own (tasks/secrets.yml,
which configure.yml imports before the agent config); the molecule scenarios run them on real hosts."""

import grp
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from fleetmon.agent.checks.journey import read_secrets
from tests.conftest import ROOT

AGENT_ROLE = ROOT / "roles" / "fleetmon_agent"
VAULTED = "vaulted-Shop-pw-7f3c"
PLAIN = "plain-Api-key-91ab"
UNICODE = "grüße-Passwort-€-42"

INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  children:
    broker:
      hosts:
        hub-1:
    agents:
      hosts:
        agent-1:
"""

# The role's secrets tasks, as configure.yml runs them (after the client setup made the config directory);
# with preflight, the role's preflight first (which needs facts).
PLAY = """
- name: The agent role's journey secrets
  hosts: agent-1
  gather_facts: {preflight}
  gather_subset: [min]
  vars_files: [vault.yml]
  vars:
    fleetmon_agent_config_dir: {config_dir}
    fleetmon_agent_user: {group}
    fleetmon_agent_secrets: {secrets}
  tasks:
    # This machine (a container) runs no systemd; preflight's host check is not what these tests are about.
    - name: A systemd host
      ansible.builtin.set_fact:
        service_mgr: systemd
        cacheable: true
      when: {preflight}
    - name: Preflight
      ansible.builtin.include_role:
        name: fleetmon_agent
        tasks_from: preflight
      when: {preflight}
    - name: Secrets
      ansible.builtin.include_role:
        name: fleetmon_agent
        tasks_from: secrets
"""


def _tool(name: str) -> str:
    for candidate in (shutil.which(name), ROOT / ".venv-deploy" / "bin" / name):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.skip(f"needs {name}: run `make deploy-venv`")


@pytest.fixture
def host(tmp_path):
    """A temporary controller directory and host config directory, the vault with one secret in it."""
    if os.geteuid() != 0:
        pytest.skip("the role writes the secrets owned by root: run as root (make test-deploy does)")
    (tmp_path / "vault-password").write_text("test-vault-password\n")
    vault = subprocess.run([_tool("ansible-vault"), "encrypt_string", "--vault-password-file",
                            str(tmp_path / "vault-password"), VAULTED, "--name", "vault_shop_password"],
                           capture_output=True, text=True, check=True, timeout=60).stdout
    (tmp_path / "vault.yml").write_text(vault)
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    config_dir = tmp_path / "etc-fleetmon"
    config_dir.mkdir(mode=0o750)  # the client setup's, in the role
    return tmp_path


def _agent_group() -> grp.struct_group:
    """A group of this machine standing in for the agent user's (not root's, so the group is seen to be set)."""
    groups = sorted((g for g in grp.getgrall() if g.gr_gid != 0), key=lambda g: g.gr_gid)
    if not groups:
        pytest.skip("needs a group besides root's")
    return groups[0]


def _play(tmp_path: Path, secrets: dict, *options: str, preflight=False) -> subprocess.CompletedProcess:
    (tmp_path / "play.yml").write_text(textwrap.dedent(PLAY.format(
        preflight=json.dumps(preflight), config_dir=tmp_path / "etc-fleetmon", group=_agent_group().gr_name,
        secrets=json.dumps(secrets))))
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(ROOT / "roles"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    return subprocess.run([_tool("ansible-playbook"), *options, "-i", str(tmp_path / "hosts.yml"),
                           "--vault-password-file", str(tmp_path / "vault-password"), str(tmp_path / "play.yml")],
                          capture_output=True, text=True, env=env, timeout=180, check=False)


def _output(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


def _changed(done: subprocess.CompletedProcess) -> int:
    return int(re.search(r"agent-1\s+: ok=\d+\s+changed=(\d+)", done.stdout).group(1))


SECRETS = {"shop-password": "{{ vault_shop_password }}", "api.key": PLAIN, "db_pass-2": UNICODE}
VALUES = {"shop-password": VAULTED, "api.key": PLAIN, "db_pass-2": UNICODE}


def test_each_secret_is_a_file_of_the_agent_group_holding_the_value(host):
    done = _play(host, SECRETS, "-v", "--diff")
    assert done.returncode == 0, _output(done)[-3000:]
    secrets_dir = host / "etc-fleetmon" / "secrets"
    group = _agent_group().gr_gid
    shown = secrets_dir.stat()
    assert (stat.S_IMODE(shown.st_mode), shown.st_uid, shown.st_gid) == (0o750, 0, group)
    assert sorted(p.name for p in secrets_dir.iterdir()) == sorted(VALUES)
    for name, value in VALUES.items():
        path = secrets_dir / name
        shown = path.stat()
        assert (stat.S_IMODE(shown.st_mode), shown.st_uid, shown.st_gid) == (0o640, 0, group), name
        assert path.read_text(encoding="utf-8") == value + "\n"
    # the way the agent's journey reads a secret file (its first line), from the path the docs give
    assert read_secrets([(name, str(secrets_dir / name)) for name in VALUES]) == VALUES
    for value in VALUES.values():
        assert value not in _output(done)
    # a second run changes nothing (and prints no value either)
    again = _play(host, SECRETS, "-v", "--diff")
    assert again.returncode == 0 and _changed(again) == 0, _output(again)[-3000:]
    assert not any(value in _output(again) for value in VALUES.values())


def test_a_name_no_longer_listed_loses_its_file(host):
    assert _play(host, SECRETS).returncode == 0
    secrets_dir = host / "etc-fleetmon" / "secrets"
    (secrets_dir / ".left-by-hand").write_text("old\n")  # the role owns the directory: nothing else stays
    rotated = {"shop-password": "{{ vault_shop_password }}", "api.key": "rotated-Api-key-22cd"}
    done = _play(host, rotated, "-v", "--diff")
    assert done.returncode == 0, _output(done)[-3000:]
    assert sorted(p.name for p in secrets_dir.iterdir()) == ["api.key", "shop-password"]
    assert (secrets_dir / "api.key").read_text() == "rotated-Api-key-22cd\n"
    assert (secrets_dir / "shop-password").read_text() == VAULTED + "\n"
    for value in (VAULTED, PLAIN, "rotated-Api-key-22cd"):
        assert value not in _output(done)
    # no secrets at all: the directory stays, empty
    assert _play(host, {}).returncode == 0
    assert list(secrets_dir.iterdir()) == []


def test_check_mode_writes_nothing(host):
    secrets_dir = host / "etc-fleetmon" / "secrets"
    done = _play(host, SECRETS, "--check", "--diff", "-v")
    assert done.returncode == 0, _output(done)[-3000:]
    assert _changed(done) > 0  # it says what it would write ...
    assert not secrets_dir.exists()  # ... and writes nothing
    assert not any(value in _output(done) for value in VALUES.values())
    # on a host that has them: a new value and a removed name are reported, not applied
    assert _play(host, SECRETS).returncode == 0
    done = _play(host, {"shop-password": "next-Shop-pw-5e"}, "--check", "--diff", "-v")
    assert done.returncode == 0 and _changed(done) > 0, _output(done)[-3000:]
    assert (secrets_dir / "shop-password").read_text() == VAULTED + "\n"
    assert sorted(p.name for p in secrets_dir.iterdir()) == sorted(VALUES)
    assert "next-Shop-pw-5e" not in _output(done)


def test_preflight_refuses_bad_secrets_naming_the_key_never_the_value(host):
    bad = {
        "../escape": "dots-Value-1",
        ".hidden": "hidden-Value-2",
        "sub/dir": "slash-Value-3",
        "empty": "",
        "two-lines": "first-Line-4\nsecond-Line-5",
        "a-number": 918273645,
        "shop-password": "{{ vault_shop_password }}",  # good, and not named
    }
    done = _play(host, bad, "-v", preflight=True)
    assert done.returncode != 0
    output = " ".join(_output(done).split())
    assert "Bad fleetmon_agent_secrets for agent-1" in output
    for name in ("../escape", ".hidden", "sub/dir"):
        assert f"fleetmon_agent_secrets['{name}']: secret names are file names" in output, name
    assert "fleetmon_agent_secrets['empty']: the value is empty" in output
    assert "fleetmon_agent_secrets['two-lines']: the value holds a line break" in output
    assert "fleetmon_agent_secrets['a-number']: the value must be a string" in output
    assert "fleetmon_agent_secrets['shop-password']" not in output
    for value in ("dots-Value-1", "hidden-Value-2", "slash-Value-3", "first-Line-4", "second-Line-5", "918273645",
                  VAULTED):
        assert value not in output, value
    assert not (host / "etc-fleetmon" / "secrets").exists()  # refused before anything was written
    assert not (host / "escape").exists()


def test_preflight_passes_good_secrets(host):
    done = _play(host, SECRETS, preflight=True)
    assert done.returncode == 0, _output(done)[-3000:]
    assert sorted(p.name for p in (host / "etc-fleetmon" / "secrets").iterdir()) == sorted(VALUES)


def _secret_errors():
    spec = importlib.util.spec_from_file_location("fleetmon_agent_filters",
                                                  AGENT_ROLE / "filter_plugins" / "fleetmon_agent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fleetmon_secret_errors


@pytest.mark.parametrize(("secrets", "problems"), [
    # the names of the docs and the role's defaults: file names of letters, digits, ., _ and -
    pytest.param({"shop-password": "pw", "api.key": "k", "DB_2": "x y"}, [], id="good"),
    pytest.param({}, [], id="none"),
    # a path separator or a leading dot would leave the directory or hide the file
    pytest.param({"a/b": "pw"}, ["['a/b']: secret names are file names"], id="slash"),
    pytest.param({"..": "pw"}, ["['..']: secret names are file names"], id="parent"),
    pytest.param({".pw": "pw"}, ["['.pw']: secret names are file names"], id="hidden"),
    # Python's $ matches before a final newline: the whole name must match
    pytest.param({"pw\n": "pw"}, ["['pw\\n']: secret names are file names"], id="newline in name"),
    pytest.param({"": "pw"}, ["['']: secret names are file names"], id="empty name"),
    # the agent refuses an empty secret file and reads only the first line
    pytest.param({"pw": ""}, ["['pw']: the value is empty"], id="empty value"),
    pytest.param({"pw": "a\r\nb"}, ["['pw']: the value holds a line break"], id="two lines"),
    # unquoted YAML numbers and booleans are not what the user typed (0123 is 83, yes is True)
    pytest.param({"pin": 83}, ["['pin']: the value must be a string"], id="number"),
    pytest.param({"on": True}, ["['on']: the value must be a string"], id="boolean"),
    pytest.param({"pw": None}, ["['pw']: the value must be a string"], id="no value"),
    # a name that is a number is the file of that name
    pytest.param({2024: "pw"}, [], id="number as name"),
    pytest.param(["pw"], ["fleetmon_agent_secrets must be a mapping"], id="not a mapping"),
])
def test_secret_errors_name_the_key(secrets, problems):
    errors = _secret_errors()(secrets)
    assert len(errors) == len(problems), errors
    for error, problem in zip(errors, problems):
        assert problem in error
