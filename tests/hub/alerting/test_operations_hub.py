"""Incidents and maintenance windows on the real hub, with a real agent over a real mosquitto, driven through
the operator commands (`fleetmon incident`, `fleetmon maintenance`) and watched at a webhook sink.

- A critical group opens an incident, a second alert joins it, acknowledge/assign/note land on the timeline
  in that order, the hub restarted mid-incident keeps all of it, the alerts resolving resolve it, and closing
  needs a postmortem; the receiver hears of each change.
- A host stopped inside its maintenance window does not page and its SLO loses nothing; still down when the
  window ends, it pages then.
"""

import subprocess
import sys
import time
import urllib.parse

from tests.conftest import AGENT_SRC
from tests.hub.alerting.test_alerting_hub import TOKEN, firing, marker, named, post, received, resolved
from tests.polling import wait_until


def hub_config(sink, **extra) -> dict:
    route = {"receiver": "team", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s",
             "repeat_interval": "1h", "incident": {"severity": "critical"}}
    return {"alerting": {"route": route, "receivers": [
        {"name": "team", "webhook_configs": [{"url": sink.url("/team"), "send_resolved": True}]}]},
        "api": {"token": TOKEN}, **extra}


def command(hub, *words: str) -> subprocess.CompletedProcess:
    """`fleetmon GROUP SUB ARGS...` against ``hub``, acting as "tester" with the admin token."""
    group, sub, *rest = words
    flags = ["--hub", f"http://127.0.0.1:{hub.port}", "--by", "tester", "--token", TOKEN]
    return subprocess.run([sys.executable, "-m", "fleetmon", group, sub, *flags, *rest], capture_output=True,
                          text=True, timeout=30, env={"PYTHONPATH": str(AGENT_SRC), "PATH": "/usr/bin:/bin"})


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def incidents(hub) -> list[dict]:
    return (hub.get("/api/v1/incidents") or {}).get("incidents", [])


def notices(sink) -> list[tuple[str, str]]:
    return [(b["incident"]["id"], b["change"]) for b in received(sink, "team") if b.get("kind") == "incident"]


def test_a_critical_group_opens_an_incident_that_lives_through_its_alerts_and_a_restart(
        start_hub, start_agent, http_sink):
    hub = start_hub(hub_config(http_sink))
    hub.token = TOKEN
    agent = start_agent({"thresholds": {"memory": {"critical": "1%"}}})
    [opened] = wait_until(lambda: incidents(hub), timeout=30, message="an incident opened by the route")
    assert opened["state"] == "triggered" and opened["severity"] == "critical"
    assert opened["labels"] == {"alertname": "HostMemoryHigh"} and opened["openedBy"] == "route"
    incident = opened["id"]

    # a second alert of the same group joins it; a warning of the group does not qualify
    assert post(hub, [firing("HostMemoryHigh", host="other-host", severity="critical"),
                      firing("HostMemoryHigh", host="third-host", severity="warning")]) == 200
    wait_until(lambda: len(hub.get(f"/api/v1/incidents/{incident}")["incident"]["alerts"]) == 2, timeout=20,
               message="the second alert joining")

    ok(command(hub, "incident", "ack", incident, "--comment", "looking"))
    ok(command(hub, "incident", "assign", incident, "ana"))
    ok(command(hub, "incident", "note", incident, "the swap is full on both"))
    hub.stop()
    hub.start()  # mid-incident: everything must still be there
    shown = hub.get(f"/api/v1/incidents/{incident}")["incident"]
    assert (shown["state"], shown["assignee"], len(shown["alerts"])) == ("acknowledged", "ana", 2)
    kinds = [entry["kind"] + (":" + entry["details"]["to"] if entry["kind"] == "state_changed" else "")
             for entry in shown["timeline"]]
    assert kinds.index("opened") < kinds.index("state_changed:acknowledged") < kinds.index("assignee_changed") \
        < kinds.index("note"), kinds
    assert kinds.count("alert_joined") == 2
    assert [e["text"] for e in shown["timeline"] if e["kind"] == "note"] == ["the swap is full on both"]
    assert "ana" in ok(command(hub, "incident", "list"))
    assert "the swap is full on both" in ok(command(hub, "incident", "show", incident))

    # both alerts resolve: the incident resolves by itself; closing needs a postmortem
    agent.write_config({**agent.config, "thresholds": {"memory": {"critical": "99.9%"}}})
    agent.signal(1)
    assert post(hub, [resolved("HostMemoryHigh", host="other-host", severity="critical")]) == 200
    wait_until(lambda: hub.get(f"/api/v1/incidents/{incident}")["incident"]["state"] == "resolved", timeout=30,
               message="the incident resolved with its alerts")
    refused = command(hub, "incident", "close", incident)
    assert refused.returncode == 1 and "409" in refused.stderr and "postmortem" in refused.stderr
    ok(command(hub, "incident", "postmortem", incident, "--root-cause", "a leaking test", "--impact", "swap full",
               "--resolution", "restarted", "--follow-up", "alert on swap", "--owner", "ana"))
    ok(command(hub, "incident", "close", incident))
    closed = hub.get(f"/api/v1/incidents/{incident}")["incident"]
    assert closed["state"] == "closed" and closed["postmortem"]["rootCause"] == "a leaking test"
    markdown = ok(command(hub, "incident", "postmortem", incident))
    assert "a leaking test" in markdown and "- [ ] alert on swap" in markdown

    wait_until(lambda: [c for i, c in notices(http_sink) if i == incident] ==
               ["opened", "acknowledged", "resolved", "closed"], timeout=20, message="the receiver told of each change")


