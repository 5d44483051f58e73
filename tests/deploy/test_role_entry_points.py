"""The roles' entry points run by a real ansible-playbook on the controller: fleetmon_common refuses to run
from a play or without its required inputs and works when a fleetmon role includes it; the hub role refuses
a second hub unless fleetmon_hub_scale_out asks for it."""

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _ansible_playbook() -> str:
    for candidate in (shutil.which("ansible-playbook"), ROOT / ".venv-deploy" / "bin" / "ansible-playbook"):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    # `make test` runs the whole suite before `make test-deploy` builds the deploy venv, which runs
    # tests/deploy again with Ansible present.
    pytest.skip("needs ansible-playbook: run `make deploy-venv`")


INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  children:
    broker:
      hosts:
        hub-1:
    hub:
      hosts: {hubs}
    agents:
      hosts:
        agent-1:
"""

# A role named like the fleetmon roles that takes a credential from fleetmon_common as they do.
CALLER_TASKS = """
- name: A credential, as the agent and the hub take theirs
  ansible.builtin.include_role:
    name: fleetmon_common
    tasks_from: {entry}
  vars: {inputs}

- name: What it gave
  ansible.builtin.copy:
    content: "{{{{ __fleetmon_common_credential_password }}}}"
    dest: "{{{{ out }}}}/password"
    mode: "0600"
"""

CALLER_PLAY = """
- name: Caller
  hosts: agent-1
  gather_facts: false
  roles: [fleetmon_probe]
"""


def _play(tmp_path: Path, play: str, hubs=("hub-1",), entry="credential", inputs="{}") -> subprocess.CompletedProcess:
    roles = tmp_path / "roles"
    (roles / "fleetmon_probe" / "tasks").mkdir(parents=True, exist_ok=True)
    (roles / "fleetmon_probe" / "tasks" / "main.yml").write_text(CALLER_TASKS.format(entry=entry, inputs=inputs))
    controller = tmp_path / "controller"
    controller.mkdir(exist_ok=True)
    (controller / "credential-secret").write_text("a" * 64 + "\n")
    (tmp_path / "hosts.yml").write_text(INVENTORY.format(hubs="{" + ", ".join(f"{h}: " for h in hubs) + "}"))
    (tmp_path / "play.yml").write_text(textwrap.dedent(play))
    env = dict(os.environ, ANSIBLE_ROLES_PATH=f"{roles}{os.pathsep}{ROOT / 'roles'}", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_NOCOLOR="1")
    return subprocess.run([_ansible_playbook(), "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"),
                           "-e", f"out={tmp_path} fleetmon_controller_dir={controller}"],
                          capture_output=True, text=True, env=env, timeout=180, check=False)


def _output(done: subprocess.CompletedProcess) -> str:
    return " ".join((done.stdout + done.stderr).split())


def test_a_fleetmon_role_gets_its_credential_from_the_common_role(tmp_path):
    done = _play(tmp_path, CALLER_PLAY, inputs="{_fleetmon_common_credential_user: agent-1}")
    assert done.returncode == 0, _output(done)[-3000:]
    assert len((tmp_path / "password").read_text()) == 32


def test_the_common_role_refuses_a_play(tmp_path):
    done = _play(tmp_path, """
        - name: A play that uses the internal role itself
          hosts: agent-1
          gather_facts: false
          tasks:
            - name: Credential
              ansible.builtin.include_role:
                name: fleetmon_common
                tasks_from: credential
              vars:
                _fleetmon_common_credential_user: agent-1
        """)
    assert done.returncode != 0
    assert "fleetmon_common is internal to the fleetmon roles" in _output(done)
    assert "it was called from a play" in _output(done)
    assert not (tmp_path / "password").exists()


def test_the_common_role_refuses_a_play_that_lists_it(tmp_path):
    done = _play(tmp_path, """
        - name: A play with the internal role in its roles
          hosts: agent-1
          gather_facts: false
          roles: [fleetmon_common]
        """)
    assert done.returncode != 0
    assert "fleetmon_common is internal to the fleetmon roles" in _output(done)


@pytest.mark.parametrize(("entry", "message"), [
    # the argument spec of the entry point, when tasks_from names it
    ("credential", "missing required arguments: _fleetmon_common_credential_user"),
    # the guard, when tasks_from names the file and the spec is not applied
    ("credential.yml", "fleetmon_common credential needs _fleetmon_common_credential_user"),
])
def test_a_missing_input_is_named(tmp_path, entry, message):
    done = _play(tmp_path, CALLER_PLAY, entry=entry)
    assert done.returncode != 0
    assert message in _output(done)


HUB_PREFLIGHT = """
    - name: Hub preflight
      hosts: hub
      gather_facts: true
      tasks:
        - name: Preflight of the hub role
          ansible.builtin.include_role:
            name: fleetmon_hub
            tasks_from: preflight
    """


def test_the_hub_preflight_refuses_a_second_hub(tmp_path):
    done = _play(tmp_path, HUB_PREFLIGHT, hubs=("hub-1", "hub-2"))
    assert done.returncode != 0
    assert "This play deploys the hub on 2 hosts (hub-1, hub-2), but a fleet has one hub" in _output(done)


def test_the_hub_preflight_passes_one_hub_and_a_scale_out(tmp_path):
    assert _play(tmp_path, HUB_PREFLIGHT).returncode == 0
    scale_out = HUB_PREFLIGHT.replace("gather_facts: true",
                                      "gather_facts: true\n      vars: {fleetmon_hub_scale_out: true}")
    done = _play(tmp_path, scale_out, hubs=("hub-1", "hub-2"))
    assert done.returncode == 0, _output(done)[-3000:]
