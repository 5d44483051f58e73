"""Differential: one alert timeline posted to the real Alertmanager and to the hub, with the same config.

Both send webhooks to one HTTP sink (each under its own path). The notifications must agree: per receiver
and group key, the same sequence of (status, alert set with each alert's status). Events fall mid-way
between group ticks, so timing differences smaller than a group_interval cannot change a batch.
"""

import json
import time
import urllib.request

import pytest
import yaml

from fleetmon.protocol.alerts import fingerprint
from fleetmon.protocol.messages import rfc3339
from tests.hub.alerting.conftest import start_alertmanager
from tests.polling import wait_until

TOKEN = "differential-test-token-0123456789"
CONFIG = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 4s
  repeat_interval: 1h
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_by: [alertname, instance]
      continue: true
    - matchers: ['severity="page"']
      receiver: pager
inhibit_rules:
  - source_matchers: ['alertname="SiteDown"']
    target_matchers: ['alertname="HostDown"']
    equal: [site]
receivers:
  - name: hook
    webhook_configs: [{url: "SINK/hook"}]
  - name: db
    webhook_configs: [{url: "SINK/db", send_resolved: false}]
  - name: pager
    webhook_configs: [{url: "SINK/pager"}]
"""
RESOLUTIONS_NOT_SENT = {"db"}  # send_resolved: false
MARKER = ("hook", '{}:{alertname="Marker"}')


def config_for(sink, side: str) -> str:
    return CONFIG.replace("SINK", sink.url(f"/{side}"))


def alert(now: float, alertname: str, resolved: bool = False, **labels) -> dict:
    item = {"labels": {"alertname": alertname, **labels}, "startsAt": rfc3339(T[0]),
            "annotations": {"summary": f"{alertname} on {labels.get('instance', '?')}"}}
    if resolved:
        item["endsAt"] = rfc3339(now)
    return item


T = [0.0]


def post_hub(hub, alerts: list[dict]) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {TOKEN}"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def notifications(sink, side: str) -> dict[tuple[str, str], list]:
    """Per (receiver, group key): the sequence of (status, ((fingerprint, status), ...)) received."""
    out: dict[tuple[str, str], list] = {}
    for request in sink.requests:
        if not request.path.startswith(f"/{side}/"):
            continue
        body = request.json()
        assert body["version"] == "4"
        batch = tuple(sorted((a["fingerprint"], a["status"]) for a in body["alerts"]))
        out.setdefault((body["receiver"], body["groupKey"]), []).append((body["status"], batch))
    return out


def finished(sink, side: str) -> dict[tuple[str, str], list] | None:
    """The side's notifications once the timeline's last one is in: every group of a receiver told
    resolutions has been told it resolved (the timeline ends with everything resolved)."""
    seen = notifications(sink, side)
    done = seen and all(sequence[-1][0] == "resolved" for (receiver, _), sequence in seen.items()
                        if receiver not in RESOLUTIONS_NOT_SENT)
    return seen if done else None


def both_finished(sink) -> tuple[dict, dict] | None:
    ours, theirs = finished(sink, "hub"), finished(sink, "am")
    return (ours, theirs) if ours and theirs else None


@pytest.mark.timeout(120)
def test_a_timeline_notifies_the_same_as_alertmanager(tmp_path, start_hub, http_sink):
    manager = start_alertmanager(tmp_path / "am", config_for(http_sink, "am"))
    hub = start_hub({"alerting": yaml.safe_load(config_for(http_sink, "hub")), "api": {"token": TOKEN}})
    try:
        start = time.time()
        T[0] = start

        def send(alerts: list[dict]) -> None:
            manager.post_alerts(alerts)
            post_hub(hub, alerts)

        def at(offset: float, alerts: list[dict]) -> None:
            # The timeline's schedule, not a wait for an event: both sides run on the wall clock, so an
            # event is placed at its offset from the start, between two group ticks.
            time.sleep(max(0.0, start + offset - time.time()))
            send(alerts)

        now = time.time
        at(0, [alert(now(), "HostDown", site="north", instance="n1"),
               alert(now(), "Disk", team="db", instance="x"),
               alert(now(), "Disk", team="db", instance="y", severity="page")])
        at(3, [alert(now(), "SiteDown", site="north"),
               alert(now(), "HostDown", site="north", instance="n2"),
               alert(now(), "HostDown", site="south", instance="s1")])
        at(7, [alert(now(), "Disk", True, team="db", instance="x")])
        at(11, [alert(now(), "SiteDown", True, site="north")])
        at(15, [alert(now(), "HostDown", True, site="north", instance="n1"),
                alert(now(), "HostDown", True, site="north", instance="n2"),
                alert(now(), "HostDown", True, site="south", instance="s1"),
                alert(now(), "Disk", True, team="db", instance="y", severity="page")])
        wait_until(lambda: both_finished(http_sink), timeout=30, message="every group's resolution from both sides")
        # Nothing may follow those resolutions. That is proven by a later event: a Marker fired and resolved
        # now is told its resolution a whole group_interval after its first notification, after the next
        # tick of every other group.
        send([alert(now(), "Marker")])
        wait_until(lambda: all(MARKER in notifications(http_sink, side) for side in ("hub", "am")), timeout=10,
                   message="Marker's first notification from both sides")
        send([alert(now(), "Marker", True)])
        ours, theirs = wait_until(lambda: both_finished(http_sink), timeout=30,
                                  message="Marker's resolution from both sides")
    finally:
        manager.stop()
    assert ours == theirs
    # and the timeline did exercise what it was meant to
    hostdown = theirs[("hook", '{}:{alertname="HostDown"}')]
    n2 = fingerprint({"alertname": "HostDown", "site": "north", "instance": "n2"})
    assert all(n2 not in dict(batch) for _, batch in hostdown[:1])  # inhibited while SiteDown fired
    assert any(dict(batch).get(n2) == "firing" for _, batch in hostdown)  # and notified once it resolved
    assert hostdown[-1][0] == "resolved"
    assert ("db", '{}/{team="db"}:{alertname="Disk", instance="x"}') in theirs
    assert ("pager", '{}/{severity="page"}:{alertname="Disk"}') in theirs
