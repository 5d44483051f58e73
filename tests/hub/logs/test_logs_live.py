"""The live tail, ``GET /api/v1/logs/stream``, on a real uvicorn (tests/hub/standin.py's Served) over a real
store: a line written after the stream started arrives, with its id; a reconnect resumes after the last
line; filters hold; bad parameters are 400s; too many streams a 503; a closed stream is let go."""

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from fleetmon.hub.logs.api import log_routes
from fleetmon.hub.logs.live import LogStream
from fleetmon.hub.logs.store import LogStore
from tests.hub.logs.journal import body, entry, filled
from tests.hub.standin import Served
from tests.polling import wait_until


class Tail:
    """One stream, read event by event."""

    def __init__(self, port: int, query: str = "", headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", "/api/v1/logs/stream" + (f"?{query}" if query else ""), headers=headers or {})
        self.response = self.conn.getresponse()  # returns once the headers are in: the tail has its start

    def event(self) -> dict[str, Any]:
        """The next event (comments skipped): its name, id and data."""
        fields: dict[str, Any] = {}
        while True:
            line = self.response.readline().decode()
            assert line, "the stream ended"
            line = line.rstrip("\n")
            if not line:
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = json.loads(value) if name == "data" else value

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def served(tmp_path: Path):
    store = filled(tmp_path, {"web-01": [entry(1, "before the tail")]})
    stream = LogStream(store, lambda: {"web-01": ("web",), "jetson-01": ("edge",)}, period=0.05, heartbeat=0.2,
                       max_streams=2)
    server = Served(Starlette(routes=log_routes(store, lambda: {}, stream=stream)))
    yield server, store, stream
    server.stop()
    store.close()


def write(store: LogStore, host: str, *entries: dict[str, Any]) -> None:
    assert store.take(host, body(*entries))
    assert store.flush()


def test_a_line_written_after_the_tail_started_arrives(served) -> None:
    server, store, _ = served
    tail = Tail(server.port)
    assert tail.response.status == 200
    assert tail.response.getheader("content-type") == "text/event-stream; charset=utf-8"
    write(store, "web-01", entry(2, "after the tail started"))
    event = tail.event()
    assert event["event"] == "line", "the line before the tail started is not sent: this one comes first"
    assert event["data"]["message"] == "after the tail started" and event["data"]["host"] == "web-01"
    assert event["id"] == str(event["data"]["id"]) == str(store.latest_id())
    write(store, "web-01", entry(3, "and the next"), entry(4, "and one more"))
    assert [tail.event()["data"]["message"] for _ in range(2)] == ["and the next", "and one more"]
    tail.close()


def test_a_reconnect_resumes_after_the_last_line(served) -> None:
    server, store, _ = served
    first = store.latest_id()
    write(store, "web-01", entry(2, "missed while away"), entry(3, "also missed"))
    tail = Tail(server.port, headers={"Last-Event-ID": str(first)})
    assert [tail.event()["data"]["message"] for _ in range(2)] == ["missed while away", "also missed"]
    tail.close()
    tail = Tail(server.port, f"after={first + 1}")
    assert tail.event()["data"]["message"] == "also missed"
    tail.close()


def test_the_filters_hold(served) -> None:
    server, store, _ = served
    tail = Tail(server.port, "group=edge&priority=err&q=NVRM")
    write(store, "web-01", entry(2, "NVRM on the wrong host", priority=3))
    write(store, "jetson-01", entry(1, "NVRM: too mild", priority=6), entry(2, "NVRM: Xid 79", priority=3))
    assert tail.event()["data"]["message"] == "NVRM: Xid 79", "the first line that passes every filter"
    tail.close()


def test_a_quiet_stream_gets_comments(served) -> None:
    server, _, _ = served
    tail = Tail(server.port)
    assert tail.response.readline() == b": keepalive\n"
    tail.close()


@pytest.mark.parametrize(("query", "error"), [("priority=loud", "priority must be"), ("after=x", "after (or "),
                                              ("q=(a%20OR", "q: not a valid full-text query")])
def test_bad_parameters(served, query: str, error: str) -> None:
    server, _, _ = served
    tail = Tail(server.port, query)
    assert tail.response.status == 400
    assert json.loads(tail.response.read())["error"].startswith(error)
    tail.close()


def test_too_many_streams_and_a_closed_one_let_go(served) -> None:
    server, _, stream = served
    tails = [Tail(server.port), Tail(server.port)]
    wait_until(lambda: stream.streams == 2, message="two streams open")
    third = Tail(server.port)
    assert third.response.status == 503
    third.close()
    for tail in tails:
        tail.close()
    wait_until(lambda: stream.streams == 0, message="the closed streams let go")
    again = Tail(server.port)
    assert again.response.status == 200
    again.close()
