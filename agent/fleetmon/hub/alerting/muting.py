"""Muting: why an alert is not notified now, asked of each muter in turn (Alertmanager's ``notify.Muter``).

Each kind of mute is its own module answering one question, ``reason(labels, now)``, with "" for "not
muted": inhibition (fleetmon.hub.alerting.inhibit), silences (silences), a route's mute and active time
intervals (timeintervals) and flap tracking (flaps). A flush drops every alert some muter names a reason
for; the API shows the first reason. Muters are queries: asking one never changes what it answers next.
"""

from collections.abc import Mapping
from typing import Protocol


class Muter(Protocol):
    def reason(self, labels: Mapping[str, str], now: float) -> str:
        """Why an alert with these labels is muted at ``now``; "" when it is not."""
        ...


class Mutes:
    """Muters asked in order; the first that mutes gives the reason."""

    def __init__(self, *muters: Muter) -> None:
        self.muters = muters

    def reason(self, labels: Mapping[str, str], now: float) -> str:
        for muter in self.muters:
            reason = muter.reason(labels, now)
            if reason:
                return reason
        return ""


class Windows(Muter, Protocol):
    """Maintenance windows (fleetmon.hub.maintenance): a muter whose open windows the dispatcher watches, so
    that it looks at every group again when one opens or closes."""

    def active_ids(self, now: float) -> frozenset[str]: ...


class NoWindows:
    """No maintenance calendar: nothing muted, nothing ever opens."""

    def reason(self, labels: Mapping[str, str], now: float) -> str:
        return ""

    def active_ids(self, now: float) -> frozenset[str]:
        return frozenset()
