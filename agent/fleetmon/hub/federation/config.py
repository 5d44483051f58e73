"""The ``federation:`` section of a central hub's config (docs/hub.md, "Federation")."""

from dataclasses import dataclass

from fleetmon.config_reader import Node
from fleetmon.protocol.topics import HOST_ID_PATTERN


@dataclass(frozen=True, slots=True)
class FederationConfig:
    enabled: bool = False
    #: The sites the center expects; one never heard from is unreachable. Others are taken as they appear.
    sites: tuple[str, ...] = ()
    #: Route the sites' alerts through this hub's alerting; False: show them, leave paging to the site hubs.
    route_alerts: bool = True
    #: A site whose hub sends no fleet view for this long is unreachable, even while its bridge looks up.
    stale_after: float = 60.0


def parse_federation(node: Node) -> FederationConfig:
    if node.missing:
        return FederationConfig()
    node = node.mapping(("sites", "route_alerts", "stale_after"))
    sites: list[str] = []
    for item in node.child("sites").sequence():
        name = item.string("")
        if not HOST_ID_PATTERN.match(name):
            item.fail("must be a site name of letters, digits, '.', '_' and '-' (a topic level)")
        elif name in sites:
            item.fail(f"site {name!r} is listed twice")
        else:
            sites.append(name)
    return FederationConfig(enabled=True, sites=tuple(sites),
                            route_alerts=node.child("route_alerts").boolean(True),
                            stale_after=node.child("stale_after").duration(60.0, minimum=1.0))
