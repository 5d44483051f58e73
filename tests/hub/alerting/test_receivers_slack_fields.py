"""slack_configs' ``message_text``, ``fields``, ``short_fields`` and ``actions``: the exact JSON a Slack stand-in
receives, their templates, the config errors with their key paths (each checked against Alertmanager 0.25's
amtool), and the JSON the real Alertmanager 0.25 sends for the same fields and actions.
"""

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.receivers import DeliveryError
from tests.hub.alerting.test_receivers import alert, batch, config_errors, integration, send
from tests.hub.alerting.test_receivers_slack_api import TOKEN, SlackStandIn

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


@pytest.fixture
def slack(make_http_sink) -> SlackStandIn:
    return SlackStandIn(make_http_sink())


ACK = {"type": "button", "text": "Acknowledge", "name": "ack", "value": "{{ .GroupLabels.alertname }}",
       "style": "danger", "confirm": {"title": "Acknowledge {{ len .Alerts }} alerts?", "text": "Sure?",
                                      "ok_text": "Yes", "dismiss_text": "{{ .CommonLabels.nothing }}"}}


# --- the JSON ---------------------------------------------------------------------------------------------

def test_message_text_fields_and_actions_are_alertmanagers_json(slack):
    entry = {"app_token": TOKEN, "app_url": slack.url(), "channel": "#ops", "short_fields": True,
             "message_text": "{{ .CommonLabels.env }}: {{ len .Alerts.Firing }} firing",
             "fields": [{"title": "Hosts", "value": "{{ range .Alerts }}{{ .Labels.host }} {{ end }}"},
                        {"title": "Runbook", "value": "{{ .CommonAnnotations.runbook }}", "short": False},
                        {"title": "{{ .CommonLabels.nothing }}", "value": "{{ .Status }}"}],
             "actions": [{"type": "button", "text": "Open {{ .GroupLabels.alertname }}", "style": "primary",
                          "url": "{{ .ExternalURL }}/#/alerts"}, ACK]}
    send(integration("slack", entry), batch(alert("a"), alert("b")))
    (request,) = slack.sink.wait()
    subject = "[FIRING:2] HighCPU (prod)"
    link = "http://hub.example:9180/#/alerts?receiver=team%5C.ops"
    expected = {
        "channel": "#ops", "username": "Alertmanager",
        "text": "prod: 2 firing",  # message_text: the message's own text, beside the attachment
        "attachments": [{
            "title": subject, "title_link": link, "text": "", "fallback": f"{subject} | {link}", "callback_id": "",
            "fields": [{"title": "Hosts", "value": "a b ", "short": True},  # short: short_fields
                       {"title": "Runbook", "short": False},  # its own short; the value rendered empty: left out
                       {"value": "firing", "short": True}],  # so is a title that renders empty
            "actions": [{"type": "button", "text": "Open HighCPU", "url": "http://hub.example:9180/#/alerts",
                         "style": "primary"},
                        {"type": "button", "text": "Acknowledge", "style": "danger", "name": "ack", "value": "HighCPU",
                         "confirm": {"text": "Sure?", "title": "Acknowledge 2 alerts?", "ok_text": "Yes"}}],
            "footer": "", "color": "danger", "mrkdwn_in": ["fallback", "pretext", "text"]}]}
    # key order too: json.loads keeps it, and it is Alertmanager's struct order
    assert json.dumps(request.json()) == json.dumps(expected)
    assert slack.calls == [("chat.postMessage", "C0OPS", "1700000001.000100")]


def test_a_link_button_drops_name_value_and_confirm_and_message_text_may_render_empty(http_sink):
    entry = {"api_url": http_sink.url("/services/T0/B0/x"), "message_text": "{{ .CommonLabels.nothing }}",
             "fields": [{"title": "Env", "value": "{{ .CommonLabels.env }}"}],  # no short_fields: long
             "actions": [{"type": "button", "text": "Dashboard", "url": "https://grafana.example/d/cpu",
                          "name": "dropped", "value": "dropped", "confirm": {"text": "dropped"}},
                         {"type": "select", "text": "Pick", "name": "{{ .CommonLabels.nothing }}",
                          "confirm": {"text": "{{ .CommonLabels.nothing }}"}}]}
    send(integration("slack", entry), batch(alert("a")))
    message = http_sink.wait()[0].json()
    assert "text" not in message  # the top-level text is there only when message_text renders something
    attachment = message["attachments"][0]
    assert attachment["fields"] == [{"title": "Env", "value": "prod", "short": False}]
    # Alertmanager clears name, value and confirm of an action with a url when it loads the config; an
    # action's texts that render empty are left out, and its confirmation stays, though empty
    assert attachment["actions"] == [{"type": "button", "text": "Dashboard", "url": "https://grafana.example/d/cpu"},
                                     {"type": "select", "text": "Pick", "confirm": {}}]


