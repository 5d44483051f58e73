"""The live feed (/api/v1/live) on a real uvicorn server, read as a browser's EventSource reads it, while the
fleet changes through the real Intake; and the feed's own decisions (what a look sends, what a client that
falls behind gets) without a server."""

import asyncio
import http.client
import json
import socket
import threading
import time
from typing import Any, NamedTuple

import pytest

from fleetmon.hub.layout import resolve
from fleetmon.hub.web.app import build_app
from fleetmon.hub.web.live import KEEPALIVE, PANEL_LOOKS, RESYNC, Client, LiveFeed, alert_state
from tests.hub.console.feed import CPU, fed_hub
from tests.hub.standin import Served
from tests.polling import wait_until

HEARTBEAT = 0.3  # seconds: the hub's is 15 s, too slow to wait for here


class Stream:
    """One client of the stream: what it received, event by event, read on its own thread."""

    def __init__(self, port: int, query: str = "") -> None:
        self.events: list[tuple[str, Any]] = []
        self.comments = 0
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.connection.request("GET", "/api/v1/live" + query)
        self.response = self.connection.getresponse()  # the headers come once the feed has had its first look
        assert self.response.status == 200
        assert self.response.getheader("content-type").startswith("text/event-stream")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        name = None
        try:
            while line := self.response.readline():
                text = line.decode().rstrip("\n")
                if text.startswith(":"):
                    self.comments += 1
                elif text.startswith("event: "):
                    name = text[len("event: "):]
                elif text.startswith("data: ") and name is not None:
                    self.events.append((name, json.loads(text[len("data: "):])))
                    name = None
        except (OSError, ValueError):  # closed by the test
            pass

    def data(self, name: str) -> list[Any]:
        return [data for event, data in list(self.events) if event == name]

    def close(self) -> None:
        """Hang up, as a closed browser tab does: the server sees the connection end."""
        if self.connection.sock is not None:
            self.connection.sock.shutdown(socket.SHUT_RDWR)
        self._reader.join(timeout=5)
        self.connection.close()


@pytest.fixture
def live(tmp_path):
    hub, fed = fed_hub(tmp_path)
    fed.birth("srv-01", ["servers"])
    fed.birth("srv-02", ["servers"])
    parts = hub.parts
    feed = LiveFeed(parts.fleet_reader, lambda: parts.dispatcher.alert_views(time.time()),
                    layout=lambda: resolve(parts.config.dashboard, parts.fleet_reader.records()), period=0.1,
                    heartbeat=HEARTBEAT)
    server = Served(build_app(hub.web()._replace(live=feed)))
    streams: list[Stream] = []

    def connect(query: str = "") -> Stream:
        streams.append(Stream(server.port, query))
        return streams[-1]

    yield hub, fed, feed, connect
    for stream in streams:
        stream.close()
    server.stop()
    hub.close()


def test_a_host_that_changes_is_sent_to_every_client(live):
    _, fed, _, connect = live
    first, second = connect(), connect()
    fed.sample("srv-01", time.time(), {CPU: 0.42})
    for stream in (first, second):
        wait_until(lambda s=stream: any(h["host"] == "srv-01" and h["cpu"] == 0.42
                                        for data in s.data("hosts") for h in data["hosts"]),
                   timeout=10, interval=0.05, message="the changed summary")
    # Only what changed: srv-02 did not.
    assert all(h["host"] == "srv-01" for data in first.data("hosts") for h in data["hosts"])


def test_samples_go_to_the_clients_watching_their_host_only(live):
    _, fed, _, connect = live
    watching_one, watching_two = connect("?host=srv-01"), connect("?host=srv-02&host=elsewhere")
    ts = round(time.time(), 3)
    fed.sample("srv-01", ts, {CPU: 0.5, "fleetmon_filesystem_usage_ratio": [[{"mount": "/"}, 0.7]]})
    wait_until(lambda: any(d["ts"] == ts for d in watching_one.data("sample")), timeout=10, interval=0.05,
               message="srv-01's sample")
    [sample] = [d for d in watching_one.data("sample") if d["ts"] == ts]
    assert sample == {"host": "srv-01", "ts": ts,
                      "metrics": {CPU: 0.5, "fleetmon_filesystem_usage_ratio": [[{"mount": "/"}, 0.7]]}}
    fed.sample("srv-02", ts + 1, {CPU: 0.6})  # the event that must come after the one that must not
    wait_until(lambda: watching_two.data("sample"), timeout=10, interval=0.05, message="srv-02's sample")
    assert [d["host"] for d in watching_two.data("sample")] == ["srv-02"]


