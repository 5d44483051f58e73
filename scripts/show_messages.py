"""Follow the fleetmon topic tree and print one readable line per message (used by `make run`).

Usage: python scripts/show_messages.py [--port 1883] [--prefix fleetmon/v1]
"""

import argparse
import contextlib
import json
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.protocol.metricset import MetricSet
from fleetmon.protocol.topics import host_subscription, parse_host_topic


def summarise(kind: str, payload: dict) -> str:
    if kind == "status":
        if payload["state"] == "offline":
            return "OFFLINE ({}), session {}".format(payload.get("reason"), payload["session"])
        facts = payload.get("facts", {})
        jetson = facts.get("jetson", {})
        return "online, session {}, agent {}, {} {} {}{}, groups {}".format(
            payload["session"], payload["agent"]["version"], facts.get("os", "?"), facts.get("arch", ""),
            facts.get("cpus", "?"), " CPUs", payload.get("groups"),
        ) + (", Jetson via {}".format(jetson.get("source")) if jetson else "")
    if kind in ("metrics", "backfill"):
        metrics = MetricSet.from_json(payload["metrics"])
        parts = ["seq {}".format(payload["seq"]), f"{len(metrics)} series"]
        for label, name, scale, unit in (("cpu", "fleetmon_cpu_usage_ratio", 100, "%"),
                                         ("mem", "fleetmon_memory_usage_ratio", 100, "%"),
                                         ("jetson gpu", "fleetmon_jetson_gpu_load_ratio", 100, "%"),
                                         ("power", "fleetmon_jetson_power_total_watts", 1, " W")):
            value = metrics.get(name)
            if value is not None:
                parts.append(f"{label} {value * scale:.1f}{unit}")
        disks = [s for s in metrics.series("fleetmon_filesystem_usage_ratio")]
        if disks:
            parts.append("disk " + ", ".join("{} {:.0f}%".format(s.labels["mount"], 100 * s.value) for s in disks))
        if payload.get("errors"):
            parts.append("errors: {}".format(payload["errors"]))
        return "; ".join(parts)
    if kind == "checks":
        return ", ".join("{} {} ({})".format(r["name"], "ok" if r["ok"] else "FAIL", r["message"][:60])
                         for r in payload["results"])
    if kind == "alerts":
        return ", ".join("{} {} [{}] {}".format(a["status"].upper(), a["labels"]["alertname"],
                                                a["labels"]["severity"], a["annotations"].get("summary", ""))
                         for a in payload["alerts"])
    return "{}: {}".format(payload["event"]["kind"], payload["event"]["message"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--prefix", default="fleetmon/v1")
    args = parser.parse_args()

    def on_message(client, userdata, message) -> None:
        parsed = parse_host_topic(message.topic, args.prefix)
        if parsed is None:
            return
        try:
            line = summarise(parsed.kind, json.loads(message.payload))
        except (ValueError, KeyError, TypeError) as exc:
            line = f"unreadable payload ({exc})"
        print("{} {:<12} {:<8} {}".format(time.strftime("%H:%M:%S"), parsed.host, parsed.kind, line), flush=True)

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *a: c.subscribe(host_subscription(args.prefix), qos=1)
    client.on_message = on_message
    client.connect("127.0.0.1", args.port)
    with contextlib.suppress(KeyboardInterrupt):
        client.loop_forever()


if __name__ == "__main__":
    main()
