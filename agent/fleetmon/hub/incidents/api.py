"""The incidents HTTP API: list and open incidents, read one, act on it, write and export its postmortem, and
the statistics. Described in the hub's OpenAPI document (paths under /api/v1/incidents).

Who may read and who may change is decided before a request gets here (fleetmon.hub.auth.policy: a GET
needs a viewer, any change an operator); ``by`` defaults to the user asking.

Bodies are strict: JSON read by fleetmon.hub.web.bodies.read_json, an object holding only the fields the
action takes, each of its type, so a misspelt field is a 400 naming it rather than a change that silently
did less. An action without fields may have an empty body. The book's refusals map onto statuses:
IncidentNotFound 404, IncidentConflict 409 (closing without a postmortem, changing a closed incident, a
move the state does not allow), any other IncidentError 400.
"""

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.incidents.lifecycle import STATES
from fleetmon.hub.incidents.model import IncidentConflict, IncidentError, IncidentNotFound, postmortem_from_json
from fleetmon.hub.web.bodies import BadBody, asking, error, limit, read_json, since, text_field

if TYPE_CHECKING:
    from fleetmon.hub.incidents.book import IncidentBook

#: What an action on one incident does with its body: (the fields it takes besides ``by``, the call).
Action = tuple[tuple[str, ...], Callable[[str, dict, str], dict]]
POSTMORTEM_FIELDS = ("summary", "rootCause", "impact", "resolution", "followUps")


def incident_routes(book: "IncidentBook") -> list[Route]:
    actions: dict[str, Action] = {
        "ack": (("comment",), lambda i, body, by: book.acknowledge(i, by=by, comment=_text(body, "comment"))),
        "investigate": (("comment",), lambda i, body, by: book.investigate(i, by=by, comment=_text(body, "comment"))),
        "assign": (("assignee",), lambda i, body, by: book.assign(i, _text(body, "assignee", present=True), by=by)),
        "responders": (("responders",), lambda i, body, by: _each(
            lambda name: book.add_responder(i, name, by=by), _names(body, "responders"))),
        "notes": (("text",), lambda i, body, by: book.note(i, _text(body, "text", required=True), by=by)),
        "severity": (("severity",),
                     lambda i, body, by: book.set_severity(i, _text(body, "severity", required=True), by=by)),
        "resolve": (("comment",), lambda i, body, by: book.resolve(i, by=by, comment=_text(body, "comment"))),
        "hold": (("held",), lambda i, body, by: book.hold(i, _flag(body, "held"), by=by)),
        "reopen": (("comment",), lambda i, body, by: book.reopen(i, by=by, comment=_text(body, "comment"))),
        "close": ((), lambda i, body, by: book.close(i, by=by)),
        "merge": (("into",), lambda i, body, by: book.merge(i, into=_text(body, "into", required=True), by=by)),
        "split": (("fingerprints", "title"), lambda i, body, by: book.split(
            i, _names(body, "fingerprints"), by=by, title=_text(body, "title"))),
        "link": (("other",), lambda i, body, by: book.link(i, other=_text(body, "other", required=True), by=by)),
    }

    async def list_incidents(request: Request) -> Response:
        state = request.query_params.get("state") or None
        if state is not None and state not in STATES:
            return error(400, f"state must be one of {', '.join(STATES)}, not {state!r}")
        start = since(request) if "since" in request.query_params else None
        return JSONResponse({"incidents": book.list(state, start, limit(request))})

    async def open_incident(request: Request) -> Response:
        body = await _object(request, ("title", "severity", "alerts", "assignee"))
        if isinstance(body, Response):
            return body
        return _answer(lambda: book.open(_text(body, "title", required=True), by=_by(body, request),
                                         severity=_text(body, "severity"), fingerprints=_names(body, "alerts", []),
                                         assignee=_text(body, "assignee")))

    async def stats(request: Request) -> Response:
        start, end = since(request), time.time()
        if "until" in request.query_params:
            try:
                end = float(request.query_params["until"])
            except ValueError:
                end = math.nan
            if not math.isfinite(end):
                return error(400, "until must be Unix seconds")
        if end < start:
            return error(400, "until is before since")
        return JSONResponse(book.stats(start, end))

    async def get_incident(request: Request) -> Response:
        return _answer(lambda: book.get(request.path_params["id"]))

    def act(name: str, fields: tuple[str, ...], call: Callable[[str, dict, str], dict]):
        async def endpoint(request: Request) -> Response:
            body = await _object(request, fields)
            if isinstance(body, Response):
                return body
            return _answer(lambda: call(request.path_params["id"], body, _by(body, request)))
        endpoint.__name__ = f"incident_{name}"
        return endpoint

    async def put_postmortem(request: Request) -> Response:
        body = await _object(request, POSTMORTEM_FIELDS)
        if isinstance(body, Response):
            return body
        return _answer(lambda: book.set_postmortem(
            request.path_params["id"], postmortem_from_json({k: v for k, v in body.items() if k != "by"}),
            by=_by(body, request)))

    async def postmortem_markdown(request: Request) -> Response:
        try:
            text = book.postmortem_markdown(request.path_params["id"])
        except IncidentNotFound as exc:
            return error(404, str(exc))
        return Response(text, media_type="text/markdown")

    return [
        Route("/api/v1/incidents", list_incidents, methods=["GET"]),
        Route("/api/v1/incidents", open_incident, methods=["POST"]),
        Route("/api/v1/incidents/stats", stats, methods=["GET"]),  # before {id}, which would take "stats"
        Route("/api/v1/incidents/{id}", get_incident, methods=["GET"]),
        *(Route(f"/api/v1/incidents/{{id}}/{name}", act(name, fields, call), methods=["POST"])
          for name, (fields, call) in actions.items()),
        Route("/api/v1/incidents/{id}/postmortem", put_postmortem, methods=["PUT"]),
        Route("/api/v1/incidents/{id}/postmortem.md", postmortem_markdown, methods=["GET"]),
    ]


