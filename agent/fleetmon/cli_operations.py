"""The operators' commands above alerts: `fleetmon incident`, `maintenance`, `sla` and `logs`.

Only their parsers live here, importable on Python 3.8 like the rest of the command line (the agent's hosts
run `fleetmon agent`); what they do is in the hub's packages, imported when one runs.
"""

import argparse
import importlib
from typing import Callable

Options = Callable[[argparse.ArgumentParser], None]


def register(commands, api_options: Options) -> None:
    _incident(commands, api_options)
    _maintenance(commands, api_options)
    _sla(commands, api_options)
    _logs(commands, api_options)


#: fleetmon.hub.incidents.lifecycle.STATES, written out: this module does not import the hub's.
INCIDENT_STATES = ("triggered", "acknowledged", "investigating", "resolved", "closed")


def _incident(commands, api_options: Options) -> None:
    parser = commands.add_parser("incident", help="list, show and act on incidents",
                                 description="Incidents group alerts (docs/incidents.md): opened by routes that ask "
                                 "for them or by hand, acknowledged, assigned, noted, resolved and closed with a "
                                 "postmortem.")
    sub = parser.add_subparsers(dest="incident_command", metavar="COMMAND", required=True)
    listing = sub.add_parser("list", help="incidents, newest first")
    listing.add_argument("--state", choices=INCIDENT_STATES, help="only incidents in this state")
    listing.add_argument("--since", metavar="DURATION", help="open now or closed within it, e.g. 7d")
    listing.add_argument("--limit", type=int, default=500, help="at most this many, newest first")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = sub.add_parser("show", help="one incident with its timeline")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    ack = sub.add_parser("ack", help="acknowledge an incident (and its firing alerts)")
    ack.add_argument("id", metavar="ID")
    ack.add_argument("--comment", help="why, or what is being done")
    assign = sub.add_parser("assign", help="give an incident to someone")
    assign.add_argument("id", metavar="ID")
    assign.add_argument("assignee", metavar="NAME", help='"" unassigns')
    note = sub.add_parser("note", help="add a note to the timeline")
    note.add_argument("id", metavar="ID")
    note.add_argument("text", metavar="TEXT")
    resolve = sub.add_parser("resolve", help="resolve an incident by hand")
    resolve.add_argument("id", metavar="ID")
    resolve.add_argument("--comment", help="what fixed it")
    close = sub.add_parser("close", help="close a resolved incident (it needs a postmortem)")
    close.add_argument("id", metavar="ID")
    severity = sub.add_parser("severity", help="change an incident's severity")
    severity.add_argument("id", metavar="ID")
    severity.add_argument("severity", choices=("critical", "warning", "info"))
    postmortem = sub.add_parser("postmortem", help="edit the postmortem, or print it as Markdown")
    postmortem.add_argument("id", metavar="ID")
    postmortem.add_argument("--summary")
    postmortem.add_argument("--root-cause", dest="root_cause")
    postmortem.add_argument("--impact")
    postmortem.add_argument("--resolution")
    postmortem.add_argument("--follow-up", dest="follow_up", action="append", metavar="TEXT",
                            help="a follow-up item (repeatable)")
    postmortem.add_argument("--owner", metavar="NAME", help="owner of the follow-ups given")
    for command in (listing, show, ack, assign, note, resolve, close, severity, postmortem):
        api_options(command)
        command.set_defaults(handler=_run("fleetmon.hub.incidents.cli", "incident"))


def _maintenance(commands, api_options: Options) -> None:
    parser = commands.add_parser("maintenance", help="add, list or end maintenance windows",
                                 description="Planned downtime: alerts inside a window are muted, HostDown of a "
                                 "host inside does not page, and the time is excluded from SLA reports.")
    sub = parser.add_subparsers(dest="maintenance_command", metavar="COMMAND", required=True)
    add = sub.add_parser("add", help="a one-off window for hosts, groups or matchers")
    add.add_argument("name", help="what the window is for")
    add.add_argument("--host", action="append", metavar="HOST", help="a host inside (repeatable)")
    add.add_argument("--group", action="append", metavar="GROUP", help="an inventory group inside (repeatable)")
    add.add_argument("--matcher", action="append", metavar="MATCHER",
                     help='alerts it covers, e.g. alertname="DiskFull" (repeatable, ANDed)')
    add.add_argument("--duration", required=True, metavar="DURATION", help="how long, e.g. 2h")
    add.add_argument("--in", dest="start", metavar="DURATION", help="start this much later (default: now)")
    add.add_argument("--comment", help="why")
    listing = sub.add_parser("list", help="active and scheduled windows")
    listing.add_argument("--all", action="store_true", help="include ended windows")
    listing.add_argument("--json", action="store_true", help="print JSON")
    end = sub.add_parser("end", help="end windows now")
    end.add_argument("ids", nargs="+", metavar="ID")
    for command in (add, listing, end):
        api_options(command)
        command.set_defaults(handler=_run("fleetmon.hub.maintenance.cli", "maintenance"))


def _sla(commands, api_options: Options) -> None:
    parser = commands.add_parser("sla", help="SLO reports: availability, downtime, error budgets",
                                 description="Reports over the SLOs of the hub config (docs/sla.md).")
    sub = parser.add_subparsers(dest="sla_command", metavar="COMMAND", required=True)
    report = sub.add_parser("report", help="every SLO over its current period, or one SLO over a period")
    report.add_argument("--slo", metavar="NAME", help="one SLO, with its members (default: a summary of all)")
    report.add_argument("--period", metavar="PERIOD", help="2026-11, 2026-W47, 2026-Q4, 2026 or 2026-11-30 "
                        "(default: the SLO's current period)")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")
    api_options(report)
    report.set_defaults(handler=_run("fleetmon.hub.sla.cli", "sla"))


def _logs(commands, api_options: Options) -> None:
    parser = commands.add_parser("logs", help="search the hosts' log lines on the hub, or follow them",
                                 description="The journal lines the agents ship (docs/agent.md \"logs\"), "
                                 "newest first, or followed live with --follow.")
    parser.add_argument("--host", action="append", metavar="HOST", help="this host's lines (repeatable)")
    parser.add_argument("--group", action="append", metavar="GROUP", help="the lines of a group's hosts")
    parser.add_argument("--unit", action="append", metavar="UNIT", help='a systemd unit ("" for the kernel)')
    parser.add_argument("--priority", metavar="P", help="at or above: emerg..debug or 0..7")
    parser.add_argument("--since", metavar="DURATION", help="e.g. 1h (default: everything kept)")
    parser.add_argument("--grep", metavar="TEXT", help="full-text search (words, \"a phrase\", prefix*)")
    parser.add_argument("--limit", type=int, default=100, help="at most this many lines")
    parser.add_argument("-f", "--follow", action="store_true", help="then print new lines as they arrive")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    api_options(parser)
    parser.set_defaults(handler=_run("fleetmon.hub.logs.cli", "logs"))


def _run(module: str, name: str):
    def handler(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), name)(args)
    return handler
