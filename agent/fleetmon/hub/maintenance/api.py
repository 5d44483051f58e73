"""The maintenance windows' HTTP API: list, add, end (documented in fleetmon/hub/alerting/openapi.yaml).

A window made here takes the config's keys (``name``, ``hosts``, ``groups``, ``matchers``, ``starts_at``,
``ends_at``, ``time_intervals``, ``comment``); its author is ``createdBy``, else the user asking. Ending one
that is active lets the dispatcher look at its alerts again at once (fleetmon.hub.maintenance.calendar).
"""

import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.maintenance.calendar import MaintenanceCalendar, WindowNotFound
from fleetmon.hub.maintenance.windows import WindowError
from fleetmon.hub.web.bodies import BadBody, asking, error, read_json, text_field


def maintenance_routes(calendar: MaintenanceCalendar, changed: Callable[[], None]) -> list[Route]:
    """``changed()``: tells the dispatcher that what is muted may have changed."""

    async def list_windows(request: Request) -> Response:
        now = time.time()
        everything = request.query_params.get("all", "false") == "true"
        windows = [w.to_json(now) for w in calendar.windows()]
        return JSONResponse({"windows": [w for w in windows if everything or w["status"] != "ended"]})

    async def add_window(request: Request) -> Response:
        body = await read_json(request)
        if isinstance(body, BadBody):
            return error(400, body.reason)
        if not isinstance(body, dict):
            return error(400, "expected a maintenance window object")
        author = text_field(body, "createdBy") or asking(request)
        try:
            window = calendar.add({k: v for k, v in body.items() if k != "createdBy"}, author)
        except WindowError as exc:
            return error(400, str(exc))
        changed()
        return JSONResponse({"id": window.id, "window": window.to_json(time.time())})

    async def end_window(request: Request) -> Response:
        try:
            window = calendar.end(request.path_params["id"], time.time())
        except WindowNotFound as exc:
            return error(404, str(exc))
        except WindowError as exc:
            return error(409, str(exc))
        changed()
        return JSONResponse({"window": window.to_json(time.time())})

    return [Route("/api/v1/maintenance", list_windows, methods=["GET"]),
            Route("/api/v1/maintenance", add_window, methods=["POST"]),
            Route("/api/v1/maintenance/{id}", end_window, methods=["DELETE"])]