def test_an_alert_that_starts_firing_is_announced(live):
    hub, fed, _, connect = live
    stream = connect()
    fed.edge_alert("srv-01", "CpuHigh", time.time() - 5)
    hub.dispatcher.process(time.time())  # the dispatcher thread's round
    wait_until(lambda: stream.data("alerts"), timeout=10, interval=0.05, message="the alerts event")
    assert stream.data("alerts")[-1] == {"changed": True, "firing": 1}


def test_a_quiet_stream_carries_a_heartbeat_comment(live):
    _, _, _, connect = live
    stream = connect()
    wait_until(lambda: stream.comments >= 2, timeout=10, interval=0.05, message="two heartbeats")
    assert stream.events == []  # nothing changed: comments only


def test_a_client_that_disconnects_is_dropped_and_the_last_one_stops_the_feed(live):
    _, _, feed, connect = live
    first, second = connect(), connect()
    wait_until(lambda: feed.clients == 2 and feed.running, timeout=10, interval=0.02, message="two clients")
    first.close()
    wait_until(lambda: feed.clients == 1, timeout=10, interval=0.02, message="the first client dropped")
    assert feed.running
    second.close()
    wait_until(lambda: feed.clients == 0 and not feed.running, timeout=10, interval=0.02,
               message="the feed stopped with its last client")
    third = connect()  # and starts again with the next
    wait_until(lambda: feed.clients == 1 and feed.running, timeout=10, interval=0.02, message="the feed again")
    third.close()


def test_the_panel_values_go_to_the_clients_that_ask_for_them(live):
    _, fed, _, connect = live
    overview, host_page = connect("?panels=1"), connect("?host=srv-01")
    fed.sample("srv-01", time.time(), {CPU: 0.42})
    wait_until(lambda: any(data["hosts"].get("srv-01", {}).get("values", {}).get("cpu") == 0.42
                           for data in overview.data("panels")), timeout=10, interval=0.05,
               message="srv-01's CPU panel value")
    # after the first event (every row), only what changed: srv-02 sent nothing new
    assert all(set(data["hosts"]) == {"srv-01"} for data in overview.data("panels")[1:])
    wait_until(lambda: host_page.data("sample"), timeout=10, interval=0.05, message="srv-01's sample")
    assert host_page.data("panels") == [] and host_page.data("layout") == []


# --- the feed's decisions, without a server ------------------------------------------------------------


def test_panels_are_sent_every_few_looks_and_a_new_host_or_trend_minute_asks_for_the_layout(tmp_path):
    hub, fed = fed_hub(tmp_path)
    minute = [None]
    try:
        fed.birth("srv-01", ["servers"])
        parts = hub.parts
        feed = LiveFeed(parts.fleet_reader, lambda: parts.dispatcher.alert_views(time.time()),
                        layout=lambda: resolve(parts.config.dashboard, parts.fleet_reader.records()),
                        trend_minute=lambda: minute[0])

        def looks(seen, count):
            sent = []
            for _ in range(count):
                out, seen = feed.look(seen, frozenset(), panels=True)
                sent += [item.chunk.split(b"\n")[0].decode() for item in out if b"event: hosts" not in item.chunk]
            return sent, seen

        _, seen = feed.look(None, frozenset())
        sent, seen = looks(seen, 1)
        assert sent == ["event: panels"]  # the first since a client asked: every row
        fed.sample("srv-01", time.time(), {CPU: 0.3})
        sent, seen = looks(seen, PANEL_LOOKS)
        assert sent == ["event: panels"]  # once in PANEL_LOOKS looks, however many samples came
        sent, seen = looks(seen, PANEL_LOOKS)
        assert sent == []  # nothing changed
        fed.birth("srv-02", ["servers"])  # a new row in the servers section
        sent, seen = looks(seen, PANEL_LOOKS)
        assert sent == ["event: layout"]
        minute[0] = 60.0  # the trends took a new point: the sparklines want the layout read again
        sent, seen = looks(seen, PANEL_LOOKS)
        assert sent == ["event: layout"]
        _, seen = feed.look(seen, frozenset(), panels=False)
        assert seen.panels is None  # nobody asks any more: nothing is computed
    finally:
        hub.close()



