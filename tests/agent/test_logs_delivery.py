"""Delivery of log batches (fleetmon.agent.logs.delivery) through the agent's real MQTT link to a real
mosquitto: live while the broker takes them, the log spool while it does not, the order kept, and the resume
cursor saved only past what the broker acknowledged or the spool holds."""

import json
import signal
from pathlib import Path

import pytest

from fleetmon.agent.logs.cursor import CursorFile
from fleetmon.agent.logs.delivery import LogDelivery
from fleetmon.agent.spool import Spool
from fleetmon.config_reader import Errors, Node
from fleetmon.mqtt.broker import parse_broker
from fleetmon.mqtt.link import MqttLink
from fleetmon.protocol import messages
from tests.conftest import Recorder
from tests.polling import wait_until

TOPIC = "fleetmon/v1/hosts/test-host/logs"
SESSION = 7


def batch(seq: int, lines: int = 2) -> bytes:
    entries = [{"ts": 1.0, "cursor": f"c{seq}.{n}", "priority": 3, "message": f"batch {seq} line {n}"}
               for n in range(lines)]
    return messages.encode(messages.logs("test-host", SESSION, seq, 1.0, entries))


class Harness:
    """A delivery over a real link, with the hub gate the test opens and closes."""

    def __init__(self, tmp_path: Path, broker, max_batches: int = 100) -> None:
        errors = Errors()
        config = parse_broker(Node({"url": broker.url, "reconnect": {"min_delay": 0.05, "max_delay": 0.2}},
                                   "broker", errors))
        assert not errors, errors
        self.link = MqttLink(config, "logs-delivery-test", None, b"", on_connected=lambda: None)
        self.link.start()
        assert self.link.connected.wait(10)
        self.hub_online = True
        self.spool = Spool(str(tmp_path / "spool"), max_batches, 1024 * 1024)
        self.cursor_file = CursorFile(str(tmp_path / "cursor"), None)
        self.delivery = LogDelivery(self.spool, SESSION, lambda body: self.link.publish(TOPIC, body, qos=1),
                                    lambda: self.link.connected.is_set() and self.hub_online, self.cursor_file)

    def settle(self, message: str = "the delivery to settle") -> None:
        """Tick until nothing is in flight and the spool is empty."""
        def settled():
            self.delivery.tick()
            return not self.delivery.in_flight and not len(self.spool)

        wait_until(settled, 20, message=message)

    def close(self) -> None:
        self.link.stop()


@pytest.fixture
def harness(tmp_path, broker):
    made = Harness(tmp_path, broker)
    yield made
    made.close()


def seqs(recorder: Recorder):
    return [p["seq"] for p in recorder.payloads("logs")]


def test_live_batches_reach_the_broker_and_move_the_cursor(harness, recorder):
    for seq in (1, 2, 3):
        harness.delivery.hand_over(seq, batch(seq), 2, f"cursor-{seq}")
    harness.settle()
    recorder.wait("logs", 3)
    assert seqs(recorder) == [1, 2, 3] and harness.delivery.published_lines == 6
    harness.delivery.close(1.0)
    assert harness.cursor_file.load() == "cursor-3"


def test_while_the_broker_is_away_batches_are_spooled_then_sent_in_order(harness, recorder, broker):
    harness.delivery.hand_over(1, batch(1), 2, "cursor-1")
    harness.settle()
    recorder.wait("logs", 1)
    broker.stop()
    wait_until(lambda: not harness.link.connected.is_set(), message="the link to notice")
    for seq in (2, 3, 4):
        harness.delivery.hand_over(seq, batch(seq), 2, f"cursor-{seq}")
    assert len(harness.spool) == 3, "nothing can go out: all three wait on disk"
    harness.delivery.close(0.1)
    assert harness.cursor_file.load() == "cursor-4", "spooled is handed over: a restart resumes after them"
    recorder.close()
    broker.start()
    late = Recorder(broker, "fleetmon/#")
    try:
        harness.settle("the spool to drain")
        late.wait("logs", 3)
        assert seqs(late) == [2, 3, 4]
    finally:
        late.close()


def test_a_batch_waits_behind_the_spool(harness, recorder):
    harness.hub_online = False  # the hub is away: the broker would hold no session of it to queue in
    harness.delivery.hand_over(1, batch(1), 2, "cursor-1")
    assert len(harness.spool) == 1 and not harness.delivery.in_flight
    harness.hub_online = True
    harness.delivery.hand_over(2, batch(2), 2, "cursor-2")
    assert len(harness.spool) == 2, "with batch 1 still spooled, batch 2 queues behind it rather than overtake"
    harness.settle()
    recorder.wait("logs", 2)
    assert seqs(recorder) == [1, 2]


def test_the_cursor_waits_for_the_broker_and_unacknowledged_batches_are_spooled_on_close(harness, broker):
    harness.delivery.hand_over(1, batch(1), 2, "cursor-1")
    harness.settle()
    harness.delivery.close(0.1)
    assert harness.cursor_file.load() == "cursor-1"
    broker.process.send_signal(signal.SIGSTOP)  # the broker hangs: it takes nothing, acknowledges nothing
    try:
        harness.delivery.hand_over(2, batch(2), 2, "cursor-2")
        assert harness.delivery.in_flight == 1 and not len(harness.spool)
        harness.delivery.tick()
        assert json.loads(Path(harness.cursor_file.path).read_text())["cursor"] == "cursor-1", \
            "batch 2 is unacknowledged: the cursor stays before it"
        harness.delivery.close(0.2)
        assert len(harness.spool) == 1 and harness.cursor_file.load() == "cursor-2", \
            "on stop, what the broker did not confirm goes to the spool, and the cursor past it"
    finally:
        broker.process.send_signal(signal.SIGCONT)


def test_entries_not_kept_move_the_cursor_without_a_message(harness, recorder):
    harness.delivery.hand_over(1, batch(1), 2, "cursor-1")
    harness.delivery.hand_over(0, None, 0, "cursor-filtered")
    harness.settle()
    harness.delivery.close(1.0)
    assert harness.cursor_file.load() == "cursor-filtered"
    recorder.sync()
    assert seqs(recorder) == [1]


def test_at_the_spool_bound_the_oldest_batches_go_and_are_counted(tmp_path, broker):
    harness = Harness(tmp_path, broker, max_batches=2)
    try:
        harness.hub_online = False
        for seq in (1, 2, 3, 4):
            harness.delivery.hand_over(seq, batch(seq), 2, f"cursor-{seq}")
        assert harness.spool.dropped_total == 2
        assert [json.loads(harness.spool.read(name))["seq"] for name in harness.spool.names()] == [3, 4]
    finally:
        harness.close()
