"""PagerDuty's ``images`` and ``links``: the same templates sent by a real Alertmanager (Debian's 0.25) and by the
hub give the same ``images`` and ``links`` of the event, an image whose src renders empty and a link whose href
does left out by both; and their keys are checked as Alertmanager's (an unknown one is an error naming it)."""

import time

import yaml

from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from tests.hub.alerting.test_receivers import config_errors, integration, send

PAGERDUTY = {
    "routing_key": "R0UT1NG",
    "images": [{"src": "https://grafana/render/{{ .CommonLabels.host }}.png", "alt": "{{ .Status }} graph",
                "href": "https://grafana/d/{{ .GroupLabels.alertname }}"},
               {"src": "{{ .CommonLabels.nothing }}", "alt": "left out: its src renders empty"},
               {"src": "https://static/logo.png"}],
    "links": [{"href": "https://runbooks/{{ .GroupLabels.alertname }}", "text": "runbook for {{ len .Alerts }}"},
              {"text": "left out: no href"},
              {"href": "https://hub/alerts"}],
}


def test_images_and_links_are_what_a_real_alertmanager_sends(alertmanager, http_sink):
    alertmanager.restart(yaml.safe_dump({
        "route": {"receiver": "team.ops", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s"},
        "receivers": [{"name": "team.ops",
                       "pagerduty_configs": [{**PAGERDUTY, "url": http_sink.url("/alertmanager")}]}]}))
    start = time.time() - 300
    alertmanager.post_alerts([{"labels": {"alertname": "HighCPU", "host": "a"},
                               "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))}])
    (theirs,) = [r.json() for r in http_sink.wait(1, path="/alertmanager", timeout=20)]

    pagerduty = integration("pagerduty", {**PAGERDUTY, "url": http_sink.url("/fleetmon")})
    send(pagerduty, Notification("team.ops", theirs["dedup_key"], {"alertname": "HighCPU"},
                                 [AlertSnapshot({"alertname": "HighCPU", "host": "a"}, {}, start, None, "")]))
    (ours,) = [r.json() for r in http_sink.wait(1, path="/fleetmon")]
    assert theirs["images"] == [{"src": "https://grafana/render/a.png", "alt": "firing graph",
                                 "href": "https://grafana/d/HighCPU"},
                                {"src": "https://static/logo.png", "alt": "", "href": ""}]
    assert theirs["links"] == [{"href": "https://runbooks/HighCPU", "text": "runbook for 1"},
                               {"href": "https://hub/alerts", "text": ""}]
    assert (ours["images"], ours["links"]) == (theirs["images"], theirs["links"])
    assert list(ours)[-2:] == ["images", "links"] == list(theirs)[-2:]


def test_without_images_or_links_the_event_has_neither(http_sink):
    pagerduty = integration("pagerduty", {"routing_key": "k", "url": http_sink.url(),
                                          "images": [{"src": ""}], "links": []})
    send(pagerduty, Notification("team.ops", "{}:{}", {}, [AlertSnapshot({"alertname": "A"}, {}, time.time(), None,
                                                                         "")]))
    event = http_sink.wait()[0].json()
    assert "images" not in event and "links" not in event


def test_their_keys_are_alertmanagers():
    errors = config_errors({"receivers": [{"name": "r", "pagerduty_configs": [
        {"routing_key": "k", "images": [{"src": "x", "title": "t"}], "links": ["https://x"]}]}]})
    assert [e.split(" (expected")[0] for e in errors] == [
        "receivers[0].pagerduty_configs[0].images[0].title: unknown key",
        "receivers[0].pagerduty_configs[0].links[0]: must be a mapping"]
