"""Differential, randomised: seeded alert timelines run against the real Alertmanager and the hub at once.

Each seed makes one timeline: its own routing subtree (under a route matching ``tl="s<seed>"``: children
with and without ``continue``, ``group_by`` inherited, listed, ``'...'`` or ``[]``, group_wait 1 or 3 s,
group_interval 2 or 4 s, short repeat intervals), its receivers (webhooks, with or without
``send_resolved``), its inhibit rules, a pool of alerts that fire (with an explicit end, or none: then
``resolve_timeout``), are kept alive, resolve explicitly or time out, and silences made and expired mid-way
through each side's own API (Alertmanager's ``/api/v2/silences``, the hub's ``/api/v1/silences``). All the
timelines run side by side, kept apart by their ``tl`` label, against one Alertmanager and one hub with the
same config; every notification goes to one HTTP sink (each side under its own path), and per receiver and
group key the two sequences of (status, alerts with their statuses) must be equal.

Never flaky, by construction: everything the timeline does falls on a 2 s grid — pushes, silence changes,
explicit ends, timeouts (resolve_timeout is a whole number of grid steps) — and every group tick falls
mid-way between two grid points (a group starts at a grid point, waits an odd number of seconds and ticks
every 2 or 4 s; repeat intervals are odd too, so a repeat is decided a second away from a tick). The hub's
group cleanup (every 30 s from its dispatcher's start) is measured, and Alertmanager is reloaded just as it
ticks (a reload starts a new dispatcher, with a new cleanup ticker), so both cleanups tick together; the
grid is laid so that they fall half a second from the ticks and from the pushes. Scheduling jitter below
half a second therefore cannot change a batch, nor which side of a cleanup an event falls on. A failure
prints, per disagreeing seed, its timeline and both sides' notifications with their arrival times.

Where the two versions differ the timelines stay on common ground: Debian's Alertmanager is 0.25, where
``group_by: []`` still inherits the parent's grouping (the hub follows 0.31+, "group by nothing"), so a
timeline uses ``[]`` only where the parent groups by nothing. The hub's own additions are off (flap
detection) or unused (acknowledgements, escalation).
"""

import json
import random
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import pytest
import yaml

from fleetmon.protocol.alerts import fingerprint
from fleetmon.protocol.messages import rfc3339
from tests.hub.alerting.conftest import start_alertmanager
from tests.polling import wait_until

SEEDS = range(1, 13)  # twelve timelines side by side
STEP = 2.0  # seconds between the grid points where the timelines act
STEPS = 28  # grid points with random events; then everything resolves, then the marker
RESOLVE_TIMEOUT = 6  # seconds, a whole number of steps
CLEANUP_PHASE = 1.5  # where the group cleanups fall in a step: its ticks are at 1.0, pushes at 0 and 2
TOKEN = "differential-random-token-0123456789"

LABELS = {"instance": ["a", "b", "c"], "site": ["north", "south"], "severity": ["page", "warn"],
          "team": ["db", "web"]}
ALERTNAMES = ["Disk", "Cpu", "HostDown", "SiteDown"]
ROUTE_MATCHERS = ['team="db"', 'severity="page"', 'alertname=~"Disk|Cpu"', 'site!="north"', 'instance="a"']
GROUP_BY_LISTS = [["alertname"], ["instance"], ["alertname", "instance"], ["site"], ["alertname", "site"]]
SILENCE_MATCHERS = [("alertname", "Disk", False, True), ("alertname", "HostDown", False, True),
                    ("instance", "a|b", True, True), ("severity", "warn", False, True), ("site", "north", False, True),
                    ("team", "db", False, False)]
INHIBIT_SOURCES = [['severity="page"'], ['alertname="SiteDown"'], ['alertname=~"SiteDown|Cpu"']]
INHIBIT_TARGETS = [['severity="warn"'], ['alertname="HostDown"'], ['alertname=~"Disk|HostDown"']]


# --- the timelines ----------------------------------------------------------------------------------------

