"""Logs end to end: a real agent following real journal files (tests/agent/journal_files.py), a real
mosquitto, a real hub: `fleetmon logs --grep` finds a unit's error, a redacted token never reaches the hub,
and a log rule fires on a burst through the routing tree."""

import json
import subprocess
import sys

import pytest

from tests.agent.journal_files import JournalFiles, entry
from tests.conftest import AGENT_SRC
from tests.polling import wait_until

TOKEN = "logs-hub-test-token-0123456789"
SECRET = "tok_9f8e7d6c5b4a"


@pytest.fixture
def journal(tmp_path):
    return JournalFiles(tmp_path / "journal")


def fleetmon_logs(hub, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetmon", "logs", "--hub", f"http://127.0.0.1:{hub.port}",
                           "--token", TOKEN, *flags], capture_output=True, text=True, timeout=30,
                          env={"PYTHONPATH": str(AGENT_SRC), "PATH": "/usr/bin:/bin"})


def test_a_units_errors_reach_the_hub_redacted_searchable_and_a_burst_pages(start_hub, start_agent, journal,
                                                                           tmp_path):
    notifications = tmp_path / "notifications.jsonl"
    hub = start_hub({"api": {"token": TOKEN}, "alerting": {
        "route": {"receiver": "file", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s"},
        "receivers": [{"name": "file", "file_configs": [{"path": str(notifications)}]}]},
        "logs": {"rules": [{"name": "PaymentErrorBurst", "query": {"unit": "payments.service", "priority": "err",
                                                                   "text": "declined"},
                            "window": "1m", "threshold": 5, "per": "host", "severity": "critical"}]}})
    start_agent({"logs": {"enabled": True, "journal_directory": str(journal.directory), "batch_interval": 0.2,
                          "priority": "info"}})

    def following():  # the agent follows from when journalctl started: write a probe until one arrives
        journal.append([entry("probe", unit="payments.service", priority=6)])
        found = fleetmon_logs(hub, "--grep", "probe", "--json")
        return found.returncode == 0 and found.stdout.strip()
    wait_until(following, timeout=30, interval=0.5, message="the agent's lines at the hub")

    journal.append([entry(f"card declined for order {n}, api token={SECRET}", unit="payments.service", priority=3)
                    for n in range(6)] + [entry("all good", unit="web.service", priority=6)])
    found = wait_until(lambda: [json.loads(line) for line in fleetmon_logs(
        hub, "--grep", "declined", "--unit", "payments.service", "--priority", "err", "--json").stdout.splitlines()
        if line.strip()] or None, timeout=20, message="the errors found by fleetmon logs --grep")
    assert len(found) == 6 and all(line["host"] == "test-host" for line in found)
    assert all(SECRET not in line["message"] and "***" in line["message"] for line in found)
    table = fleetmon_logs(hub, "--grep", "declined", "--since", "1h")
    assert table.returncode == 0 and "card declined for order" in table.stdout and SECRET not in table.stdout
    everything = fleetmon_logs(hub, "--limit", "1000", "--json").stdout
    assert SECRET not in everything and "all good" in everything

    def paged():
        sent = [json.loads(line) for line in notifications.read_text().splitlines()] if notifications.exists() else []
        return [a for n in sent for a in n["alerts"] if a["labels"].get("alertname") == "PaymentErrorBurst"]
    [alert] = wait_until(paged, timeout=30, message="the log rule's alert notified")[:1]
    assert alert["labels"]["host"] == "test-host" and alert["labels"]["severity"] == "critical"
    assert "declined" in alert["annotations"]["lines"] and SECRET not in json.dumps(alert)


def test_long_lines_whose_json_outgrows_the_agents_estimate_all_reach_a_hub_at_its_default_limit(
        start_hub, start_agent, journal):
    # 3,000 Chinese characters are 9 KB of UTF-8 but count 3,000 in the agent's estimate of a batch: batches
    # closed by the estimate alone would be several times the hub's default max_message_bytes (256 KiB), and the
    # hub refuses such a message whole after the broker acknowledged it. The agent splits them to fit.
    hub = start_hub({"api": {"token": TOKEN}})
    start_agent({"logs": {"enabled": True, "journal_directory": str(journal.directory), "batch_interval": 0.5,
                          "priority": "info"}})

    def following():
        journal.append([entry("probe", unit="long.service", priority=6)])
        return fleetmon_logs(hub, "--grep", "probe", "--json").stdout.strip()
    wait_until(following, timeout=30, interval=0.5, message="the agent's lines at the hub")

    journal.append([entry(f"line {n} " + "温度过高" * 750, unit="long.service", priority=6) for n in range(200)])

    def stored():
        found = [json.loads(line)["message"] for line in fleetmon_logs(
            hub, "--unit", "long.service", "--limit", "1000", "--json").stdout.splitlines()]
        numbers = sorted(int(message.split()[1]) for message in found if message.startswith("line "))
        return numbers if len(numbers) >= 200 else None
    numbers = wait_until(stored, timeout=60, message="every long line at the hub")
    assert numbers == list(range(200))
