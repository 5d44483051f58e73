"""Alertmanager's API v2, served by the hub: status, receivers, alerts, alert groups and silences in the shapes of
Alertmanager's published OpenAPI document (api/v2/openapi.yaml), so that amtool, Karma, Grafana's Alertmanager
data source and the other Alertmanager clients read and silence the hub's alerts. ``POST /api/v2/alerts`` is
fleetmon.hub.alerting.api's.

Reads come from the dispatcher's read-only views and the alerting config in force; silences change through the
dispatcher's operations, as with the hub's own API. Who may do what is the access control's (reads a viewer,
silences an operator); Alertmanager's clients authenticate with a bearer token or HTTP basic auth.

As Alertmanager answers: alerts are those not resolved, sorted by fingerprint; groups are sorted by their labels,
then receiver; silences active first (soonest end first), then pending (soonest start), then expired (latest end);
receivers come with their labels (``name`` among them), while an alert's or a group's receiver is a reference, its
name only (Alertmanager's ``receiverReference``); ``receiver_matchers`` keeps the receivers, alerts (one of their
receivers) and groups (theirs) whose receiver's labels match; a refusal is a JSON string (what Alertmanager's
clients decode), with the status Alertmanager gives it. Where the hub has more than Alertmanager:
- an alert's ``mutedBy`` names the hub's own mutes (a maintenance window, flapping) when one of them is the
  first reason the alert is muted; ``inhibitedBy`` lists the firing alerts (fingerprints) that inhibit it;
- ``config.original`` is the alerting config with Alertmanager's keys only (fleetmon's additions left out) and
  every secret shown as ``<secret>``, so that amtool's ``config routes`` can read it.
"""

import functools
import platform
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon import __version__
from fleetmon.hub.alerting.alert import Alert, AlertError, parse_time, render_time
from fleetmon.hub.alerting.api_v2_filters import (
    BadRequest,
    alert_filter,
    filter_labels,
    filter_matchers,
    flag,
    receiver_filter,
    receiver_labelled,
    receiver_matchers,
)
from fleetmon.hub.alerting.config import AlertingConfig
from fleetmon.hub.alerting.groups import flush_order
from fleetmon.hub.alerting.inhibit import Inhibitor
from fleetmon.hub.alerting.matchers import Matcher, matches_all
from fleetmon.hub.alerting.shown_config import original_config
from fleetmon.hub.alerting.silences import Silence, SilenceError, SilenceNotFound, matchers_from_json
from fleetmon.hub.web.bodies import BadBody, asking, read_json

if TYPE_CHECKING:
    from fleetmon.hub.alerting.dispatch import Dispatcher

_SILENCE_ORDER = {"active": 0, "pending": 1, "expired": 2}


