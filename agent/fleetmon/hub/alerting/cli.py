"""Operator commands, like amtool: ``routes test``, ``alerts``, ``ack``, ``silence`` and ``alerting template
render``.

``routes`` and ``alerting template render`` read files and need no hub; the others talk to the hub's HTTP API
(fleetmon/hub/alerting/openapi.yaml, served at /api/v1/openapi.yaml).
Every request sends the API token from ``--token``, ``--token-file`` or ``FLEETMON_API_TOKEN`` when one is
given (changes need one; reads too on a hub with users); ``--ca-file`` verifies an https hub (fleetmon.hub.client).
"""

import json
import sys
import time
import urllib.parse
from argparse import Namespace
from typing import Any

from fleetmon.config_reader import ConfigError
from fleetmon.hub.alerting.matchers import MatcherError, parse_matcher
from fleetmon.hub.api_commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, call_hub, duration_flag, print_table, who
from fleetmon.protocol.messages import rfc3339


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
    body = call_hub(args, "GET", "/api/v1/alerts" + (f"?{query}" if query else ""))
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
    print_table(rows)
    return EXIT_OK


def ack(args: Namespace) -> int:
    request: dict[str, Any] = {"target": args.target, "comment": args.comment or "", "by": who(args)}
    if args.expires:
        seconds = duration_flag(args.expires, "--expires")
        if seconds is None:
            return EXIT_USAGE
        request["expiresAt"] = time.time() + seconds
    body = call_hub(args, "POST", "/api/v1/acks", request)
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
        seconds = duration_flag(args.duration, "--duration")
        if seconds is None:
            return EXIT_USAGE
        now = time.time()
        body = call_hub(args, "POST", "/api/v1/silences",
                     {"matchers": [str(m) for m in matchers], "startsAt": rfc3339(now),
                      "endsAt": rfc3339(now + seconds), "createdBy": who(args), "comment": args.comment})
        if body is None:
            return EXIT_FAILED
        print(body["id"])
        return EXIT_OK
    if args.silence_command == "expire":
        for silence_id in args.ids:
            if call_hub(args, "DELETE", f"/api/v1/silences/{silence_id}") is None:
                return EXIT_FAILED
            print(f"expired {silence_id}")
        return EXIT_OK
    body = call_hub(args, "GET", "/api/v1/silences")
    if body is None:
        return EXIT_FAILED
    rows = [("ID", "STATE", "MATCHERS", "ENDS", "CREATED BY", "COMMENT")]
    for item in body["silences"]:
        if item["status"]["state"] == "expired" and not args.expired:
            continue
        rows.append((item["id"], item["status"]["state"], item["matchersText"],
                     item["endsAt"][:19].replace("T", " "), item["createdBy"], item["comment"]))
    print_table(rows)
    return EXIT_OK


def template_render(args: Namespace) -> int:
    """``fleetmon alerting template render``, as ``amtool template render``: the defaults and the globs'
    files loaded, the text rendered with the data file (or amtool's example data) and printed as it is."""
    from fleetmon.hub.alerting.templates import (
        RenderError,
        TemplateLoadError,
        TemplateSet,
        TemplateSyntaxError,
        example_data,
        from_json,
        syntax_error,
    )

    try:
        templates = TemplateSet.load(args.template_glob)
    except TemplateLoadError as exc:
        sys.stderr.write(f"fleetmon: {exc}\n")
        return EXIT_FAILED
    data = example_data()
    if args.template_data:
        try:
            with open(args.template_data, encoding="utf-8") as handle:
                data = from_json(json.load(handle))
        except OSError as exc:
            sys.stderr.write(f"fleetmon: cannot read {args.template_data}: {exc.strerror}\n")
            return EXIT_USAGE
        except ValueError as exc:  # not JSON, or not the shape of template data
            sys.stderr.write(f"fleetmon: {args.template_data}: {exc}\n")
            return EXIT_USAGE
    try:
        field = templates.html(args.template_text) if args.template_type == "html" else \
            templates.text(args.template_text)
        sys.stdout.write(field.render(data))
    except TemplateSyntaxError as exc:
        sys.stderr.write(f"fleetmon: --template.text: {syntax_error(exc)}\n")
        return EXIT_FAILED
    except RenderError as exc:
        sys.stderr.write(f"fleetmon: {exc}\n")
        return EXIT_FAILED
    return EXIT_OK
