"""Fleet state: liveness transitions, stale wills, silence, skew, alerts, health and rollups."""

from fleetmon.hub.ingest import Message
from fleetmon.hub.model import MISSING, OFFLINE, ONLINE, SILENT
from fleetmon.hub.state import FleetState, group_rollups, health_score, host_summary
from fleetmon.protocol import messages


def birth(host, session, at, groups=("servers",), interval=10, checks=("web",)):
    body = messages.status(host, session, 1, at, "online", agent_version="0.1.0", started_at=at,
                           interval_s=interval, facts={"cpus": 4}, groups=list(groups), labels={"site": "a"},
                           checks=[{"name": name, "type": "http"} for name in checks])
    return Message("status", host, session, 1, at, body, at)


def death(host, session, at, reason="will"):
    return Message("status", host, session, 2, at, messages.status(host, session, 2, at, "offline", reason=reason), at)


def sample(host, session, seq, at, metrics=None, skew=0.0):
    body = messages.metrics(host, session, seq, at - skew, 10, 0.001, metrics or {"fleetmon_cpu_usage_ratio": 0.2}, {})
    return Message("metrics", host, session, seq, at - skew, body, at)


def states(changes):
    return [(c.host, c.from_state, c.to_state) for c in changes]


def test_expected_hosts_start_missing_and_come_online_with_their_birth():
    fleet = FleetState({"a": ["servers"], "b": ["jetsons"]}, now=0)
    assert {h: r.state for h, r in fleet.hosts.items()} == {"a": MISSING, "b": MISSING}
    assert states(fleet.apply(birth("a", 1, 5))) == [("a", MISSING, ONLINE)]
    record = fleet.hosts["a"]
    assert record.groups == ("servers",) and record.labels == {"site": "a"} and record.facts == {"cpus": 4}


def test_a_late_will_of_an_older_session_does_not_kill_the_new_one():
    fleet = FleetState()
    fleet.apply(birth("a", 1, 0))
    fleet.apply(birth("a", 2, 10))
    assert fleet.apply(death("a", 1, 20)) == [] and fleet.hosts["a"].state == ONLINE
    assert fleet.stale_statuses == 1
    assert states(fleet.apply(death("a", 2, 30))) == [("a", ONLINE, OFFLINE)]
    assert fleet.hosts["a"].reason == "will"


def test_silent_is_not_dead_and_samples_bring_it_back():
    fleet = FleetState(silent_after=3)
    fleet.apply(birth("a", 1, 0))
    fleet.apply(sample("a", 1, 1, 10))
    assert fleet.tick(35) == []
    assert states(fleet.tick(41)) == [("a", ONLINE, SILENT)]
    assert fleet.tick(100) == [], "silent once, not every tick"
    assert states(fleet.apply(sample("a", 1, 2, 101))) == [("a", SILENT, ONLINE)]


def test_samples_of_a_dead_session_do_not_resurrect_it_but_a_new_session_does():
    fleet = FleetState()
    fleet.apply(birth("a", 1, 0))
    fleet.apply(death("a", 1, 5))
    assert fleet.apply(sample("a", 1, 9, 6)) == [] and fleet.hosts["a"].state == OFFLINE
    assert states(fleet.apply(sample("a", 2, 1, 20))) == [("a", OFFLINE, ONLINE)]
    assert fleet.hosts["a"].session == 2


