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
