"""Sites and a center on real parts: a site broker bridged (a real mosquitto bridge) to a central broker.

The site runs its broker, its hub and a real agent; the center runs its broker and a hub in federation mode
routing every alert to a real webhook sink. The link between the site's bridge and the central broker runs
through a TCP relay the test can cut, as a WAN link drops: the bridge's connection breaks, the central
broker publishes the bridge's Last Will. What must hold: the site's hosts are visible at the center with
their site; a HostDown at the site reaches the center's receiver with its site; a cut link pages one
SiteUnreachable and nothing about the site's hosts, while the site goes on judging them; on reconnect the
center catches up with what happened meanwhile.
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading

import pytest

from tests.conftest import AGENT_SRC, AgentProcess, Broker, free_port
from tests.hub.alerting.conftest import HttpSink
from tests.hub.conftest import HubProcess
from tests.polling import wait_until

PREFIX = "fleetmon/v1"


class Relay:
    """A TCP relay to ``target`` that can be cut (every connection closed, new ones refused) and restored."""

    def __init__(self, target: int) -> None:
        self.port, self._target = free_port(), target
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for sock in [*([listener] if listener else []), *sockets]:  # shutdown wakes accept() and recv()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                near, _ = listener.accept()
            except OSError:
                return
            far = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                if self._listener is not listener:
                    near.close()
                    far.close()
                    return
                self._sockets += [near, far]
            for source, sink in ((near, far), (far, near)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


def bridge_config(site: str, port: int) -> str:
    """What the broker role writes for a site broker (roles/fleetmon_broker, fleetmon-bridge.conf), in clear."""
    return (f"\nconnection fleetmon-center\naddress 127.0.0.1:{port}\nremote_clientid fleetmon-bridge-{site}\n"
            "bridge_protocol_version mqttv50\ncleansession false\nlocal_cleansession false\nkeepalive_interval 5\n"
            f"restart_timeout 1\nnotifications true\nnotification_topic {PREFIX}/sites/{site}/bridge\n"
            f"topic fleet/# out 1 {PREFIX}/ {PREFIX}/sites/{site}/\n"
            f"topic hub/status out 1 {PREFIX}/ {PREFIX}/sites/{site}/\n")


@pytest.fixture
def federation(tmp_path):
    sink = HttpSink()
    parts: list = []
    for name in ("center", "site", "site-hub", "center-hub"):
        (tmp_path / name).mkdir()
    center = Broker(tmp_path / "center")
    center.start()
    relay = Relay(center.port)
    site = Broker(tmp_path / "site", "allow_anonymous true\n" + bridge_config("east", relay.port))
    site.start()
    fast = {"rules_interval": 0.5, "liveness": {"silent_after": 3, "settle": 2},
            "republish": {"interval": 1}}
    site_hub = HubProcess(tmp_path / "site-hub", site, {**fast, "expected_hosts": {"east-1": []}}).start()
    center_hub = HubProcess(tmp_path / "center-hub", center, {
        **fast, "federation": {"sites": ["east"], "stale_after": "20s"},
        "alerting": {"route": {"receiver": "sink", "group_by": ["alertname", "site", "host"], "group_wait": "0s",
                               "group_interval": "1s", "repeat_interval": "1h"},
                     "receivers": [{"name": "sink", "webhook_configs": [{"url": sink.url(), "send_resolved": True}]}]},
    }).start()
    agent = AgentProcess(tmp_path, site, {"host_id": "east-1", "interval": 1}).start()
    parts += [agent, site_hub, center_hub]
    try:
        yield center_hub, site_hub, agent, relay, sink
    finally:
        for part in parts:
            part.stop()
        for process in (site_hub, center_hub):
            print(f"--- {process.dir} ---\n{process.log}")
        site.stop()
        relay.cut()
        center.stop()
        sink.close()


def notified(sink) -> list[tuple[str, str, str, str]]:
    """(alertname, site, host, status) of every alert in every notification so far, in order."""
    return [(a["labels"]["alertname"], a["labels"].get("site", ""), a["labels"].get("host", ""), a["status"])
            for received in list(sink.requests) for a in received.json()["alerts"]]


def status(hub) -> str:
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "fleetmon", "status", "--hub", f"http://127.0.0.1:{hub.port}"],
                          capture_output=True, text=True, env=env, timeout=30).stdout


def site_state(hub, site: str) -> dict:
    return next((s for s in (hub.get("/api/v1/sites") or {}).get("sites", []) if s["site"] == site), {})


def test_a_site_seen_paged_cut_off_and_caught_up_at_the_center(federation):
    center, site_hub, agent, relay, sink = federation
    # every host of the site is visible at the center with its site, state and health
    # online comes with the agent's birth, before its first sample: wait for a view that carries one
    wait_until(lambda: (center.host("east-1") or {}).get("state") == "online"
               and center.host("east-1").get("memory") is not None, timeout=30,
               message="east-1 online at the center, with a sample")
    host, at_site = center.host("east-1"), site_hub.host("east-1")
    assert (host["site"], host["site_state"]) == ("east", "reachable")
    assert {k: host[k] for k in ("groups", "expected", "session", "agent_version")} == {
        k: at_site[k] for k in ("groups", "expected", "session", "agent_version")}
    east = site_state(center, "east")
    assert (east["state"], east["link"], east["hub"], east["hosts"]) == ("reachable", "up", "online", 1)
    [section] = [s for s in center.get("/api/v1/dashboard")["sections"] if s.get("site") == "east"]
    assert (section["title"], [h["host"] for h in section["hosts"]]) == ("site east", ["east-1"])
    assert 0 < section["hosts"][0]["values"]["memory"] < 1  # the value the site hub published
    assert site_state(site_hub, "east") == {}  # a site hub is no center
    assert site_hub.get("/api/v1/sites", ok_only=False) == 404

    # a HostDown at the site reaches the center's receiver, with its site
    agent.stop(kill=True)
    wait_until(lambda: ("HostDown", "east", "east-1", "firing") in notified(sink), timeout=30,
               message="HostDown from site east at the center's receiver")
    [down] = [a for a in (center.get("/api/v1/sites") or {})["alerts"] if a["labels"]["alertname"] == "HostDown"]
    assert down["labels"]["site"] == "east"

    # the WAN link drops: one SiteUnreachable, nothing about the site's hosts
    before = len(notified(sink))
    relay.cut()
    wait_until(lambda: ("SiteUnreachable", "east", "", "firing") in notified(sink), timeout=30,
               message="SiteUnreachable at the center's receiver")
    assert site_state(center, "east")["link"] == "down"
    assert center.host("east-1")["site_state"] == "unreachable"
    [section] = [s for s in center.get("/api/v1/dashboard")["sections"] if s.get("site") == "east"]
    assert section["title"] == "site east: unreachable, as last known"
    table = status(center)
    assert "east (unreachable)" in table and "site east: the bridge from site east to the central broker is down" \
        in " ".join(table.split()), table
    # meanwhile the site goes on on its own: its agent comes back and its hub sees it
    agent.start()
    wait_until(lambda: (site_hub.host("east-1") or {}).get("state") == "online", timeout=30,
               message="east-1 online again at its site")
    center.wait_for_rule_evaluations(6)
    during = notified(sink)[before:]
    assert during == [("SiteUnreachable", "east", "", "firing")], during
    assert center.host("east-1")["state"] == "offline"  # as last known: the center cannot see the site

    # the link comes back: the center catches up (the host is back, its HostDown resolved) and the site is reachable
    relay.restore()
    wait_until(lambda: ("SiteUnreachable", "east", "", "resolved") in notified(sink), timeout=30,
               message="SiteUnreachable resolved")
    wait_until(lambda: ("HostDown", "east", "east-1", "resolved") in notified(sink), timeout=30,
               message="HostDown resolved at the center after reconnect")
    wait_until(lambda: (center.host("east-1") or {}).get("state") == "online", timeout=30,
               message="east-1 online at the center again")
    assert site_state(center, "east")["state"] == "reachable"
    table = status(center)
    assert "east-1" in table and "unreachable" not in table, table
    assert [n for n in notified(sink) if n[0] not in ("HostDown", "SiteUnreachable")] == []
