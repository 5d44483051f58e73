"""The incident book on a real SQLite file (fleetmon.hub.incidents.book): what a restarted hub reads back, its
thread committing beside the alerting journal in the same database, the receivers and the dispatcher called
outside its lock, and the people's operations with their refusals."""

import sqlite3
import threading
import time

import pytest

from fleetmon.hub.alerting.journal import AlertJournal
from fleetmon.hub.alerting.observers import AlertRef
from fleetmon.hub.incidents.book import IncidentBook
from fleetmon.hub.incidents.model import (
    FollowUp,
    IncidentConflict,
    IncidentError,
    IncidentNotFound,
    Postmortem,
)
from tests.polling import wait_until

NOW = 1_800_000_000.0
DISK = 'route-1:{alertname="DiskFull"}'
LOAD = 'route-1:{alertname="HighLoad"}'
DONE = Postmortem("disk filled", "logs not rotated", "writes failed for 10 minutes", "rotated the logs",
                  [FollowUp("alert on inode use", "ana")])


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def ref(fp: str, resolved: bool = False, **labels: str) -> AlertRef:
    return AlertRef(fp, {"alertname": "DiskFull", "host": fp, **labels}, NOW - 600, resolved)


def flush(book: IncidentBook, group_key: str, *alerts: AlertRef, now: float = NOW) -> None:
    name = group_key.split('"')[1]
    book.observe_group(group_key, f"id-{name}", {"alertname": name}, "ops", list(alerts), now)
    book.process()


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "alerting.db")


@pytest.fixture
def book(path):
    book = IncidentBook(path, clock=Clock())
    yield book
    book.shutdown()


def test_a_restarted_hub_keeps_every_incident(path):
    clock = Clock()
    book = IncidentBook(path, clock=clock)
    flush(book, DISK, ref("a", severity="critical"), ref("b"))
    flush(book, LOAD, ref("c"))
    book.acknowledge("INC-1", by="ana", comment="looking")
    book.add_responder("INC-1", "bob", by="ana")
    book.split("INC-1", ["b"], by="ana")
    book.merge("INC-2", into="INC-1", by="ana")
    book.link("INC-1", other="INC-3", by="ana")
    book.hold("INC-3", True, by="bob")
    clock.now += 60
    flush(book, DISK, ref("a", resolved=True), now=clock.now)
    book.set_postmortem("INC-1", DONE, by="ana")
    book.process()
    before = {i["id"]: book.get(i["id"]) for i in book.list()}
    book.shutdown()

    again = IncidentBook(path, clock=clock)
    assert {i["id"]: again.get(i["id"]) for i in again.list()} == before
    assert before["INC-1"]["postmortem"]["followUps"] == [{"text": "alert on inode use", "owner": "ana", "done": False}]
    # the indexes are rebuilt: the merged group's next alert joins INC-1; a new incident gets the next number
    flush(again, LOAD, ref("c"), ref("d"), now=clock.now)
    assert sorted(a["fingerprint"] for a in again.get("INC-1")["alerts"]) == ["a", "c", "d"]
    assert again.open("by hand", by="ana")["id"] == "INC-4"
    sequence = [e["seq"] for e in again.get("INC-1")["timeline"]]
    assert len(set(sequence)) == len(sequence), "timeline sequence numbers go on from where they were"
    again.shutdown()


def test_the_books_thread_applies_and_commits_beside_the_alerting_journal(path):
    journal = AlertJournal(path)  # the hub's journal writes to the same file on its own connection
    book = IncidentBook(path)
    thread = threading.Thread(target=book.run, daemon=True)
    thread.start()
    try:
        book.observe_group(DISK, "id", {"alertname": "DiskFull"}, "ops", [ref("a")], NOW)
        journal.escalation("some group", NOW, 1)

        def committed() -> int:
            with sqlite3.connect(path) as db:
                return db.execute("SELECT COUNT(*) FROM incident_incidents").fetchone()[0]
        wait_until(committed, message="the incident committed by the book's thread")
        assert journal.load()["escalations"] == {"some group": (NOW, 1)}
    finally:
        book.stop()
        thread.join(timeout=10)
        journal.close()
    assert not thread.is_alive()
    book.shutdown()
    again = IncidentBook(path)
    assert again.get("INC-1")["alerts"][0]["fingerprint"] == "a"
    again.shutdown()


