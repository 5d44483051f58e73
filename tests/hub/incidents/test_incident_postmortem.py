"""The postmortem's Markdown export (fleetmon.hub.incidents.postmortem), a pure function of the incident's API
JSON: what a reader of the document finds, in which section, with UTC times."""

from datetime import datetime, timezone

import pytest

from fleetmon.hub.incidents.model import Entry, FollowUp, Incident, IncidentAlert, Postmortem, incident_json
from fleetmon.hub.incidents.postmortem import cell, duration, postmortem_markdown

OPENED = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc).timestamp()


def closed_incident() -> dict:
    incident = Incident(
        id="INC-42", number=42, title="DiskFull (site=north)", state="closed", severity="critical",
        group_key="r:{}", group_id="g", receiver="ops", labels={"site": "north"}, service="db", team="infra",
        opened_at=OPENED, opened_by="route", assignee="ana", responders=["ana", "bob"],
        alerts={"a": IncidentAlert("a", {"alertname": "DiskFull", "host": "db-1"}, OPENED - 120, "resolved", OPENED,
                                   "r:{}", OPENED + 4800)},
        links=["INC-40"], acknowledged_at=OPENED + 300, resolved_at=OPENED + 4800, closed_at=OPENED + 86400,
        postmortem=Postmortem("The database disk filled.", "Logs were not rotated | ever.", "Writes failed.",
                              "Rotated the logs.", [FollowUp("alert on inodes", "ana", True),
                                                    FollowUp("rotation runbook")]),
        timeline=[Entry(OPENED + 300, 3, "state_changed", "ana", "acknowledged by ana"),
                  Entry(OPENED, 1, "opened", "", "opened for routing group r:{}"),
                  Entry(OPENED, 2, "alert_joined", "", "DiskFull joined")])
    return incident_json(incident)


def section(markdown: str, title: str) -> str:
    return markdown.split(f"\n## {title}\n\n")[1].split("\n\n## ")[0]


def test_the_title_and_summary_table():
    markdown = postmortem_markdown(closed_incident())
    assert markdown.startswith("# INC-42 (critical): DiskFull (site=north)\n\nState: closed. Times are UTC.\n")
    for row in ("| Opened | 2026-11-02 10:00:00 (by its route) |", "| Acknowledged | 2026-11-02 10:05:00 |",
                "| Resolved | 2026-11-02 11:20:00 |", "| Closed | 2026-11-03 10:00:00 |", "| Duration | 1h 20m |",
                "| Time to acknowledge | 5m 0s |", "| Assignee | ana |", "| Responders | ana, bob |",
                "| Service / team | db / infra |", "| Linked | INC-40 |"):
        assert row in markdown


def test_the_sections_people_wrote_and_the_alerts():
    markdown = postmortem_markdown(closed_incident())
    assert section(markdown, "Summary") == "The database disk filled."
    assert section(markdown, "Root cause") == "Logs were not rotated | ever.", "text outside tables as written"
    assert section(markdown, "Impact") == "Writes failed."
    assert section(markdown, "Resolution") == "Rotated the logs."
    assert section(markdown, "Follow-ups") == "- [x] alert on inodes (ana)\n- [ ] rotation runbook"
    assert section(markdown, "Alerts").splitlines()[2] == \
        "| DiskFull | alertname=DiskFull, host=db-1 | 2026-11-02 09:58:00 | resolved | 2026-11-02 11:20:00 |"


def test_the_timeline_in_order_with_utc_times():
    rows = section(postmortem_markdown(closed_incident()), "Timeline").splitlines()
    assert rows[2:] == ["| 2026-11-02 10:00:00 | opened | hub | opened for routing group r:{} |",
                        "| 2026-11-02 10:00:00 | alert joined | hub | DiskFull joined |",
                        "| 2026-11-02 10:05:00 | state changed | ana | acknowledged by ana |"]


def test_an_incident_still_open():
    incident = closed_incident() | {"state": "triggered", "alerts": [], "links": [], "timeToResolve": None,
                                    "postmortem": {"summary": "", "rootCause": "", "impact": "", "resolution": "",
                                                   "followUps": []}}
    incident["unix"] = {**incident["unix"], "resolvedAt": None, "closedAt": None}
    markdown = postmortem_markdown(incident)
    assert "| Resolved | — |" in markdown and "| Duration | — |" in markdown
    assert section(markdown, "Alerts") == "_No alerts._"
    assert section(markdown, "Root cause") == "_Not written yet._"
    assert section(markdown, "Follow-ups") == "_None._"


@pytest.mark.parametrize(("seconds", "text"), [
    (42, "42s"), (0, "0s"), (303, "5m 3s"), (3600, "1h 0m"), (4800, "1h 20m"), (2 * 86400 + 3 * 3600 + 59, "2d 3h"),
    (None, "—"),
])
def test_durations_read_in_their_two_largest_units(seconds, text):
    assert duration(seconds) == text


def test_a_table_cell_keeps_its_row():
    assert cell("a | b\nc") == "a \\| b c"