@dataclass
class Event:
    """One action at a grid point: alerts posted (times as offsets from the start), a silence made, or one
    expired; ``key`` names a silence within its timeline."""

    kind: str  # "alerts", "silence", "expire"
    alerts: list[dict] = field(default_factory=list)
    key: str = ""
    matchers: list[dict] = field(default_factory=list)
    starts: float = 0.0
    ends: float = 0.0

    def describe(self) -> str:
        if self.kind == "alerts":
            parts = []
            for a in self.alerts:
                labels = ",".join(f"{k}={v}" for k, v in sorted(a["labels"].items()) if k != "tl")
                times = f"start {a['startsAt']:g}" + (f" end {a['endsAt']:g}" if "endsAt" in a else "")
                parts.append(f"{{{labels}}} {times}")
            return "post " + "; ".join(parts)
        if self.kind == "silence":
            matchers = ",".join(f"{m['name']}{'=' if m['isEqual'] else '!'}{'~' if m['isRegex'] else ''}"
                                f"{m['value']!r}" for m in self.matchers)
            return f"silence {self.key} {{{matchers}}} from {self.starts:g} to {self.ends:g}"
        return f"expire silence {self.key}"


@dataclass
class Timeline:
    seed: int
    name: str
    route: dict
    receivers: list[tuple[str, bool]]  # (name, send_resolved)
    inhibit_rules: list[dict]
    events: dict[int, list[Event]]  # by grid point

    def describe(self) -> str:
        lines = [f"seed {self.seed} (label tl={self.name!r})", "route:",
                 yaml.safe_dump(self.route, sort_keys=False).rstrip(),
                 f"receivers (name, send_resolved): {self.receivers}",
                 f"inhibit_rules: {json.dumps(self.inhibit_rules)}", "events (seconds from the start):"]
        for point in sorted(self.events):
            lines += [f"  {point * STEP:5.0f}  {event.describe()}" for event in self.events[point]]
        return "\n".join(lines)


class Grouping:
    """A route's effective grouping, to know where ``[]`` means the same in Alertmanager 0.25 and 0.31+."""

    def __init__(self, labels: frozenset[str] = frozenset(), every: bool = False) -> None:
        self.labels, self.every = labels, every

    def is_nothing(self) -> bool:
        return not self.every and not self.labels


def make_route(rng: random.Random, name: str, matchers: list[str], parent: Grouping, depth: int,
               receivers: list[tuple[str, bool]]) -> dict:
    receiver = f"{name}-r{len(receivers)}"
    receivers.append((receiver, rng.random() < 0.7))
    route: dict = {"matchers": matchers, "receiver": receiver}
    choices = ["list", "all"] + (["none"] if parent.is_nothing() else []) + (["inherit"] * 2 if depth else [])
    kind = rng.choice(choices)
    grouping = parent
    if kind == "list":
        route["group_by"] = list(rng.choice(GROUP_BY_LISTS))
        grouping = Grouping(frozenset(route["group_by"]))
    elif kind == "all":
        route["group_by"] = ["..."]
        grouping = Grouping(parent.labels, every=True)
    elif kind == "none":
        route["group_by"] = []
        grouping = Grouping()
    if depth == 0 or rng.random() < 0.3:
        route["group_wait"] = rng.choice(["1s", "3s"])
    if depth == 0 or rng.random() < 0.3:
        route["group_interval"] = rng.choice(["2s", "4s"])
    if depth == 0 or rng.random() < 0.3:
        route["repeat_interval"] = rng.choice(["5s", "7s", "9s", "1h"])
    if depth:
        route["continue"] = rng.random() < 0.4
    children = rng.randint(1, 3) if depth == 0 else (1 if depth == 1 and rng.random() < 0.3 else 0)
    if children:
        route["routes"] = [make_route(rng, name, [m], grouping, depth + 1, receivers)
                           for m in rng.sample(ROUTE_MATCHERS, children)]
    return route


