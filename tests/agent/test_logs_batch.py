"""When kept entries become a batch (fleetmon.agent.logs.batch), on an injected clock."""

from typing import List, NamedTuple, Tuple

import pytest

from fleetmon.agent.logs.batch import CUT, MAX_PAYLOAD_BYTES, BatchBuilder, split_to_fit
from fleetmon.protocol import messages


class Case(NamedTuple):
    name: str
    why: str
    added: List[Tuple[float, int]]  # (when, message bytes) of each entry added
    now: float
    due: bool
    pending: bool = False
    closed_at: float = -1.0  # when the previous batch was taken; below 0: none yet
    max_lines: int = 3
    max_bytes: int = 1000


CASES = [
    Case("empty", "nothing to send, nothing waiting", [], 100.0, False),
    Case("young", "one entry, 0.5 s old, interval 2 s: wait for more", [(10.0, 10)], 10.5, False),
    Case("interval reached", "the first entry has waited the whole interval", [(10.0, 10), (11.5, 10)], 12.0,
         True),
    Case("full by lines", "max_lines entries: send now, whatever the time", [(10.0, 1)] * 3, 10.0, True),
    Case("full by bytes", "a few long messages fill an MQTT message early", [(10.0, 600), (10.0, 600)], 10.0,
         True),
    Case("drops alone, early", "drops to report, but a batch went out 1 s ago", [], 11.0, False, pending=True,
         closed_at=10.0),
    Case("drops alone, due", "drops to report and an interval since the last batch", [], 12.0, True,
         pending=True, closed_at=10.0),
    Case("drops, first batch", "nothing was ever sent: drops go out at once", [], 0.5, True, pending=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_is_due(case):
    batch = BatchBuilder(case.max_lines, 2.0, max_bytes=case.max_bytes)
    if case.closed_at >= 0:
        batch.take(case.closed_at)
    for at, size in case.added:
        batch.add({"message": "x" * size}, size, at)
    assert batch.is_due(case.now, pending=case.pending) is case.due, case.why


def test_take_hands_the_entries_out_oldest_first_and_starts_over():
    batch = BatchBuilder(10, 2.0)
    for n in range(3):
        batch.add({"n": n}, 1, 5.0 + n)
    assert batch.seconds_left(6.0) == pytest.approx(1.0), "due 2 s after its first entry"
    assert [e["n"] for e in batch.take(8.0)] == [0, 1, 2]
    assert len(batch) == 0 and not batch.is_due(100.0)
    batch.add({"n": 3}, 1, 9.0)
    assert not batch.is_due(10.0), "the interval runs from the new batch's first entry"


def _encode(entries, dropped, seq=2 ** 53):
    return messages.encode(messages.logs("jetson-01", 1, seq, 1.0, entries, dropped))


def _entry(n: int, message: str) -> dict:
    return {"ts": 1.0 + n, "cursor": f"s=abc;i={n:x}", "priority": 6, "unit": "app.service", "identifier": "app",
            "pid": 42, "transport": "stdout", "message": message}


def test_a_batch_that_fits_is_one_part():
    entries = [_entry(n, "short line") for n in range(50)]
    assert split_to_fit(entries, {"app.service": 3}, _encode) == [(entries, {"app.service": 3})]


@pytest.mark.parametrize("message", [
    pytest.param("\x01" * 4000, id="control-characters-escape-to-six-bytes"),
    pytest.param("温度过高" * 1000, id="non-ascii-is-three-bytes-a-character"),
    pytest.param('"\\' * 2000, id="quotes-and-backslashes-double"),
])
def test_a_batch_whose_json_outgrows_the_estimate_is_split_under_the_bound_in_order(message):
    # 60 entries of 4,000 characters: about 240 KB by the builder's estimate, but escaped JSON is far larger.
    entries = [_entry(n, message) for n in range(60)]
    parts = split_to_fit(entries, {"app.service": 7}, _encode)
    assert len(parts) > 1
    assert all(len(_encode(part, part_dropped)) <= MAX_PAYLOAD_BYTES for part, part_dropped in parts)
    assert [entry for part, _ in parts for entry in part] == entries, "every entry once, oldest first, uncut"
    assert [part_dropped for _, part_dropped in parts] == [{"app.service": 7}] + [None] * (len(parts) - 1)


def test_one_entry_too_long_alone_has_its_message_cut_to_fit():
    huge = _entry(1, "\x07" * 65536)  # the longest message a batch may hold, every character escaped
    [(part, _)] = split_to_fit([huge], None, _encode)
    assert len(_encode(part, None)) <= MAX_PAYLOAD_BYTES
    assert part[0]["message"].endswith(CUT) and part[0]["message"].startswith("\x07")
    assert {k: v for k, v in part[0].items() if k != "message"} == {k: v for k, v in huge.items() if k != "message"}
