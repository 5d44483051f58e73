"""The hub's HTTP side: Prometheus /metrics, health probes, a small JSON API and the dashboard page (Starlette)."""

import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.alerting.api import alerting_routes
from fleetmon.hub.alerting.metrics import AlertingCollector
from fleetmon.hub.dashboard import dashboard_routes
from fleetmon.hub.exposition import FleetCollector
from fleetmon.hub.limits import TIME_RANGE, number, plausible_time
from fleetmon.hub.state import group_rollups, host_summary

if TYPE_CHECKING:
    from fleetmon.hub.service import Hub


def build_app(hub: "Hub") -> Starlette:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(hub.state, hub.lock, hub.counters))
    registry.register(AlertingCollector(hub.dispatcher, hub.deliverer))

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def live(request: Request) -> Response:
        problem = hub.liveness_problem()
        return JSONResponse({"ok": not problem, "problem": problem}, status_code=503 if problem else 200)

    async def ready(request: Request) -> Response:
        problem = hub.readiness_problem()
        return JSONResponse({"ok": not problem, "problem": problem}, status_code=503 if problem else 200)

    async def startup(request: Request) -> Response:
        done = hub.started.is_set()
        return JSONResponse({"ok": done, "problem": "" if done else "still reading the retained fleet state"},
                            status_code=200 if done else 503)

    async def hosts(request: Request) -> Response:
        with hub.lock:
            rows = [host_summary(r, hub.state.skewed(r)) for r in sorted(hub.state.hosts.values(),
                                                                           key=lambda r: r.host)]
        return JSONResponse({"hosts": rows})

    async def host(request: Request) -> Response:
        name = request.path_params["host"]
        with hub.lock:
            record = hub.state.hosts.get(name)
            if record is None:
                return JSONResponse({"error": f"unknown host {name!r}"}, status_code=404)
            body = host_summary(record, hub.state.skewed(record))
            body.update(facts=record.facts, thresholds=record.thresholds, checks=record.checks,
                        edge_alerts=list(record.edge_alerts.values()), last_sample=_well_formed(record.last_sample))
        return JSONResponse(body)

    async def groups(request: Request) -> Response:
        with hub.lock:
            return JSONResponse({"groups": group_rollups(hub.state)})

    async def hub_figures(request: Request) -> Response:
        return JSONResponse(hub.counters.snapshot())

    async def query(request: Request) -> Response:
        params = request.query_params
        if "host" not in params or "metric" not in params:
            return JSONResponse({"error": "host and metric are required"}, status_code=400)
        try:
            end = float(params.get("end", time.time()))
            start = float(params.get("start", end - 3600))
        except ValueError:
            return JSONResponse({"error": "start and end are Unix seconds"}, status_code=400)
        for name, value in (("start", start), ("end", end)):
            if not plausible_time(value):
                return JSONResponse({"error": f"{name} must be Unix seconds within {TIME_RANGE}"}, status_code=400)
        if start > end:
            return JSONResponse({"error": "start must not be after end"}, status_code=400)
        matchers = dict(item.split("=", 1) for item in params.getlist("match") if "=" in item)
        try:
            result = hub.store.query(params["host"], params["metric"], matchers, start, end, params.get("tier"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"series": [s._asdict() for s in result]})

    return Starlette(routes=[
        Route("/metrics", metrics), Route("/health/live", live), Route("/health/ready", ready),
        Route("/health/startup", startup), Route("/api/v1/hosts", hosts), Route("/api/v1/hosts/{host}", host),
        Route("/api/v1/groups", groups), Route("/api/v1/query", query), Route("/api/v1/hub", hub_figures),
        *alerting_routes(hub.dispatcher, hub.journal, lambda: hub.config.api_token), *dashboard_routes(hub),
    ])


def _well_formed(sample: dict[str, Any] | None) -> dict[str, Any] | None:
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
