"""The alert store: every alert the dispatcher knows, by fingerprint, and the source that sent it.

Ingest merges a re-sent alert with the stored copy (fleetmon.hub.alerting.alert.merge) and says whether it
changed state, which the history and flap tracking record. Resolved alerts no group holds any more are
forgotten after ``RESOLVED_RETENTION`` (Alertmanager's garbage collection), so a late re-send of a resolved
alert still merges with it for a while.

Sources: "fleet" and "edge" for the hub's own rules and agents, "" for API clients. The hub's own alerts
never time out: a firing one waits for its source to resolve it, and a restarted hub hands it back to that
source (``firing_from``).
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from fleetmon.hub.alerting.alert import NEVER, Alert, merge

#: Resolved alerts no group holds any more are forgotten after this long (Alertmanager's GC interval).
RESOLVED_RETENTION = 900.0


class Ingested(NamedTuple):
    alert: Alert  # the stored copy
    transition: str | None  # "firing" or "resolved" when the alert is new or changed state; None otherwise
    flipped: bool  # an alert already known changed state: what flap tracking counts


class AlertStore:
    """Not thread-safe: the dispatcher's lock guards it."""

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}
        self.sources: dict[str, str] = {}  # by fingerprint

    def __iter__(self) -> Iterator[Alert]:
        return iter(self.alerts.values())

    def get(self, fp: str) -> Alert | None:
        return self.alerts.get(fp)

    def ingest(self, alert: Alert, source: str, now: float) -> Ingested:
        old = self.alerts.get(alert.fingerprint)
        stored = merge(old, alert, now)
        changed = old is None or old.resolved(now) != stored.resolved(now)
        self.alerts[stored.fingerprint] = stored
        self.sources[stored.fingerprint] = source
        transition = ("resolved" if stored.resolved(now) else "firing") if changed else None
        return Ingested(stored, transition, old is not None and changed)

    def restore(self, alerts: Iterable[Alert], sources: Mapping[str, str]) -> None:
        self.sources.update(sources)
        self.alerts.update((alert.fingerprint, alert) for alert in alerts)

    def forget_resolved(self, held: set[str], now: float) -> list[str]:
        """Drop the alerts resolved for ``RESOLVED_RETENTION`` that no group ``held``; returns their fingerprints."""
        gone = [fp for fp, alert in self.alerts.items()
                if fp not in held and alert.resolved(now - RESOLVED_RETENTION)]
        for fp in gone:
            del self.alerts[fp]
            self.sources.pop(fp, None)
        return gone

    def firing_labels(self, now: float) -> list[Mapping[str, str]]:
        """The label sets of the alerts firing at ``now``: the sources inhibition considers."""
        return [a.labels for a in self.alerts.values() if not a.resolved(now)]

    def firing_from(self, source: str, now: float) -> list[Alert]:
        """The firing alerts of one of the hub's own sources ("" for those journaled before sources were).
        The hub's own alerts never time out: an alert with an end is an API client's."""
        return [a for fp, a in self.alerts.items()
                if self.sources.get(fp, "") == source and a.ends_at == NEVER and not a.resolved(now)]
