"""Alert state is durable before it is notified: a real hub SIGKILLed at random instants of a timeline of
firing and resolving alerts, restarted on the same databases each time, real mosquitto and a real HTTP sink.

What must hold (docs/alerting.md, "Crash safety"): no alert episode is notified as firing twice, and every
alert whose firing reached the receiver has its resolution delivered. The alerts come as Prometheus sends
them to Alertmanager's API: each one re-sent every round with its startsAt and a short endsAt, until a
little after that end — a client's retries are what make an accepted-but-not-yet-journaled alert safe.
"""

import contextlib
import json
import random
import signal
import threading
import time
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.protocol import messages
from fleetmon.protocol.alerts import alert
from fleetmon.protocol.messages import rfc3339
from fleetmon.protocol.topics import host_topics
from tests.hub.alerting.conftest import HttpSink
from tests.polling import wait_until

TOKEN = "durability-test-token-0123456789"
#: Seconds between two rounds of the emulated Prometheus: every alert it knows is sent again each round.
RESEND = 0.3


@pytest.fixture
def sink():
    instance = HttpSink()
    yield instance
    instance.close()


def hub_config(sink: HttpSink) -> dict:
    return {"api": {"token": TOKEN},
            "alerting": {"route": {"receiver": "team", "group_by": ["alertname", "episode"], "group_wait": "0s",
                                   "group_interval": "1s", "repeat_interval": "1h"},
                         "receivers": [{"name": "team", "webhook_configs": [{"url": sink.url("/team")}]}]}}


def post(port: int, alerts: list[dict]) -> int | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # the hub is down: the next round sends it again
        return None


def kill(hub) -> None:
    hub.process.send_signal(signal.SIGKILL)
    hub.process.wait(timeout=10)
    hub.process = None


def notified(sink: HttpSink, label: str) -> dict[str, list[str]]:
    """Per value of ``label``: the statuses it was notified with, in order."""
    seen: dict[str, list[str]] = {}
    for request in list(sink.requests):
        for item in request.json()["alerts"]:
            if label in item["labels"]:
                seen.setdefault(item["labels"][label], []).append(item["status"])
    return seen


def wait_for_the_marker(hub, sink: HttpSink, name: str) -> None:
    """A new alert through the same receiver integration, whose deliveries go out in order: once it is at
    the sink, anything the restarted hub would have sent before it (a duplicate) is there too."""
    assert post(hub.port, [{"labels": {"alertname": name}}]) == 200
    wait_until(lambda: any(item["labels"].get("alertname") == name
                         for r in list(sink.requests) for item in r.json()["alerts"]), timeout=20,
             message=f"the {name} notification")


class Prometheus(threading.Thread):
    """Starts an alert episode every ``gap`` seconds, each firing for 1 to 4 s (its endsAt set from the
    start), and sends every episode it knows each round until 3 s after its end."""

    def __init__(self, port: int, rng: random.Random, gap: float = 0.4) -> None:
        super().__init__(daemon=True)
        self.port, self.rng, self.gap = port, rng, gap
        self.episodes: dict[str, tuple[float, float]] = {}
        self.creating = threading.Event()
        self.creating.set()
        self.drained = threading.Event()  # no longer creating, and every episode sent for the last time
        self.done = threading.Event()

    def run(self) -> None:
        next_episode = time.time()
        while not self.done.is_set():
            now = time.time()
            if self.creating.is_set() and now >= next_episode:
                self.episodes[f"e{len(self.episodes)}"] = (now, now + self.rng.uniform(1.0, 4.0))
                next_episode = now + self.gap
            current = [{"labels": {"alertname": "Chaos", "episode": name},
                        "startsAt": rfc3339(starts), "endsAt": rfc3339(ends)}
                       for name, (starts, ends) in self.episodes.items() if now <= ends + 3.0]
            if current:
                post(self.port, current)
            elif not self.creating.is_set():
                self.drained.set()
            self.done.wait(RESEND)