def make_timeline(seed: int) -> Timeline:
    rng = random.Random(seed)
    name = f"s{seed}"
    receivers: list[tuple[str, bool]] = []
    route = make_route(rng, name, [f'tl="{name}"'], Grouping(), 0, receivers)
    inhibit_rules = [{"source_matchers": [f'tl="{name}"', *rng.choice(INHIBIT_SOURCES)],
                      "target_matchers": [f'tl="{name}"', *rng.choice(INHIBIT_TARGETS)],
                      "equal": sorted(rng.sample(["site", "instance"], rng.randint(0, 2)))}
                     for _ in range(rng.randint(0, 2))]
    pool: list[dict] = []
    while len(pool) < rng.randint(5, 8):
        labels = {"alertname": rng.choice(ALERTNAMES), "tl": name}
        labels.update({k: rng.choice(v) for k, v in LABELS.items() if rng.random() < 0.6})
        if labels not in pool:
            pool.append(labels)
    events: dict[int, list[Event]] = {}
    start: dict[int, float] = {}  # per alert (index): the start of its current episode
    end: dict[int, float] = {}  # ... and when it resolves, as both sides know it
    timeout: dict[int, bool] = {}

    def post(point: int, item: dict) -> None:
        batch = events.setdefault(point, [])
        if not batch or batch[-1].kind != "alerts":
            batch.append(Event("alerts"))
        batch[-1].alerts.append(item)

    for point in range(STEPS + 1):
        now = point * STEP
        for i, labels in enumerate(pool):
            if end.get(i) == now:  # it resolves at this very instant: leave it alone
                continue
            firing = i in end and end[i] > now
            r = rng.random()
            if point == STEPS:  # the end: everything still firing resolves now
                if firing:
                    post(point, {"labels": labels, "startsAt": start[i], "endsAt": now})
                    end[i] = now
            elif not firing and r < 0.22:
                start[i], timeout[i] = now, rng.random() < 0.5
                if timeout[i]:
                    end[i] = now + RESOLVE_TIMEOUT
                    post(point, {"labels": labels, "startsAt": now})
                else:
                    end[i] = now + STEP * rng.randint(1, 8)
                    post(point, {"labels": labels, "startsAt": now, "endsAt": end[i]})
            elif firing and r < 0.12:
                post(point, {"labels": labels, "startsAt": start[i], "endsAt": now})
                end[i] = now
            elif firing and timeout[i] and r < 0.55:  # kept alive, as Prometheus re-sends
                post(point, {"labels": labels, "startsAt": start[i]})
                end[i] = now + RESOLVE_TIMEOUT
    for number in range(rng.randint(0, 2)):
        made = rng.randint(1, STEPS - 4)
        starts = made + rng.choice([0, 0, 1, 2])
        ends = starts + rng.randint(2, 8)
        name_, value, regex, equal = rng.choice(SILENCE_MATCHERS)
        matchers = [{"name": "tl", "value": name, "isRegex": False, "isEqual": True},
                    {"name": name_, "value": value, "isRegex": regex, "isEqual": equal}]
        key = f"q{number}"
        events.setdefault(made, []).insert(0, Event("silence", key=key, matchers=matchers, starts=starts * STEP,
                                                    ends=ends * STEP))
        expire_at = [p for p in range(made + 1, min(ends, STEPS + 1)) if p != starts]
        if expire_at and rng.random() < 0.5:
            events.setdefault(rng.choice(expire_at), []).insert(0, Event("expire", key=key))
    return Timeline(seed, name, route, receivers, inhibit_rules, events)


TIMELINES = [make_timeline(seed) for seed in SEEDS]


def config_for(sink, side: str) -> dict:
    """One config for every timeline; ``side`` ("am", "hub") names the sink's path for that side."""
    return {
        "global": {"resolve_timeout": f"{RESOLVE_TIMEOUT}s"},
        "route": {"receiver": "fallback", "group_wait": "1s", "group_interval": "1h",  # groups by nothing
                  "routes": [{"matchers": ['tl="calibrate"'], "receiver": "fallback", "group_wait": "0s",
                              "group_interval": "1s"},
                             {"matchers": ['tl="end"'], "receiver": "marker", "group_wait": "3s"},
                             *(t.route for t in TIMELINES)]},
        "receivers": [{"name": "fallback"},
                      {"name": "marker", "webhook_configs": [{"url": sink.url(f"/{side}/marker")}]},
                      *({"name": name, "webhook_configs": [{"url": sink.url(f"/{side}/{name}"),
                                                            "send_resolved": send_resolved}]}
                        for t in TIMELINES for name, send_resolved in t.receivers)],
        "inhibit_rules": [rule for t in TIMELINES for rule in t.inhibit_rules],
    }


# --- the two sides ----------------------------------------------------------------------------------------

def call(url: str, method: str, body=None, token: str = ""):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = response.read()
    return json.loads(answer) if answer.strip() else None


