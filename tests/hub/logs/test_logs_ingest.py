"""Ingest's check of a ``logs`` batch (fleetmon.hub.ingest): a batch the log store could not keep is a counted
rejection with a reason that names the entry, never an exception; a good one decodes as a Message, and the
store writes whatever ingest accepts (a property over generated bodies)."""

import json
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetmon.hub.ingest import Message, Rejected, decode
from fleetmon.hub.logs.store import LogStore
from fleetmon.protocol import messages
from tests.hub.logs.journal import entry, kernel

PREFIX = "fleetmon/v1"
TOPIC = PREFIX + "/hosts/jetson-01/logs"


def batch(*entries: dict[str, Any], **changes: Any) -> dict[str, Any]:
    payload = messages.logs("jetson-01", 3, 41, 1_800_000_000.0, list(entries), dropped={"chatty.service": 1200})
    payload.update(changes)
    return payload


def decoded(payload: dict[str, Any] | bytes) -> Message | Rejected:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode(TOPIC, raw, 1_800_000_001.0, PREFIX, 1 << 20)


def test_a_good_batch_decodes() -> None:
    message = decoded(batch(entry(1), kernel(2, "NVRM: Xid 79")))
    assert isinstance(message, Message), message
    assert (message.kind, message.host, message.seq, len(message.body["entries"])) == ("logs", "jetson-01", 41, 2)
    assert isinstance(decoded(batch()), Message), "an empty batch (only drops to report) is fine"
    without = batch(entry(1))
    del without["dropped"]
    del without["entries"][0]["unit"], without["entries"][0]["pid"]
    assert isinstance(decoded(without), Message), "dropped, unit, identifier, pid and transport are optional"


def with_entry(**fields: Any) -> dict[str, Any]:
    """A batch whose second entry has ``fields`` changed (a value of None removes the field)."""
    changed = {**entry(2), **fields}
    return batch(entry(1), {k: v for k, v in changed.items() if v is not None})


class Bad(NamedTuple):
    name: str
    payload: dict[str, Any]
    reason: str
    detail: str


BAD = [
    Bad("entries not a list", batch(entries={"a": 1}), "bad_body", "entries must be a list"),
    Bad("entries missing", {k: v for k, v in batch().items() if k != "entries"}, "bad_body", "entries must be a list"),
    Bad("too many entries", batch(*(entry(n) for n in range(5001))), "out_of_range", "5001 entries > 5000"),
    Bad("an entry not an object", batch(entry(1), "line"), "bad_body", "entries[1]: must be an object"),
    Bad("no cursor", with_entry(cursor=None), "bad_body", "entries[1]: ts (number), cursor, priority"),
    Bad("no message", with_entry(message=None), "bad_body", "entries[1]: ts (number)"),
    Bad("ts a string", with_entry(ts="now"), "bad_body", "entries[1]: ts (number)"),
    Bad("ts true", with_entry(ts=True), "bad_body", "entries[1]: ts (number)"),
    Bad("priority a string", with_entry(priority="err"), "bad_body", "entries[1]: ts (number), cursor, priority"),
    Bad("priority a float", with_entry(priority=3.0), "bad_body", "priority (integer)"),
    Bad("message not a string", with_entry(message=["x"]), "bad_body", "message (string)"),
    Bad("unit not a string", with_entry(unit=5), "bad_body", "entries[1]: unit, identifier and transport"),
    Bad("transport not a string", with_entry(transport={}), "bad_body", "unit, identifier and transport"),
    Bad("pid a string", with_entry(pid="812"), "bad_body", "entries[1]: pid must be an integer or null"),
    Bad("pid negative", with_entry(pid=-1), "out_of_range", "entries[1]: pid -1 is outside"),
    Bad("ts before 1970", with_entry(ts=-5.0), "out_of_range", "entries[1]: ts -5.0 is outside"),
    Bad("ts after 2200", with_entry(ts=1e11), "out_of_range", "entries[1]: ts 100000000000.0 is outside"),
    Bad("priority 8", with_entry(priority=8), "out_of_range", "entries[1]: priority 8 is outside 0..7"),
    Bad("an empty cursor", with_entry(cursor=""), "out_of_range", "the cursor must be 1..512 characters"),
    Bad("a cursor too long", with_entry(cursor="c" * 513), "out_of_range", "the cursor must be 1..512"),
    Bad("a message too long", with_entry(message="m" * 65537), "out_of_range", "longer than 65536 characters"),
    Bad("dropped not an object", batch(dropped=[1]), "bad_body", "dropped must map units to counts"),
    Bad("dropped a string count", batch(dropped={"a.service": "5"}), "bad_body", "dropped must map units"),
    Bad("dropped zero", batch(dropped={"a.service": 0}), "out_of_range", "dropped counts must be 1.."),
]


@pytest.mark.parametrize("case", BAD, ids=[case.name for case in BAD])
def test_a_bad_batch_is_rejected_with_its_reason(case: Bad) -> None:
    result = decoded(case.payload)
    assert isinstance(result, Rejected), result
    assert (result.reason, result.topic) == (case.reason, TOPIC)
    assert case.detail in result.detail, result.detail


def test_the_envelope_is_checked_as_for_every_kind() -> None:
    assert decoded(batch(type="events")).reason == "type_mismatch"
    assert decoded(batch(host="jetson-02")).reason == "host_mismatch"
    assert decoded(b'{"v": 1, "type": "logs"').reason == "bad_json"


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**63, max_value=2**64),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                    st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _or_anything(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a value of the field's kind (so that whole batches get through), else anything JSON holds."""
    return st.integers(0, 3).flatmap(lambda kind: valid if kind else _VALUES)


_ENTRIES = st.lists(st.fixed_dictionaries(
    {"ts": _or_anything(st.floats(min_value=-10, max_value=8e9)), "cursor": _or_anything(st.text(max_size=8)),
     "priority": _or_anything(st.integers(min_value=-1, max_value=8)), "message": _or_anything(st.text())},
    optional={"unit": _or_anything(st.text(max_size=10)), "identifier": _or_anything(st.text(max_size=5)),
              "transport": _or_anything(st.text(max_size=5)),
              "pid": _or_anything(st.integers(min_value=-1, max_value=2**53))}), max_size=4)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    opened = LogStore(str(tmp_path_factory.mktemp("logs") / "logs.db"))
    yield opened
    opened.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=_ENTRIES, dropped=_or_anything(st.dictionaries(st.text(max_size=5), _VALUES, max_size=2)))
def test_whatever_arrives_is_rejected_or_stored(store: LogStore, entries, dropped) -> None:
    """Any body: ingest answers a Message or a Rejected, never raises; what it accepts the store writes."""
    result = decoded(batch(*entries, dropped=dropped))
    assert isinstance(result, (Message, Rejected))
    if isinstance(result, Message):
        store.take(result.host, result.body)
        assert store.flush()
        assert store.figures()["dropped"] == {"queue_full": 0, "malformed": 0, "write_failed": 0}
