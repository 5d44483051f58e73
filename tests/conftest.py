"""Fixtures shared by all tests: a real mosquitto on a free loopback port, an MQTT recorder, the agent
as a real subprocess."""

import functools
import getpass
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
AGENT_SRC = ROOT / "agent"
SCHEMAS = AGENT_SRC / "fleetmon" / "protocol" / "schemas"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a server a test starts next. With FLEETMON_TEST_PORTS=LOW-HIGH (make
    test runs two lanes of tests at once, each with its own range, below the kernel's ephemeral ports) the
    next free one of that range, so the lanes never pick the same port and a process never picks one twice in a
    row; else one the kernel picks."""
    span = os.environ.get("FLEETMON_TEST_PORTS")
    if not span:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    low, high = (int(part) for part in span.split("-"))
    for _ in range(high - low + 1):
        port = next(_lane_ports(low, high))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in FLEETMON_TEST_PORTS={span}")


@functools.lru_cache(maxsize=None)
def _lane_ports(low: int, high: int) -> Iterator[int]:
    """The range's ports round and round, from a random one: this process's turn through them."""
    start = random.randint(low, high)
    return itertools.cycle([*range(start, high + 1), *range(low, start)])


def publish_retained(broker: "Broker", topic: str, payload: Dict) -> None:
    """One retained message, published and confirmed by the broker, from a client of its own."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.publish(topic, json.dumps(payload), qos=1, retain=True).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


class Broker:
    """A mosquitto process the test can stop and start again on the same port."""

    def __init__(self, workdir: Path, listener_options: str = "allow_anonymous true\n",
                 scheme: str = "mqtt") -> None:
        self.port = free_port()
        self.workdir = workdir
        self.scheme = scheme
        self.config = workdir / "mosquitto.conf"
        # `user` keeps mosquitto from dropping root privileges to a user that cannot read tmp files.
        self.config.write_text(f"per_listener_settings true\nuser {getpass.getuser()}\npersistence false\n"
                               "log_dest stdout\n"
                               f"listener {self.port} 127.0.0.1\n{listener_options}")
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not os.path.exists(MOSQUITTO):
            pytest.fail("mosquitto is not installed: run `make deps`")
        self.log = open(self.workdir / "mosquitto.log", "ab")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        wait_until(self._listening, message=f"mosquitto on port {self.port}")

    def _listening(self) -> bool:
        assert self.process.poll() is None, "mosquitto exited: {}".format(
            (self.workdir / "mosquitto.log").read_text()[-2000:])
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no clean disconnects, no wills sent, and (persistence off) every session and retained
        message gone."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def broker(tmp_path):
    instance = Broker(tmp_path)
    instance.start()
    yield instance
    instance.stop()


class Recorder:
    """A real MQTT subscriber that keeps every message it sees."""

    def __init__(self, broker: Broker, topic: str = "fleetmon/#", tls_ca: Optional[str] = None,
                 username: Optional[str] = None, password: Optional[str] = None) -> None:
        self.messages: List[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._marker_topic = f"fleetmon-test/recorder/{uuid.uuid4().hex}"
        self._markers_seen: Set[bytes] = set()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe([(topic, 1), (self._marker_topic, 1)])
        if tls_ca:
            self.client.tls_set(ca_certs=tls_ca)
        if username:
            self.client.username_pw_set(username, password)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "recorder could not subscribe"

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            if message.topic == self._marker_topic:
                self._markers_seen.add(message.payload)
            else:
                self.messages.append(message)

    def sync(self, timeout: float = 10.0) -> None:
        """Return once every message the broker had for this recorder before now has arrived (the retained
        ones of its subscription included): the broker delivers to one subscriber in order, so a marker the
        recorder sends itself comes after them. Messages still on their way to the broker are not covered."""
        marker = uuid.uuid4().hex.encode()
        self.client.publish(self._marker_topic, marker, qos=1)
        wait_until(lambda: marker in self._markers_seen, timeout=timeout, message="the recorder's own marker")

    def payloads(self, suffix: str) -> List[Dict]:
        with self._lock:
            return [json.loads(m.payload) for m in self.messages if m.topic.endswith("/" + suffix)]

    def wait(self, suffix: str, count: int = 1, timeout: float = 20.0, where=None) -> List[Dict]:
        def enough():
            found = [p for p in self.payloads(suffix) if where is None or where(p)]
            return found if len(found) >= count else None

        return wait_until(enough, timeout, message=f"{count} message(s) on */{suffix}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def recorder(broker):
    instance = Recorder(broker)
    yield instance
    instance.close()


class AgentProcess:
    """`fleetmon agent run` as a real process, with its config file and state directory."""

    def __init__(self, tmp_path: Path, broker: Broker, config: Dict, name: str = "agent") -> None:
        self.dir = tmp_path / name
        self.dir.mkdir(exist_ok=True)
        self.config_path = self.dir / "agent.yml"
        base = {"host_id": "test-host", "interval": 1, "state_dir": str(self.dir / "state"),
                "broker": {"url": broker.url, "reconnect": {"min_delay": 0.2, "max_delay": 1}},
                "collectors": {"system": {"top_processes": 2}}}
        self.write_config(_merge(base, config))
        self.process: Optional[subprocess.Popen] = None

    def write_config(self, config: Dict) -> None:
        self.config = config
        self.config_path.write_text(yaml.safe_dump(config))

    def start(self, *extra: str) -> "AgentProcess":
        env = dict(os.environ, PYTHONPATH=str(AGENT_SRC), PYTHONUNBUFFERED="1")
        self.log_path = self.dir / "agent.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fleetmon", "agent", "run", "--config", str(self.config_path), *extra],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT, env=env)
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def spooled_seqs(self) -> List[int]:
        """The sequence numbers of the samples in the agent's spool, from the file names (<session>-<seq>.json)."""
        spool = Path(self.config["state_dir"]) / "spool"
        names = sorted(path.name for path in spool.glob("*.json")) if spool.is_dir() else []
        return [int(name[:-len(".json")].split("-")[1]) for name in names]

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, kill: bool = False) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        code = self.process.wait(timeout=15)
        self.process = None
        return code


def _merge(base: Dict, override: Dict) -> Dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture
def start_agent(tmp_path, broker):
    agents: List[AgentProcess] = []

    def start(config: Optional[Dict] = None, name: str = "agent", *extra: str) -> AgentProcess:
        agent = AgentProcess(tmp_path, broker, config or {}, name)
        agents.append(agent)
        return agent.start(*extra)

    yield start
    for agent in agents:
        agent.stop(kill=True)
        print(f"--- log of {agent.dir.name} ---\n{agent.log}")  # shown when a test fails


@pytest.fixture(scope="session")
def schemas() -> Dict[str, Dict]:
    return {path.stem: json.loads(path.read_text()) for path in SCHEMAS.glob("*.json")}