class Side:
    """What one side is sent: alerts, and silences through its own API (ids kept per timeline and key)."""

    def __init__(self, name: str, alerts_url: str, silences_url: str, expire_url: str, token: str = "") -> None:
        self.name, self.alerts_url, self.silences_url, self.expire_url = name, alerts_url, silences_url, expire_url
        self.token = token
        self.silence_ids: dict[tuple[str, str], str] = {}
        self.errors: list[str] = []

    def act(self, start: float, actions: list[tuple[Timeline, Event]]) -> None:
        alerts = []
        try:
            for timeline, event in actions:
                if event.kind == "silence":
                    body = {"matchers": event.matchers, "startsAt": rfc3339(start + event.starts),
                            "endsAt": rfc3339(start + event.ends), "createdBy": "differential",
                            "comment": f"seed {timeline.seed}"}
                    answer = call(self.silences_url, "POST", body, self.token)
                    self.silence_ids[(timeline.name, event.key)] = answer.get("silenceID") or answer["id"]
                elif event.kind == "expire":
                    silence_id = self.silence_ids[(timeline.name, event.key)]
                    call(self.expire_url.format(id=silence_id), "DELETE", token=self.token)
                else:
                    alerts += [render(item, start) for item in event.alerts]
            if alerts:
                call(self.alerts_url, "POST", alerts, self.token)
        except OSError as exc:
            self.errors.append(f"{self.name}: {exc}")


def render(item: dict, start: float) -> dict:
    alert = {"labels": item["labels"], "startsAt": rfc3339(start + item["startsAt"])}
    if "endsAt" in item:
        alert["endsAt"] = rfc3339(start + item["endsAt"])
    return alert


def notifications(sink, side: str) -> dict[tuple[str, str], list]:
    """Per (receiver, group key): the sequence of (status, ((fingerprint, status), ...)) received."""
    out: dict[tuple[str, str], list] = {}
    for request in list(sink.requests):
        if not request.path.startswith(f"/{side}/"):
            continue
        body = request.json()
        batch = tuple(sorted((a["fingerprint"], a["status"]) for a in body["alerts"]))
        out.setdefault((body["receiver"], body["groupKey"]), []).append((body["status"], batch))
    return out


def arrivals(sink, side: str, start: float, timeline: Timeline) -> list[str]:
    """The side's notifications of one timeline, in order of arrival, for a failure message."""
    names = {fingerprint(a["labels"]): ",".join(f"{k}={v}" for k, v in sorted(a["labels"].items()) if k != "tl")
             for events in timeline.events.values() for e in events for a in e.alerts}
    lines = []
    for request in list(sink.requests):
        if not request.path.startswith(f"/{side}/{timeline.name}-"):
            continue
        body = request.json()
        alerts = "; ".join(f"{names.get(a['fingerprint'], a['fingerprint'])} {a['status']}" for a in body["alerts"])
        lines.append(f"  {request.at - start:6.2f}  {body['receiver']} {body['groupKey']} {body['status']}: {alerts}")
    return lines


def cleanup_moment(read_groups, post) -> float:
    """When the side's group cleanup ticks: fire an alert (its group cannot go while it fires), resolve it
    (the group flushes within a second and is left empty), then watch the side's group count until the
    cleanup drops the group; the moment lies between the last look that still saw it and the first that
    did not."""
    now = time.time()
    labels = {"alertname": "Calibrate", "tl": "calibrate"}
    post([{"labels": labels, "startsAt": rfc3339(now)}])
    wait_until(lambda: (read_groups() or 0) >= 1, timeout=10, message="the calibration group")
    post([{"labels": labels, "startsAt": rfc3339(now), "endsAt": rfc3339(time.time())}])
    looks: list[tuple[float, float]] = []

    def dropped() -> bool:
        before = time.time()
        count = read_groups()
        looks.append((before, time.time()))
        return count == 0

    wait_until(dropped, timeout=40, interval=0.01, message="the group cleanup dropping the calibration group")
    return (looks[-2][1] + looks[-1][0]) / 2 if len(looks) > 1 else looks[-1][0]


