"""The hub end to end: a real broker, real agent processes, the hub process, its HTTP side."""

import os
import signal
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.protocol import messages
from tests.conftest import AGENT_SRC, Recorder
from tests.polling import wait_until


def fleet_alerts(recorder, alertname, status):
    return [a for payload in recorder.payloads("alerts") if payload.get("type") == "alerts" and "host" not in payload
            for a in payload["alerts"] if a["labels"]["alertname"] == alertname and a["status"] == status]


def test_a_host_appears_with_its_groups_thresholds_and_metrics(start_agent, start_hub):
    hub = start_hub({"expected_hosts": {"test-host": ["servers"], "ghost": ["jetsons"]}})
    start_agent({"groups": ["servers", "berlin"], "labels": {"site": "berlin"},
                 "thresholds": {"cpu": {"warning": "85%"}}})
    host = wait_until(lambda: (h := hub.host("test-host")) and h["state"] == "online" and h["cpu"] is not None and h,
                      timeout=20, message="the host online in the hub")
    assert host["groups"] == ["servers", "berlin"] and host["labels"] == {"site": "berlin"} and host["health"] > 0
    detail = hub.get("/api/v1/hosts/test-host")
    assert detail["thresholds"][0]["name"] == "cpu" and detail["facts"]["cpus"] >= 1
    assert hub.host("ghost")["state"] == "missing"
    metrics = hub.get("/metrics")
    assert 'fleetmon_host_up{host="test-host"} 1.0' in metrics
    assert 'fleetmon_memory_total_bytes{host="test-host",site="berlin"}' in metrics
    assert "fleetmon_hub_samples_ingested_total" in metrics and "fleetmon_hub_ingest_lag_seconds" in metrics
    groups = hub.get("/api/v1/groups")["groups"]
    assert groups["servers"]["online"] == 1 and groups["jetsons"]["missing"] == 1
    assert hub.get("/health/ready")["ok"] and hub.get("/health/live")["ok"]
    figures = hub.get("/api/v1/hub")
    assert figures["samples_ingested"] > 0 and sum(figures["ingest_lag_seconds"]["buckets"].values()) > 0


def test_a_killed_agent_is_down_then_back(start_agent, start_hub, recorder):
    hub = start_hub()
    agent = start_agent({"broker": {"keepalive": 5}})
    wait_until(lambda: (h := hub.host("test-host")) and h["state"] == "online", timeout=20, message="online")
    killed_at = time.monotonic()
    agent.stop(kill=True)
    wait_until(lambda: hub.host("test-host")["state"] == "offline", timeout=10, message="offline by will")
    assert time.monotonic() - killed_at < 1.5 * 5 + 1
    fired = wait_until(lambda: fleet_alerts(recorder, "HostDown", "firing"), timeout=10, message="HostDown")[0]
    assert fired["labels"]["host"] == "test-host" and fired["annotations"]["cause"] == "will"
    agent.start()
    resolved = wait_until(lambda: fleet_alerts(recorder, "HostDown", "resolved"), timeout=20, message="resolved")[0]
    assert resolved["fingerprint"] == fired["fingerprint"] and resolved["startsAt"] == fired["startsAt"]
    assert hub.host("test-host")["state"] == "online"


def test_a_silent_host_is_told_apart_from_a_dead_one(start_agent, start_hub):
    hub = start_hub({"liveness": {"silent_after": 2}})
    agent = start_agent({"broker": {"keepalive": 30}})
    wait_until(lambda: (h := hub.host("test-host")) and h["state"] == "online", timeout=20, message="online")
    agent.signal(signal.SIGSTOP)  # frozen: the TCP session lives on, samples stop
    try:
        wait_until(lambda: hub.host("test-host")["state"] == "silent", timeout=15, message="silent")
        alert = wait_until(lambda: hub.get("/api/v1/alerts")["alerts"], timeout=10, message="HostDown (silent)")[0]
        assert alert["labels"]["alertname"] == "HostDown" and alert["annotations"]["cause"] == "silent"
    finally:
        agent.signal(signal.SIGCONT)
    wait_until(lambda: hub.host("test-host")["state"] == "online", timeout=15, message="back online")
    wait_until(lambda: hub.get("/api/v1/alerts")["alerts"] == [], timeout=10, message="HostDown resolved")


