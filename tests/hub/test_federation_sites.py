"""A central hub's book of sites (fleetmon.hub.federation): the bridged topics in, faults and alerts out."""

import json

import pytest

from fleetmon.config_reader import ConfigError
from fleetmon.hub.config import parse_config
from fleetmon.hub.federation.alerts import SiteAlertFeed, site_conditions
from fleetmon.hub.federation.config import FederationConfig
from fleetmon.hub.federation.sites import SiteBook
from fleetmon.protocol.alerts import alert

ROOT = "fleetmon/v1/sites"


def book(sites=("east",), stale_after=30.0, now=1000.0) -> SiteBook:
    return SiteBook(FederationConfig(True, tuple(sites), True, stale_after), "fleetmon/v1", now)


def view(host: str, state: str = "online") -> bytes:
    return json.dumps({"host": host, "state": state, "health": 100, "alerts": []}).encode()


def alerts(*items) -> bytes:
    return json.dumps({"v": 1, "type": "fleet_alerts", "alerts": list(items)}).encode()


def host_down(host: str, start: float = 900.0) -> dict:
    return alert({"alertname": "HostDown", "host": host, "severity": "critical"}, {"summary": f"{host} down"}, start)


def test_config_is_checked_with_key_paths():
    config = parse_config({"federation": {"sites": ["east", "west"], "route_alerts": False, "stale_after": "2m"}})
    assert config.federation == FederationConfig(True, ("east", "west"), False, 120.0)
    assert not parse_config({}).federation.enabled
    with pytest.raises(ConfigError) as caught:
        parse_config({"federation": {"sites": ["east", "east", "a/b"], "colour": 1}})
    text = "\n".join(caught.value.errors)
    assert "federation.sites[1]: site 'east' is listed twice" in text
    assert "federation.sites[2]: must be a site name" in text
    assert "federation.colour" in text


def test_site_hosts_carry_their_site_and_a_cleared_host_leaves():
    sites = book()
    assert sites.take(f"{ROOT}/east/fleet/hosts/cam-1", view("cam-1"), 1001.0) == ""
    assert sites.take(f"{ROOT}/east/fleet/hosts/cam-2", view("cam-2", "offline"), 1001.0) == ""
    assert sites.take(f"{ROOT}/west/fleet/hosts/srv-1", view("srv-1"), 1001.0) == ""  # a site not listed: taken
    hosts = sites.hosts(1002.0)
    assert [(h["host"], h["site"], h["state"], h["site_state"]) for h in hosts] == [
        ("cam-1", "east", "online", "reachable"), ("cam-2", "east", "offline", "reachable"),
        ("srv-1", "west", "online", "reachable")]
    assert sites.take(f"{ROOT}/east/fleet/hosts/cam-2", b"", 1003.0) == ""
    assert [h["host"] for h in sites.hosts(1003.0)] == ["cam-1", "srv-1"]
    [east, west] = sites.view(1003.0)
    assert (east["site"], east["hosts"], east["states"], east["link"], east["hub"]) == (
        "east", 1, {"online": 1}, "unknown", "unknown")
    assert west["site"] == "west"


@pytest.mark.parametrize("topic,payload,reason", [
    (f"{ROOT}/east/fleet/hosts/cam-1", b"{not json", "bad_site_message"),
    (f"{ROOT}/east/fleet/hosts/cam-1", b"[1, 2]", "bad_site_message"),
    (f"{ROOT}/east/fleet/hosts/cam-1", view("someone-else"), "bad_site_message"),
    (f"{ROOT}/east/fleet/alerts/active", b'{"alerts": "all"}', "bad_site_message"),
    (f"{ROOT}/east/hub/status", b'{"state": "sleepy"}', "bad_site_message"),
    (f"{ROOT}/east/bridge", b"yes", "bad_site_message"),
    (f"{ROOT}/ea st/bridge", b"1", "bad_site_topic"),
    (f"{ROOT}/east/fleet/other", b"{}", "bad_site_topic"),
])
def test_a_bad_message_is_refused_with_its_reason_and_changes_nothing(topic, payload, reason):
    sites = book()
    sites.take(f"{ROOT}/east/fleet/hosts/cam-1", view("cam-1"), 1001.0)
    before = sites.hosts(1001.0)
    assert sites.take(topic, payload, 1002.0) == reason
    assert sites.hosts(1001.0) == before


