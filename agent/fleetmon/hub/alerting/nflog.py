"""The notification log: what each receiver integration was last told about each group, and whether a flush
has news for it (Alertmanager's ``nflog`` and the ``needsUpdate`` of its dedup stage).

One entry per (group key, receiver, integration): the firing and resolved alerts (by fingerprint) of the
last successful notification, and when it went out. The decision compares sets, not lists: a firing set
that only shrinks is no news, "all resolved" is news even without ``send_resolved`` (so that the log is
cleared), and a repeat waits a whole ``repeat_interval``. fleetmon adds one rule: no repeat while the group
is acknowledged.

Crash safety (docs/alerting.md, "Crash safety") adds the *intent*: the entry journaled before a
notification is handed over, so a hub killed mid-send neither repeats a firing notification nor loses a
resolution.

An entry also keeps what its integration asked to remember (Alertmanager's receiver data, its nflog
``Store``): Slack's ``update_message`` keeps the ts and channel of the message it posted, so the group's
later notifications edit that message. A notification that tells of firing alerts when the last one told
of none starts afresh, as Alertmanager gives a first notification an empty store: a group that resolved and
fires again gets a new message.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

#: (group key, receiver name, integration name): whom an entry is about.
LogKey = tuple[str, str, str]


@dataclass(slots=True, frozen=True)
class LogEntry:
    """The last successful notification of one group to one receiver integration."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: float
    data: Mapping[str, str] = field(default_factory=dict)  # the integration's own, e.g. Slack's message ts


def carried_data(entry: LogEntry | None) -> dict[str, str]:
    """The data a notification after ``entry`` starts from (a copy the integration may change): the entry's,
    unless the entry told of no firing alert, so that what fires now is a first notification."""
    if entry is None or not entry.firing:
        return {}
    return dict(entry.data)


def needs_update(entry: LogEntry | None, firing: frozenset[str], resolved: frozenset[str], send_resolved: bool,
                 repeat_interval: float, now: float, acknowledged: bool = False) -> str | None:
    """Why ``firing``/``resolved`` are news to the integration whose last entry is ``entry`` (the
    notification's reason), or None when they are not."""
    if entry is None:
        return "first notification" if firing else None
    if not firing <= entry.firing:
        return "first notification" if not entry.firing else "new alerts added"
    if not firing:
        return "all alerts resolved" if entry.firing else None
    if send_resolved and not resolved <= entry.resolved:
        return "some alerts resolved"
    if entry.at < now - repeat_interval and not acknowledged:
        return "repeat interval elapsed"
    return None


def intent(entry: LogEntry | None, firing: frozenset[str], resolved: frozenset[str], now: float) -> LogEntry:
    """The log entry journaled before a notification goes out, in place of ``entry`` (the last one
    confirmed). Its firing alerts count as told: a crash after the send must not repeat them. Its
    resolutions do not: the alerts they resolve stay in ``firing`` and out of ``resolved``, so a crash
    before the confirmation sends them again. Its data is what the notification starts from."""
    if entry is None:
        return LogEntry(firing, frozenset(), now)
    return LogEntry(firing | (entry.firing & resolved), entry.resolved & resolved, now, carried_data(entry))
