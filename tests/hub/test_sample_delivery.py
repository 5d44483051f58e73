"""The hub's delivery tracker: what it acknowledges, what it asks for, when it gives up (clocked, no I/O)."""

from dataclasses import dataclass, field

import jsonschema
import pytest

from fleetmon.hub.delivery import (
    ACK_INTERVAL,
    GAP_ACK_SPACING,
    GIVE_UP_REQUESTS,
    MAX_RANGES,
    REQUEST_INTERVAL,
    DeliveryTracker,
)
from fleetmon.protocol import messages
from fleetmon.protocol.messages import Ack


def feed(tracker, seqs, session=1, host="h", commit=True, start=1):
    """Hand ``seqs`` to the tracker at consecutive store positions; commit them unless told not to."""
    position = start
    for seq in seqs:
        tracker.received(host, session, seq, position)
        position += 1
    if commit:
        tracker.committed(position - 1)
    return position


@dataclass
class Case:
    name: str
    why: str
    received: list  # (session, seq, position or None)
    durable: int
    upto: int
    missing: tuple
    session: int = 1
    restored: dict = field(default_factory=dict)


CASES = [
    Case("in order", "every seq committed: all acknowledged, nothing asked for",
         [(1, s, s) for s in range(1, 6)], durable=5, upto=5, missing=()),
    Case("not yet committed", "only what SQLite committed is acknowledged",
         [(1, s, s) for s in range(1, 6)], durable=3, upto=3, missing=()),
    Case("a gap", "seqs 4-6 never arrived: asked for",
         [(1, 1, 1), (1, 2, 2), (1, 3, 3), (1, 7, 4), (1, 8, 5)], durable=5, upto=3, missing=((4, 6),)),
    Case("two gaps", "each hole is its own range, oldest first",
         [(1, 1, 1), (1, 3, 2), (1, 6, 3)], durable=3, upto=1, missing=((2, 2), (4, 5))),
    Case("a gap filled late", "a re-sent seq closes the hole; the upto jumps over what was already in",
         [(1, 1, 1), (1, 4, 2), (1, 2, 3), (1, 3, 4)], durable=4, upto=4, missing=()),
    Case("uncommitted fill is not missing", "a seq in the store's queue is neither acked nor asked for",
         [(1, 1, 1), (1, 3, 2), (1, 2, 3)], durable=2, upto=1, missing=()),
    Case("dropped by the store", "a write the queue refused (no position) is asked for again",
         [(1, 1, 1), (1, 2, None), (1, 3, 2)], durable=2, upto=1, missing=((2, 2),)),
    Case("duplicates", "a seq delivered twice changes nothing (the store keeps the first copy)",
         [(1, 1, 1), (1, 2, 2), (1, 2, 3), (1, 1, 4), (1, 3, 5)], durable=5, upto=3, missing=()),
    Case("first heard mid-session", "a host the hub knew nothing of: what came before may be stored already",
         [(1, 4, 1), (1, 5, 2)], durable=2, upto=5, missing=()),
    Case("the agent restarted", "a newer session's samples before the first one heard are asked for",
         [(1, 1, 1), (2, 4, 2), (2, 5, 3)], durable=3, upto=0, missing=((1, 3),), session=2),
    Case("new session", "a newer session replaces the old one's state: its gaps are no longer asked for",
         [(1, 1, 1), (1, 5, 2), (2, 1, 3), (2, 2, 4)], durable=4, upto=2, missing=(), session=2),
    Case("an older session's back-fill", "stored by the store, not tracked: the newer session stays",
         [(2, 1, 1), (1, 7, 2), (2, 2, 3)], durable=3, upto=2, missing=(), session=2),
    Case("restart from stored seqs", "after a hub restart the history's seqs are known: 11-14 are asked "
         "for, 1-4 (before the window read) are not",
         [(3, 20, 1)], durable=1, upto=10, missing=((11, 14),), session=3,
         restored={"h": {2: [1, 2], 3: [5, 6, 7, 8, 9, 10, 15, 16, 17, 18, 19]}}),
    Case("restart: a queued sample fills in", "a sample the broker queued for the killed hub fills a gap",
         [(3, 12, 1), (3, 13, 2), (3, 11, 3), (3, 14, 4)], durable=4, upto=19, missing=(), session=3,
         restored={"h": {3: [5, 6, 7, 8, 9, 10, 15, 16, 17, 18, 19]}}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_acknowledged_and_missing(case):
    tracker = DeliveryTracker()
    tracker.restore(case.restored)
    for session, seq, position in case.received:
        tracker.received("h", session, seq, position)
    tracker.committed(case.durable)
    assert tracker.ack("h") == Ack("h", case.session, case.upto, case.missing), case.why


def test_the_missing_ranges_in_one_ack_are_bounded():
    tracker = DeliveryTracker()
    feed(tracker, range(1, 2 * (MAX_RANGES + 10), 2))  # every even seq lost
    ack = tracker.ack("h")
    assert len(ack.missing) == MAX_RANGES and ack.missing[0] == (2, 2), "the oldest gaps first"


def test_an_ack_as_published_is_valid_and_reads_back(schemas):
    tracker = DeliveryTracker()
    feed(tracker, [1, 2, 5])
    ack = tracker.tick(0.0)[0]
    body = messages.ack(ack.host, 100.0, ack.session, ack.upto, ack.missing)
    jsonschema.validate(body, schemas["ack"])
    assert messages.parse_ack(messages.encode(body)) == Ack("h", 1, 2, ((3, 4),))


@pytest.mark.parametrize("payload", [b"", b"[]", b'{"v":1,"type":"ack","host":"h","session":1,"upto":5,'
                                     b'"missing":[[3,4]]}', b'{"v":1,"type":"ack","host":"h","session":1,'
                                     b'"upto":true,"missing":[]}', b'{"v":2,"type":"ack"}'],
                         ids=["cleared", "not an object", "missing below upto", "bool upto", "unknown version"])
def test_a_malformed_ack_is_ignored_by_the_agent(payload):
    assert messages.parse_ack(payload) is None


# --- when acks are published ---------------------------------------------------------------------------

def test_progress_is_acknowledged_at_a_modest_cadence():
    tracker = DeliveryTracker()
    feed(tracker, [1])
    assert tracker.tick(0.0) == [Ack("h", 1, 1, ())], "a host's first ack goes out at once"
    feed(tracker, [2], start=2)
    assert tracker.tick(1.0) == [], "progress waits for the cadence: no ack per sample"
    assert tracker.tick(ACK_INTERVAL - 0.1) == []
    assert tracker.tick(ACK_INTERVAL) == [Ack("h", 1, 2, ())]
    assert tracker.tick(3 * ACK_INTERVAL) == [], "nothing new: nothing published"


def test_a_new_gap_is_asked_for_at_once_then_again_until_filled():
    tracker = DeliveryTracker()
    position = feed(tracker, [1])
    tracker.tick(0.0)
    position = feed(tracker, [4], start=position)
    assert tracker.tick(0.5) == [], "no more than one ack per host every GAP_ACK_SPACING"
    assert tracker.tick(GAP_ACK_SPACING) == [Ack("h", 1, 1, ((2, 3),))]
    assert tracker.tick(GAP_ACK_SPACING + 1) == [], "asked for: not again at once"
    again = GAP_ACK_SPACING + REQUEST_INTERVAL
    assert tracker.tick(again) == [Ack("h", 1, 1, ((2, 3),))], "an open gap is asked for again"
    feed(tracker, [2, 3], start=position)
    assert tracker.tick(again + GAP_ACK_SPACING) == [Ack("h", 1, 4, ())], "closing the gap is said soon"


def test_a_further_gap_is_asked_for_at_once():
    tracker = DeliveryTracker()
    position = feed(tracker, [1, 3])
    assert tracker.tick(0.0) == [Ack("h", 1, 1, ((2, 2),))]
    feed(tracker, [5], start=position)
    assert tracker.tick(GAP_ACK_SPACING) == [Ack("h", 1, 1, ((2, 2), (4, 4)))]


def test_a_gap_the_agent_cannot_fill_is_given_up_and_counted():
    tracker = DeliveryTracker()
    feed(tracker, [1, 2, 6, 7])
    now = 0.0
    for _ in range(GIVE_UP_REQUESTS):
        assert tracker.tick(now) == [Ack("h", 1, 2, ((3, 5),))]
        now += REQUEST_INTERVAL
    assert tracker.tick(now) == [Ack("h", 1, 7, ())], "given up: settled, so the agent may let go"
    assert tracker.lost_total == 3
    assert tracker.tick(now + 10 * REQUEST_INTERVAL) == [], "never asked for again"


def test_a_slow_fill_postpones_the_give_up():
    tracker = DeliveryTracker()
    position = feed(tracker, [1, 100])
    now = 0.0
    for seq in range(2, 2 + 4 * GIVE_UP_REQUESTS, 2):  # a drain that fills a little between requests
        assert tracker.tick(now) == [Ack("h", 1, seq - 1, ((seq, 99),))]
        position = feed(tracker, [seq, seq + 1], start=position)
        now += REQUEST_INTERVAL
    assert tracker.lost_total == 0


def test_forgotten_hosts_are_no_longer_acknowledged():
    tracker = DeliveryTracker()
    feed(tracker, [1], host="gone")
    feed(tracker, [1], host="kept", start=2)
    tracker.forget(["gone"])
    assert [a.host for a in tracker.tick(0.0)] == ["kept"]
    assert tracker.ack("gone") is None
