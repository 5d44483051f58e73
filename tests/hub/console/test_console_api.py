"""The console's JSON reads through the hub's real app, called in-process over ASGI (tests/hub/standin.py), on
the hub's real parts: a fleet fed through the real Intake, its history written by the real store writer."""

import time
import urllib.parse
from typing import Any, NamedTuple

import pytest

from tests.hub.console.feed import CORE, CPU, FS, NET_RX, fed_hub
from tests.hub.standin import Answer, app_of

NOW = time.time()
T0 = float(int(NOW // 60) * 60 - 600)  # ten whole minutes ago
THRESHOLDS = [{"name": "disk", "metric": FS, "match": {"mount": "/"}, "direction": "above", "warning": 0.85,
               "critical": 0.95}]


def metrics(i: int, host: int) -> dict:
    """Sample ``i`` of host number ``host``: CPU ``host/10 + i/1000``; 1 MB/s more received per host."""
    return {CPU: host / 10 + i / 1000, FS: [[{"mount": "/"}, 0.5], [{"mount": "/data"}, 0.2]],
            CORE: [[{"core": "0"}, 0.1], [{"core": "1"}, 0.2]], NET_RX: [[{"interface": "eth0"}, 1e6 * host * 10 * i]],
            "app_requests_total": [[{"target": "web"}, 7]]}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    stand_in, fed = fed_hub(tmp_path_factory.mktemp("console-api"), {"srv-03": ["lab"]})
    for h, host in enumerate(("srv-01", "srv-02"), start=1):
        fed.birth(host, ["servers"], THRESHOLDS, ts=T0 - 1)
        for i in range(60):  # ten minutes at 10 s
            fed.sample(host, T0 + 10 * i, metrics(i, h))
    fed.check("srv-01", T0 + 5, "web", True)
    fed.check("srv-01", T0 + 65, "web", False, "503")
    fed.check("srv-01", T0 + 60, "ssh", True)
    fed.event("srv-01", T0 + 7, "config_reload", "reloaded")
    stand_in.parts.history.flush()
    yield stand_in
    stand_in.close()


class Client:
    """GET requests to the app, as a browser's page makes them."""

    def __init__(self, hub) -> None:
        self.asgi = app_of(hub)

    def get(self, path: str, params: Any = ()) -> Answer:
        path, _, query = path.partition("?")
        pairs = list(params.items()) if isinstance(params, dict) else list(params)
        encoded = "&".join(part for part in (query, urllib.parse.urlencode(pairs)) if part)
        return self.asgi.call("GET", path, encoded.encode(), token=None)


@pytest.fixture(scope="module")
def client(hub):
    return Client(hub)


def test_series_lists_every_stored_series_with_unit_section_and_the_birth_thresholds(client):
    body = client.get("/api/v1/hosts/srv-01/series").json()
    by_key = {(s["name"], tuple(sorted(s["labels"].items()))): s for s in body["series"]}
    assert len(by_key) == 7
    cpu = by_key[(CPU, ())]
    assert (cpu["unit"], cpu["section"]) == ("ratio", "system") and cpu["help"].startswith("CPU time")
    assert by_key[("app_requests_total", (("target", "web"),))]["section"] == "scraped"
    assert [(t["severity"], t["op"], t["value"], t["labels"]) for t in body["thresholds"]] == [
        ("warning", ">", 0.85, {"mount": "/"}), ("critical", ">", 0.95, {"mount": "/"})]


def test_query_range_reads_several_metrics_at_once_and_keeps_to_max_points(client):
    answer = client.get("/api/v1/query_range", params=[("host", "srv-02"), ("metric", CPU), ("metric", FS),
                                                       ("match", "mount=/data"), ("start", T0), ("end", T0 + 599),
                                                       ("max_points", 10)]).json()
    assert answer["tier"] == "raw" and (answer["start"], answer["end"]) == (T0, T0 + 599)
    # The matcher applies to every metric: CPU has no mount label, so only /data is left.
    assert [(s["name"], s["labels"]) for s in answer["series"]] == [(FS, {"mount": "/data"})]
    cpu = client.get("/api/v1/query_range", params={"host": "srv-02", "metric": CPU, "start": T0,
                                                    "end": T0 + 599, "max_points": 10}).json()["series"][0]
    points = cpu["points"]
    assert len(points) <= 10 and all(len(p) == 4 for p in points)
    assert points[0][1] == pytest.approx(0.2) and points[-1][3] == pytest.approx(0.259)  # min and max survive
    minutes = client.get("/api/v1/query_range", params={"host": "srv-02", "metric": CPU, "start": T0,
                                                        "end": T0 + 599, "tier": "1m"}).json()
    assert minutes["tier"] == "1m" and len(minutes["series"][0]["points"]) == 10


class Bad(NamedTuple):
    id: str
    path: str
    params: list[tuple[str, str]]
    names: str  # what the error message must name


BAD = [
    # Every bad parameter is a 400 that names it.
    Bad("no host", "/api/v1/query_range", [("metric", CPU)], "host"),
    Bad("no metric", "/api/v1/query_range", [("host", "srv-01")], "metric"),
    Bad("too many metrics", "/api/v1/query_range", [("host", "srv-01"), *[("metric", f"m{i}") for i in range(201)]],
        "metric"),
    Bad("start not a number", "/api/v1/query_range", [("host", "srv-01"), ("metric", CPU), ("start", "yesterday")],
        "start"),
    Bad("end past 2200", "/api/v1/query_range", [("host", "srv-01"), ("metric", CPU), ("end", "1e12")], "end"),
    Bad("end NaN", "/api/v1/query_range", [("host", "srv-01"), ("metric", CPU), ("end", "nan")], "end"),
    Bad("start after end", "/api/v1/query_range", [("host", "srv-01"), ("metric", CPU), ("start", "20"),
                                                   ("end", "10")], "start"),
    Bad("a match without =", "/api/v1/query_range", [("host", "srv-01"), ("metric", CPU), ("match", "mount")],
        "match"),
    Bad("max_points 1", "/api/v1/query_range", [("host", "srv-01"), ("metric", CPU), ("max_points", "1")],
        "max_points"),
    Bad("max_points not an integer", "/api/v1/query_range", [("host", "srv-01"), ("metric", CPU),
                                                             ("max_points", "1.5")], "max_points"),
    Bad("unknown tier", "/api/v1/query_range", [("host", "srv-01"), ("metric", CPU), ("tier", "5m")], "tier"),
    Bad("events start", "/api/v1/hosts/srv-01/events", [("start", "inf")], "start"),
    Bad("events limit", "/api/v1/hosts/srv-01/events", [("limit", "0")], "limit"),
    Bad("checks end", "/api/v1/hosts/srv-01/checks", [("end", "-1")], "end"),
    Bad("heatmap panel", "/api/v1/groups/servers/heatmap", [("panel", "fans")], "panel"),
    Bad("heatmap without a panel", "/api/v1/groups/servers/heatmap", [], "panel"),
    Bad("heatmap buckets", "/api/v1/groups/servers/heatmap", [("panel", "cpu"), ("buckets", "0")], "buckets"),
    Bad("heatmap of no time", "/api/v1/groups/servers/heatmap", [("panel", "cpu"), ("start", "5"), ("end", "5")],
        "start"),
    Bad("live with too many hosts", "/api/v1/live", [("host", f"h{i}") for i in range(101)], "host"),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.id)
def test_bad_parameters_are_refused_naming_them(client, case):
    answer = client.get(case.path, params=case.params)
    assert answer.status == 400, answer.body
    assert case.names in answer.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/hosts/nowhere/series", "/api/v1/hosts/nowhere/events",
                                  "/api/v1/hosts/nowhere/checks", "/api/v1/query_range?host=nowhere&metric=m",
                                  "/api/v1/groups/nowhere", "/api/v1/groups/nowhere/heatmap?panel=cpu"])
