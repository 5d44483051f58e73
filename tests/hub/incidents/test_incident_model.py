"""What an incident is made of when it opens (title, severity, service and team, from labels alone), what a
postmortem must say before closing, how the API's postmortem is read strictly, and that the stored record
gives back the incident it was made from (fleetmon.hub.incidents.model)."""

from typing import NamedTuple

import pytest

from fleetmon.hub.incidents.model import (
    Entry,
    FollowUp,
    Incident,
    IncidentAlert,
    IncidentError,
    Postmortem,
    default_title,
    highest_severity,
    incident_from_record,
    incident_json,
    incident_record,
    missing_postmortem_fields,
    owner_label,
    postmortem_from_json,
)


class Severity(NamedTuple):
    name: str
    why: str
    severities: list[str]
    expected: str


SEVERITY = [
    Severity("the highest wins", "critical > warning > info", ["info", "critical", "warning"], "critical"),
    Severity("warning over info", "", ["info", "warning"], "warning"),
    Severity("only info", "the alerts say info", ["info"], "info"),
    Severity("no severity label", "warning is the default", [""], "warning"),
    Severity("unknown values", "a severity outside the scale counts as none", ["page", "P1"], "warning"),
    Severity("no alerts", "an incident opened by hand without alerts", [], "warning"),
]


@pytest.mark.parametrize("case", SEVERITY, ids=[c.name for c in SEVERITY])
def test_the_severity_an_incident_opens_with(case):
    labels = [{"severity": s} if s else {} for s in case.severities]
    assert highest_severity(labels) == case.expected, case.why


class Title(NamedTuple):
    name: str
    why: str
    group_labels: dict[str, str]
    alert_labels: list[dict[str, str]]
    title: str


TITLES = [
    Title("alertname and group labels", "what the routing group is about", {"alertname": "DiskFull", "site": "north",
          "host": "a"}, [], "DiskFull (host=a, site=north)"),
    Title("only the alertname", "grouped by alertname alone", {"alertname": "HostDown"}, [], "HostDown"),
    Title("the alerts share an alertname", "the group is not by alertname, its alerts agree",
          {"site": "north"}, [{"alertname": "HostDown", "host": "a"}, {"alertname": "HostDown", "host": "b"}],
          "HostDown (site=north)"),
    Title("mixed alerts", "no alertname in common", {"site": "north"},
          [{"alertname": "HostDown"}, {"alertname": "DiskFull"}], "alerts (site=north)"),
]


@pytest.mark.parametrize("case", TITLES, ids=[c.name for c in TITLES])
def test_the_default_title(case):
    assert default_title(case.group_labels, case.alert_labels) == case.title, case.why


class Owner(NamedTuple):
    name: str
    why: str
    group_labels: dict[str, str]
    alert_labels: list[dict[str, str]]
    service: str


OWNERS = [
    Owner("from the group labels", "the route groups by service", {"service": "db"},
          [{"service": "web"}], "db"),
    Owner("common to the alerts", "every alert says db", {}, [{"service": "db", "host": "a"},
                                                               {"service": "db", "host": "b"}], "db"),
    Owner("not common", "the alerts disagree: no service", {}, [{"service": "db"}, {"service": "web"}], ""),
    Owner("missing on one alert", "a label one alert lacks is not common", {}, [{"service": "db"}, {}], ""),
    Owner("no alerts", "nothing to read it from", {}, [], ""),
]


@pytest.mark.parametrize("case", OWNERS, ids=[c.name for c in OWNERS])
def test_service_and_team_come_from_the_group_then_the_alerts(case):
    assert owner_label("service", case.group_labels, case.alert_labels) == case.service, case.why
    renamed = [{"team" if k == "service" else k: v for k, v in labels.items()} for labels in case.alert_labels]
    group = {"team": case.group_labels["service"]} if "service" in case.group_labels else {}
    assert owner_label("team", group, renamed) == case.service, "team is read the same way"


@pytest.mark.parametrize(("postmortem", "missing"), [
    (Postmortem(), ["rootCause", "impact", "resolution"]),
    (Postmortem(summary="s", root_cause="disk full", impact="  "), ["impact", "resolution"]),
    (Postmortem(root_cause="disk", impact="none", resolution="cleaned"), []),
])
def test_what_a_postmortem_must_say_before_closing(postmortem, missing):
    assert missing_postmortem_fields(postmortem) == missing


class BadPostmortem(NamedTuple):
    name: str
    body: object
    message: str


BAD_POSTMORTEMS = [
    BadPostmortem("not an object", ["root"], "the postmortem must be an object"),
    BadPostmortem("unknown field", {"root_cause": "x"}, "root_cause: unknown field"),
    BadPostmortem("text not a string", {"impact": 3}, "impact must be a string"),
    BadPostmortem("follow-ups not a list", {"followUps": {"text": "x"}}, "followUps must be a list"),
    BadPostmortem("follow-up without text", {"followUps": [{"text": "a"}, {"owner": "ana"}]},
                  r"followUps\[1\].text must be a non-empty string"),
    BadPostmortem("follow-up owner not a string", {"followUps": [{"text": "a", "owner": 1}]},
                  r"followUps\[0\].owner must be a string"),
    BadPostmortem("follow-up done not a boolean", {"followUps": [{"text": "a", "done": "yes"}]},
                  r"followUps\[0\].done must be true or false"),
    BadPostmortem("follow-up unknown field", {"followUps": [{"text": "a", "due": "friday"}]},
                  r"followUps\[0\].due: unknown field"),
]


@pytest.mark.parametrize("case", BAD_POSTMORTEMS, ids=[c.name for c in BAD_POSTMORTEMS])
def test_a_bad_postmortem_is_an_error_naming_its_field(case):
    with pytest.raises(IncidentError, match=case.message):
        postmortem_from_json(case.body)


def test_a_postmortem_is_read_from_the_apis_names():
    assert postmortem_from_json({"summary": "s", "rootCause": "r", "impact": None, "resolution": "z",
                                 "followUps": [{"text": "alert on inodes", "owner": "ana", "done": True},
                                               {"text": "runbook"}]}) == \
        Postmortem("s", "r", "", "z", [FollowUp("alert on inodes", "ana", True), FollowUp("runbook", "", False)])


def test_the_record_gives_back_the_incident():
    incident = Incident(
        id="INC-3", number=3, title="DiskFull", state="resolved", severity="critical", group_key="r:{}",
        group_id="abc", receiver="ops", labels={"group": "db"}, service="db", team="infra", opened_at=100.0,
        opened_by="route", assignee="ana", responders=["ana", "bob"],
        alerts={"a": IncidentAlert("a", {"alertname": "DiskFull"}, 90.0, "resolved", 100.0, "r:{}", 150.0, True)},
        links=["INC-1"], held_open=True, acknowledged_at=110.0, resolved_at=150.0,
        postmortem=Postmortem("s", "r", "i", "z", [FollowUp("t", "o", True)]), group_keys=["r:{}"],
        timeline=[Entry(100.0, 1, "opened", "", "opened", {"receiver": "ops"})])
    assert incident_from_record(incident_record(incident), incident.timeline) == incident
    body = incident_json(incident)
    assert body["openedAt"] == "1970-01-01T00:01:40.000000Z" and body["unix"]["openedAt"] == 100.0
    assert (body["timeToAcknowledge"], body["timeToResolve"], body["closedAt"]) == (10.0, 50.0, None)
    assert body["timeline"] == [{"at": 100.0, "seq": 1, "kind": "opened", "by": "", "text": "opened",
                                 "details": {"receiver": "ops"}}]
    assert "timeline" not in incident_json(incident, timeline=False)
