"""`fleetmon incident list|show|ack|assign|note|resolve|close|severity|postmortem`: the incident book from the
command line, through the hub's HTTP API (fleetmon.hub.incidents.api) with the helpers every API command
shares (fleetmon.hub.api_commands: the token, ``--by``, errors in words, tables).

``postmortem`` without an edit prints the Markdown export, rendered here from the incident's JSON by the same
function the hub serves it with; with edits it changes only the fields given and keeps the rest.
"""

import json
import time
import urllib.parse
from argparse import Namespace
from typing import Any

from fleetmon.hub.api_commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, call_hub, duration_flag, print_table, who
from fleetmon.hub.incidents.postmortem import postmortem_markdown


def incident(args: Namespace) -> int:
    return COMMANDS[args.incident_command](args)


def _list(args: Namespace) -> int:
    query: dict[str, Any] = {"limit": args.limit}
    if args.state:
        query["state"] = args.state
    if args.since:
        seconds = duration_flag(args.since, "--since")
        if seconds is None:
            return EXIT_USAGE
        query["since"] = time.time() - seconds
    body = call_hub(args, "GET", "/api/v1/incidents?" + urllib.parse.urlencode(query))
    if body is None:
        return EXIT_FAILED
    if args.json:
        print(json.dumps(body["incidents"], indent=2))
        return EXIT_OK
    print_table([("ID", "STATE", "SEVERITY", "TITLE", "ASSIGNEE", "OPENED"),
                 *((i["id"], i["state"], i["severity"], i["title"], i["assignee"] or "-", _when(i["openedAt"]))
                   for i in body["incidents"])])
    return EXIT_OK


def _show(args: Namespace) -> int:
    body = call_hub(args, "GET", _path(args.id))
    if body is None:
        return EXIT_FAILED
    found = body["incident"]
    if args.json:
        print(json.dumps(found, indent=2))
        return EXIT_OK
    print(f"{found['id']}  {found['title']}")
    print(f"state: {found['state']}{' (held open)' if found['heldOpen'] else ''}   severity: {found['severity']}   "
          f"assignee: {found['assignee'] or '-'}   responders: {', '.join(found['responders']) or '-'}")
    print(f"service: {found['service'] or '-'}   team: {found['team'] or '-'}   opened: {_when(found['openedAt'])} by "
          f"{found['openedBy']}   acknowledged: {_when(found['acknowledgedAt'])}   resolved: "
          f"{_when(found['resolvedAt'])}   closed: {_when(found['closedAt'])}")
    if found["mergedInto"] or found["links"]:
        print(f"merged into: {found['mergedInto'] or '-'}   linked: {', '.join(found['links']) or '-'}")
    if found["alerts"]:
        print("\nalerts:")
        print_table([("  FINGERPRINT", "STATUS", "STARTED", "LABELS"),
                     *((f"  {a['fingerprint']}", a["status"], _when(a["startsAt"]),
                        ",".join(f"{k}={v}" for k, v in sorted(a["labels"].items()))) for a in found["alerts"])])
    print("\ntimeline:")
    print_table([("  TIME (UTC)", "KIND", "BY", "TEXT"),
                 *((f"  {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(e['at']))}", e["kind"], e["by"] or "-",
                    e["text"]) for e in found["timeline"])])
    return EXIT_OK


def _ack(args: Namespace) -> int:
    return _act(args, "ack", {"comment": args.comment or ""}, lambda i: f"{i['id']} {i['state']}")


def _assign(args: Namespace) -> int:
    return _act(args, "assign", {"assignee": args.assignee},
                lambda i: f"{i['id']} assigned to {i['assignee']}" if i["assignee"] else f"{i['id']} unassigned")


def _note(args: Namespace) -> int:
    return _act(args, "notes", {"text": args.text}, lambda i: f"{i['id']}: noted")


def _resolve(args: Namespace) -> int:
    return _act(args, "resolve", {"comment": args.comment or ""}, lambda i: f"{i['id']} {i['state']}")


def _close(args: Namespace) -> int:
    return _act(args, "close", {}, lambda i: f"{i['id']} {i['state']}")


def _severity(args: Namespace) -> int:
    return _act(args, "severity", {"severity": args.severity}, lambda i: f"{i['id']} severity {i['severity']}")


def _act(args: Namespace, action: str, request: dict[str, Any], said: Any) -> int:
    body = call_hub(args, "POST", f"{_path(args.id)}/{action}", {**request, "by": who(args)})
    if body is None:
        return EXIT_FAILED
    print(said(body["incident"]))
    return EXIT_OK


#: The postmortem's text flags and the fields they set.
_EDITS = (("summary", "summary"), ("root_cause", "rootCause"), ("impact", "impact"), ("resolution", "resolution"))


def _postmortem(args: Namespace) -> int:
    body = call_hub(args, "GET", _path(args.id))
    if body is None:
        return EXIT_FAILED
    edits = {field: getattr(args, flag) for flag, field in _EDITS if getattr(args, flag) is not None}
    follow_ups = args.follow_up or []  # argparse's append leaves None when the flag is not given
    if not edits and not follow_ups:
        print(postmortem_markdown(body["incident"]), end="")
        return EXIT_OK
    postmortem = {**body["incident"]["postmortem"], **edits}
    postmortem["followUps"] = [*postmortem["followUps"],
                               *({"text": text, "owner": args.owner or "", "done": False} for text in follow_ups)]
    saved = call_hub(args, "PUT", f"{_path(args.id)}/postmortem", {**postmortem, "by": who(args)})
    if saved is None:
        return EXIT_FAILED
    missing = [name for name in ("rootCause", "impact", "resolution") if not saved["incident"]["postmortem"][name]]
    print(f"{args.id}: postmortem saved" + (f"; still empty: {', '.join(missing)}" if missing else ""))
    return EXIT_OK


def _path(incident_id: str) -> str:
    return "/api/v1/incidents/" + urllib.parse.quote(incident_id, safe="")


def _when(rfc3339: str | None) -> str:
    return "-" if rfc3339 is None else rfc3339[:19].replace("T", " ")


COMMANDS = {"list": _list, "show": _show, "ack": _ack, "assign": _assign, "note": _note, "resolve": _resolve,
            "close": _close, "severity": _severity, "postmortem": _postmortem}