def test_unknown_hosts_and_groups_are_404(client, path):
    answer = client.get(path)
    assert answer.status == 404 and "nowhere" in answer.json()["error"]


def test_a_host_only_the_history_knows_still_has_its_series(hub, client):
    with hub.parts.lock:  # the host leaves the fleet; its history stays
        record = hub.parts.fleet.hosts.pop("srv-02")
    try:
        body = client.get("/api/v1/hosts/srv-02/series").json()
        assert body["series"] and body["thresholds"] == []
        assert client.get("/api/v1/hosts/srv-02/events").status == 200
    finally:
        with hub.parts.lock:
            hub.parts.fleet.hosts["srv-02"] = record


def test_events_and_state_changes_of_a_host(client):
    # the liveness change is dated when the hub took the birth: now
    body = client.get("/api/v1/hosts/srv-01/events", params={"start": T0 - 60, "end": time.time() + 60}).json()
    assert [(e["kind"], e["message"], e["details"]) for e in body["events"]] == [
        ("config_reload", "reloaded", {"n": 1})]
    assert [(c["from"], c["to"], c["reason"]) for c in body["state_changes"]] == [("missing", "online", "birth")]


def test_check_history_by_name(client):
    checks = client.get("/api/v1/hosts/srv-01/checks", params={"start": T0, "end": T0 + 600}).json()["checks"]
    assert {name: [(r["ok"], r["message"]) for r in results] for name, results in checks.items()} == {
        "web": [(True, ""), (False, "503")], "ssh": [(True, "")]}
    assert client.get("/api/v1/hosts/srv-01/checks", params={"start": T0, "end": T0 + 600, "limit": 1}).json() == {
        "checks": {"web": [{"ts": T0 + 65, "ok": False, "value": None, "message": "503"}]}}