def _answer(call: Callable[[], dict]) -> Response:
    try:
        return JSONResponse({"incident": call()})
    except IncidentNotFound as exc:
        return error(404, str(exc))
    except IncidentConflict as exc:
        return error(409, str(exc))
    except IncidentError as exc:
        return error(400, str(exc))


async def _object(request: Request, fields: tuple[str, ...]) -> dict | Response:
    """The body as an object with no field but ``fields`` and ``by``; an empty body is an empty object."""
    if not (await request.body()).strip():
        return {}
    body = await read_json(request)
    if isinstance(body, BadBody):
        return error(400, body.reason)
    if not isinstance(body, dict):
        return error(400, "the body must be a JSON object")
    allowed = (*fields, "by")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        return error(400, f"{unknown[0]}: unknown field; expected {', '.join(allowed)}")
    return body


def _text(body: dict, key: str, required: bool = False, present: bool = False) -> str:
    """A string field; absent or null reads as "" unless ``required`` (non-empty) or ``present`` (the key
    given, "" allowed: an assignee of "" unassigns)."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise IncidentError(f"{key} must be a string")
    if (required and not (value or "").strip()) or (present and key not in body):
        raise IncidentError(f"{key} is required")
    return text_field(body, key)


def _names(body: dict, key: str, default: list[str] | None = None) -> list[str]:
    """A list of non-empty strings; required unless there is a ``default``."""
    value = body.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, list) or (not value and default is None):
        raise IncidentError(f"{key} must be a non-empty list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise IncidentError(f"{key}[{i}] must be a non-empty string")
    return value


def _flag(body: dict, key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise IncidentError(f"{key} must be true or false")
    return value


def _by(body: dict, request: Request) -> str:
    return _text(body, "by") or asking(request)


def _each(call: Callable[[Any], dict], items: list[Any]) -> dict:
    """Every item through ``call`` (one timeline entry each); the answer after the last."""
    answer: dict = {}
    for item in items:
        answer = call(item)
    return answer
