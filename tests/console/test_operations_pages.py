"""The operations pages in a real browser against the console's hub (tests/console/conftest.py): incidents opened
through the API listed and searched, an operator acknowledging one and noting on its timeline, closing refused
until the postmortem says root cause, impact and resolution, a viewer shown no action, a maintenance window
planned through the form, listed and ended, and the SLO page's card with its budget chart and members. The pages'
pure decisions (which actions a state allows, the period before a period, members worst first, how the boxes of
the maintenance form split) are table tests run by node on the shipped modules."""

import re
from datetime import date, timedelta
from typing import Any, NamedTuple

import pytest

from tests.console.conftest import SIMULATED_HOSTS, SLO, Console, log_in, screenshot
from tests.hub.test_console_modules import NODE, call
from tests.polling import wait_until

SERVER = "sim-server-0002"
LAB_HOSTS = {f"sim-{'jetson' if n % 2 else 'server'}-{n:04d}" for n in range(1, SIMULATED_HOSTS + 1)}
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (`make console` installs it)")


def firing(console: Console, alertname: str) -> dict | None:
    return next((a for a in console.api("api/v1/alerts")["alerts"] if a["labels"]["alertname"] == alertname), None)


def open_incident(console: Console, title: str, alertname: str | None = None) -> dict:
    """An incident opened by hand through the API, holding the alert ``alertname`` (fired on SERVER) if given."""
    fingerprints = []
    if alertname:
        console.fire(alertname, SERVER)
        wait_until(lambda: firing(console, alertname), timeout=10, message=f"{alertname} firing")
        fingerprints = [firing(console, alertname)["fingerprint"]]
    return console.api("api/v1/incidents", {"title": title, "alerts": fingerprints})["incident"]


def as_the_page(page, method: str, path: str, body: Any = None) -> dict:
    """A request the page itself makes with its session and CSRF token: what the hub answers the reader."""
    return page.evaluate("""async ([method, path, body]) => {
        const me = await (await fetch('api/v1/auth/me')).json();
        const r = await fetch(path, {method, headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
                                     body: body === null ? undefined : JSON.stringify(body)});
        return {status: r.status, body: await r.json()};
    }""", [method, path, body])


def test_the_incident_list_shows_an_incident_opened_through_the_api(page, console: Console):
    incident = open_incident(console, "Console list check <b>not bold</b>", alertname="ConsoleListCheck")
    log_in(page, console, "vic")
    page.goto(console.url + "#/incidents")
    row = page.locator(f"#incident-list tr[data-incident='{incident['id']}']")
    row.wait_for()
    assert "triggered" in row.inner_text()
    assert "<b>not bold</b>" in row.inner_text(), "the title is shown as the text it is, not as markup"
    assert row.locator("td.num").last.inner_text().startswith("1"), "one alert"
    stats = page.locator(".incident-stats")
    assert "Mean time to acknowledge" in stats.inner_text()
    triggered = stats.locator(".open-by-state li", has=page.locator(".incident-state-triggered")).locator(".num")
    assert int(triggered.inner_text()) >= 1

    page.fill("#incident-search", "nothing is called this")
    wait_until(lambda: row.count() == 0, timeout=5, message="the search leaving the incident out")
    page.fill("#incident-search", "consolelistcheck")  # the label of its alert, in any case
    row.wait_for()
    screenshot(page, "incidents")

    row.locator(".incident-id a").click()
    page.wait_for_selector("body[data-ready='incident']")
    assert page.locator(".incident-page h1").inner_text() == f"{incident['id']} Console list check <b>not bold</b>"
    kinds = page.locator(".timeline-entry").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds[:2] == ["opened", "alert_joined"], kinds
    host = page.locator(".incident-alerts a", has_text=SERVER)
    assert host.get_attribute("href") == f"#/host/{SERVER}"


