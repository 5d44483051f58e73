"""Alerting on the real hub (real broker, real agent where it matters), driven through the operator commands.

Each behaviour the issue names — restart survival, acknowledgement, escalation, flap detection, silences —
is shown end to end: alerts in (from an agent over MQTT, or Alertmanager's API), webhooks out to an HTTP
sink, and `fleetmon ack|silence|alerts` changing and reading the hub's state.
"""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from fleetmon.protocol.messages import rfc3339
from tests.conftest import AGENT_SRC
from tests.polling import wait_until

TOKEN = "alerting-hub-test-token-0123456789"


def hub_config(sink, route: dict | None = None, **extra) -> dict:
    route = {"receiver": "team", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s",
             "repeat_interval": "1h", **(route or {})}
    receivers = [{"name": name, "webhook_configs": [{"url": sink.url(f"/{name}")}]}
                 for name in ("team", "lead")]
    return {"alerting": {"route": route, "receivers": receivers, **extra}, "api": {"token": TOKEN}}


def post(hub, alerts: list[dict], token: str = TOKEN) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Authorization": f"Bearer {token}"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def fleetmon(hub, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    flags = ["--hub", f"http://127.0.0.1:{hub.port}", "--by", "tester"] + (["--token", token] if token else [])
    command = [sys.executable, "-m", "fleetmon", *args[:1], *flags, *args[1:]]
    if args[0] == "silence":
        command = [sys.executable, "-m", "fleetmon", "silence", args[1], *flags, *args[2:]]
    return subprocess.run(command, capture_output=True, text=True, timeout=30,
                          env={"PYTHONPATH": str(AGENT_SRC), "PATH": "/usr/bin:/bin"})


def received(sink, receiver: str) -> list[dict]:
    return [r.json() for r in sink.requests if r.path == f"/{receiver}"]


def firing(name: str, **labels) -> dict:
    return {"labels": {"alertname": name, **labels}, "startsAt": rfc3339(time.time())}


def resolved(name: str, **labels) -> dict:
    return {"labels": {"alertname": name, **labels}, "endsAt": rfc3339(time.time())}


def named(sink, receiver: str, alertname: str) -> list[dict]:
    """The notifications of one group (``group_by: [alertname]``) at one receiver (not an incident's notices)."""
    return [body for body in received(sink, receiver)
            if body.get("kind") != "incident" and body["groupLabels"].get("alertname") == alertname]


def marker(hub, sink, receiver: str = "team") -> None:
    """Post the alert Marker (its own group) and wait for its first notification at ``receiver``.

    Proving that something did not happen needs a positive event that must come after it. A notification of
    Marker comes after every decision the hub made before Marker's group was flushed, and one receiver
    integration delivers in order; its repeats and escalations come on the hub's own clock.
    """
    assert post(hub, [firing("Marker")]) == 200
    marker_notified(sink, receiver, 1)


def marker_notified(sink, receiver: str, count: int) -> None:
    wait_until(lambda: len(named(sink, receiver, "Marker")) >= count, timeout=20,
               message=f"notification {count} of Marker at /{receiver}")


def test_an_agent_alert_reaches_the_webhook_and_a_restarted_hub_neither_repeats_nor_forgets(
        start_hub, start_agent, http_sink):
    hub = start_hub(hub_config(http_sink))
    agent = start_agent({"thresholds": {"memory": {"warning": "1%"}}})
    [notified] = http_sink.wait(1, timeout=30, path="/team")
    body = notified.json()
    assert body["status"] == "firing" and body["alerts"][0]["labels"]["alertname"] == "HostMemoryHigh"
    assert body["alerts"][0]["labels"]["host"] == "test-host" and body["groupKey"] == \
        '{}:{alertname="HostMemoryHigh"}'
    silence = fleetmon(hub, "silence", "add", 'alertname="Unrelated"', "--duration", "1h", "--comment", "kept")
    assert silence.returncode == 0, silence.stderr

    hub.stop()
    hub.start()
    marker(hub, http_sink)  # the restored group flushed first, in the restarted hub's first round
    assert len(named(http_sink, "team", "HostMemoryHigh")) == 1  # no duplicate
    listing = fleetmon(hub, "alerts")
    assert "HostMemoryHigh" in listing.stdout and "firing" in listing.stdout
    assert silence.stdout.strip() in fleetmon(hub, "silence", "list").stdout

    agent.write_config({**agent.config, "thresholds": {"memory": {"warning": "99.9%"}}})
    agent.signal(1)  # SIGHUP: the agent reloads and resolves its alert; the hub remembers whom to tell
    wait_until(lambda: any(b["status"] == "resolved" for b in named(http_sink, "team", "HostMemoryHigh")),
               timeout=20, message="the resolved notification after the restart")


