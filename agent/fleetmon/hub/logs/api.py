"""The log search's HTTP API: ``GET /api/v1/logs`` (a page of lines, newest first) and
``GET /api/v1/logs/stream`` (the live tail, fleetmon.hub.logs.live); the parameters are in
fleetmon.hub.logs.params, the document in docs/hub.md "Log storage".

The search is a plain function: Starlette runs it on its thread pool, off the event loop, and each pool
thread reads through its own connection to the store.
"""

import time
from collections.abc import Callable, Mapping, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.logs.live import LogStream
from fleetmon.hub.logs.params import log_query, page
from fleetmon.hub.logs.store import LogStore
from fleetmon.hub.web.params import BadParam, bad_request


def log_routes(store: LogStore, host_groups: Callable[[], Mapping[str, Sequence[str]]],
               clock: Callable[[], float] = time.time, stream: LogStream | None = None) -> list[Route]:
    """``host_groups`` answers each known host's groups (for ``group=``); ``stream``: the live tail's
    endpoint, when it needs other settings than the defaults (tests)."""

    def search(request: Request) -> Response:
        try:
            query = log_query(request.query_params, host_groups(), clock())
            limit, before = page(request.query_params)
        except BadParam as exc:
            return bad_request(exc)
        newest = store.latest_id()  # before the search: a tail that follows from it misses nothing
        lines = store.search(query, limit, before)
        return JSONResponse({"lines": [line.to_json() for line in lines],
                             "next_before": lines[-1].id if len(lines) == limit else None, "newest_id": newest})

    return [Route("/api/v1/logs", search, methods=["GET"]),
            Route("/api/v1/logs/stream", stream or LogStream(store, host_groups, clock), methods=["GET"])]
