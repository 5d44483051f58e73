"""The hub knows when it is blind (issue 10): a broker outage or a stalled hub pages nothing about the hosts.

Each scenario: 50 simulated hosts at a 1 s interval (`fleetmon simulate`) and one real agent, a real hub
routing every alert into one group to a real webhook sink. The fault happens; then the test waits for
a positive event that must come after any false page: the hub judges hosts again and has evaluated its
rules past the point where a false HostDown would fire, then a canary alert is posted and reaches the sink.
Every notification up to the canary's must hold nothing but the canary and the hub's own HubBlind.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import AGENT_SRC
from tests.hub.alerting.conftest import HttpSink
from tests.polling import wait_until

HOSTS = 50
TOKEN = "blind-test-token-0123456789abcdef"
HUB_ALERTS = {"HubBlind", "Canary"}
#: Agents' and the simulator's reconnect backoff in these tests stays below this.
SETTLE = 12


@pytest.fixture
def sink():
    sink = HttpSink()
    yield sink
    sink.close()


@pytest.fixture
def fleet(tmp_path, broker, start_hub, start_agent, sink):
    """A hub, 50 simulated hosts and one real agent, all online and judged."""
    hub = start_hub({
        "rules_interval": 0.5,
        "liveness": {"silent_after": 3, "settle": SETTLE, "stall_after": 3, "max_lag": 5},
        "rules": {"hub_blind": {"for": "20s"}},
        "broker": {"url": broker.url, "keepalive": 10, "reconnect": {"min_delay": 0.2, "max_delay": 1}},
        "api": {"token": TOKEN},
        "alerting": {"route": {"receiver": "sink", "group_by": [], "group_wait": "0.5s", "group_interval": "1s",
                               "repeat_interval": "1h"},
                     "receivers": [{"name": "sink", "webhook_configs": [{"url": sink.url(), "send_resolved": True}]}]},
    })
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC))
    simulator = subprocess.Popen([sys.executable, "-m", "fleetmon", "simulate", "--hosts", str(HOSTS), "--interval",
                                  "1", "--duration", "900", "--broker", broker.url, "--seed", "7"],
                                 stdout=open(tmp_path / "simulate.log", "wb"), stderr=subprocess.STDOUT, env=env)
    agent = start_agent({"interval": 1, "broker": {"reconnect": {"min_delay": 0.2, "max_delay": 1}}}, "real-agent")
    try:
        wait_until(lambda: online(hub) == HOSTS + 1, timeout=60, message="every host online")
        wait_until(lambda: judging(hub), timeout=30, message="the hub judging hosts")
        yield hub, agent, sink
    finally:
        simulator.send_signal(signal.SIGTERM)
        simulator.wait(timeout=20)


def status(hub) -> str:
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "fleetmon", "status", "--hub", f"http://127.0.0.1:{hub.port}"],
                          capture_output=True, text=True, env=env, timeout=30).stdout


def online(hub) -> int:
    return sum(1 for h in (hub.get("/api/v1/hosts") or {}).get("hosts", []) if h["state"] == "online")


def judging(hub) -> bool:
    return hub.metric("fleetmon_hub_judging") == 1


def notified(sink) -> list[dict]:
    """Every alert in every notification so far, in order."""
    return [alert for request in list(sink.requests) for alert in request.json()["alerts"]]


def canary_after_judging(hub, sink, host_samples_after: float) -> list[dict]:
    """Wait until every host sent a sample after ``host_samples_after``, the hub judges again and has run
    its rules three more times (a false HostDown would be raised by then), then fire a canary and return
    every alert notified up to and including it."""
    wait_until(lambda: all((h["last_sample_at"] or 0) > host_samples_after
                           for h in hub.get("/api/v1/hosts")["hosts"] if h["state"] == "online"),
               timeout=60, message="samples from every live host after the fault")
    wait_until(lambda: judging(hub), timeout=60, message="the hub judging hosts again")
    hub.wait_for_rule_evaluations(3)
    body = json.dumps([{"labels": {"alertname": "Canary", "severity": "info"}}]).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}/api/v2/alerts", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5):
        pass
    wait_until(lambda: any(a["labels"]["alertname"] == "Canary" for a in notified(sink)), timeout=15,
               message="the canary at the sink")
    return notified(sink)


def host_level(alerts: list[dict]) -> list[str]:
    return sorted({f"{a['labels']['alertname']} {a['labels'].get('host', a['labels'].get('group', ''))}"
                   for a in alerts if a["labels"]["alertname"] not in HUB_ALERTS})


@pytest.mark.parametrize(("outage", "kill"), [
    (5, False),
    pytest.param(5, True, id="5-sigkill"),
    pytest.param(45, False, marks=pytest.mark.chaos),
    pytest.param(300, False, marks=[pytest.mark.chaos, pytest.mark.timeout(600)]),
    pytest.param(30, True, marks=pytest.mark.chaos, id="30-sigkill"),
])
def test_a_broker_outage_pages_nothing_about_the_hosts(fleet, broker, outage, kill):
    """A clean stop sends every client's will on the way down; a SIGKILL (persistence off) loses every
    session and retained birth: neither is the fleet going down."""
    hub, _, sink = fleet
    started = time.monotonic()
    broker.kill() if kill else broker.stop()
    wait_until(lambda: "the hub is blind" in status(hub), timeout=10,
               message="`fleetmon status` saying the hub is blind")
    # Protocol pause: the rest of the outage whose length (against HubBlind's `for`) is the scenario.
    time.sleep(max(0.0, outage - (time.monotonic() - started)))
    broker.start()
    returned = time.time()
    alerts = canary_after_judging(hub, sink, returned)
    assert host_level(alerts) == [], "a broker outage is not the fleet going down"
    blind = [a["status"] for a in alerts if a["labels"]["alertname"] == "HubBlind"]
    if outage > 20:  # HubBlind's `for` in this test
        assert blind[:1] == ["firing"], "the hub reports its own blindness, once"
        wait_until(lambda: [a["status"] for a in notified(sink) if a["labels"]["alertname"] == "HubBlind"][-1]
                   == "resolved", timeout=15, message="HubBlind resolved")
    else:
        assert blind == [], "a blindness shorter than HubBlind's `for` is not worth a page"


def test_a_host_killed_during_a_broker_outage_is_reported_after_it(fleet, broker, start_agent):
    hub, agent, sink = fleet
    broker.stop()
    agent.stop(kill=True)  # dies while nobody can see it
    wait_until(lambda: "the hub is blind" in status(hub), timeout=10, message="the hub knowing it is blind")
    broker.start()
    returned = time.time()
    down = wait_until(lambda: [a for a in notified(sink) if a["labels"]["alertname"] == "HostDown"], timeout=60,
                      message="HostDown for the killed host")
    assert [a["labels"]["host"] for a in down] == ["test-host"]
    assert time.time() - returned >= SETTLE, "judged only once the hub has settled"
    assert host_level(canary_after_judging(hub, sink, returned)) == ["HostDown test-host"], "and only that host"


@pytest.mark.parametrize("pause", [8, pytest.param(60, marks=pytest.mark.chaos)])
def test_a_paused_hub_pages_nothing_about_the_hosts(fleet, pause):
    hub, _, sink = fleet
    hub.process.send_signal(signal.SIGSTOP)
    time.sleep(pause)  # protocol pause: the stall itself, as long as the scenario says
    hub.process.send_signal(signal.SIGCONT)
    resumed = time.time()
    alerts = canary_after_judging(hub, sink, resumed)
    assert host_level(alerts) == [], "a stalled hub is not the fleet going down"
    assert hub.process.poll() is None


@pytest.mark.parametrize("fault", ["hang", "kill"])
def test_a_real_host_fault_pages_once_and_only_that_host(fleet, fault):
    """The other side of the coin: a hung (SIGSTOP) or killed agent among 50 healthy hosts is one HostDown,
    and a hung one that comes back resolves it."""
    hub, agent, sink = fleet
    if fault == "hang":
        agent.signal(signal.SIGSTOP)
    else:
        agent.stop(kill=True)
    down = wait_until(lambda: [a for a in notified(sink) if a["labels"]["alertname"] == "HostDown"], timeout=30,
                      message="HostDown for the faulty host")
    assert [(a["labels"]["host"], a["annotations"]["cause"]) for a in down] == \
        [("test-host", "silent" if fault == "hang" else "will")]
    if fault == "hang":
        agent.signal(signal.SIGCONT)
        wait_until(lambda: [a["status"] for a in notified(sink) if a["labels"]["alertname"] == "HostDown"][-1]
                   == "resolved", timeout=30, message="HostDown resolved once the agent runs again")
    assert host_level(canary_after_judging(hub, sink, time.time())) == ["HostDown test-host"]
