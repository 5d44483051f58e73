"""What a central hub knows of each site, from the topics the site brokers bridge to its broker.

Under ``<prefix>/sites/<site>/``: the site hub's retained fleet view (``fleet/hosts/<host>``,
``fleet/summary``), its retained active alerts (``fleet/alerts/active``), its retained status
(``hub/status``: birth and Last Will) and mosquitto's bridge notification (``bridge``: ``1`` while the
bridge is connected, ``0`` from its Last Will when the link drops). Written on paho's thread, read by the
rules loop and the HTTP routes: one lock, held only to copy.
"""

import json
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fleetmon.hub.federation.config import FederationConfig
from fleetmon.protocol.topics import HOST_ID_PATTERN

#: Sites and hosts per site one center keeps at most: a misbehaving bridge cannot grow the heap for ever.
MAX_SITES = 1_000
MAX_SITE_HOSTS = 100_000


@dataclass(slots=True)
class Site:
    name: str
    link: bool | None = None  # the bridge notification: True up, False down, None never told
    link_since: float | None = None
    hub: str = ""  # the site hub's retained status: "online", "offline", "" never told
    hub_since: float | None = None
    heard: float | None = None  # when the site hub's fleet view last arrived (this hub's clock)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    alerts: list[dict[str, Any]] | None = None  # the site hub's firing alerts; None: not heard since start


class SiteFault(NamedTuple):
    """One site this hub cannot vouch for: ``alertname`` SiteUnreachable or SiteHubDown."""

    site: str
    alertname: str
    since: float
    detail: str


