"""End-to-end delivery of samples: a real agent, a real mosquitto (persistence off), the real hub, a fault in
between; every sample the agent took must end up in the hub's history once (docs/protocol.md, "Delivery").

The fast variants take a fault of a few seconds; the chaos suite (``-m chaos``) the 30 s ones of issue 10,
and a network cut long enough for the agent's keepalive to end the silent connection.
"""

import signal
import socket
import sqlite3
import threading
import time

import jsonschema
import pytest

from tests.conftest import Recorder, free_port, publish_retained
from tests.hub.conftest import HubProcess
from tests.polling import wait_until

HOST = "test-host"


@pytest.fixture
def hub(tmp_path, broker):
    # The hub reconnects after the agent (1.5-3 s against 0.1-1 s): the agent's first live samples after a
    # broker restart reach a broker where no hub is subscribed, and must be asked for again.
    instance = HubProcess(tmp_path, broker, {"broker": {"url": broker.url,
                                                        "reconnect": {"min_delay": 3, "max_delay": 3}}})
    yield instance.start()
    instance.stop()
    print(f"--- hub log ---\n{instance.log}")


def stored(hub):
    """(session, seq) of every raw sample of the host in the hub's history, in order, duplicates kept."""
    conn = sqlite3.connect(f"file:{hub.dir / 'history.db'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT r.session, r.seq FROM raw r JOIN hosts h ON h.id = r.host_id "
                            "WHERE h.name = ? ORDER BY r.session, r.seq", (HOST,)).fetchall()
    finally:
        conn.close()


def complete_upto(hub, session, last):
    """The history holds seqs 1..last of ``session`` with no hole (None until it does)."""
    seqs = [seq for s, seq in stored(hub) if s == session]
    return seqs if seqs[:last] == list(range(1, last + 1)) else None


def assert_every_sample_stored_once(hub, broker, fault_ended):
    """After the fault: a live sample taken after it marks 'taken' (every seq below it was taken before);
    then the history must hold the whole session up to it, each seq once."""
    healed_at = time.time()
    late = Recorder(broker, f"fleetmon/v1/hosts/{HOST}/metrics")
    try:  # not simply the first one seen: the MQTT client re-sends what was in flight when the fault struck
        live = late.wait("metrics", timeout=30, where=lambda p: p["ts"] >= healed_at)[0]
    finally:
        late.close()
    session, taken = live["session"], live["seq"]
    seqs = wait_until(lambda: complete_upto(hub, session, taken), timeout=90, interval=0.5,
                      message=f"seqs 1..{taken} of session {session} in the history")
    repaired = time.monotonic() - fault_ended
    assert len(seqs) == len(set(seqs)), "each sample once"
    duplicates = hub.metric("fleetmon_hub_db_samples_duplicate_total")
    lost = hub.metric("fleetmon_hub_samples_lost_total")
    print(f"MEASURED taken={taken} stored={len(seqs[:taken])} duplicates_ignored={duplicates} lost={lost} "
          f"repaired_after={repaired:.1f}s")
    assert lost == 0
    return live


def broker_killed(start_agent, hub, broker, outage):
    start_agent()
    wait_until(lambda: len(stored(hub)) >= 3, timeout=30, message="the first samples in the history")
    broker.kill()
    time.sleep(outage)  # protocol pause: the outage the scenario is about; the agent keeps sampling into its spool
    broker.start()
    assert_every_sample_stored_once(hub, broker, time.monotonic())


def hub_killed(start_agent, hub, broker, outage, schemas):
    start_agent()
    wait_until(lambda: len(stored(hub)) >= 3, timeout=30, message="the first samples in the history")
    hub.process.send_signal(signal.SIGKILL)
    hub.process.wait(timeout=10)
    time.sleep(outage)  # protocol pause: the hub's death the scenario is about; the broker queues for its session
    hub.start()
    live = assert_every_sample_stored_once(hub, broker, time.monotonic())
    acks = Recorder(broker, f"fleetmon/v1/hub/acks/{HOST}")
    try:  # what the agent reads: the restarted hub's retained ack, about the agent's running session
        ack = acks.wait(HOST, where=lambda p: p["session"] == live["session"] and p["upto"] > 0)[-1]
    finally:
        acks.close()
    jsonschema.validate(ack, schemas["ack"])


