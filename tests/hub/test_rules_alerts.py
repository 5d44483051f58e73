"""ActiveAlerts: one firing and one resolved per episode, stable startsAt and fingerprint, `for`, edge dedup."""

from hypothesis import given
from hypothesis import strategies as st

from fleetmon.hub.rules import ActiveAlerts, FleetAlert
from fleetmon.protocol.alerts import alert, fingerprint
from fleetmon.protocol.messages import ZERO_TIME, rfc3339

T0 = 1_763_740_000.0
DOWN = {"alertname": "HostDown", "severity": "critical", "host": "srv-01", "site": "lab"}


def down(since=T0, for_s=0.0, note="will"):
    return FleetAlert(DOWN, {"summary": "srv-01 is down", "cause": note}, since=since, for_s=for_s)


def test_one_firing_and_one_resolved_per_episode():
    active = ActiveAlerts()
    fired = active.update([down()], T0 + 1)
    assert len(fired) == 1
    assert fired[0]["status"] == "firing"
    assert fired[0]["startsAt"] == rfc3339(T0)  # when the host went down, not when we noticed
    assert fired[0]["endsAt"] == ZERO_TIME
    assert fired[0]["fingerprint"] == fingerprint(DOWN)
    assert fired[0] == alert(DOWN, {"summary": "srv-01 is down", "cause": "will"}, T0)

    for step in range(2, 6):  # still down: nothing new, whatever the annotations say
        assert active.update([down(since=T0 + step, note="silent")], T0 + step) == []
    assert active.firing()[0]["annotations"]["cause"] == "silent"  # latest annotations are shown

    resolved = active.update([], T0 + 10)
    assert [(a["status"], a["startsAt"], a["endsAt"], a["fingerprint"]) for a in resolved] == [
        ("resolved", rfc3339(T0), rfc3339(T0 + 10), fingerprint(DOWN))]
    assert resolved[0]["annotations"]["cause"] == "silent"
    assert active.update([], T0 + 11) == []
    assert active.firing() == []

    again = active.update([down(since=T0 + 20)], T0 + 20)  # a new episode starts fresh
    assert [(a["status"], a["startsAt"]) for a in again] == [("firing", rfc3339(T0 + 20))]


def test_for_holds_the_alert_pending_and_starts_it_when_it_matures():
    active = ActiveAlerts()
    assert active.update([down(for_s=60)], T0 + 1) == []
    assert active.update([down(for_s=60)], T0 + 59) == []
    fired = active.update([down(for_s=60)], T0 + 61)
    assert [(a["status"], a["startsAt"]) for a in fired] == [("firing", rfc3339(T0 + 60))]


def test_a_pending_alert_that_disappears_ends_silently():
    active = ActiveAlerts()
    assert active.update([down(for_s=60)], T0 + 10) == []
    assert active.update([], T0 + 20) == []
    # it comes back: the wait starts again from the new condition
    assert active.update([down(since=T0 + 30, for_s=60)], T0 + 30) == []
    assert active.update([down(since=T0 + 30, for_s=60)], T0 + 80) == []
    assert [a["startsAt"] for a in active.update([down(since=T0 + 30, for_s=60)], T0 + 95)] == [
        rfc3339(T0 + 90)]


def test_pending_start_is_kept_while_the_condition_holds_even_if_since_moves():
    # silent, then the will arrives and the host's since moves: the grace period does not restart
    active = ActiveAlerts()
    assert active.update([down(since=T0, for_s=60)], T0 + 5) == []
    fired = active.update([down(since=T0 + 40, for_s=60)], T0 + 61)
    assert [a["startsAt"] for a in fired] == [rfc3339(T0 + 60)]


def test_a_since_in_the_future_counts_from_now():
    active = ActiveAlerts()
    fired = active.update([down(since=T0 + 3600)], T0)
    assert [a["startsAt"] for a in fired] == [rfc3339(T0)]


def test_restored_alerts_are_not_raised_again_and_resolve_when_gone():
    first = ActiveAlerts()
    stored = first.update([down()], T0 + 1)

    restarted = ActiveAlerts()
    restarted.restore(fleet=stored)
    assert restarted.update([down()], T0 + 100) == []
    resolved = restarted.update([], T0 + 200)
    assert [(a["status"], a["startsAt"]) for a in resolved] == [("resolved", rfc3339(T0))]


def test_restore_skips_resolved_alerts():
    restarted = ActiveAlerts()
    restarted.restore(fleet=[alert(DOWN, {}, T0, T0 + 5)])
    assert restarted.firing() == []
    assert [a["status"] for a in restarted.update([down(since=T0 + 10)], T0 + 10)] == ["firing"]


EDGE = {"alertname": "HostCpuHigh", "severity": "warning", "host": "srv-02"}


def test_edge_alerts_pass_through_unchanged_once():
    active = ActiveAlerts()
    firing = alert(EDGE, {"value": "97%"}, T0)
    assert active.edge(firing) == firing
    assert active.edge(firing) is None  # QoS 1 redelivery
    assert active.edge(alert(EDGE, {"value": "98%"}, T0)) is None  # re-announced on reconnect
    assert active.firing()[0]["annotations"] == {"value": "98%"}

    resolved = alert(EDGE, {"value": "40%"}, T0, T0 + 60)
    assert active.edge(resolved) == resolved
    assert active.edge(resolved) is None
    assert active.firing() == []


def test_edge_firing_with_a_new_startsat_is_a_new_episode():
    active = ActiveAlerts()
    active.edge(alert(EDGE, {}, T0))
    later = alert(EDGE, {}, T0 + 600)  # its resolved copy was lost on the way
    assert active.edge(later) == later


def test_fleet_evaluations_never_resolve_edge_alerts():
    active = ActiveAlerts()
    active.edge(alert(EDGE, {}, T0))
    active.update([down()], T0)
    assert [a["status"] for a in active.update([], T0 + 5)] == ["resolved"]
    assert [a["labels"]["alertname"] for a in active.firing()] == ["HostCpuHigh"]


def test_restored_edge_alerts_dedupe_the_agents_reannouncement():
    active = ActiveAlerts()
    firing = alert(EDGE, {}, T0)
    active.restore(edge=[firing])
    assert active.edge(firing) is None
    assert active.edge(alert(EDGE, {}, T0, T0 + 9))["status"] == "resolved"


@given(st.lists(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3), max_size=30))
def test_every_episode_fires_once_then_resolves_once(evaluations):
    """Whatever sequence of evaluations: per fingerprint, transitions alternate firing/resolved, start with
    firing, a resolved copy repeats its firing's startsAt, and what is firing matches the last evaluation."""
    active = ActiveAlerts()
    seen: dict[str, list[dict]] = {}
    for step, names in enumerate(evaluations):
        now = T0 + step
        conditions = [FleetAlert({"alertname": "X", "name": name}, {}, since=now) for name in names]
        for transition in active.update(conditions, now):
            seen.setdefault(transition["fingerprint"], []).append(transition)
        assert {a["labels"]["name"] for a in active.firing()} == set(names)
    for transitions in seen.values():
        statuses = [t["status"] for t in transitions]
        assert statuses == ["firing", "resolved"] * (len(statuses) // 2) + ["firing"] * (len(statuses) % 2)
        for fired, ended in zip(transitions[::2], transitions[1::2], strict=False):
            assert ended["startsAt"] == fired["startsAt"] <= ended["endsAt"]
