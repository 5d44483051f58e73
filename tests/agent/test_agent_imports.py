"""What the agent leaves unimported until its config asks for it, each part costing it memory on every host
(docs/benchmarks.md): check probes and their pool, log shipping, the Jetson collector on a host with no
Jetson source. Each test runs in a fresh interpreter, as the agent starts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetmon.agent.collectors.jetson import JTOP_SOCKET, no_source_here
from tests.conftest import AGENT_SRC, free_port

CHECK_PARTS = ("fleetmon.agent.checks.probes", "fleetmon.agent.checks.journey", "fleetmon.agent.checks.recovery",
               "concurrent.futures", "http.cookiejar")
LOG_PARTS = ("fleetmon.agent.logs.shipper", "fleetmon.agent.logs.journal", "fleetmon.agent.logs.batch")
JETSON_PARTS = ("fleetmon.agent.collectors.jetson.collector", "fleetmon.agent.collectors.jetson.tegrastats",
                "fleetmon.agent.collectors.jetson.jtop_source")

#: Builds the agent from a config file as `fleetmon agent run` does (no broker needed: the link connects on
#: start), optionally lets its checks run until ARGV[3] results came back, then prints the imported modules.
AGENT_SCRIPT = """
import json, sys, time
from fleetmon.agent.config import load_config
from fleetmon.agent.daemon import Agent
agent = Agent(load_config(sys.argv[1]))
results = []
if int(sys.argv[2]):
    before = sorted(sys.modules)
    agent.checks.start_due(float("inf"))
    deadline = time.monotonic() + 20
    while len(results) < int(sys.argv[2]) and time.monotonic() < deadline:
        results += [r.ok for _, r in agent.checks.finished()]
        time.sleep(0.05)
else:
    before = None
print(json.dumps({"before": before, "after": sorted(sys.modules), "results": results,
                  "collectors": [c.name for c in agent.runner.collectors]}))
agent.checks.close()
"""


def agent_modules(tmp_path: Path, config: dict, wait_results: int = 0, **env_overrides: str) -> dict:
    path = tmp_path / "agent.yml"
    path.write_text(json.dumps(dict({"host_id": "imports", "state_dir": str(tmp_path / "state")}, **config)))
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC), **env_overrides)
    out = subprocess.run([sys.executable, "-c", AGENT_SCRIPT, str(path), str(wait_results)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def no_jetson(tmp_path: Path) -> dict:
    """The default collectors on a host with no Jetson source (no tegrastats at the configured path)."""
    if os.path.exists(JTOP_SOCKET):
        pytest.skip(f"{JTOP_SOCKET} exists: this host may be a Jetson")
    return {"collectors": {"jetson": {"tegrastats_path": str(tmp_path / "no-tegrastats")}}}


def test_the_default_agent_imports_no_check_probes_log_shipping_or_jetson_code(tmp_path):
    seen = agent_modules(tmp_path, no_jetson(tmp_path))
    assert "system" in seen["collectors"] and "jetson" not in seen["collectors"]
    assert "fleetmon.agent.collectors.system" in seen["after"]  # the probe of the list itself works
    loaded = set(seen["after"])
    assert [m for m in CHECK_PARTS + LOG_PARTS + JETSON_PARTS if m in loaded] == []


def test_the_first_due_check_brings_its_probes_and_runs(tmp_path):
    # A port nothing listens on (bound and released): the real probe reports the check failed.
    config = dict(no_jetson(tmp_path), checks={"gone": {"type": "tcp", "host": "127.0.0.1", "port": free_port(),
                                                         "interval": "10s", "timeout": "1s"}})
    seen = agent_modules(tmp_path, config, wait_results=1)
    assert "fleetmon.agent.checks.probes" not in seen["before"]
    assert "fleetmon.agent.checks.probes" in seen["after"] and "concurrent.futures" in seen["after"]
    assert seen["results"] == [False]


def test_log_shipping_brings_its_modules(tmp_path):
    # The shipper looks journalctl up on PATH when it is built (it starts following only when the agent runs).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "journalctl").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "journalctl").chmod(0o755)
    seen = agent_modules(tmp_path, dict(no_jetson(tmp_path), logs={"enabled": True}),
                         PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    assert "fleetmon.agent.logs.shipper" in seen["after"]


def test_a_host_without_jtop_or_tegrastats_has_no_jetson_source(tmp_path):
    if os.path.exists(JTOP_SOCKET):
        pytest.skip(f"{JTOP_SOCKET} exists: this host may be a Jetson")
    missing = str(tmp_path / "tegrastats")
    assert no_source_here("auto", missing) == (f"no Jetson source: the jtop service is not running "
                                               f"({JTOP_SOCKET} is missing); {missing} is not an executable file")
    Path(missing).write_text("#!/bin/sh\n")
    assert no_source_here("auto", missing) is not None  # present but not executable: tegrastats cannot run
    Path(missing).chmod(0o755)
    assert no_source_here("auto", missing) is None
    # A source named in the config is the collector's to check (and to report when it is missing).
    assert no_source_here("tegrastats", str(tmp_path / "absent")) is None
