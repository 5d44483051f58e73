"""The agent end to end against a real mosquitto: what it publishes, how it lives and dies, how it
spools, alerts, recovers and reloads."""

import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional

import jsonschema
import pytest

from tests.conftest import Recorder, publish_retained
from tests.polling import wait_until

PREFIX = "fleetmon/v1/hosts/test-host/"


def validate(payload, schema):
    jsonschema.validate(payload, schema, format_checker=jsonschema.FormatChecker())


def hub_online(broker):
    """The retained status a hub publishes when it connects (the agent drains its spool only while it is there)."""
    publish_retained(broker, "fleetmon/v1/hub/status", {"v": 1, "type": "hub_status", "state": "online"})


def retained_status(broker):
    """What a late subscriber sees on the status topic."""
    late = Recorder(broker, PREFIX + "status")
    try:
        return late.wait("status", timeout=5)[-1]
    finally:
        late.close()


class AppMetrics:
    """A local application exposing Prometheus metrics whose value the test sets."""

    def __init__(self):
        self.value = 0.0
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = f"# TYPE app_queue_depth gauge\napp_queue_depth {app.value}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/metrics"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def app_metrics():
    app = AppMetrics()
    yield app
    app.close()


def test_every_message_type_is_published_and_matches_its_schema(start_agent, recorder, schemas, tmp_path):
    flag = tmp_path / "unhealthy"
    flag.write_text("")
    start_agent({
        "groups": ["servers"], "labels": {"site": "lab"},
        "checks": {"flaky": {"type": "command", "command": f"test ! -e {flag}", "interval": 1,
                             "recovery": {"action": "command", "command": f"rm -f {flag}",
                                          "after": 1, "max_actions": 1, "window": "1h"}}},
        "thresholds": {"many_processes": {"metric": "fleetmon_processes", "warning": 1}},
    })
    birth = recorder.wait("status")[0]
    validate(birth, schemas["status"])
    assert birth["state"] == "online" and birth["groups"] == ["servers"] and birth["labels"] == {"site": "lab"}
    assert birth["facts"]["cpus"] >= 1 and birth["thresholds"] and birth["checks"][0]["name"] == "flaky"

    sample = recorder.wait("metrics")[0]
    validate(sample, schemas["metrics"])
    assert sample["metrics"]["fleetmon_memory_total_bytes"] > 0

    checks = recorder.wait("checks")[0]
    validate(checks, schemas["checks"])
    assert checks["results"][0]["name"] == "flaky" and checks["results"][0]["ok"] is False

    event = recorder.wait("events", where=lambda p: p["event"]["kind"] == "recovery_action")[0]
    validate(event, schemas["events"])
    assert not flag.exists(), "the recovery command ran"
    recorder.wait("checks", where=lambda p: p["results"][0]["ok"])

    alert = recorder.wait("alerts")[0]
    validate(alert, schemas["alerts"])
    fired = alert["alerts"][0]
    assert fired["status"] == "firing"
    assert fired["labels"]["host"] == "test-host" and fired["labels"]["site"] == "lab"
    assert fired["labels"]["severity"] == "warning"
    alerts_qos = [m.qos for m in recorder.messages if m.topic.endswith("/alerts")]
    assert alerts_qos and all(q == 1 for q in alerts_qos)


def test_birth_will_and_session_numbers(start_agent, recorder, broker):
    agent = start_agent({"broker": {"keepalive": 5}})
    first = recorder.wait("status")[0]
    assert first["state"] == "online"
    session = first["session"]

    agent.stop(kill=True)  # no clean disconnect: the broker must deliver the Last Will
    will = recorder.wait("status", where=lambda p: p["state"] == "offline", timeout=20)[0]
    assert will["session"] == session and will["reason"] == "will"
    assert retained_status(broker)["state"] == "offline"

    agent.start()
    reborn = recorder.wait("status", where=lambda p: p["state"] == "online" and p["session"] > session)[0]
    assert reborn["session"] == session + 1

    # A will of the earlier session arriving late must not mark the live session dead.
    publish_retained(broker, PREFIX + "status", dict(will, ts=time.time()))
    wait_until(lambda: retained_status(broker)["state"] == "online", timeout=10,
               message="the agent to re-assert its birth")
    assert retained_status(broker)["session"] == session + 1

    agent.stop()
    clean = recorder.wait("status", where=lambda p: p["state"] == "offline" and p["session"] == session + 1)[0]
    assert clean["reason"] == "shutdown"


# The agent waits 1.5-3 s before reconnecting, so the test's subscriber is back on the broker first.
SLOW_RECONNECT = {"broker": {"reconnect": {"min_delay": 3, "max_delay": 3}}}


