"""The log search's query parameters, read where they arrive (the search and the live tail take the same
filters): a bad one is a 400 that names it, never a 500 later.

``host``, ``group`` and ``unit`` repeat (the hosts are those named and the members of the groups named; an
empty ``unit=`` is the kernel's lines); ``priority`` is 0..7 or a name (``err``: err and more severe);
``start`` and ``end`` are Unix seconds, or ``since`` a duration back from now (``1h``, ``30m``, seconds);
``q`` is the text (FTS5 syntax, fleetmon.hub.logs.search); ``limit`` (1..5000, default 100) and ``before``
(an id: the lines older than it, for the next page) page a search.
"""

from collections.abc import Mapping, Sequence

from starlette.datastructures import QueryParams

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.limits import EARLIEST_TIME
from fleetmon.hub.logs.search import LogQuery, QueryError, hosts_of, priority_level, text_query
from fleetmon.hub.logs.store import MAX_LIMIT
from fleetmon.hub.web.params import BadParam, integer
from fleetmon.hub.web.params import time_range as _time_range

DEFAULT_LIMIT = 100
#: Hosts, groups and units one request may name.
MAX_NAMES = 1000
_MAX_ID = 2**63 - 1


def log_query(params: QueryParams, host_groups: Mapping[str, Sequence[str]], now: float) -> LogQuery:
    """The filters of a search or a live tail; BadParam naming the parameter that is wrong."""
    hosts, groups, units = params.getlist("host"), params.getlist("group"), params.getlist("unit")
    if len(hosts) + len(groups) + len(units) > MAX_NAMES:
        raise BadParam(f"host, group and unit may be given {MAX_NAMES} times in all")
    priority = None
    if "priority" in params:
        try:
            priority = priority_level(params["priority"])
        except ValueError as exc:
            raise BadParam(f"priority {exc}") from None
    start, end = _range(params, now)
    try:
        text = text_query(params.get("q", ""))
    except QueryError as exc:
        raise BadParam(f"q: {exc}") from None
    return LogQuery(hosts_of(hosts, groups, host_groups), tuple(units), priority, start, end, text)


def page(params: QueryParams) -> tuple[int, int | None]:
    """``limit`` and ``before`` of a search."""
    limit = integer(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    before = integer(params, "before", 0, 1, _MAX_ID) if "before" in params else None
    return limit, before


def _range(params: QueryParams, now: float) -> tuple[float | None, float | None]:
    if "since" in params:
        if "start" in params:
            raise BadParam("give since or start, not both")
        errors = Errors()
        seconds = Node(params["since"], "since", errors).duration(None, minimum=0)
        if errors or seconds is None:
            raise BadParam("since must be a duration such as 1h, 30m or 90 (seconds)")
        end = _time_range(params, 0.0)[1] if "end" in params else None
        return max(EARLIEST_TIME, now - seconds), end
    if "start" not in params and "end" not in params:
        return None, None
    start, end = _time_range(params, 0.0)
    return (start if "start" in params else None), (end if "end" in params else None)
