"""The history store under storage faults and poison input, on real SQLite files and real filesystems:
a full tmpfs, a read-only remount, a database locked by another connection, a corrupt file, items SQLite
refuses. Each shows the drops counted, ``problem()`` saying why, writing resuming by itself once the fault
is gone, ``durable_position`` never passing what is not written, and nothing written before the fault lost."""

import contextlib
import logging
import os
import queue
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from fleetmon.hub.exposition import HubCounters
from fleetmon.hub.store import AlertRecord, CheckRecord, Counters, Event, StateChange, Store, StoreConfig, tiers
from fleetmon.hub.store.writer import Control, Writer
from tests.polling import wait_until

CPU = "fleetmon_cpu_usage_ratio"
T0 = float(int(time.time() // 3600) * 3600 - 3600)
# Fast enough to see a fault and its end within a second or two; small enough to fill on purpose.
FAST = StoreConfig(flush_interval=0.05, queue_size=400, batch_size=100, busy_timeout=0.2)


def metrics(i: int, width: int = 40) -> dict:
    """A sample of ``width`` series: big enough that a 2 MB filesystem fills after a few thousand."""
    return {CPU: (i % 100) / 100, "fleetmon_disk_io_bytes": [[{"device": f"sd{d}"}, float(i * d)]
                                                             for d in range(width)]}


def stored_seqs(path: str, host: str = "srv-01") -> list[int]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [seq for (seq,) in conn.execute(
            "SELECT seq FROM raw JOIN hosts ON hosts.id = raw.host_id WHERE hosts.name = ? ORDER BY seq", (host,))]


@pytest.fixture
def mounted(tmp_path):
    """Mount a filesystem for one test (``mount("-t", "tmpfs", "-o", "size=2m", "tmpfs")``), unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a filesystem needs root")
    mounts: list[Path] = []

    def mount(*args: str) -> Path:
        target = tmp_path / f"mnt{len(mounts)}"
        target.mkdir()
        subprocess.run(["mount", *args, str(target)], check=True)
        mounts.append(target)
        return target

    yield mount
    for target in reversed(mounts):
        subprocess.run(["umount", str(target)], check=True)


def metric_values(store: Store) -> dict[tuple, float]:
    """The store's figures as the hub's /metrics renders them: (sample name, *label values) -> value."""
    hub = HubCounters()
    hub.store = store.counters
    return {(sample.name, *sample.labels.values()): sample.value for family in hub.families()
            for sample in family.samples}


def fill(directory: Path) -> Path:
    """A ballast file taking every free block of ``directory``'s filesystem."""
    ballast = directory / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 512, 1):  # down to the last partial block
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:  # ENOSPC: full at this size
                pass
    finally:
        os.close(fd)
    return ballast


def test_a_full_disk_is_reported_counted_and_survived(mounted):
    directory = mounted("-t", "tmpfs", "-o", "size=2m", "tmpfs")
    path = str(directory / "hub.db")
    store = Store(path, FAST)
    store.start()
    try:
        before = [store.write_sample("srv-01", 1, seq, T0 + seq, metrics(seq)) for seq in range(1, 51)]
        store.flush()
        assert store.durable_position == before[-1] == 50 and store.problem() == ""
        ballast = fill(directory)

        accepted: dict[int, int] = {}  # seq -> position, of the samples the store took
        seq = 50

        def write_next() -> int | None:
            nonlocal seq
            seq += 1
            position = store.write_sample("srv-01", 1, seq, T0 + seq, metrics(seq))
            if position is not None:
                accepted[seq] = position
            return position

        # One sample a poll until the writer fails on the full disk (the last pages SQLite had may take a few
        # batches), so that the queue fills behind a failing writer, not one that is merely behind.
        wait_until(lambda: write_next() and store.counters.failing_since, timeout=60, interval=0.001,
                   message="the writer to report failing writes")
        while not store.counters.samples_dropped:  # until the queue is full behind the failing writer
            write_next()
            assert seq < 50_000, "the store never stopped taking samples on a full disk"
        problem = store.problem()
        assert problem.startswith("history writes failing since ") and "SQLITE_FULL" in problem, problem
        assert "samples dropped" in problem
        assert store.counters.failures["disk_full"] >= 1 and store.running  # retrying is alive
        assert store.counters.dropped[("sample", "disk_full")] >= 1
        assert store.durable_position < max(accepted.values())  # the failing batch is not durable
        for _ in range(20):  # more drops while full, each counted
            seq += 1
            assert store.write_sample("srv-01", 1, seq, T0 + seq, metrics(seq)) is None
        dropped = store.counters.samples_dropped
        assert store.counters.dropped[("sample", "disk_full")] == dropped
        exported = metric_values(store)
        assert exported[("fleetmon_hub_db_write_failures_total", "disk_full")] >= 1
        assert exported[("fleetmon_hub_db_dropped_total", "sample", "disk_full")] == dropped
        assert exported[("fleetmon_hub_db_failing_since_seconds",)] == store.counters.failing_since > 0

        ballast.unlink()
        freed = time.monotonic()
        wait_until(lambda: store.durable_position >= max(accepted.values()), timeout=15,
                 message="writing to resume once space is back")
        resumed = time.monotonic() - freed
        wait_until(lambda: store.problem() == "", message="the problem to clear")
        assert stored_seqs(path) == list(range(1, 51)) + sorted(accepted)  # nothing before the fault lost
        after = store.write_sample("srv-01", 2, 1, T0 + 1, metrics(1))
        store.flush()
        assert store.durable_position == after
        logging.getLogger(__name__).warning(
            "disk full on a 2 MB tmpfs: %d samples buffered while failing, %d dropped, writing resumed %.2f s after "
            "space returned", len(accepted), dropped, resumed)
    finally:
        store.close()


def test_a_database_locked_by_another_process_is_waited_out(tmp_path):
    path = str(tmp_path / "hub.db")
    store = Store(path, FAST)
    store.start()
    try:
        store.write_sample("srv-01", 1, 1, T0, {CPU: 0.1})
        store.flush()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            positions = [store.write_sample("srv-01", 1, seq, T0 + seq, {CPU: 0.2}) for seq in range(2, 12)]
            wait_until(lambda: "SQLITE_BUSY" in store.problem(), message="the lock to be reported")
            assert store.counters.failures["locked"] >= 1 and store.running
            assert store.durable_position == 1
            assert store.write_check(CheckRecord("srv-01", T0, "web", True, 0.01, "ok")) == 12
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        wait_until(lambda: store.durable_position == 12, message="the writes queued behind the lock")
        assert store.problem() == "" and positions == list(range(2, 12))
        assert stored_seqs(path) == list(range(1, 12))
        assert [c.name for c in store.check_history("srv-01", "web", T0 - 1, T0 + 1)] == ["web"]
    finally:
        store.close()


def test_a_read_only_filesystem_is_reported_and_writing_resumes_when_it_is_writable(mounted):
    directory = mounted("-t", "tmpfs", "-o", "size=8m", "tmpfs")
    path = str(directory / "hub.db")
    store = Store(path, FAST)
    store.start()
    store.write_sample("srv-01", 1, 1, T0, {CPU: 0.1})
    store.close()
    # Linux refuses a read-only remount while any file on it is open for writing (the hub's database is),
    # so the hub meets a read-only filesystem at its start: after a reboot, or a remount while it was down.
    subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
    remounted = False
    store = Store(path, FAST)
    store.start()  # does not refuse to start: the writer retries
    try:
        positions = [store.write_sample("srv-01", 1, seq, T0 + seq, {CPU: 0.2}) for seq in range(2, 6)]
        wait_until(store.problem, message="the read-only filesystem to be reported")
        assert "the filesystem is read-only" in store.problem() and store.running
        assert store.counters.failures["read_only"] >= 1
        assert store.write_sample("srv-01", 1, 6, T0 + 6, {CPU: 0.2}) == 5  # queued while failing
        assert store.durable_position == 0
        subprocess.run(["mount", "-o", "remount,rw", str(directory)], check=True)
        remounted = True
        wait_until(lambda: store.durable_position == 5, message="writing to resume")
        assert store.problem() == "" and positions == [1, 2, 3, 4]
        assert stored_seqs(path) == [1, 2, 3, 4, 5, 6]
    finally:
        if not remounted:
            subprocess.run(["mount", "-o", "remount,rw", str(directory)], check=True)
        store.close()


@pytest.mark.parametrize("damage", ["not a database", "malformed schema page"])
def test_a_corrupt_database_is_moved_aside_and_a_new_one_started(tmp_path, damage):
    path = tmp_path / "hub.db"
    store = Store(str(path), FAST)
    store.start()
    store.write_sample("srv-01", 1, 1, T0, {CPU: 0.1})
    store.close()
    if damage == "not a database":
        path.write_bytes(b"this is not an SQLite file" * 1000)
    else:  # a valid header, then garbage where the schema's b-tree page starts
        with open(path, "r+b") as out:
            out.seek(100)
            out.write(b"\xff" * 400)
    original = path.read_bytes()
    store = Store(str(path), FAST)
    store.start()
    try:
        assert store.counters.databases_replaced == 1 and store.problem() == ""
        (kept,) = tmp_path.glob("hub.db.corrupt-*[0-9]Z")
        assert kept.read_bytes() == original  # kept for recovery by hand
        position = store.write_sample("srv-01", 2, 1, T0 + 5, {CPU: 0.3})
        store.flush()
        assert store.durable_position == position and stored_seqs(str(path)) == [1]
    finally:
        store.close()


def test_poison_items_are_refused_alone_and_the_writer_keeps_writing(tmp_path):
    store = Store(str(tmp_path / "hub.db"), FAST)
    good = [("srv-01", 1, seq, T0 + seq, {CPU: 0.5}) for seq in range(1, 7)]
    poison = [
        ("srv-01", 1, 2**63, T0, {CPU: 0.1}),  # seq past an SQLite INTEGER
        ("srv-01", 2**64 - 1, 1, T0, {CPU: 0.1}),  # session too
        ("srv-01", -2**63 - 1, 1, T0, {CPU: 0.1}),
        ("srv-01", 1, 100, float("nan"), {CPU: 0.1}),
        ("srv-01", 1, 101, 10**400, {CPU: 0.1}),
        (["srv-01"], 1, 102, T0, {CPU: 0.1}),  # a host that is not a string
        (None, 1, 103, T0, {CPU: 0.1}),
    ]
    records = [
        CheckRecord(None, T0, "web", True, 0.1, "no host"),  # NOT NULL refused by SQLite
        Event(["srv-01"], T0, "kind", "a list for a host", {}),  # a type SQLite cannot bind
        Event("srv-01", T0, "kind", "details not JSON", {"x": {1, 2}}),
        StateChange("srv-01", float("nan"), "online", "offline", "a NaN time"),  # stored as NULL: refused
        AlertRecord(2**64, {}, "firing", "s", "e", T0),  # an integer SQLite cannot hold
        CheckRecord("srv-01", T0, "web", True, 10**400, "a value too large for a float"),
    ]
    write_record = {CheckRecord: store.write_check, Event: store.write_event, StateChange: store.write_state_change,
                    AlertRecord: store.write_alert}
    positions = []
    for i, sample in enumerate(good):  # poison between good items, all in one batch (queued before start)
        positions.append(store.write_sample(*sample))
        positions.append(store.write_sample(*poison[i]))
        positions.append(store.write_check(CheckRecord("srv-01", T0 + i, "web", True, 0.01, "ok")))
        positions.append(write_record[type(records[i])](records[i]))
    positions.append(store.write_sample(*poison[6]))
    positions.append(store.write_sample("srv-01", 1, 7, T0 + 7,
                                        {CPU: 0.5, "huge": 10**400, "nan": float("nan"), "inf": float("inf"),
                                         "big_but_finite": 2**64}))
    store.start()
    try:
        store.flush()
        assert positions == list(range(1, len(positions) + 1))
        assert store.durable_position == positions[-1] and store.running and store.problem() == ""
        assert store.counters.samples_written == 7 and store.counters.samples_malformed == 7
        assert store.counters.series_malformed == 3
        assert store.counters.records_written == 6 and store.counters.records_malformed == 6
        assert stored_seqs(store.path) == [1, 2, 3, 4, 5, 6, 7]
        assert len(store.check_history("srv-01", "web", T0 - 1, T0 + 10)) == 6
        assert store.query("srv-01", "big_but_finite", {}, T0, T0 + 10, tier="raw")[0].points == [(T0 + 7, 2.0**64)]
        # and it goes on writing
        later = store.write_sample("srv-01", 1, 8, T0 + 8, {CPU: 0.5})
        store.flush()
        assert store.durable_position == later and stored_seqs(store.path)[-1] == 8
    finally:
        store.close()


def test_an_unexpected_exception_is_logged_counted_and_the_writer_goes_on(tmp_path, caplog, monkeypatch):
    """An exception no input explains (a bug): injected into the writer thread, run here in-process."""
    items: queue.Queue = queue.Queue()
    counters = Counters()
    writer = Writer(str(tmp_path / "hub.db"), FAST, items, counters)
    failures = iter([True])

    original = tiers.merge_tier

    def merge_once_broken(*args):
        if next(failures, False):
            raise ValueError("a bug in the rollup pass")
        original(*args)

    monkeypatch.setattr(tiers, "merge_tier", merge_once_broken)
    writer.start()
    writer.ready.wait()
    items.put(("sample", "srv-01", 1, 1, T0, {CPU: 0.5}, False))
    wait_until(lambda: counters.durable_position == 1, message="the sample")
    with caplog.at_level(logging.ERROR):
        flush = Control("flush")
        items.put(flush)
        flush.done.wait(5)
    assert isinstance(flush.error, ValueError) and counters.failures["unexpected"] == 1
    assert "a bug in the rollup pass" in caplog.text
    items.put(("sample", "srv-01", 1, 2, T0 + 1, {CPU: 0.7}, False))
    flush = Control("flush")
    items.put(flush)
    assert flush.done.wait(5) and flush.error is None and writer.is_alive()
    assert counters.durable_position == 2 and counters.failing_since == 0
    stop = Control("stop")
    items.put(stop)
    writer.join(5)
    with contextlib.closing(sqlite3.connect(tmp_path / "hub.db")) as conn:
        assert conn.execute("SELECT count(*) FROM rollup_1m").fetchone()[0] == 1


def test_stopping_while_writes_fail_gives_up_what_is_queued_and_counts_it(tmp_path):
    path = str(tmp_path / "hub.db")
    store = Store(path, FAST)
    store.start()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for seq in range(1, 11):
            store.write_sample("srv-01", 1, seq, T0 + seq, {CPU: 0.2})
        wait_until(lambda: store.counters.failing_since, message="the lock to fail the writes")
        store.close()  # returns: the failing batch is given up, not retried for ever
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not store.running
    assert store.counters.writes_lost == 10 and store.durable_position == 0


def test_a_database_found_corrupt_while_running_is_replaced_and_writing_goes_on(tmp_path):
    path = tmp_path / "hub.db"
    store = Store(str(path), FAST)
    store.start()
    try:
        store.write_sample("srv-01", 1, 1, T0, {CPU: 0.1})
        store.flush()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, where it is damaged
        holder.execute("BEGIN EXCLUSIVE")  # the writer fails, closes its connection and reads the file afresh
        position = store.write_sample("srv-01", 1, 2, T0 + 1, {CPU: 0.2})
        wait_until(lambda: store.counters.failing_since, message="the writer to let go of its connection")
        locked = store.counters.failures["locked"]
        with open(path, "r+b") as out:  # garbage where the schema's b-tree page starts
            out.seek(100)
            out.write(b"\xff" * 400)
        # An attempt already under way read the schema before the damage and would write on unaware (the
        # damage then shows at the next open); wait for one that opened the file after it.
        wait_until(lambda: store.counters.failures["locked"] >= locked + 2 or store.counters.failures["corrupt"],
                 message="an attempt on the damaged file")
        holder.execute("ROLLBACK")
        holder.close()
        wait_until(lambda: store.durable_position == position, message="the sample, in a new file")
        assert store.counters.databases_replaced == 1 and store.counters.failures["corrupt"] >= 1
        assert store.problem() == "" and store.running
        assert len(list(tmp_path.glob("hub.db.corrupt-*[0-9]Z"))) == 1
        assert stored_seqs(str(path)) == [2]
        assert store.query("srv-01", CPU, {}, T0, T0 + 5, tier="raw")[0].points == [(T0 + 1, 0.2)]
    finally:
        store.close()
