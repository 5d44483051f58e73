"""Decoding and validating what arrives on the fleet topics, before anything else touches it.

Every message is either a ``Message`` or a ``Rejected`` with a reason; nothing here raises. The checks
are the ones that keep the rest of the hub safe and fast (envelope, types the state relies on); a
sample's series are validated where they are used (the store counts malformed series), so the hot path
stays one JSON decode plus a few type checks.
"""

from typing import Any, NamedTuple

import orjson

from fleetmon.protocol import SCHEMA_VERSION
from fleetmon.protocol.topics import parse_host_topic

#: Why a message was dropped; the hub counts each in fleetmon_hub_messages_rejected_total{reason}.
REASONS = ("oversized", "bad_topic", "bad_json", "unknown_version", "bad_envelope", "host_mismatch",
           "type_mismatch", "bad_body")


class Message(NamedTuple):
    kind: str  # the topic's kind: status, metrics, backfill, checks, alerts, events
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
        return Rejected("unknown_version", topic, f"v={body.get('v')!r}")
    session, seq, ts = body.get("session"), body.get("seq"), body.get("ts")
    if not (_integer(session) and _integer(seq) and _number(ts) and isinstance(body.get("type"), str)):
        return Rejected("bad_envelope", topic, "session, seq (integers), ts (number) and type are required")
    if body.get("host") != parsed.host:
        return Rejected("host_mismatch", topic, f"payload host {body.get('host')!r}")
    expected_type = "metrics" if parsed.kind == "backfill" else parsed.kind
    if body["type"] != expected_type:
        return Rejected("type_mismatch", topic, f"type {body['type']!r} on a {parsed.kind} topic")
    problem = _BODY_CHECKS[parsed.kind](body)
    if problem:
        return Rejected("bad_body", topic, problem)
    return Message(parsed.kind, parsed.host, session, seq, float(ts), body, received, payload)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())


def _status(body: dict[str, Any]) -> str:
    state = body.get("state")
    if state == "offline":
        return "" if isinstance(body.get("reason"), str) else "offline status without a reason"
    if state != "online":
        return "state must be online or offline"
    if not (_number(body.get("interval_s")) and body["interval_s"] > 0):
        return "interval_s must be a positive number"
    if not (_strings(body.get("groups")) and _string_map(body.get("labels"))):
        return "groups must be a list of strings and labels a map of strings"
    if not (isinstance(body.get("facts"), dict) and isinstance(body.get("thresholds"), list)
            and isinstance(body.get("checks"), list)):
        return "facts, thresholds and checks are required"
    return ""


def _metrics(body: dict[str, Any]) -> str:
    if not isinstance(body.get("metrics"), dict):
        return "metrics must be an object"
    if not (_number(body.get("interval_s")) and body["interval_s"] > 0):
        return "interval_s must be a positive number"
    return ""


def _checks(body: dict[str, Any]) -> str:
    results = body.get("results")
    if not (isinstance(results, list) and all(
            isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("ok"), bool)
            for r in results)):
        return "results must be a list of {name, ok, ...}"
    return ""


def _alerts(body: dict[str, Any]) -> str:
    alerts = body.get("alerts")
    if not (isinstance(alerts, list) and all(
            isinstance(a, dict) and a.get("status") in ("firing", "resolved") and _string_map(a.get("labels"))
            and isinstance(a["labels"].get("alertname"), str) and isinstance(a.get("fingerprint"), str)
            for a in alerts)):
        return "alerts must be a list of {status, labels with alertname, fingerprint, ...}"
    return ""


def _events(body: dict[str, Any]) -> str:
    event = body.get("event")
    if not (isinstance(event, dict) and isinstance(event.get("kind"), str)):
        return "event must be an object with a kind"
    return ""


_BODY_CHECKS = {"status": _status, "metrics": _metrics, "backfill": _metrics, "checks": _checks,
                "alerts": _alerts, "events": _events}
