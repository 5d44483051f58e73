"""What the incidents' HTTP and command-line tests share: a book on a real SQLite file holding two incidents its
routes opened (INC-1: DiskFull with alerts a and b; INC-2: HighLoad with c), and an app of just the incident
routes, with the user "ana" on each request as the hub's auth middleware leaves it."""

from typing import Any

import pytest
from starlette.applications import Starlette

from fleetmon.hub.alerting.observers import AlertRef
from fleetmon.hub.incidents.api import incident_routes
from fleetmon.hub.incidents.book import IncidentBook

NOW = 1_800_000_000.0
GROUPS = {'route-1:{alertname="DiskFull"}': ("DiskFull", ("a", "b")), 'route-1:{alertname="HighLoad"}': ("HighLoad",
                                                                                                      ("c",))}


@pytest.fixture
def book(tmp_path):
    book = IncidentBook(str(tmp_path / "alerting.db"), clock=lambda: NOW)
    for key, (name, fps) in GROUPS.items():
        book.observe_group(key, f"id-{name}", {"alertname": name}, "ops",
                           [AlertRef(fp, {"alertname": name, "host": fp}, NOW - 60, False) for fp in fps], NOW)
    book.process()
    yield book
    book.shutdown()


@pytest.fixture
def app(book) -> Any:
    routes = Starlette(routes=incident_routes(book))

    async def asking(scope, receive, send):
        scope.setdefault("state", {})["user"] = "ana"
        await routes(scope, receive, send)
    return asking