def test_an_operator_acknowledges_and_adds_a_note_and_the_timeline_shows_both_in_order(page, console: Console):
    incident = open_incident(console, "Console ack check", alertname="ConsoleAckCheck")
    log_in(page, console, "olga")
    page.goto(console.url + f"#/incidents/{incident['id']}")
    page.wait_for_selector("body[data-ready='incident']")
    page.fill("#incident-comment", "looking at it")
    page.click(".incident-actions button[data-action=ack]")
    page.locator(".incident-chips .incident-state-acknowledged").wait_for()
    assert page.locator(".incident-actions button[data-action=ack]").is_hidden(), "nothing left to acknowledge"

    page.fill("#incident-note", "the disk is full of <logs>")
    page.click(".note-form .add-note")
    page.locator(".timeline-note", has_text="the disk is full of <logs>").wait_for()
    entries = page.locator(".timeline-entry").evaluate_all("els => els.map(e => [e.dataset.kind, e.innerText])")
    acknowledged = [i for i, (kind, text) in enumerate(entries) if kind == "state_changed" and "olga" in text]
    noted = [i for i, (kind, text) in enumerate(entries) if kind == "note" and "olga" in text]
    assert len(acknowledged) == 1 and len(noted) == 1 and acknowledged[0] < noted[0], entries
    assert page.locator("#incident-note").input_value() == "", "the note box is emptied once the note is kept"

    stored = console.api(f"api/v1/incidents/{incident['id']}")["incident"]
    assert stored["state"] == "acknowledged"
    by_olga = [(e["kind"], e["details"].get("comment")) for e in stored["timeline"] if e["by"] == "olga"]
    assert by_olga == [("state_changed", "looking at it"), ("note", None)], by_olga
    assert all(a["acknowledged"] for a in stored["alerts"]), "its alert is acknowledged in the dispatcher too"
    page.evaluate("scrollTo(0, 0)")
    screenshot(page, "incident")


def test_an_operator_opens_an_incident_and_gives_it_people_a_severity_and_a_hold(page, console: Console):
    log_in(page, console, "olga")
    page.goto(console.url + "#/incidents")
    page.wait_for_selector("body[data-ready='incidents']")
    page.click(".new-incident")
    dialog = page.locator("#new-incident-dialog")
    dialog.locator("[name=title]").fill("Console people check")
    dialog.locator("[name=severity]").select_option("critical")
    dialog.locator("[type=submit]").click()
    page.wait_for_selector("body[data-ready='incident']")
    assert page.locator(".incident-page .incident-title").inner_text() == "Console people check"
    assert page.locator(".incident-chips .severity").inner_text() == "critical"
    incident_id = page.locator(".incident-page h1 .incident-id").inner_text()

    actions = page.locator(".incident-actions")
    actions.locator("[name=assignee]").fill("ana")
    actions.locator("button[data-action=assign]").click()
    page.locator(".incident-facts", has_text="ana").wait_for()
    actions.locator("[name=responder]").fill("bo")
    actions.locator("button[data-action=responders]").click()
    page.locator(".incident-facts", has_text="bo").wait_for()
    actions.locator("[name=severity]").select_option("info")
    actions.locator("button[data-action=severity]").click()
    page.locator(".incident-chips .severity", has_text="info").wait_for()
    actions.locator("button[data-action=hold]").click()
    actions.locator("button[data-action=release]").wait_for()
    assert actions.locator("button[data-action=hold]").is_hidden()

    stored = console.api(f"api/v1/incidents/{incident_id}")["incident"]
    assert (stored["openedBy"], stored["assignee"], stored["responders"], stored["severity"], stored["heldOpen"]) == \
        ("olga", "ana", ["bo"], "info", True)
    kinds = page.locator(".timeline-entry").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds == ["opened", "assignee_changed", "responder_added", "severity_changed", "held"], kinds