class SiteBook:
    def __init__(self, config: FederationConfig, prefix: str, now: float) -> None:
        self._lock = threading.Lock()
        self._root = f"{prefix}/sites/"
        self._config = config
        self._started = now
        self._sites: dict[str, Site] = {name: Site(name) for name in config.sites}

    def subscriptions(self) -> tuple[str, ...]:
        root = self._root
        return (f"{root}+/fleet/hosts/+", f"{root}+/fleet/summary", f"{root}+/fleet/alerts/active",
                f"{root}+/hub/status", f"{root}+/bridge")

    def owns(self, topic: str) -> bool:
        return topic.startswith(self._root)

    # --- messages (paho's thread) ------------------------------------------------------------------

    def take(self, topic: str, payload: bytes, now: float) -> str:
        """Apply one bridged message; "" when taken, else why it was refused (counted by the caller)."""
        name, _, rest = topic[len(self._root):].partition("/")
        if not HOST_ID_PATTERN.match(name):
            return "bad_site_topic"
        if rest == "bridge":
            if payload not in (b"0", b"1"):
                return "bad_site_message"
            with self._lock:
                site = self._site(name)
                if site is None:
                    return "too_many_sites"
                if site.link is not (payload == b"1"):
                    site.link, site.link_since = payload == b"1", now
            return ""
        body: Any = None
        if payload:
            try:
                body = json.loads(payload)
            except ValueError:
                return "bad_site_message"
            if not isinstance(body, dict):
                return "bad_site_message"
        with self._lock:
            site = self._site(name)
            if site is None:
                return "too_many_sites"
            return self._apply(site, rest, body, now)

    def _site(self, name: str) -> Site | None:
        site = self._sites.get(name)
        if site is None and len(self._sites) < MAX_SITES:
            site = self._sites[name] = Site(name)
        return site

    def _apply(self, site: Site, rest: str, body: dict[str, Any] | None, now: float) -> str:
        if rest == "hub/status":
            state = "" if body is None else body.get("state")
            if state not in ("online", "offline", ""):
                return "bad_site_message"
            if state != site.hub:
                site.hub, site.hub_since = state, now
            return ""
        if rest.startswith("fleet/hosts/"):
            host = rest[len("fleet/hosts/"):]
            if body is None:  # the site hub cleared a host that left its inventory
                site.hosts.pop(host, None)
                return ""
            if body.get("host") != host or not isinstance(body.get("state"), str):
                return "bad_site_message"
            if host not in site.hosts and len(site.hosts) >= MAX_SITE_HOSTS:
                return "too_many_site_hosts"
            site.hosts[host] = body
        elif rest == "fleet/summary":
            if body is not None:
                site.summary = body
        elif rest == "fleet/alerts/active":
            alerts = None if body is None else body.get("alerts")
            if not isinstance(alerts, list):
                return "bad_site_message"
            site.alerts = [a for a in alerts if _well_formed(a)]
            if len(site.alerts) != len(alerts):
                return "bad_site_alert"
        else:
            return "bad_site_topic"
        site.heard = now
        return ""

    # --- reading (rules loop, HTTP) ----------------------------------------------------------------

    def faults(self, now: float) -> list[SiteFault]:
        """The sites this hub cannot vouch for now, one fault each: the bridge down (unreachable), the site
        hub offline behind a working link (its hosts unwatched), or nothing heard for ``stale_after``."""
        faults = []
        with self._lock:
            stale_after = self._config.stale_after
            for site in sorted(self._sites.values(), key=lambda s: s.name):
                if site.link is False:
                    faults.append(SiteFault(site.name, "SiteUnreachable", site.link_since or now,
                                            f"the bridge from site {site.name} to the central broker is down"))
                elif site.hub == "offline":
                    faults.append(SiteFault(site.name, "SiteHubDown", site.hub_since or now,
                                            f"the hub of site {site.name} is offline (its broker still bridges)"))
                else:
                    last = self._started if site.heard is None else site.heard
                    if now - last > stale_after:
                        faults.append(SiteFault(site.name, "SiteUnreachable", last,
                                                f"no fleet view from site {site.name} for {now - last:.0f} s"))
        return faults

    def states(self, now: float) -> dict[str, str]:
        """Each site's state: ``reachable``, or the alertname of its fault."""
        faulty = {fault.site: fault.alertname for fault in self.faults(now)}
        with self._lock:
            names = list(self._sites)
        return {name: "unreachable" if faulty.get(name) == "SiteUnreachable" else
                "hub_down" if name in faulty else "reachable" for name in names}

    def hosts(self, now: float) -> list[dict[str, Any]]:
        """Every site host's one-line view as its site hub published it, with ``site`` and ``site_state``."""
        states = self.states(now)
        with self._lock:
            return [{**view, "site": site.name, "site_state": states.get(site.name, "reachable")}
                    for site in sorted(self._sites.values(), key=lambda s: s.name)
                    for _, view in sorted(site.hosts.items())]

    def host(self, name: str, now: float) -> dict[str, Any] | None:
        states = self.states(now)
        with self._lock:
            for site in sorted(self._sites.values(), key=lambda s: s.name):
                view = site.hosts.get(name)
                if view is not None:
                    return {**view, "site": site.name, "site_state": states.get(site.name, "reachable")}
        return None

    def alerts(self) -> dict[str, list[dict[str, Any]] | None]:
        """Each site's firing alerts (None for a site not heard since this hub started), labelled ``site``."""
        with self._lock:
            return {site.name: None if site.alerts is None else
                    [{**a, "labels": {**a["labels"], "site": site.name}} for a in site.alerts]
                    for site in self._sites.values()}

    def view(self, now: float) -> list[dict[str, Any]]:
        """The sites for the API and the console: state, link, hub, hosts by state, firing alerts."""
        states, faults = self.states(now), {f.site: f for f in self.faults(now)}
        with self._lock:
            sites = []
            for site in sorted(self._sites.values(), key=lambda s: s.name):
                counts: dict[str, int] = {}
                for view in site.hosts.values():
                    counts[view["state"]] = counts.get(view["state"], 0) + 1
                fault = faults.get(site.name)
                sites.append({"site": site.name, "state": states[site.name],
                              "detail": fault.detail if fault else "", "since": fault.since if fault else None,
                              "link": {True: "up", False: "down", None: "unknown"}[site.link],
                              "link_since": site.link_since, "hub": site.hub or "unknown",
                              "last_heard": site.heard, "hosts": len(site.hosts), "states": counts,
                              "alerts": len(site.alerts or [])})
        return sites


def _well_formed(alert: Any) -> bool:
    """An alert as a site hub publishes it: string labels with an alertname, string annotations, a start."""
    if not isinstance(alert, dict) or not isinstance(alert.get("startsAt"), str):
        return False
    labels, annotations = alert.get("labels"), alert.get("annotations", {})
    return (isinstance(labels, dict) and isinstance(labels.get("alertname"), str)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
            and isinstance(annotations, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()))