def test_broker_outage_is_backfilled_in_order(start_agent, recorder, broker, schemas):
    agent = start_agent(SLOW_RECONNECT)
    recorder.wait("metrics", count=2)
    # The broker stops while the first subscriber still listens: every sample published live before the
    # outage reached it, so the ones after ``last_seen`` are the samples the outage is about.
    broker.stop()
    recorder.close()
    last_seen = max(p["seq"] for p in recorder.payloads("metrics"))
    wait_until(lambda: len([seq for seq in agent.spooled_seqs() if seq > last_seen]) >= 30, timeout=90,
               message="30 samples spooled during the outage")
    # The agent is paused while the broker comes back and the new subscriber subscribes: it takes no sample
    # meanwhile, and cannot reconnect and publish live samples before anyone listens (a hole in what the
    # test sees, not in what the agent sent: CI saw it when the subscriber was slow to connect).
    agent.signal(signal.SIGSTOP)
    try:
        broker.start()
        late = Recorder(broker)
        late.sync()
    finally:
        agent.signal(signal.SIGCONT)
    hub_online(broker)  # back-fill flows only while a hub is there to store it
    try:
        backfill = late.wait("backfill", count=25, timeout=60)
        late.wait("metrics", count=2)
        for payload in backfill:
            validate(payload, schemas["metrics"])
        seqs = [p["seq"] for p in backfill]
        assert seqs == sorted(seqs), "back-filled samples arrive in order"

        # Every sample taken since the last one the first subscriber saw arrives, back-filled or live: a sample
        # in flight when the broker went down is re-sent by the MQTT session on the live topic, so the first
        # live sample may be older than the back-fill. Older samples may come too (one the agent took before
        # its first connection is back-filled now), but they went out before the outage: they are not counted.
        def seen():
            return sorted({p["seq"] for p in late.payloads("backfill")} | {p["seq"] for p in late.payloads("metrics")})

        def holes():
            return sorted(set(range(last_seen + 1, seen()[-1] + 1)) - set(seen()))

        try:
            wait_until(lambda: not holes(), timeout=30, message="the spool to drain up to the live samples")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: missing {holes()} of {seen()}") from None
        backfilled = [p["seq"] for p in late.payloads("backfill") if p["seq"] > last_seen]
        assert backfilled == list(range(backfilled[0], backfilled[0] + len(backfilled)))
        assert backfilled[-1] < late.payloads("metrics")[-1]["seq"], "the live stream runs ahead of the back-fill"
        transitions = [p for p in late.payloads("alerts") if not p.get("complete")]
        assert transitions == [], "back-fill triggers no alert (the hub's birth only asks for the complete list)"
    finally:
        late.close()


def test_spool_bound_drops_oldest_and_says_so(start_agent, recorder, broker):
    agent = start_agent(dict(SLOW_RECONNECT, spool={"max_samples": 5}))
    recorder.wait("metrics")
    recorder.close()
    broker.stop()
    # Every sample after the last one the recorder saw went to the spool (at the latest when the broker went
    # away), so once the newest is ten past it, at least five were dropped to keep the bound of five.
    last_seen = recorder.payloads("metrics")[-1]["seq"]
    wait_until(lambda: max(agent.spooled_seqs(), default=0) >= last_seen + 10, timeout=40,
               message="ten samples taken during the outage")
    broker.start()
    late = Recorder(broker)
    hub_online(broker)
    try:
        dropped = late.wait("events", where=lambda p: p["event"]["kind"] == "spool_dropped", timeout=30)[0]
        assert dropped["event"]["details"]["dropped"] >= 5
        backfill = late.wait("backfill", count=5, timeout=30)
        seqs = [p["seq"] for p in backfill]
        assert len(seqs) == 5 and seqs == list(range(seqs[0], seqs[0] + 5)), "the newest five survive"
        live_seq = late.wait("metrics")[0]["seq"]
        assert seqs[-1] >= live_seq - 3, "the oldest were dropped, not the newest"
    finally:
        late.close()


def test_threshold_fires_once_and_resolves_once_with_hysteresis(start_agent, recorder, app_metrics):
    app_metrics.value = 5
    start_agent({
        "collectors": {"prometheus": {"targets": [{"name": "app", "url": app_metrics.url}]}},
        "thresholds": {"queue": {"metric": "app_queue_depth", "scraped": True, "warning": 10,
                                 "hysteresis": 3, "for": "2s"}},
    })
    recorder.wait("metrics", count=2)
    app_metrics.value = 15
    fired = recorder.wait("alerts", timeout=15)[0]["alerts"][0]
    assert fired["status"] == "firing" and fired["labels"]["alertname"]

    def evaluated(value: float, samples: int = 3) -> None:
        """Wait until the agent has sampled ``value`` this many times: its thresholds have judged it."""
        before = len(recorder.payloads("metrics"))
        wait_until(lambda: sum(1 for p in recorder.payloads("metrics")[before:] if queue_depth(p) == value) >= samples,
                   timeout=20, message=f"{samples} samples with app_queue_depth {value}")

    app_metrics.value = 8  # below the level, inside the hysteresis band: still firing
    evaluated(8)
    app_metrics.value = 12
    evaluated(12)
    assert len(recorder.payloads("alerts")) == 1
    app_metrics.value = 4
    resolved = recorder.wait("alerts", count=2, timeout=10)[1]["alerts"][0]
    assert resolved["status"] == "resolved" and resolved["fingerprint"] == fired["fingerprint"]
    evaluated(4)
    assert len(recorder.payloads("alerts")) == 2, "one firing, one resolved, nothing more"


