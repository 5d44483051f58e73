"""The routes that serve the dashboard page at ``/`` and the JSON layout it draws (fleetmon.hub.layout)."""

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.layout import resolve

if TYPE_CHECKING:
    from fleetmon.hub.service import Hub

WEB_DIR = Path(__file__).with_name("web")


def dashboard_routes(hub: "Hub") -> list[Route]:
    """The page at ``/`` and ``/dashboard``, its two files, and the JSON layout it draws."""

    def layout(request: Request) -> Response:
        # Synchronous, so Starlette runs it in its thread pool: a large fleet does not hold up the event loop.
        with hub.lock:
            # Shallow copies are enough: ingest replaces a record's sample and birth fields, never changes
            # them in place, so resolving after the lock is released does not hold up ingest.
            records = [copy.copy(record) for record in hub.state.hosts.values()]
        return JSONResponse(resolve(hub.config.dashboard, records))

    def page_file(name: str, media_type: str):
        async def serve(request: Request) -> Response:
            # no-cache: after a hub upgrade the browser revalidates instead of mixing old and new files.
            return FileResponse(WEB_DIR / name, media_type=media_type, headers={"Cache-Control": "no-cache"})
        return serve

    index = page_file("index.html", "text/html")
    return [Route("/", index), Route("/dashboard", index),
            Route("/dashboard.js", page_file("dashboard.js", "text/javascript")),
            Route("/dashboard.css", page_file("dashboard.css", "text/css")),
            Route("/api/v1/dashboard", layout)]
