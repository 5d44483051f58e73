"""The web application the journey tests walk: login form -> token -> API call -> logout.

``ShopApp`` runs http.server in a thread, so it runs on the agent's Python 3.8 too. It can be broken on
purpose: its login service down, its orders API slow, or failing for the probes named in ``failing_probes``
(each probe sends its host id in ``X-Probe``). ``shop_journey`` is the journey as a user writes it.
"""

import http.server
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Set
from urllib.parse import parse_qs

#: Holds the characters forms, URLs and JSON quote, so every quoted form of it must be hidden too.
PASSWORD = 's3cret&pa55 "word"/x'


class ShopApp:
    """The shop a journey logs in to. Everything it was sent is in ``seen`` (path -> the requests' headers)."""

    def __init__(self) -> None:
        self.failing_probes: Set[str] = set()
        self.login_down = False
        self.orders_delay = 0.0
        self.seen: Dict[str, List[Dict[str, str]]] = {}
        self.bodies: Dict[str, List[str]] = {}
        self.issued: Dict[str, str] = {}  # what it handed out last: csrf, session, token, request_id
        self.logouts: List[str] = []
        self._release = threading.Event()  # ends the /hang page when the app stops
        self._lock = threading.Lock()
        self._sessions: Dict[str, Dict[str, Any]] = {}  # session id -> csrf, user
        self._tokens: Set[str] = set()
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                app.handle(self, "GET")

            def do_POST(self) -> None:
                app.handle(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass  # keep the test output readable

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "ShopApp":
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: http.server.BaseHTTPRequestHandler, method: str) -> None:
        path = request.path.split("?")[0]
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length).decode() if length else ""
        with self._lock:
            self.seen.setdefault(f"{method} {path}", []).append(dict(request.headers.items()))
            self.bodies.setdefault(f"{method} {path}", []).append(body)
        route = {("GET", "/login"): self.login_form, ("POST", "/login"): self.login,
                 ("GET", "/api/orders"): self.orders, ("POST", "/logout"): self.logout, ("GET", "/moved"): self.moved,
                 ("GET", "/hang"): self.hang, ("POST", "/echo"): self.echo}
        handler = route.get((method, path))
        status, headers, content = handler(request, body) if handler else (404, {}, "no such page")
        data = content.encode() if isinstance(content, str) else json.dumps(content).encode()
        try:
            request.send_response(status)
            for name, value in headers.items():
                request.send_header(name, value)
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the journey gave up waiting (its timeout): that is what the test wanted

    def login_form(self, request: http.server.BaseHTTPRequestHandler, body: str):
        session, csrf = secrets.token_hex(8), secrets.token_hex(8)
        with self._lock:
            self._sessions[session] = {"csrf": csrf, "user": None}
            self.issued.update(session=session, csrf=csrf)
        page = f'<html><form method="post"><input type="hidden" name="csrf" value="{csrf}"></form></html>'
        return 200, {"Set-Cookie": f"session={session}; Path=/; HttpOnly", "Content-Type": "text/html"}, page

    def login(self, request: http.server.BaseHTTPRequestHandler, body: str):
        if self.login_down:
            return 503, {}, "login service down"
        form = {key: values[0] for key, values in parse_qs(body).items()}
        session = self._sessions.get(_cookie(request, "session") or "")
        if session is None or form.get("csrf") != session["csrf"]:
            return 403, {}, "bad csrf token"
        if form.get("password") != PASSWORD:
            # A careless application: it echoes what it was sent. The journey must not publish it.
            return 401, {}, f"wrong password {form.get('password')} for {form.get('user')}"
        token, request_id = secrets.token_hex(12), f"req-{secrets.token_hex(4)}"
        with self._lock:
            session["user"] = form.get("user")
            self._tokens.add(token)
            self.issued.update(token=token, request_id=request_id)
        return 200, {"X-Request-Id": request_id, "Content-Type": "application/json"}, {"token": token,
                                                                                       "user": form.get("user")}

    def orders(self, request: http.server.BaseHTTPRequestHandler, body: str):
        if not self._authorized(request):
            return 401, {}, "not logged in"
        probe = request.headers.get("X-Probe", "")
        if probe in self.failing_probes:
            return 503, {}, f"orders backend unavailable for {probe}"
        if self.orders_delay:
            time.sleep(self.orders_delay)  # the application being slow, not the test waiting
        return 200, {"Content-Type": "application/json"}, {"orders": [{"id": 17, "item": "widget", "paid": True}],
                                                           "user": "alice"}

    def logout(self, request: http.server.BaseHTTPRequestHandler, body: str):
        if not self._authorized(request):
            return 401, {}, "not logged in"
        with self._lock:
            self.logouts.append(request.headers.get("X-Probe", ""))
        return 204, {}, ""

    def moved(self, request: http.server.BaseHTTPRequestHandler, body: str):
        return 302, {"Location": "/login"}, ""

    def echo(self, request: http.server.BaseHTTPRequestHandler, body: str):
        return 200, {"Content-Type": "application/json"}, {"content_type": request.headers.get("Content-Type"),
                                                           "body": body}

    def hang(self, request: http.server.BaseHTTPRequestHandler, body: str):
        self._release.wait(10)
        return 200, {}, "too late"

    def _authorized(self, request: http.server.BaseHTTPRequestHandler) -> bool:
        token = (request.headers.get("Authorization") or "").replace("Bearer ", "", 1)
        session = self._sessions.get(_cookie(request, "session") or "")
        return token in self._tokens and session is not None and session["user"] is not None


def _cookie(request: http.server.BaseHTTPRequestHandler, name: str) -> Optional[str]:
    for part in (request.headers.get("Cookie") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def shop_journey(base_url: str, password_file: Path, probe: str = "", interval: str = "1s") -> Dict[str, Any]:
    """The journey as a user writes it in the agent config; every step sends X-Probe when ``probe`` is set."""
    probe_header = {"X-Probe": probe} if probe else {}
    return {
        "type": "journey", "interval": interval, "timeout": "5s",
        "secrets": {"password": {"file": str(password_file)}},
        "steps": [
            {"name": "form", "url": base_url + "/login", "headers": probe_header, "body_match": "<form",
             "extract": {"csrf": {"regex": 'name="csrf" value="([0-9a-f]+)"'}, "sid": {"cookie": "session"}}},
            {"name": "token", "method": "POST", "url": base_url + "/login", "headers": probe_header,
             "form": {"user": "alice", "password": "${password}", "csrf": "${csrf}"},
             "expect_headers": {"Content-Type": "^application/json"}, "expect_json": {"$.user": "alice"},
             "extract": {"token": {"json": "$.token"}, "request_id": {"header": "X-Request-Id"}}},
            {"name": "orders", "url": base_url + "/api/orders",
             "headers": dict(probe_header, **{"Authorization": "Bearer ${token}", "X-Request": "${request_id}",
                                              "X-Session": "${sid}"}),
             "expect_json": {"$.orders[0].item": "widget", "$.orders[0].paid": True},
             "extract": {"order": {"json": "$.orders[0].id"}}},
            {"name": "logout", "method": "POST", "url": base_url + "/logout", "always": True, "expect_status": [204],
             "headers": dict(probe_header, Authorization="Bearer ${token}")},
        ],
    }


