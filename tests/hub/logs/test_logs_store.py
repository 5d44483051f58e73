"""The log store on a real SQLite file: what it keeps (once per cursor, within retention), what each search
finds (text, filters, time ranges, pages), the live tail's next lines, rule counts, and its figures."""

import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from fleetmon.hub.logs import reads
from fleetmon.hub.logs.config import LogsConfig
from fleetmon.hub.logs.metrics import LogCollector
from fleetmon.hub.logs.schema import SPAN_SECONDS
from fleetmon.hub.logs.search import LogQuery, text_query
from fleetmon.hub.logs.store import LogStore
from tests.hub.logs.journal import T0, body, entry, filled, kernel
from tests.polling import wait_until


def messages(lines) -> list[str]:
    return [line.message for line in lines]


@pytest.fixture
def fleet(tmp_path: Path):
    """Two hosts: an edge board with kernel trouble and a web server."""
    store = filled(tmp_path, {
        "jetson-01": [entry(1, "camera started", unit="camera.service", identifier="camera"),
                      kernel(2, "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."),
                      entry(3, "frame dropped: queue full", priority=4, unit="camera.service", identifier="camera"),
                      kernel(4, "Out of memory: Killed process 812 (python3)", priority=2),
                      entry(5, "eth0: link down", priority=5, unit="NetworkManager.service")],
        "web-01": [entry(1, "GET /login 200", unit="nginx.service", identifier="nginx"),
                   entry(2, "upstream timed out while connecting", priority=3, unit="nginx.service"),
                   entry(3, "Accepted publickey for ubuntu from 10.0.0.7", unit="ssh.service")],
    })
    yield store
    store.close()


def test_a_batch_sent_twice_is_stored_once(tmp_path: Path) -> None:
    store = filled(tmp_path, {"h1": [entry(1), entry(2)]})
    assert store.take("h1", body(entry(1), entry(2), entry(3)))  # a reconnect re-sends 1 and 2
    assert store.take("h2", body(entry(1)))  # another host's journal may use the same cursor
    assert store.flush()
    figures = store.figures()
    assert (figures["stored"], figures["duplicates"], figures["lines"]) == (4, 2, 4)
    assert [(line.host, line.message) for line in store.search(LogQuery())] == [
        ("h2", "line 1"), ("h1", "line 3"), ("h1", "line 2"), ("h1", "line 1")]
    store.close()


def test_a_restarted_store_keeps_its_lines_and_still_knows_their_cursors(tmp_path: Path) -> None:
    filled(tmp_path, {"h1": [entry(1), entry(2)]}).close()
    store = filled(tmp_path, {"h1": [entry(2), entry(3)]})
    found = store.search(LogQuery())
    assert messages(found) == ["line 3", "line 2", "line 1"], "2 is not stored again after the restart"
    assert found[0].id > found[1].id
    store.close()


def test_words_phrases_prefixes_and_operators(fleet: LogStore) -> None:
    def find(text: str) -> list[str]:
        return messages(fleet.search(LogQuery(text=text_query(text))))

    assert find("NVRM") == ["NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."]
    assert find('"fallen off the bus"') == find("NVRM"), "a phrase"
    assert find('"off fallen"') == [], "a phrase's words in their order"
    assert find("fall*") == find("NVRM"), "a prefix"
    assert find("queue AND frame") == ["frame dropped: queue full"]
    assert find("timed OR killed") == ["upstream timed out while connecting",
                                       "Out of memory: Killed process 812 (python3)"]
    assert find("camera NOT started") == []
    assert find("queue NOT camera") == ["frame dropped: queue full"], "words of the unit's name are not searched"
    assert find("eth0: link") == ["eth0: link down"], "a piece of a line FTS5 cannot read is searched as a phrase"
    assert find("10.0.0.7") == ["Accepted publickey for ubuntu from 10.0.0.7"]
    assert find("PCI:0000:01:00") == find("NVRM")


@pytest.mark.parametrize(("name", "query", "expected"), [
    ("one host", LogQuery(hosts=("web-01",)), ["Accepted publickey for ubuntu from 10.0.0.7",
                                                 "upstream timed out while connecting", "GET /login 200"]),
    ("a host never seen", LogQuery(hosts=("nope",)), []),
    ("no hosts (an empty group)", LogQuery(hosts=()), []),
    ("err and more severe", LogQuery(priority=3), ["upstream timed out while connecting",
                                                   "Out of memory: Killed process 812 (python3)",
                                                   "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."]),
    ("crit and more severe", LogQuery(priority=2), ["Out of memory: Killed process 812 (python3)"]),
    ("a unit", LogQuery(units=("camera.service",)), ["frame dropped: queue full", "camera started"]),
    ("the kernel's lines", LogQuery(units=("",)), ["Out of memory: Killed process 812 (python3)",
                                                   "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."]),
    ("two units", LogQuery(units=("ssh.service", "NetworkManager.service")),
     ["Accepted publickey for ubuntu from 10.0.0.7", "eth0: link down"]),
    ("host, unit and priority", LogQuery(hosts=("jetson-01",), units=("camera.service",), priority=4),
     ["frame dropped: queue full"]),
    ("host and text", LogQuery(hosts=("web-01",), text="timed"), ["upstream timed out while connecting"]),
    ("time range, inclusive", LogQuery(start=T0 + 2, end=T0 + 3),
     ["Accepted publickey for ubuntu from 10.0.0.7", "upstream timed out while connecting",
      "frame dropped: queue full", "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."]),
    ("from a time on, with text", LogQuery(start=T0 + 4, text="memory OR link"),
     ["eth0: link down", "Out of memory: Killed process 812 (python3)"]),
    ("up to a time, one host", LogQuery(hosts=("jetson-01",), end=T0 + 1), ["camera started"]),
])
def test_filters(fleet: LogStore, name: str, query: LogQuery, expected: list[str]) -> None:
    assert messages(fleet.search(query)) == expected, name


