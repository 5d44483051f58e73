"""The ranges every number the hub takes in must respect, on MQTT (ingest) and HTTP (the alerting API).

One place, because one out-of-range value used to be enough to stop the history writer (SQLite integers
are signed 64-bit) or to make every later rendering of an alert fail (RFC 3339 stops at year 9999). A
value outside these ranges is rejected where it enters, with the field named; docs/hub.md, "Input limits".
"""

from datetime import datetime, timezone
from typing import Any

#: Largest session and sequence number: the largest integer every JSON reader keeps exactly (JavaScript's
#: Number.MAX_SAFE_INTEGER; Node-RED and browsers read the topic tree too). One per agent start or per
#: message never gets there: a sample a millisecond would take 285,000 years.
MAX_COUNTER = 2**53 - 1
#: Times (Unix seconds) from 1970-01-01: a board without a real-time clock boots there, and such a host
#: must still be heard (its clock is flagged as skewed), ...
EARLIEST_TIME = 0.0
#: ... up to 2200-01-01, far from RFC 3339's year 9999 even after any timeout or interval is added.
LATEST_TIME = datetime(2200, 1, 1, tzinfo=timezone.utc).timestamp()
#: A host sampling less often than daily is not monitored live.
MAX_INTERVAL = 86400.0
#: Nesting depth of any payload. Python's own encoders (str, json) give up near 1,000 levels, orjson
#: reads 1,024; the deepest message of the protocol (a labelled series) is 5 levels deep.
MAX_DEPTH = 512


def number(value: Any) -> bool:
    """An int or a float, not a bool (JSON's true is no number)."""
    kind = type(value)
    return kind is int or kind is float


def counter(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNTER


def plausible_time(value: Any) -> bool:
    """A number within EARLIEST_TIME..LATEST_TIME (NaN and infinities are not)."""
    return number(value) and EARLIEST_TIME <= value <= LATEST_TIME


def interval(value: Any) -> bool:
    return number(value) and 0 < value <= MAX_INTERVAL


#: The accepted time range, for error messages.
TIME_RANGE = f"{EARLIEST_TIME:.0f}..{LATEST_TIME:.0f} (1970-01-01..2200-01-01)"


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether containers nest more than ``limit`` levels; walks containers only, level by level."""
    level = [value] if type(value) is dict or type(value) is list else []
    for _ in range(limit):
        nested = []
        for node in level:
            children = node.values() if type(node) is dict else node
            nested += [child for child in children if type(child) is dict or type(child) is list]
        if not nested:
            return False
        level = nested
    return True