def test_acknowledgement_stops_repeats_until_the_alert_set_changes(start_hub, http_sink):
    hub = start_hub(hub_config(http_sink, {"repeat_interval": "2s"}))
    assert post(hub, [firing("DiskFull", instance="a")]) == 200
    http_sink.wait(2, timeout=10, path="/team")  # first notification, then a repeat
    groups = hub.get("/api/v1/alerts/groups")["groups"]
    assert len(groups) == 1 and groups[0]["firing"] == 1

    refused = fleetmon(hub, "ack", groups[0]["id"], token=None)
    assert refused.returncode == 1 and "401" in refused.stderr and "API token" in refused.stderr
    acked = fleetmon(hub, "ack", groups[0]["id"], "--comment", "replacing the disk", "--expires", "1h")
    assert acked.returncode == 0, acked.stderr
    count = len(named(http_sink, "team", "DiskFull"))
    marker(hub, http_sink)
    marker_notified(http_sink, "team", 3)  # two repeats of Marker: two repeat intervals on the hub's clock
    assert len(named(http_sink, "team", "DiskFull")) <= count + 1  # one may have been in flight when the ack landed
    settled = len(named(http_sink, "team", "DiskFull"))
    marker_notified(http_sink, "team", 4)  # another repeat interval
    assert len(named(http_sink, "team", "DiskFull")) == settled
    listing = fleetmon(hub, "alerts")
    assert "acknowledged by tester" in listing.stdout

    assert post(hub, [firing("DiskFull", instance="b")]) == 200  # the set changes: notified again
    wait_until(lambda: len(named(http_sink, "team", "DiskFull")) > settled, timeout=10, message="new alerts added")
    assert len(named(http_sink, "team", "DiskFull")[-1]["alerts"]) == 2
    history = hub.get("/api/v1/alerting/history?since=0")
    assert any(a["kind"] == "ack" and a["by"] == "tester" for a in history["actions"])
    stats = hub.get("/api/v1/alerting/stats?since=0")
    assert stats["acknowledged"] == 1 and stats["meanTimeToAcknowledge"] >= 0
    metrics = hub.get("/metrics")
    assert 'fleetmon_alert_firing{acknowledged="true",alertname="DiskFull",instance="a",muted="false"} 1.0' in metrics
    assert 'fleetmon_alert_firing{acknowledged="false",alertname="DiskFull",instance="b",muted="false"} 1.0' in metrics
    assert 'fleetmon_hub_notifications_total{result="delivered"}' in metrics


def test_an_unacknowledged_group_escalates_and_an_acknowledged_one_does_not(start_hub, http_sink):
    hub = start_hub(hub_config(http_sink, {"escalation": [{"after": "3s", "receivers": ["lead"]}]}))
    assert post(hub, [firing("Ignored", instance="a"), firing("Handled", instance="b")]) == 200
    http_sink.wait(2, timeout=10, path="/team")
    handled = next(g for g in hub.get("/api/v1/alerts/groups")["groups"] if g["labels"]["alertname"] == "Handled")
    assert fleetmon(hub, "ack", handled["id"]).returncode == 0
    [escalated] = http_sink.wait(1, timeout=10, path="/lead")
    body = escalated.json()
    assert body["groupLabels"] == {"alertname": "Ignored"} and body["receiver"] == "lead"
    marker(hub, http_sink, "lead")  # Marker's escalation is due after Handled's would have been
    assert [b["groupLabels"]["alertname"] for b in received(http_sink, "lead")] == ["Ignored", "Marker"]
    group = next(g for g in hub.get("/api/v1/alerts/groups")["groups"] if g["labels"]["alertname"] == "Ignored")
    assert group["escalationTier"] == 1


def test_a_flapping_alert_is_held_until_it_settles(start_hub, http_sink):
    hub = start_hub(hub_config(http_sink, flapping={"changes": 3, "window": "1m", "settle": "4s"}))
    for count, change in enumerate((firing, resolved, firing, resolved), start=1):
        assert post(hub, [change("Wobbly", instance="a")]) == 200  # each change is notified before the next
        wait_until(lambda count=count: len(received(http_sink, "team")) >= count, timeout=10,
                   message=f"notification {count} of Wobbly")
    last_change = time.time()
    assert post(hub, [firing("Wobbly", instance="a")]) == 200  # the fifth change: flapping
    wait_until(lambda: "flapping" in fleetmon(hub, "alerts").stdout, timeout=5, message="marked flapping")
    count = len(received(http_sink, "team"))
    wait_until(lambda: len(received(http_sink, "team")) > count, timeout=10, message="notified once settled")
    settled = [r for r in http_sink.requests if r.path == "/team"][count]
    assert settled.at - last_change >= 4.0  # held: nothing went out before 4 s without a change (settle)
    assert settled.json()["alerts"][0]["status"] == "firing"
    assert "flapping" not in fleetmon(hub, "alerts").stdout


def test_a_silence_mutes_until_it_is_expired(start_hub, http_sink):
    hub = start_hub(hub_config(http_sink))
    bad = fleetmon(hub, "silence", "add", 'host=~".*"', "--duration", "1h", "--comment", "everything")
    assert bad.returncode == 1 and "must not match the empty string" in bad.stderr
    added = fleetmon(hub, "silence", "add", 'alertname="Maintenance"', 'site=~"north|east"', "--duration", "1h",
                     "--comment", "planned work")
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()
    assert post(hub, [firing("Maintenance", site="north"), firing("Other", site="north")]) == 200
    http_sink.wait(1, timeout=10, path="/team")
    marker(hub, http_sink)  # Maintenance's group was flushed (and muted) before Marker's
    assert [b["groupLabels"]["alertname"] for b in received(http_sink, "team")] == ["Other", "Marker"]
    assert f"silenced by {silence_id}" in fleetmon(hub, "alerts").stdout
    assert fleetmon(hub, "silence", "expire", silence_id).returncode == 0
    wait_until(lambda: any(b["groupLabels"]["alertname"] == "Maintenance" for b in received(http_sink, "team")),
             timeout=10, message="notified after the silence expired")
    assert "expired" in fleetmon(hub, "silence", "list", "--expired").stdout


@pytest.mark.parametrize("body, error", [
    ([{"labels": {}}], "at least one label"),
    ([{"labels": {"a": "b"}, "startsAt": "yesterday"}], "RFC 3339"),
    ({"labels": {"a": "b"}}, "JSON list"),
])
def test_bad_alerts_are_refused_with_the_reason(start_hub, http_sink, body, error):
    hub = start_hub(hub_config(http_sink))
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}/api/v2/alerts", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400 and error in json.loads(raised.value.read())["error"]
    assert post(hub, [firing("X")], token="wrong-token-wrong-token") == 401
