"""The `fleetmon` command as a user runs it: real processes, real files, no broker needed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetmon import __version__
from fleetmon.agent.exposition import parse
from fleetmon.protocol import catalog
from tests.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
REPLAY = ROOT / "tests" / "data" / "tegrastats" / "orin-nano-jp6.log"


def fleetmon(*args, check=True):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "agent"))
    result = subprocess.run([sys.executable, "-m", "fleetmon", *args], capture_output=True, text=True,
                            env=env, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


def test_version_and_help_on_every_level():
    assert fleetmon("--version").stdout.strip() == "fleetmon " + __version__
    for args in ([], ["agent"], ["agent", "run"], ["agent", "collect"], ["agent", "check-config"]):
        result = fleetmon(*args, "--help")
        assert result.stdout.startswith("usage: fleetmon"), args


def test_collect_once_prints_a_json_sample_with_jetson_metrics_from_a_replay():
    sample = json.loads(fleetmon("agent", "collect", "--once", "--tegrastats-replay", str(REPLAY)).stdout)
    metrics = sample["metrics"]
    assert metrics["fleetmon_memory_total_bytes"] > 0
    assert metrics["fleetmon_jetson_ram_total_bytes"] > 0
    rails = {labels["rail"] for labels, _ in metrics["fleetmon_jetson_power_watts"]}
    assert {"VDD_CPU_GPU_CV", "VDD_SOC"} <= rails
    assert sample["errors"] == {}


def test_collect_once_in_prometheus_format_uses_exactly_the_catalogue_names():
    text = fleetmon("agent", "collect", "--once", "--format", "prometheus",
                    "--tegrastats-replay", str(REPLAY)).stdout
    series = parse(text)
    names = {s.name for s in series}
    assert names <= set(catalog.BY_NAME), names - set(catalog.BY_NAME)
    assert "fleetmon_jetson_gpu_frequency_hertz" in names and "fleetmon_cpu_usage_ratio" in names
    for spec_name in names:
        assert f"# TYPE {spec_name} {catalog.BY_NAME[spec_name].type}" in text
    for s in series:
        assert set(s.labels) == set(catalog.BY_NAME[s.name].labels), s


def test_check_config_lists_every_error_with_its_key_path(tmp_path):
    bad = tmp_path / "agent.yml"
    bad.write_text("interval: soon\nthresholds:\n  cpu: {warning: high}\nbroker: {url: 'ftp://x'}\n"
                   "collectors: {system: {bogus: 1}}\n")
    result = fleetmon("agent", "check-config", str(bad), check=False)
    assert result.returncode == 1
    for expected in ("interval: must be a duration", "thresholds.cpu.warning: must be a number",
                     "broker.url: must look like mqtt://", "collectors.system.bogus: unknown key"):
        assert expected in result.stderr


def test_check_config_accepts_a_good_file(tmp_path):
    good = tmp_path / "agent.yml"
    good.write_text("host_id: jetson-01\ninterval: 5s\nthresholds:\n  cpu: {warning: 85%, critical: 95%}\n"
                    "checks:\n  ssh: {type: tcp, port: 22}\n")
    result = fleetmon("agent", "check-config", str(good))
    assert "ok" in result.stdout and "1 thresholds, 1 checks" in result.stdout


@pytest.mark.parametrize("content", ["interval: [1", "- just\n- a list\n"])
def test_check_config_on_unparseable_or_misshapen_yaml(tmp_path, content):
    bad = tmp_path / "agent.yml"
    bad.write_text(content)
    result = fleetmon("agent", "check-config", str(bad), check=False)
    assert result.returncode == 1 and "agent.yml" in result.stderr


def test_run_without_a_reachable_broker_keeps_trying_and_stops_on_sigterm(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "agent"))
    state, log = tmp_path / "state", tmp_path / "agent.log"
    process = subprocess.Popen([sys.executable, "-m", "fleetmon", "agent", "run", "--broker", "mqtt://127.0.0.1:9",
                                "--interval", "0.2", "--state-dir", str(state)], env=env,
                               stdout=open(log, "w"), stderr=subprocess.STDOUT)

    def refused_and_spooling() -> bool:
        assert process.poll() is None, "a missing broker is not fatal"
        spool = state / "spool"
        return ("cannot connect to mqtt://127.0.0.1:9" in log.read_text()
                and spool.is_dir() and len(list(spool.iterdir())) >= 5)

    try:
        wait_until(refused_and_spooling, timeout=20,
                   message="a refused connection logged and five samples spooled meanwhile")
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0


def test_the_metric_catalogue_document_is_current():
    assert (ROOT / "docs" / "metrics.md").read_text() == catalog.markdown()
