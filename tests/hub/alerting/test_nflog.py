"""The notification log's decisions, without I/O: is a flush news to a receiver integration (``needs_update``),
which entry is journaled before a send (``intent``), and what receiver data a notification starts from
(``carried_data``).

The first cases are Alertmanager's TestDedupStageNeedsUpdate (notify/notify_test.go), in our words; the
semantics are in shared/reference/alertmanager.md §5.3. Alertmanager only answers yes or no; fleetmon also
names the reason, which every case checks. Upstream's entries mostly carry no timestamp (Go's zero time, long
before any repeat interval); here they were logged 9 minutes before the flush unless a case says otherwise.
"""

from typing import NamedTuple

import pytest

from fleetmon.hub.alerting.nflog import LogEntry, carried_data, intent, needs_update

NOW = 1_800_000_000.0
MINUTE = 60.0


def alerts(*names: str) -> frozenset[str]:
    return frozenset(names)


def logged(firing: frozenset[str] = frozenset(), resolved: frozenset[str] = frozenset(),
           at: float = NOW - 9 * MINUTE) -> LogEntry:
    return LogEntry(firing, resolved, at)


class Dedup(NamedTuple):
    name: str
    why: str
    entry: LogEntry | None  # the last confirmed notification of this group to this integration
    reason: str | None  # the expected answer: the notification's reason, None for "send nothing"
    firing: frozenset[str] = frozenset()
    resolved: frozenset[str] = frozenset()
    send_resolved: bool = False
    repeat_interval: float = 10 * MINUTE
    now: float = NOW
    acknowledged: bool = False


DEDUP = [
    # --- Alertmanager's TestDedupStageNeedsUpdate --------------------------------------------------------------
    Dedup("no entry, alerts fire", "nothing was ever sent for this group: what fires is news",
          None, "first notification", firing=alerts("2", "3", "4")),
    Dedup("no entry, nothing fires", "alerts that resolved before the group's first flush were never told, so "
          "their resolution is not told either", None, None, resolved=alerts("2", "3", "4")),
    Dedup("a different firing set", "4 fires and was not in the last notification: news, although 1 left",
          logged(alerts("1", "2", "3")), "new alerts added", firing=alerts("2", "3", "4")),
    Dedup("zero timestamp", "an entry from the beginning of time is older than any repeat interval",
          logged(alerts("1", "2", "3"), at=0.0), "repeat interval elapsed", firing=alerts("1", "2", "3")),
    Dedup("same set, inside the repeat interval", "told 9 minutes ago, repeats every 10: nothing new to say",
          logged(alerts("1", "2", "3")), None, firing=alerts("1", "2", "3")),
    Dedup("same set, past the repeat interval", "told 11 minutes ago, repeats every 10: remind",
          logged(alerts("1", "2", "3"), at=NOW - 11 * MINUTE), "repeat interval elapsed",
          firing=alerts("1", "2", "3")),
    Dedup("only resolutions, nothing was firing", "the log says nothing fires; with nothing firing now there is "
          "nothing to clear, and resolutions alone never repeat, send_resolved or not",
          logged(resolved=alerts("1", "2", "3"), at=NOW - 11 * MINUTE), None, resolved=alerts("3", "4", "5"),
          send_resolved=True),
    Dedup("a new resolution, send_resolved off", "the firing set only shrank (2 resolved): that is no news to an "
          "integration that is not told resolutions", logged(alerts("1", "2"), alerts("3")), None,
          firing=alerts("1"), resolved=alerts("2", "3")),
    Dedup("a new resolution, send_resolved on", "2 resolved since the last notification and this integration is "
          "told resolutions", logged(alerts("1", "2"), alerts("3")), "some alerts resolved",
          firing=alerts("1"), resolved=alerts("2", "3"), send_resolved=True),
    Dedup("all resolved, send_resolved off", "the log must be cleared even for an integration that is not told "
          "resolutions (the retry stage then sends nothing)", logged(alerts("1", "2"), alerts("3")),
          "all alerts resolved", resolved=alerts("1", "2", "3")),
    Dedup("all resolved, send_resolved on", "everything that was firing resolved: told",
          logged(alerts("1", "2"), alerts("3")), "all alerts resolved", resolved=alerts("1", "2", "3"),
          send_resolved=True),
    # --- fleetmon's dispatcher tests, moved here (same values) ---------------------------------------------------
    Dedup("first", "nothing logged and a firing alert", None, "first notification", firing=alerts("a"),
          send_resolved=True, repeat_interval=60, now=100),
    Dedup("first, resolved only", "nothing logged and nothing firing: no notification", None, None,
          resolved=alerts("a"), send_resolved=True, repeat_interval=60, now=100),
    Dedup("joined", "b joined a, which was told", logged(alerts("a"), at=90), "new alerts added",
          firing=alerts("a", "b"), send_resolved=True, repeat_interval=60, now=100),
    Dedup("resolved", "a, the only firing alert told, resolved", logged(alerts("a"), at=90),
          "all alerts resolved", resolved=alerts("a"), repeat_interval=60, now=100),
    Dedup("some resolved", "b resolved and send_resolved is on", logged(alerts("a", "b"), at=90),
          "some alerts resolved", firing=alerts("a"), resolved=alerts("b"), send_resolved=True,
          repeat_interval=60, now=100),
    Dedup("shrinking", "b resolved but send_resolved is off: a shrinking set is no news",
          logged(alerts("a", "b"), at=90), None, firing=alerts("a"), resolved=alerts("b"), repeat_interval=60,
          now=100),
    Dedup("repeat", "told at 90, repeat_interval 60, now 151: past it", logged(alerts("a"), at=90),
          "repeat interval elapsed", firing=alerts("a"), send_resolved=True, repeat_interval=60, now=151),
    Dedup("repeat while acknowledged", "fleetmon: an acknowledged group is not reminded",
          logged(alerts("a"), at=90), None, firing=alerts("a"), send_resolved=True, repeat_interval=60, now=151,
          acknowledged=True),
    # --- the edges ------------------------------------------------------------------------------------------------
    Dedup("repeat interval exactly", "the entry must be older than the interval: at exactly one interval the "
          "repeat waits for the next tick", logged(alerts("a"), at=40), None, firing=alerts("a"),
          repeat_interval=60, now=100),
    Dedup("firing again after all resolved", "the last notification said everything resolved: what fires now is "
          "a first notification again, not an addition", logged(resolved=alerts("a")), "first notification",
          firing=alerts("a")),
    Dedup("acknowledged, an alert joins", "an ack stops repeats only; a new alert is news", logged(alerts("a")),
          "new alerts added", firing=alerts("a", "b"), acknowledged=True),
    Dedup("acknowledged, all resolved", "an ack never holds back the resolution", logged(alerts("a")),
          "all alerts resolved", resolved=alerts("a"), acknowledged=True),
]