def test_the_receivers_are_told_outside_the_lock(path):
    """on_change may read the book, from any thread: a change announced under the lock would deadlock here."""
    told = []

    def on_change(body: dict, change: str) -> None:
        reader = threading.Thread(target=lambda: told.append((body["id"], change, len(book.list()))))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "on_change was called with the book's lock held"

    book = IncidentBook(path, clock=Clock(), on_change=on_change)
    flush(book, DISK, ref("a"))
    book.resolve("INC-1", by="ana")
    assert told == [("INC-1", "opened", 1), ("INC-1", "resolved", 1)]
    book.shutdown()


def test_a_failing_receiver_fails_no_change(path):
    def on_change(body: dict, change: str) -> None:
        raise ConnectionError("webhook down")

    book = IncidentBook(path, clock=Clock(), on_change=on_change)
    flush(book, DISK, ref("a"))
    assert book.acknowledge("INC-1", by="ana")["state"] == "acknowledged"
    assert book.announce_failures == 2  # opened, acknowledged
    book.shutdown()


def test_acknowledging_an_incident_acknowledges_its_firing_alerts_in_the_dispatcher(path):
    calls = []

    def acknowledge_alerts(fingerprints: list[str], by: str, comment: str) -> None:
        calls.append((fingerprints, by, comment))
        for fp in fingerprints:  # as the dispatcher reports its acks back: no deadlock
            book.alert_acknowledged(fp, by, comment, NOW)

    clock = Clock()
    book = IncidentBook(path, clock=clock, acknowledge_alerts=acknowledge_alerts)
    flush(book, DISK, ref("a"), ref("b"), ref("c"))
    flush(book, DISK, ref("a"), ref("b"), ref("c", resolved=True))
    clock.now += 30
    answer = book.acknowledge("INC-1", by="ana", comment="on it")
    assert calls == [(["a", "b"], "ana", "on it")], "only the firing alerts"
    assert (answer["state"], answer["timeToAcknowledge"]) == ("acknowledged", 30.0)
    book.process()
    kinds = [e["kind"] for e in book.get("INC-1")["timeline"]]
    assert kinds.count("alert_acknowledged") == 0, "the incident's own ack is one entry, not one per alert"
    flush(book, DISK, ref("a"), ref("b"), ref("d"))
    book.acknowledge("INC-1", by="bob")
    assert calls[-1] == (["d"], "bob", ""), "acknowledging again acknowledges the alert that joined since"
    book.shutdown()


def test_investigating_a_triggered_incident_acknowledges_it(path):
    told, calls = [], []
    book = IncidentBook(path, clock=Clock(), on_change=lambda body, change: told.append(change),
                        acknowledge_alerts=lambda fps, by, comment: calls.append(fps))
    flush(book, DISK, ref("a"))
    answer = book.investigate("INC-1", by="ana")
    assert (answer["state"], answer["acknowledgedAt"] is not None, calls) == ("investigating", True, [["a"]])
    assert told == ["opened", "acknowledged"]
    with pytest.raises(IncidentConflict, match="INC-1 is already investigating"):
        book.investigate("INC-1", by="ana")
    book.shutdown()


