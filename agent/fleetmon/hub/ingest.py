"""Decoding and validating what arrives on the fleet topics, before anything else touches it.

Every message is either a ``Message`` or a ``Rejected`` with a reason; nothing here raises. The checks
are the ones that keep the rest of the hub safe — no single message may stop the history writer, poison
the state or make an endpoint fail — and fast:

- orjson does part of it: it refuses NaN, Infinity, numbers beyond a double, lone surrogates and nesting
  beyond 1,024 levels, and reads integers beyond 64 bits as floats; so every number that gets through is
  finite and every integer fits 64 bits (metric and check values need no further check);
- every number the hub relies on is range-checked (fleetmon.hub.limits, docs/hub.md "Input limits"):
  session and seq (SQLite keeps signed 64-bit integers), ts (formatted as RFC 3339 later), interval_s,
  the times of edge alerts (as the alerting API checks them); nesting beyond ``MAX_DEPTH`` is refused
  in every kind but samples, as Python's own encoders give up near 1,000 levels;
- a sample's series are validated where they are used (the store counts malformed series, /metrics and
  the host API leave them out), so the hot path stays one JSON decode plus a few type and range checks.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from fleetmon.hub.alerting.alert import AlertError, TimeRangeError, from_json
from fleetmon.hub.limits import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_COUNTER,
    MAX_DEPTH,
    MAX_INTERVAL,
    TIME_RANGE,
    number,
    too_deep,
)
from fleetmon.protocol import SCHEMA_VERSION
from fleetmon.protocol.topics import parse_host_topic

#: Why a message was dropped; the hub counts each in fleetmon_hub_messages_rejected_total{reason}.
REASONS = ("oversized", "bad_topic", "bad_json", "unknown_version", "bad_envelope", "host_mismatch",
           "type_mismatch", "bad_body", "out_of_range", "too_deep", "internal_error")
# internal_error: the hub itself failed on a message it had accepted (a bug, logged with its traceback).


class Message(NamedTuple):
    kind: str  # the topic's kind: status, metrics, backfill, checks, alerts, events, logs
    host: str
    session: int
    seq: int
    ts: float  # the host's clock
    body: dict[str, Any]  # the whole payload
    received: float  # the hub's clock
    raw: bytes = b""  # the payload as it arrived: what the history store is given (see Store.write_sample)


class Rejected(NamedTuple):
    reason: str
    topic: str
    detail: str


def decode(topic: str, payload: bytes, received: float, prefix: str, max_bytes: int) -> Message | Rejected:
    if len(payload) > max_bytes:
        return Rejected("oversized", topic, f"{len(payload)} bytes > {max_bytes}")
    parsed = parse_host_topic(topic, prefix)
    if parsed is None:
        return Rejected("bad_topic", topic, "not <prefix>/hosts/<host>/<kind>")
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Rejected("bad_json", topic, str(exc))
    if not isinstance(body, dict):
        return Rejected("bad_json", topic, "not a JSON object")
    if body.get("v") != SCHEMA_VERSION:
        return Rejected("unknown_version", topic, f"v={_short(body.get('v'))}")
    session, seq, ts = body.get("session"), body.get("seq"), body.get("ts")
    if not (type(session) is int and type(seq) is int and number(ts) and isinstance(body.get("type"), str)):
        return Rejected("bad_envelope", topic, "session, seq (integers), ts (number) and type are required")
    if not (0 <= session <= MAX_COUNTER and 0 <= seq <= MAX_COUNTER and EARLIEST_TIME <= ts <= LATEST_TIME):
        return Rejected("out_of_range", topic, _envelope_range(session, seq, ts))
    if body.get("host") != parsed.host:
        return Rejected("host_mismatch", topic, f"payload host {_short(body.get('host'))}")
    expected_type = "metrics" if parsed.kind == "backfill" else parsed.kind
    if body["type"] != expected_type:
        return Rejected("type_mismatch", topic, f"type {_short(body['type'])} on a {parsed.kind} topic")
    # Samples are the hot path (counting brackets alone would add a fifth to it): their series are checked
    # where they are used. The other kinds are rare; a payload nests no deeper than it has brackets, so only
    # the few with that many are walked.
    if parsed.kind not in _SAMPLES and payload.count(b"[") + payload.count(b"{") > MAX_DEPTH and too_deep(body):
        return Rejected("too_deep", topic, f"nested deeper than {MAX_DEPTH} levels")
    problem = _BODY_CHECKS[parsed.kind](body)
    if problem is not None:
        return Rejected(problem[0], topic, problem[1])
    return Message(parsed.kind, parsed.host, session, seq, float(ts), body, received, payload)


_SAMPLES = ("metrics", "backfill")
#: What a body check finds wrong: (reason, detail), or None when nothing is.
Problem = tuple[str, str] | None


def _envelope_range(session: int, seq: int, ts: float) -> str:
    if not 0 <= session <= MAX_COUNTER:
        return f"session {session} is outside 0..{MAX_COUNTER}"
    if not 0 <= seq <= MAX_COUNTER:
        return f"seq {seq} is outside 0..{MAX_COUNTER}"
    return f"ts {ts!r} is outside the Unix seconds {TIME_RANGE}"


def _short(value: Any) -> str:
    """A sender's value in a log line, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())


def _interval(body: dict[str, Any]) -> Problem:
    interval = body.get("interval_s")
    if not number(interval):
        return "bad_body", "interval_s must be a positive number"
    if not 0 < interval <= MAX_INTERVAL:
        return "out_of_range", f"interval_s {interval!r} is outside (0, {MAX_INTERVAL:.0f}] seconds"
    return None


