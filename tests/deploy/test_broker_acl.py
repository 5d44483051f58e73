"""The broker role's users and ACL, rendered by Ansible with the role's own expression, filters and templates
and enforced by a real mosquitto: each host reads the hub's status and its own acks, never another host's, and
writes no hub topic."""

import json
import os
import secrets
import shutil
import subprocess
import threading
from pathlib import Path
from typing import List, Tuple

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import ROOT, Broker
from tests.polling import wait_until

PREFIX = "fleetmon/v1"
HOSTS = ("host-a", "host-b")
SITES = ("east", "west")  # as on a central broker: each site's bridge has a user
BROKER_ROLE = ROOT / "roles" / "fleetmon_broker"
FILTERS = [ROOT / "roles" / role / "filter_plugins" for role in ("fleetmon_common", "fleetmon_broker")]


def _role_fact(tasks_file: Path, fact: str) -> str:
    """The expression a role's set_fact task gives ``fact``, so the test renders exactly what the role does."""
    (task,) = [task for task in yaml.safe_load(tasks_file.read_text())
               if fact in (task.get("ansible.builtin.set_fact") or {})]
    return task["ansible.builtin.set_fact"][fact]


USERS = _role_fact(BROKER_ROLE / "tasks" / "configure.yml", "__fleetmon_broker_users")

RENDER = """
- name: The broker role's MQTT users, password file and ACL
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
    fleetmon_topic_prefix: {prefix}
    fleetmon_controller_dir: {out}
    fleetmon_hub_username: fleetmon-hub
    fleetmon_credentials: {{}}
    fleetmon_broker_extra_users: []
    __fleetmon_broker_agent_ids: {hosts}
    __fleetmon_broker_sites: {sites}
  tasks:
    - name: Users as data
      ansible.builtin.set_fact:
        __fleetmon_broker_users: {users}
    - name: Files
      ansible.builtin.template:
        src: "{role}/templates/{{{{ item }}}}.j2"
        dest: "{out}/{{{{ item }}}}"
        mode: "0600"
      loop: [acl, passwd]
    - name: Passwords for the test
      ansible.builtin.copy:
        content: "{{{{ __fleetmon_broker_users | items2dict(key_name='name', value_name='password') | to_json }}}}"
        dest: "{out}/passwords.json"
        mode: "0600"
"""


