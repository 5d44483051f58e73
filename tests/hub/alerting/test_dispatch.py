"""The dispatcher's lifecycle on a controlled clock: grouping, timing, dedup, muting, acks, escalation, flaps.

Notifications go to an in-process receiver integration through a synchronous deliverer, so each
assertion sees exactly what a flush decided; the real deliverer, receivers and hub are exercised in
test_receivers.py, test_delivery.py, test_alerting_hub.py and against Alertmanager in test_differential.py and
test_differential_random.py.
The decisions a flush composes have their own tables: test_nflog.py, test_inhibit.py, test_silences.py,
test_muting.py, test_flaps.py and test_acks.py.
"""

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.config import parse_alerting
from fleetmon.hub.alerting.dispatch import Dispatcher
from fleetmon.hub.alerting.journal import AlertJournal
from fleetmon.hub.alerting.matchers import parse_matchers
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.silences import Silence
from fleetmon.hub.maintenance.calendar import MaintenanceCalendar, parse_maintenance
from fleetmon.protocol.messages import rfc3339

T0 = 1_800_000_000.0


@dataclass(eq=False, kw_only=True)
class Recording(Integration):
    kind: ClassVar[str] = "recording"
    sent: list = field(default_factory=list)

    def send(self, notification):
        self.sent.append(notification)


class SyncDeliverer:
    """Delivers at once; with ``crash_copies`` it copies the journal's database file as the send starts —
    what a hub killed at that instant would find on disk."""

    def __init__(self, journal_path: Path | None = None):
        self.journal_path = journal_path
        self.crash_copies: list[Path] = []

    def deliver(self, integration, notification, deadline, done, durable=None):
        prepared = integration.prepare(notification)
        if prepared is not None:
            if durable is not None:
                assert durable(5.0), "the journal did not commit the notification's state"
            if self.journal_path is not None:
                self.crash_copies.append(_copy_database(self.journal_path, len(self.crash_copies)))
            integration.send(prepared)
        done(True)


def _copy_database(path: Path, number: int) -> Path:
    """What another process reads from the database now: only committed transactions."""
    copy = path.with_name(f"killed-{number}.db")
    source, target = sqlite3.connect(path), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    return copy


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


class Harness:
    def __init__(self, config_text: str, journal: AlertJournal | None = None, journal_path: Path | None = None):
        errors = Errors()
        config = parse_alerting(Node(yaml.safe_load(config_text), "", errors))
        assert not errors, errors
        self.integrations = {}
        for name, receiver in config.receivers.items():
            integration = Recording(receiver=name, index=0, send_resolved=name.endswith("resolved"))
            receiver.integrations = [integration]
            self.integrations[name] = integration
        self.clock = Clock()
        self.deliverer = SyncDeliverer(journal_path)
        self.dispatcher = Dispatcher(config, self.deliverer, journal, clock=self.clock)

    def at(self, offset: float) -> None:
        self.clock.now = T0 + offset
        self.dispatcher.process(self.clock.now)

    def fire(self, started: float | None = None, ends: float | None = None, **labels):
        """Fire now; ``started``/``ends``: offsets from T0 of an explicit ``startsAt`` and ``endsAt``."""
        item = {"labels": labels, "startsAt": rfc3339(self.clock.now if started is None else T0 + started)}
        if ends is not None:
            item["endsAt"] = rfc3339(T0 + ends)
        assert not self.dispatcher.put([item])

    def resolve(self, **labels):
        assert not self.dispatcher.put([{"labels": labels, "endsAt": rfc3339(self.clock.now),
                                         "startsAt": rfc3339(self.clock.now - 1)}])

    def sent(self, receiver: str) -> list[tuple[str, list[tuple[str, str]]]]:
        """(reason, [(alertname or instance, status)]) per notification."""
        return [(n.reason, [(a.labels.get("instance", a.labels.get("alertname")), a.status) for a in n.alerts])
                for n in self.integrations[receiver].sent]