def test_gaps_skew_checks_and_edge_alerts_are_tracked():
    fleet = FleetState(skew_tolerance=30)
    fleet.apply(birth("a", 1, 0))
    for seq, at in enumerate((10, 20, 35), start=1):
        fleet.apply(sample("a", 1, seq, at, skew=120))
    record = fleet.hosts["a"]
    assert list(record.gaps) == [10, 15] and record.clock_skew_s == 120 and fleet.skewed(record)
    fleet.apply(Message("checks", "a", 1, 1, 36, messages.checks("a", 1, 1, 36, [{"name": "web", "ok": False}]), 36))
    firing = {"status": "firing", "labels": {"alertname": "HostCpuHigh", "severity": "critical"}, "fingerprint": "f1"}
    fleet.apply(Message("alerts", "a", 1, 1, 37, messages.alerts("a", 1, 1, 37, [firing]), 37))
    assert set(record.edge_alerts) == {"f1"} and record.checks["web"]["ok"] is False
    assert health_score(record, fleet.skewed(record)) == 100 - 30 - 15 - 5
    fleet.apply(Message("alerts", "a", 1, 2, 38, messages.alerts("a", 1, 2, 38, [dict(firing, status="resolved")]), 38))
    assert record.edge_alerts == {}


def test_health_and_group_rollups():
    fleet = FleetState({"a": ["servers"], "b": ["servers"], "c": ["jetsons"]})
    fleet.apply(birth("a", 1, 0))
    fleet.apply(sample("a", 1, 1, 1, {"fleetmon_cpu_usage_ratio": 0.95, "fleetmon_memory_usage_ratio": 0.5,
                                      "fleetmon_filesystem_usage_ratio": [[{"mount": "/"}, 0.97]]}))
    assert health_score(fleet.hosts["a"], False) == 80
    rollups = group_rollups(fleet)
    assert rollups["servers"] == {"hosts": 2, ONLINE: 1, SILENT: 0, OFFLINE: 0, MISSING: 1, "health": 40}
    assert rollups["jetsons"]["missing"] == 1 and rollups["jetsons"]["health"] == 0


def test_inventory_changes_forget_unseen_hosts_and_keep_seen_ones():
    fleet = FleetState({"a": ["servers"], "b": ["servers"]})
    fleet.apply(birth("a", 1, 0))
    left = fleet.set_expected({"c": ["servers"]}, now=5)
    assert sorted(left) == ["a", "b"]
    assert "b" not in fleet.hosts and fleet.hosts["a"].expected is False and fleet.hosts["c"].state == MISSING


def test_an_idle_jetson_gpu_reads_zero_not_absent():
    from fleetmon.hub.state import host_summary

    fleet = FleetState({}, now=0)
    fleet.apply(birth("j", 1, 1.0, groups=("jetsons",)))
    fleet.apply(sample("j", 1, 2, 2.0, {"fleetmon_jetson_gpu_load_ratio": 0, "fleetmon_cpu_usage_ratio": 0.1}))
    summary = host_summary(fleet.hosts["j"], False)
    assert summary["gpu"] == 0 and summary["temperature"] is None


def test_a_fresh_will_is_not_shown_to_rules_until_its_grace_has_passed():
    fleet = FleetState()
    fleet.apply(birth("a", 1, 0))
    fleet.apply(death("a", 1, 100))
    assert fleet.hosts["a"].state == OFFLINE, "the state itself records what arrived"
    assert [v.state for v in fleet.views(101)] == [ONLINE], "a broker going down sends wills just before it drops us"
    assert [(v.state, v.reason) for v in fleet.views(102.5)] == [(OFFLINE, "will")]


def test_wills_the_broker_sent_as_it_went_down_are_discounted():
    fleet = FleetState()
    fleet.apply(birth("a", 1, 0))
    fleet.apply(birth("b", 1, 0))
    fleet.apply(death("a", 1, 50))  # a real death, long before the broker went down
    fleet.apply(death("b", 1, 99.9))  # sent by the broker as it shut down
    changes = fleet.discount_wills(after=98.0, now=100.0)
    assert states(changes) == [("b", OFFLINE, ONLINE)] and "discounted" in changes[0].reason
    assert fleet.hosts["b"].state == ONLINE and fleet.hosts["b"].since == 0, "back to the state the will replaced"
    assert fleet.hosts["a"].state == OFFLINE


