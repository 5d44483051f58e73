"""Route labels (Alertmanager 0.34) end to end: rendered per aggregation group at each flush into the
notification (webhook payload, template data), and against a group's alerts in the API v2 groups."""

import asyncio
import json
import time

from starlette.requests import Request

from fleetmon.hub.alerting.api_v2 import alertmanager_routes
from fleetmon.hub.alerting.templates import from_notification
from tests.hub.alerting.test_dispatch import Harness

CONFIG = """
route:
  receiver: team
  group_by: [alertname, service]
  group_wait: 30s
  group_interval: 5m
  labels:
    team: platform
    owner: '{{ routeLabels "team" }}/{{ .GroupLabels.service }}'
  routes:
    - matchers: ['service="db"']
      labels:
        team: storage
        count: '{{ len .Alerts }} {{ .Receiver }} {{ .NotificationReason }}'
        raw: '{{ .RouteLabels.owner }}'
receivers: [{name: team}]
"""


def test_labels_are_rendered_per_group_into_the_webhook_payload_and_template_data():
    h = Harness(CONFIG)
    h.fire(alertname="Down", service="db", instance="a")
    h.fire(alertname="Down", service="db", instance="b")
    h.fire(alertname="Down", service="web", instance="c")
    h.at(31)
    by_service = {n.group_labels["service"]: n for n in h.integrations["team"].sent}
    assert sorted(by_service) == ["db", "web"]
    db = by_service["db"].webhook_payload()
    # the child's team wins, and owner (inherited) sees the child's value through routeLabels
    assert db["routeLabels"] == {"count": "2 team unknown", "owner": "storage/db",
                                 "raw": '{{ routeLabels "team" }}/{{ .GroupLabels.service }}', "team": "storage"}
    assert list(db).index("routeLabels") == list(db).index("commonAnnotations") + 1
    assert by_service["web"].webhook_payload()["routeLabels"] == {"owner": "platform/web", "team": "platform"}
    # notification templates see the rendered values, verbatim
    data = from_notification(by_service["db"])
    rendered = h.dispatcher.config.templates.render_text(
        '{{ .RouteLabels.owner }}|{{ routeLabels "owner" }}|{{ .RouteLabels.SortedPairs.Names }}', data)
    assert rendered == "storage/db|storage/db|[count owner raw team]"


def test_labels_follow_the_batch_each_flush_and_a_failing_label_is_left_out():
    h = Harness(CONFIG.replace("raw: '{{ .RouteLabels.owner }}'", "broken: '{{ index .Alerts 5 }}'"))
    h.fire(alertname="Down", service="db", instance="a")
    h.at(31)
    h.fire(alertname="Down", service="db", instance="b")
    h.at(331)  # the group's next tick: 30 s + 5 m
    first, second = h.integrations["team"].sent
    assert first.route_labels["count"] == "1 team unknown" and second.route_labels["count"] == "2 team unknown"
    assert "broken" not in second.route_labels and second.route_labels["team"] == "storage"


def test_a_route_without_labels_sends_no_route_labels():
    h = Harness(CONFIG.replace("  labels:\n    team: platform\n    owner: '{{ routeLabels \"team\" }}/"
                               "{{ .GroupLabels.service }}'\n", "").replace("service=\"db\"", "service=\"none\""))
    h.fire(alertname="Down", service="db")
    h.at(31)
    (sent,) = h.integrations["team"].sent
    assert sent.route_labels == {} and "routeLabels" not in sent.webhook_payload()


def groups_answer(dispatcher) -> list:
    endpoint = next(r.endpoint for r in alertmanager_routes(dispatcher) if r.path == "/api/v2/alerts/groups")
    request = Request({"type": "http", "method": "GET", "path": "/api/v2/alerts/groups", "query_string": b"",
                       "headers": []})
    return json.loads(asyncio.run(endpoint(request)).body)


def test_the_api_groups_show_labels_rendered_against_all_the_groups_alerts():
    h = Harness(CONFIG)
    h.clock.now = time.time()  # the API reads the wall clock
    h.fire(alertname="Down", service="db", instance="a")
    h.fire(alertname="Down", service="db", instance="b")
    h.fire(alertname="Down", service="web", instance="c")
    h.dispatcher.process(h.clock.now)
    answer = {group["labels"]["service"]: group for group in groups_answer(h.dispatcher)}
    assert answer["db"]["routeLabels"] == {"count": "2 team unknown", "owner": "storage/db",
                                           "raw": '{{ routeLabels "team" }}/{{ .GroupLabels.service }}',
                                           "team": "storage"}
    assert answer["web"]["routeLabels"] == {"owner": "platform/web", "team": "platform"}
