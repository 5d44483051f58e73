"""The ceiling for a Python hub: a paho subscriber that only JSON-decodes each sample.

Run by benchmarks/hub_ingest.py beside the same simulated load. On SIGTERM it prints one JSON line: live
samples seen, first/last receive time, lag percentiles (receive time minus the sample's timestamp).
"""

import json
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    port = int(sys.argv[1])
    lags: list[float] = []
    times: list[float] = []
    done = threading.Event()

    def on_message(client, userdata, message) -> None:
        received = time.time()
        sample = json.loads(message.payload)
        if message.topic.endswith("/metrics"):
            lags.append(received - sample["ts"])
            times.append(received)

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bare-subscriber",
                         protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe("fleetmon/v1/hosts/+/+", qos=1)
    client.connect("127.0.0.1", port)
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    client.loop_start()
    done.wait()
    client.loop_stop()
    ordered = sorted(lags)
    print(json.dumps({"samples": len(lags), "first": times[0] if times else 0, "last": times[-1] if times else 0,
                      "times": times, "lag_p50": ordered[len(ordered) // 2] if ordered else None,
                      "lag_p99": ordered[int(len(ordered) * 0.99)] if ordered else None}))


if __name__ == "__main__":
    main()
