"""The hub's real app and its real parts (tests/hub/standin.py) with users configured, and a visitor that calls
it in-process over ASGI the way a browser does: it keeps the cookies the hub sets, sends its session's CSRF
token with every change, and comes from an address of its choosing (the rate limits count per client).

The throttles of logins and tokens run on a clock the test moves (``Clock``); everything else is real time.
"""

import asyncio
import json
from functools import cache
from http.cookies import Morsel, SimpleCookie
from pathlib import Path
from typing import Any

import yaml

from fleetmon.hub.auth.middleware import SESSION_COOKIE
from fleetmon.hub.auth.passwords import hash_password
from fleetmon.hub.auth.ratelimit import Throttle
from fleetmon.hub.auth.tokens import token_hash
from fleetmon.hub.config import parse_config
from fleetmon.hub.parts import build_parts
from fleetmon.hub.web.app import build_app
from tests.hub.standin import ALERTING, Answer, StandIn, exchange

API_TOKEN = "the-old-api-token-0123456789"
ROLE_OF = {"vera": "viewer", "otto": "operator", "ada": "admin"}
TOKEN_OF = {name: f"{name}-token-{'x' * 40}" for name in ROLE_OF}


def password_of(name: str) -> str:
    return f"{name}'s password"


@cache
def _password_hash(name: str) -> str:
    return hash_password(password_of(name))  # some 0.1 s each: made once per test session


def users(*names: str) -> list[dict[str, Any]]:
    """``auth.users`` entries: each user with a password and an API token (viewer vera, operator otto, admin
    ada by default)."""
    return [{"name": name, "role": ROLE_OF[name], "password_hash": _password_hash(name),
             "tokens": [token_hash(TOKEN_OF[name])]} for name in names or ROLE_OF]


class Clock:
    """A monotonic clock that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def auth_hub(tmp_path: Path, clock: Clock, auth: dict[str, Any] | None = None,
             api_token: str = API_TOKEN) -> StandIn:
    """A stand-in hub whose config has ``auth`` (default: the three users, nothing else) and ``api.token``."""
    document = {"db": str(tmp_path / "history.db"), "alerting": yaml.safe_load(ALERTING),
                "auth": {"users": users()} if auth is None else auth}
    if api_token:
        document["api"] = {"token": api_token}
    hub = StandIn(build_parts(parse_config(document)), started=True)
    authority = hub.parts.authority
    authority.logins, authority.bad_tokens = Throttle(clock), Throttle(clock)
    return hub


class Visitor:
    """One browser (or script) calling the app: its cookies, its session's CSRF token, its address."""

    def __init__(self, hub: StandIn, address: str = "192.0.2.10", scheme: str = "http") -> None:
        self.app = build_app(hub.web())
        self.address, self.scheme = address, scheme
        self.cookies: dict[str, str] = {}
        self.csrf = ""  # from the last login's answer
        self.set_cookies: list[Morsel] = []  # every cookie the hub set or cleared, oldest first

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, csrf: str | None = None,
             query: str = "", content_type: str = "application/json") -> Answer:
        """``csrf`` None sends the session's token on a change, as the console does; "" sends none."""
        headers = [(b"host", b"hub.example")]
        data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        if data:
            headers.append((b"content-type", content_type.encode()))
        if token is not None:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        if self.cookies:
            headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()).encode()))
        csrf = self.csrf if csrf is None and method not in ("GET", "HEAD") else csrf
        if csrf:
            headers.append((b"x-csrf-token", csrf.encode()))
        status, answer_headers, answer_body = asyncio.run(self._send(method, path, query.encode(), headers, data))
        for name, value in answer_headers:
            if name == b"set-cookie":
                self._keep(value.decode())
        return Answer(status, {k.decode(): v.decode() for k, v in answer_headers}, answer_body)

    def login(self, name: str, password: str | None = None) -> Answer:
        answer = self.call("POST", "/api/v1/auth/login",
                           {"user": name, "password": password_of(name) if password is None else password})
        if answer.status == 200:
            self.csrf = answer.json()["csrf"]
        return answer

    @property
    def session_cookie(self) -> Morsel:
        """The last session cookie the hub set or cleared."""
        return next(m for m in reversed(self.set_cookies) if m.key == SESSION_COOKIE)

    def _keep(self, header: str) -> None:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for morsel in cookie.values():
            self.set_cookies.append(morsel)
            if morsel["max-age"] == "0":
                self.cookies.pop(morsel.key, None)
            else:
                self.cookies[morsel.key] = morsel.value

    async def _send(self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]],
                    body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": self.scheme, "path": path, "raw_path": path.encode(), "query_string": query,
                 "root_path": "", "headers": headers, "client": (self.address, 50000),
                 "server": ("hub.example", 443 if self.scheme == "https" else 80)}
        messages = await exchange(self.app, scope, body)
        start = next(m for m in messages if m["type"] == "http.response.start")
        return (start["status"], [(k.lower(), v) for k, v in start["headers"]],
                b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body"))
