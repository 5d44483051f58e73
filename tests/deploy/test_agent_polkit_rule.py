"""The agent role's polkit rule for restart_unit recovery, rendered by Ansible from the role's template and run
in a JavaScript engine (node) the way polkitd calls it: yes for start and restart of the checks' units by the
agent user, no opinion on anything else (polkit's default, admin authentication, then applies). The lab's
real polkitd is exercised by the default molecule scenario."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

AGENT_ROLE = ROOT / "roles" / "fleetmon_agent"
MANAGE_UNITS = "org.freedesktop.systemd1.manage-units"

RENDER = """
- name: The agent role's polkit rule
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
    fleetmon_agent_user: fleetmon-agent
    _fleetmon_agent_restart_units: "{{{{ checks | fleetmon_restart_units }}}}"
    checks: {checks}
  tasks:
    - name: Rule
      ansible.builtin.template:
        src: {role}/templates/fleetmon-agent.rules.j2
        dest: {out}/rule.js
        mode: "0644"
"""

# polkit's side of a rules file: addRule collects functions, action.lookup reads the details systemd sends.
HARNESS = """
const fs = require("fs");
const rules = [];
const polkit = {Result: {YES: "yes", NOT_HANDLED: null}, addRule: (rule) => rules.push(rule)};
eval(fs.readFileSync(process.argv[2], "utf8"));
const answers = JSON.parse(process.argv[3]).map(([id, user, unit, verb]) => rules.map((rule) => rule(
    {id: id, lookup: (key) => ({unit: unit, verb: verb})[key]}, {user: user})).find((r) => r !== null) || null);
console.log(JSON.stringify(answers));
"""


def _tool(name: str, *places: Path) -> str:
    for candidate in (shutil.which(name), *places):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.skip(f"needs {name}" + (": run `make deploy-venv`" if places else ""))


@pytest.fixture(scope="module")
def rule(tmp_path_factory) -> Path:
    node = _tool("node")
    playbook_bin = _tool("ansible-playbook", ROOT / ".venv-deploy" / "bin" / "ansible-playbook")
    out = tmp_path_factory.mktemp("polkit")
    checks = {
        "web": {"type": "systemd", "unit": "nginx", "recovery": {"action": "restart_unit"}},
        "api": {"type": "tcp", "port": 8080, "recovery": {"action": "restart_unit", "unit": "api.socket"}},
        "ssh": {"type": "systemd", "unit": "ssh"},
    }
    (out / "render.yml").write_text(RENDER.format(checks=json.dumps(checks), role=AGENT_ROLE, out=out))
    env = dict(os.environ, ANSIBLE_FILTER_PLUGINS=str(AGENT_ROLE / "filter_plugins"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    done = subprocess.run([playbook_bin, "-i", "localhost,", str(out / "render.yml")], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (out / "harness.js").write_text(HARNESS)
    return out, node


@pytest.mark.parametrize(("ask", "answer"), [
    # the checks' units, as systemd names them, for the two verbs recovery needs
    ((MANAGE_UNITS, "fleetmon-agent", "nginx.service", "restart"), "yes"),
    ((MANAGE_UNITS, "fleetmon-agent", "nginx.service", "start"), "yes"),
    ((MANAGE_UNITS, "fleetmon-agent", "api.socket", "restart"), "yes"),
    # never stopping one, nor any other verb
    ((MANAGE_UNITS, "fleetmon-agent", "nginx.service", "stop"), None),
    ((MANAGE_UNITS, "fleetmon-agent", "nginx.service", "reload-or-restart"), None),
    # a unit that is only checked, not recovered, and a name without the suffix systemd adds
    ((MANAGE_UNITS, "fleetmon-agent", "ssh.service", "restart"), None),
    ((MANAGE_UNITS, "fleetmon-agent", "nginx", "restart"), None),
    # another user, another action
    ((MANAGE_UNITS, "www-data", "nginx.service", "restart"), None),
    (("org.freedesktop.systemd1.manage-unit-files", "fleetmon-agent", "nginx.service", "restart"), None),
    (("org.freedesktop.systemd1.reload-daemon", "fleetmon-agent", None, None), None),
])
def test_the_rule_allows_start_and_restart_of_the_checks_units_to_the_agent_user_only(rule, ask, answer):
    out, node = rule
    done = subprocess.run([node, str(out / "harness.js"), str(out / "rule.js"), json.dumps([ask])],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [answer]