CONFIG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers: [{name: team}]
"""


def test_group_wait_then_ticks_then_repeat():
    h = Harness(CONFIG)
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.at(29)
    assert h.sent("team") == []
    h.at(30)
    assert h.sent("team") == [("first notification", [("a", "firing")])]
    h.fire(alertname="Disk", instance="b")  # joins the group: waits for the next tick, no new group_wait
    h.at(60)
    assert len(h.sent("team")) == 1
    h.at(330)
    assert h.sent("team")[-1] == ("new alerts added", [("a", "firing"), ("b", "firing")])
    for tick in range(1, 13):  # ticks every 5 minutes; at 330 + 3600 exactly the hour has not yet passed
        h.at(330 + 300 * tick)
    assert len(h.sent("team")) == 2
    h.at(330 + 300 * 13)
    assert h.sent("team")[-1][0] == "repeat interval elapsed" and len(h.sent("team")) == 3


def test_resolution_notifies_once_then_the_cleanup_drops_the_group_and_the_next_alert_waits_group_wait():
    h = Harness(CONFIG)
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.at(30)
    h.resolve(alertname="Disk", instance="a")
    h.at(330)
    # send_resolved is off for "team", but "all alerts resolved" still goes through the log (nothing is sent)
    assert h.sent("team") == [("first notification", [("a", "firing")])]
    [group] = h.dispatcher.groups.values()
    assert group.alerts == {}  # empty, and still ticking on its schedule ...
    h.at(359)
    assert list(h.dispatcher.groups.values()) == [group]
    h.at(360)  # ... until the dispatcher's cleanup, every 30 s from the dispatcher's start (T0)
    assert h.dispatcher.groups == {}
    h.at(400)
    h.fire(alertname="Disk", instance="a")
    h.at(429)
    assert len(h.sent("team")) == 1
    h.at(430)
    assert h.sent("team")[-1] == ("first notification", [("a", "firing")])


# Alertmanager keeps a group whose alerts all resolved and were notified until its dispatcher's cleanup,
# which ticks every 30 s from the dispatcher's start (T0 here: T0 + 30, T0 + 60, ...). Until then the empty
# group keeps its ticks: those of the group below are at 4, 14, 24, 34, ...
SHORT = """
route:
  receiver: team-resolved
  group_by: [alertname]
  group_wait: 4s
  group_interval: 10s
  repeat_interval: 1h
receivers: [{name: team-resolved}]
inhibit_rules:
  - source_matchers: ['alertname="SiteDown"']
    target_matchers: ['alertname="HostDown"']
    equal: [site]