def test_update_message_keeps_message_text_fields_and_actions_in_its_edit(slack):
    entry = {"app_token": TOKEN, "app_url": slack.url(), "channel": "#ops", "update_message": True,
             "send_resolved": True, "message_text": "{{ .Status }}",
             "fields": [{"title": "Firing", "value": "{{ len .Alerts.Firing }}", "short": True}], "actions": [ACK]}
    slack_entry = integration("slack", entry)
    firing = batch(alert("a"))
    send(slack_entry, firing)
    resolved = firing.with_alerts([alert("a", resolved=True)])  # the group's next notification: its data shared
    send(slack_entry, resolved)
    post, edit = (request.json() for request in slack.sink.wait(2))
    assert [call[0] for call in slack.calls] == ["chat.postMessage", "chat.update"]
    assert (post["text"], edit["text"]) == ("firing", "resolved")
    assert list(edit) == ["channel", "ts", "username", "text", "attachments"]
    assert edit["attachments"][0]["fields"] == [{"title": "Firing", "value": "0", "short": True}]
    assert edit["attachments"][0]["actions"] == post["attachments"][0]["actions"]


@pytest.mark.parametrize(("entry", "failed"), [
    ({"fields": [{"title": "t", "value": "{{ index .Alerts 5 }}"}]}, "fields[0].value"),
    ({"actions": [{"type": "button", "text": "t", "name": "n", "confirm": {"text": '{{ template "nope" . }}'}}]},
     "actions[0].confirm.text"),
    ({"message_text": "{{ .Nope }}"}, "message_text"),
], ids=["field", "confirmation", "message_text"])
def test_a_text_that_fails_to_render_fails_the_attempt_for_good_naming_its_key(http_sink, entry, failed):
    with pytest.raises(DeliveryError) as caught:
        send(integration("slack", {"api_url": http_sink.url(), **entry}), batch(alert("a")))
    assert str(caught.value).startswith(f"template of {failed} failed: ") and not caught.value.retryable
    assert http_sink.requests == []  # nothing half-rendered went out


# --- config errors, beside amtool -------------------------------------------------------------------------

class ConfigCase(NamedTuple):
    name: str
    why: str
    entry: dict  # the keys beside an api_url
    errors: list[str]  # ours, each after "receivers[0].slack_configs[0]."
    alertmanager: str | None  # what amtool check-config (Alertmanager 0.25) says refusing it; None: it accepts it


BUTTON = {"type": "button", "text": "Go"}
CONFIG_CASES = [
    ConfigCase("field without title", "a field needs a title", {"fields": [{"value": "v"}]},
               ["fields[0].title: required: a field needs a title and a value"],
               "missing title in Slack field configuration"),
    ConfigCase("field with an empty value", "the text as written is checked, empty counts as missing",
               {"fields": [{"title": "t", "value": ""}]},
               ["fields[0].value: required: a field needs a title and a value"],
               "missing value in Slack field configuration"),
    ConfigCase("short not a boolean", "short is true or false", {"fields": [{"title": "t", "value": "v",
                                                                             "short": "maybe"}]},
               ["fields[0].short: must be true or false"], "cannot unmarshal"),
    ConfigCase("unknown field key", "a field has title, value and short only",
               {"fields": [{"title": "t", "value": "v", "color": "red"}]},
               ["fields[0].color: unknown key (expected one of: short, title, value)"], "field color not found"),
    ConfigCase("action without type", "an action needs a type", {"actions": [{"text": "Go", "url": "https://x/"}]},
               ["actions[0].type: required: the action's type (button)"], "missing type in Slack action"),
    ConfigCase("action without text", "an action needs a text", {"actions": [{"type": "button", "name": "n"}]},
               ["actions[0].text: required: the button's label"], "missing text in Slack action"),
    ConfigCase("action without url or name", "a value alone names nothing to call",
               {"actions": [{**BUTTON, "value": "v"}]},
               ["actions[0]: needs url (a link button) or name (a button for the Slack app's interactive endpoint)"],
               "missing name or url in Slack action"),
    ConfigCase("confirmation without text beside a url", "Alertmanager reads the confirmation before it drops it",
               {"actions": [{**BUTTON, "url": "https://x/", "confirm": {"title": "t"}}]},
               ["actions[0].confirm.text: required: the question the confirmation asks"],
               "missing text in Slack confirmation"),
    ConfigCase("unknown confirmation key", "a confirmation has title, text, ok_text and dismiss_text",
               {"actions": [{**BUTTON, "name": "n", "confirm": {"text": "t", "cancel": "c"}}]},
               ["actions[0].confirm.cancel: unknown key (expected one of: dismiss_text, ok_text, text, title)"],
               "field cancel not found"),
    ConfigCase("name without value", "a name alone is enough", {"actions": [{**BUTTON, "name": "n"}]}, [], None),
    ConfigCase("url with name and value", "a url wins; the rest is dropped",
               {"actions": [{**BUTTON, "url": "https://x/", "name": "n", "value": "v"}]}, [], None),
    ConfigCase("short_fields", "the default for every field", {"short_fields": True, "fields": [
        {"title": "t", "value": "v"}, {"title": "t", "value": "v", "short": False}]}, [], None),
    ConfigCase("template that does not parse", "the hub parses templates when the config loads; Alertmanager "
               "only when it renders", {"fields": [{"title": "{{ .Status ", "value": "v"}]},
               ["fields[0].title: template does not parse: line 1, column 1: unclosed action"], None),
]