def _status(body: dict[str, Any]) -> Problem:
    state = body.get("state")
    if state == "offline":
        return None if isinstance(body.get("reason"), str) else ("bad_body", "offline status without a reason")
    if state != "online":
        return "bad_body", "state must be online or offline"
    problem = _interval(body)
    if problem is not None:
        return problem
    if not (_strings(body.get("groups")) and _string_map(body.get("labels"))):
        return "bad_body", "groups must be a list of strings and labels a map of strings"
    if not (isinstance(body.get("facts"), dict) and isinstance(body.get("thresholds"), list)
            and isinstance(body.get("checks"), list)):
        return "bad_body", "facts, thresholds and checks are required"
    if not isinstance(body.get("agent", {}), dict):
        return "bad_body", "agent must be an object"
    return None


def _metrics(body: dict[str, Any]) -> Problem:
    metrics = body.get("metrics")
    if not isinstance(metrics, dict):
        return "bad_body", "metrics must be an object"
    if "" in metrics:
        return "bad_body", "a metric name must not be empty"
    return _interval(body)


def _checks(body: dict[str, Any]) -> Problem:
    results = body.get("results")
    if not (isinstance(results, list) and all(
            isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("ok"), bool)
            for r in results)):
        return "bad_body", "results must be a list of {name, ok, ...}"
    return None


def _alerts(body: dict[str, Any]) -> Problem:
    alerts = body.get("alerts")
    if not (isinstance(alerts, list) and all(
            isinstance(a, dict) and a.get("status") in ("firing", "resolved") and _string_map(a.get("labels"))
            and isinstance(a["labels"].get("alertname"), str) and isinstance(a.get("fingerprint"), str)
            for a in alerts)):
        return "bad_body", "alerts must be a list of {status, labels with alertname, fingerprint, ...}"
    if "complete" in body and not isinstance(body["complete"], bool):
        return "bad_body", "complete must be true or false"
    # What the dispatcher will be given: an alert it would refuse must not enter the fleet state either.
    for index, alert in enumerate(alerts):
        try:
            from_json(alert, body["ts"], None)
        except TimeRangeError as exc:
            return "out_of_range", f"alerts[{index}]: {exc}"
        except AlertError as exc:
            return "bad_body", f"alerts[{index}]: {exc}"
    return None


def _events(body: dict[str, Any]) -> Problem:
    event = body.get("event")
    if not (isinstance(event, dict) and isinstance(event.get("kind"), str)):
        return "bad_body", "event must be an object with a kind"
    return None


#: What a logs batch may hold (schemas/logs.json): entries per batch, characters of a cursor and a message.
MAX_LOG_ENTRIES, MAX_CURSOR, MAX_LOG_MESSAGE = 5000, 512, 65536
_LOG_TEXTS = ("unit", "identifier", "transport")


def _logs(body: dict[str, Any]) -> Problem:
    """A journal batch: each entry as the log store keeps it, so no entry can stop its writer."""
    entries = body.get("entries")
    if not isinstance(entries, list):
        return "bad_body", "entries must be a list"
    if len(entries) > MAX_LOG_ENTRIES:
        return "out_of_range", f"{len(entries)} entries > {MAX_LOG_ENTRIES}"
    for index, entry in enumerate(entries):
        problem = _log_entry(entry)
        if problem is not None:
            return problem[0], f"entries[{index}]: {problem[1]}"
    dropped = body.get("dropped", {})
    if not (isinstance(dropped, dict) and all(type(n) is int for n in dropped.values())):
        return "bad_body", "dropped must map units to counts"
    if not all(1 <= n <= MAX_COUNTER for n in dropped.values()):
        return "out_of_range", f"dropped counts must be 1..{MAX_COUNTER}"
    return None


def _log_entry(entry: Any) -> Problem:
    if not isinstance(entry, dict):
        return "bad_body", "must be an object"
    cursor, message, priority, pid = entry.get("cursor"), entry.get("message"), entry.get("priority"), entry.get("pid")
    if not (isinstance(cursor, str) and isinstance(message, str) and type(priority) is int
            and number(entry.get("ts"))):
        return "bad_body", "ts (number), cursor, priority (integer) and message (string) are required"
    if not all(isinstance(entry.get(key, ""), str) for key in _LOG_TEXTS):
        return "bad_body", "unit, identifier and transport must be strings"
    if pid is not None and type(pid) is not int:
        return "bad_body", "pid must be an integer or null"
    if not EARLIEST_TIME <= entry["ts"] <= LATEST_TIME:
        return "out_of_range", f"ts {entry['ts']!r} is outside the Unix seconds {TIME_RANGE}"
    if not 0 <= priority <= 7:
        return "out_of_range", f"priority {priority} is outside 0..7"
    if not 1 <= len(cursor) <= MAX_CURSOR:
        return "out_of_range", f"the cursor must be 1..{MAX_CURSOR} characters"
    if len(message) > MAX_LOG_MESSAGE:
        return "out_of_range", f"the message is longer than {MAX_LOG_MESSAGE} characters"
    if pid is not None and not 0 <= pid <= MAX_COUNTER:
        return "out_of_range", f"pid {pid} is outside 0..{MAX_COUNTER}"
    return None


_BODY_CHECKS: dict[str, Callable[[dict[str, Any]], Problem]] = {
    "status": _status, "metrics": _metrics, "backfill": _metrics, "checks": _checks, "alerts": _alerts,
    "events": _events, "logs": _logs}
