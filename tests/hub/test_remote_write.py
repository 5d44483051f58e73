"""history.remote_write against a real local HTTP receiver: the wire format (a hand-checked encoding),
what is sent (every stored sample, back-filled ones at their own time), and the rules for a receiver that
fails: 5xx and 429 retried, other 4xx refused for good (counted, logged once), a backlog past max_backlog
dropped (counted) instead of growing."""

import logging
import threading
import time

import cramjam
import pytest

from fleetmon.hub.store import Store, StoreConfig
from fleetmon.hub.store.prompb import compress, encode_labels, varint, write_request
from fleetmon.hub.store.remote_config import Endpoint, RemoteWriteConfig
from fleetmon.hub.store.remote_write import RemoteWriter, series_labels
from tests.hub.remote_receiver import Receiver
from tests.polling import wait_until

CPU, FS = "fleetmon_cpu_usage_ratio", "fleetmon_filesystem_usage_ratio"
T0 = float(int(time.time()) - 600)


def test_a_write_request_is_encoded_as_protobuf_says():
    labels = encode_labels(series_labels("up", {}, "a"))
    encoded = write_request([(labels, [(1000, 1.0), (-1, 0.5)])])
    # WriteRequest.timeseries (0a, 63 bytes): two labels (0a 0e: name 0a 08 "__name__", value 12 02 "up";
    # 0a 09: 0a 04 "host" 12 01 "a"), two samples (12 0c: value 09 + double 1.0, timestamp 10 + varint 1000;
    # 12 14: 0.5 and -1 as a ten-byte varint).
    assert encoded.hex() == ("0a3f" "0a0e0a085f5f6e616d655f5f12027570" "0a090a04686f7374120161"
                             "120c09000000000000f03f10e807" "121409000000000000e03f10ffffffffffffffffff01")
    assert [varint(n).hex() for n in (0, 1, 127, 128, 300, 2**63 - 1)] == [
        "00", "01", "7f", "8001", "ac02", "ffffffffffffffff7f"]


def test_the_body_is_snappy_block_format_not_framed():
    payload = write_request([(encode_labels([("__name__", "m")]), [(i, float(i)) for i in range(200)])])
    body = compress(payload)
    assert body[:len(varint(len(payload)))] == varint(len(payload))  # a block starts with the length
    assert bytes(cramjam.snappy.decompress_raw(body)) == payload
    assert not body.startswith(b"\xff\x06\x00\x00sNaPpY")  # the framed format's stream identifier


def test_labels_are_sorted_and_host_wins_over_a_sample_label():
    assert series_labels("m", {"mount": "/", "host": "spoof"}, "srv-01") == [
        ("__name__", "m"), ("host", "srv-01"), ("mount", "/")]


@pytest.fixture
def store(tmp_path):
    instance = Store(str(tmp_path / "history.db"), StoreConfig(flush_interval=0.05))
    instance.start()
    yield instance
    instance.close()


@pytest.fixture
def receiver():
    instance = Receiver()
    yield instance
    instance.close()


def fill(store, host, seqs, backfill=False, t0=T0):
    for seq in seqs:
        store.write_sample(host, 1, seq, t0 + seq, {CPU: seq / 100, FS: [[{"mount": "/"}, seq / 1000]]}, backfill)
    store.flush()


class Running:
    """A RemoteWriter on its own thread, as its process runs it."""

    def __init__(self, db, url, **options) -> None:
        config = RemoteWriteConfig(Endpoint(url, timeout=5), **{"batch_interval": 0.05, "min_backoff": 0.01,
                                                                 "max_backoff": 0.05, **options})
        self.writer = RemoteWriter(db, config)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.writer.run, args=(self.stop,), daemon=True)
        self.thread.start()

    @property
    def counters(self):
        return self.writer.counters

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


