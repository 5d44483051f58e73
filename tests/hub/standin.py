"""The hub's real HTTP app on a stand-in hub, for the fuzz tests: the real fleet state, history store (a
writer process on SQLite), alert dispatcher and journal, wired as hub/service.py wires them, without a
broker. Requests go to the app in-process over ASGI, as uvicorn would hand them over."""

import asyncio
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.config import parse_alerting
from fleetmon.hub.alerting.dispatch import Dispatcher
from fleetmon.hub.alerting.journal import AlertJournal
from fleetmon.hub.api import build_app
from fleetmon.hub.exposition import HubCounters
from fleetmon.hub.layout import DashboardConfig
from fleetmon.hub.state import FleetState

TOKEN = "fuzz-token"
#: One route and a receiver without integrations: alerts are grouped and flushed, nothing is sent.
ALERTING = """
route: {receiver: team, group_by: [alertname], group_wait: 0s, group_interval: 1s}
receivers: [{name: team}]
inhibit_rules:
  - {source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: [host]}
"""


def stand_in_hub(tmp_path: Path, store: Any) -> SimpleNamespace:
    errors = Errors()
    config = parse_alerting(Node(yaml.safe_load(ALERTING), "", errors))
    assert not errors, errors
    journal = AlertJournal(str(tmp_path / "alerting.db"))
    counters = HubCounters()
    counters.store = store.counters
    started = threading.Event()
    started.set()
    return SimpleNamespace(
        config=SimpleNamespace(api_token=TOKEN, dashboard=DashboardConfig()), state=FleetState(),
        lock=threading.Lock(), counters=counters, store=store, journal=journal,
        dispatcher=Dispatcher(config, deliverer=None, journal=journal), deliverer=SimpleNamespace(pending=0),
        started=started, liveness_problem=lambda: "", readiness_problem=lambda: "")


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def json(self) -> Any:
        return json.loads(self.body)


class Asgi:
    """Calls an ASGI app in-process: one request, the whole answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def call(self, method: str, path: str, query: bytes = b"", body: bytes = b"",
             token: str | None = TOKEN) -> Answer:
        headers = [(b"host", b"testserver")]
        if body:
            headers.append((b"content-type", b"application/json"))
        if token is not None:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode("utf-8", "surrogateescape"),
                 "query_string": query, "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
                 "server": ("testserver", 80)}
        messages: list[dict[str, Any]] = []
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = next(m for m in messages if m["type"] == "http.response.start")
        return Answer(start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]},
                      b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body"))


def app_of(hub: SimpleNamespace) -> Asgi:
    return Asgi(build_app(hub))