def test_closing_is_refused_until_the_postmortem_is_filled_in(page, console: Console):
    incident = open_incident(console, "Console close check")
    console.api(f"api/v1/incidents/{incident['id']}/resolve", {})
    log_in(page, console, "olga")
    page.goto(console.url + f"#/incidents/{incident['id']}")
    page.wait_for_selector("body[data-ready='incident']")
    close = page.locator(".incident-actions button[data-action=close]")
    assert close.is_disabled()
    assert "root cause, impact and resolution" in page.locator(".close-reason").inner_text()
    refused = as_the_page(page, "POST", f"api/v1/incidents/{incident['id']}/close", {})
    assert refused["status"] == 409 and "postmortem" in refused["body"]["error"], refused

    page.fill("#postmortem-rootCause", "logs were not rotated")
    page.fill("#postmortem-impact", "writes failed for ten minutes")
    page.fill("#postmortem-resolution", "rotated the logs")
    page.click(".add-follow-up")
    page.fill(".follow-up-row [name=follow-up-text]", "alert on inode use")
    page.fill(".follow-up-row [name=follow-up-owner]", "olga")
    page.click(".save-postmortem")
    page.wait_for_selector(".incident-actions button[data-action=close]:enabled")
    assert page.locator(".close-reason").inner_text() == ""
    close.click()
    page.locator(".incident-chips .incident-state-closed").wait_for()
    assert page.locator(".incident-actions").is_hidden(), "a closed incident takes no more actions"

    stored = console.api(f"api/v1/incidents/{incident['id']}")["incident"]
    assert stored["state"] == "closed" and stored["closedAt"]
    assert stored["postmortem"]["followUps"] == [{"text": "alert on inode use", "owner": "olga", "done": False}]
    export = page.locator(".postmortem-export").get_attribute("href")
    assert export == f"api/v1/incidents/{incident['id']}/postmortem.md"
    markdown = page.evaluate("async (path) => (await fetch(path)).text()", export)
    assert "logs were not rotated" in markdown and "alert on inode use" in markdown

    page.goto(console.url + "#/incidents")
    page.wait_for_selector("body[data-ready='incidents']")
    row = page.locator(f"#incident-list tr[data-incident='{incident['id']}']")
    assert row.count() == 0, "the default filter shows open incidents only"
    page.select_option("#incident-state", "closed")
    row.wait_for()


def test_a_viewer_sees_no_actions_on_the_operations_pages(page, console: Console):
    incident = open_incident(console, "Console viewer check")
    console.api("api/v1/maintenance", {"name": "console viewer window", "hosts": ["nowhere-01"],
                                       "starts_at": "2100-01-01T00:00:00Z", "ends_at": "2100-01-02T00:00:00Z"})
    log_in(page, console, "vic")
    page.goto(console.url + "#/incidents")
    page.locator(f"#incident-list tr[data-incident='{incident['id']}']").wait_for()
    assert page.locator("main button").count() == 0, "no New incident"

    page.goto(console.url + f"#/incidents/{incident['id']}")
    page.wait_for_selector("body[data-ready='incident']")
    assert page.locator("main button").count() == 0
    assert page.locator(".note-form").count() == 0
    assert page.locator("#postmortem-rootCause").get_attribute("readonly") is not None
    assert page.locator(".timeline-entry").count() >= 1, "the timeline is there to read"

    page.goto(console.url + "#/maintenance")
    page.locator("#maintenance-windows tr", has_text="console viewer window").wait_for()
    assert page.locator("main button").count() == 0 and page.locator("form.plan-window").count() == 0
    refused = as_the_page(page, "POST", f"api/v1/incidents/{incident['id']}/notes", {"text": "sneaky"})
    assert refused["status"] == 403, refused


def test_an_operator_plans_a_maintenance_window_sees_it_listed_and_ends_it(page, console: Console):
    log_in(page, console, "olga")
    page.goto(console.url + "#/maintenance")
    page.wait_for_selector("body[data-ready='maintenance']")
    form = page.locator("form.plan-window")
    form.locator("[name=name]").fill("console disk swap")
    form.locator("[type=submit]").click()
    wait_until(lambda: "hosts, groups or matchers" in form.locator(".plan-error").inner_text(), timeout=5,
               message="the hub's refusal of a window that covers nothing, in the form")

    form.locator("[name=hosts]").fill(SERVER)
    form.locator("[name=matchers]").fill('alertname="ConsoleDiskSwap", severity!="info"')
    form.locator("[name=duration]").fill("2h")
    form.locator("[name=comment]").fill("ticket 42")
    form.locator("[type=submit]").click()
    row = page.locator("#maintenance-windows tbody tr", has_text="console disk swap")
    row.wait_for()
    text = row.inner_text()
    assert "active" in text and SERVER in text and "ticket 42" in text and "olga" in text, text
    assert form.locator(".plan-error").inner_text() == ""
    planned = next(w for w in console.api("api/v1/maintenance")["windows"] if w["name"] == "console disk swap")
    assert planned["hosts"] == [SERVER] and planned["createdBy"] == "olga" and planned["source"] == "api"
    assert planned["matchers"] == ['alertname="ConsoleDiskSwap"', 'severity!="info"']
    page.evaluate("scrollTo(0, 0)")
    screenshot(page, "maintenance")

    row.locator("button[data-action=end]").click()
    wait_until(lambda: row.count() == 0, timeout=10, message="the ended window gone from the active ones")
    page.check("input[name=ended]")
    row.wait_for()
    assert "ended" in row.locator(".window-status").inner_text()
    assert row.locator("button").count() == 0, "an ended window cannot end again"


