"""`fleetmon status`: the fleet as a terminal table, from the hub's API (http or https, fleetmon.hub.client) or
from the retained fleet view on the broker (no hub API needed, e.g. on a machine that only has broker access)."""

import json
import time
import urllib.error
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from fleetmon.hub.client import HubClient
from fleetmon.protocol.topics import fleet_host_topic

STATE_STYLE = {"online": "green", "silent": "yellow", "offline": "red", "missing": "magenta"}


def from_hub(hub: HubClient) -> list[dict[str, Any]]:
    return hub.call("GET", "/api/v1/hosts")["hosts"]


def hub_caveat(hub: HubClient, hosts: list[dict[str, Any]]) -> str:
    """A line saying the hub cannot vouch for what it shows (blind, or settling; on a central hub, a site
    it cannot reach), or ""."""
    sight = hub.call("GET", "/api/v1/hub").get("sight") or {}
    if sight.get("blind"):
        return f"the hub is blind ({sight['blind']['detail']}): the states below may be stale"
    if sight and not sight.get("judging"):
        return "the hub is settling after (re)connecting: no host is judged down yet"
    if any(host.get("site") for host in hosts):
        faulty = [s for s in hub.call("GET", "/api/v1/sites")["sites"] if s["state"] != "reachable"]
        return "; ".join(f"site {s['site']}: {s['detail']}, its hosts as last known" for s in faulty)
    return ""


def from_broker(url: str, prefix: str, wait: float = 2.0) -> list[dict[str, Any]]:
    """Collect the retained per-host fleet view the hub publishes."""
    from fleetmon.config_reader import Errors, Node
    from fleetmon.mqtt.broker import parse_broker
    from fleetmon.mqtt.link import MqttLink

    hosts: dict[str, dict[str, Any]] = {}

    def on_message(topic: str, payload: bytes) -> None:
        if payload:
            try:
                view = json.loads(payload)
            except ValueError:
                return
            if isinstance(view, dict) and "host" in view:
                hosts[view["host"]] = view

    errors = Errors()
    broker = parse_broker(Node({"url": url}, "broker", errors))
    if errors:
        raise ValueError("; ".join(errors))
    link = MqttLink(broker, f"fleetmon-status-{time.time_ns()}", None, b"",
                    on_connected=lambda: None, on_message=on_message,
                    subscriptions=(fleet_host_topic("+", prefix),))
    link.start()
    try:
        if not link.connected.wait(wait + 3):
            raise ConnectionError(f"cannot reach {url}: {link.last_error or 'no answer'}")
        time.sleep(wait)
    finally:
        link.stop()
    return sorted(hosts.values(), key=lambda h: h["host"])


def table(hosts: list[dict[str, Any]], caveat: str = "") -> Table:
    counts: dict[str, int] = {}
    for host in hosts:
        counts[host["state"]] = counts.get(host["state"], 0) + 1
    title = "fleet: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) if hosts else "fleet: empty"
    grid = Table(title=title, caption=f"[yellow]{caveat}[/]" if caveat else None, expand=False)
    sites = any(host.get("site") for host in hosts)  # a central hub's: each host with its site
    for column in ("host", *(("site",) if sites else ()), "groups", "state", "health", "CPU", "memory", "disk", "GPU",
                   "temp", "alerts"):
        grid.add_column(column, justify="right" if column in ("health", "CPU", "memory", "disk", "GPU", "temp")
                        else "left", no_wrap=column == "host")
    for host in hosts:
        state = host["state"]
        alerts = list(host.get("alerts", [])) + [f"check {c}" for c in host.get("failing_checks", [])]
        site = (host.get("site", ""),) if sites else ()
        if site and host.get("site_state", "reachable") != "reachable":
            site = (f"[yellow]{site[0]} ({host['site_state']})[/]",)
        grid.add_row(host["host"], *site, ",".join(host.get("groups", [])),
                     f"[{STATE_STYLE.get(state, 'white')}]{state}[/]", str(host.get("health", "")),
                     _percent(host.get("cpu")), _percent(host.get("memory")), _percent(host.get("disk")),
                     _percent(host.get("gpu")),
                     "" if host.get("temperature") is None else f"{host['temperature']:.0f}°C",
                     ", ".join(alerts))
    return grid


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f}%"


def run(hub: HubClient | None, broker: str | None, prefix: str, watch: float | None) -> int:
    console = Console()

    def fetch() -> Table:
        if hub is not None:
            hosts = from_hub(hub)
            return table(hosts, hub_caveat(hub, hosts))
        return table(from_broker(broker or "mqtt://127.0.0.1:1883", prefix))

    try:
        if not watch:
            console.print(fetch())
            return 0
        with Live(fetch(), console=console, refresh_per_second=1) as live:
            while True:
                time.sleep(watch)
                live.update(fetch())
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError, urllib.error.URLError) as exc:
        console.print(f"[red]fleetmon status: {exc}[/]")
        return 1
