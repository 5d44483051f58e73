"""What the dispatcher tells the layer above it (the incident book, fleetmon.hub.incidents) as it works.

The dispatcher calls these with its own lock held, so an observer only queues what it is told and acts on it
on its own thread; it never calls back into the dispatcher from inside a call.
"""

from typing import NamedTuple, Protocol


class AlertRef(NamedTuple):
    """One alert of a flushed group, as an observer needs it."""

    fingerprint: str
    labels: dict[str, str]
    starts_at: float
    resolved: bool


class GroupObserver(Protocol):
    def observe_group(self, group_key: str, group_id: str, group_labels: dict[str, str], receiver: str,
                      alerts: list[AlertRef], now: float) -> None:
        """A flush of a group whose route asks for incidents: its unmuted firing alerts that qualify and its
        resolved ones."""

    def notified(self, group_key: str, receiver: str, integration: str, ok: bool, detail: str,
                 now: float) -> None:
        """A notification of such a group was delivered (``ok``) or given up on."""

    def alert_acknowledged(self, fingerprint: str, by: str, comment: str, now: float) -> None: ...

    def escalated(self, group_key: str, tier: int, receivers: list[str], now: float) -> None: ...


class NullObserver:
    """Nobody listening: a hub without incidents, and the tests of the dispatcher alone."""

    def observe_group(self, group_key: str, group_id: str, group_labels: dict[str, str], receiver: str,
                      alerts: list[AlertRef], now: float) -> None:
        pass

    def notified(self, group_key: str, receiver: str, integration: str, ok: bool, detail: str,
                 now: float) -> None:
        pass

    def alert_acknowledged(self, fingerprint: str, by: str, comment: str, now: float) -> None:
        pass

    def escalated(self, group_key: str, tier: int, receivers: list[str], now: float) -> None:
        pass
