"""The roles' entry points run by a real ansible-playbook on the controller: fleetmon_common refuses to run
from a play or without its required inputs and works when a fleetmon role includes it; the hub role refuses
a second hub unless fleetmon_hub_scale_out asks for it, refuses bad console users naming them, and renders
the users as hashes and HTTPS from the fleet CA, the same on every run."""

import hashlib
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.auth.config import parse_auth
from fleetmon.hub.auth.passwords import verify_password
from tests.conftest import ROOT

SECRET = "a" * 64


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


def _play(tmp_path: Path, play: str, hubs=("hub-1",), entry="credential", inputs="{}",
          options=()) -> subprocess.CompletedProcess:
    roles = tmp_path / "roles"
    (roles / "fleetmon_probe" / "tasks").mkdir(parents=True, exist_ok=True)
    (roles / "fleetmon_probe" / "tasks" / "main.yml").write_text(CALLER_TASKS.format(entry=entry, inputs=inputs))
    controller = tmp_path / "controller"
    if not controller.exists():  # a second run keeps the first one's CA and certificates
        controller.mkdir()
        (controller / "credential-secret").write_text(SECRET + "\n")
    (tmp_path / "hosts.yml").write_text(INVENTORY.format(hubs="{" + ", ".join(h if ":" in h else f"{h}: " for h in hubs)
                                                         + "}"))
    (tmp_path / "play.yml").write_text(textwrap.dedent(play))
    env = dict(os.environ, ANSIBLE_ROLES_PATH=f"{roles}{os.pathsep}{ROOT / 'roles'}", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_NOCOLOR="1")
    return subprocess.run([_ansible_playbook(), *options, "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"),
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


def test_the_hub_preflight_refuses_a_second_hub_on_the_same_broker(tmp_path):
    done = _play(tmp_path, HUB_PREFLIGHT, hubs=("hub-1", "hub-2"))
    assert done.returncode != 0
    assert ("This play deploys the hub on 2 hosts (hub-1, hub-2) but they share a broker (hub-1, hub-1): a fleet "
            "has one hub per broker") in _output(done)


def test_the_hub_preflight_passes_one_hub_a_hub_per_broker_and_a_scale_out(tmp_path):
    assert _play(tmp_path, HUB_PREFLIGHT).returncode == 0
    # sites and a center: each hub on its own broker (here the first host of another group)
    done = _play(tmp_path, HUB_PREFLIGHT, hubs=("hub-1", "hub-2: {fleetmon_broker_group: agents}"))
    assert done.returncode == 0, _output(done)[-3000:]
    scale_out = HUB_PREFLIGHT.replace("gather_facts: true",
                                      "gather_facts: true\n      vars: {fleetmon_hub_scale_out: true}")
    done = _play(tmp_path, scale_out, hubs=("hub-1", "hub-2"))
    assert done.returncode == 0, _output(done)[-3000:]


HUB_RENDER = """
    - name: The hub's config as the role renders it
      hosts: hub
      gather_facts: true
      vars: {variables}
      tasks:
        - name: Preflight of the hub role
          ansible.builtin.include_role:
            name: fleetmon_hub
            tasks_from: preflight
        - name: What the config takes from the controller
          ansible.builtin.include_role:
            name: fleetmon_hub
            tasks_from: controller
            public: true
        - name: The config
          ansible.builtin.copy:
            content: "{{{{ _fleetmon_hub_config | to_nice_yaml }}}}"
            dest: "{{{{ out }}}}/hub.yml"
            mode: "0600"
    """
USERS = [{"name": "alice", "role": "admin", "password": "alice-pw-1", "tokens": ["alice-token-1"]},
         {"name": "bob", "role": "viewer", "password": "bob-pw-2"}]


def _render(tmp_path: Path, **variables) -> tuple[subprocess.CompletedProcess, dict]:
    (tmp_path / "hub.yml").unlink(missing_ok=True)
    done = _play(tmp_path, HUB_RENDER.format(variables=json.dumps(variables)), options=("-v",))
    assert done.returncode == 0, _output(done)[-3000:]
    return done, yaml.safe_load((tmp_path / "hub.yml").read_text())


def test_the_hub_config_has_the_users_as_hashes_and_https_from_the_fleet_ca(tmp_path):
    done, config = _render(tmp_path, fleetmon_hub_users=USERS)
    alice, bob = config["auth"]["users"]
    assert (alice["name"], alice["role"], bob["name"], bob["role"]) == ("alice", "admin", "bob", "viewer")
    assert verify_password("alice-pw-1", alice["password_hash"])
    assert verify_password("bob-pw-2", bob["password_hash"])
    assert not verify_password("bob-pw-2", alice["password_hash"])
    assert alice["tokens"] == ["sha256$" + hashlib.sha256(b"alice-token-1").hexdigest()] and bob["tokens"] == []
    assert "anonymous_read" not in config["auth"]  # the hub decides: no anonymous reading with users
    errors = Errors()
    auth = parse_auth(Node(config["auth"], "auth", errors))  # the hub's own reading of the section
    assert not errors and not auth.anonymous_read and sorted(auth.users) == ["alice", "bob"]
    # Not in the hub's config, nor in what the play printed at -v (no_log on every task that has them).
    for secret in ("alice-pw-1", "bob-pw-2", "alice-token-1", SECRET):
        assert secret not in (tmp_path / "hub.yml").read_text() and secret not in done.stdout + done.stderr
    # The listener beyond the loopback serves HTTPS with a certificate of the fleet CA that names the loopback
    # (the role's readiness probe comes from there).
    assert config["listen"] == "0.0.0.0:9180"
    assert config["listen_tls"] == {"cert_file": "/etc/fleetmon-hub/tls/hub.crt",
                                    "key_file": "/etc/fleetmon-hub/tls/hub.key"}
    controller = tmp_path / "controller"
    (cert,) = controller.glob("server-hub-1-*.crt")
    shown = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
                           capture_output=True, text=True, check=True).stdout
    assert "DNS:hub-1" in shown and "IP Address:127.0.0.1" in shown and "DNS:localhost" in shown
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(controller / "ca.crt"), str(cert)],
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_second_run_renders_the_same_config(tmp_path):
    _, first = _render(tmp_path, fleetmon_hub_users=USERS)
    text = (tmp_path / "hub.yml").read_text()
    certificates = sorted((tmp_path / "controller").glob("server-*.crt"))
    _render(tmp_path, fleetmon_hub_users=USERS)
    assert (tmp_path / "hub.yml").read_text() == text  # same salts, same hashes: the play changes nothing
    assert sorted((tmp_path / "controller").glob("server-*.crt")) == certificates
    # another password is another hash, for that user alone
    _, changed = _render(tmp_path, fleetmon_hub_users=[USERS[0], {**USERS[1], "password": "bob-pw-3"}])
    assert changed["auth"]["users"][0] == first["auth"]["users"][0]
    assert changed["auth"]["users"][1]["password_hash"] != first["auth"]["users"][1]["password_hash"]