@pytest.mark.timeout(300)
def test_random_timelines_notify_the_same_as_alertmanager(tmp_path, start_hub, http_sink):
    manager = start_alertmanager(tmp_path / "am", yaml.safe_dump(config_for(http_sink, "am")))
    hub = start_hub({"alerting": {**config_for(http_sink, "hub"), "flapping": {"enabled": False}},
                     "api": {"token": TOKEN}})
    hub_url = f"http://127.0.0.1:{hub.port}"
    sides = [Side("am", f"{manager.url}/api/v2/alerts", f"{manager.url}/api/v2/silences",
                  manager.url + "/api/v2/silence/{id}"),
             Side("hub", f"{hub_url}/api/v2/alerts", f"{hub_url}/api/v1/silences",
                  hub_url + "/api/v1/silences/{id}", TOKEN)]
    try:
        # Put both cleanups on one 30 s grid: measure the hub's, and reload Alertmanager just as it ticks.
        hub_cleanup = cleanup_moment(lambda: hub.metric("fleetmon_hub_alert_groups"),
                                     lambda alerts: call(sides[1].alerts_url, "POST", alerts, TOKEN))
        reload_sent = time.time()
        manager.reload()
        am_cleanup = (reload_sent + time.time()) / 2
        assert am_cleanup - hub_cleanup < 0.2, "Alertmanager's reload came too late to align the cleanups"
        cleanup = (hub_cleanup + am_cleanup) / 2
        start = cleanup - CLEANUP_PHASE  # a cleanup falls CLEANUP_PHASE after a grid point
        start += STEP * max(0, -((start - time.time() - 1.0) // STEP))
        lateness = []
        for point in range(STEPS + 2):
            actions = [(t, e) for t in TIMELINES for e in t.events.get(point, [])]
            if point == STEPS + 1:  # after the end: the marker, notified after every timeline's last tick
                marker = {"labels": {"alertname": "Marker", "tl": "end"}, "startsAt": point * STEP}
                actions = [(TIMELINES[0], Event("alerts", alerts=[marker]))]
            # The timeline's schedule, not a wait for an event: both sides run on the wall clock.
            time.sleep(max(0.0, start + point * STEP - time.time()))
            lateness.append(time.time() - start - point * STEP)
            workers = [threading.Thread(target=side.act, args=(start, actions)) for side in sides]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        assert not sides[0].errors + sides[1].errors, sides[0].errors + sides[1].errors
        wait_until(lambda: all(("marker", '{}/{tl="end"}:{}') in notifications(http_sink, side)
                               for side in ("am", "hub")), timeout=20, message="the marker from both sides")
        theirs, ours = notifications(http_sink, "am"), notifications(http_sink, "hub")
    finally:
        manager.stop()
    failures = []
    for timeline in TIMELINES:
        prefix = f"{timeline.name}-"
        am = {k: v for k, v in theirs.items() if k[0].startswith(prefix)}
        mine = {k: v for k, v in ours.items() if k[0].startswith(prefix)}
        if am != mine:
            differing = sorted(k for k in am.keys() | mine.keys() if am.get(k) != mine.get(k))
            failures.append("\n".join([
                f"=== seed {timeline.seed} disagrees on {differing}", timeline.describe(),
                "Alertmanager's notifications (seconds from the start):",
                *arrivals(http_sink, "am", start, timeline),
                "the hub's notifications:", *arrivals(http_sink, "hub", start, timeline)]))
    if failures:
        troubles = [line for line in manager.log.splitlines() if "level=error" in line or "level=warn" in line]
        troubles += [line for line in hub.log.splitlines() if "failed" in line]
        pytest.fail(f"{len(failures)} of {len(TIMELINES)} timelines disagree. Group cleanups measured at "
                    f"{hub_cleanup - start:.3f} s (hub) and {am_cleanup - start:.3f} s (Alertmanager) from the "
                    f"start, modulo 30 s; the timeline's actions were at most {max(lateness):.3f} s late. "
                    f"Delivery troubles: {troubles or 'none'}\n\n" + "\n\n".join(failures), pytrace=False)
    # and the timelines exercised what they were meant to
    statuses = [status for key, sequence in theirs.items() for status, _ in sequence]
    assert statuses.count("resolved") >= len(TIMELINES) and statuses.count("firing") >= 3 * len(TIMELINES)
    assert all(any(k[0].startswith(f"{t.name}-") for k in theirs) for t in TIMELINES)
