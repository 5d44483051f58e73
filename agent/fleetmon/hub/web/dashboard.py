"""The routes that serve the dashboard page at ``/`` and the JSON layout it draws (fleetmon.hub.layout)."""

from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.layout import DashboardConfig, resolve

STATIC_DIR = Path(__file__).with_name("static")


def dashboard_routes(fleet: FleetReader, layout_config: Callable[[], DashboardConfig]) -> list[Route]:
    """The page at ``/`` and ``/dashboard``, its two files, and the JSON layout it draws.
    ``layout_config`` answers the layout in force (a reload may change it)."""

    def layout(request: Request) -> Response:
        # Synchronous, so Starlette runs it in its thread pool: a large fleet does not hold up the event loop.
        # Resolved from copies, after the reader has released the state lock: it does not hold up ingest.
        return JSONResponse(resolve(layout_config(), fleet.records()))

    def page_file(name: str, media_type: str):
        async def serve(request: Request) -> Response:
            # no-cache: after a hub upgrade the browser revalidates instead of mixing old and new files.
            return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "no-cache"})
        return serve

    index = page_file("index.html", "text/html")
    return [Route("/", index), Route("/dashboard", index),
            Route("/dashboard.js", page_file("dashboard.js", "text/javascript")),
            Route("/dashboard.css", page_file("dashboard.css", "text/css")),
            Route("/api/v1/dashboard", layout)]
