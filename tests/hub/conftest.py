"""The hub as a real process beside the real broker and agents of tests/conftest.py."""

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import AGENT_SRC, free_port
from tests.polling import wait_until


class HubProcess:
    def __init__(self, tmp_path: Path, broker, config: dict) -> None:
        self.dir = tmp_path / "hub"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        base = {"broker": {"url": broker.url, "reconnect": {"min_delay": 0.2, "max_delay": 1}},
                "listen": f"127.0.0.1:{self.port}", "db": str(self.dir / "history.db"), "rules_interval": 0.5,
                "liveness": {"silent_after": 3, "settle": 2}}
        liveness = {**base["liveness"], **config.get("liveness", {})}  # tests keep the short settle
        base.update(config)
        base["liveness"] = liveness
        self.config_path = self.dir / "hub.yml"
        self.config_path.write_text(yaml.safe_dump(base))
        self.log_path = self.dir / "hub.log"
        self.process = None
        # Sent with every request when the config has one: a hub with users lets no anonymous reader in.
        self.token = base.get("api", {}).get("token", "")

    def start(self) -> "HubProcess":
        env = dict(os.environ, PYTHONPATH=str(AGENT_SRC), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen([sys.executable, "-m", "fleetmon", "hub", "run", "--config",
                                         str(self.config_path)], stdout=open(self.log_path, "ab"),
                                        stderr=subprocess.STDOUT, env=env)
        wait_until(lambda: self.get("/health/startup", ok_only=False) is not None, timeout=20, message="hub HTTP")
        return self

    def get(self, path: str, ok_only: bool = True):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            return None if ok_only else exc.code
        except OSError:
            return None
        return body.decode() if path == "/metrics" else json.loads(body)

    def host(self, name: str):
        hosts = (self.get("/api/v1/hosts") or {}).get("hosts", [])
        return next((h for h in hosts if h["host"] == name), None)

    def metric(self, name: str) -> float | None:
        """The value of the unlabelled series ``name`` on /metrics; None while the hub does not expose it."""
        for line in (self.get("/metrics") or "").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def wait_for_rule_evaluations(self, count: int = 3, timeout: float = 10.0) -> None:
        """Wait until the hub has evaluated its rules ``count`` more times: whatever it would raise about the
        fleet as it stands now, it has raised by then. The positive event a test waits for before it asserts
        that an alert was *not* raised."""
        target = (self.metric("fleetmon_hub_rule_evaluations_total") or 0) + count
        wait_until(lambda: (self.metric("fleetmon_hub_rule_evaluations_total") or 0) >= target, timeout=timeout,
                   message=f"{count} more rule evaluations")

    @property
    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        self.process = None
        return code


@pytest.fixture
def start_hub(tmp_path, broker):
    hubs = []

    def start(config: dict | None = None) -> HubProcess:
        hub = HubProcess(tmp_path, broker, config or {})
        hubs.append(hub)
        return hub.start()

    yield start
    for hub in hubs:
        hub.stop()
        print(f"--- hub log ---\n{hub.log}")
