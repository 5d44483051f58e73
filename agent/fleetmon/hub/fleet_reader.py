"""Reading the fleet state from other threads: the HTTP routes and /metrics.

Ingest (paho's thread) and the rules loop change the fleet state under the hub's state lock. A reader
takes that lock itself, only for as long as it copies what it answers, so no route or collector needs to
know the lock exists, and none can hold it while it encodes JSON or renders thousands of hosts.
"""

import copy
import threading
import time
from typing import Any, NamedTuple

from fleetmon.hub.federation.sites import SiteBook
from fleetmon.hub.state import FleetState, HostRecord, declared_results, group_rollups, health_score, host_summary


class ScrapedHost(NamedTuple):
    """What /metrics renders for one host."""

    host: str
    state: str
    health: int
    labels: dict[str, str]
    last_sample: dict[str, Any] | None  # replaced, never changed in place, by ingest: safe to read unlocked


class FleetReader:
    def __init__(self, fleet: FleetState, lock: threading.Lock, sites: SiteBook | None = None) -> None:
        self._fleet, self._lock = fleet, lock
        self._sites = sites  # a central hub's sites (fleetmon.hub.federation), whose hosts it lists too

    def hosts(self) -> list[dict[str, Any]]:
        """Every host's one-line summary, by name; then, on a central hub, every site's hosts, by site."""
        with self._lock:
            local = [host_summary(record, self._fleet.skewed(record))
                     for record in sorted(self._fleet.hosts.values(), key=lambda r: r.host)]
        return local + self.site_hosts()

    def site_hosts(self) -> list[dict[str, Any]]:
        """A central hub's site hosts, as their site hubs published them (none on another hub)."""
        return [] if self._sites is None else self._sites.hosts(time.time())

    def sites(self) -> list[dict[str, Any]] | None:
        """A central hub's sites (state, link, hub, host counts); None when the hub is not one."""
        return None if self._sites is None else self._sites.view(time.time())

    def site_alerts(self) -> list[dict[str, Any]]:
        """Every site's firing alerts as its hub published them, labelled with the site."""
        sets = {} if self._sites is None else self._sites.alerts()
        return [alert for alerts in sets.values() for alert in alerts or ()]

    def host(self, name: str) -> dict[str, Any] | None:
        """One host's summary with its birth facts, thresholds, checks, edge alerts and last sample (as
        it arrived: its series are not validated); None for a host the hub does not know."""
        with self._lock:
            record = self._fleet.hosts.get(name)
            if record is not None:
                body = host_summary(record, self._fleet.skewed(record))
                # checks and edge alerts change in place with each message: copied, they can be encoded unlocked
                body.update(facts=record.facts, thresholds=record.thresholds, checks=declared_results(record),
                            edge_alerts=list(record.edge_alerts.values()), last_sample=record.last_sample)
                return body
        site_host = None if self._sites is None else self._sites.host(name, time.time())
        # a site's host: the one-line view its site hub published; its details and samples stay at the site
        return None if site_host is None else {**site_host, "facts": {}, "thresholds": [], "checks": {},
                                               "edge_alerts": [], "last_sample": None}

    def last_sample(self, name: str) -> tuple[float, dict[str, Any]] | None:
        """A host's last live sample, as it arrived, with its timestamp (the host's clock, as the history
        stores it); None for a host without one."""
        with self._lock:
            record = self._fleet.hosts.get(name)
            if record is None or record.last_sample is None or record.last_sample_ts is None:
                return None
            return record.last_sample_ts, record.last_sample

    def groups(self) -> dict[str, dict[str, Any]]:
        """Per inventory group: host counts by state and the mean health score."""
        with self._lock:
            return group_rollups(self._fleet)

    def records(self) -> list[HostRecord]:
        """Shallow copies of the host records. Enough for what reads the samples and the birth fields
        (the dashboard layout): ingest replaces those, never changes them in place."""
        with self._lock:
            return [copy.copy(record) for record in self._fleet.hosts.values()]

    def scrape(self) -> list[ScrapedHost]:
        """Each host's liveness, health score, labels and last sample, for /metrics."""
        with self._lock:
            return [ScrapedHost(r.host, r.state, health_score(r, self._fleet.skewed(r)), r.labels, r.last_sample)
                    for r in self._fleet.hosts.values()]
