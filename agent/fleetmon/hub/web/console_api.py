"""The console's reads: a host's series, several series in one history read, a host's events and check
history, a group with its fleet patterns, and a group's heatmap (docs/console.md; openapi.yaml).

Every handler that reads SQLite is synchronous, so Starlette runs it in its thread pool and a long read
never holds up the event loop (nor the live feed's stream). A bad parameter is a 400 naming it; an unknown
host (neither in the fleet nor in the history) or group is a 404.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.layout import PANELS, UNGROUPED
from fleetmon.hub.store import BucketedSeries, CheckRecord, Event, QueriedSeries, StateChange
from fleetmon.hub.web.heatmap import heatmap_rows
from fleetmon.hub.web.host_series import describe, threshold_lines
from fleetmon.hub.web.params import BadParam, bad_request, integer, matchers, not_found, time_range

HOUR, DAY = 3600.0, 86400.0
#: A host page asks for ~30 metrics at once; far more is not a page but a scraper.
MAX_METRICS = 200
MAX_POINTS = 10_000
MAX_BUCKETS = 1_000


class ConsoleHistory(Protocol):
    """What the console's reads ask of the history store (fleetmon.hub.store.Store)."""

    def knows(self, host: str) -> bool: ...

    def series(self, host: str) -> list[tuple[str, dict[str, str]]]: ...

    def tier_for(self, start: float, end: float) -> str: ...

    def chart_series(self, host: str, metrics: Sequence[str], matchers: Mapping[str, str] | None, start: float,
                     end: float, tier: str, max_points: int | None) -> tuple[str, Sequence[QueriedSeries]]: ...

    def bucketed(self, hosts: Sequence[str], metrics: Sequence[str], start: float, end: float, buckets: int,
                 tier: str | None = None) -> tuple[str, list[BucketedSeries]]: ...

    def events(self, host: str, start: float, end: float, limit: int = -1) -> list[Event]: ...

    def state_changes(self, host: str, start: float, end: float, limit: int = 1000) -> list[StateChange]: ...

    def checks(self, host: str, start: float, end: float, limit: int = 1000) -> list[CheckRecord]: ...


