"""The hub's HTTP app: Prometheus /metrics, health probes, the JSON APIs and the dashboard page (Starlette).

Built, like Alertmanager's ``api.New(api.Options{...})``, from the parts it serves (``WebParts``), which
the hub's composition (fleetmon.hub.parts) hands over; the app never sees the hub itself. Every request
passes the access control first (fleetmon.hub.auth.middleware): the routes only read who is asking.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.alerting.api import alerting_routes
from fleetmon.hub.auth.authority import Authority
from fleetmon.hub.auth.middleware import AuthMiddleware
from fleetmon.hub.auth.routes import auth_routes
from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.incidents.api import incident_routes
from fleetmon.hub.incidents.book import IncidentBook
from fleetmon.hub.layout import DashboardConfig
from fleetmon.hub.logs.api import log_routes
from fleetmon.hub.logs.store import LogStore
from fleetmon.hub.maintenance.api import maintenance_routes
from fleetmon.hub.maintenance.calendar import MaintenanceCalendar
from fleetmon.hub.sla.api import sla_routes
from fleetmon.hub.sla.engine import SLAEngine
from fleetmon.hub.trends import PanelTrends
from fleetmon.hub.web.console_api import ConsoleHistory, console_routes
from fleetmon.hub.web.dashboard import dashboard_routes, static_routes
from fleetmon.hub.web.fleet_api import HistoryQuery, fleet_routes
from fleetmon.hub.web.live import LiveFeed, live_routes

if TYPE_CHECKING:
    from fleetmon.hub.alerting.dispatch import Dispatcher
    from fleetmon.hub.alerting.journal import AlertJournal


class Health(NamedTuple):
    """What the probes answer; ``live`` and ``ready`` return the problem in words, "" when there is none."""

    live: Callable[[], str]  # "": the process works (a stopped thread asks for a restart)
    ready: Callable[[], str]  # "": it sees the fleet and writes history (else it should get no traffic)
    started: Callable[[], bool]  # the retained fleet state the subscription brought has been read


class WebParts(NamedTuple):
    """Everything the app reads, each as narrow as its routes need it."""

    fleet: FleetReader
    history: HistoryQuery
    console_history: ConsoleHistory  # the console's reads of the same store
    fleet_alerts: Callable[[], list[dict[str, Any]]]  # the fleet rules' firing alerts (the group page's patterns)
    trends: PanelTrends  # the dashboard panels' last hour
    live: LiveFeed  # what /api/v1/live streams
    hub_figures: Callable[[], dict[str, Any]]  # the hub's own counters as JSON
    health: Health
    metrics: CollectorRegistry  # what /metrics renders
    dispatcher: "Dispatcher"
    journal: "AlertJournal"
    authority: Authority  # who is asking, and what they may do (fleetmon.hub.auth)
    dashboard: Callable[[], DashboardConfig]  # the dashboard layout in force
    maintenance: MaintenanceCalendar  # maintenance windows: listed, made and ended through the API
    incidents: IncidentBook
    sla: SLAEngine
    logs: LogStore  # the hosts' log lines: search and live tail
    host_groups: Callable[[], dict[str, tuple[str, ...]]]  # each host's inventory groups, for group filters


def build_app(parts: WebParts) -> Starlette:
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(parts.metrics), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[
        Route("/metrics", metrics), *health_routes(parts.health),
        *fleet_routes(parts.fleet, parts.history, parts.hub_figures),
        *alerting_routes(parts.dispatcher, parts.journal), *auth_routes(parts.authority),
        *dashboard_routes(parts.fleet, parts.dashboard, parts.trends),
        *console_routes(parts.fleet, parts.console_history, parts.fleet_alerts), *live_routes(parts.live),
        *maintenance_routes(parts.maintenance, parts.dispatcher.reconsider), *incident_routes(parts.incidents),
        *sla_routes(parts.sla), *log_routes(parts.logs, parts.host_groups),
        *static_routes(),  # last: an API path that ends like a file (a group named x.css) is the API's
    ], middleware=[Middleware(AuthMiddleware, authority=parts.authority)])


def health_routes(health: Health) -> list[Route]:
    async def live(request: Request) -> Response:
        return _probe(health.live())

    async def ready(request: Request) -> Response:
        return _probe(health.ready())

    async def startup(request: Request) -> Response:
        return _probe("" if health.started() else "still reading the retained fleet state")

    return [Route("/health/live", live), Route("/health/ready", ready), Route("/health/startup", startup)]


def _probe(problem: str) -> Response:
    return JSONResponse({"ok": not problem, "problem": problem}, status_code=503 if problem else 200)
