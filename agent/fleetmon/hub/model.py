"""Values shared across the hub: a host's liveness states and the read-only view rules evaluate.

Liveness, per host (docs/hub.md "State model"):
  online   a birth of the current session, and samples arriving
  silent   online by its last status, but no sample for ``silent_after`` intervals (hung agent,
           broken network path to the broker while the TCP session lingers, stopped collector)
  offline  its Last Will or a clean shutdown status arrived (reason tells which)
  missing  the inventory expects it, but it has never been seen
A status of a lower session than the host's current one is stale (a late will) and ignored. Clock skew is
a separate flag: the host's own timestamps are too far from the hub's receive times.
"""

from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple

ONLINE, SILENT, OFFLINE, MISSING = "online", "silent", "offline", "missing"
STATES = (ONLINE, SILENT, OFFLINE, MISSING)


@dataclass(slots=True, frozen=True)
class HostView:
    """What fleet rules see of one host at one moment; built by the fleet state, never mutated."""

    host: str
    state: str
    since: float  # hub time the host entered ``state``
    groups: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    interval_s: float = 10.0
    session: int = 0
    last_sample_at: float | None = None  # hub receive time of the last live sample
    gaps: tuple[float, ...] = ()  # recent gaps between live samples, seconds, oldest first
    metrics: Mapping[str, float] = field(default_factory=dict)  # unlabelled gauges of the last sample
    reason: str = ""  # offline: "will" or "shutdown"
    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # latest result of each declared check


class StateChange(NamedTuple):
    """A host moving between liveness states, as the fleet state reports it and the history keeps it."""

    host: str
    ts: float  # hub time
    from_state: str
    to_state: str
    reason: str