class Cable:
    """A TCP relay between the agent and the broker that can be cut like a network: while cut, bytes are
    read and thrown away in both directions (nothing is refused or reset, the peers only fall silent), so
    the agent keeps publishing into a dead connection until its keepalive gives up."""

    def __init__(self, broker) -> None:
        self.port = free_port()
        self.broker = broker
        self.cut = threading.Event()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._links: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.broker.port))
            self._links.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source, sink) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    break
                if not self.cut.is_set():
                    sink.sendall(data)
            except OSError:
                break
        for end in (source, sink):
            end.close()

    def heal(self) -> None:
        """Connections that fell silent stay dead (as after a real cut); new ones work again."""
        for link in self._links:
            for end in link:
                end.close()
        self._links.clear()
        self.cut.clear()

    def close(self) -> None:
        self._server.close()
        self.heal()


def test_a_broker_killed_without_persistence_loses_no_sample(start_agent, hub, broker):
    broker_killed(start_agent, hub, broker, outage=8)


def test_a_hub_killed_mid_ingest_loses_no_sample(start_agent, hub, broker, schemas):
    hub_killed(start_agent, hub, broker, 8, schemas)


def network_cut(start_agent, hub, broker, outage):
    cable = Cable(broker)
    try:
        start_agent({"broker": {"url": cable.url, "keepalive": 5}})
        wait_until(lambda: len(stored(hub)) >= 3, timeout=30, message="the first samples in the history")
        cable.cut.set()
        # Protocol pause: the cut the scenario is about, shorter or longer than the agent's keepalive; it
        # publishes into silence until the keepalive ends the connection.
        time.sleep(outage)
        cable.heal()
        assert_every_sample_stored_once(hub, broker, time.monotonic())
    finally:
        cable.close()


def test_a_short_network_cut_loses_no_sample(start_agent, hub, broker):
    network_cut(start_agent, hub, broker, outage=6)  # shorter than the keepalive: published into silence


@pytest.mark.chaos
def test_a_network_cut_loses_no_sample(start_agent, hub, broker):
    network_cut(start_agent, hub, broker, outage=20)


@pytest.mark.chaos
def test_a_broker_killed_for_30s_loses_no_sample(start_agent, hub, broker):
    broker_killed(start_agent, hub, broker, outage=30)


@pytest.mark.chaos
def test_a_hub_killed_for_30s_loses_no_sample(start_agent, hub, broker, schemas):
    hub_killed(start_agent, hub, broker, 30, schemas)


def test_back_fill_waits_for_the_hub_and_answers_its_requests(start_agent, broker):
    """The agent alone: its spool stays put while no hub is online, drains once one is, and what the hub
    asks for again is sent again; what it confirms is not."""
    agent = start_agent({"broker": {"reconnect": {"min_delay": 2, "max_delay": 2}}})
    recorder = Recorder(broker, f"fleetmon/v1/hosts/{HOST}/#")
    try:
        recorder.wait("metrics", count=2)
        publish_retained(broker, "fleetmon/v1/hub/status", {"v": 1, "type": "hub_status", "state": "online"})
        recorder.close()
        broker.kill()  # the retained hub status goes with it (persistence off)
        last_seen = recorder.payloads("metrics")[-1]["seq"]
        wait_until(lambda: len([seq for seq in agent.spooled_seqs() if seq > last_seen]) >= 5, timeout=30,
                   message="five samples spooled during the outage")
        broker.start()
        recorder = Recorder(broker, f"fleetmon/v1/hosts/{HOST}/#")
        first_live = recorder.wait("metrics", count=3)[0]["seq"]
        seen = recorder.wait("metrics", where=lambda p: p["seq"] >= first_live + 3)
        assert recorder.payloads("backfill") == [], "no hub online after the restart: the spool waits"
        publish_retained(broker, "fleetmon/v1/hub/status", {"v": 1, "type": "hub_status", "state": "online"})
        drained = [p["seq"] for p in recorder.wait("backfill", count=3)]
        assert drained == sorted(drained) and max(drained) < first_live, "the outage's samples, oldest first"
        latest = seen[-1]["seq"]
        session = seen[-1]["session"]
        ack = {"v": 1, "type": "ack", "host": HOST, "ts": time.time(), "session": session, "upto": 1,
               "missing": [[latest - 1, latest]]}
        publish_retained(broker, f"fleetmon/v1/hub/acks/{HOST}", ack)
        again = recorder.wait("backfill", where=lambda p: p["seq"] in (latest - 1, latest), count=2)
        assert [p["seq"] for p in again] == [latest - 1, latest], "live samples asked for are sent again, in order"
    finally:
        recorder.close()