def test_a_host_stopped_in_its_maintenance_window_pages_only_if_still_down_when_it_ends(
        start_hub, start_agent, http_sink):
    slo = {"name": "test-host-up", "scope": {"hosts": ["test-host"]}, "good": {"host_up": True}, "target": 99.0,
           "period": "monthly"}
    hub = start_hub(hub_config(http_sink, slos=[slo]))
    hub.token = TOKEN
    agent = start_agent({})
    wait_until(lambda: (hub.host("test-host") or {}).get("state") == "online", timeout=30, message="agent online")
    wait_until(lambda: hub.get("/api/v1/sla/test-host-up/report")["good_s"] > 0, timeout=20,
               message="the host a member of its SLO (samples in the ledger)")
    window = ok(command(hub, "maintenance", "add", "reboot", "--host", "test-host", "--duration", "12s",
                        "--comment", "kernel update")).strip()
    [listed] = hub.get("/api/v1/maintenance")["windows"]
    assert (listed["id"], listed["status"], listed["createdBy"]) == (window, "active", "tester")
    started = time.time()
    agent.stop(kill=True)  # the broker sends its will: down, by the book
    muted = wait_until(lambda: [a for a in hub.get("/api/v1/alerts")["alerts"]
                                if a["labels"]["alertname"] == "HostDown"], timeout=10, message="HostDown raised")
    assert muted[0]["muted"] == "in maintenance window reboot"
    marker(hub, http_sink)  # notified after every decision the hub made before it: HostDown was not paged
    assert named(http_sink, "team", "HostDown") == []

    ends = started + 12
    [paged] = wait_until(lambda: named(http_sink, "team", "HostDown"), timeout=30, message="HostDown after the window")
    assert time.time() >= ends - 1, "not before the window ended"
    assert paged["alerts"][0]["labels"]["host"] == "test-host"

    # the SLO: the window's time is excluded, none of it bad; after it, the host is down for real
    query = urllib.parse.urlencode({"start": started, "end": started + 11})
    report = hub.get(f"/api/v1/sla/test-host-up/report?{query}", ok_only=False)
    assert isinstance(report, dict), report
    [member] = report["members"]
    assert member["bad_s"] == 0 and member["excluded_s"] >= 10, member

    def bad_since_the_end() -> float:
        later = urllib.parse.urlencode({"start": ends + 1, "end": max(ends + 1, time.time())})
        return hub.get(f"/api/v1/sla/test-host-up/report?{later}")["members"][0]["bad_s"]

    wait_until(bad_since_the_end, timeout=10, message="down time counted once the window is over")
