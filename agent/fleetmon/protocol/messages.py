"""Payload builders for every agent message; docs/protocol.md and schemas/*.json describe them.

Every payload carries the same envelope: ``v`` (schema version), ``type``, ``host``, ``session`` (grows by
one each time the agent starts), ``seq`` (per type within a session, from 1) and ``ts`` (Unix seconds, UTC,
when the content was produced). Consumers ignore a status whose session is lower than one they have seen:
that is a late Last Will of an earlier run.
"""

import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from fleetmon.protocol import SCHEMA_VERSION

#: Alertmanager's zero time, used as endsAt of a firing alert.
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(kind: str, host: str, session: int, seq: int, ts: float) -> Dict[str, Any]:
    return {"v": SCHEMA_VERSION, "type": kind, "host": host, "session": session, "seq": seq,
            "ts": round(ts, 3)}


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def status(host: str, session: int, seq: int, ts: float, state: str, *, agent_version: str = "",
           started_at: float = 0.0, interval_s: float = 0.0, facts: Optional[Mapping[str, Any]] = None,
           groups: Optional[List[str]] = None, labels: Optional[Mapping[str, str]] = None,
           thresholds: Optional[List[Mapping[str, Any]]] = None,
           checks: Optional[List[Mapping[str, Any]]] = None, reason: str = "") -> Dict[str, Any]:
    """Birth (state online) or death (state offline, reason 'will' or 'shutdown')."""
    payload = envelope("status", host, session, seq, ts)
    payload["state"] = state
    if state == "offline":
        payload["reason"] = reason
        return payload
    payload.update(agent={"version": agent_version}, started_at=round(started_at, 3),
                   interval_s=interval_s, facts=dict(facts or {}), groups=list(groups or []),
                   labels=dict(labels or {}), thresholds=list(thresholds or []), checks=list(checks or []))
    return payload


def metrics(host: str, session: int, seq: int, ts: float, interval_s: float, duration_s: float,
            series: Mapping[str, Any], errors: Mapping[str, str]) -> Dict[str, Any]:
    payload = envelope("metrics", host, session, seq, ts)
    payload.update(interval_s=interval_s, duration_s=round(duration_s, 6), metrics=series)
    if errors:
        payload["errors"] = dict(errors)
    return payload


def checks(host: str, session: int, seq: int, ts: float, results: List[Mapping[str, Any]]) -> Dict[str, Any]:
    payload = envelope("checks", host, session, seq, ts)
    payload["results"] = list(results)
    return payload


def alerts(host: str, session: int, seq: int, ts: float, transitions: List[Mapping[str, Any]],
           complete: bool = False) -> Dict[str, Any]:
    """Alert transitions; with ``complete``, every alert firing on the host now (a sync: the hub resolves
    the host's other edge alerts, whose resolution it may have missed)."""
    payload = envelope("alerts", host, session, seq, ts)
    payload["alerts"] = list(transitions)
    if complete:
        payload["complete"] = True
    return payload


def event(host: str, session: int, seq: int, ts: float, kind: str, message: str,
          details: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    payload = envelope("events", host, session, seq, ts)
    payload["event"] = {"kind": kind, "message": message, "details": dict(details or {})}
    return payload


#: What a log entry carries (schemas/logs.json): the journal's fields the hub stores and searches.
LOG_FIELDS = ("ts", "cursor", "priority", "unit", "identifier", "pid", "transport", "message")


def logs(host: str, session: int, seq: int, ts: float, entries: List[Mapping[str, Any]],
         dropped: Optional[Mapping[str, int]] = None) -> Dict[str, Any]:
    """A batch of journal entries, oldest first, already filtered and redacted on the host; ``dropped``
    counts per unit what the host's rate limit dropped since the previous batch."""
    payload = envelope("logs", host, session, seq, ts)
    payload["entries"] = list(entries)
    if dropped:
        payload["dropped"] = dict(dropped)
    return payload


class Ack(NamedTuple):
    """The hub's delivery ack for one host (schemas/ack.json): every metrics sample of ``session`` with
    seq <= ``upto`` is in its history (or was given up and counted); the inclusive ``missing`` ranges
    above it are asked to be sent again on the back-fill topic."""

    host: str
    session: int
    upto: int
    missing: Tuple[Tuple[int, int], ...]


def ack(host: str, ts: float, session: int, upto: int, missing: Sequence[Tuple[int, int]]) -> Dict[str, Any]:
    """Published by the hub, not by agents: no ``seq``, as nothing is gained by ordering acks."""
    return {"v": SCHEMA_VERSION, "type": "ack", "host": host, "ts": round(ts, 3), "session": session,
            "upto": upto, "missing": [[first, last] for first, last in missing]}


def parse_ack(payload: bytes) -> Optional[Ack]:
    """An ack as the agent reads it, or None for anything malformed (an empty retained message included)."""
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    if not (isinstance(body, dict) and body.get("v") == SCHEMA_VERSION and body.get("type") == "ack"
            and isinstance(body.get("host"), str) and _count(body.get("session")) and _count(body.get("upto"))
            and isinstance(body.get("missing"), list)):
        return None
    missing = []
    for entry in body["missing"]:
        if not (isinstance(entry, list) and len(entry) == 2 and all(_count(v) for v in entry)
                and body["upto"] < entry[0] <= entry[1]):
            return None
        missing.append((entry[0], entry[1]))
    return Ack(body["host"], body["session"], body["upto"], tuple(missing))


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
