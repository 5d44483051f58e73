"""What the JSON API's changes share: the request body read strictly, fields read safely, errors answered.

No request can make an answer fail later: bodies are strict JSON (no NaN, no lone surrogate, at most
fleetmon.hub.limits.MAX_DEPTH levels deep), and a bad field is a 400 naming it before anything is changed.
"""

import math
import time
from typing import Any, NamedTuple

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fleetmon.hub.limits import MAX_DEPTH, too_deep


class BadBody(NamedTuple):
    reason: str


async def read_json(request: Request) -> Any:
    """The request's JSON, or why it is none. orjson, unlike the json module, refuses what could not be
    answered later: NaN and Infinity, lone surrogates (not UTF-8), numbers beyond a double."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return BadBody(f"the body is not JSON: {exc}")
    if too_deep(body):
        return BadBody(f"the body nests deeper than {MAX_DEPTH} levels")
    return body


def text_field(body: dict, key: str) -> str:
    """A string field; absent or null reads as empty (never as the text "None")."""
    value = body.get(key)
    return "" if value is None else str(value)


def asking(request: Request) -> str:
    """The name of the user the request came from ("api" for api.token)."""
    return request.state.user or ""


def error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def since(request: Request) -> float:
    try:
        since = float(request.query_params.get("since", time.time() - 86400))
    except ValueError:
        return time.time() - 86400
    return since if math.isfinite(since) else time.time() - 86400  # "inf" and "nan" are not times


def limit(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("limit", 500)), 10_000))
    except ValueError:
        return 500
