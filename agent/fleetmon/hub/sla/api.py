"""The SLA HTTP API: every SLO over its current period, one SLO's report over a period or a range (JSON or
CSV), and its error budget's burn-down for the console's chart.

The range is ``?period=`` (2026-11, 2026-W47, 2026-Q4, 2026, 2026-11-30, read in the SLO's time zone) or
``?start=&end=`` (Unix seconds); neither: the SLO's current period. Reports are computed on request from
the presence ledger and the history, so the handlers are plain functions (Starlette runs them on its
thread pool, off the event loop).
"""

import math

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.sla.config import SLO
from fleetmon.hub.sla.engine import SLAEngine, UnknownSLO
from fleetmon.hub.sla.periods import NOMINAL_SECONDS, PeriodError, named_period, period_at
from fleetmon.hub.sla.report import report_csv
from fleetmon.hub.web.params import BadParam, bad_request, integer, not_found, time_range

FORMATS = ("json", "csv")
#: The most points a budget burn-down answers: more than a chart has pixels.
MAX_POINTS = 5000
#: The burn-down's default: about this many points, each a whole number of minutes apart.
DEFAULT_POINTS = 500
_MINUTE = 60


def sla_routes(engine: SLAEngine) -> list[Route]:
    def list_slos(request: Request) -> Response:
        return JSONResponse({"slos": engine.summaries(engine.clock())})

    def asked(request: Request, now: float) -> tuple[SLO, float, float]:
        """The SLO the path names and the range the query asks for; UnknownSLO, BadParam."""
        slo = engine.slo(request.path_params["name"])
        return (slo, *_range(request.query_params, slo, now))

    def report(request: Request) -> Response:
        now = engine.clock()
        try:
            slo, start, end = asked(request, now)
            form = _format(request.query_params)
        except UnknownSLO as exc:
            return not_found(str(exc))
        except BadParam as exc:
            return bad_request(exc)
        body = engine.report(slo.name, start, end, now)
        if form == "csv":
            filename = f"{slo.name}-{body['label'] or int(start)}.csv"
            return Response(report_csv(body), media_type="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        return JSONResponse(body)

    def budget(request: Request) -> Response:
        now = engine.clock()
        try:
            slo, start, end = asked(request, now)
            step = _step(request.query_params, start, min(max(start, now), end))
        except UnknownSLO as exc:
            return not_found(str(exc))
        except BadParam as exc:
            return bad_request(exc)
        points = engine.budget_series(slo.name, start, end, now, step)
        return JSONResponse({"slo": slo.name, "start": start, "end": end, "step": step,
                             "points": [[ts, left] for ts, left in points]})

    return [
        Route("/api/v1/sla", list_slos, methods=["GET"]),
        Route("/api/v1/sla/{name}/report", report, methods=["GET"]),
        Route("/api/v1/sla/{name}/budget", budget, methods=["GET"]),
    ]


def _range(params: QueryParams, slo: SLO, now: float) -> tuple[float, float]:
    """``[start, end)`` of the request: its period, its start and end, or the SLO's current period."""
    text = params.get("period")
    if text is not None:
        if "start" in params or "end" in params:
            raise BadParam("give period, or start and end, not both")
        try:
            period = named_period(text, slo.zone)
        except PeriodError as exc:
            raise BadParam(f"period: {exc}") from None
        return period.start, period.end
    if "start" in params or "end" in params:
        return time_range(params, NOMINAL_SECONDS[slo.period])
    period = period_at(slo.period, now, slo.zone)
    return period.start, period.end


def _format(params: QueryParams) -> str:
    form = params.get("format", "json")
    if form not in FORMATS:
        raise BadParam(f"format must be one of {', '.join(FORMATS)} (got {form[:20]!r})")
    return form


def _step(params: QueryParams, start: float, until: float) -> int:
    """Seconds between burn-down points: ``?step=`` or a whole number of minutes giving about
    DEFAULT_POINTS; never so small that the answer holds more than MAX_POINTS."""
    span = until - start
    default = max(_MINUTE, math.ceil(span / DEFAULT_POINTS / _MINUTE) * _MINUTE)
    step = integer(params, "step", default, 1, 366 * 86400)
    if span / step > MAX_POINTS:
        raise BadParam(f"step must be at least {math.ceil(span / MAX_POINTS)} s for this range "
                       f"(at most {MAX_POINTS} points)")
    return step
