"""The sites' alerts as this hub's own alert source, and the alerts about the sites themselves.

Each site hub publishes the full set of its firing alerts, retained; ``SiteAlertFeed`` turns the
successive sets into transitions for the dispatcher: an alert new in a site's set fires (with the site's
``startsAt``, so a re-published set changes nothing), one gone from it resolves. A site not heard since
this hub started (unreachable, or its set not yet delivered) changes nothing: its alerts stay as they were
known, restored from the alert journal after a restart, instead of resolving because the link is down.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from fleetmon.hub.federation.sites import SiteFault
from fleetmon.hub.rules.alerts import FleetAlert
from fleetmon.protocol.alerts import clean_labels, fingerprint
from fleetmon.protocol.messages import rfc3339

SOURCE = "site"  # the dispatcher's source name for the sites' alerts (journaled with each alert)


class SiteAlertFeed:
    """The sites' firing alerts as this hub last passed them on, keyed by fingerprint. One thread owns it."""

    def __init__(self) -> None:
        self._firing: dict[str, dict[str, Any]] = {}

    def restore(self, firing: Iterable[Mapping[str, Any]]) -> None:
        """The site alerts a previous run passed on and had not resolved (Alertmanager-shaped)."""
        for alert in firing:
            self._firing[fingerprint(clean_labels(alert["labels"]))] = dict(alert)

    def update(self, sets: Mapping[str, list[dict[str, Any]] | None], now: float) -> list[dict[str, Any]]:
        """Take every site's current set; return the transitions, resolved first."""
        current: dict[str, dict[str, Any]] = {}
        heard = {site for site, alerts in sets.items() if alerts is not None}
        for alerts in sets.values():
            for alert in alerts or ():
                labels = clean_labels(alert["labels"])
                current.setdefault(fingerprint(labels), {
                    "status": "firing", "labels": labels, "annotations": dict(alert.get("annotations", {})),
                    "startsAt": alert["startsAt"], "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": alert.get("generatorURL", "")})
        transitions = []
        for key, known in list(self._firing.items()):
            if key not in current and known["labels"].get("site") in heard:
                del self._firing[key]
                transitions.append({**known, "status": "resolved", "endsAt": rfc3339(now)})
        for key, alert in current.items():
            known = self._firing.get(key)
            if known is None or known["startsAt"] != alert["startsAt"] or known["annotations"] != alert["annotations"]:
                self._firing[key] = alert
                transitions.append(alert)
        return transitions

    def firing(self) -> list[dict[str, Any]]:
        return [dict(alert) for alert in self._firing.values()]


def site_conditions(faults: Iterable[SiteFault]) -> list[FleetAlert]:
    """One fleet condition per site fault: the only alerts this hub raises about another site."""
    conditions = []
    for fault in faults:
        summary = ("site {} is unreachable: its hosts' state is as last known" if fault.alertname == "SiteUnreachable"
                   else "the hub of site {} is down: its hosts are not watched").format(fault.site)
        conditions.append(FleetAlert({"alertname": fault.alertname, "severity": "critical", "site": fault.site},
                                     {"summary": summary, "description": fault.detail}, fault.since))
    return conditions
