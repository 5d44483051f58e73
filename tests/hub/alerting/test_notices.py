"""An incident's changes told to receivers (fleetmon.hub.alerting.notices): to whom, in which shape."""


import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.config import parse_alerting
from fleetmon.hub.alerting.notices import IncidentNotices
from fleetmon.hub.alerting.notification import AlertSnapshot
from fleetmon.hub.alerting.receivers.text import title
from tests.hub.alerting.test_dispatch import Recording

T0 = 1_800_000_000.0
INCIDENT = {"id": "INC-7", "title": "DiskFull (site=north)", "state": "triggered", "severity": "critical",
            "receiver": "ops", "groupKey": '{}:{alertname="DiskFull"}', "labels": {"alertname": "DiskFull"},
            "alerts": [{"fingerprint": "a1"}, {"fingerprint": "gone"}], "timeline": [{"kind": "opened"}]}


class Deliverer:
    def deliver(self, integration, notification, deadline, done, durable=None):
        integration.send(notification)
        done(True)


def notices(config_text: str):
    errors = Errors()
    config = parse_alerting(Node(yaml.safe_load(config_text), "", errors))
    assert not errors, list(errors)
    integrations = {}
    for name, receiver in config.receivers.items():
        receiver.integrations = [Recording(receiver=name, index=i, send_resolved=i == 0) for i in range(2)]
        integrations[name] = receiver.integrations
    held = {"a1": AlertSnapshot({"alertname": "DiskFull", "host": "db-1"}, {}, T0, None)}
    return IncidentNotices(lambda: config, Deliverer(), lambda fps: [held[f] for f in fps if f in held]), integrations


CONFIG = "route: {receiver: root}\nreceivers: [{name: root}, {name: ops}]\n"


def test_an_opened_incident_goes_to_every_integration_of_its_receiver_in_its_own_shape():
    sender, integrations = notices(CONFIG)
    sender.send(INCIDENT, "opened")
    assert [len(i.sent) for i in integrations["ops"]] == [1, 1] and not integrations["root"][0].sent
    notification = integrations["ops"][0].sent[0]
    payload = notification.webhook_payload()
    assert payload["kind"] == "incident" and payload["change"] == "opened" and payload["receiver"] == "ops"
    assert "timeline" not in payload["incident"] and payload["incident"]["id"] == "INC-7"
    assert [a["labels"]["host"] for a in payload["alerts"]] == ["db-1"], "only the alerts the hub still holds"
    assert title(notification) == "[INCIDENT INC-7 OPENED] DiskFull (site=north) (critical)"


def test_a_resolution_goes_only_where_resolved_notifications_go_and_a_hand_made_incident_to_the_root():
    sender, integrations = notices(CONFIG)
    sender.send({**INCIDENT, "state": "resolved"}, "resolved")
    assert [len(i.sent) for i in integrations["ops"]] == [1, 0]
    sender.send({**INCIDENT, "receiver": "", "groupKey": "", "alerts": []}, "opened")
    assert [len(i.sent) for i in integrations["root"]] == [1, 1]
    assert integrations["root"][0].sent[0].group_key == "incident/INC-7"