def _ansible_playbook() -> str:
    for candidate in (shutil.which("ansible-playbook"), ROOT / ".venv-deploy" / "bin" / "ansible-playbook"):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    # `make test` runs the whole suite before `make test-deploy` builds the deploy venv, which runs
    # tests/deploy again with Ansible present.
    pytest.skip("needs ansible-playbook: run `make deploy-venv`")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("broker")
    (out / "credential-secret").write_text(secrets.token_hex(32))
    playbook = out / "render.yml"
    playbook.write_text(RENDER.format(prefix=PREFIX, out=out, hosts=json.dumps(list(HOSTS)),
                                      sites=json.dumps(list(SITES)), role=BROKER_ROLE,
                                      users=json.dumps(USERS)))
    env = dict(os.environ, ANSIBLE_FILTER_PLUGINS=os.pathsep.join(map(str, FILTERS)),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    done = subprocess.run([_ansible_playbook(), "-i", "localhost,", str(playbook)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture
def acl_broker(rendered, tmp_path):
    instance = Broker(tmp_path, listener_options=f"allow_anonymous false\npassword_file {rendered / 'passwd'}\n"
                                                 f"acl_file {rendered / 'acl'}\n")
    instance.start()
    yield instance
    instance.stop()


class Client:
    """A real MQTT 5 client with one user's credential; it keeps what it receives, in order."""

    def __init__(self, broker: Broker, user: str, password: str) -> None:
        self.received: List[Tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"test-{user}")
        self.client.username_pw_set(user, password)
        self.client.on_connect = lambda client, userdata, flags, reason, props: self._connected.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._connected.wait(10), f"{user} could not connect"

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.received.append((message.topic, message.payload))

    def topics(self) -> List[str]:
        with self._lock:
            return [topic for topic, _ in self.received]

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(10), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_the_acl_gives_each_host_its_own_acks_and_the_hubs_status(rendered):
    acl = (rendered / "acl").read_text()
    users = {block.split("\n")[0]: block.split("\n")[1:] for block in acl.split("\nuser ")[1:]}
    assert sorted(line for line in users["host-a"] if line) == sorted([
        f"topic read {PREFIX}/hosts/host-a/status",
        f"topic read {PREFIX}/hub/status",
        f"topic read {PREFIX}/hub/acks/host-a",
        f"topic write {PREFIX}/hosts/host-a/#",
    ])
    assert f"topic readwrite {PREFIX}/hub/#" in users["fleetmon-hub"]


def test_a_host_reads_the_hubs_status_and_its_own_acks_but_not_another_hosts(rendered, acl_broker):
    passwords = json.loads((rendered / "passwords.json").read_text())
    hub = Client(acl_broker, "fleetmon-hub", passwords["fleetmon-hub"])
    for topic in (f"{PREFIX}/hub/acks/host-b", f"{PREFIX}/hub/acks/host-a", f"{PREFIX}/hub/status"):
        hub.publish(topic, topic.encode(), retain=True)
    host_a = Client(acl_broker, "host-a", passwords["host-a"])
    try:
        # One connection delivers in order: host-b's retained ack, were it allowed, would arrive before the
        # retained messages of the subscriptions made after it.
        host_a.subscribe(f"{PREFIX}/hub/acks/host-b")
        host_a.subscribe(f"{PREFIX}/hub/acks/host-a")
        host_a.subscribe(f"{PREFIX}/hub/status")
        wait_until(lambda: f"{PREFIX}/hub/status" in host_a.topics(), message="the hub's retained status at host-a")
        assert host_a.topics() == [f"{PREFIX}/hub/acks/host-a", f"{PREFIX}/hub/status"]
    finally:
        host_a.close()
        hub.close()


def test_a_host_cannot_write_the_hubs_topics(rendered, acl_broker):
    passwords = json.loads((rendered / "passwords.json").read_text())
    hub = Client(acl_broker, "fleetmon-hub", passwords["fleetmon-hub"])
    hub.client.subscribe(f"{PREFIX}/hub/#", qos=1)
    hub.subscribe(f"{PREFIX}/hosts/#")
    host_a = Client(acl_broker, "host-a", passwords["host-a"])
    try:
        # The forged messages go first on host-a's connection; its own metrics, which it may write, last.
        host_a.publish(f"{PREFIX}/hub/acks/host-a", b"forged")
        host_a.publish(f"{PREFIX}/hub/acks/host-b", b"forged")
        host_a.publish(f"{PREFIX}/hub/status", b"forged")
        host_a.publish(f"{PREFIX}/hosts/host-a/metrics", b"marker")
        wait_until(lambda: f"{PREFIX}/hosts/host-a/metrics" in hub.topics(), message="host-a's own message at the hub")
        assert hub.topics() == [f"{PREFIX}/hosts/host-a/metrics"]
    finally:
        host_a.close()
        hub.close()


def test_a_sites_bridge_writes_only_its_own_sites_tree_and_the_hub_reads_every_site(rendered, acl_broker):
    passwords = json.loads((rendered / "passwords.json").read_text())
    hub = Client(acl_broker, "fleetmon-hub", passwords["fleetmon-hub"])
    hub.subscribe(f"{PREFIX}/sites/#")
    hub.subscribe(f"{PREFIX}/hosts/#")
    hub.client.subscribe(f"{PREFIX}/fleet/#", qos=1)
    east = Client(acl_broker, "fleetmon-site-east", passwords["fleetmon-site-east"])
    try:
        for topic in (f"{PREFIX}/sites/west/fleet/summary", f"{PREFIX}/fleet/summary",
                      f"{PREFIX}/hosts/host-a/metrics", f"{PREFIX}/sites/east/fleet/hosts/cam-1"):
            east.publish(topic, b"from east")
        wait_until(lambda: f"{PREFIX}/sites/east/fleet/hosts/cam-1" in hub.topics(),
                   message="east's own site topic at the hub")
        assert hub.topics() == [f"{PREFIX}/sites/east/fleet/hosts/cam-1"]
    finally:
        east.close()
        hub.close()
