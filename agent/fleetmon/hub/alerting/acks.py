"""Acknowledgements and escalation (fleetmon's own, beside Alertmanager's model).

An operator acknowledges one firing alert, or every firing alert of a group. An ack covers one episode of
the alert (its ``starts_at``): the same alert firing again later is news again. It may expire. While every
firing alert of a batch is acknowledged the group's repeats stop (fleetmon.hub.alerting.nflog), and while
every firing alert of a group is, it does not escalate.

Escalation: each tier of a route names an ``after`` and receivers. A group that has been firing
unacknowledged for a tier's ``after``, counted from its first flush with a firing alert in this episode,
also notifies that tier's receivers, which then stay on the group until everything in it resolves.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from fleetmon.hub.alerting.alert import Alert
from fleetmon.hub.alerting.route import EscalationTier


@dataclass(slots=True, frozen=True)
class Ack:
    fingerprint: str
    starts_at: float  # the alert episode acknowledged: a later episode of the same alert is not
    by: str
    at: float
    comment: str = ""
    expires_at: float | None = None

    def covers(self, alert: Alert, now: float) -> bool:
        return alert.starts_at == self.starts_at and (self.expires_at is None or now < self.expires_at)


class Acks:
    """Every acknowledgement, by alert fingerprint (the latest one wins). Not thread-safe: the dispatcher's
    lock guards it."""

    def __init__(self) -> None:
        self.by_fingerprint: dict[str, Ack] = {}

    def add(self, ack: Ack) -> None:
        self.by_fingerprint[ack.fingerprint] = ack

    def forget(self, fp: str) -> None:
        self.by_fingerprint.pop(fp, None)

    def covering(self, alert: Alert, now: float) -> Ack | None:
        """The ack in force for this episode of the alert, if any."""
        ack = self.by_fingerprint.get(alert.fingerprint)
        return ack if ack is not None and ack.covers(alert, now) else None

    def all_acknowledged(self, firing: Iterable[Alert], now: float) -> bool:
        """Whether there are firing alerts and an ack covers every one."""
        firing = list(firing)
        return bool(firing) and all(self.covering(alert, now) is not None for alert in firing)


def tiers_due(tiers: tuple[EscalationTier, ...], firing_since: float | None, active: int, now: float) -> int:
    """How many tiers should be active at ``now`` for a group firing (unacknowledged) since
    ``firing_since`` that has ``active`` of them active already; tiers only ever add up within an episode."""
    if firing_since is None:
        return active
    due = active
    while due < len(tiers) and now >= firing_since + tiers[due].after:
        due += 1
    return due


def next_escalation(tiers: tuple[EscalationTier, ...], firing_since: float | None, active: int,
                    now: float) -> float:
    """When the next tier is due (``now`` at the earliest, infinity when none is left or nothing fires)."""
    if firing_since is None or active >= len(tiers):
        return float("inf")
    return max(now, firing_since + tiers[active].after)


def escalation_reason(tier: EscalationTier) -> str:
    """The reason a tier's first notification of a group gives, in place of "first notification"."""
    return f"escalated: not acknowledged within {tier.after:g}s"
