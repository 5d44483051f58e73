"""Alerts as Alertmanager sees them: the label fingerprint and the JSON value of one alert.

Edge alerts (evaluated by the agent) and fleet alerts (evaluated by the hub) travel in this shape, which
is the one Alertmanager's API and webhooks use, so receivers written for Alertmanager read ours unchanged
and the fingerprint names the same alert in both systems.
"""

from typing import Any, Dict, Mapping, Optional

from fleetmon.protocol.messages import ZERO_TIME, rfc3339

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = 0xFF  # prometheus/common's SeparatorByte: a byte that never occurs in UTF-8 text


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-1a 64 over the labels sorted by name.

    Each name and each value is followed by a 0xFF byte; the result prints as 16 lowercase hex digits.
    """
    value = _FNV_OFFSET
    for name in sorted(labels, key=lambda n: n.encode("utf-8")):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


def clean_labels(labels: Mapping[str, str]) -> Dict[str, str]:
    """Drop empty values, as Alertmanager does on ingestion, so fingerprints agree with its own."""
    return {name: value for name, value in labels.items() if value != ""}


def alert(labels: Mapping[str, str], annotations: Mapping[str, str], starts_at: float,
          ends_at: Optional[float] = None) -> Dict[str, Any]:
    """One alert: firing while ``ends_at`` is None (endsAt is then Alertmanager's zero time)."""
    labels = clean_labels(labels)
    return {
        "status": "firing" if ends_at is None else "resolved",
        "labels": labels,
        "annotations": dict(annotations),
        "startsAt": rfc3339(starts_at),
        "endsAt": ZERO_TIME if ends_at is None else rfc3339(ends_at),
        "fingerprint": fingerprint(labels),
    }