def alertmanager_routes(dispatcher: "Dispatcher", started: float | None = None) -> list[Route]:
    """The routes; ``started`` is what ``uptime`` answers (when the API came up unless given)."""
    started = time.time() if started is None else started

    async def status(request: Request) -> Response:
        return JSONResponse({
            "cluster": {"status": "disabled", "peers": []},
            "versionInfo": {"version": __version__, "revision": "", "branch": "", "buildUser": "", "buildDate": "",
                            "goVersion": f"python{platform.python_version()}"},
            "config": {"original": original_config(dispatcher.config)},
            "uptime": render_time(started)})

    async def receivers(request: Request) -> Response:
        try:
            labelled = receiver_matchers(request)
        except BadRequest as exc:
            return _refuse(400, str(exc))
        return JSONResponse([{"name": r.name, "labels": r.labels} for r in dispatcher.config.receivers.values()
                             if filter_labels(labelled, r.labels)])

    async def alerts(request: Request) -> Response:
        now = time.time()
        try:
            wanted = alert_filter(request)
            receiver = receiver_filter(request)
            labelled = receiver_matchers(request)
        except BadRequest as exc:
            return _refuse(400, str(exc))
        config = dispatcher.config
        shown = []
        for view, status in _statuses(dispatcher, now):
            names = [route.receiver for route in config.route.match(view["labels"]) if route.receiver]
            if receiver is not None and not any(receiver.matches({"receiver": name}) for name in names):
                continue
            if labelled and not any(receiver_labelled(config, name, labelled) for name in names):
                continue
            if wanted(view, status):
                shown.append(gettable_alert(view, status, names))
        shown.sort(key=lambda a: a["fingerprint"])
        return JSONResponse(shown)

    async def groups(request: Request) -> Response:
        now = time.time()
        try:
            wanted = alert_filter(request)
            receiver = receiver_filter(request)
            labelled = receiver_matchers(request)
        except BadRequest as exc:
            return _refuse(400, str(exc))
        config = dispatcher.config
        by_fingerprint = {view["fingerprint"]: (view, status) for view, status in _statuses(dispatcher, now)}
        found, receivers_of = [], {}
        for group in dispatcher.group_views(now):
            if receiver is not None and not receiver.matches({"receiver": group["receiver"]}):
                continue
            if labelled and not receiver_labelled(config, group["receiver"], labelled):
                continue
            members = [by_fingerprint[fp] for fp in group["alerts"] if fp in by_fingerprint]
            members = [(view, status) for view, status in members if wanted(view, status)]
            if not members:
                continue
            for view, _ in members:
                receivers_of.setdefault(view["fingerprint"], []).append(group["receiver"])
            members.sort(key=lambda member: flush_order(_labelled(member[0]["labels"])))
            found.append((group, members))
        found.sort(key=functools.cmp_to_key(_group_order))
        route_labels = dispatcher.route_labels(now) if found else {}
        return JSONResponse([{"labels": group["labels"], "routeLabels": route_labels.get(group["id"], {}),
                              "receiver": {"name": group["receiver"]},
                              "alerts": [gettable_alert(view, status, sorted(receivers_of[view["fingerprint"]]))
                                         for view, status in members]}
                             for group, members in found])

    async def silences(request: Request) -> Response:
        now = time.time()
        try:
            filters = filter_matchers(request)
            states = {state for state in _SILENCE_ORDER if flag(request, state, True)}
        except BadRequest as exc:
            return _refuse(400, str(exc))
        shown = [s for s in dispatcher.silence_views(now)
                 if s["status"]["state"] in states and _has_matchers(s["matchers"], filters)]
        shown.sort(key=_silence_order)
        return JSONResponse([gettable_silence(s) for s in shown])

    async def silence(request: Request) -> Response:
        found = _silence(dispatcher, request.path_params["id"], time.time())
        if found is None:
            return _refuse(404, f"silence {request.path_params['id']} not found")
        return JSONResponse(gettable_silence(found))

    async def post_silence(request: Request) -> Response:
        body = await read_json(request)
        try:
            if isinstance(body, BadBody):
                raise BadRequest(body.reason)
            silence = postable_silence(body, asking(request), time.time())
            stored = dispatcher.set_silence(silence)
        except SilenceNotFound as exc:
            return _refuse(404, str(exc))
        except (BadRequest, SilenceError) as exc:
            return _refuse(400, str(exc))
        return JSONResponse({"silenceID": stored.id})

    async def delete_silence(request: Request) -> Response:
        try:
            dispatcher.expire_silence(request.path_params["id"])
        except SilenceNotFound as exc:
            return _refuse(404, str(exc))
        except SilenceError:  # already expired: expiring is idempotent, as in Alertmanager
            pass
        return Response(status_code=200)

    return [
        Route("/api/v2/status", status, methods=["GET"]),
        Route("/api/v2/receivers", receivers, methods=["GET"]),
        Route("/api/v2/alerts", alerts, methods=["GET"]),
        Route("/api/v2/alerts/groups", groups, methods=["GET"]),
        Route("/api/v2/silences", silences, methods=["GET"]),
        Route("/api/v2/silences", post_silence, methods=["POST"]),
        Route("/api/v2/silence/{id}", silence, methods=["GET"]),
        Route("/api/v2/silence/{id}", delete_silence, methods=["DELETE"]),
    ]


def _refuse(status: int, reason: str) -> Response:
    return JSONResponse(reason, status_code=status)


# --- alerts ----------------------------------------------------------------------------------------------

