"""The routes that serve the console (a page app of ES modules under ``static/``) at ``/`` and ``/dashboard``,
every file under ``static/`` beside it, and the JSON layout its overview draws (fleetmon.hub.layout)."""

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.layout import DashboardConfig, resolve, with_sites
from fleetmon.hub.trends import PanelTrends

log = logging.getLogger("fleetmon.hub")

STATIC_DIR = Path(__file__).with_name("static")
# `make console` copies it from npm; a hub built without it still serves the console, its charts say why not.
CHART_LIBRARY = STATIC_DIR / "vendor" / "uPlot.esm.js"
# What the console is made of, by suffix. Modules need a JavaScript type: browsers refuse to run others.
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".map": "application/json", ".svg": "image/svg+xml"}
# no-cache: after a hub upgrade the browser revalidates instead of mixing old and new modules.
NO_CACHE = {"Cache-Control": "no-cache"}


def dashboard_routes(fleet: FleetReader, layout_config: Callable[[], DashboardConfig],
                     trends: PanelTrends) -> list[Route]:
    """The page at ``/`` and ``/dashboard`` and the JSON layout its overview draws (its files: static_routes).
    ``layout_config`` answers the layout in force (a reload may change it); each section carries its panels'
    ``trends`` over the last hour."""

    def layout(request: Request) -> Response:
        # Synchronous, so Starlette runs it in its thread pool: a large fleet does not hold up the event loop.
        # Resolved from copies, after the reader has released the state lock: it does not hold up ingest.
        body = fleet_layout(layout_config(), fleet)
        now = time.time()
        for section in body["sections"]:
            section["trends"] = trends.of(section["group"], section["panels"], now)
        return JSONResponse(body)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=NO_CACHE)

    return [Route("/", index), Route("/dashboard", index), Route("/api/v1/dashboard", layout)]


def fleet_layout(config: DashboardConfig, fleet: FleetReader) -> dict[str, Any]:
    """The layout in force with its hosts; on a central hub, its sites' sections after them."""
    layout = resolve(config, fleet.records())
    sites = fleet.sites()
    return layout if sites is None else with_sites(layout, fleet.site_hosts(), sites)


def static_routes() -> list[Route]:
    """Every file of the console under ``static/`` at its path (``/app.js``, ``/vendor/uPlot.esm.js``): one route
    per suffix, listed after every other route so that an API path ending like a file is the API's."""
    if not CHART_LIBRARY.is_file():
        log.warning("the console has no charts: %s is missing (the hub was built without `make console`)",
                    CHART_LIBRARY)

    def static_files(suffix: str):
        async def serve(request: Request) -> Response:
            path = static_path(request.path_params["name"] + suffix)
            if path is None:
                return PlainTextResponse("not found", status_code=404)
            return FileResponse(path, media_type=MEDIA_TYPES[suffix], headers=NO_CACHE)
        return serve

    return [Route(f"/{{name:path}}{suffix}", static_files(suffix), methods=["GET"]) for suffix in MEDIA_TYPES]


def static_path(relative: str) -> Path | None:
    """The file under ``static/`` a relative URL path names, or None: outside it (``..``, a link out), hidden,
    of a kind the console is not made of, or absent."""
    parts = relative.split("/")
    if "\\" in relative or "\0" in relative or any(not part or part.startswith(".") for part in parts):
        return None
    root = STATIC_DIR.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file() or path.suffix not in MEDIA_TYPES:
        return None
    return path
