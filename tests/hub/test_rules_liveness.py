"""HostDown and HostMissing from synthetic host views, through ActiveAlerts as the hub runs them."""

from fleetmon.hub.model import MISSING, OFFLINE, ONLINE, SILENT, HostView
from fleetmon.hub.rules import ActiveAlerts, RulesConfig, evaluate
from fleetmon.hub.rules.config import HostDownRule, HostMissingRule
from fleetmon.hub.rules.liveness import host_down, host_missing
from fleetmon.protocol.alerts import fingerprint
from fleetmon.protocol.messages import rfc3339

T0 = 1_763_740_000.0
LABELS = {"site": "lab", "role": "edge"}


def view(host="srv-01", state=ONLINE, since=T0, reason="", **kw):
    return HostView(host=host, state=state, since=since, labels=LABELS, reason=reason, last_sample_at=since, **kw)


def test_a_host_dead_by_its_will_is_down_at_once():
    [alert] = host_down([view(state=OFFLINE, reason="will")], HostDownRule())
    assert alert.labels == {"alertname": "HostDown", "severity": "critical", "host": "srv-01", **LABELS}
    assert alert.annotations["cause"] == "will"
    assert (alert.since, alert.for_s) == (T0, 0.0)


def test_a_silent_host_is_down_with_cause_silent():
    [alert] = host_down([view(state=SILENT)], HostDownRule())
    assert alert.annotations["cause"] == "silent"


def test_a_clean_shutdown_is_not_down_unless_configured():
    shut = view(state=OFFLINE, reason="shutdown")
    assert host_down([shut], HostDownRule()) == []
    [alert] = host_down([shut], HostDownRule(down_on_shutdown=True))
    assert alert.annotations["cause"] == "shutdown"


def test_online_and_missing_hosts_are_not_down():
    assert host_down([view(), view("jetson-01", MISSING)], HostDownRule()) == []


def test_severity_is_configurable_and_not_overridden_by_inventory_labels():
    host = HostView(host="srv-01", state=OFFLINE, since=T0, reason="will",
                    labels={"severity": "low", "alertname": "Nope", "host": "other"})
    [alert] = host_down([host], HostDownRule(severity="page"))
    assert alert.labels == {"alertname": "HostDown", "severity": "page", "host": "srv-01"}


def test_per_host_for_delays_only_that_host():
    rule = HostDownRule(for_s=0.0, per_host_for={"jetson-07": 300.0})
    hosts = [view("srv-01", OFFLINE, reason="will"), view("jetson-07", OFFLINE, reason="will")]
    active = ActiveAlerts()
    fired = active.update(host_down(hosts, rule), T0 + 10)
    assert [a["labels"]["host"] for a in fired] == ["srv-01"]
    assert active.update(host_down(hosts, rule), T0 + 299) == []
    fired = active.update(host_down(hosts, rule), T0 + 301)
    assert [(a["labels"]["host"], a["startsAt"]) for a in fired] == [("jetson-07", rfc3339(T0 + 300))]


def test_power_loss_silent_then_will_is_one_alert_episode():
    """Samples stop, the host goes silent, then its will arrives: one HostDown, resolved once on return."""
    config = RulesConfig()
    active = ActiveAlerts()
    fired = active.update(evaluate(config, [view(state=SILENT, since=T0)], [], T0 + 1), T0 + 1)
    assert [(a["status"], a["annotations"]["cause"]) for a in fired] == [("firing", "silent")]
    dead = view(state=OFFLINE, since=T0 + 60, reason="will")
    assert active.update(evaluate(config, [dead], [], T0 + 61), T0 + 61) == []
    assert active.firing()[0]["annotations"]["cause"] == "will"
    back = active.update(evaluate(config, [view(since=T0 + 120)], [], T0 + 121), T0 + 121)
    assert [(a["status"], a["startsAt"], a["endsAt"]) for a in back] == [
        ("resolved", rfc3339(T0), rfc3339(T0 + 121))]
    assert back[0]["fingerprint"] == fired[0]["fingerprint"]


def test_a_restarted_hub_computes_the_same_starts_at_for_a_host_still_down():
    config = RulesConfig()
    hosts = [view(state=OFFLINE, since=T0, reason="will")]
    before = ActiveAlerts().update(evaluate(config, hosts, [], T0 + 5), T0 + 5)
    after = ActiveAlerts().update(evaluate(config, hosts, [], T0 + 500), T0 + 500)
    assert before == after


def test_host_missing_waits_for_its_grace_period():
    rule = HostMissingRule(for_s=300.0)
    missing = HostView(host="jetson-09", state=MISSING, since=T0, groups=("jetsons",))
    active = ActiveAlerts()
    assert active.update(host_missing([missing, view()], rule), T0 + 299) == []
    [fired] = active.update(host_missing([missing, view()], rule), T0 + 300)
    assert fired["labels"] == {"alertname": "HostMissing", "severity": "warning", "host": "jetson-09"}
    assert fired["fingerprint"] == fingerprint(fired["labels"])
    appeared = HostView(host="jetson-09", state=ONLINE, since=T0 + 400)
    assert [a["status"] for a in active.update(host_missing([appeared], rule), T0 + 400)] == ["resolved"]


def test_disabled_rules_stay_quiet():
    config = RulesConfig(host_down=HostDownRule(enabled=False))
    assert evaluate(config, [view(state=OFFLINE, reason="will")], [], T0) == []