def test_the_slo_page_draws_a_card_with_its_budget_chart_and_members(page, console: Console):
    log_in(page, console, "vic")
    page.goto(console.url + "#/sla")
    card = page.locator(f".slo-card[data-slo='{SLO}']")
    card.locator(".plot canvas").first.wait_for()
    figures = card.locator(".slo-figures").inner_text()
    assert re.search(r"\d+\.\d{3}%", figures), figures
    assert card.locator(".budget-bar").count() == 1
    members = card.locator(".slo-members-table tbody tr")
    wait_until(lambda: members.count() == SIMULATED_HOSTS, timeout=20, message="a row per lab host")
    assert set(members.evaluate_all("rows => rows.map(r => r.dataset.member)")) == LAB_HOSTS
    csv = card.locator(".csv-link").get_attribute("href")
    assert csv == f"api/v1/sla/{SLO}/report?format=csv"
    answer = page.evaluate("async (path) => { const r = await fetch(path); return [r.status, await r.text()]; }", csv)
    assert answer[0] == 200 and answer[1].startswith("member,host,"), answer
    screenshot(page, "slos")

    today = console.api("api/v1/sla")["slos"][0]["label"]
    assert today in card.locator(".slo-period").inner_text()
    page.select_option("#sla-period", "previous")
    wait_until(lambda: "period=" in (card.locator(".csv-link").get_attribute("href") or ""), timeout=10,
               message="the card showing the period before")
    yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()  # the SLO is daily
    assert yesterday in card.locator(".slo-period").inner_text()
    assert card.locator(".csv-link").get_attribute("href") == f"api/v1/sla/{SLO}/report?period={yesterday}&format=csv"
    assert card.locator(".plot canvas").count() >= 1


# --- the pages' decisions ------------------------------------------------------------------------------------


class Actions(NamedTuple):
    state: str
    shown: list[str]
    close_blocked: str = "Resolve INC-7 before closing it."
    held: bool = False
    alerts: tuple[tuple[str, bool], ...] = ()  # (status, acknowledged) of each alert
    postmortem: tuple[str, ...] = ()  # the fields closing needs that are filled in


ALL_FILLED = ("rootCause", "impact", "resolution")
FOR_EVERY_OPEN_STATE = ["hold", "assign", "responders", "severity", "close"]
ACTIONS = [
    pytest.param(Actions("triggered", ["ack", "investigate", "resolve", *FOR_EVERY_OPEN_STATE]), id="triggered"),
    # Past triggered, acknowledging again takes only the alerts that joined since: none, no button.
    pytest.param(Actions("acknowledged", ["investigate", "resolve", *FOR_EVERY_OPEN_STATE], alerts=(("firing", True),)),
                 id="acknowledged-with-every-alert-acknowledged"),
    pytest.param(Actions("acknowledged", ["ack", "investigate", "resolve", *FOR_EVERY_OPEN_STATE],
                         alerts=(("firing", True), ("firing", False))), id="acknowledged-and-a-new-alert-joined"),
    # A resolved alert needs no acknowledgement.
    pytest.param(Actions("investigating", ["resolve", *FOR_EVERY_OPEN_STATE], alerts=(("resolved", False),)),
                 id="investigating"),
    pytest.param(Actions("resolved", ["reopen", *FOR_EVERY_OPEN_STATE],
                         "The postmortem needs root cause, impact and resolution before INC-7 may close."),
                 id="resolved-without-a-postmortem"),
    pytest.param(Actions("resolved", ["reopen", *FOR_EVERY_OPEN_STATE],
                         "The postmortem needs impact before INC-7 may close.", postmortem=("rootCause", "resolution")),
                 id="resolved-with-the-impact-missing"),
    pytest.param(Actions("resolved", ["reopen", *FOR_EVERY_OPEN_STATE], "", postmortem=ALL_FILLED),
                 id="resolved-with-the-postmortem-done"),
    # Held open: the button releases it.
    pytest.param(Actions("triggered", ["ack", "investigate", "resolve", "release", *FOR_EVERY_OPEN_STATE[1:]],
                         held=True), id="held-open"),
    # Closed is final: notes and the postmortem only.
    pytest.param(Actions("closed", [], "", postmortem=ALL_FILLED), id="closed"),
]


