"""The words of an incident's change for people: a title and a body, as plain text and as HTML.

Alert notifications are rendered with Go templates and Alertmanager's defaults (fleetmon.hub.alerting.
templates). An incident's change (docs/incidents.md) is fleetmon's own and Alertmanager has no default
for it, so a receiver field the config leaves out takes these texts instead:
``[INCIDENT INC-7 OPENED] DiskFull (site=north) (critical)`` and the incident's alerts, one per line.
"""

import html
from datetime import datetime, timezone

from fleetmon.hub.alerting.notification import AlertSnapshot, Notification

_TEXT_ANNOTATIONS = ("summary", "description", "message")  # the first one an alert has is its line's text


def title(notification: Notification) -> str:
    incident = notification.incident or {}
    return (f"[INCIDENT {incident.get('id', '')} {notification.incident_change.upper()}] "
            f"{incident.get('title', '')} ({incident.get('severity', '')})")


def body(notification: Notification) -> str:
    """One section per status, one line per alert: its labels and its text."""
    lines = []
    for heading, alerts in (("Firing", notification.firing), ("Resolved", notification.resolved)):
        if alerts:
            if lines:
                lines.append("")
            lines.append(f"{heading}:")
            lines.extend("- " + _alert_line(alert) for alert in alerts)
    return "\n".join(lines)


def _alert_line(alert: AlertSnapshot) -> str:
    text = next((alert.annotations[key] for key in _TEXT_ANNOTATIONS if alert.annotations.get(key)), "")
    parts = [_pairs(alert.labels) or alert.fingerprint]
    if text:
        parts[0] += ":"
        parts.append(text)
    parts.append(f"(since {_clock(alert.starts_at)}" +
                 (f", resolved {_clock(alert.ends_at)})" if alert.ends_at is not None else ")"))
    return " ".join(parts)


def html_body(notification: Notification) -> str:
    """A small self-contained HTML page: the title, then a table of alerts with labels and annotations."""
    rows = []
    for alert in notification.alerts:
        labels = "<br>".join(f"{html.escape(k)}={html.escape(v)}" for k, v in sorted(alert.labels.items()))
        notes = "<br>".join(f"<b>{html.escape(k)}</b>: {html.escape(v)}" for k, v in sorted(alert.annotations.items()))
        link = (f' <a href="{html.escape(alert.generator_url)}">source</a>' if alert.generator_url else "")
        color = "#d9534f" if alert.ends_at is None else "#5cb85c"
        rows.append(f'<tr><td style="color:{color}"><b>{alert.status}</b>{link}<br>since {_clock(alert.starts_at)}'
                    f'</td><td>{labels}</td><td>{notes}</td></tr>')
    heading = html.escape(title(notification))
    external = (f'<p><a href="{html.escape(notification.external_url)}">{html.escape(notification.external_url)}'
                '</a></p>' if notification.external_url else "")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{heading}</title></head><body>"
            f"<h2>{heading}</h2><table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">"
            f"<tr><th>status</th><th>labels</th><th>annotations</th></tr>{''.join(rows)}</table>"
            f"{external}</body></html>\n")


def _pairs(labels: dict[str, str]) -> str:
    return " ".join(f"{name}={value}" for name, value in sorted(labels.items()))


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
