"""Operator commands, like amtool: ``routes test``, ``alerts``, ``ack`` and ``silence``.

``routes`` reads a config file and needs no hub; the others talk to the hub's HTTP API
(fleetmon/hub/alerting/openapi.yaml, served at /api/v1/openapi.yaml).
Every request sends the API token from ``--token``, ``--token-file`` or ``FLEETMON_API_TOKEN`` when one is
given (changes need one; reads too on a hub with users); ``--ca-file`` verifies an https hub (fleetmon.hub.client).
"""

import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
from argparse import Namespace
from typing import Any

from fleetmon.config_reader import ConfigError, Errors, Node
from fleetmon.hub.alerting.matchers import MatcherError, parse_matcher
from fleetmon.hub.client import HubClient, token_from
from fleetmon.protocol.messages import rfc3339

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def routes(args: Namespace) -> int:
    from fleetmon.hub.alerting.config import load_routing

    try:
        config = load_routing(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"fleetmon: invalid alerting configuration in {args.config}:\n")
        sys.stderr.write("".join(f"  {line}\n" for line in exc.errors))
        return EXIT_USAGE
    labels = {}
    for item in args.labels:
        name, sep, value = item.partition("=")
        if not sep or not name:
            sys.stderr.write(f"fleetmon: labels are name=value, got {item!r}\n")
            return EXIT_USAGE
        labels[name] = value.strip('"')
    matched = config.route.match(labels)
    if args.tree:
        hits = {id(route) for route in matched}
        for depth, route in config.route.walk():
            print(("* " if id(route) in hits else "  ") + "  " * depth + route.describe())
        if not labels:
            return EXIT_OK
        print()
    receivers = [route.receiver for route in matched]
    print("\n".join(receivers))
    if args.expect is not None:
        expected = [r for r in args.expect.split(",") if r]
        if expected != receivers:
            sys.stderr.write(f"fleetmon: expected {','.join(expected)}, got {','.join(receivers)}\n")
            return EXIT_FAILED
    return EXIT_OK


def alerts(args: Namespace) -> int:
    try:
        filters = [parse_matcher(text) for text in args.filter or []]
    except MatcherError as exc:
        sys.stderr.write(f"fleetmon: {exc}\n")
        return EXIT_USAGE
    query = "&".join("filter=" + urllib.parse.quote(str(m)) for m in filters)
    body = _call(args, "GET", "/api/v1/alerts" + (f"?{query}" if query else ""))
    if body is None:
        return EXIT_FAILED
    if args.json:
        print(json.dumps(body["alerts"], indent=2))
        return EXIT_OK
    rows = [("FINGERPRINT", "ALERTNAME", "STATUS", "SINCE", "STATE", "LABELS")]
    for alert in body["alerts"]:
        labels = {k: v for k, v in alert["labels"].items() if k != "alertname"}
        state = "acknowledged by " + alert["acknowledged"]["by"] if alert.get("acknowledged") else alert["muted"]
        rows.append((alert["fingerprint"], alert["labels"].get("alertname", ""), alert["status"],
                     alert["startsAt"][:19].replace("T", " "), state or "-",
                     ",".join(f"{k}={v}" for k, v in sorted(labels.items()))))
    _table(rows)
    return EXIT_OK


def ack(args: Namespace) -> int:
    request: dict[str, Any] = {"target": args.target, "comment": args.comment or "", "by": _who(args)}
    if args.expires:
        seconds = _duration(args.expires, "--expires")
        if seconds is None:
            return EXIT_USAGE
        request["expiresAt"] = time.time() + seconds
    body = _call(args, "POST", "/api/v1/acks", request)
    if body is None:
        return EXIT_FAILED
    for item in body["acks"]:
        print(f"acknowledged {item['fingerprint']}")
    return EXIT_OK


def silence(args: Namespace) -> int:
    if args.silence_command == "add":
        try:
            matchers = [parse_matcher(text) for text in args.matchers]
        except MatcherError as exc:
            sys.stderr.write(f"fleetmon: {exc}\n")
            return EXIT_USAGE
        seconds = _duration(args.duration, "--duration")
        if seconds is None:
            return EXIT_USAGE
        now = time.time()
        body = _call(args, "POST", "/api/v1/silences",
                     {"matchers": [str(m) for m in matchers], "startsAt": rfc3339(now),
                      "endsAt": rfc3339(now + seconds), "createdBy": _who(args), "comment": args.comment})
        if body is None:
            return EXIT_FAILED
        print(body["id"])
        return EXIT_OK
    if args.silence_command == "expire":
        for silence_id in args.ids:
            if _call(args, "DELETE", f"/api/v1/silences/{silence_id}") is None:
                return EXIT_FAILED
            print(f"expired {silence_id}")
        return EXIT_OK
    body = _call(args, "GET", "/api/v1/silences")
    if body is None:
        return EXIT_FAILED
    rows = [("ID", "STATE", "MATCHERS", "ENDS", "CREATED BY", "COMMENT")]
    for item in body["silences"]:
        if item["status"]["state"] == "expired" and not args.expired:
            continue
        rows.append((item["id"], item["status"]["state"], item["matchersText"],
                     item["endsAt"][:19].replace("T", " "), item["createdBy"], item["comment"]))
    _table(rows)
    return EXIT_OK


def _call(args: Namespace, method: str, path: str, body: Any = None) -> Any:
    url = args.hub.rstrip("/") + path
    try:
        return HubClient(args.hub, token_from(args.token, args.token_file), args.ca_file, args.timeout).call(
            method, path, body)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("error", detail)
        sys.stderr.write(f"fleetmon: {method} {url}: {exc.code} {detail}\n")
    except OSError as exc:
        sys.stderr.write(f"fleetmon: cannot reach the hub at {args.hub}: {exc}\n")
    return None


def _who(args: Namespace) -> str:
    return args.by or os.environ.get("USER") or "fleetmon"


def _duration(text: str, flag: str) -> float | None:
    errors = Errors()
    seconds = Node(text, flag, errors).duration(None, minimum=1)
    if errors or seconds is None:
        sys.stderr.write(f"fleetmon: {flag} must be a duration such as 2h or 30m, got {text!r}\n")
        return None
    return seconds


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