def test_silence_counts_from_the_moment_the_hub_saw_again():
    fleet = FleetState(silent_after=3)
    fleet.apply(birth("a", 1, 0))
    fleet.apply(sample("a", 1, 1, 10))
    fleet.see(True, 0.0)
    fleet.see(False, 100.0)  # blind from about 15 s to 100 s: no sample could have arrived
    assert fleet.tick(125) == [], "three intervals after sight returned, not after the last sample"
    assert states(fleet.tick(131)) == [("a", ONLINE, SILENT)]


def test_gaps_and_skew_across_blindness_are_the_hubs_not_the_hosts():
    fleet = FleetState()
    fleet.apply(birth("a", 1, 0))
    fleet.apply(sample("a", 1, 1, 10))
    fleet.see(True, 0.0)
    fleet.apply(sample("a", 1, 2, 80, skew=60))  # read from the backlog after a 60 s stall
    fleet.see(False, 81.0)
    fleet.apply(sample("a", 1, 3, 90))
    fleet.apply(sample("a", 1, 4, 100))
    record = fleet.hosts["a"]
    assert list(record.gaps) == [10], "only the gap between two samples the hub read while seeing"
    assert record.clock_skew_s == 0


def test_heard_since_asks_only_online_hosts():
    fleet = FleetState({"gone": ["servers"]})
    fleet.apply(birth("a", 1, 0))
    fleet.apply(sample("a", 1, 1, 10))
    fleet.apply(birth("b", 1, 0))
    fleet.apply(death("b", 1, 5))
    assert fleet.heard_since(10) and not fleet.heard_since(11), "missing and offline hosts are not waited for"


def test_a_retained_will_of_a_host_not_seen_alive_is_shown_at_once():
    fleet = FleetState({"a": ["servers"]}, now=0)
    fleet.apply(death("a", 1, 100))  # what the broker retained while the hub was restarting
    assert [(v.state, v.reason) for v in fleet.views(100.1)] == [(OFFLINE, "will")]


def test_the_settle_waits_for_hosts_online_before_the_blindness_even_if_a_retained_will_says_offline():
    fleet = FleetState()
    fleet.apply(birth("a", 1, 0))
    fleet.apply(birth("b", 1, 0))
    fleet.apply(sample("a", 1, 1, 10))
    fleet.apply(sample("b", 1, 1, 10))
    fleet.see(True, 0.0)  # the broker restarts (with persistence)
    fleet.see(False, 60.0)
    fleet.apply(death("b", 1, 60.5))  # b's will, retained by the broker as it went down
    fleet.apply(sample("a", 1, 2, 61))
    assert not fleet.heard_since(60.0), "b is most likely still reconnecting"
    fleet.apply(birth("b", 1, 70))
    fleet.apply(sample("b", 1, 2, 71))
    assert fleet.heard_since(60.0)


def check_results(host, session, seq, at, *results):
    return Message("checks", host, session, seq, at, messages.checks(host, session, seq, at, list(results)), at)


def test_a_check_removed_from_the_config_no_longer_counts_against_the_host():
    fleet = FleetState()
    fleet.apply(birth("a", 1, 0, checks=("web", "db")))
    fleet.apply(check_results("a", 1, 1, 5, {"name": "web", "ok": False}, {"name": "db", "ok": False}))
    record = fleet.hosts["a"]
    assert health_score(record, False) == 70 and host_summary(record, False)["failing_checks"] == ["db", "web"]
    fleet.apply(birth("a", 2, 10, checks=("web",)))  # db taken out of the host's config
    assert health_score(record, False) == 85 and host_summary(record, False)["failing_checks"] == ["web"]


def test_late_results_of_an_earlier_run_do_not_replace_the_current_ones():
    fleet = FleetState()
    fleet.apply(birth("a", 2, 0))
    fleet.apply(sample("a", 2, 1, 1))
    fleet.apply(check_results("a", 2, 2, 5, {"name": "web", "ok": True}))
    fleet.apply(check_results("a", 1, 9, 6, {"name": "web", "ok": False}))  # session 1's, still in flight
    assert fleet.hosts["a"].checks["web"]["ok"] is True and health_score(fleet.hosts["a"], False) == 100
