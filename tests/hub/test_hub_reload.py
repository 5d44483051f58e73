"""`kill -HUP` of a real hub (real mosquitto, a real HTTP sink): the config file is read again; a good one
changes routing, receivers and expected hosts without losing alert state or the broker session, a bad one
is refused with its errors and the hub runs on with the old one."""

import json
import signal
import time
import urllib.request

import pytest
import yaml

from fleetmon.protocol.messages import rfc3339
from tests.hub.alerting.conftest import HttpSink
from tests.polling import wait_until

TOKEN = "reload-test-token-0123456789abcdef"


@pytest.fixture
def sink():
    instance = HttpSink()
    yield instance
    instance.close()


def alerting(sink: HttpSink, routes: list[dict] | None = None) -> dict:
    return {"route": {"receiver": "team", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s",
                      "repeat_interval": "1h", "routes": routes or []},
            "receivers": [{"name": name, "webhook_configs": [{"url": sink.url(f"/{name}")}]}
                          for name in ("team", "oncall")]}


def api(hub, path: str, body) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}{path}", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read() or b"null")


def fire(hub, name: str) -> None:
    api(hub, "/api/v2/alerts", [{"labels": {"alertname": name}, "startsAt": rfc3339(time.time())}])


def names(sink: HttpSink, path: str) -> list[str]:
    return [r.json()["groupLabels"]["alertname"] for r in list(sink.requests) if r.path == path]


def reloads(hub, result: str) -> float:
    metrics = hub.get("/metrics") or ""
    line = next((line for line in metrics.splitlines()
                 if line.startswith(f'fleetmon_hub_config_reloads_total{{result="{result}"}}')), None)
    return float(line.split()[-1]) if line else 0.0


def reload_with(hub, change) -> None:
    """Rewrite the hub's config file with ``change`` applied, send SIGHUP, wait until the hub has read it."""
    config = yaml.safe_load(hub.config_path.read_text())
    change(config)
    hub.config_path.write_text(yaml.safe_dump(config))
    before = reloads(hub, "success") + reloads(hub, "failure")
    hub.process.send_signal(signal.SIGHUP)
    wait_until(lambda: reloads(hub, "success") + reloads(hub, "failure") > before, timeout=10,
               message="the reload to be counted")


def test_a_reload_routes_by_the_new_tree_and_keeps_alerts_silences_and_the_session(start_hub, sink):
    hub = start_hub({"api": {"token": TOKEN}, "alerting": alerting(sink), "expected_hosts": {"old-host": ["lab"]}})
    fire(hub, "Net")
    sink.wait(1, path="/team")
    silence = api(hub, "/api/v1/silences", {"matchers": [{"name": "alertname", "value": "Quiet", "isRegex": False}],
                                            "startsAt": rfc3339(time.time()), "endsAt": rfc3339(time.time() + 3600),
                                            "createdBy": "tester", "comment": "kept across a reload"})
    connections = hub.log.count("connected to")

    def new_tree(config: dict) -> None:
        config["alerting"] = alerting(sink, routes=[{"matchers": ['alertname="Disk"'], "receiver": "oncall"}])
        config["expected_hosts"] = {"old-host": ["lab"], "new-host": ["lab"]}

    reload_with(hub, new_tree)
    assert reloads(hub, "success") == 1 and hub.process.poll() is None
    fire(hub, "Disk")
    sink.wait(1, path="/oncall")
    assert names(sink, "/oncall") == ["Disk"]
    fire(hub, "Quiet")
    fire(hub, "Marker")  # same receiver integration as Net and Quiet: delivered after anything they caused
    wait_until(lambda: "Marker" in names(sink, "/team"), message="the marker at the team receiver")
    assert names(sink, "/team") == ["Net", "Marker"]  # Net not notified again, Quiet still silenced
    firing = {a["labels"]["alertname"]: a for a in hub.get("/api/v1/alerts")["alerts"]}
    assert set(firing) == {"Net", "Disk", "Quiet", "Marker"}
    assert firing["Quiet"]["muted"] == f"silenced by {silence['id']}"
    assert wait_until(lambda: (hub.host("new-host") or {}).get("state") == "missing", message="new-host missing")
    assert hub.log.count("connected to") == connections  # the broker session was kept
    assert "config reloaded" in hub.log


def test_a_bad_config_is_refused_and_the_hub_keeps_the_old_one(start_hub, sink):
    hub = start_hub({"api": {"token": TOKEN}, "alerting": alerting(sink)})

    def broken(config: dict) -> None:
        config["alerting"] = alerting(sink, routes=[{"matchers": ['alertname="Disk"'], "receiver": "nobody"}])
        config["rules_interval"] = "soon"

    reload_with(hub, broken)
    assert reloads(hub, "failure") == 1 and reloads(hub, "success") == 0 and hub.process.poll() is None
    assert "reload refused" in hub.log and "alerting.route.routes[0].receiver" in hub.log
    assert "rules_interval" in hub.log

    def elsewhere(config: dict) -> None:
        config["alerting"] = alerting(sink, routes=[{"matchers": ['alertname="Disk"'], "receiver": "oncall"}])
        config["broker"]["url"] = "mqtt://127.0.0.1:1"
        config["rules_interval"] = 0.5

    reload_with(hub, elsewhere)  # valid, but only a restart changes the broker session
    assert reloads(hub, "failure") == 2 and "broker changed" in hub.log and "restart" in hub.log
    fire(hub, "Disk")
    wait_until(lambda: "Disk" in names(sink, "/team"), message="Disk routed by the old tree")
    assert names(sink, "/oncall") == [] and hub.process.poll() is None
