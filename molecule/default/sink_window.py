#!/usr/bin/env python3
"""What the webhook sink (scripts/webhook_sink.py) logged after a mark, up to a canary alert.

The default scenario proves that a broker fault paged nobody by the arrival of a later notification, never
by silence after a sleep: a canary posted to the hub once it sees the fleet again reaches the sink after
any page the fault would have caused (CONVENTIONS rule 10).

  sink_window.py LOG                         {"count": notifications so far}: the mark, taken before the fault
  sink_window.py LOG --since N --canary NAME {"count", "canary": arrived?, "window": every alert notified after
                                             the mark and before the canary, as alertname/host/status}
"""

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--since", type=int, default=0, metavar="N", help="the mark: notifications before it are old")
    parser.add_argument("--canary", metavar="NAME", help="the value of the canary label that ends the window")
    args = parser.parse_args()
    lines = args.log.read_text().splitlines() if args.log.exists() else []
    notifications = [json.loads(line)["body"] for line in lines]
    window, arrived = [], False
    for body in notifications[args.since:]:
        alerts = body.get("alerts", []) if isinstance(body, dict) else []
        if args.canary and any(alert.get("labels", {}).get("canary") == args.canary for alert in alerts):
            arrived = True
            break
        window.extend({"alertname": alert.get("labels", {}).get("alertname", ""),
                       "host": alert.get("labels", {}).get("host", ""), "status": alert.get("status", "")}
                      for alert in alerts)
    json.dump({"count": len(notifications), "canary": arrived, "window": window}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