def test_a_look_takes_note_first_then_sends_changes_and_a_host_gone_is_a_resync(tmp_path):
    hub, fed = fed_hub(tmp_path)
    try:
        fed.birth("srv-01", ["servers"])
        fed.birth("srv-02", ["servers"])
        feed = LiveFeed(hub.parts.fleet_reader, lambda: hub.parts.dispatcher.alert_views(time.time()))
        nothing, seen = feed.look(None, frozenset())
        assert nothing == []
        unchanged, seen = feed.look(seen, frozenset())
        assert unchanged == []
        fed.sample("srv-02", time.time(), {CPU: 0.3})
        changed, seen = feed.look(seen, frozenset({"srv-02"}))
        assert [item.chunk.split(b"\n")[0] for item in changed] == [b"event: hosts", b"event: sample"]
        assert changed[1].host == "srv-02"
        again, seen = feed.look(seen, frozenset({"srv-02"}))
        assert again == []  # the same sample is not sent twice
        with hub.parts.lock:
            del hub.parts.fleet.hosts["srv-01"]
        gone, _ = feed.look(seen, frozenset({"srv-02"}))
        assert [item.chunk for item in gone] == [RESYNC]
    finally:
        hub.close()


class Overflow(NamedTuple):
    id: str
    size: int
    offered: int
    want: list[bytes]


def chunk(i: int) -> bytes:
    return f"event: hosts\ndata: {i}\n\n".encode()


OVERFLOWS = [
    # Room for everything: all queued, in order.
    Overflow("room for all", 3, 3, [chunk(0), chunk(1), chunk(2)]),
    # The fourth finds the queue full: what waited is dropped for a resync, and the fourth follows it.
    Overflow("one too many", 3, 4, [RESYNC, chunk(3)]),
    # Falling behind again (the queue full once more at the sixth): a second resync, and what came after it.
    Overflow("behind twice", 3, 7, [RESYNC, chunk(5), chunk(6)]),
]


@pytest.mark.parametrize("case", OVERFLOWS, ids=lambda c: c.id)
def test_a_client_that_falls_behind_gets_a_resync_instead_of_what_it_missed(case):
    async def offer() -> list[bytes]:
        client = Client(frozenset(), case.size)
        for i in range(case.offered):
            client.offer(chunk(i))
        return [client.queue.get_nowait() for _ in range(client.queue.qsize())]

    assert asyncio.run(offer()) == case.want
    assert KEEPALIVE.startswith(b":")  # a comment line: EventSource ignores it


class AlertChange(NamedTuple):
    id: str
    change: dict[str, Any]
    noticed: bool


BASE = {"fingerprint": "f1", "status": "firing", "startsAt": "2026-01-01T00:00:00Z", "muted": "",
        "acknowledged": None, "annotations": {"summary": "cpu at 91%"}, "updatedAt": "2026-01-01T00:00:00Z"}
ALERT_CHANGES = [
    # What the alerts page shows changed: it must fetch again.
    AlertChange("resolved", {"status": "resolved"}, True),
    AlertChange("silenced", {"muted": "silenced by s1"}, True),
    AlertChange("acknowledged", {"acknowledged": {"by": "ops", "at": 1.0, "comment": "", "expiresAt": None}}, True),
    AlertChange("a new episode", {"startsAt": "2026-01-01T01:00:00Z"}, True),
    # A rule's refreshed annotations or a re-announced edge alert are not worth a refetch every second.
    AlertChange("annotations", {"annotations": {"summary": "cpu at 92%"}}, False),
    AlertChange("re-announced", {"updatedAt": "2026-01-01T00:05:00Z"}, False),
]


@pytest.mark.parametrize("case", ALERT_CHANGES, ids=lambda c: c.id)
def test_which_alert_changes_the_feed_announces(case):
    assert (alert_state([BASE]) != alert_state([{**BASE, **case.change}])) == case.noticed
