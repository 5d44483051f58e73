"""Incident statistics as a table (fleetmon.hub.incidents.stats): which incidents a range counts, MTTA and MTTR
(docs/incidents.md, "Statistics"), the breakdowns by service, group, team and month, and the open count per
state."""

from datetime import datetime, timezone
from typing import Any, NamedTuple

import pytest

from fleetmon.hub.incidents.model import Incident
from fleetmon.hub.incidents.stats import incident_stats

MINUTE = 60.0
NOV = datetime(2026, 11, 10, tzinfo=timezone.utc).timestamp()
DEC = datetime(2026, 12, 2, tzinfo=timezone.utc).timestamp()
START, END = NOV - 86400, DEC + 86400


def incident(number: int, opened: float = NOV, acknowledged: float | None = None, resolved: float | None = None,
             state: str = "", service: str = "", team: str = "", group: str = "", merged_into: str = "") -> Incident:
    """``acknowledged`` and ``resolved``: minutes after the opening."""
    return Incident(id=f"INC-{number}", number=number, title="t",
                    state=state or ("resolved" if resolved is not None else "triggered"), severity="warning",
                    group_key="", group_id="", receiver="", labels={"group": group} if group else {},
                    service=service, team=team, opened_at=opened, opened_by="route", merged_into=merged_into,
                    acknowledged_at=None if acknowledged is None else opened + acknowledged * MINUTE,
                    resolved_at=None if resolved is None else opened + resolved * MINUTE)


class Case(NamedTuple):
    name: str
    why: str
    incidents: list[Incident]
    expected: dict[str, Any]  # dotted paths into the answer: "byService.db.opened"
    start: float = START
    end: float = END


CASES = [
    Case("one incident", "acknowledged after 5 minutes, resolved after 20",
         [incident(1, acknowledged=5, resolved=20)],
         {"opened": 1, "acknowledged": 1, "resolved": 1, "meanTimeToAcknowledge": 300.0, "meanTimeToResolve": 1200.0}),
    Case("means", "(2 + 4) / 2 minutes to acknowledge, (10 + 30) / 2 to resolve",
         [incident(1, acknowledged=2, resolved=10), incident(2, acknowledged=4, resolved=30)],
         {"meanTimeToAcknowledge": 180.0, "meanTimeToResolve": 1200.0}),
    Case("never acknowledged", "counted apart, not as a zero in the mean",
         [incident(1, acknowledged=6, resolved=10), incident(2, resolved=5)],
         {"opened": 2, "acknowledged": 1, "unacknowledged": 1, "meanTimeToAcknowledge": 360.0,
          "meanTimeToResolve": 450.0}),
    Case("nothing acknowledged or resolved", "no mean of nothing", [incident(1)],
         {"meanTimeToAcknowledge": None, "meanTimeToResolve": None, "unresolved": 1}),
    Case("opened before the range", "the range counts incidents by their opening",
         [incident(1, opened=START - 1, acknowledged=1), incident(2, acknowledged=3)],
         {"opened": 1, "meanTimeToAcknowledge": 180.0}),
    Case("opened at the end", "the range is [start, end): an incident opened at its end belongs to the next",
         [incident(1), incident(2, opened=END)], {"opened": 1}),
    Case("acknowledged after the end", "a report on a past range does not change when an old incident is "
         "acknowledged today", [incident(1, opened=END - MINUTE, acknowledged=2)], {"acknowledged": 0,
                                                                                  "unacknowledged": 1}),
    Case("merged away", "a duplicate of the incident it went to, which is counted",
         [incident(1, resolved=10), incident(2, resolved=1, state="closed", merged_into="INC-1")],
         {"opened": 1, "meanTimeToResolve": 600.0}),
    Case("by service", "each service its own counts and means; none without the label",
         [incident(1, service="db", acknowledged=2), incident(2, service="db", acknowledged=4), incident(3)],
         {"byService.db.opened": 2, "byService.db.meanTimeToAcknowledge": 180.0, "byService.none.opened": 1}),
    Case("by group", "the group label of the incident's labels", [incident(1, group="gpu"), incident(2)],
         {"byGroup.gpu.opened": 1, "byGroup.none.opened": 1}),
    Case("by team", "", [incident(1, team="infra", resolved=3)],
         {"byTeam.infra.meanTimeToResolve": 180.0}),
    Case("by month", "the UTC month of the opening",
         [incident(1), incident(2, opened=DEC, resolved=1), incident(3, opened=DEC)],
         {"byMonth.2026-11.opened": 1, "byMonth.2026-12.opened": 2, "byMonth.2026-12.resolved": 1}),
    Case("open now per state", "every incident not closed, whenever it opened",
         [incident(1, opened=START - 86400), incident(2, acknowledged=1, state="investigating"),
          incident(3, resolved=1), incident(4, resolved=1, state="closed")],
         {"openByState": {"triggered": 1, "acknowledged": 0, "investigating": 1, "resolved": 1}}),
]


def at(answer: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        answer = answer[key]
    return answer


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_incident_statistics(case):
    answer = incident_stats(case.incidents, case.start, case.end)
    assert {path: at(answer, path) for path in case.expected} == case.expected, case.why


def test_the_answer_names_its_range_and_every_breakdown():
    answer = incident_stats([], START, END)
    assert (answer["start"], answer["end"], answer["opened"]) == (START, END, 0)
    assert {key: answer[key] for key in ("byService", "byGroup", "byTeam", "byMonth")} == {
        "byService": {}, "byGroup": {}, "byTeam": {}, "byMonth": {}}
