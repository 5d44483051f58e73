"""The hub's real HTTP app on the hub's real parts, for the fuzz and API tests: the fleet state, history
store (a writer process on SQLite), alert dispatcher, journal and message intake, built and wired by
fleetmon.hub.parts as the hub builds them, without a broker. Requests go to the app in-process over ASGI,
as uvicorn would hand them over."""

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
import yaml

from fleetmon.hub.config import parse_config
from fleetmon.hub.parts import HubParts, build_parts
from fleetmon.hub.web.app import Health, WebParts, build_app
from fleetmon.hub.web.fleet_api import HistoryQuery
from tests.conftest import free_port
from tests.polling import wait_until

TOKEN = "fuzz-token"
#: One route and a receiver without integrations: alerts are grouped and flushed, nothing is sent.
ALERTING = """
route: {receiver: team, group_by: [alertname], group_wait: 0s, group_interval: 1s}
receivers: [{name: team}]
inhibit_rules:
  - {source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: [host]}
"""


class StandIn:
    """The hub's parts, and what only a running hub answers, which the test sets: its health probes."""

    def __init__(self, parts: HubParts, started: bool) -> None:
        self.parts = parts
        self.history: HistoryQuery = parts.history  # what answers /api/v1/query; a test may put its own
        self.started = threading.Event()
        if started:
            self.started.set()
        self.liveness_problem: Callable[[], str] = lambda: ""
        self.readiness_problem: Callable[[], str] = lambda: ""

    @property
    def config(self):
        return self.parts.config

    @property
    def dispatcher(self):
        return self.parts.dispatcher

    @property
    def journal(self):
        return self.parts.journal

    def web(self) -> WebParts:
        health = Health(live=lambda: self.liveness_problem(), ready=lambda: self.readiness_problem(),
                        started=self.started.is_set)
        return self.parts.web(health)._replace(history=self.history)

    def close(self) -> None:
        self.parts.deliverer.stop()
        self.parts.journal.close()
        self.parts.authority.close()
        self.parts.history.close()
        self.parts.incidents.shutdown()
        self.parts.maintenance.close()
        self.parts.sla.close()
        self.parts.logs.close()


def stand_in_hub(tmp_path: Path, alerting: str = ALERTING, token: str = TOKEN,
                 expected_hosts: dict[str, list[str]] | None = None, started: bool = True) -> StandIn:
    """The parts of a hub keeping its databases in ``tmp_path``; its history writer is not started."""
    config = parse_config({"db": str(tmp_path / "history.db"), "alerting": yaml.safe_load(alerting),
                           "expected_hosts": expected_hosts or {}})
    config.api_token = token  # set here: short test tokens are not what the config's length rule is about
    return StandIn(build_parts(config), started)


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
        messages = asyncio.run(exchange(self.app, scope, body))
        start = next(m for m in messages if m["type"] == "http.response.start")
        return Answer(start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]},
                      b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body"))


def app_of(hub: StandIn) -> Asgi:
    return Asgi(build_app(hub.web()))


async def exchange(app: Any, scope: dict[str, Any], body: bytes) -> list[dict[str, Any]]:
    """One request through an ASGI app as a server hands it over (its body, then the client's disconnect): the
    messages the app sent back."""
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

    await app(scope, receive, send)
    return messages


class Served:
    """An ASGI app on a real uvicorn, in a thread, on a free port: for clients that speak HTTP themselves (the
    command line, a stream reader)."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10, interval=0.02, message="uvicorn started")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
