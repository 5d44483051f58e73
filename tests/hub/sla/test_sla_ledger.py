"""The presence ledger (fleetmon.hub.sla.ledger): merging samples into spans (a table, pure), then the same
merges through a real SQLite file, out of order, across a reopen and a history read again."""

import sqlite3
from typing import NamedTuple

import pytest

from fleetmon.hub.sla.ledger import LedgerMismatch, PresenceLedger, Sample, Span, merge_spans

DOWN_AFTER = 30.0  # liveness.silent_after 3 x a 10 s interval


def one(session: int, seq: int, ts: float) -> Span:
    """A single sample as the ledger merges it: a span of one seq."""
    return Span("srv-01", session, seq, seq, ts, ts, 10.0)


def run(session: int, first_seq: int, last_seq: int, start: float, end: float) -> Span:
    return Span("srv-01", session, first_seq, last_seq, start, end, 10.0)


def every_ten(session: int, seqs: range, first_ts: float) -> list[Span]:
    return [one(session, seq, first_ts + 10 * (seq - seqs.start)) for seq in seqs]


class Merge(NamedTuple):
    name: str
    why: str
    given: list[Span]
    merged: list[Span]


MERGES = [
    Merge("consecutive samples", "one session, seqs one apart, 10 s apart: one span", every_ten(1, range(1, 6), 0),
          [run(1, 1, 5, 0, 40)]),
    Merge("arriving in any order", "merging is by seq, not by arrival", list(reversed(every_ten(1, range(1, 6), 0))),
          [run(1, 1, 5, 0, 40)]),
    Merge("a seq hole", "seq 4 is missing: two spans, whatever the time between them",
          [one(1, 1, 0), one(1, 2, 10), one(1, 3, 20), one(1, 5, 40)], [run(1, 1, 3, 0, 20), run(1, 5, 5, 40, 40)]),
    Merge("too far apart", "seqs adjacent but 120 s apart, more than down_after: the agent did not sample",
          [one(1, 1, 0), one(1, 2, 120)], [run(1, 1, 1, 0, 0), run(1, 2, 2, 120, 120)]),
    Merge("just close enough", "exactly down_after apart still joins", [one(1, 1, 0), one(1, 2, 30)],
          [run(1, 1, 2, 0, 30)]),
    Merge("back-fill joins two spans", "the samples of a seq hole arrive late and fill it: one span again",
          [run(1, 1, 3, 0, 20), run(1, 7, 9, 60, 80), one(1, 4, 30), one(1, 5, 40), one(1, 6, 50)],
          [run(1, 1, 9, 0, 80)]),
    Merge("back-fill extends", "a late sample right after a span extends it", [run(1, 1, 3, 0, 20), one(1, 4, 30)],
          [run(1, 1, 4, 0, 30)]),
    Merge("back-fill extends backwards", "a late sample right before a span extends its start",
          [run(1, 5, 9, 40, 80), one(1, 4, 30)], [run(1, 4, 9, 30, 80)]),
    Merge("a sample seen twice", "a history read again holds samples the span already has: nothing changes",
          [run(1, 1, 9, 0, 80), one(1, 4, 30)], [run(1, 1, 9, 0, 80)]),
]


@pytest.mark.parametrize("case", MERGES, ids=lambda c: c.name)
def test_merge_spans(case: Merge) -> None:
    assert merge_spans(case.given, DOWN_AFTER) == case.merged, case.why


def samples(session: int, seqs: range, first_ts: float, first_id: int, host: str = "srv-01") -> list[Sample]:
    return [Sample(first_id + i, host, session, seq, first_ts + 10 * (seq - seqs.start)) for i, seq in enumerate(seqs)]


def ten(host: str) -> float:
    return 10.0


def test_ledger_merges_out_of_order_back_fill_on_a_real_file(tmp_path) -> None:
    """Live samples first with a seq hole (the agent could not reach the broker), the hole's samples later
    with higher raw ids (back-filled from its spool), then a restart: spans as the history says, kept across
    a reopen."""
    path = str(tmp_path / "sla.db")
    ledger = PresenceLedger(path)
    ledger.advance(samples(1, range(1, 11), 0, 1) + samples(1, range(21, 31), 200, 11), 20, ten, 3)
    assert ledger.all_spans("srv-01") == [run(1, 1, 10, 0, 90), run(1, 21, 30, 200, 290)]
    ledger.advance(list(reversed(samples(1, range(11, 21), 100, 21))), 30, ten, 3)
    assert ledger.all_spans("srv-01") == [run(1, 1, 30, 0, 290)], "the back-fill joined the two spans"
    ledger.advance(samples(2, range(1, 6), 400, 31), 35, ten, 3)
    assert ledger.all_spans("srv-01") == [run(1, 1, 30, 0, 290), run(2, 1, 5, 400, 440)], "a new session: a new span"
    assert ledger.cursor == 35
    ledger.close()

    reopened = PresenceLedger(path)
    assert reopened.cursor == 35
    assert reopened.all_spans("srv-01") == [run(1, 1, 30, 0, 290), run(2, 1, 5, 400, 440)]
    reopened.advance(samples(1, range(1, 31), 0, 1), 30, ten, 3)  # the history read again from its start
    assert reopened.all_spans("srv-01") == [run(1, 1, 30, 0, 290), run(2, 1, 5, 400, 440)], "idempotent"
    assert reopened.first_seen("srv-01") == 0 and reopened.first_seen("srv-02") is None
    reopened.close()


def test_ledger_answers_the_spans_around_a_range(tmp_path) -> None:
    """A range's spans come with their neighbours: the verdict of a gap needs the spans on both sides."""
    ledger = PresenceLedger(str(tmp_path / "sla.db"))
    ledger.advance(samples(1, range(1, 11), 0, 1) + samples(2, range(1, 11), 500, 11)
                   + samples(3, range(1, 11), 1000, 21), 30, ten, 3)
    assert ledger.spans("srv-01", 200, 300) == [run(1, 1, 10, 0, 90), run(2, 1, 10, 500, 590)]
    assert ledger.spans("srv-01", 550, 560) == [run(1, 1, 10, 0, 90), run(2, 1, 10, 500, 590),
                                                run(3, 1, 10, 1000, 1090)]
    assert ledger.spans("srv-02", 0, 2000) == []
    ledger.close()


def test_ledger_keeps_hosts_apart_and_takes_each_ones_interval(tmp_path) -> None:
    ledger = PresenceLedger(str(tmp_path / "sla.db"))
    slow = [Sample(1, "slow", 1, 1, 0.0), Sample(2, "slow", 1, 2, 60.0), Sample(3, "slow", 1, 3, 120.0)]
    ledger.advance(slow + samples(1, range(1, 4), 0, 4), 6, lambda host: 60.0 if host == "slow" else 10.0, 3)
    assert ledger.all_spans("slow") == [Span("slow", 1, 1, 3, 0.0, 120.0, 60.0)], "60 s apart is close for it"
    assert ledger.all_spans("srv-01") == [run(1, 1, 3, 0, 20)]
    ledger.close()


def test_ledger_refuses_a_file_of_another_version(tmp_path) -> None:
    path = tmp_path / "sla.db"
    PresenceLedger(str(path)).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(LedgerMismatch, match="schema version 99"):
        PresenceLedger(str(path))
