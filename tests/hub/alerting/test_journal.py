"""The alert journal on a real SQLite file: what a barrier promises, and what a restarted hub reads back."""

import sqlite3

from fleetmon.hub.alerting.alert import NEVER, Alert
from fleetmon.hub.alerting.journal import AlertJournal
from fleetmon.hub.alerting.nflog import LogEntry

T0 = 1_800_000_000.0


def committed(path, sql: str) -> list[tuple]:
    """What another process (a restarted hub) reads now: committed transactions only."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_a_barrier_returns_once_every_earlier_write_is_committed(tmp_path):
    path = tmp_path / "alerting.db"
    journal = AlertJournal(str(path))
    disk = Alert({"alertname": "Disk"}, {}, T0, NEVER, updated_at=T0, fingerprint="f1")
    journal.alert(disk, "firing", T0, source="fleet")
    journal.log_entry(("{}:{}", "team", "webhook[0]"), LogEntry(frozenset({"f1"}), frozenset(), T0))
    wait = journal.barrier()
    journal.alert(Alert({"alertname": "Net"}, {}, T0, NEVER, updated_at=T0, fingerprint="f2"), "firing", T0)
    assert wait(5.0)
    fingerprints = {fp for (fp,) in committed(path, "SELECT fingerprint FROM alerts")}
    assert "f1" in fingerprints  # f2, queued after the barrier, may or may not be there yet
    assert committed(path, "SELECT firing FROM nflog") == [('["f1"]',)]
    assert journal.barrier()(5.0)  # a barrier with nothing left to wait for returns at once
    journal.close()


def test_sources_and_deleted_log_entries_survive_a_restart(tmp_path):
    path = str(tmp_path / "alerting.db")
    journal = AlertJournal(path)
    journal.alert(Alert({"alertname": "HostDown", "host": "a"}, {}, T0, NEVER, updated_at=T0, fingerprint="f1"),
                  "firing", T0, source="fleet")
    journal.alert(Alert({"alertname": "Posted"}, {}, T0, T0 + 300, timeout=True, updated_at=T0, fingerprint="f2"),
                  "firing", T0)
    key = ("{}:{}", "team", "webhook[0]")
    journal.log_entry(key, LogEntry(frozenset({"f1"}), frozenset(), T0))
    journal.log_entry(key, None)  # a failed delivery takes its intent back, and there was nothing before it
    journal.close()
    loaded = AlertJournal(path).load()
    assert loaded["sources"] == {"f1": "fleet", "f2": ""}
    assert {a.fingerprint: a.ends_at for a in loaded["alerts"]} == {"f1": NEVER, "f2": T0 + 300}
    assert loaded["nflog"] == {}
