"""`fleetmon maintenance add|list|end`: maintenance windows through the hub's HTTP API."""

import json
import time
from argparse import Namespace
from typing import Any

from fleetmon.hub.alerting.matchers import MatcherError, parse_matcher
from fleetmon.hub.api_commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, call_hub, duration_flag, print_table, who
from fleetmon.protocol.messages import rfc3339


def maintenance(args: Namespace) -> int:
    if args.maintenance_command == "add":
        return _add(args)
    if args.maintenance_command == "end":
        for window_id in args.ids:
            if call_hub(args, "DELETE", f"/api/v1/maintenance/{window_id}") is None:
                return EXIT_FAILED
            print(f"ended {window_id}")
        return EXIT_OK
    body = call_hub(args, "GET", "/api/v1/maintenance" + ("?all=true" if args.all else ""))
    if body is None:
        return EXIT_FAILED
    if args.json:
        print(json.dumps(body["windows"], indent=2))
        return EXIT_OK
    rows = [("ID", "NAME", "STATUS", "COVERS", "STARTS", "ENDS", "SOURCE", "BY")]
    for item in body["windows"]:
        covers = " ".join([*(f"host={h}" for h in item["hosts"]), *(f"group={g}" for g in item["groups"]),
                           item["matchersText"]]).strip()
        rows.append((item["id"], item["name"], item["status"], covers, _clock(item["startsAt"]),
                     _clock(item["endsAt"]) + (" (recurring)" if item["timeIntervals"] else ""),
                     item["source"], item["createdBy"] or "-"))
    print_table(rows)
    return EXIT_OK


def _add(args: Namespace) -> int:
    try:
        matchers = [str(parse_matcher(text)) for text in args.matcher or []]
    except MatcherError as exc:
        print(f"fleetmon: {exc}")
        return EXIT_USAGE
    seconds = duration_flag(args.duration, "--duration")
    start = time.time()
    if args.start:
        delay = duration_flag(args.start, "--in")
        if delay is None:
            return EXIT_USAGE
        start += delay
    if seconds is None:
        return EXIT_USAGE
    request: dict[str, Any] = {"name": args.name, "hosts": args.host or [], "groups": args.group or [],
                               "matchers": matchers, "starts_at": rfc3339(start), "ends_at": rfc3339(start + seconds),
                               "comment": args.comment or "", "createdBy": who(args)}
    body = call_hub(args, "POST", "/api/v1/maintenance", request)
    if body is None:
        return EXIT_FAILED
    print(body["id"])
    return EXIT_OK


def _clock(text: str | None) -> str:
    return "-" if not text else text[:16].replace("T", " ")