def test_malformed_alerts_are_dropped_the_rest_kept():
    sites = book()
    good = host_down("cam-1")
    assert sites.take(f"{ROOT}/east/fleet/alerts/active",
                      alerts(good, {"labels": {"alertname": 3}}, "text"), 1001.0) == "bad_site_alert"
    [kept] = sites.alerts()["east"]
    assert kept["labels"] == {**good["labels"], "site": "east"}


def test_one_fault_per_site_by_what_is_known():
    sites = book(("east", "west", "north"), stale_after=30.0, now=1000.0)
    for name in ("east", "west", "north"):
        sites.take(f"{ROOT}/{name}/bridge", b"1", 1001.0)
        sites.take(f"{ROOT}/{name}/hub/status", b'{"state": "online"}', 1001.0)
        sites.take(f"{ROOT}/{name}/fleet/summary", b'{"hosts": 1}', 1001.0)
    assert sites.faults(1010.0) == []
    sites.take(f"{ROOT}/east/bridge", b"0", 1020.0)  # the bridge's will: the link dropped
    sites.take(f"{ROOT}/west/hub/status", b'{"state": "offline"}', 1021.0)  # the site hub died, the link is up
    faults = {f.site: f for f in sites.faults(1025.0)}
    assert set(faults) == {"east", "west"}
    assert (faults["east"].alertname, faults["east"].since) == ("SiteUnreachable", 1020.0)
    assert (faults["west"].alertname, faults["west"].since) == ("SiteHubDown", 1021.0)
    # north sends nothing more: stale after 30 s, as unreachable, since its last fleet view
    faults = {f.site: f for f in sites.faults(1040.0)}
    assert (faults["north"].alertname, faults["north"].since) == ("SiteUnreachable", 1001.0)
    assert sites.states(1040.0) == {"east": "unreachable", "west": "hub_down", "north": "unreachable"}
    # east's bridge comes back and its retained view with it
    sites.take(f"{ROOT}/east/bridge", b"1", 1050.0)
    sites.take(f"{ROOT}/east/fleet/summary", b'{"hosts": 1}', 1050.0)
    assert "east" not in {f.site for f in sites.faults(1051.0)}


def test_an_expected_site_never_heard_is_unreachable_after_stale_after():
    sites = book(("east",), stale_after=30.0, now=1000.0)
    assert sites.faults(1029.0) == []
    [fault] = sites.faults(1031.0)
    assert (fault.site, fault.alertname, fault.since) == ("east", "SiteUnreachable", 1000.0)
    [condition] = site_conditions([fault])
    assert dict(condition.labels) == {"alertname": "SiteUnreachable", "severity": "critical", "site": "east"}
    assert "unreachable" in condition.annotations["summary"]


def test_site_alerts_fire_once_resolve_when_gone_and_hold_while_the_site_is_unheard():
    feed = SiteAlertFeed()
    down = {**host_down("cam-1"), "labels": {**host_down("cam-1")["labels"], "site": "east"}}
    [fired] = feed.update({"east": [down], "west": None}, 1000.0)
    assert fired["status"] == "firing" and fired["labels"]["site"] == "east"
    assert feed.update({"east": [down], "west": None}, 1005.0) == []  # the same set again: nothing new
    # a restarted center: the journal's firing site alerts come back; west's cannot resolve until west is heard
    west = {**host_down("srv-9"), "labels": {**host_down("srv-9")["labels"], "site": "west"}}
    feed.restore([west])
    assert feed.update({"east": [down], "west": None}, 1010.0) == []
    [resolved] = feed.update({"east": [], "west": None}, 1020.0)
    assert (resolved["status"], resolved["labels"]["host"]) == ("resolved", "cam-1")
    [resolved] = feed.update({"east": [], "west": []}, 1030.0)
    assert (resolved["status"], resolved["labels"]["host"]) == ("resolved", "srv-9")
