"""The live tail: ``GET /api/v1/logs/stream``, Server-Sent Events of the lines that arrive, with the search's
filters (fleetmon.hub.logs.params).

Each stream reads for itself: every ``period`` it asks the store for the lines after the last one it sent
(``LogStore.follow``, at most ``batch`` at a time, again at once while there are more) and sends each as an
event ``line`` with the line's id as the event id. Nothing is queued for a stream: what it has not sent
stays in the store, and a client that reads slowly only slows its own stream. A browser's EventSource
reconnects by itself with ``Last-Event-ID``, and the tail goes on after that line, so a reconnect loses
nothing; ``after`` in the query does the same for other clients. Without either it starts at the newest
line. A comment every ``heartbeat`` seconds keeps proxies from closing a quiet stream; a stream whose
credentials no longer let it in ends within RECHECK seconds, as the console's live feed does
(fleetmon.hub.web.live).
"""

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from fleetmon.hub.logs.params import log_query
from fleetmon.hub.logs.search import LogLine
from fleetmon.hub.logs.store import LogStore
from fleetmon.hub.web.live import KEEPALIVE, RECHECK
from fleetmon.hub.web.params import BadParam, bad_request

PERIOD = 1.0  # seconds between two looks for new lines
HEARTBEAT = 15.0
BATCH = 500  # lines one look reads at most
MAX_STREAMS = 32  # open tails at once; each looks at the store every period
_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no")]
_MAX_ID = 2**63 - 1


def line_event(line: LogLine) -> bytes:
    return b"id: %d\nevent: line\ndata: %s\n\n" % (line.id, orjson.dumps(line.to_json()))


class LogStream:
    """The ASGI endpoint; ``host_groups`` answers each known host's groups."""

    def __init__(self, store: LogStore, host_groups: Callable[[], Mapping[str, Sequence[str]]],
                 clock: Callable[[], float] = time.time, period: float = PERIOD, heartbeat: float = HEARTBEAT,
                 batch: int = BATCH, max_streams: int = MAX_STREAMS) -> None:
        self.store, self.host_groups, self.clock = store, host_groups, clock
        self.period, self.heartbeat, self.batch, self.max_streams = period, heartbeat, batch, max_streams
        self.streams = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            query = log_query(request.query_params, self.host_groups(), self.clock())
            after = _after(request)
        except BadParam as exc:
            await bad_request(exc)(scope, receive, send)
            return
        if self.streams >= self.max_streams:
            await JSONResponse({"error": f"{self.max_streams} live tails are open; try again later"},
                               status_code=503)(scope, receive, send)
            return
        still_allowed = scope.get("state", {}).get("still_allowed", lambda: True)
        loop = asyncio.get_running_loop()
        disconnected = asyncio.ensure_future(_disconnect(receive))
        self.streams += 1
        try:
            if after is None:
                after = await asyncio.to_thread(self.store.latest_id)
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            sent_at = checked_at = loop.time()
            while not disconnected.done():
                lines = await asyncio.to_thread(self.store.follow, query, after, self.batch)
                now = loop.time()
                if lines:
                    after = lines[-1].id
                    await send({"type": "http.response.body", "body": b"".join(map(line_event, lines)),
                                "more_body": True})
                    sent_at = now
                elif now - sent_at >= self.heartbeat:
                    await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
                    sent_at = now
                if now - checked_at >= RECHECK:
                    checked_at = now
                    if not await asyncio.to_thread(still_allowed):
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                        break
                if len(lines) < self.batch:
                    await asyncio.wait((disconnected,), timeout=self.period)
        except OSError:  # the connection went away in the middle of a write
            pass
        finally:
            self.streams -= 1
            disconnected.cancel()


def _after(request: Request) -> int | None:
    """Where the tail starts: after ``Last-Event-ID`` (an EventSource reconnecting), else ``after``."""
    text = request.headers.get("last-event-id") or request.query_params.get("after")
    if text is None:
        return None
    if not text.isdigit() or int(text) > _MAX_ID:
        raise BadParam("after (or Last-Event-ID) must be a line id")
    return int(text)


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