def console_routes(fleet: FleetReader, history: ConsoleHistory,
                   fleet_alerts: Callable[[], list[dict[str, Any]]]) -> list[Route]:
    """``fleet_alerts`` answers the firing alerts of the fleet rules, Alertmanager-shaped (the dispatcher's)."""

    def known(host: str) -> dict[str, Any] | None:
        """The host's detail, {} for a host only the history knows, None for an unknown one."""
        body = fleet.host(host)
        if body is None:
            return {} if history.knows(host) else None
        return body

    def series(request: Request) -> Response:
        host = request.path_params["host"]
        body = known(host)
        if body is None:
            return not_found(f"unknown host {host!r}")
        return JSONResponse({"host": host, "series": [describe(name, labels) for name, labels in history.series(host)],
                             "thresholds": threshold_lines(body.get("thresholds", []))})

    def query_range(request: Request) -> Response:
        params = request.query_params
        host, metrics = params.get("host"), params.getlist("metric")
        try:
            if not host:
                raise BadParam("host is required")
            if not metrics or len(metrics) > MAX_METRICS:
                raise BadParam(f"metric is required, 1..{MAX_METRICS} times")
            start, end = time_range(params, HOUR)
            wanted = matchers(params)
            max_points = integer(params, "max_points", 600, 2, MAX_POINTS)
            tier = params.get("tier") or history.tier_for(start, end)
            if known(host) is None:
                return not_found(f"unknown host {host!r}")
            source, found = history.chart_series(host, list(dict.fromkeys(metrics)), wanted, start, end, tier,
                                                 max_points)
        except BadParam as exc:
            return bad_request(exc)
        except ValueError as exc:  # the store refused the tier
            return bad_request(f"tier: {exc}")
        return JSONResponse({"tier": tier, "source": source, "start": start, "end": end,
                             "series": [{"name": s.name, "labels": s.labels, "points": s.points} for s in found]})

    def host_window(request: Request) -> tuple[str, float, float, int] | Response:
        """The host, time range and limit a read of a host's records asks for, or the answer refusing it."""
        host = request.path_params["host"]
        try:
            start, end = time_range(request.query_params, DAY)
            limit = integer(request.query_params, "limit", 1000, 1, 10_000)
        except BadParam as exc:
            return bad_request(exc)
        if known(host) is None:
            return not_found(f"unknown host {host!r}")
        return host, start, end, limit

    def events(request: Request) -> Response:
        asked = host_window(request)
        if isinstance(asked, Response):
            return asked
        host, start, end, limit = asked
        return JSONResponse({
            "events": [{"ts": e.ts, "kind": e.kind, "message": e.message, "details": e.details}
                       for e in history.events(host, start, end, limit)],
            "state_changes": [{"ts": c.ts, "from": c.from_state, "to": c.to_state, "reason": c.reason}
                              for c in history.state_changes(host, start, end, limit)]})

    def checks(request: Request) -> Response:
        asked = host_window(request)
        if isinstance(asked, Response):
            return asked
        host, start, end, limit = asked
        by_name: dict[str, list[dict[str, Any]]] = {}
        for result in history.checks(host, start, end, limit):
            by_name.setdefault(result.name, []).append({"ts": result.ts, "ok": result.ok, "value": result.value,
                                                        "message": result.message})
        return JSONResponse({"checks": by_name})

    def members(group: str) -> list[dict[str, Any]]:
        return [summary for summary in fleet.hosts() if group in (summary["groups"] or [UNGROUPED])]

    def group(request: Request) -> Response:
        name = request.path_params["group"]
        rollup = fleet.groups().get(name)
        if rollup is None:
            return not_found(f"unknown group {name!r}")
        hosts = members(name)
        names = {summary["host"] for summary in hosts}
        patterns = [_pattern(alert) for alert in fleet_alerts()
                    if alert["labels"].get("group") == name or alert["labels"].get("host") in names]
        return JSONResponse({"group": name, "hosts": hosts, "rollup": rollup, "patterns": patterns})

    def heatmap(request: Request) -> Response:
        name, params = request.path_params["group"], request.query_params
        panel_name = params.get("panel", "")
        panel = PANELS.get(panel_name)
        try:
            if panel is None:
                raise BadParam(f"panel must be one of {', '.join(PANELS)} (got {panel_name[:100]!r})")
            start, end = time_range(params, HOUR)
            if start == end:
                raise BadParam("start must be before end")
            count = integer(params, "buckets", 60, 1, MAX_BUCKETS)
        except BadParam as exc:
            return bad_request(exc)
        if fleet.groups().get(name) is None:
            return not_found(f"unknown group {name!r}")
        hosts = [summary["host"] for summary in members(name)]
        tier, found = history.bucketed(hosts, panel.metrics, start, end, count)
        width = (end - start) / count
        return JSONResponse({"panel": panel_name, "unit": panel.unit.name, "tier": tier,
                             "buckets": [start + i * width for i in range(count)],
                             "hosts": heatmap_rows(panel, hosts, found, count)})

    return [Route("/api/v1/hosts/{host}/series", series, methods=["GET"]),
            Route("/api/v1/hosts/{host}/events", events, methods=["GET"]),
            Route("/api/v1/hosts/{host}/checks", checks, methods=["GET"]),
            Route("/api/v1/query_range", query_range, methods=["GET"]),
            Route("/api/v1/groups/{group}", group, methods=["GET"]),
            Route("/api/v1/groups/{group}/heatmap", heatmap, methods=["GET"])]


def _pattern(alert: Mapping[str, Any]) -> dict[str, Any]:
    """A fleet alert as the group page lists it; ``confidence`` (0..1) from the rule's annotation, when it has one."""
    annotations = alert.get("annotations", {})
    try:
        confidence: float | None = float(annotations["confidence"])
    except (KeyError, ValueError):
        confidence = None
    if confidence is not None and not math.isfinite(confidence):
        confidence = None
    return {"labels": alert["labels"], "annotations": annotations, "startsAt": alert["startsAt"],
            "fingerprint": alert["fingerprint"], "confidence": confidence}
