"""SLO reports and budget-burn alerts on a real hub over a real mosquitto: a scripted history of known outages,
written through the real ingest path (births, back-filled samples at their own past timestamps, live samples),
reported to the second, and a fast burn firing its alert through the normal routing."""

import json
import time
import urllib.parse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.protocol import messages
from fleetmon.protocol.topics import host_topics
from tests.polling import wait_until

TOKEN = "sla-hub-test-token-0123456789"
INTERVAL = 10.0
HOUR = 3600.0


class ScriptedAgent:
    """Publishes what an agent would, but with a history decided in advance: per sample its session, seq and
    timestamp; all but the last go out as back-fill, as an agent's outbox sends them after an outage."""

    def __init__(self, broker, host: str) -> None:
        self.host, self.topics = host, host_topics(host)
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"scripted-{host}")
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def birth(self, session: int, ts: float) -> None:
        body = messages.status(self.host, session, 1, ts, "online", agent_version="scripted", started_at=ts,
                               interval_s=INTERVAL, groups=["lab"])
        self.client.publish(self.topics.status, messages.encode(body), qos=1, retain=True).wait_for_publish(5)

    def samples(self, script: list[tuple[int, int, float]]) -> None:
        """(session, seq, ts) in order; the last one live, the rest back-filled."""
        sent = []
        for index, (session, seq, ts) in enumerate(script):
            topic = self.topics.metrics if index == len(script) - 1 else self.topics.backfill
            body = messages.metrics(self.host, session, seq, ts, INTERVAL, 0.001, {"fleetmon_load1": 0.5}, {})
            sent.append(self.client.publish(topic, messages.encode(body), qos=1))
        for info in sent:
            info.wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def grid(start: float, end: float, session: int = 1, first_seq: int = 1, skip: tuple[float, float] | None = None,
         seq_hole: bool = False) -> list[tuple[int, int, float]]:
    """Samples every INTERVAL from ``start`` up to ``end`` (exclusive); none in ``skip`` = [a, b). Seqs
    count on across the skip (an agent that ran but did not sample) unless ``seq_hole`` (samples the hub never
    got)."""
    out, seq, t = [], first_seq, start
    while t < end:
        if skip and skip[0] <= t < skip[1]:
            if seq_hole:
                seq += 1
        else:
            out.append((session, seq, t))
            seq += 1
        t += INTERVAL
    return out


def test_an_slo_over_three_hosts_reports_scripted_outages_to_the_second_and_a_fast_burn_pages(start_hub, broker,
                                                                                           tmp_path):
    notifications = tmp_path / "notifications.jsonl"
    hub = start_hub({"api": {"token": TOKEN}, "history_rules_interval": 1, "alerting": {
        "route": {"receiver": "file", "group_by": ["alertname", "slo"], "group_wait": "0s", "group_interval": "1s"},
        "receivers": [{"name": "file", "file_configs": [{"path": str(notifications)}]}]},
                     "slos": [{"name": "lab-up", "scope": {"groups": ["lab"]}, "good": {"host_up": True},
                               "target": 99.9, "period": "monthly"}]})
    hub.token = TOKEN
    now = time.time()
    t0 = (now - 3 * HOUR) // INTERVAL * INTERVAL
    recent = t0 + 3 * HOUR - 50 * 60  # h3 is down from 50 minutes before the end of the script ...
    back = t0 + 3 * HOUR - 60  # ... to a minute before it
    end = t0 + 3 * HOUR
    scripts = {
        # restarted: session 1 ends with the sample at +3590, session 2 starts at +4200 -> bad [+3600, +4200)
        "h1": grid(t0, t0 + 3600) + grid(t0 + 4200, end, session=2),
        # stalled: no samples in [+1800, +2100), seqs consecutive -> bad [+1800, +2100)
        "h2": grid(t0, end, skip=(t0 + 1800, t0 + 2100)),
        # samples [+5000, +5300) never reached the hub (a seq hole): unknown, not bad; and the recent outage
        "h3": grid(t0, recent, skip=(t0 + 5000, t0 + 5300), seq_hole=True) + grid(back, end, session=2),
    }
    agents = {host: ScriptedAgent(broker, host) for host in scripts}
    try:
        for host, script in scripts.items():
            agents[host].birth(script[-1][0], script[-1][2])
        for host, script in scripts.items():
            agents[host].samples(script)
        wait_until(lambda: all((hub.host(h) or {}).get("state") == "online" for h in scripts), timeout=20,
                   message="three hosts online")

        # the first two hours: the restart and the stall, and the hole that is only unknown
        query = urllib.parse.urlencode({"start": t0, "end": t0 + 2 * HOUR})

        def report():
            answer = hub.get(f"/api/v1/sla/lab-up/report?{query}")
            return answer if answer and answer.get("good_s", 0) + answer.get("bad_s", 0) >= 3 * 7200 - 300 else None

        wait_until(report, timeout=30, message="the ledger holds the scripted history")
        answer = report()
        members = {m["host"]: m for m in answer["members"]}
        assert {h: (m["good_s"], m["bad_s"], m["unknown_s"]) for h, m in members.items()} == {
            "h1": (6600, 600, 0), "h2": (6900, 300, 0), "h3": (6900, 0, 300)}
        assert answer["availability"] == 20400 / 21300
        assert answer["downtime_minutes"] == 15.0

        # h3 was down for most of the last hour: burning the 30-day budget far faster than 14.4x
        def burn_alert():
            alerts = (hub.get("/api/v1/alerts") or {}).get("alerts", [])
            return [a for a in alerts if a["labels"].get("alertname") == "SLOBudgetBurn"]

        fast = ("lab-up", "critical", "1h/5m")
        fired = wait_until(lambda: [a for a in burn_alert() if (a["labels"]["slo"], a["labels"]["severity"],
                                                                   a["labels"]["window"]) == fast],
                           timeout=30, message="the fast-burn alert")
        assert "of the period's error budget left" in fired[0]["annotations"]["description"]

        def paged():
            sent = map(json.loads, notifications.read_text().splitlines()) if notifications.exists() else []
            return [a["labels"] for n in sent if n["groupLabels"] == {"alertname": "SLOBudgetBurn", "slo": "lab-up"}
                    for a in n["alerts"] if a["labels"]["window"] == "1h/5m" and a["status"] == "firing"]

        wait_until(paged, timeout=20, message="the fast burn notified through the routing tree")
    finally:
        for agent in agents.values():
            agent.close()
