"""The inputs issue 10 measured breaking the hub, sent to a real hub process over a real mosquitto and its
HTTP API: each is refused with its reason, the history writer keeps writing, and every page keeps 200."""

import json
import time
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.protocol import messages
from tests.polling import wait_until

TOKEN = "poison-test-token-0123456789"
HOST = "poisoned"


def post(hub, path: str, body: object) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}{path}", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def status(hub, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}{path}", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def rejected(hub, reason: str) -> float:
    for line in hub.get("/metrics").splitlines():
        if line.startswith(f'fleetmon_hub_messages_rejected_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


def loads_in_history(hub) -> list[float]:
    now = time.time()
    answer = hub.get(f"/api/v1/query?host={HOST}&metric=fleetmon_load1&start={now - 600:.0f}&end={now + 60:.0f}")
    return [point[1] for series in (answer or {}).get("series", []) for point in series["points"]]


def test_poison_samples_and_alerts_are_refused_and_the_hub_keeps_working(start_hub, broker, tmp_path):
    notifications = tmp_path / "notifications.jsonl"
    hub = start_hub({"api": {"token": TOKEN}, "alerting": {
        "route": {"receiver": "file", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s"},
        "receivers": [{"name": "file", "file_configs": [{"path": str(notifications)}]}]}})
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    topic = f"fleetmon/v1/hosts/{HOST}"

    def publish(kind: str, payload: dict) -> None:
        client.publish(f"{topic}/{kind}", messages.encode(payload), qos=1).wait_for_publish(5)

    def sample(session: int, seq: int, load: float) -> dict:
        return messages.metrics(HOST, session, seq, time.time(), 1, 0.01, {"fleetmon_load1": load}, {})

    try:
        publish("status", messages.status(HOST, 1, 1, time.time(), "online", interval_s=1, groups=["servers"]))
        publish("metrics", sample(1, 1, 1.0))
        wait_until(lambda: 1.0 in loads_in_history(hub), timeout=20, message="the first sample in the history")

        # What stopped the history writer: SQLite keeps signed 64-bit integers.
        publish("metrics", sample(1, 2**63, 66.0))
        publish("metrics", sample(2**64 - 1, 3, 77.0))
        edge = {"status": "firing", "labels": {"alertname": "Ancient", "host": HOST}, "fingerprint": "0" * 16,
                "startsAt": -1e12, "endsAt": messages.ZERO_TIME}
        publish("alerts", messages.alerts(HOST, 1, 1, time.time(), [edge]))
        # What poisoned /metrics, /api/v1/alerts and the group's delivery.
        code, answer = post(hub, "/api/v2/alerts", [{"labels": {"alertname": "Far"}, "endsAt": 2.6e16}])
        assert code == 400 and answer["error"].startswith("alerts[0]: endsAt 2.6e+16 is outside"), answer
        code, answer = post(hub, "/api/v2/alerts", [{"labels": {"alertname": "Old"}, "startsAt": -1e12}])
        assert code == 400 and answer["error"].startswith("alerts[0]: startsAt -1000000000000.0 is outside"), answer
        code, answer = post(hub, "/api/v1/silences", {"matchers": ['a="b"'], "endsAt": 1e300, "createdBy": "t",
                                                     "comment": "poison"})
        assert code == 400 and "endsAt 1e+300 is outside" in answer["error"], answer

        # Published after the poison on the same connection (QoS 1, in order): once it is in the history,
        # the poison has been handled, and the writer kept writing.
        publish("metrics", sample(1, 4, 4.0))
        wait_until(lambda: 4.0 in loads_in_history(hub), timeout=20, message="the sample sent after the poison")
        assert 66.0 not in loads_in_history(hub) and 77.0 not in loads_in_history(hub)
        assert rejected(hub, "out_of_range") == 3
        assert hub.get("/api/v1/hub")["messages_rejected"] == {"out_of_range": 3}

        code, _ = post(hub, "/api/v2/alerts", [{"labels": {"alertname": "AfterPoison"}}])
        assert code == 200
        delivered = wait_until(lambda: notifications.exists() and notifications.read_text().splitlines(), timeout=20,
                               message="the alert sent after the poison delivered")
        assert [a["labels"]["alertname"] for a in json.loads(delivered[0])["alerts"]] == ["AfterPoison"]
        assert [a["labels"]["alertname"] for a in hub.get("/api/v1/alerts")["alerts"]] == ["AfterPoison"]
        for path in ("/health/live", "/metrics", "/api/v1/alerts", "/api/v1/silences", f"/api/v1/hosts/{HOST}"):
            assert status(hub, path) == 200, path
    finally:
        client.loop_stop()
        client.disconnect()
