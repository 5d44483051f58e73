"""The fleet view under a slow broker link: a republish round waits until the previous one is sent, so the
hub holds one round of views at most instead of a queue that grows with every round (issue 16)."""

from fleetmon.hub.config import parse_config
from fleetmon.hub.service import Hub
from tests.hub.standin import StandIn


class Sent:
    """What paho's publish returns: an MQTTMessageInfo, published once the broker has acknowledged it."""

    def __init__(self) -> None:
        self.published = False

    def is_published(self) -> bool:
        return self.published


def test_a_round_is_skipped_and_counted_while_the_previous_one_is_unsent(tmp_path):
    hub = Hub(parse_config({"db": str(tmp_path / "history.db"), "expected_hosts": {"a": [], "b": []}}))
    sent: list[tuple[str, Sent]] = []

    def publish(topic, payload, qos=1, retain=False, expiry=None):
        sent.append((topic, Sent()))
        return sent[-1][1]

    hub.link.publish = publish
    try:
        hub._republish(1000.0)
        first = len(sent)
        assert first == 4  # two hosts, the summary and the active alerts
        hub._republish(1005.0)  # nothing of the first round acknowledged yet
        hub._republish(1010.0)
        assert len(sent) == first and hub.counters.republish_skipped == 2
        for _, info in sent[:-1]:
            info.published = True
        hub._republish(1015.0)  # one publication still out
        assert len(sent) == first and hub.counters.republish_skipped == 3
        sent[-1][1].published = True
        hub._republish(1020.0)
        assert len(sent) == 2 * first
        assert "fleetmon_hub_republish_skipped_total 3" in "\n".join(
            f"{s.name} {s.value}" for family in hub.counters.families() for s in family.samples)
    finally:
        StandIn(hub.parts, started=True).close()  # the parts; the hub's threads never ran
