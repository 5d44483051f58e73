"""The SLA engine on a real history file written by the real store (a writer process on SQLite): three hosts
with scripted outages at past timestamps, reported to the second; the ledger's back-fill and its surviving
the raw tier's pruning; checks, a metric's minutes, schedules, maintenance and burn-rate alerts."""

import itertools
import sqlite3
import time
from pathlib import Path

import pytest

from fleetmon.hub.alerting.timeintervals import TimeIntervals, TimeSpec
from fleetmon.hub.model import ONLINE, SILENT
from fleetmon.hub.sla import engine as engine_module
from fleetmon.hub.sla.config import SLO, CheckPasses, HostUp, MetricBound, Scope
from fleetmon.hub.sla.engine import HostInfo, SLAEngine, UnknownSLO
from fleetmon.hub.sla.ledger import PresenceLedger
from fleetmon.hub.store import CheckRecord, Store, StoreConfig

CPU = "fleetmon_cpu_usage_ratio"
HOUR = 3600.0
# An hour boundary three hours ago: inside the raw window, so the writer's own pruning leaves it alone.
T0 = float(int(time.time() // HOUR) * HOUR - 3 * HOUR)
END = T0 + HOUR  # the hosts sample up to END - 10
MEMBERS = {name: HostInfo(("web",), {"site": "lab"}, 10.0) for name in ("srv-a", "srv-b", "srv-c")}
UP = SLO("web-up", HostUp(), 99.9)


def cpu_at(host: str, offset: float) -> float:
    """srv-a runs hot for the five minutes from T0 + 600."""
    return 0.95 if host == "srv-a" and 600 <= offset < 900 else 0.5


def write_host(store: Store, host: str, session: int, first_seq: int, offsets: range, backfill: bool = False) -> None:
    for i, offset in enumerate(offsets):
        store.write_sample(host, session, first_seq + i, T0 + offset, {CPU: cpu_at(host, offset)}, backfill=backfill)


def script(store: Store) -> None:
    """srv-a: no sample at 100..200 s, the agent running on (its seqs adjacent): bad 110 s.
    srv-b: restarts: session 1 up to 1190 s, session 2 from 1500 s: bad 300 s.
    srv-c: samples 61..90 (600..890 s) not delivered yet, a seq hole: unknown 300 s.
    srv-a's check api every 30 s, failing at 600 and 630: bad 60 s."""
    write_host(store, "srv-a", 1, 1, range(0, 100, 10))
    write_host(store, "srv-a", 1, 11, range(210, 3600, 10))
    write_host(store, "srv-b", 1, 1, range(0, 1200, 10))
    write_host(store, "srv-b", 2, 1, range(1500, 3600, 10))
    write_host(store, "srv-c", 1, 1, range(0, 600, 10))
    write_host(store, "srv-c", 1, 91, range(900, 3600, 10))
    for offset in range(0, 3600, 30):
        store.write_check(CheckRecord("srv-a", T0 + offset, "api", offset not in (600, 630), None, ""))


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.db"
    store = Store(str(path), StoreConfig())
    store.start()
    script(store)
    store.flush()
    store.close()
    return path


def engine_on(history: Path, tmp_path: Path, slos: list[SLO], intervals: TimeIntervals | None = None,
              maintenance=None, live=None) -> SLAEngine:
    engine = SLAEngine(slos, str(history), str(tmp_path / "sla.db"), lambda: MEMBERS,
                       live or (lambda host: (ONLINE, True)), maintenance or (lambda host, groups, start, end: []),
                       intervals or TimeIntervals(), silent_after=3.0)
    engine.update(END)
    return engine


def seconds(member: dict) -> tuple[float, float, float, float]:
    return member["good_s"], member["bad_s"], member["unknown_s"], member["excluded_s"]


def test_host_up_report_to_the_second(history: Path, tmp_path: Path) -> None:
    engine = engine_on(history, tmp_path, [UP])
    report = engine.report("web-up", T0 - 600, END, END)
    members = {m["member"]: seconds(m) for m in report["members"]}
    # 600 s before each host's first sample: not a member yet, excluded
    assert members == {"srv-a": (3490, 110, 0, 600), "srv-b": (3300, 300, 0, 600), "srv-c": (3300, 0, 300, 600)}
    assert seconds(report) == (10090, 410, 300, 1800)
    assert report["availability"] == 10090 / 10500
    assert report["downtime_minutes"] == 410 / 60
    assert report["until"] == END and report["label"] == ""
    engine.close()


def test_back_fill_and_pruning(history: Path, tmp_path: Path) -> None:
    """srv-c's missing samples arrive late (higher raw ids): its seq hole closes and the hour is all good. Then
    the raw tier is pruned: the ledger still knows, and the report does not change."""
    copy = tmp_path / "history.db"
    copy.write_bytes(history.read_bytes())
    engine = engine_on(copy, tmp_path, [UP])
    assert seconds(_member(engine.report("web-up", T0, END, END), "srv-c")) == (3300, 0, 300, 0)
    store = Store(str(copy), StoreConfig())
    store.start()
    write_host(store, "srv-c", 1, 61, range(600, 900, 10), backfill=True)
    store.flush()
    engine.update(END)
    after_backfill = engine.report("web-up", T0, END, END)
    assert seconds(_member(after_backfill, "srv-c")) == (3600, 0, 0, 0)

    store.prune(time.time() + 2 * 86400)  # a day past the raw window: every raw row goes
    store.close()
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM raw").fetchone()[0] == 0
    engine.update(END)
    assert engine.report("web-up", T0, END, END) == after_backfill
    engine.close()


def _member(report: dict, name: str) -> dict:
    return next(m for m in report["members"] if m["member"] == name)


def test_after_the_last_sample(history: Path, tmp_path: Path) -> None:
    """Ten minutes after the hosts' last samples: srv-a silent with the hub seeing (bad), srv-b silent with the
    hub blind (unknown), srv-c online (its samples not yet written: good)."""
    answers = {"srv-a": (SILENT, True), "srv-b": (SILENT, False), "srv-c": (ONLINE, True)}
    engine = engine_on(history, tmp_path, [UP], live=answers.__getitem__)
    report = engine.report("web-up", END, END + 600, END + 600)
    assert {m["member"]: seconds(m) for m in report["members"]} == {
        "srv-a": (0, 600, 0, 0), "srv-b": (0, 0, 600, 0), "srv-c": (600, 0, 0, 0)}
    engine.close()


def test_check_and_metric(history: Path, tmp_path: Path) -> None:
    check = SLO("api", CheckPasses("api"), 99.0, scope=Scope(hosts=("srv-a", "srv-b")))
    hot = SLO("cool", MetricBound(CPU, below=0.9), 99.0, scope=Scope(hosts=("srv-a",)))
    engine = engine_on(history, tmp_path, [check, hot])
    members = {m["member"]: seconds(m) for m in engine.report("api", T0, END, END)["members"]}
    # results every 30 s hold until the next; the failed ones at 600 and 630 hold 60 s; srv-b never ran it
    assert members == {"srv-a/api": (3540, 60, 0, 0), "srv-b/api": (0, 0, 0, 3600)}
    minutes = engine.report("cool", T0, END, END)["members"]
    # five hot minutes (600..900 s); the minute 120..180 s holds no sample: unknown
    assert [seconds(m) for m in minutes] == [(3600 - 300 - 60, 300, 60, 0)]
    engine.close()


def test_schedule_and_maintenance(history: Path, tmp_path: Path) -> None:
    """Only the first half hour counts (a time interval); srv-b is in maintenance while it restarts, so of its
    half hour 1100..1600 s is excluded too."""
    minute = int(T0 % 86400 // 60)
    intervals = TimeIntervals({"first_half": (TimeSpec(times=((minute, minute + 30),)),)})
    slo = SLO("web-up", HostUp(), 99.9, schedule=("first_half",))
    windows = {"srv-b": [(T0 + 1100, T0 + 1600)]}
    engine = engine_on(history, tmp_path, [slo], intervals, lambda host, groups, start, end: windows.get(host, []))
    members = {m["member"]: seconds(m) for m in engine.report("web-up", T0, END, END)["members"]}
    assert members == {"srv-a": (1690, 110, 0, 1800), "srv-b": (1300, 0, 0, 2300), "srv-c": (1500, 0, 300, 1800)}
    engine.close()


def test_burn_alerts(history: Path, tmp_path: Path) -> None:
    """At T0 + 1500 srv-b has been down for five minutes: every window burns (it pages). At END the last half
    hour was clean: no page, but the day's and the three days' windows still open tickets."""
    engine = engine_on(history, tmp_path, [UP, SLO("quiet", HostUp(), 99.9, burn_alerts=False)])
    during = engine.burn_alerts(T0 + 1500)
    assert sorted((a.labels["window"], a.labels["severity"]) for a in during) == [
        ("1d/2h", "warning"), ("1h/5m", "critical"), ("3d/6h", "warning"), ("6h/30m", "critical")]
    assert {a.labels["slo"] for a in during} == {"web-up"}
    after = engine.burn_alerts(END)
    assert sorted(a.labels["window"] for a in after) == ["1d/2h", "3d/6h"]
    engine.close()


def test_budget_series_and_summaries(history: Path, tmp_path: Path) -> None:
    engine = engine_on(history, tmp_path, [UP])
    points = engine.budget_series("web-up", T0, END, END, 600)
    assert [ts for ts, _ in points] == [T0 + 600 * i for i in range(7)]
    assert points[0][1] == 1.0 and points[-1][1] == engine.report("web-up", T0, END, END)["budget"]["left"]
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(points)), "a burn-down only goes down"
    (summary,) = engine.summaries(END)
    assert summary["slo"] == "web-up" and summary["period"] == "monthly" and "members" not in summary
    with pytest.raises(UnknownSLO):
        engine.report("nope", T0, END, END)
    engine.close()


def test_a_history_not_written_yet(tmp_path: Path) -> None:
    """The engine may start before the store has created its file: it reads nothing and creates nothing."""
    missing = tmp_path / "history.db"
    engine = engine_on(missing, tmp_path, [UP])
    assert not missing.exists()
    assert seconds(engine.report("web-up", T0, END, END)) == (0, 0, 0, 3 * 3600)
    engine.close()


def test_a_history_replaced_by_a_new_file(history: Path, tmp_path: Path) -> None:
    """The store moves a corrupt history aside and starts a new file, whose raw ids start again at 1: the
    engine notices, reads the new file from its start, and keeps what the ledger knew."""
    copy = tmp_path / "history.db"
    copy.write_bytes(history.read_bytes())
    # srv-b silent now: only its samples in the new file can make the time after END good
    engine = engine_on(copy, tmp_path, [UP], live=lambda host: (SILENT if host == "srv-b" else ONLINE, True))
    copy.rename(tmp_path / "history.db.corrupt")
    store = Store(str(copy), StoreConfig())
    store.start()
    write_host(store, "srv-b", 3, 1, range(3600, 4200, 10))  # srv-b's next run, after END
    store.flush()
    store.close()
    engine.update(END + 600)
    report = engine.report("web-up", T0, END + 600, END + 600)
    assert seconds(_member(report, "srv-b")) == (3900, 300, 0, 0), "the old spans and the new file's"
    assert seconds(_member(report, "srv-a")) == (3490 + 600, 110, 0, 0), "online: its samples are on the way"
    engine.close()


def test_a_ledger_far_behind_catches_up_over_rounds(history: Path, tmp_path: Path, monkeypatch) -> None:
    """Each update merges a bounded number of rows, so a first start beside a day of raw samples does not hold
    the rules loop up; round after round the ledger reaches the same answer."""
    monkeypatch.setattr(engine_module, "BATCH", 100)
    monkeypatch.setattr(engine_module, "BATCHES_PER_UPDATE", 2)
    with sqlite3.connect(history) as conn:
        rows = conn.execute("SELECT count(*) FROM raw").fetchone()[0]
    engine = engine_on(history, tmp_path, [UP])  # its first update
    ledger = PresenceLedger(str(tmp_path / "sla.db"))  # a second look at the engine's file
    cursors = [ledger.cursor]
    while cursors[-1] < rows:
        engine.update(END)
        cursors.append(ledger.cursor)
    assert cursors == [*range(200, rows, 200), rows]
    assert seconds(engine.report("web-up", T0, END, END)) == (10090, 410, 300, 0)
    ledger.close()
    engine.close()
