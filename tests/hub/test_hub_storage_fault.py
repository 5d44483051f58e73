"""A full disk under the hub's history (issue 10): loud (HubStorageFailing, /health/ready says why, drops
counted), survivable (liveness and alerting go on) and self-healing (writing resumes when space returns)."""

import os
import subprocess

import pytest

from tests.hub.alerting.conftest import HttpSink
from tests.hub.test_hub_blind import notified
from tests.polling import wait_until


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a filesystem needs root")
    target = tmp_path / "small"
    target.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(target)], check=True)
    yield target  # requested before the hub, so torn down after it has closed its files
    subprocess.run(["umount", str(target)], check=True)


def test_a_full_disk_is_reported_once_and_history_resumes_by_itself(small_disk, start_hub, start_agent):
    """Both databases on the small disk, as on a real hub (alerting.db lives beside history.db): the
    notification about the full disk must still go out."""
    sink = HttpSink()
    try:
        hub = start_hub({
            "db": str(small_disk / "history.db"),
            "rules": {"hub_storage_failing": {"for": "1s"}},
            "alerting": {"route": {"receiver": "sink", "group_by": ["alertname"], "group_wait": "0.5s",
                                   "group_interval": "1s", "repeat_interval": "1h"},
                         "receivers": [{"name": "sink",
                                        "webhook_configs": [{"url": sink.url(), "send_resolved": True}]}]},
        })
        start_agent({"interval": 0.5})
        wait_until(lambda: (h := hub.host("test-host")) and h["state"] == "online", timeout=20, message="online")
        written = lambda: float(next(line.split()[1] for line in hub.get("/metrics").splitlines()  # noqa: E731
                                     if line.startswith("fleetmon_hub_db_samples_written_total ")))
        wait_until(lambda: written() > 0, timeout=20, message="history being written")

        ballast = small_disk / "ballast"
        subprocess.run(["dd", "if=/dev/zero", f"of={ballast}", "bs=64k"], stderr=subprocess.DEVNULL, check=False)
        failing = wait_until(lambda: [a for a in notified(sink) if a["labels"]["alertname"] == "HubStorageFailing"],
                             timeout=60, message="HubStorageFailing at the sink")
        assert failing[0]["status"] == "firing" and "full" in failing[0]["annotations"]["summary"]
        assert hub.get("/health/ready", ok_only=False) == 503, "not ready: history is not being written"
        assert hub.get("/health/live") is not None, "a full disk is not a dead hub"
        assert hub.host("test-host")["state"] == "online", "liveness goes on"

        ballast.unlink()
        before = written()
        wait_until(lambda: written() > before, timeout=30, message="writing resumed by itself")
        wait_until(lambda: notified(sink)[-1]["labels"]["alertname"] == "HubStorageFailing"
                   and notified(sink)[-1]["status"] == "resolved", timeout=30, message="HubStorageFailing resolved")
        firing = [a for a in notified(sink)
                  if a["labels"]["alertname"] == "HubStorageFailing" and a["status"] == "firing"]
        assert len({a["startsAt"] for a in firing}) == 1, "one episode, reported once"
        assert not [a for a in notified(sink) if a["labels"]["alertname"] in ("HostDown", "HubBlind")]
    finally:
        sink.close()
