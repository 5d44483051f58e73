"""A stand-in hub (tests/hub/standin.py: the hub's real parts, its history writer started) fed the way paho
feeds the running hub: encoded messages on host topics, handed to the real Intake. No broker needed."""

import time
from pathlib import Path
from typing import Any

from fleetmon.hub.ingest import Rejected
from fleetmon.protocol import messages
from fleetmon.protocol.alerts import alert
from fleetmon.protocol.topics import host_topics
from tests.hub.standin import StandIn, stand_in_hub

CPU, FS, CORE = "fleetmon_cpu_usage_ratio", "fleetmon_filesystem_usage_ratio", "fleetmon_cpu_core_usage_ratio"
NET_RX = "fleetmon_network_receive_bytes_total"


class Fed:
    """Messages from hosts, through ``hub.parts.intake``; ``seq`` counts per host, as an agent's run does."""

    def __init__(self, hub: StandIn) -> None:
        self.hub = hub
        self._prefix = hub.config.broker.topic_prefix
        self._seq: dict[str, int] = {}

    def take(self, host: str, kind: str, payload: dict[str, Any]) -> None:
        topic = getattr(host_topics(host, self._prefix), kind)
        taken = self.hub.parts.intake.take(topic, messages.encode(payload), time.time())
        assert not isinstance(taken, Rejected), taken

    def next_seq(self, host: str) -> int:
        self._seq[host] = self._seq.get(host, 0) + 1
        return self._seq[host]

    def birth(self, host: str, groups: list[str], thresholds: list[dict[str, Any]] | None = None,
              ts: float | None = None) -> None:
        self.take(host, "status", messages.status(
            host, 1, self.next_seq(host), time.time() if ts is None else ts, "online", agent_version="1.0",
            interval_s=10, facts={"os": "Linux"}, groups=groups, thresholds=thresholds or []))

    def sample(self, host: str, ts: float, metrics: dict[str, Any]) -> None:
        self.take(host, "metrics", messages.metrics(host, 1, self.next_seq(host), ts, 10, 0.01, metrics, {}))

    def check(self, host: str, ts: float, name: str, ok: bool, message: str = "") -> None:
        result = {"name": name, "type": "command", "ok": ok, "status": "pass" if ok else "fail",
                  "message": message, "started_at": ts, "duration_s": 0.1, "value": 1.0 if ok else None}
        self.take(host, "checks", messages.checks(host, 1, self.next_seq(host), ts, [result]))

    def event(self, host: str, ts: float, kind: str, message: str) -> None:
        self.take(host, "events", messages.event(host, 1, self.next_seq(host), ts, kind, message, {"n": 1}))

    def edge_alert(self, host: str, alertname: str, ts: float) -> None:
        transition = alert({"alertname": alertname, "severity": "warning", "host": host}, {"summary": "x"}, ts)
        self.take(host, "alerts", messages.alerts(host, 1, self.next_seq(host), ts, [transition]))


def fed_hub(tmp_path: Path, expected_hosts: dict[str, list[str]] | None = None) -> tuple[StandIn, Fed]:
    """A stand-in hub whose history writer runs; close it with ``hub.close()``."""
    hub = stand_in_hub(tmp_path, expected_hosts=expected_hosts)
    hub.parts.history.start()
    return hub, Fed(hub)