def run_timeline(start_hub, sink: HttpSink, kills: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    hub = start_hub(hub_config(sink))
    prometheus = Prometheus(hub.port, rng)
    prometheus.start()
    try:
        for _ in range(kills):
            # The chaos schedule, not a wait for an event: the hub is killed at a random instant of its
            # life and stays down a random while, as the seed decides.
            time.sleep(rng.uniform(0.1, 1.5))
            kill(hub)
            time.sleep(rng.uniform(0.0, 0.5))
            hub.start()
        prometheus.creating.clear()
        wait_until(prometheus.drained.is_set, timeout=15, message="the last re-send of the last episode")
    finally:
        prometheus.done.set()
        prometheus.join(timeout=5)

    def unresolved() -> list[str]:
        return [e for e, statuses in notified(sink, "episode").items()
                if "firing" in statuses and "resolved" not in statuses]

    with contextlib.suppress(AssertionError):  # counted below with the duplicates, so the report shows both
        wait_until(lambda: not unresolved(), timeout=30, message="every notified episode's resolution")
    wait_for_the_marker(hub, sink, "Marker")
    seen = notified(sink, "episode")
    counts = {"kills": kills, "episodes": len(prometheus.episodes), "notifications": len(sink.requests),
              "notified firing": sum("firing" in s for s in seen.values()),
              "duplicate firing": sum(max(0, s.count("firing") - 1) for s in seen.values()),
              "lost resolutions": len(unresolved())}
    print("durability:", counts, "hub log:", hub.log[-3000:])
    return counts


def test_sigkill_at_20_random_instants_neither_duplicates_a_firing_nor_loses_a_resolution(start_hub, sink):
    counts = run_timeline(start_hub, sink, kills=20, seed=10)
    assert counts["notified firing"] > 20  # the timeline did notify, across the kills
    assert counts["duplicate firing"] == 0, counts
    assert counts["lost resolutions"] == 0, counts


@pytest.mark.chaos
@pytest.mark.timeout(600)
def test_sigkill_at_100_random_instants(start_hub, sink):
    counts = run_timeline(start_hub, sink, kills=100, seed=11)
    assert counts["notified firing"] > 100
    assert counts["duplicate firing"] == 0, counts
    assert counts["lost resolutions"] == 0, counts


class ScriptedAgent:
    """An agent's side of the protocol over a real MQTT connection: a birth, then alert transitions."""

    def __init__(self, broker, host: str = "edge-1") -> None:
        self.host, self.topics, self.seq = host, host_topics(host), 0
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=host,
                                  protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self._send(self.topics.status, messages.status(host, 1, self._next(), time.time(), "online",
                                                       interval_s=1.0), retain=True)

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _send(self, topic: str, payload: dict, retain: bool = False) -> None:
        self.client.publish(topic, messages.encode(payload), qos=1, retain=retain).wait_for_publish(5)

    def transitions(self, items: list[dict]) -> None:
        self._send(self.topics.alerts, messages.alerts(self.host, 1, self._next(), time.time(), items))

    def firing_now(self, items: list[dict]) -> None:
        """What an agent sends when it sees a hub come online: every alert firing on it, complete."""
        self._send(self.topics.alerts, messages.alerts(self.host, 1, self._next(), time.time(), items, complete=True))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_resolution_sent_while_the_killed_hub_is_down_is_notified_after_its_restart(start_hub, broker, sink):
    """The issue's case: SIGKILL right after three firing notifications, one alert resolved while the hub is
    down (the broker queues it for the hub's session), then the restart."""
    hub = start_hub(hub_config(sink))
    agent = ScriptedAgent(broker)
    started = time.time() - 5
    firing = [alert({"alertname": name, "host": "edge-1", "severity": "warning"}, {}, started)
              for name in ("DiskFull", "MemoryHigh", "LoadHigh")]
    agent.transitions(firing)
    sink.wait(3, timeout=20, path="/team")
    kill(hub)  # at once: the batching journal of old had not committed what it had just notified
    agent.transitions([{**firing[0], "status": "resolved", "endsAt": rfc3339(time.time())}])
    hub.start()
    wait_until(lambda: notified(sink, "alertname").get("DiskFull") == ["firing", "resolved"], timeout=20,
             message="DiskFull's resolution after the restart")
    wait_for_the_marker(hub, sink, "Marker")
    assert notified(sink, "alertname") == {"DiskFull": ["firing", "resolved"], "MemoryHigh": ["firing"],
                                           "LoadHigh": ["firing"], "Marker": ["firing"]}
    agent.close()


def test_a_resolution_lost_with_a_killed_hub_is_made_good_by_the_agents_complete_list(start_hub, broker, sink):
    """The window journaling cannot close: the broker had the resolution acknowledged by a hub that was
    killed before it journaled it. The agent's complete list of what fires, sent when it sees the hub come
    online again, resolves what the hub still holds as firing — and repeats nothing that still fires."""
    hub = start_hub(hub_config(sink))
    agent = ScriptedAgent(broker)
    started = time.time() - 5
    disk, memory = (alert({"alertname": name, "host": "edge-1", "severity": "warning"}, {}, started)
                    for name in ("DiskFull", "MemoryHigh"))
    agent.transitions([disk, memory])
    sink.wait(2, timeout=20, path="/team")
    kill(hub)  # DiskFull's resolution is lost with it (the agent had sent it; the hub never journaled it)
    hub.start()
    agent.firing_now([memory])
    wait_until(lambda: notified(sink, "alertname").get("DiskFull") == ["firing", "resolved"], timeout=20,
             message="DiskFull resolved from the agent's complete list")
    wait_for_the_marker(hub, sink, "Marker")
    assert notified(sink, "alertname") == {"DiskFull": ["firing", "resolved"], "MemoryHigh": ["firing"],
                                           "Marker": ["firing"]}
    agent.close()