def amtool_check(tmp_path: Path, entry: dict) -> subprocess.CompletedProcess:
    if not Path(AMTOOL).exists():
        pytest.fail("amtool is not installed: run `make deps`")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump({"route": {"receiver": "a"}, "receivers": [
        {"name": "a", "slack_configs": [{"api_url": "http://127.0.0.1:9/slack", **entry}]}]}))
    return subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.name for c in CONFIG_CASES])
def test_config_errors_name_their_key_and_agree_with_alertmanager(tmp_path, case):
    doc = {"receivers": [{"name": "a", "slack_configs": [{"api_url": "http://127.0.0.1:9/slack", **case.entry}]}]}
    if case.errors:
        assert config_errors(doc) == [f"receivers[0].slack_configs[0].{error}" for error in case.errors], case.why
    else:
        assert integration("slack", doc["receivers"][0]["slack_configs"][0]) is not None
    checked = amtool_check(tmp_path, case.entry)
    assert (checked.returncode == 0) is (case.alertmanager is None), checked.stdout + checked.stderr
    if case.alertmanager is not None:
        assert case.alertmanager in checked.stdout + checked.stderr, case.why


def test_message_text_is_newer_than_debians_alertmanager(tmp_path):
    """message_text came with Alertmanager 0.31: 0.25 does not know the key (docs/alerting.md says so)."""
    checked = amtool_check(tmp_path, {"message_text": "hello"})
    assert checked.returncode == 1 and "field message_text not found" in checked.stdout


# --- beside the real Alertmanager -------------------------------------------------------------------------

def test_fields_and_actions_are_what_alertmanager_sends(alertmanager, http_sink):
    """One group through Alertmanager 0.25 (its webhook beside its Slack message gives the alerts it rendered) and
    the same alerts through the hub's Slack: the two messages are the same JSON, keys and order included."""
    slack_entry = {"short_fields": True, "color": '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}',
                   "fields": [{"title": "Hosts ({{ len .Alerts }})", "value": "{{ range .Alerts }}"
                               "{{ .Labels.host }}: {{ .Annotations.summary }}\n{{ end }}"},
                              {"title": "Empty", "value": "{{ .CommonLabels.nothing }}", "short": False}],
                   "actions": [{"type": "button", "text": "Runbook <{{ .GroupLabels.alertname }}>",
                                "url": "https://runbooks.example/{{ .GroupLabels.alertname }}?a=1&b=2",
                                "name": "dropped"}, ACK]}
    alertmanager.restart(yaml.safe_dump({
        "route": {"receiver": "team.ops", "group_by": ["alertname"], "group_wait": "1s"},  # both alerts in one
        "receivers": [{"name": "team.ops",
                       "webhook_configs": [{"url": http_sink.url("/alertmanager-hook")}],
                       "slack_configs": [{"api_url": http_sink.url("/alertmanager-slack"), **slack_entry}]}]}))
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 300))
    alertmanager.post_alerts([{"labels": {"alertname": "HighCPU", "host": host, "env": "prod"},
                               "annotations": {"summary": f"CPU hot on {host} & <more>"}, "startsAt": start,
                               "generatorURL": f"http://hub/{host}"} for host in ("a", "b")])
    (hook,) = (request.json() for request in http_sink.wait(1, path="/alertmanager-hook", timeout=20))
    (theirs,) = (request.json() for request in http_sink.wait(1, path="/alertmanager-slack", timeout=20))
    assert len(hook["alerts"]) == 2  # both in the one notification the Slack message rendered

    alerts = [AlertSnapshot(a["labels"], a["annotations"], _unix(a["startsAt"]), None, a["generatorURL"])
              for a in hook["alerts"]]
    ours_entry = integration("slack", {"api_url": http_sink.url("/fleetmon"), **slack_entry})
    send(ours_entry, Notification("team.ops", hook["groupKey"], hook["groupLabels"], alerts,
                                  external_url=alertmanager.url))
    (ours,) = (request.json() for request in http_sink.wait(1, path="/fleetmon"))
    assert json.dumps(ours) == json.dumps(theirs)
    assert [a["text"] for a in ours["attachments"][0]["actions"]] == ["Runbook <HighCPU>", "Acknowledge"]


def _unix(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
