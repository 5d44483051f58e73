"""``fleetmon logs``: the hub's log search from a terminal (fleetmon.hub.logs.api).

Prints the newest ``--limit`` lines matching the filters, oldest first as journalctl does, one a line
(``TIME HOST IDENTIFIER[PID]: MESSAGE``, times in UTC) or as JSON Lines with ``--json``. With ``--follow`` it
then prints each new line as it arrives, from the live tail, and reconnects after the line it printed last
when the connection drops (a hub restart), until interrupted.
"""

import json
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from argparse import Namespace
from collections.abc import Iterator
from typing import Any

from fleetmon.hub.api_commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, call_hub, duration_flag
from fleetmon.hub.client import token_from
from fleetmon.protocol.messages import rfc3339

RECONNECT = 2.0  # seconds before a dropped live tail connects again


def logs(args: Namespace) -> int:
    """Reads ``hub``, ``host``, ``group``, ``unit`` (lists or None), ``priority``, ``since``, ``grep``,
    ``limit``, ``follow``, ``json`` and the connection flags fleetmon.hub.api_commands.call_hub reads
    (``token``, ``token_file``, ``ca_file``, ``timeout``)."""
    params = _filters(args)
    if params is None:
        return EXIT_USAGE
    answer = call_hub(args, "GET", "/api/v1/logs?" + urllib.parse.urlencode([*params, ("limit", str(args.limit))]))
    if answer is None:
        return EXIT_FAILED
    lines = list(reversed(answer["lines"]))
    for line in lines:
        _print(line, args.json)
    if not args.follow:
        return EXIT_OK
    after = max([answer["newest_id"], *(line["id"] for line in lines)])
    try:
        return _follow(args, [(k, v) for k, v in params if k != "since"], after)
    except KeyboardInterrupt:
        return EXIT_OK


def _filters(args: Namespace) -> list[tuple[str, str]] | None:
    params = [(name, value) for name in ("host", "group", "unit") for value in getattr(args, name) or ()]
    if args.priority:
        params.append(("priority", args.priority))
    if args.since:
        if duration_flag(args.since, "--since") is None:
            return None
        params.append(("since", args.since))
    if args.grep:
        params.append(("q", args.grep))
    return params


def _follow(args: Namespace, params: list[tuple[str, str]], after: int) -> int:
    """Print the live tail's lines after the line ``after`` until interrupted; a refusal (a bad filter, no
    permission) ends it."""
    while True:
        query = [*params, ("after", str(after))]
        try:
            for event in _events(args, "/api/v1/logs/stream?" + urllib.parse.urlencode(query)):
                after = event["id"]
                _print(event, args.json)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            sys.stderr.write(f"fleetmon: the live tail was refused: {exc.code} {detail}\n")
            if exc.code != 503:
                return EXIT_FAILED
        except OSError as exc:
            sys.stderr.write(f"fleetmon: the live tail dropped ({exc}); connecting again\n")
        time.sleep(RECONNECT)


def _events(args: Namespace, path: str) -> Iterator[dict[str, Any]]:
    """Each ``line`` event's data from the stream at ``path``, until the hub ends it."""
    headers = {"Accept": "text/event-stream"}
    token = token_from(args.token, args.token_file)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = args.hub.rstrip("/") + path
    tls = ssl.create_default_context(cafile=args.ca_file) if url.startswith("https:") else None
    request = urllib.request.Request(url, headers=headers)
    # The timeout is per read: the hub sends a comment at least every 15 s while it has nothing to say.
    with urllib.request.urlopen(request, timeout=max(args.timeout, 30.0), context=tls) as response:
        name, data = "", []
        for raw in response:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text.startswith("event:"):
                name = text[6:].strip()
            elif text.startswith("data:"):
                data.append(text[5:].strip())
            elif not text:
                if name == "line" and data:
                    yield json.loads("\n".join(data))
                name, data = "", []


def _print(line: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(line), flush=True)
        return
    source = line["identifier"] or line["unit"] or "kernel"
    pid = f"[{line['pid']}]" if line.get("pid") is not None else ""
    print(f"{rfc3339(line['ts'])} {line['host']} {source}{pid}: {line['message']}", flush=True)
