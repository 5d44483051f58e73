"""``fleetmon sla report``: SLA reports from the hub's HTTP API (fleetmon.hub.sla.api), for people (a table),
for programs (JSON) or for a spreadsheet (CSV, the same the API answers for ``format=csv``).

Without ``--slo`` every SLO's summary over its current period, or over ``--period`` (each SLO reads the
period in its own time zone); with ``--slo`` that SLO's report, member by member.
"""

import json
import urllib.parse
from argparse import Namespace
from typing import Any

from fleetmon.hub.api_commands import EXIT_FAILED, EXIT_OK, call_hub, print_table
from fleetmon.hub.sla.report import report_csv, summaries_csv


def sla(args: Namespace) -> int:
    """``fleetmon sla report``: reads ``hub``, ``slo``, ``period``, ``format`` and the connection flags that
    fleetmon.hub.api_commands.call_hub reads (``token``, ``token_file``, ``ca_file``, ``timeout``)."""
    query = "?period=" + urllib.parse.quote(args.period) if args.period else ""
    if args.slo:
        report = call_hub(args, "GET", f"/api/v1/sla/{urllib.parse.quote(args.slo, safe='')}/report{query}")
        if report is None:
            return EXIT_FAILED
        reports = [report]
    else:
        listing = call_hub(args, "GET", "/api/v1/sla")
        if listing is None:
            return EXIT_FAILED
        reports = listing["slos"]
        if args.period:
            reports = [call_hub(args, "GET", f"/api/v1/sla/{urllib.parse.quote(r['slo'], safe='')}/report{query}")
                       for r in reports]
            if any(r is None for r in reports):
                return EXIT_FAILED
    if args.format == "json":
        print(json.dumps(reports[0] if args.slo else reports, indent=2))
    elif args.format == "csv":
        print(report_csv(reports[0]) if args.slo else summaries_csv(reports), end="")
    else:
        _print_tables(reports, members=bool(args.slo))
    return EXIT_OK


def _print_tables(reports: list[dict[str, Any]], members: bool) -> None:
    rows = [("SLO", "PERIOD", "TARGET", "AVAILABILITY", "DOWNTIME", "BUDGET LEFT", "STATUS")]
    for report in reports:
        rows.append((report["slo"], report["label"] or _range(report), f"{report['target']:g}%",
                     _percent(report["availability"], 3), f"{report['downtime_minutes']:.1f} min",
                     _percent(report["budget"]["left"], 1), report["status"]))
    print_table(rows)
    if members and reports[0]["members"]:
        print()
        rows = [("MEMBER", "AVAILABILITY", "DOWNTIME", "UNKNOWN", "EXCLUDED")]
        for member in reports[0]["members"]:
            rows.append((member["member"], _percent(member["availability"], 3),
                         f"{member['downtime_minutes']:.1f} min", f"{member['unknown_s'] / 60:.1f} min",
                         f"{member['excluded_s'] / 60:.1f} min"))
        print_table(rows)


def _percent(share: float | None, digits: int) -> str:
    return "-" if share is None else f"{100.0 * share:.{digits}f}%"


def _range(report: dict[str, Any]) -> str:
    return f"{report['start']:.0f}..{report['end']:.0f}"
