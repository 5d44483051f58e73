"""The console's live feed: ``GET /api/v1/live``, Server-Sent Events (docs/console.md, "Live").

One feed task serves every client: started with the first, stopped when the last one leaves, it looks once
a ``period`` at what the pages show and sends what changed. What it compares, in a worker thread (a large
fleet must not hold up the event loop):

- the host summaries (FleetReader.hosts): ``hosts`` ``{"hosts": [summary of each host that changed]}``; a
  host gone from the fleet is a ``resync`` (the summaries cannot say "removed");
- the alerts' state, as a digest of each alert's fingerprint, status, start, mute reason and
  acknowledgement (not its annotations, which some rules refresh every evaluation): ``alerts``
  ``{"changed": true, "firing": n}``, and the page fetches the alerts again;
- the last sample of each host a client watches (``?host=``, repeatable): ``sample``
  ``{"host", "ts", "metrics"}`` when its timestamp changed, only to the clients watching that host;
- for the clients that ask (``?panels=1``: the overview), every ``PANEL_LOOKS`` looks, the dashboard's panel
  values and levels per host (fleetmon.hub.layout.resolve): ``panels`` ``{"hosts": {host: {"values",
  "levels"}}}`` for the hosts whose row changed, and ``layout`` ``{"changed": true}`` when the layout's shape
  (sections, their panels and hosts) or the minute of the panels' trends changed: the page reads
  ``/api/v1/dashboard`` again then, about once a minute, never to learn a value.

Each client has a bounded queue; one that does not keep up loses what is queued for it and gets
``resync`` instead (the page fetches everything again). A comment line every ``heartbeat`` seconds keeps
proxies from closing a quiet stream. A client's queue is dropped the moment it disconnects: the stream
listens for the disconnect while it waits. A client is answered (headers sent) only after the feed has
taken its first look, so every change after that reaches it.
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import orjson
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.web.fleet_api import well_formed
from fleetmon.hub.web.params import bad_request

log = logging.getLogger("fleetmon.hub")

PERIOD = 1.0  # seconds between two looks at the fleet
HEARTBEAT = 15.0  # seconds of silence after which a comment line goes out
RECHECK = 5.0  # seconds between two asks whether the stream's credentials still let it in
PANEL_LOOKS = 5  # looks between two computations of the dashboard's panel values (every host, every panel)
QUEUE_SIZE = 64  # events a client may have waiting before it is told to resync
MAX_WATCHED = 100  # host= parameters one client may give
RESYNC = b"event: resync\ndata: {}\n\n"
KEEPALIVE = b": keepalive\n\n"
_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no")]  # nginx would otherwise hold the stream back


class AlertState(NamedTuple):
    firing: int
    digest: bytes


class Seen(NamedTuple):
    """What the feed's last look found."""

    hosts: dict[str, dict[str, Any]]  # host -> summary
    alerts: AlertState
    samples: dict[str, float]  # watched host -> timestamp of the last sample sent
    panels: "PanelState | None" = None  # None: no client asked for panels at the last computation
    looks: int = 0  # looks taken: the panels are computed every PANEL_LOOKS of them


class PanelState(NamedTuple):
    shape: Any  # what a change of asks the page to read the layout again
    rows: dict[str, dict[str, Any]]  # host -> {"values", "levels"}


class Outgoing(NamedTuple):
    chunk: bytes  # the event as it goes on the wire
    host: str | None  # only for the clients watching this host (PANELS: asking for panels); None: for everyone


#: An Outgoing's ``host`` for the clients that asked for the dashboard's panels.
PANELS = "\0panels"


