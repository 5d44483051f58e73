"""The alerting HTTP API: alerts, groups, acknowledgements, silences, history, statistics.

Described by openapi.yaml beside this module, which the hub serves at /api/v1/openapi.yaml.

Who may read and who may change what — posting alerts, acks, silences — is decided before a request gets
here (fleetmon.hub.auth.middleware); an ack's ``by`` and a silence's ``createdBy`` default to the user asking.

``POST /api/v2/alerts`` takes Alertmanager's API v2 alert list, so Prometheus or any Alertmanager client
can send to the hub directly (with ``resolve_timeout`` applied to alerts without an end); the rest of that API
(status, receivers, alerts, groups, silences) is fleetmon.hub.alerting.api_v2's.

No request can make an answer fail later: bodies are strict JSON (no NaN, no lone surrogate, at most
fleetmon.hub.limits.MAX_DEPTH levels deep), every time is range-checked where it is parsed, and a bad
item is a 400 naming its field before anything reaches the dispatcher.
"""

import time
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.alerting.alert import AlertError, parse_time
from fleetmon.hub.alerting.api_v2 import alertmanager_routes
from fleetmon.hub.alerting.matchers import MatcherError, matches_all, parse_matcher
from fleetmon.hub.alerting.silences import Silence, SilenceError, SilenceNotFound, matchers_from_json
from fleetmon.hub.alerting.views import ack_json
from fleetmon.hub.web.bodies import BadBody, asking, error, limit, read_json, since, text_field

if TYPE_CHECKING:
    from fleetmon.hub.alerting.dispatch import Dispatcher
    from fleetmon.hub.alerting.journal import AlertJournal

OPENAPI = Path(__file__).resolve().parent / "openapi.yaml"


def alerting_routes(dispatcher: "Dispatcher", journal: "AlertJournal") -> list[Route]:
    async def post_alerts(request: Request) -> Response:
        body = await read_json(request)
        if isinstance(body, BadBody):
            return error(400, body.reason)
        if not isinstance(body, list):
            return error(400, "expected a JSON list of alerts")
        errors = dispatcher.put(body, resolve_timeout=dispatcher.config.resolve_timeout)
        if errors:
            return error(400, "; ".join(errors))
        return JSONResponse({"accepted": len(body)})

    async def list_alerts(request: Request) -> Response:
        try:
            filters = [parse_matcher(text) for text in request.query_params.getlist("filter")]
        except MatcherError as exc:
            return error(400, str(exc))
        include_resolved = request.query_params.get("resolved", "false") == "true"
        views = [v for v in dispatcher.alert_views(time.time())
                 if matches_all(filters, v["labels"]) and (include_resolved or v["status"] == "firing")]
        views.sort(key=lambda v: (v["startsAt"], v["fingerprint"]))
        return JSONResponse({"alerts": views})

    async def list_groups(request: Request) -> Response:
        return JSONResponse({"groups": dispatcher.group_views(time.time())})

    async def post_ack(request: Request) -> Response:
        body = await read_json(request)
        if isinstance(body, BadBody):
            return error(400, body.reason)
        if not isinstance(body, dict) or not isinstance(body.get("target"), str):
            return error(400, "expected {target: alert fingerprint or group id, by, comment, expiresAt}")
        try:
            expires = parse_time(body.get("expiresAt"), "expiresAt")
        except AlertError as exc:
            return error(400, str(exc))
        if expires is not None and expires <= time.time():
            return error(400, "expiresAt is in the past")
        try:
            acks = dispatcher.acknowledge(body["target"], text_field(body, "by") or asking(request),
                                          text_field(body, "comment"), expires)
        except LookupError as exc:
            return error(404, str(exc.args[0]))
        return JSONResponse({"acks": [ack_json(a) for a in acks]})

    async def list_acks(request: Request) -> Response:
        return JSONResponse({"acks": dispatcher.ack_views()})

    async def list_silences(request: Request) -> Response:
        return JSONResponse({"silences": dispatcher.silence_views(time.time())})

    async def post_silence(request: Request) -> Response:
        body = await read_json(request)
        if isinstance(body, BadBody):
            return error(400, body.reason)
        if not isinstance(body, dict):
            return error(400, "expected a silence object")
        try:
            starts = parse_time(body.get("startsAt"), "startsAt") or time.time()
            ends = parse_time(body.get("endsAt"), "endsAt")
            if ends is None:
                raise SilenceError("endsAt is required")
            silence = Silence(id=text_field(body, "id"), matchers=matchers_from_json(body.get("matchers") or []),
                              starts_at=starts, ends_at=ends,
                              created_by=text_field(body, "createdBy") or asking(request),
                              comment=text_field(body, "comment"))
            stored = dispatcher.set_silence(silence)
        except SilenceNotFound as exc:
            return error(404, str(exc))
        except (SilenceError, AlertError) as exc:
            return error(400, str(exc))
        return JSONResponse({"id": stored.id, "silence": stored.to_json(time.time())})

    async def expire_silence(request: Request) -> Response:
        try:
            expired = dispatcher.expire_silence(request.path_params["id"])
        except SilenceNotFound as exc:
            return error(404, str(exc))
        except SilenceError as exc:
            return error(400, str(exc))
        return JSONResponse({"silence": expired.to_json(time.time())})

    async def history(request: Request) -> Response:
        return JSONResponse(journal.history(since(request), request.query_params.get("fingerprint", ""),
                                            limit(request)))

    async def notifications(request: Request) -> Response:
        return JSONResponse({"attempts": journal.attempts(since(request), limit(request))})

    async def stats(request: Request) -> Response:
        return JSONResponse(journal.stats(since(request)))

    async def openapi(request: Request) -> Response:
        return Response(OPENAPI.read_text(), media_type="application/yaml")

    return [
        Route("/api/v2/alerts", post_alerts, methods=["POST"]),
        Route("/api/v1/alerts", list_alerts, methods=["GET"]),
        Route("/api/v1/alerts/groups", list_groups, methods=["GET"]),
        Route("/api/v1/acks", list_acks, methods=["GET"]),
        Route("/api/v1/acks", post_ack, methods=["POST"]),
        Route("/api/v1/silences", list_silences, methods=["GET"]),
        Route("/api/v1/silences", post_silence, methods=["POST"]),
        Route("/api/v1/silences/{id}", expire_silence, methods=["DELETE"]),
        Route("/api/v1/alerting/history", history, methods=["GET"]),
        Route("/api/v1/alerting/notifications", notifications, methods=["GET"]),
        Route("/api/v1/alerting/stats", stats, methods=["GET"]),
        Route("/api/v1/openapi.yaml", openapi, methods=["GET"]),
        *alertmanager_routes(dispatcher),  # the rest of Alertmanager's API v2
    ]