@pytest.fixture
def running(store, receiver):
    started = []

    def start(url=None, **options) -> Running:
        started.append(Running(store.path, url or receiver.url, **options))
        return started[-1]

    yield start
    for one in started:
        one.close()


def expected(host, seqs, t0=T0):
    return {(("__name__", CPU), ("host", host)): [(round((t0 + s) * 1000), s / 100) for s in seqs],
            (("__name__", FS), ("host", host), ("mount", "/")): [(round((t0 + s) * 1000), s / 1000) for s in seqs]}


def test_every_stored_sample_is_sent_back_filled_ones_at_their_own_time(store, receiver, running):
    fill(store, "srv-01", range(1, 6))
    writer = running(batch_size=4)  # two series a sample: two host-samples a request
    fill(store, "srv-01", range(101, 104))
    fill(store, "srv-01", range(50, 53), backfill=True)  # after an outage, stored after newer ones
    fill(store, "srv-01", [101])  # a duplicate the store ignores is not sent again
    want = expected("srv-01", [*range(101, 104), *range(50, 53)])
    wait_until(lambda: writer.counters.samples_sent == 12 and writer.counters.backlog == 0,
               message="12 samples sent, none waiting")
    assert {k: sorted(v) for k, v in receiver.samples().items()} == {k: sorted(v) for k, v in want.items()}
    assert all(r["Content-Encoding"] == "snappy" and r["Content-Type"] == "application/x-protobuf"
               and r["X-Prometheus-Remote-Write-Version"] == "0.1.0" for r in receiver.requests)
    assert len(receiver.requests) == 3  # whole host-samples up to batch_size samples a request


def test_5xx_and_429_are_retried_until_the_receiver_takes_them(store, receiver, running):
    receiver.script = [503, 429, 500]
    writer = running()
    fill(store, "srv-01", range(1, 4))
    wait_until(lambda: writer.counters.samples_sent == 6, message="6 samples sent")
    assert writer.counters.requests_retried == 3
    assert writer.counters.samples_failed == writer.counters.samples_dropped == 0
    assert writer.counters.failing_since == 0.0
    assert receiver.samples() == expected("srv-01", range(1, 4))


def test_a_4xx_refuses_the_samples_for_good_counted_and_logged_once(store, receiver, running, caplog):
    receiver.script = [400, 400]
    writer = running(batch_size=2)
    with caplog.at_level(logging.DEBUG, logger="fleetmon.hub.store.remote_write"):
        fill(store, "srv-01", [1])
        wait_until(lambda: len(receiver.requests) == 1, message="the first request")
        fill(store, "srv-01", [2])
        wait_until(lambda: len(receiver.requests) == 2, message="the second request")
        fill(store, "srv-01", [3])
        wait_until(lambda: writer.counters.samples_sent == 2, message="the third sample sent")
    assert writer.counters.samples_failed == 4 and writer.counters.requests_retried == 0
    assert receiver.samples() == expected("srv-01", [3])
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.ERROR, logging.DEBUG]
    assert "HTTP 400" in refusals[0].getMessage() and "out of bounds" in refusals[0].getMessage()


def test_a_receiver_away_too_long_costs_counted_drops_not_a_growing_queue(store, receiver, running):
    receiver.script = [503] * 10_000
    writer = running(max_backlog=5, batch_size=2)
    fill(store, "srv-01", range(1, 4))
    wait_until(lambda: writer.counters.requests_retried >= 2, message="retries")
    fill(store, "srv-01", range(4, 21))  # 20 host-samples: 15 beyond the backlog's bound
    wait_until(lambda: writer.counters.samples_dropped >= 30, message="the oldest samples dropped")
    assert writer.counters.backlog <= 5
    with receiver.lock:
        receiver.script.clear()  # the receiver is back
    wait_until(lambda: writer.counters.samples_dropped + writer.counters.samples_sent == 40,
               message="every sample sent or dropped")
    sent = receiver.samples()[(("__name__", CPU), ("host", "srv-01"))]
    assert sorted(sent)[-5:] == expected("srv-01", range(16, 21))[(("__name__", CPU), ("host", "srv-01"))]
    assert writer.counters.samples_failed == 0