def event(name: str, data: Mapping[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def alert_state(views: Iterable[Mapping[str, Any]]) -> AlertState:
    """How many alerts fire, and a digest of what a page shows of each alert's state."""
    firing = 0
    parts = []
    for view in views:
        firing += view["status"] == "firing"
        ack = view.get("acknowledged") or {}
        parts.append((view["fingerprint"], view["status"], view["startsAt"], view.get("muted", ""),
                      ack.get("by"), ack.get("at"), ack.get("expiresAt")))
    return AlertState(firing, hashlib.blake2b(repr(sorted(parts)).encode(), digest_size=16).digest())


def panel_state(layout: Mapping[str, Any], trend_minute: float | None) -> PanelState:
    """The rows of ``layout`` (resolve's answer) by host, and its shape: each section's group, panels and
    hosts, and the minute of the trends. A host in several sections has one row: the union of their panels."""
    rows: dict[str, dict[str, Any]] = {}
    shape = []
    for section in layout["sections"]:
        shape.append((section["group"], tuple(section["panels"]), tuple(row["host"] for row in section["hosts"])))
        for row in section["hosts"]:
            merged = rows.setdefault(row["host"], {"values": {}, "levels": {}})
            merged["values"].update(row["values"])
            merged["levels"].update(row["levels"])
    return PanelState((tuple(shape), tuple(layout["panels"]), trend_minute), rows)


def changed_hosts(before: Mapping[str, dict[str, Any]],
                  summaries: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool, dict[str, dict[str, Any]]]:
    """The summaries that differ from ``before``, whether a host of ``before`` is gone, and the new state."""
    now = {summary["host"]: summary for summary in summaries}
    changed = [summary for host, summary in now.items() if before.get(host) != summary]
    return changed, any(host not in now for host in before), now


class Client:
    __slots__ = ("hosts", "panels", "queue", "resyncs")

    def __init__(self, hosts: frozenset[str], size: int, panels: bool = False) -> None:
        self.hosts = hosts
        self.panels = panels  # it asked for the dashboard's panel values
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(size)
        self.resyncs = 0  # how often it fell behind

    def offer(self, chunk: bytes) -> None:
        """Queue ``chunk``; a full queue is emptied and holds a resync instead, and takes ``chunk`` after it."""
        if self.queue.full():
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)
            self.resyncs += 1
        self.queue.put_nowait(chunk)


class LiveFeed:
    """``alerts`` answers the dispatcher's alert views (fleetmon.hub.alerting.dispatch.Dispatcher.alert_views).
    Lives on the event loop of its clients: ``join``, ``leave`` and ``tick`` run there."""

    def __init__(self, fleet: FleetReader, alerts: Callable[[], list[dict[str, Any]]],
                 layout: Callable[[], dict[str, Any]] | None = None,
                 trend_minute: Callable[[], float | None] = lambda: None, period: float = PERIOD,
                 heartbeat: float = HEARTBEAT, queue_size: int = QUEUE_SIZE) -> None:
        """``layout`` answers the dashboard's layout with its hosts' panel values (resolve's answer; None: no
        panels are sent), ``trend_minute`` the minute of the panels' latest trend point."""
        self._fleet, self._alerts, self._layout, self._trend_minute = fleet, alerts, layout, trend_minute
        self.period, self.heartbeat, self._queue_size = period, heartbeat, queue_size
        self._clients: set[Client] = set()
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Future | None = None

    @property
    def clients(self) -> int:
        return len(self._clients)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def join(self, hosts: frozenset[str], panels: bool = False) -> Client:
        """A new client; returns once the feed has taken its first look (started by this call if need be)."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._ready = loop.create_future()
            self._task = loop.create_task(self._run(self._ready), name="fleetmon-live-feed")
        client = Client(hosts, self._queue_size, panels)
        self._clients.add(client)
        try:
            await asyncio.shield(self._ready)
        except BaseException:
            self.leave(client)
            raise
        return client

    def leave(self, client: Client) -> None:
        self._clients.discard(client)
        if not self._clients and self._task is not None:
            self._task.cancel()
            self._task = None

    def look(self, seen: Seen | None, watched: frozenset[str],
             panels: bool = False) -> tuple[list[Outgoing], Seen]:
        """What changed since ``seen`` (None: the first look, which only takes note), and what is seen now;
        ``panels``: a client wants the panel values. Reads the fleet and the dispatcher, each under its own
        lock: run it in a worker thread."""
        changed, gone, hosts = changed_hosts({} if seen is None else seen.hosts, self._fleet.hosts())
        alerts = alert_state(self._alerts())
        if seen is None:
            return [], Seen(hosts, alerts, {})
        out = []
        if gone:
            out.append(Outgoing(RESYNC, None))
        elif changed:
            out.append(Outgoing(event("hosts", {"hosts": changed}), None))
        if alerts != seen.alerts:
            out.append(Outgoing(event("alerts", {"changed": True, "firing": alerts.firing}), None))
        samples = {}
        for host in sorted(watched):
            last = self._fleet.last_sample(host)
            if last is None:
                continue
            ts, metrics = last
            samples[host] = ts
            if seen.samples.get(host) != ts:
                out.append(Outgoing(event("sample", {"host": host, "ts": ts, "metrics": well_formed(metrics)}), host))
        looks, panel_seen = seen.looks + 1, seen.panels
        if not panels:
            panel_seen = None
        elif panel_seen is None or looks % PANEL_LOOKS == 0:
            now = self._panels()
            if now is None:
                rows = {}
            elif panel_seen is None:  # the first computation since a client asked: every row, to be sure
                rows = now.rows
            elif now.shape != panel_seen.shape:
                out.append(Outgoing(event("layout", {"changed": True}), PANELS))
                rows = {}
            else:
                rows = {host: row for host, row in now.rows.items() if panel_seen.rows.get(host) != row}
            if rows:
                out.append(Outgoing(event("panels", {"hosts": rows}), PANELS))
            panel_seen = now
        return out, Seen(hosts, alerts, samples, panel_seen, looks)

    def _panels(self) -> PanelState | None:
        return None if self._layout is None else panel_state(self._layout(), self._trend_minute())

    def fan_out(self, outgoing: list[Outgoing]) -> None:
        for client in self._clients:
            for item in outgoing:
                if item.host is None or (client.panels if item.host is PANELS else item.host in client.hosts):
                    client.offer(item.chunk)

    async def _run(self, ready: asyncio.Future) -> None:
        try:
            _, seen = await asyncio.to_thread(self.look, None, frozenset())
        except Exception as exc:
            ready.set_exception(exc)
            raise
        ready.set_result(None)
        while True:
            await asyncio.sleep(self.period)
            watched = frozenset().union(*(client.hosts for client in self._clients))
            panels = any(client.panels for client in self._clients)
            try:
                outgoing, seen = await asyncio.to_thread(self.look, seen, watched, panels)
            except Exception:  # one failed look must not end the feed; the next one compares with the last good
                log.exception("the live feed could not look at the fleet")
                continue
            self.fan_out(outgoing)


class LiveStream:
    """The ASGI endpoint of ``/api/v1/live``: a response that waits, at once, for its next events and for
    the client's disconnect (a streaming response that only notices a disconnect when a write fails would
    keep a gone client's queue until the next heartbeat)."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = Request(scope).query_params
        hosts = query.getlist("host")
        panels = query.get("panels", "") in ("1", "true")
        if len(hosts) > MAX_WATCHED:
            await bad_request(f"host may be given at most {MAX_WATCHED} times")(scope, receive, send)
            return
        # Put there by the access control (fleetmon.hub.auth.middleware): a user removed or demoted by a reload
        # loses the stream within RECHECK seconds, and the page's reconnect meets the login.
        still_allowed = scope.get("state", {}).get("still_allowed", lambda: True)
        loop = asyncio.get_running_loop()
        disconnected = asyncio.ensure_future(_disconnect(receive))
        client = None
        try:
            client = await self.feed.join(frozenset(hosts), panels)
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            sent_at = checked_at = loop.time()
            while not disconnected.done():
                next_event = asyncio.ensure_future(client.queue.get())
                await asyncio.wait((next_event, disconnected), timeout=min(self.feed.heartbeat, RECHECK),
                                   return_when=asyncio.FIRST_COMPLETED)
                now = loop.time()
                if now - checked_at >= RECHECK:
                    checked_at = now
                    if not await asyncio.to_thread(still_allowed):  # a session is looked up in its database
                        next_event.cancel()
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                        break
                if not next_event.done():
                    next_event.cancel()
                    chunk = KEEPALIVE if not disconnected.done() and now - sent_at >= self.feed.heartbeat else b""
                else:
                    chunk = next_event.result() + b"".join(_drain(client.queue))
                if chunk:
                    sent_at = now
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:  # the connection went away in the middle of a write
            pass
        finally:
            disconnected.cancel()
            if client is not None:
                self.feed.leave(client)


def live_routes(feed: LiveFeed) -> list[Route]:
    return [Route("/api/v1/live", LiveStream(feed), methods=["GET"])]


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _drain(queue: asyncio.Queue[bytes]) -> Iterable[bytes]:
    while not queue.empty():
        yield queue.get_nowait()