def test_a_line_keeps_every_field(fleet: LogStore) -> None:
    (line,) = fleet.search(LogQuery(text="NVRM"))
    assert line._replace(id=0) == (0, "jetson-01", T0 + 2, 3, "", "kernel", None, "kernel",
                                   "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.")
    (line,) = fleet.search(LogQuery(text="login"))
    assert (line.unit, line.identifier, line.pid, line.transport) == ("nginx.service", "nginx", 100, "journal")


@pytest.mark.parametrize("query", [LogQuery(), LogQuery(hosts=("h1", "h2")), LogQuery(text="line"),
                                   LogQuery(start=T0, end=T0 + 100), LogQuery(units=("app.service",), priority=6)],
                         ids=["walked by id", "by the host index", "by the text index", "by spans",
                              "by the unit index"])
def test_paging_back_finds_every_line_once(tmp_path: Path, query: LogQuery) -> None:
    store = filled(tmp_path, {"h1": [entry(n) for n in range(1, 13)], "h2": [entry(n) for n in range(13, 26)]})
    pages, before = [], None
    while True:
        page = store.search(query, limit=10, before=before)
        pages.append(messages(page))
        if len(page) < 10:
            break
        before = page[-1].id
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [message for page in pages for message in page] == [f"line {n}" for n in range(25, 0, -1)]
    store.close()


def test_time_ranges_find_lines_that_arrive_late_or_from_a_clock_in_1970(tmp_path: Path) -> None:
    store = filled(tmp_path, {"h1": [entry(n) for n in range(1, 6)]})
    assert store.take("h1", body(entry(90, "spooled while the broker was away", ts=T0 - 3600)))
    assert store.take("board", body(entry(1, "no real-time clock yet", ts=3.0)))
    assert store.flush()
    assert messages(store.search(LogQuery(start=T0 - 3700, end=T0 - 3500))) == ["spooled while the broker was away"]
    assert messages(store.search(LogQuery(start=0, end=10))) == ["no real-time clock yet"]
    assert messages(store.search(LogQuery(start=T0 + 4.5))) == ["line 5"]
    store.close()


def test_follow_gives_the_lines_after_an_id_oldest_first(fleet: LogStore) -> None:
    newest = fleet.latest_id()
    assert fleet.follow(LogQuery(), newest) == []
    assert fleet.take("web-01", body(entry(7, "new line"), entry(8, "another timed out", priority=3)))
    assert fleet.flush()
    assert messages(fleet.follow(LogQuery(), newest)) == ["new line", "another timed out"]
    assert messages(fleet.follow(LogQuery(text="timed"), newest)) == ["another timed out"]
    assert messages(fleet.follow(LogQuery(hosts=("web-01",), priority=3), newest)) == ["another timed out"]
    assert messages(fleet.follow(LogQuery(hosts=("jetson-01",)), newest)) == []
    assert messages(fleet.follow(LogQuery(), newest, limit=1)) == ["new line"]


def test_retention_by_count_drops_the_oldest_lines(tmp_path: Path) -> None:
    store = filled(tmp_path, {"h1": [entry(n) for n in range(1, 26)]}, LogsConfig(max_lines=10))
    wait_until(lambda: store.figures()["lines"] == 10, message="pruned down to max_lines")
    assert messages(store.search(LogQuery())) == [f"line {n}" for n in range(25, 15, -1)]
    assert store.figures()["pruned"] == {"age": 0, "count": 15}
    store.close()


def test_retention_by_age_counts_from_when_the_hub_stored_a_line(tmp_path: Path) -> None:
    now = [T0]
    config = LogsConfig(retention_s=3600.0)
    store = filled(tmp_path, {"h1": [entry(1, "stored first"), entry(2, "stored first too")]}, config,
                   clock=lambda: now[0])
    now[0] = T0 + SPAN_SECONDS + 1  # a later span
    assert store.take("h1", body(entry(3, "stored later", ts=T0 - 86400)))  # old by the host's clock: kept
    assert store.flush()
    now[0] = T0 + 3600 + 10  # the first span is past retention, the second is not
    assert store.take("h1", body(entry(4, "stored last")))  # wakes the writer, whose look at retention is due
    wait_until(lambda: store.figures()["pruned"]["age"] == 2, message="the first span pruned")
    assert messages(store.search(LogQuery())) == ["stored last", "stored later"]
    store.close()