def test_several_hosts_of_a_group_failing_together_is_a_cascade(start_agent, start_hub, recorder):
    hub = start_hub()
    agents = [start_agent({"host_id": f"edge-{i}", "groups": ["edge"]}, f"agent{i}") for i in range(3)]
    wait_until(lambda: all((h := hub.host(f"edge-{i}")) and h["state"] == "online" for i in range(3)), timeout=30,
               message="three edge hosts online")
    for agent in agents:
        agent.stop(kill=True)
    cascade = wait_until(lambda: fleet_alerts(recorder, "CascadingFailure", "firing"), timeout=15, message="cascade")[0]
    assert cascade["labels"]["group"] == "edge"
    assert float(cascade["annotations"]["confidence"]) > 0


def publish_trace(broker, host, points, interval):
    """A recorded disk-fill trace: samples with their own timestamps, sent as an agent would send them."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    birth = messages.status(host, 1, 1, points[0][0], "online", agent_version="trace", started_at=points[0][0],
                            interval_s=interval, facts={}, groups=["servers"], labels={})
    client.publish(f"fleetmon/v1/hosts/{host}/status", messages.encode(birth), qos=1, retain=True).wait_for_publish(5)
    for seq, (ts, used) in enumerate(points, start=1):
        sample = messages.metrics(host, 1, seq, ts, interval, 0.001, {
            "fleetmon_filesystem_usage_ratio": [[{"mount": "/data", "device": "/dev/sdb1", "fstype": "ext4"}, used]],
            "fleetmon_cpu_usage_ratio": 0.1}, {})
        client.publish(f"fleetmon/v1/hosts/{host}/metrics", messages.encode(sample), qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def test_the_predictive_rule_fires_on_a_disk_filling_in_a_trace(start_hub, broker, recorder):
    start_hub({"history_rules_interval": 1, "history": {"rollup_interval": 1},
               "liveness": {"skew_tolerance": 86400, "silent_after": 1000}})
    now = time.time()
    trace = [(now - 3 * 3600 + 60 * i, 0.40 + 0.10 * i / 60) for i in range(180)]  # +10 % an hour, 70 % now
    publish_trace(broker, "filler", trace, 60)
    alert = wait_until(lambda: [a for a in fleet_alerts(recorder, "PredictedExhaustion", "firing")
                              if a["labels"].get("host") == "filler"], timeout=30, message="prediction")[0]
    assert alert["labels"]["mount"] == "/data"


def judged_again(hub) -> None:
    """Wait until the hub judges hosts and has evaluated its rules three more times since: whatever it
    would raise about the fleet as it stands, it has raised by then."""
    wait_until(lambda: hub.metric("fleetmon_hub_judging") == 1, timeout=30, message="the hub judging hosts")
    hub.wait_for_rule_evaluations(3)


def test_a_broker_restart_is_survived(start_agent, start_hub, broker):
    hub = start_hub()
    start_agent()
    wait_until(lambda: (h := hub.host("test-host")) and h["state"] == "online", timeout=20, message="online")
    broker.stop()
    wait_until(lambda: hub.get("/health/ready") is None, timeout=10, message="not ready without a broker")
    broker.start()
    returned = time.time()  # the hub's receive times are on this machine's clock
    wait_until(lambda: hub.get("/health/ready"), timeout=30, message="ready again")
    # Not "later than the value before": that value may not exist yet (a birth seen, no sample since).
    wait_until(lambda: (hub.host("test-host")["last_sample_at"] or 0) > returned, timeout=20, message="samples again")
    assert hub.process.poll() is None
    # The broker's loss is reported once; the hub's own clean stop, which ends its session too, is no loss.
    assert hub.log.count("lost the broker connection") == 1, hub.log
    assert hub.stop() == 0
    assert hub.log.count("lost the broker connection") == 1, hub.log


def test_a_restarted_hub_keeps_firing_alerts_and_does_not_re_raise_resolved_ones(start_agent, start_hub, recorder):
    hub = start_hub({"expected_hosts": {"test-host": ["servers"]}})
    agent = start_agent()
    wait_until(lambda: (h := hub.host("test-host")) and h["state"] == "online", timeout=20, message="online")
    agent.stop(kill=True)
    fired = wait_until(lambda: fleet_alerts(recorder, "HostDown", "firing"), timeout=15, message="HostDown")[0]

    hub.stop()  # the host is still down while the hub restarts
    hub.start()
    wait_until(lambda: hub.host("test-host")["state"] == "offline", timeout=20,
               message="offline from the retained will")
    judged_again(hub)
    assert [a["fingerprint"] for a in hub.get("/api/v1/alerts")["alerts"]] == [fired["fingerprint"]]
    assert len(fleet_alerts(recorder, "HostDown", "firing")) == 1, "still firing, not raised again"

    agent.start()
    resolved = wait_until(lambda: fleet_alerts(recorder, "HostDown", "resolved"), timeout=20, message="resolved")
    assert resolved[0]["startsAt"] == fired["startsAt"], "the same episode ends"

    hub.stop()
    hub.start()
    wait_until(lambda: (h := hub.host("test-host")) and h["state"] == "online", timeout=20, message="recovered")
    judged_again(hub)
    assert len(fleet_alerts(recorder, "HostDown", "firing")) == 1 and hub.get("/api/v1/alerts")["alerts"] == []


def test_hosts_removed_from_the_inventory_leave_the_fleet_view(start_hub, broker):
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    gone = messages.status("retired", 3, 2, time.time(), "offline", reason="shutdown")
    client.publish("fleetmon/v1/hosts/retired/status", messages.encode(gone), qos=1, retain=True).wait_for_publish(5)
    client.publish("fleetmon/v1/fleet/hosts/retired", b'{"host":"retired"}', qos=1, retain=True).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()

    hub = start_hub({"expected_hosts": {"test-host": ["servers"]}})
    wait_until(lambda: hub.get("/health/startup"), timeout=20, message="startup")
    wait_until(lambda: hub.host("retired") is None, timeout=10, message="the retired host forgotten")

    def retained_view():
        late = Recorder(broker, "fleetmon/v1/fleet/hosts/#")
        try:
            late.sync()  # every retained message of the subscription has arrived
            return {m.topic for m in late.messages if m.payload}
        finally:
            late.close()

    wait_until(lambda: retained_view() == {"fleetmon/v1/fleet/hosts/test-host"}, timeout=20,
               message="only the inventory's host left in the retained fleet view")


def test_fleetmon_status_shows_the_fleet_from_the_hub_and_from_the_broker(start_agent, start_hub, broker):
    hub = start_hub({"expected_hosts": {"test-host": ["servers"], "ghost": ["jetsons"]}, "republish": {"interval": 1}})
    start_agent({"groups": ["servers"]})
    wait_until(lambda: (h := hub.host("test-host")) and h["cpu"] is not None, timeout=20, message="a sample")
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC), COLUMNS="160")
    for source in (["--hub", f"http://127.0.0.1:{hub.port}"], ["--broker", broker.url]):
        def table(source=source):
            result = subprocess.run([sys.executable, "-m", "fleetmon", "status", *source], capture_output=True,
                                    text=True, env=env, timeout=30)
            return result.stdout if "test-host" in result.stdout and "ghost" in result.stdout else None

        out = wait_until(table, timeout=20, message=f"status via {source[0]}")
        assert "online" in out and "missing" in out and "servers" in out and "%" in out