@pytest.mark.parametrize("case", DEDUP, ids=[c.name for c in DEDUP])
def test_needs_update(case):
    assert needs_update(case.entry, case.firing, case.resolved, case.send_resolved, case.repeat_interval,
                        case.now, case.acknowledged) == case.reason, case.why


class Intent(NamedTuple):
    name: str
    why: str
    confirmed: frozenset[str] | None  # firing alerts of the last confirmed entry; None: nothing was ever sent
    firing: frozenset[str]
    resolved: frozenset[str]
    send_resolved: bool
    after_a_crash: str | None  # what a hub restarted on the intent decides for the same batch


INTENTS = [
    Intent("first notification", "a hub killed after the send and before its confirmation finds the intent: "
           "the firing alert counts as told (at most once)", None, alerts("a"), alerts(), False, None),
    Intent("an alert joins", "the alert that joined counts as told too", alerts("a"), alerts("a", "b"), alerts(),
           False, None),
    Intent("all resolved", "resolutions do not count as told: the restarted hub sends them again (at least once)",
           alerts("a"), alerts(), alerts("a"), False, "all alerts resolved"),
    Intent("some resolved", "a resolution next to a firing alert is sent again too", alerts("a", "b"), alerts("b"),
           alerts("a"), True, "some alerts resolved"),
    Intent("repeat", "a repeat counts as sent: the next one waits a whole repeat_interval from the intent",
           alerts("a"), alerts("a"), alerts(), False, None),
]


@pytest.mark.parametrize("case", INTENTS, ids=[c.name for c in INTENTS])
def test_the_intent_journaled_before_a_send_decides_what_a_crash_repeats(case):
    entry = None if case.confirmed is None else LogEntry(case.confirmed, frozenset(), NOW - 4000)
    assert needs_update(entry, case.firing, case.resolved, case.send_resolved, 3600, NOW) is not None, \
        f"{case.name}: the batch must have been news"
    logged_first = intent(entry, case.firing, case.resolved, NOW)
    assert needs_update(logged_first, case.firing, case.resolved, case.send_resolved, 3600, NOW + 1) == \
        case.after_a_crash, case.why


class Carried(NamedTuple):
    name: str
    why: str
    entry: LogEntry | None
    data: dict[str, str]  # what the next notification starts from


SLACK_MESSAGE = {"threadTs": "1700000001.000100", "channelId": "C0OPS"}
CARRIED = [
    Carried("nothing logged", "a first notification has no data (Alertmanager: an empty store)", None, {}),
    Carried("firing told", "the group's later notifications, repeats and resolutions, read what the first kept "
            "(Slack's update_message edits its message)", LogEntry(alerts("a"), alerts(), NOW, SLACK_MESSAGE),
            SLACK_MESSAGE),
    Carried("all resolved told", "what fires after a resolution is a first notification again: it starts afresh "
            "(a new Slack message)", LogEntry(alerts(), alerts("a"), NOW, SLACK_MESSAGE), {}),
    Carried("an entry without data", "an integration that keeps nothing", LogEntry(alerts("a"), alerts(), NOW), {}),
]


@pytest.mark.parametrize("case", CARRIED, ids=[c.name for c in CARRIED])
def test_the_receiver_data_a_notification_starts_from(case):
    data = carried_data(case.entry)
    assert data == case.data, case.why
    data["changed"] = "by the integration"
    assert case.entry is None or "changed" not in case.entry.data, "the integration changes a copy"


def test_the_intent_keeps_the_data_the_notification_starts_from():
    """A hub killed mid-send restarts on the intent: an edit it makes next must still find the message."""
    told = LogEntry(alerts("a"), alerts(), NOW - 60, SLACK_MESSAGE)
    assert intent(told, alerts("a", "b"), alerts(), NOW).data == SLACK_MESSAGE
    resolved = LogEntry(alerts(), alerts("a"), NOW - 60, SLACK_MESSAGE)
    assert intent(resolved, alerts("a"), alerts(), NOW).data == {}