"""


def emptied_at_14(config: str = SHORT) -> Harness:
    """A HostDown group told of h1 firing at 4 and of its resolution at 14, left empty then."""
    h = Harness(config)
    h.at(0)
    h.fire(alertname="HostDown", site="north", instance="h1")
    h.at(4)
    h.at(5)
    h.resolve(alertname="HostDown", site="north", instance="h1")
    h.at(14)
    assert h.sent("team-resolved") == [("first notification", [("h1", "firing")]),
                                       ("all alerts resolved", [("h1", "resolved")])]
    assert [g.alerts for g in h.dispatcher.groups.values()] == [{}]
    return h


def test_an_alert_for_an_emptied_group_goes_out_at_the_groups_next_tick_not_after_group_wait():
    h = emptied_at_14()
    h.at(16)
    h.fire(alertname="HostDown", site="north", instance="h2")
    h.at(20)  # a new group would flush now (16 + group_wait)
    h.at(23.9)
    assert len(h.sent("team-resolved")) == 2
    h.at(24)
    assert h.sent("team-resolved")[-1] == ("first notification", [("h2", "firing")])
    h.fire(alertname="HostDown", site="north", instance="h3")
    h.at(33.9)
    h.at(34)  # and the ticks after it stay on the old schedule
    assert h.sent("team-resolved")[-1] == ("new alerts added", [("h2", "firing"), ("h3", "firing")])


def test_an_old_alert_for_an_emptied_group_waits_for_the_tick_too():
    """A new group flushes at once for an alert that started longer than group_wait ago; a group that has
    ticked never does (Alertmanager's hasFlushed), empty or not."""
    h = emptied_at_14()
    h.at(16)
    h.fire(started=0, alertname="HostDown", site="north", instance="h2")
    h.at(16.5)
    h.at(23.9)
    assert len(h.sent("team-resolved")) == 2
    h.at(24)
    assert h.sent("team-resolved")[-1] == ("first notification", [("h2", "firing")])


def test_after_the_cleanup_an_alert_starts_a_new_group_that_waits_group_wait():
    h = emptied_at_14()
    h.at(29.9)
    assert len(h.dispatcher.groups) == 1
    h.at(30)  # the cleanup
    assert h.dispatcher.groups == {}
    h.at(31)
    h.fire(alertname="HostDown", site="north", instance="h2")
    h.at(34)  # the old group's tick would have been now: there is none
    h.at(34.9)
    assert len(h.sent("team-resolved")) == 2
    h.at(35)
    assert h.sent("team-resolved")[-1] == ("first notification", [("h2", "firing")])


def test_the_cleanup_and_arriving_alerts_are_taken_in_the_order_they_happened():
    """A round that runs after the cleanup's tick still lets an alert that arrived before it join the
    emptied group; one that arrived after it finds the group gone."""
    before = emptied_at_14()
    before.clock.now = T0 + 29.9
    before.fire(alertname="HostDown", site="north", instance="h2")
    before.at(30.5)
    before.at(34)
    assert before.sent("team-resolved")[-1] == ("first notification", [("h2", "firing")])
    after = emptied_at_14()
    after.clock.now = T0 + 30.1
    after.fire(alertname="HostDown", site="north", instance="h2")
    after.at(30.5)
    after.at(34)
    assert len(after.sent("team-resolved")) == 2
    after.at(34.1)  # a new group: 30.1 + group_wait
    assert after.sent("team-resolved")[-1] == ("first notification", [("h2", "firing")])


def test_a_resolution_in_an_emptied_group_is_decided_at_the_old_ticks_after_an_inhibition_ended():
    """The revived group's ticks are the old ones (24, 34): h2 resolves while SiteDown fires, SiteDown
    resolves at 32, and at 34 nothing inhibits h2 any more, so its resolution goes out. A group started
    afresh at 16 would tick at 20 and 30, and at 30 the inhibited resolution would be dropped unsent."""
    h = emptied_at_14()
    h.at(16)
    h.fire(alertname="HostDown", site="north", instance="h2")
    h.at(24)
    assert h.sent("team-resolved")[-1] == ("first notification", [("h2", "firing")])
    h.at(25)
    h.fire(alertname="SiteDown", site="north")
    h.at(26)
    h.resolve(alertname="HostDown", site="north", instance="h2")
    h.at(29)  # SiteDown's own group
    h.at(30)
    h.at(32)
    h.resolve(alertname="SiteDown", site="north")
    h.at(33.9)
    assert h.sent("team-resolved")[-1] == ("first notification", [("SiteDown", "firing")])
    h.at(34)
    assert h.sent("team-resolved")[-1] == ("all alerts resolved", [("h2", "resolved")])


def test_a_revived_group_keeps_its_notification_log_and_repeats_on_its_old_ticks():
    """h1 is told firing at 4, then resolves while silenced: the tick at 14 drops it unsent, so the log
    still says h1 fires. When h1 fires again (at 21, in the emptied group) that is no news at 24; the repeat
    comes at the first old tick more than repeat_interval (25 s) after the notification at 4: 34, not 35
    (the tick of a group started afresh at 21)."""
    h = Harness(SHORT.replace("1h", "25s"))
    h.at(0)
    h.fire(alertname="HostDown", site="north", instance="h1")
    h.at(4)
    h.at(5)
    h.dispatcher.set_silence(Silence("", tuple(parse_matchers('alertname="HostDown"')), T0 + 5, T0 + 20,
                                     "ops", "maintenance"))
    h.at(6)
    h.resolve(alertname="HostDown", site="north", instance="h1")
    h.at(14)
    assert [g.alerts for g in h.dispatcher.groups.values()] == [{}]
    h.at(21)
    h.fire(alertname="HostDown", site="north", instance="h1")
    h.at(24)
    h.at(33.9)
    assert h.sent("team-resolved") == [("first notification", [("h1", "firing")])]
    h.at(34)
    assert h.sent("team-resolved")[-1] == ("repeat interval elapsed", [("h1", "firing")])


class HeldDeliverer:
    """Holds each delivery until ``release``, as a slow receiver does."""

    def __init__(self):
        self.held = []

    def deliver(self, integration, notification, deadline, done, durable=None):
        self.held.append((integration, notification, done))

    def release(self):
        for integration, notification, done in self.held:
            integration.send(integration.prepare(notification))
            done(True)
        self.held = []


def test_an_alert_that_resolves_while_its_flush_is_delivered_stays_for_its_resolution():
    """Only what the flush saw resolved is dropped after it: h1 was firing at the tick at 4 and has resolved
    (4.5) by the time the delivery is confirmed (5); the tick at 14 tells its resolution."""
    h = Harness(SHORT)
    h.dispatcher.deliverer = held = HeldDeliverer()
    h.at(0)
    h.fire(ends=4.5, alertname="HostDown", site="north", instance="h1")
    h.at(4)
    h.clock.now = T0 + 5
    held.release()
    h.at(14)
    held.release()
    assert h.sent("team-resolved") == [("first notification", [("h1", "firing")]),
                                       ("all alerts resolved", [("h1", "resolved")])]


def test_a_late_round_does_not_shift_the_groups_ticks():
    h = Harness(SHORT)
    h.at(0)
    h.fire(alertname="HostDown", site="north", instance="h1")
    h.at(4.7)  # the first tick, served late
    h.at(5)
    h.fire(alertname="HostDown", site="north", instance="h2")
    h.at(14)
    assert h.sent("team-resolved")[-1] == ("new alerts added", [("h1", "firing"), ("h2", "firing")])


def test_send_resolved_and_shrinking_sets():
    h = Harness(CONFIG.replace("team", "team-resolved"))
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.fire(alertname="Disk", instance="b")
    h.at(30)
    h.resolve(alertname="Disk", instance="a")
    h.at(330)
    assert h.sent("team-resolved")[-1] == ("some alerts resolved", [("a", "resolved"), ("b", "firing")])
    h.resolve(alertname="Disk", instance="b")
    h.at(630)
    assert h.sent("team-resolved")[-1] == ("all alerts resolved", [("b", "resolved")])


def test_an_alert_resolved_before_the_first_flush_is_never_notified():
    h = Harness(CONFIG.replace("team", "team-resolved"))
    h.at(0)
    h.fire(alertname="Blip", instance="a")
    h.at(10)
    h.resolve(alertname="Blip", instance="a")
    h.at(30)
    assert h.sent("team-resolved") == []


def test_grouping_and_group_keys():
    h = Harness("""
route:
  receiver: all
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_by: ['...']
receivers: [{name: all}, {name: db}]
""")
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.fire(alertname="Disk", instance="b")
    h.fire(alertname="Disk", instance="c", team="db")
    h.at(1)
    [grouped] = h.integrations["all"].sent
    assert grouped.group_key == '{}:{alertname="Disk"}' and len(grouped.alerts) == 2
    [single] = h.integrations["db"].sent
    assert single.group_key == '{}/{team="db"}:{alertname="Disk", instance="c", team="db"}'


INHIBIT = """
route: {receiver: r, group_by: ['...'], group_wait: 0s, group_interval: 1m}
receivers: [{name: r}]
inhibit_rules:
  - source_matchers: ['alertname="SiteDown"']
    target_matchers: ['alertname="HostDown"']
    equal: [site]
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity=~"warning|critical"']
    equal: [host]
"""


def test_inhibition_with_equal_and_the_self_inhibition_guard():
    h = Harness(INHIBIT)
    h.at(0)
    h.fire(alertname="SiteDown", site="north")
    h.fire(alertname="HostDown", site="north", instance="n1")
    h.fire(alertname="HostDown", site="south", instance="s1")
    h.fire(alertname="CPU", severity="critical", host="x", instance="x-crit")
    h.fire(alertname="Temp", severity="warning", host="x", instance="x-warn")
    h.at(1)
    sent = {a for _, alerts in h.sent("r") for a, _ in alerts}
    assert sent == {"SiteDown", "s1", "x-crit"}  # n1 inhibited by site; x-warn by the critical on host x
    # the critical alert matches both sides of rule 2 but never inhibits itself
    h.resolve(alertname="SiteDown", site="north")
    h.at(61)
    assert ("first notification", [("n1", "firing")]) in h.sent("r")


def test_silences_mute_at_flush_time_and_their_end_lets_alerts_through():
    h = Harness(INHIBIT)
    h.at(0)
    silence = h.dispatcher.set_silence(Silence("", tuple(parse_matchers('alertname="HostDown"')), T0, T0 + 90,
                                               "ops", "maintenance"))
    h.fire(alertname="HostDown", site="north", instance="n1")
    h.at(1)
    assert h.sent("r") == []
    assert h.dispatcher.alert_views(h.clock.now)[0]["muted"] == f"silenced by {silence.id}"
    h.at(121)  # silence ended at 90 s: the next tick sees a new alert
    assert h.sent("r") == [("first notification", [("n1", "firing")])]


def test_a_maintenance_window_mutes_its_alerts_and_its_end_pages_a_host_still_down():
    h = Harness(INHIBIT)
    h.dispatcher.maintenance = MaintenanceCalendar(None, parse_maintenance(Node(
        [{"name": "patching", "hosts": ["n1"], "starts_at": T0, "ends_at": T0 + 600}], "maintenance", Errors())))
    h.at(0)
    h.fire(alertname="HostDown", site="north", instance="n1", host="n1")
    h.at(1)
    assert h.sent("r") == []
    assert h.dispatcher.alert_views(h.clock.now)[0]["muted"] == "in maintenance window patching"
    h.at(599)
    assert h.sent("r") == []
    h.at(600)  # the window closed: the group is looked at at once, not at its next interval (at 601 + 5m)
    assert h.sent("r") == [("first notification", [("n1", "firing")])]


class Observer:
    """Records what the dispatcher tells the incident book."""

    def __init__(self):
        self.calls = []

    def observe_group(self, group_key, group_id, group_labels, receiver, alerts, now):
        self.calls.append(("group", receiver, sorted((a.labels["instance"], a.resolved) for a in alerts)))

    def notified(self, group_key, receiver, integration, ok, detail, now):
        self.calls.append(("notified", receiver, ok, detail))

    def alert_acknowledged(self, fingerprint, by, comment, now):
        self.calls.append(("ack", by, comment))

    def escalated(self, group_key, tier, receivers, now):
        self.calls.append(("escalated", tier, receivers))


def test_the_incident_observer_hears_of_qualifying_alerts_their_notifications_acks_and_escalations():
    h = Harness("""
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: ['alertname="Disk"']
      incident: {severity: critical}
      escalation: [{after: 10m, receivers: [boss]}]
    - matchers: ['alertname="Quiet"']
receivers: [{name: team}, {name: boss}]
""")
    observer = h.dispatcher.observer = Observer()
    h.at(0)
    h.fire(alertname="Disk", instance="a", severity="critical")
    h.fire(alertname="Disk", instance="b", severity="warning")  # in the group, not the incident's kind
    h.fire(alertname="Quiet", instance="c", severity="critical")  # a route without incidents
    h.at(30)
    assert observer.calls == [("group", "team", [("a", False)]), ("notified", "team", True, "first notification")]
    h.at(630)
    h.at(631)  # unacknowledged for 10 minutes: the boss tier (the round after the group's own flush)
    assert ("escalated", 1, ["boss"]) in observer.calls
    group = next(g for g in h.dispatcher.groups.values() if g.labels == {"alertname": "Disk"})
    h.dispatcher.acknowledge(group.id, "ana", "on it", None)
    assert observer.calls[-1] == ("ack", "ana", "on it")
    h.resolve(alertname="Disk", instance="a", severity="critical")
    h.at(930)
    assert ("group", "team", [("a", True)]) in observer.calls


def test_the_incident_option_is_inherited_and_can_be_turned_off():
    errors = Errors()
    config = parse_alerting(Node(yaml.safe_load("""
route:
  receiver: team
  incident: true
  routes:
    - matchers: ['team="db"']
      incident: ['severity=~"critical|page"']
      routes: [{matchers: ['env="dev"'], incident: false}]
    - matchers: ['team="web"']
receivers: [{name: team}]
"""), "", errors))
    assert not errors, list(errors)
    route = config.route
    db, web = route.routes
    assert route.options.incident == () and web.options.incident == ()
    assert db.options.opens_incident({"severity": "page"}) and not db.options.opens_incident({"severity": "info"})
    assert db.routes[0].options.incident is None
    bad = Errors()
    parse_alerting(Node({"route": {"receiver": "team", "incident": 3}, "receivers": [{"name": "team"}]}, "", bad))
    assert list(bad) == ["route.incident: must be true, false, a mapping of labels to values, or a list of matchers"]


TIMED = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: ['kind="muted"']
      receiver: morning-muted
      mute_time_intervals: [morning]
    - matchers: ['kind="active"']
      receiver: office
      active_time_intervals: [office]
receivers: [{name: team}, {name: morning-muted}, {name: office}]
time_intervals:
  - name: morning
    time_intervals: [{times: [{start_time: '07:00', end_time: '09:00'}]}]
  - name: office
    time_intervals: [{times: [{start_time: '09:00', end_time: '17:00'}]}]
"""


def test_a_routes_time_intervals_hold_its_notifications_until_they_allow_them():
    h = Harness(TIMED)
    h.at(0)  # T0 is 08:00 UTC: in the morning, before office hours
    h.fire(alertname="Disk", kind="muted")
    h.fire(alertname="Disk", kind="active")
    h.at(30)
    h.at(3599)  # a tick at 08:59:59
    assert h.sent("morning-muted") == [] and h.sent("office") == []
    h.at(3899)  # the next tick, after 09:00: the muted batch was never logged, so it is a first notification
    assert h.sent("morning-muted") == [("first notification", [("Disk", "firing")])]
    assert h.sent("office") == [("first notification", [("Disk", "firing")])]


def test_acknowledgement_stops_repeats_until_the_set_changes_or_it_expires():
    h = Harness(CONFIG)
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.at(30)
    group = next(iter(h.dispatcher.groups.values()))
    h.dispatcher.acknowledge(group.id, "ana", "on it", expires_at=T0 + 30 + 2 * 3600)
    for tick in range(1, 14):  # past the repeat interval: acknowledged, so no repeat
        h.at(30 + 300 * tick)
    assert len(h.sent("team")) == 1
    h.fire(alertname="Disk", instance="b")  # the set changes: notified, and the group is no longer acked
    h.at(30 + 300 * 14)
    assert h.sent("team")[-1][0] == "new alerts added"
    with pytest.raises(LookupError):
        h.dispatcher.acknowledge("0123456789abcdef", "ana", "", None)


def test_escalation_notifies_the_next_tier_when_not_acknowledged():
    h = Harness("""
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  escalation:
    - {after: 10m, receivers: [lead]}
    - {after: 30m, receivers: [manager]}
receivers: [{name: oncall}, {name: lead}, {name: manager}]
""")
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.at(1)
    assert len(h.sent("oncall")) == 1
    h.at(600)
    assert h.sent("lead") == []
    h.at(601)  # escalation time: only the new tier is flushed
    assert h.sent("lead") == [("escalated: not acknowledged within 600s", [("a", "firing")])]
    assert len(h.sent("oncall")) == 1
    group = next(iter(h.dispatcher.groups.values()))
    h.dispatcher.acknowledge(group.id, "lead", "", None)
    h.at(1801)
    assert h.sent("manager") == []  # acknowledged: no further escalation


def test_flapping_alerts_are_held_until_they_settle():
    h = Harness("""
route: {receiver: r-resolved, group_by: ['...'], group_wait: 0s, group_interval: 10s}
receivers: [{name: r-resolved}]
flapping: {changes: 3, window: 10m, settle: 5m}
""")
    t = 0
    for _ in range(3):  # fire, resolve, fire ...: the fourth change makes it flap
        h.at(t)
        h.fire(alertname="Wobbly")
        h.at(t + 10)
        h.at(t + 20)
        h.resolve(alertname="Wobbly")
        h.at(t + 30)
        t += 40
    count = len(h.sent("r-resolved"))
    h.at(t)
    h.fire(alertname="Wobbly")
    h.at(t + 10)
    assert h.dispatcher.alert_views(h.clock.now)[0]["muted"] == "flapping"
    assert len(h.sent("r-resolved")) == count
    h.at(t + 10 + 300)  # no change for 5 minutes: settled, and notified as firing
    assert h.sent("r-resolved")[-1][1] == [("Wobbly", "firing")]


def test_a_restart_restores_state_without_duplicates(tmp_path):
    journal = AlertJournal(str(tmp_path / "alerting.db"))
    h = Harness(CONFIG, journal)
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.at(30)
    assert len(h.sent("team")) == 1
    journal.close()
    journal = AlertJournal(str(tmp_path / "alerting.db"))
    again = Harness(CONFIG, journal)
    again.clock.now = T0 + 60
    again.dispatcher.restore(**journal.load())
    again.at(60)  # the regrouped alert flushes at once: its start is older than group_wait
    assert again.sent("team") == []  # ... and the log says it was already notified
    assert [v["fingerprint"] for v in again.dispatcher.alert_views(T0 + 60)] == \
        [a.fingerprint for a in h.integrations["team"].sent[0].alerts]
    stats = journal.stats(T0 - 1)
    assert stats["firing"]["byAlertname"] == {"Disk": 1}


def test_a_hub_killed_as_it_sends_neither_repeats_the_firing_nor_loses_the_resolution(tmp_path):
    path = tmp_path / "alerting.db"
    journal = AlertJournal(str(path))
    config = CONFIG.replace("team", "team-resolved")
    h = Harness(config, journal, journal_path=path)
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.at(30)
    h.resolve(alertname="Disk", instance="a")
    h.at(330)
    assert [reason for reason, _ in h.sent("team-resolved")] == ["first notification", "all alerts resolved"]
    killed_firing, killed_resolving = h.deliverer.crash_copies
    journal.close()

    def restarted(copy: Path, at: float) -> Harness:
        again = Harness(config, AlertJournal(str(copy)))
        again.clock.now = T0 + at
        again.dispatcher.restore(**again.dispatcher.journal.load())
        again.at(at)
        return again

    # Killed as the firing notification went out: the alert is back, and it is not notified again.
    again = restarted(killed_firing, 60)
    assert [v["status"] for v in again.dispatcher.alert_views(T0 + 60)] == ["firing"]
    assert again.sent("team-resolved") == []
    # Killed as the resolution went out: it goes out again.
    again = restarted(killed_resolving, 400)
    assert again.sent("team-resolved") == [("all alerts resolved", [("a", "resolved")])]
    # Stopped after everything was confirmed: nothing to repeat.
    again = restarted(path, 400)
    assert again.sent("team-resolved") == []


def test_a_failed_delivery_takes_its_intent_back(tmp_path):
    path = tmp_path / "alerting.db"
    journal = AlertJournal(str(path))
    h = Harness(CONFIG, journal)
    h.deliverer.deliver = lambda integration, notification, deadline, done, durable=None: done(False)
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.at(30)
    journal.close()
    again = Harness(CONFIG, AlertJournal(str(path)))
    again.clock.now = T0 + 60
    again.dispatcher.restore(**again.dispatcher.journal.load())
    again.at(60)
    assert again.sent("team") == [("first notification", [("a", "firing")])]


RELOADED = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
  - matchers: ['alertname="Net"']
    receiver: oncall
receivers: [{name: team}, {name: oncall}]
"""


def test_a_reload_regroups_without_repeating_unchanged_groups():
    h = Harness(CONFIG.replace("team", "team-resolved"))
    h.at(0)
    h.fire(alertname="Disk", instance="a")
    h.fire(alertname="Net", instance="b")
    h.at(30)
    assert len(h.sent("team-resolved")) == 2
    new = Harness(RELOADED.replace("team", "team-resolved"))  # the reloaded config, its receivers recording
    h.dispatcher.reconfigure(new.dispatcher.config)
    h.integrations = new.integrations
    h.at(31)
    h.at(330)  # the next tick of every group
    # Disk's group (root route, same key) was told already; Net moved to a new route: its receiver is told.
    assert h.sent("team-resolved") == []
    assert h.sent("oncall") == [("first notification", [("b", "firing")])]
    h.resolve(alertname="Disk", instance="a")
    h.at(630)
    assert h.sent("team-resolved") == [("all alerts resolved", [("a", "resolved")])]
