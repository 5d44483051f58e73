"""A hub in federation mode: the sites' bridged topics in, site faults and the sites' alerts out."""

import logging
from collections.abc import Iterable
from typing import Any

from fleetmon.hub.federation.alerts import SiteAlertFeed, site_conditions
from fleetmon.hub.federation.config import FederationConfig
from fleetmon.hub.federation.sites import SiteBook
from fleetmon.hub.rules.alerts import FleetAlert

log = logging.getLogger("fleetmon.hub")


class Center:
    def __init__(self, config: FederationConfig, prefix: str, now: float) -> None:
        self.config = config
        self.sites = SiteBook(config, prefix, now)
        self._feed = SiteAlertFeed()

    def restore(self, firing: Iterable[dict[str, Any]]) -> None:
        """The site alerts the alert journal holds as firing: resolved only by their site's next set."""
        self._feed.restore(firing)

    def conditions(self, now: float) -> list[FleetAlert]:
        """The alerts about sites (SiteUnreachable, SiteHubDown), judged with the fleet rules."""
        return site_conditions(self.sites.faults(now))

    def transitions(self, now: float) -> list[dict[str, Any]]:
        """The sites' alert transitions since the last call, for this hub's dispatcher; none when the
        inventory leaves paging to the site hubs (the API still shows every site's alerts)."""
        changes = self._feed.update(self.sites.alerts(), now)
        return changes if self.config.route_alerts else []
