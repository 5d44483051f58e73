"""``fleetmon logs`` (fleetmon.hub.logs.cli) against the log routes on a real uvicorn (Served) over a real
store: lines as text and as JSON, the filters as flags, a refused query, an unreachable hub, and --follow
printing a line written after it started (in a process of its own, as a terminal runs it)."""

import json
import os
import subprocess
import sys
import threading
from argparse import Namespace
from pathlib import Path

import pytest
from starlette.applications import Starlette

from fleetmon.hub.api_commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from fleetmon.hub.logs.api import log_routes
from fleetmon.hub.logs.cli import logs
from fleetmon.hub.logs.live import LogStream
from fleetmon.protocol.messages import rfc3339
from tests.conftest import AGENT_SRC, free_port
from tests.hub.logs.journal import T0, body, entry, filled, kernel
from tests.hub.standin import Served
from tests.polling import wait_until


@pytest.fixture
def hub(tmp_path: Path):
    store = filled(tmp_path, {
        "jetson-01": [entry(1, "camera started", unit="camera.service", identifier="camera", pid=812),
                      kernel(2, "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.")],
        "web-01": [entry(3, "upstream timed out", priority=3, unit="nginx.service", identifier="nginx", pid=90)]})
    groups = {"jetson-01": ("edge",), "web-01": ("web",)}
    stream = LogStream(store, lambda: groups, period=0.05)
    served = Served(Starlette(routes=log_routes(store, lambda: groups, stream=stream)))
    yield served.url, store
    served.stop()
    store.close()


def args(hub: str, **flags: object) -> Namespace:
    values = {"hub": hub, "host": None, "group": None, "unit": None, "priority": None, "since": None, "grep": None,
              "limit": 100, "follow": False, "json": False, "token": None, "token_file": None, "ca_file": None,
              "timeout": 5.0}
    return Namespace(**{**values, **flags})


def test_lines_oldest_first_as_journalctl_prints_them(hub, capsys) -> None:
    url, _ = hub
    assert logs(args(url)) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        f"{rfc3339(T0 + 1)} jetson-01 camera[812]: camera started",
        f"{rfc3339(T0 + 2)} jetson-01 kernel: NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.",
        f"{rfc3339(T0 + 3)} web-01 nginx[90]: upstream timed out"]


@pytest.mark.parametrize(("flags", "expected"), [
    ({"host": ["web-01"]}, ["upstream timed out"]),
    ({"group": ["edge"], "grep": "camera OR NVRM"}, ["camera started", "NVRM: Xid (PCI:0000:01:00): 79, GPU has "
                                                                      "fallen off the bus."]),
    ({"unit": [""]}, ["NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."]),
    ({"priority": "err", "unit": ["nginx.service", ""]}, ["NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.",
                                                          "upstream timed out"]),
    ({"grep": "PCI:0000:01:00"}, ["NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."]),
    ({"since": "10y"}, ["camera started", "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.",
                        "upstream timed out"]),
    ({"limit": 1}, ["upstream timed out"]),
], ids=["host", "group and grep", "the kernel", "priority and units", "a pasted piece", "since", "limit"])
def test_filters_as_json_lines(hub, capsys, flags, expected) -> None:
    url, _ = hub
    assert logs(args(url, json=True, **flags)) == EXIT_OK
    lines = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert [line["message"] for line in lines] == expected
    assert all(sorted(line) == ["host", "id", "identifier", "message", "pid", "priority", "transport", "ts", "unit"]
               for line in lines)


def test_a_refused_query_says_why(hub, capsys) -> None:
    url, _ = hub
    assert logs(args(url, grep="(oom OR")) == EXIT_FAILED
    assert "400 q: not a valid full-text query" in capsys.readouterr().err


def test_a_bad_since_is_a_usage_error(hub, capsys) -> None:
    url, _ = hub
    assert logs(args(url, since="a while")) == EXIT_USAGE
    assert "--since must be a duration" in capsys.readouterr().err


def test_no_hub(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert logs(args(url)) == EXIT_FAILED
    assert f"cannot reach the hub at {url}" in capsys.readouterr().err


FOLLOW = """
import sys
from argparse import Namespace
from fleetmon.hub.logs.cli import logs
sys.exit(logs(Namespace(hub=sys.argv[1], host=None, group=None, unit=None, priority=None, since=None, grep="timed",
                        limit=100, follow=True, json=False, token=None, token_file=None, ca_file=None, timeout=5.0)))
"""


def test_follow_prints_a_line_written_after_it_started(hub) -> None:
    url, store = hub
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-c", FOLLOW, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, text=True)
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(process.stdout), daemon=True)
    reader.start()
    try:
        wait_until(lambda: printed, message="the newest matching line, before following")
        assert printed[0].endswith("web-01 nginx[90]: upstream timed out\n")
        assert store.take("web-01", body(entry(4, "a quiet line"), entry(5, "timed out again", priority=3)))
        assert store.flush()
        wait_until(lambda: len(printed) >= 2, message="the new matching line")
        assert printed[1].endswith("web-01 app[100]: timed out again\n"), printed
        assert process.poll() is None, "it follows until interrupted"
    finally:
        process.terminate()
        process.wait(timeout=10)
