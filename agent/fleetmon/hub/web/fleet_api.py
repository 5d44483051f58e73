"""The fleet's JSON API: hosts, one host, groups, history queries and the hub's own figures."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.limits import number
from fleetmon.hub.web.params import BadParam, bad_request, time_range


class HistoryQuery(Protocol):
    """What the API asks of the history store (fleetmon.hub.store.Store.query)."""

    def query(self, host: str, metric: str, matchers: Mapping[str, str] | None, start: float, end: float,
              tier: str | None) -> Sequence[Any]: ...


def fleet_routes(fleet: FleetReader, history: HistoryQuery, hub_figures: Callable[[], dict[str, Any]]) -> list[Route]:
    """``hub_figures`` answers the hub's own counters as JSON (HubCounters.snapshot)."""

    async def hosts(request: Request) -> Response:
        return JSONResponse({"hosts": fleet.hosts()})

    async def host(request: Request) -> Response:
        name = request.path_params["host"]
        body = fleet.host(name)
        if body is None:
            return JSONResponse({"error": f"unknown host {name!r}"}, status_code=404)
        body["last_sample"] = well_formed(body["last_sample"])
        return JSONResponse(body)

    async def groups(request: Request) -> Response:
        return JSONResponse({"groups": fleet.groups()})

    async def sites(request: Request) -> Response:
        found = fleet.sites()
        if found is None:
            return JSONResponse({"error": "this hub is not in federation mode (no federation: section)"},
                                status_code=404)
        return JSONResponse({"sites": found, "alerts": fleet.site_alerts()})

    async def figures(request: Request) -> Response:
        return JSONResponse(hub_figures())

    def query(request: Request) -> Response:
        # Synchronous, so Starlette runs it in its thread pool: a SQLite read does not hold up the event loop.
        params = request.query_params
        if "host" not in params or "metric" not in params:
            return JSONResponse({"error": "host and metric are required"}, status_code=400)
        try:
            start, end = time_range(params, 3600.0)
        except BadParam as exc:
            return bad_request(exc)
        matchers = dict(item.split("=", 1) for item in params.getlist("match") if "=" in item)
        try:
            result = history.query(params["host"], params["metric"], matchers, start, end, params.get("tier"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"series": [s._asdict() for s in result]})

    return [Route("/api/v1/hosts", hosts), Route("/api/v1/hosts/{host}", host), Route("/api/v1/groups", groups),
            Route("/api/v1/query", query), Route("/api/v1/hub", figures), Route("/api/v1/sites", sites)]


def well_formed(sample: dict[str, Any] | None) -> dict[str, Any] | None:
    """A sample's well-formed series. Ingest does not walk a sample's series (the hot path): each user checks
    them, as the store and /metrics do; a malformed one here could even be too deep to encode."""
    if sample is None:
        return None
    kept: dict[str, Any] = {}
    for name, entry in sample.items():
        if number(entry):
            kept[name] = entry
        elif type(entry) is list:
            pairs = [pair for pair in entry if type(pair) is list and len(pair) == 2 and type(pair[0]) is dict
                     and number(pair[1]) and not any(type(v) is dict or type(v) is list for v in pair[0].values())]
            if pairs:
                kept[name] = pairs
    return kept
