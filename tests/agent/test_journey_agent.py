"""A journey run by the real agent process: what it publishes over MQTT, and ``fleetmon agent test-check``.

The shop (tests/agent/test_journey.py) is the web application; the broker and the agent are real
(tests/conftest.py). A secret must appear in no message the agent publishes and in nothing test-check prints.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.agent.journey_shop import PASSWORD, ShopApp, shop_journey

ROOT = Path(__file__).resolve().parents[2]
WRONG_PASSWORD = "not-the-password-7f3a"


@pytest.fixture
def shop():
    app = ShopApp().start()
    yield app
    app.stop()


@pytest.fixture
def secret_files(tmp_path):
    good, wrong = tmp_path / "journey.pass", tmp_path / "wrong.pass"
    good.write_text(PASSWORD + "\n")
    wrong.write_text(WRONG_PASSWORD + "\n")
    return good, wrong


def forms_of(secret):
    """The secret as it may travel: raw, in a form or URL, in JSON."""
    from urllib.parse import quote, quote_plus

    return {secret, quote(secret, safe=""), quote_plus(secret), secret.replace('"', '\\"')}


def test_the_agent_publishes_journey_results_and_never_a_secret(start_agent, recorder, schemas, shop, secret_files):
    good, wrong = secret_files
    start_agent({"checks": {"shop": shop_journey(shop.url, good), "echo": shop_journey(shop.url, wrong)},
                 "thresholds": {"shop_login": {"metric": "fleetmon_journey_step_up", "direction": "below",
                                               "match": {"check": "echo", "step": "token"}, "critical": 1}}})

    def results(name):
        return [r for p in recorder.payloads("checks") for r in p["results"] if r["name"] == name]

    recorder.wait("checks", where=lambda p: any(r["name"] == "shop" for r in p["results"]), timeout=30)
    recorder.wait("checks", where=lambda p: any(r["name"] == "echo" for r in p["results"]), timeout=30)
    passed, echoed = results("shop")[0], results("echo")[0]
    assert passed["ok"] and [s["status"] for s in passed["steps"]] == ["ok", "ok", "ok", "ok"], passed
    assert not echoed["ok"] and echoed["message"].startswith("step 2 (token) failed: POST ")
    assert echoed["message"].endswith(": wrong password *** for alice")  # the shop echoed it; the agent hid it
    for payload in recorder.payloads("checks"):
        jsonschema.Draft202012Validator(schemas["checks"]).validate(payload)

    # The step metrics reach the agent's thresholds like any check's: an edge alert on the failing step.
    fired = recorder.wait("alerts", where=lambda p: any(a["labels"].get("step") == "token" for a in p["alerts"]),
                          timeout=20)[0]["alerts"][0]
    assert (fired["status"], fired["labels"]["check"], fired["labels"]["severity"]) == ("firing", "echo", "critical")

    recorder.wait("metrics")  # a sample as well: every kind of message the agent sends is searched
    recorder.sync()
    assert {m.topic.rsplit("/", 1)[1] for m in recorder.messages} >= {"status", "metrics", "checks", "alerts"}
    for message in recorder.messages:
        for secret in (PASSWORD, WRONG_PASSWORD):
            for form in forms_of(secret):
                assert form.encode() not in message.payload, (message.topic, form)


# --- fleetmon agent test-check -------------------------------------------------------------------


def run_test_check(config, name, tmp_path):
    path = tmp_path / "agent.yml"
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "agent"))
    return subprocess.run([sys.executable, "-m", "fleetmon", "agent", "test-check", name, "--config", str(path)],
                          capture_output=True, text=True, env=env, timeout=60)


def test_test_check_prints_each_step_with_its_timings_and_exits_0_on_a_pass(shop, secret_files, tmp_path):
    done = run_test_check({"checks": {"shop": shop_journey(shop.url, secret_files[0])}}, "shop", tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("journey shop: ok in ") and " - 4 steps passed in " in lines[0]
    steps = [line.split()[:3] for line in lines[1:] if line.startswith("   ") and not line.startswith("      ")]
    assert steps == [["1", "form", "ok"], ["2", "token", "ok"], ["3", "orders", "ok"], ["4", "logout", "ok"]]
    timing_lines = [line.strip() for line in lines if "first byte" in line]
    assert len(timing_lines) == 4 and all(line.startswith("dns ") and ", connect " in line and ", total " in line
                                          for line in timing_lines)
    assert "extracted request_id, token" in done.stdout  # in the order of the file (safe_dump sorts keys)
    assert ": 204 in " in lines[-2] and lines[-2].endswith(" (always)")  # the logout step
    assert shop.logouts == [""]


def test_test_check_exits_1_on_a_failing_journey_and_hides_the_secret(shop, secret_files, tmp_path):
    done = run_test_check({"checks": {"shop": shop_journey(shop.url, secret_files[1])}}, "shop", tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("journey shop: FAIL in ")
    assert "step 2 (token) failed: POST" in done.stdout and "wrong password *** for alice" in done.stdout
    assert "skipped" in done.stdout
    assert not any(form in done.stdout + done.stderr for form in forms_of(WRONG_PASSWORD))


def test_test_check_runs_any_other_check_type_in_one_line(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        done = run_test_check({"checks": {"mqtt": {"type": "tcp", "port": port}}}, "mqtt", tmp_path)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith("tcp mqtt: ok in ") and f"connected to 127.0.0.1:{port} in " in line
    refused = run_test_check({"checks": {"mqtt": {"type": "tcp", "port": port}}}, "mqtt", tmp_path)
    assert refused.returncode == 1
    assert refused.stdout.strip().endswith(f"connect to 127.0.0.1:{port} failed: Connection refused")


def test_test_check_exits_2_on_a_config_error_or_an_unknown_check(tmp_path):
    broken = run_test_check({"checks": {"shop": {"type": "journey", "steps": [{"name": "a"}]}}}, "shop", tmp_path)
    assert broken.returncode == 2 and broken.stdout == ""
    assert "checks.shop.steps[0].url: is required" in broken.stderr
    unknown = run_test_check({"checks": {"web": {"type": "tcp", "port": 80}}}, "shop", tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().endswith("has no check 'shop' (its checks: web)")