@needs_node
@pytest.mark.parametrize("case", ACTIONS)
def test_the_actions_an_incident_allows(case: Actions):
    incident = {"id": "INC-7", "state": case.state, "heldOpen": case.held,
                "alerts": [{"status": status, "acknowledged": acked} for status, acked in case.alerts],
                "postmortem": {key: "written" if key in case.postmortem else "" for key in ALL_FILLED}}
    [answer] = call("pages/incident_markup.js", [("incidentActions", [incident])])
    assert answer == {"shown": case.shown, "closeBlocked": case.close_blocked}


class Previous(NamedTuple):
    label: str
    previous: str | None


PERIODS = [
    pytest.param(Previous("2026-11", "2026-10"), id="month"),
    pytest.param(Previous("2026-01", "2025-12"), id="january"),
    pytest.param(Previous("2026-W47", "2026-W46"), id="week"),
    # ISO week 1 of 2026 begins on 2025-12-29; 2025 has 52 weeks, 2020 and 2026 have 53.
    pytest.param(Previous("2026-W01", "2025-W52"), id="first-week-after-a-52-week-year"),
    pytest.param(Previous("2021-W01", "2020-W53"), id="first-week-after-a-53-week-year"),
    pytest.param(Previous("2027-W01", "2026-W53"), id="first-week-of-2027"),
    pytest.param(Previous("2026-Q3", "2026-Q2"), id="quarter"),
    pytest.param(Previous("2026-Q1", "2025-Q4"), id="first-quarter"),
    pytest.param(Previous("2026", "2025"), id="year"),
    pytest.param(Previous("2026-11-30", "2026-11-29"), id="day"),
    pytest.param(Previous("2024-03-01", "2024-02-29"), id="after-a-leap-day"),
    pytest.param(Previous("2026-01-01", "2025-12-31"), id="new-years-day"),
    pytest.param(Previous("last month", None), id="no-period"),
]


@needs_node
@pytest.mark.parametrize("case", PERIODS)
def test_the_period_before_a_period(case: Previous):
    assert call("pages/sla.js", [("previousPeriod", [case.label])]) == [case.previous]


class Order(NamedTuple):
    members: list[tuple[str, float | None, float, float]]  # (member, availability, bad_s, unknown_s)
    worst_first: list[str]


ORDERS = [
    pytest.param(Order([("a", 1.0, 0, 0), ("b", 0.99, 60, 0), ("c", 0.999, 6, 0)], ["b", "c", "a"]),
                 id="lowest-availability-first"),
    pytest.param(Order([("a", 1.0, 0, 0), ("b", 1.0, 0, 30)], ["b", "a"]), id="then-the-most-unknown-time"),
    # No eligible time is no availability: not the worst, only unknown.
    pytest.param(Order([("a", None, 0, 0), ("b", 1.0, 0, 0)], ["b", "a"]), id="no-availability-last"),
]


@needs_node
@pytest.mark.parametrize("case", ORDERS)
def test_members_worst_first(case: Order):
    members = [{"member": member, "availability": availability, "bad_s": bad, "unknown_s": unknown}
               for member, availability, bad, unknown in case.members]
    [answer] = call("pages/sla.js", [("worstFirst", [members])])
    assert [m["member"] for m in answer] == case.worst_first


class Split(NamedTuple):
    function: str
    text: str
    parts: list[str]


SPLITS = [
    pytest.param(Split("splitNames", "web-01, web-02\ndb-01  db-02", ["web-01", "web-02", "db-01", "db-02"]),
                 id="names-by-commas-spaces-and-lines"),
    pytest.param(Split("splitNames", " \n, ", []), id="no-names"),
    # A comma inside a matcher's quotes is the value's.
    pytest.param(Split("splitMatcherLines", 'alertname="A,B", host="x"\nseverity!="info"',
                       ['alertname="A,B"', 'host="x"', 'severity!="info"']), id="matchers-by-commas-and-lines"),
]


@needs_node
@pytest.mark.parametrize("case", SPLITS)
def test_the_maintenance_forms_boxes_split(case: Split):
    assert call("pages/maintenance.js", [(case.function, [case.text])]) == [case.parts]