def test_samples_pruned_before_they_were_sent_are_counted(store, receiver, running):
    """A receiver away longer than the raw tier keeps samples: those pruned unsent are counted, in host-samples."""
    receiver.script = [503] * 10_000
    writer = running(batch_size=2)  # one host-sample a request: the others wait in the raw tier
    fill(store, "srv-01", range(1, 6))
    wait_until(lambda: writer.counters.requests_retried >= 2, message="retries")
    store.prune(T0 + 5 + store.config.raw_window)  # seqs 1..4 are past the raw window then
    fill(store, "srv-01", [300, 301])
    with receiver.lock:
        receiver.script.clear()  # the receiver is back
    wait_until(lambda: writer.counters.backlog == 0 and writer.counters.samples_sent == 8,
               message="what is left sent")
    assert writer.counters.host_samples_pruned == 3  # 2, 3 and 4 (1 was in the request being retried)
    sent = sorted(receiver.samples()[(("__name__", CPU), ("host", "srv-01"))])
    assert sent == expected("srv-01", [1, 5, 300, 301])[(("__name__", CPU), ("host", "srv-01"))]
    assert writer.counters.samples_dropped == writer.counters.samples_failed == 0


def test_a_restarted_writer_goes_on_where_it_stopped(store, receiver, running):
    first = running()
    fill(store, "srv-01", [1, 2])
    wait_until(lambda: first.counters.samples_sent == 4, message="the first samples sent")
    first.close()
    fill(store, "srv-01", [3])  # stored while no writer ran
    second = running()
    fill(store, "srv-01", [4])
    wait_until(lambda: second.counters.samples_sent == 4, message="the samples stored since sent")
    assert receiver.samples() == expected("srv-01", [1, 2, 3, 4])


def test_an_unreachable_receiver_is_retried(store, running):
    refused = Receiver()
    url = refused.url
    refused.close()  # nothing listens there now
    writer = running(url)
    fill(store, "srv-01", [1])
    wait_until(lambda: writer.counters.requests_retried >= 2 and writer.counters.failing_since > 0,
               message="retries while nothing listens")
    assert writer.counters.samples_failed == 0 and writer.counters.backlog == 1


def test_the_history_section_reads_remote_write_and_read_with_their_secrets(tmp_path):
    from fleetmon.config_reader import ConfigError
    from fleetmon.hub.config import parse_config

    (tmp_path / "vm.pass").write_text("s3cret\n")
    basic_auth = {"username": "hub", "password_file": str(tmp_path / "vm.pass")}
    config = parse_config({"history": {
        "remote_write": {"url": "https://vm:8428/api/v1/write", "basic_auth": basic_auth,
                         "batch_interval": "2s", "max_backlog": 10},
        "remote_read": {"url": "http://vm:8428/", "bearer_token_file": str(tmp_path / "vm.pass")}}})
    write, read = config.history.remote_write, config.history.remote_read
    assert write.endpoint.authorization == "Basic aHViOnMzY3JldA=="  # hub:s3cret
    assert (write.batch_interval, write.max_backlog, write.batch_size, write.endpoint.timeout) == (2.0, 10, 2000, 30.0)
    assert read.endpoint.url == "http://vm:8428" and read.endpoint.authorization == "Bearer s3cret"
    assert "s3cret" not in repr(config.history)
    assert parse_config({}).history.remote_write is None
    with pytest.raises(ConfigError) as refused:
        parse_config({"history": {"remote_write": {"url": "vm:8428", "bearer_token_file": "/nonexistent",
                                                   "batch_sise": 5}}})
    message = str(refused.value)
    assert "history.remote_write.url" in message and "history.remote_write.bearer_token_file" in message
    assert "history.remote_write.batch_sise" in message
