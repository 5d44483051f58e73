"""The postmortem of an incident as a Markdown document, to paste into a wiki or a ticket.

A pure function of the incident's API JSON (``GET /api/v1/incidents/{id}``, timeline included), so the hub
serves it (``.../postmortem.md``) and the command line renders the same from the JSON it fetched. Times are
UTC; text people wrote is kept as written, except in table cells, where a ``|`` or a line break would end
the cell early.
"""

from datetime import datetime, timezone
from typing import Any

EMPTY = "_Not written yet._"


def postmortem_markdown(incident: dict[str, Any]) -> str:
    pm = incident["postmortem"]
    unix = incident["unix"]
    lines = [f"# {incident['id']} ({incident['severity']}): {incident['title']}", "",
             f"State: {incident['state']}. Times are UTC.", "", "| | |", "|---|---|"]
    opened_by = incident["openedBy"]
    rows = [("Opened", f"{utc(unix['openedAt'])} ({'by its route' if opened_by == 'route' else 'by ' + opened_by})"),
            ("Acknowledged", utc(unix["acknowledgedAt"])), ("Resolved", utc(unix["resolvedAt"])),
            ("Closed", utc(unix["closedAt"])), ("Duration", duration(incident["timeToResolve"])),
            ("Time to acknowledge", duration(incident["timeToAcknowledge"])),
            ("Assignee", incident["assignee"] or "—"), ("Responders", ", ".join(incident["responders"]) or "—"),
            ("Service / team", f"{incident['service'] or '—'} / {incident['team'] or '—'}")]
    if incident["mergedInto"]:
        rows.append(("Merged into", incident["mergedInto"]))
    if incident["links"]:
        rows.append(("Linked", ", ".join(incident["links"])))
    lines += [f"| {name} | {cell(value)} |" for name, value in rows]
    lines += ["", "## Summary", "", pm["summary"].strip() or EMPTY, "", "## Alerts", ""]
    if incident["alerts"]:
        lines += ["| Alert | Labels | Started | Status | Resolved |", "|---|---|---|---|---|"]
        lines += [f"| {cell(a['labels'].get('alertname', a['fingerprint']))} | "
                  f"{cell(', '.join(f'{k}={v}' for k, v in sorted(a['labels'].items())))} | "
                  f"{rfc3339_utc(a['startsAt'])} | {a['status']} | {rfc3339_utc(a['resolvedAt'])} |"
                  for a in incident["alerts"]]
    else:
        lines.append("_No alerts._")
    for title, key in (("Root cause", "rootCause"), ("Impact", "impact"), ("Resolution", "resolution")):
        lines += ["", f"## {title}", "", pm[key].strip() or EMPTY]
    lines += ["", "## Follow-ups", ""]
    lines += [f"- [{'x' if f['done'] else ' '}] {f['text']}" + (f" ({f['owner']})" if f["owner"] else "")
              for f in pm["followUps"]] or ["_None._"]
    lines += ["", "## Timeline", "", "| Time (UTC) | Event | By | What |", "|---|---|---|---|"]
    lines += [f"| {utc(e['at'])} | {e['kind'].replace('_', ' ')} | {cell(e['by'] or 'hub')} | {cell(e['text'])} |"
              for e in incident.get("timeline", [])]
    return "\n".join(lines) + "\n"


def utc(ts: float | None) -> str:
    return "—" if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def rfc3339_utc(text: str | None) -> str:
    """An RFC 3339 time of the JSON as the tables show times."""
    return "—" if text is None else utc(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def duration(seconds: float | None) -> str:
    """``2d 3h``, ``1h 0m``, ``5m 3s``, ``42s``: the largest unit and the next, rounded down."""
    if seconds is None:
        return "—"
    left = max(0, int(seconds))
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    first = next(i for i, (_, size) in enumerate(units) if left >= size or size == 1)
    parts = []
    for unit, size in units[first:first + 2]:
        parts.append(f"{left // size}{unit}")
        left %= size
    return " ".join(parts)


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