def test_closing_needs_a_postmortem_and_closed_is_final(book):
    flush(book, DISK, ref("a"))
    with pytest.raises(IncidentConflict, match="resolve it before closing it"):
        book.close("INC-1", by="ana")
    book.resolve("INC-1", by="ana")
    book.set_postmortem("INC-1", Postmortem(root_cause="logs"), by="ana")
    with pytest.raises(IncidentConflict, match="postmortem says impact and resolution: they are empty"):
        book.close("INC-1", by="ana")
    book.set_postmortem("INC-1", DONE, by="ana")
    assert book.close("INC-1", by="ana")["state"] == "closed"
    for change in (lambda: book.reopen("INC-1", by="ana"), lambda: book.assign("INC-1", "bob", by="ana"),
                   lambda: book.set_severity("INC-1", "info", by="ana"), lambda: book.hold("INC-1", True, by="ana")):
        with pytest.raises(IncidentConflict, match="INC-1 is closed"):
            change()
    with pytest.raises(IncidentConflict, match="must keep saying resolution"):
        book.set_postmortem("INC-1", Postmortem(root_cause="logs", impact="none"), by="ana")
    done = Postmortem(DONE.summary, DONE.root_cause, DONE.impact, DONE.resolution, [FollowUp("alert on inode use",
                                                                                              "ana", True)])
    assert book.set_postmortem("INC-1", done, by="ana")["postmortem"]["followUps"][0]["done"] is True
    assert book.note("INC-1", "rotation fixed for good", by="bob")["timeline"][-1]["text"] == "rotation fixed for good"


def test_changes_by_people_are_on_the_timeline(book):
    flush(book, DISK, ref("a"))
    book.set_severity("INC-1", "critical", by="ana")
    book.set_severity("INC-1", "critical", by="ana")  # no change, no entry
    book.assign("INC-1", "bob", by="ana")
    book.add_responder("INC-1", "carol", by="bob")
    book.note("INC-1", "disk at 99%", by="bob")
    entries = [(e["kind"], e["by"], e["text"]) for e in book.get("INC-1")["timeline"][2:]]
    assert entries == [("severity_changed", "ana", "severity warning → critical"),
                       ("assignee_changed", "ana", "assigned to bob"), ("responder_added", "bob", "carol responds"),
                       ("note", "bob", "disk at 99%")]
    with pytest.raises(IncidentError, match="severity must be one of critical, warning, info, not 'page'"):
        book.set_severity("INC-1", "page", by="ana")
    with pytest.raises(IncidentNotFound, match="no incident INC-9"):
        book.note("INC-9", "x", by="ana")


def test_the_timeline_is_ordered_by_time_then_sequence(book):
    flush(book, DISK, ref("a"), now=NOW)
    book.note("INC-1", "first", by="ana")
    book.note("INC-1", "second", by="ana")  # the same instant: they keep their order
    flush(book, DISK, ref("a", resolved=True), now=NOW - 5)  # the dispatcher's clock behind the book's
    timeline = book.get("INC-1")["timeline"]
    assert [e["kind"] for e in timeline] == ["alert_resolved", "state_changed", "opened", "alert_joined", "note",
                                             "note"]
    assert [e["text"] for e in timeline[-2:]] == ["first", "second"]


def test_opening_by_hand(path):
    known = {"x": AlertRef("x", {"alertname": "GpuHot", "team": "ml", "severity": "critical"}, NOW - 60, False),
             "y": AlertRef("y", {"alertname": "GpuHot", "team": "ml", "host": "y"}, NOW - 30, False)}
    book = IncidentBook(path, clock=Clock(), alert_lookup=known.get)
    answer = book.open("GPUs overheating", by="ana", fingerprints=["x", "y", "x"], assignee="bob")
    assert (answer["id"], answer["openedBy"], answer["severity"], answer["team"]) == ("INC-1", "ana", "critical", "ml")
    assert answer["labels"] == {"alertname": "GpuHot", "team": "ml"}, "the labels its alerts share"
    assert [a["fingerprint"] for a in answer["alerts"]] == ["x", "y"]
    assert [e["kind"] for e in answer["timeline"]] == ["opened", "alert_joined", "alert_joined", "assignee_changed"]
    with pytest.raises(IncidentError, match="alerts\\[1\\]: the hub holds no alert with fingerprint 'nope'"):
        book.open("t", by="ana", fingerprints=["x", "nope"])
    with pytest.raises(IncidentError, match="title must not be empty"):
        book.open("  ", by="ana")
    assert book.open("planned work", by="ana", severity="info")["severity"] == "info"
    assert [i["id"] for i in book.list()] == ["INC-2", "INC-1"], "a refused open takes no number"
    book.shutdown()