@pytest.mark.parametrize(("variables", "tls", "auth"), [
    # today's hub: no users and nothing decided, so no auth section; TLS as the listener asks
    pytest.param({}, True, None, id="no users"),
    # a hub on the loopback only (behind a proxy, or a laptop) keeps plain HTTP by default
    pytest.param({"fleetmon_hub_listen": "127.0.0.1:9180"}, False, None, id="loopback"),
    # anonymous_read set in the inventory reaches the hub as given, users or not
    pytest.param({"fleetmon_hub_anonymous_read": True}, True, {"anonymous_read": True}, id="anonymous read"),
    # TLS switched off for a listener beyond the loopback: the inventory decides
    pytest.param({"fleetmon_hub_tls": False}, False, None, id="TLS off"),
])
def test_tls_and_auth_sections_follow_the_inventory(tmp_path, variables, tls, auth):
    _, config = _render(tmp_path, **variables)
    assert ("listen_tls" in config) == tls
    assert config.get("auth") == auth


def test_the_hub_preflight_names_bad_users(tmp_path):
    users = [{"name": "alice", "role": "root", "password": "alice-pw-1"},
             {"name": "bob", "role": "viewer", "password": ""},
             {"name": "alice", "role": "viewer", "password": "alice-pw-2"}]
    done = _play(tmp_path, HUB_RENDER.format(variables=json.dumps({"fleetmon_hub_users": users})))
    assert done.returncode != 0
    output = _output(done)
    assert "Bad fleetmon_hub_users for the hub on hub-1" in output
    assert "fleetmon_hub_users[0] (alice): role 'root' is not one of viewer, operator, admin" in output
    assert "fleetmon_hub_users[1] (bob): password is empty; set it from a vault variable" in output
    assert ("fleetmon_hub_users[2] (alice): user 'alice' is listed twice in fleetmon_hub_users (entries 0 and 2)"
            in output)
    assert "alice-pw" not in output
    assert not (tmp_path / "hub.yml").exists()