def test_a_group_with_its_hosts_rollup_and_the_fleet_rules_patterns(hub, client):
    fleet = [{"labels": {"alertname": "LoadImbalance", "group": "servers", "severity": "warning"},
              "annotations": {"confidence": "0.75"}, "startsAt": NOW - 60},
             {"labels": {"alertname": "HostDown", "host": "srv-03", "severity": "critical"}, "startsAt": NOW - 60},
             {"labels": {"alertname": "HeartbeatDegraded", "host": "srv-01", "severity": "warning"},
              "annotations": {"confidence": "high"}, "startsAt": NOW - 30}]
    assert hub.dispatcher.put(fleet, source="fleet") == []
    hub.dispatcher.process(time.time())
    body = client.get("/api/v1/groups/servers").json()
    assert [h["host"] for h in body["hosts"]] == ["srv-01", "srv-02"]
    assert body["rollup"]["hosts"] == 2 and body["rollup"]["online"] == 2
    # The group's own patterns and those of its hosts; a confidence that is no number is none.
    assert sorted((p["labels"]["alertname"], p["confidence"]) for p in body["patterns"]) == [
        ("HeartbeatDegraded", None), ("LoadImbalance", 0.75)]
    assert [p["labels"]["alertname"] for p in client.get("/api/v1/groups/lab").json()["patterns"]] == ["HostDown"]


def test_a_heatmap_holds_one_row_per_host_and_a_value_per_bucket(client):
    body = client.get("/api/v1/groups/servers/heatmap", params={"panel": "cpu", "start": T0, "end": T0 + 600,
                                                               "buckets": 5}).json()
    assert (body["panel"], body["unit"], body["tier"]) == ("cpu", "ratio", "1m")  # 120 s buckets: minutes fit
    assert body["buckets"] == [T0 + 120 * i for i in range(5)]
    # srv-01's samples 0..11 fall in the first bucket: CPU 0.1 + i/1000, mean 0.1055.
    rows = {row["host"]: row["values"] for row in body["hosts"]}
    assert rows["srv-01"][0] == pytest.approx(0.1055) and rows["srv-02"][4] == pytest.approx(0.2 + 0.0535)
    network = client.get("/api/v1/groups/servers/heatmap", params={"panel": "network", "start": T0,
                                                                  "end": T0 + 600, "buckets": 5}).json()
    assert network["unit"] == "bytes_per_second"
    # A counter's rate from the last reading of the bucket before: srv-02 receives 20 MB per 10 s sample.
    rates = {row["host"]: row["values"] for row in network["hosts"]}
    assert rates["srv-02"][0] is None and rates["srv-02"][1:] == pytest.approx([2e6] * 4)
    lab = client.get("/api/v1/groups/lab/heatmap", params={"panel": "cpu", "buckets": 3}).json()
    assert lab["hosts"] == [{"host": "srv-03", "values": [None, None, None]}]  # in the inventory, never seen


def test_the_dashboard_sections_carry_their_trends(hub, client):
    empty = client.get("/api/v1/dashboard").json()
    assert all(set(section["trends"]) == set(section["panels"]) for section in empty["sections"])
    assert all(points == [] for section in empty["sections"] for points in section["trends"].values())
    hub.parts.sample_trends(time.time())  # what the rules loop does once a minute
    servers = next(s for s in client.get("/api/v1/dashboard").json()["sections"] if s["group"] == "servers")
    [(minute, mean, high)] = servers["trends"]["cpu"]
    assert minute == int(time.time() // 60) * 60
    assert (mean, high) == pytest.approx(((0.159 + 0.259) / 2, 0.259))  # the two hosts' last samples