def test_split_merge_and_link(book):
    flush(book, DISK, ref("a"), ref("b", severity="critical"))
    flush(book, LOAD, ref("c"))
    book.add_responder("INC-2", "carol", by="ana")
    split = book.split("INC-1", ["b"], by="ana")
    assert (split["id"], split["title"], split["severity"], split["links"]) == (
        "INC-3", "DiskFull (split from INC-1)", "critical", ["INC-1"])
    assert book.get("INC-1")["links"] == ["INC-3"]
    with pytest.raises(IncidentError, match="would leave INC-3 empty"):
        book.split("INC-3", ["b"], by="ana")
    with pytest.raises(IncidentError, match="fingerprints\\[0\\]: zz is not an alert of INC-1"):
        book.split("INC-1", ["zz"], by="ana")
    merged = book.merge("INC-3", into="INC-2", by="ana")
    assert (merged["id"], merged["severity"], merged["responders"]) == ("INC-2", "critical", ["carol"])
    assert sorted(a["fingerprint"] for a in merged["alerts"]) == ["b", "c"]
    gone = book.get("INC-3")
    assert (gone["state"], gone["mergedInto"]) == ("closed", "INC-2")
    with pytest.raises(IncidentConflict, match="INC-3 is closed"):
        book.merge("INC-1", into="INC-3", by="ana")
    with pytest.raises(IncidentError, match="cannot be merged into itself"):
        book.merge("INC-1", into="INC-1", by="ana")
    book.link("INC-1", other="INC-2", by="ana")
    book.link("INC-2", other="INC-1", by="ana")  # linked already: nothing new
    assert (book.get("INC-1")["links"], book.get("INC-2")["links"]) == (["INC-3", "INC-2"], ["INC-1"])


def test_listing(book):
    flush(book, DISK, ref("a"))
    book.clock.now += 10
    flush(book, LOAD, ref("b"), now=book.clock.now)
    book.resolve("INC-2", by="ana")
    book.set_postmortem("INC-2", DONE, by="ana")
    book.close("INC-2", by="ana")
    assert [i["id"] for i in book.list()] == ["INC-2", "INC-1"], "newest first"
    assert [i["id"] for i in book.list(state="triggered")] == ["INC-1"]
    assert [i["id"] for i in book.list(since=book.clock.now + 1)] == ["INC-1"], "closed before since: left out"
    assert [i["id"] for i in book.list(limit=1)] == ["INC-2"]
    assert "timeline" not in book.list()[0]


def test_the_books_thread_sleeps_when_nothing_happens(path, monkeypatch):
    """A round wakes the thread only for work: once the queue is drained and committed it waits (it once woke
    itself after every round and held a core)."""
    book = IncidentBook(path)
    rounds = []
    real = book.process
    monkeypatch.setattr(book, "process", lambda: (rounds.append(time.monotonic()), real()))
    thread = threading.Thread(target=book.run, daemon=True)
    thread.start()
    try:
        book.observe_group(DISK, "id", {"alertname": "DiskFull"}, "ops", [ref("a")], NOW)
        wait_until(lambda: book.get("INC-1"), ignoring=(IncidentNotFound,), message="the alert applied")
        book.note("INC-1", "looking", by="ana")  # an operation wakes the thread to commit it
        wait_until(lambda: len(rounds) >= 2, message="the round that commits the note")
        settled = len(rounds)
        time.sleep(0.5)  # idle: the thread waits up to IDLE_WAIT (5 s) for the next wake-up
        assert len(rounds) <= settled + 1
    finally:
        book.stop()
        thread.join(timeout=10)
    book.shutdown()
