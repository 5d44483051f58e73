"""Query parameters of the JSON API's reads, checked where they are parsed: a bad one is a 400 that names
it, never a 500 later (times within fleetmon.hub.limits' range, integers within their bounds)."""

import math
import time

from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, Response

from fleetmon.hub.limits import EARLIEST_TIME, TIME_RANGE, plausible_time


class BadParam(ValueError):
    """A query parameter the read cannot take; the message names it, for people."""


def time_range(params: QueryParams, default_span: float) -> tuple[float, float]:
    """``start`` and ``end`` in Unix seconds: ``end`` defaults to now, ``start`` to ``default_span`` before it."""
    end = _time(params, "end", time.time())
    start = _time(params, "start", max(EARLIEST_TIME, end - default_span))
    if start > end:
        raise BadParam("start must not be after end")
    return start, end


def integer(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadParam(f"{name} must be an integer in {low}..{high}") from None
    if not low <= value <= high:
        raise BadParam(f"{name} must be an integer in {low}..{high}")
    return value


def matchers(params: QueryParams) -> dict[str, str]:
    """Every ``match=label=value``: the series' label must equal the value."""
    found = {}
    for item in params.getlist("match"):
        label, equals, value = item.partition("=")
        if not equals or not label:
            raise BadParam(f"match must be label=value (got {item[:100]!r})")
        found[label] = value
    return found


def bad_request(problem: Exception | str) -> Response:
    return JSONResponse({"error": str(problem)}, status_code=400)


def not_found(what: str) -> Response:
    return JSONResponse({"error": what}, status_code=404)


def _time(params: QueryParams, name: str, default: float) -> float:
    text = params.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not plausible_time(value):
        raise BadParam(f"{name} must be Unix seconds within {TIME_RANGE}")
    return value
