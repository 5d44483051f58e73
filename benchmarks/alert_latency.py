"""Alert latency: an edge alert published by an agent → the webhook request at the receiver, under fleet load.

A local mosquitto; the hub with a route that groups by alertname and host with group_wait 0 and a webhook
to a sink in this process; `fleetmon simulate --hosts N --interval 1` as background traffic (N host-samples
per second, their own edge alerts included). A probe host then publishes, as an agent does the moment a
threshold is crossed (rule `for` 0), one new alert every --spacing seconds; the latency of each is the
sink's receive time minus the alert's startsAt (the crossing). Both ends use this machine's clock.

Usage: python benchmarks/alert_latency.py [--hosts 1000] [--probes 200] [--spacing 0.25]
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from procfs import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

from fleetmon.protocol import messages  # noqa: E402
from fleetmon.protocol.alerts import alert  # noqa: E402
from fleetmon.protocol.topics import host_topics  # noqa: E402

PROBE = "latency-probe"


class Sink:
    """Records when each probe alert's first notification arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.time()
                for item in body["alerts"]:
                    if item["labels"].get("host") == PROBE and item["status"] == "firing":
                        sink.arrivals.setdefault(item["labels"]["alertname"], now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 128  # bursts of the simulated hosts' own alerts
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--spacing", type=float, default=0.25, help="mean seconds between probe alerts")
    parser.add_argument("--warmup", type=float, default=15.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleetmon-latency-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "agent"))
    port, http = free_port(), free_port()
    (work / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    mosquitto = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
                                  str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sink = Sink()
    config = {"broker": {"url": f"mqtt://127.0.0.1:{port}"}, "listen": f"127.0.0.1:{http}",
              "db": str(work / "history.db"), "log_level": "warning",
              "alerting": {"route": {"receiver": "sink", "group_by": ["alertname", "host"], "group_wait": "0s",
                                     "group_interval": "5m"},
                           "receivers": [{"name": "sink", "webhook_configs": [
                               {"url": f"http://127.0.0.1:{sink.port}/hook"}]}]}}
    (work / "hub.yml").write_text(json.dumps(config))
    hub = simulate = None
    try:
        wait_port(port)
        hub = subprocess.Popen([sys.executable, "-m", "fleetmon", "hub", "run", "--config", str(work / "hub.yml")],
                               env=env, stdout=open(work / "hub.log", "wb"), stderr=subprocess.STDOUT)
        wait_port(http)
        duration = args.warmup + args.probes * args.spacing * 2 + 30
        simulate = subprocess.Popen([sys.executable, "-m", "fleetmon", "simulate", "--hosts", str(args.hosts),
                                     "--interval", "1", "--duration", str(duration), "--qos", "0", "--broker",
                                     f"mqtt://127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        time.sleep(args.warmup)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=PROBE, protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", port)
        client.loop_start()
        topics = host_topics(PROBE)
        session, now = 1, time.time()
        client.publish(topics.status, messages.encode(messages.status(
            PROBE, session, 0, now, "online", agent_version="probe", started_at=now, interval_s=1.0)), qos=1,
            retain=True).wait_for_publish(5)
        rng = random.Random(7)
        sent: dict[str, float] = {}
        for i in range(args.probes):
            time.sleep(rng.uniform(0.5, 1.5) * args.spacing)
            name, crossed = f"Probe{i}", time.time()
            transition = alert({"alertname": name, "host": PROBE, "severity": "warning"}, {"summary": "probe"},
                               crossed)
            client.publish(topics.alerts, messages.encode(messages.alerts(PROBE, session, i + 1, crossed,
                                                                          [transition])), qos=1).wait_for_publish(5)
            sent[name] = crossed
        deadline = time.time() + 30
        while len(sink.arrivals) < len(sent) and time.time() < deadline:
            time.sleep(0.1)
        client.loop_stop()
        latencies = [sink.arrivals[name] - crossed for name, crossed in sent.items() if name in sink.arrivals]
        missing = [name for name in sent if name not in sink.arrivals]
        for name in missing:  # what the hub knows of it, to tell a lost message from a stuck notification
            query = urllib.parse.quote(f'alertname="{name}"')
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/v1/alerts?filter={query}", timeout=10) as r:
                print(f"never notified: {name}; the hub has {r.read().decode()[:600]}", file=sys.stderr)
    finally:
        for process in (simulate, hub, mosquitto):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    if not latencies:
        print("no probe alert reached the sink", file=sys.stderr)
        return 1
    print("| hosts (samples/s) | probes | received | p50 | p99 | max |\n|---|---|---|---|---|---|")
    print(f"| {args.hosts} | {len(sent)} | {len(latencies)} | {quantile(latencies, 0.5) * 1000:.0f} ms | "
          f"{quantile(latencies, 0.99) * 1000:.0f} ms | {max(latencies) * 1000:.0f} ms |")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
