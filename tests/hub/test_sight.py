"""The hub's sight (fleetmon.hub.sight): when it is blind, why, and when it may judge hosts again."""

import pytest

from fleetmon.hub.sight import BROKER, LAGGING, STALLED, STARTING, Sight

STALL, LAG, SETTLE = 10.0, 15.0, 5.0


def connected_sight(at: float = 0.0) -> Sight:
    sight = Sight(STALL, LAG, SETTLE, at)
    sight.probe_returned(sight.connected(at), at + 0.01)
    return sight


def test_a_new_hub_is_blind_until_its_first_probe_comes_back_then_settles():
    sight = Sight(STALL, LAG, SETTLE, 0.0)
    assert sight.blindness.cause == STARTING
    probe = sight.connected(1.0)
    assert sight.blind, "connected is not seeing: the retained messages are still arriving"
    sight.probe_returned(probe, 1.2)
    assert not sight.blind and sight.seeing_since == 1.2 and sight.lag == pytest.approx(0.2)
    assert not sight.judging(5.9), "settling: agents may still be reconnecting"
    assert sight.judging(6.0)


@pytest.mark.parametrize(("name", "events", "blind", "cause"), [
    # A broker going away: blind at once, whatever the probes say.
    ("disconnect", [("disconnect", 10.0)], True, BROKER),
    # Reconnected but the probe sent through the new session is not back: still blind.
    ("reconnected, probe pending", [("disconnect", 10.0), ("connect", 12.0)], True, BROKER),
    # The probe of the new session is back: everything queued before it has been read.
    ("reconnected, probe back", [("disconnect", 10.0), ("connect", 12.0), ("return", 12.1)], False, None),
    # The rules loop ran 60 s late (SIGSTOP): blind although still connected.
    ("stall", [("tick", 1.0), ("tick", 61.0)], True, STALLED),
    # A late tick below stall_after is load, not a stall.
    ("late tick", [("tick", 1.0), ("tick", 9.0)], False, None),
    # A probe stuck for longer than max_lag: the hub is behind its own queue.
    ("lag", [("tick", 1.0), ("tick", 6.0), ("tick", 11.0), ("tick", 16.0), ("tick", 21.0)], True, LAGGING),
])
def test_blindness_table(name, events, blind, cause):
    sight = connected_sight()
    probe = None
    for kind, at in events:
        if kind == "disconnect":
            sight.disconnected(at)
        elif kind == "connect":
            probe = sight.connected(at)
        elif kind == "return":
            sight.probe_returned(probe, at)
        else:
            sight.tick(at)
    assert sight.blind is blind, name
    assert (sight.blindness.cause if sight.blindness else None) == cause, name


def test_a_probe_of_the_previous_connection_says_nothing_about_the_new_one():
    sight = connected_sight()
    old = sight.tick(1.0)
    sight.disconnected(2.0)
    sight.connected(3.0)
    sight.probe_returned(old, 3.1)
    assert sight.blind and sight.blindness.cause == BROKER


def test_a_stall_is_cleared_only_by_a_probe_sent_after_it():
    sight = connected_sight()
    before = sight.tick(1.0)  # outstanding across the stall
    assert before is not None
    after = sight.tick(61.0)
    assert sight.blindness.cause == STALLED and sight.blindness.since == 1.0
    assert after is not None, "a fresh probe goes out at once"
    sight.probe_returned(before, 61.1)
    assert sight.blind, "the probe from before the stall was queued ahead of the backlog"
    sight.probe_returned(after, 62.0)
    assert not sight.blind and sight.trusted_from() == 62.0 and sight.episodes == 2  # starting, then the stall


def test_lag_clears_when_a_probe_sent_after_the_lag_was_noticed_comes_back():
    sight = connected_sight()
    stuck = sight.tick(1.0)
    assert sight.tick(6.0) is None, "one probe at a time while the hub keeps up"
    assert sight.tick(11.0) is None and not sight.blind
    fresh = sight.tick(17.0)
    assert sight.blindness.cause == LAGGING and sight.blindness.since == 1.0 and fresh is not None
    sight.probe_returned(stuck, 18.0)
    assert sight.blind
    sight.probe_returned(fresh, 18.5)
    assert not sight.blind and sight.lag == pytest.approx(1.5)


def test_a_broker_outage_during_a_lag_becomes_the_cause_and_keeps_its_start():
    sight = connected_sight()
    sight.tick(1.0)
    sight.tick(17.0)
    sight.disconnected(20.0)
    assert sight.blindness.cause == BROKER and sight.blindness.since == 1.0


def test_every_connection_settles_again():
    sight = connected_sight()
    assert sight.judging(100.0)
    sight.disconnected(100.0)
    probe = sight.connected(130.0)
    sight.probe_returned(probe, 130.1)
    assert not sight.judging(134.9) and sight.judging(135.0)


def test_a_probe_lost_as_the_connection_broke_is_replaced_and_a_later_one_ends_the_blindness():
    sight = connected_sight()
    sight.tick(1.0)
    lost = sight.tick(61.0)  # the stall is noticed before paho notices the dead socket
    assert lost is not None and sight.blindness.cause == STALLED
    assert sight.tick(64.0) is None, "one fresh probe on its way is enough"
    again = sight.tick(77.0)
    assert again is not None, "the fresh probe is overdue: perhaps lost; send another"
    sight.probe_returned(again, 77.1)
    assert not sight.blind


def test_probes_of_another_hub_run_are_ignored():
    old_run = Sight(STALL, LAG, SETTLE, 0.0, run="a1")
    new_run = Sight(STALL, LAG, SETTLE, 0.0, run="b2")
    stale = old_run.connected(0.0)
    new_run.connected(1.0)
    new_run.probe_returned(stale, 1.1)
    assert new_run.blind, "probe-a1-1 queued for the hub's persistent session is not probe-b2-1"


def test_the_settle_ends_early_once_every_host_has_been_heard_from():
    sight = connected_sight()
    sight.disconnected(100.0)
    sight.caught_up(100.5)
    assert not sight.judging(100.5), "blind: nothing heard counts"
    probe = sight.connected(110.0)
    sight.probe_returned(probe, 110.1)
    assert not sight.judging(111.0)
    sight.caught_up(112.0)
    assert sight.judging(112.0), "every host reported again: no one left to wait for"