def queue_depth(sample: Dict[str, Any]) -> Optional[float]:
    """The scraped app_queue_depth in a sample, whichever wire form it takes (a value or [[labels, value]])."""
    entry = sample["metrics"].get("app_queue_depth")
    if isinstance(entry, list):
        return entry[0][1] if entry and isinstance(entry[0], list) else None
    return entry


def test_recovery_runs_at_most_m_times_per_window(start_agent, recorder, tmp_path):
    actions = tmp_path / "actions.log"
    start_agent({"checks": {"broken": {
        "type": "command", "command": "false", "interval": 1,
        "recovery": {"action": "command", "command": f"echo restarted >> {actions}",
                     "after": 2, "max_actions": 2, "window": "1h"}}}})
    recorder.wait("events", where=lambda p: p["event"]["kind"] == "recovery_suppressed", timeout=30)
    # The agent publishes a batch's events (and runs its recovery) before the batch's checks message, so
    # three more checks messages mean at least two later failures judged, and none of them acted.
    recorder.wait("checks", count=len(recorder.payloads("checks")) + 3, timeout=20)
    assert actions.read_text().count("restarted") == 2
    kinds = [p["event"]["kind"] for p in recorder.payloads("events")]
    assert kinds.count("recovery_action") == 2


def test_bad_config_at_start_names_the_key_and_exits(start_agent, tmp_path):
    agent = start_agent({"thresholds": {"cpu": {"warning": "high"}}, "interval": -1})
    assert agent.process.wait(timeout=20) == 2
    assert "thresholds.cpu.warning" in agent.log and "interval: must be at least" in agent.log


def test_bad_reload_keeps_the_old_config_and_good_reload_applies(start_agent, recorder):
    agent = start_agent({"labels": {"site": "a"}})
    recorder.wait("metrics")
    good = agent.config
    agent.write_config(dict(good, interval="soon", broker={"url": "http://nope"}))
    agent.signal(signal.SIGHUP)
    rejected = recorder.wait("events", where=lambda p: p["event"]["kind"] == "config_rejected")[0]
    errors = "\n".join(rejected["event"]["details"]["errors"])
    assert "interval" in errors and "broker.url" in errors
    before = len(recorder.payloads("metrics"))
    recorder.wait("metrics", count=before + 2)
    assert agent.process.poll() is None, "the agent is still running"

    agent.write_config(dict(good, labels={"site": "b"}))
    agent.signal(signal.SIGHUP)
    recorder.wait("events", where=lambda p: p["event"]["kind"] == "config_reloaded")
    birth = recorder.wait("status", where=lambda p: p.get("labels") == {"site": "b"})[0]
    assert birth["session"] == recorder.payloads("status")[0]["session"]


def test_a_hub_coming_online_is_told_every_alert_firing(start_agent, recorder, broker, schemas):
    """The agent's half of making good a transition a killed hub lost: each time it sees a hub's birth, one
    complete alerts message with everything firing on the host now."""
    start_agent({"thresholds": {"memory": {"warning": "1%"}}})
    fired = recorder.wait("alerts", where=lambda p: any(a["status"] == "firing" for a in p["alerts"]))[0]
    hub_online(broker)
    complete = recorder.wait("alerts", where=lambda p: p.get("complete") is True)[0]
    jsonschema.validate(complete, schemas["alerts"])
    assert [a["fingerprint"] for a in complete["alerts"]] == [a["fingerprint"] for a in fired["alerts"]]
    assert all(a["status"] == "firing" for a in complete["alerts"])


def test_events_taken_while_the_broker_is_away_are_published_when_it_is_back(start_agent, recorder, broker, tmp_path):
    flag, actions = tmp_path / "unhealthy", tmp_path / "actions"
    start_agent({"checks": {"flaky": {"type": "command", "command": f"test ! -e {flag}", "interval": 1,
                                      "recovery": {"action": "command", "after": 1, "max_actions": 1, "window": "1h",
                                                   "command": f"rm -f {flag}; echo done >> {actions}"}}}})
    recorder.wait("metrics")
    recorder.close()
    broker.stop()
    flag.write_text("")  # the check fails from now on, and its recovery acts
    wait_until(lambda: actions.exists(), timeout=20, message="the recovery action, with no broker to tell")
    broker.start()
    late = Recorder(broker)
    try:
        event = late.wait("events", where=lambda p: p["event"]["kind"] == "recovery_action", timeout=30)[0]
        assert event["event"]["details"]["ok"] is True and event["event"]["details"]["check"] == "flaky"
    finally:
        late.close()