def _statuses(dispatcher: "Dispatcher", now: float) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every alert not resolved at ``now`` (the dispatcher's view of it) with its Alertmanager status."""
    views = dispatcher.alert_views(now)
    firing = [v for v in views if v["status"] == "firing"]
    silences = [(s["id"], matchers_from_json(s["matchers"]))
                for s in dispatcher.silence_views(now) if s["status"]["state"] == "active"]
    inhibition = Inhibition(dispatcher.config, [(v["fingerprint"], v["labels"]) for v in firing], now)
    return [(view, alert_status(view, silences, inhibition)) for view in firing]


class Inhibition:
    """Which firing alerts inhibit a label set, by the rules of the config in force (fleetmon.hub.alerting.inhibit
    decides; asked one source at a time, for those that can be one)."""

    def __init__(self, config: AlertingConfig, firing: list[tuple[str, Mapping[str, str]]], now: float) -> None:
        inhibitor = Inhibitor(config.inhibit_rules)
        sources = [(fp, labels) for fp, labels in firing
                   if any(matches_all(rule.source, labels) for rule in config.inhibit_rules)]
        self._all = inhibitor.prepare([labels for _, labels in sources])
        self._each = [(fp, inhibitor.prepare([labels])) for fp, labels in sources]
        self._now = now

    def by(self, labels: Mapping[str, str]) -> list[str]:
        if not self._all.reason(labels, self._now):
            return []
        return sorted(fp for fp, view in self._each if view.reason(labels, self._now))


def alert_status(view: dict[str, Any], silences: Iterable[tuple[str, tuple[Matcher, ...]]],
                 inhibition: Inhibition) -> dict[str, Any]:
    """``state`` suppressed when anything mutes the alert, unprocessed when no group holds it yet, else active."""
    labels = view["labels"]
    silenced_by = [silence_id for silence_id, matchers in silences if matches_all(matchers, labels)]
    inhibited_by = inhibition.by(labels)
    reason = view["muted"]
    muted_by = [reason] if reason and not reason.startswith(("silenced by ", "inhibited by ")) else []
    state = "suppressed" if silenced_by or inhibited_by or muted_by else "active" if view["groups"] else "unprocessed"
    return {"state": state, "silencedBy": silenced_by, "inhibitedBy": inhibited_by, "mutedBy": muted_by}


def gettable_alert(view: dict[str, Any], status: dict[str, Any], receivers: list[str]) -> dict[str, Any]:
    return {"labels": view["labels"], "annotations": view["annotations"], "startsAt": view["startsAt"],
            "endsAt": view["endsAt"], "updatedAt": view["updatedAt"], "generatorURL": view["generatorURL"],
            "fingerprint": view["fingerprint"], "receivers": [{"name": name} for name in receivers],
            "status": status}


def _labelled(labels: Mapping[str, str]) -> Alert:
    """An alert with these labels, for orders that look at the labels only."""
    return Alert(labels, {}, 0.0, 0.0)


def label_set_before(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Prometheus' LabelSet.Before: fewer labels first; then, name by name, the set lacking a name is later, and
    values compare as strings."""
    if len(a) != len(b):
        return len(a) < len(b)
    for name in sorted([*a, *b], key=str.encode):
        if name not in a:
            return True
        if name not in b:
            return False
        if a[name] != b[name]:
            return a[name].encode() < b[name].encode()
    return False


def _group_order(x: tuple[dict[str, Any], list], y: tuple[dict[str, Any], list]) -> int:
    (a, _), (b, _) = x, y
    if a["labels"] == b["labels"]:
        return (a["receiver"] > b["receiver"]) - (a["receiver"] < b["receiver"])
    return -1 if label_set_before(a["labels"], b["labels"]) else 1


# --- silences --------------------------------------------------------------------------------------------

def _silence(dispatcher: "Dispatcher", silence_id: str, now: float) -> dict[str, Any] | None:
    return next((s for s in dispatcher.silence_views(now) if s["id"] == silence_id), None)


def _has_matchers(matchers: list[dict[str, Any]], filters: list[Matcher]) -> bool:
    """Alertmanager's silence filter: each filter matcher is one of the silence's (name, operator and value)."""
    own = set(matchers_from_json(matchers))
    return all(f in own for f in filters)


def _silence_order(view: dict[str, Any]) -> tuple:
    state = view["status"]["state"]
    starts, ends = parse_time(view["startsAt"], "startsAt") or 0.0, parse_time(view["endsAt"], "endsAt") or 0.0
    return _SILENCE_ORDER[state], {"active": ends, "pending": starts, "expired": -ends}[state]


def gettable_silence(view: dict[str, Any]) -> dict[str, Any]:
    return {"id": view["id"], "status": {"state": view["status"]["state"]}, "updatedAt": view["updatedAt"],
            "matchers": [{"name": m["name"], "value": m["value"], "isRegex": m["isRegex"], "isEqual": m["isEqual"]}
                         for m in view["matchers"]],
            "startsAt": view["startsAt"], "endsAt": view["endsAt"], "createdBy": view["createdBy"],
            "comment": view["comment"], "annotations": {}}


def postable_silence(body: Any, user: str, now: float) -> Silence:
    """A silence from Alertmanager's ``postableSilence``: an ``id`` updates that silence (or replaces it, as
    Alertmanager decides); ``createdBy`` empty is the user asking. Refused as Alertmanager refuses: a start not
    before the end, an end in the past."""
    if not isinstance(body, dict):
        raise BadRequest("expected a silence object {matchers, startsAt, endsAt, createdBy, comment}")
    for key in ("matchers", "startsAt", "endsAt", "createdBy", "comment"):
        if key not in body:
            raise BadRequest(f"{key} is required")
    for key in ("id", "createdBy", "comment", "startsAt", "endsAt"):
        if key in body and not isinstance(body[key], str):
            raise BadRequest(f"{key} must be a string")
    if body.get("annotations"):
        raise BadRequest("silence annotations are not supported")
    matchers = body["matchers"]
    if not isinstance(matchers, list) or not matchers:
        raise BadRequest("matchers must be a list of at least one {name, value, isRegex, isEqual}")
    for index, item in enumerate(matchers):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                or not isinstance(item.get("value"), str) or not isinstance(item.get("isRegex"), bool) \
                or not isinstance(item.get("isEqual", True), bool):
            raise BadRequest(f"matchers[{index}] must be {{name: string, value: string, isRegex: boolean, "
                             f"isEqual: boolean}}")
    try:
        starts, ends = parse_time(body["startsAt"], "startsAt"), parse_time(body["endsAt"], "endsAt")
    except AlertError as exc:
        raise BadRequest(str(exc)) from None
    if starts is None or ends is None:
        raise BadRequest("startsAt and endsAt must be set")
    if starts >= ends:
        raise BadRequest("Failed to create silence: start time must be before end time")
    if ends < now:
        raise BadRequest("Failed to create silence: end time can't be in the past")
    return Silence(id=body.get("id") or "", matchers=matchers_from_json(matchers), starts_at=starts, ends_at=ends,
                   created_by=body["createdBy"] or user, comment=body["comment"])
