"""What the commands that talk to the hub's HTTP API share (`alerts`, `ack`, `silence`, `incident`,
`maintenance`, `sla`): one call that reports a failure in words, who is acting, duration flags, tables."""

import contextlib
import json
import os
import sys
import urllib.error
from argparse import Namespace
from typing import Any

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.client import HubClient, token_from

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def call_hub(args: Namespace, method: str, path: str, body: Any = None) -> Any:
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


def who(args: Namespace) -> str:
    return args.by or os.environ.get("USER") or "fleetmon"


def duration_flag(text: str, flag: str) -> float | None:
    errors = Errors()
    seconds = Node(text, flag, errors).duration(None, minimum=1)
    if errors or seconds is None:
        sys.stderr.write(f"fleetmon: {flag} must be a duration such as 2h or 30m, got {text!r}\n")
        return None
    return seconds


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