def test_a_batch_the_queue_has_no_room_for_is_dropped_and_counted(tmp_path: Path) -> None:
    store = LogStore(str(tmp_path / "logs.db"), LogsConfig(queue_lines=5))
    assert not store.take("h1", body(*(entry(n) for n in range(6))))
    assert store.take("h1", body(entry(9)))
    assert store.flush()
    assert store.figures()["dropped"] == {"queue_full": 6, "malformed": 0, "write_failed": 0}
    assert messages(store.search(LogQuery())) == ["line 9"]
    store.close()


def test_a_batch_that_skipped_ingest_is_counted_and_the_writer_goes_on(tmp_path: Path) -> None:
    store = LogStore(str(tmp_path / "logs.db"))
    assert store.take("h1", body({"ts": T0, "priority": 6, "message": "no cursor"}))
    assert store.take("h1", body(entry(1, "fine")))
    assert store.flush()
    assert store.alive
    assert store.figures()["dropped"] == {"queue_full": 0, "malformed": 1, "write_failed": 0}
    assert messages(store.search(LogQuery())) == ["fine"]
    store.close()


def test_rule_counts_per_host_with_the_newest_lines(tmp_path: Path) -> None:
    store = filled(tmp_path, {"a": [entry(n, f"disk error {n}", priority=3) for n in range(1, 9)],
                              "b": [entry(1, "disk error on b", priority=3), entry(2, "disk fine", priority=6)]})
    counts = store.count_matches(LogQuery(priority=3, start=T0 + 1), sample=3)
    assert [(c.host, c.count, messages(c.latest), c.capped) for c in counts] == [
        ("a", 8, ["disk error 8", "disk error 7", "disk error 6"], False), ("b", 1, ["disk error on b"], False)]
    assert [(c.host, c.count) for c in store.count_matches(LogQuery(text="error", start=T0 + 5))] == [("a", 4)]
    assert [(c.host, c.count) for c in store.count_matches(LogQuery(hosts=("b",)))] == [("b", 2)]
    regex = store.count_matches(LogQuery(regex=r"error [2-4]$"), sample=2)
    assert [(c.host, c.count, messages(c.latest)) for c in regex] == [("a", 3, ["disk error 4", "disk error 3"])]
    store.close()


def test_figures_on_metrics(tmp_path: Path) -> None:
    store = filled(tmp_path, {"h1": [entry(1), entry(2)]})
    assert store.take("h1", body(entry(2), dropped={"chatty.service": 1200, "other.service": 3}))
    assert store.flush()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LogCollector(store.figures))
    text = generate_latest(registry).decode()
    for sample in ("fleetmon_hub_log_lines_received_total 3.0", "fleetmon_hub_log_lines_stored_total 2.0",
                   "fleetmon_hub_log_lines_duplicate_total 1.0",
                   'fleetmon_hub_log_lines_dropped_total{reason="queue_full"} 0.0',
                   'fleetmon_hub_log_lines_dropped_at_host_total{host="h1"} 1203.0',
                   'fleetmon_hub_log_lines_pruned_total{reason="count"} 0.0', "fleetmon_hub_log_lines 2.0",
                   "fleetmon_hub_log_queue_lines 0.0"):
        assert sample + "\n" in text, sample
    assert store.figures()["bytes"] > 0
    store.close()


def test_a_time_range_or_a_priority_reads_only_the_spans_that_can_hold_its_lines(tmp_path: Path) -> None:
    now = [T0]
    store = LogStore(str(tmp_path / "logs.db"), clock=lambda: now[0])
    for ts in ((100.0, 200.0), (1000.0, 1100.0), (150.0, 160.0)):  # the third arrives late: spooled lines
        assert store.take("h1", body(*(entry(int(t), ts=t) for t in ts)))
        assert store.flush()
        now[0] += SPAN_SECONDS  # each batch in a span of its own
    with sqlite3.connect(store.path) as conn:
        assert reads.id_ranges(conn, 120.0, 170.0, None) == [(5, 6), (1, 2)], "the late span and the first"
        assert reads.id_ranges(conn, 100.0, 1100.0, None) == [(1, 6)], "adjacent spans read as one range"
        assert reads.id_ranges(conn, 100.0, 1100.0, 5) == [(1, 4)], "before an id"
        assert reads.id_ranges(conn, 5000.0, None, None) == []
        assert reads.id_ranges(conn, None, None, None, priority=5) == [], "every line is info: no span to read"
        assert reads.id_ranges(conn, None, None, None, priority=6) == [(1, 6)]
    assert messages(store.search(LogQuery(start=120.0, end=170.0))) == ["line 160", "line 150"]
    store.close()
