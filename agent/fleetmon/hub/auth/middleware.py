"""The access control in front of every route: who is asking (fleetmon.hub.auth.authority), what the request
needs (fleetmon.hub.auth.policy), the CSRF token of cookie sessions, and the audit entry of each change.
A request shows who it is from with a bearer token, a session cookie or, on Alertmanager's API (/api/v2/, whose
clients send it), HTTP basic auth with a user's name and password, checked and throttled as a login is.

Pure ASGI rather than a BaseHTTPMiddleware, so the live feed's event stream passes through unbuffered. What
it found is in ``scope["state"]`` for the routes: ``user`` (None when nobody logged in), ``role`` (the one in
force, ``viewer`` for an anonymous reader where allowed), ``csrf`` (the session's, or "") and ``identity`` (all
of it, for the logout) and ``still_allowed`` (whether those credentials would still be let in, for a response
that lasts).
"""

import hmac
import math
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleetmon.hub.auth.audit import describe_change
from fleetmon.hub.auth.authority import Authority, Identity, Refusal
from fleetmon.hub.auth.policy import LOGIN_PATH, READS, Required, allows, required_role

SESSION_COOKIE = "fleetmon_session"
CSRF_HEADER = "x-csrf-token"
#: Where HTTP basic auth (a user's name and password) is taken: Alertmanager's API, whose clients send it.
BASIC_AUTH_PATHS = "/api/v2/"
#: The changes a cross-site form could send (DELETE it cannot).
BODY_CHANGES = frozenset({"POST", "PUT", "PATCH"})
#: The most of a change's request and answer kept to name what it did in the audit log.
AUDIT_BODY_BYTES = 64 * 1024


class AuthMiddleware:
    def __init__(self, app: ASGIApp, authority: Authority) -> None:
        self.app, self.authority = app, authority

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        method, path = scope["method"], scope["path"]
        needed = required_role(method, path)
        client = connection.client.host if connection.client else ""
        authorization = connection.headers.get("authorization", "")
        session_id = connection.cookies.get(SESSION_COOKIE, "")
        basic = authorization[:6].lower() == "basic " and path.startswith(BASIC_AUTH_PATHS)
        if basic:
            found = await self.authority.identify_basic(authorization, client)
        else:
            found = self.authority.identify(authorization, session_id, client, needed != "open")
        if basic and not isinstance(found, Refusal) and method in BODY_CHANGES \
                and connection.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            # A browser resends basic credentials it once took by itself; a page of another site can post a
            # form with them, but not JSON without asking first.
            found = Refusal(415, "a change with basic auth takes Content-Type: application/json")
        if isinstance(found, Refusal):
            await _refusal(found)(scope, receive, send)
            return
        role = found.role if found.user is not None else self.authority.anonymous_role()

        def still_allowed() -> bool:
            """Whether the same credentials may still make this request (a reload may have removed the user or
            changed the role): a response that lasts, like the live feed's stream, asks now and then."""
            again = self.authority.identify(authorization, session_id, client, False)
            if isinstance(again, Refusal):
                return False
            return allows(again.role if again.user is not None else self.authority.anonymous_role(), needed)

        scope.setdefault("state", {}).update(user=found.user, role=role, identity=found,
                                             csrf=found.session.csrf if found.session else "",
                                             still_allowed=still_allowed)
        problem = self._problem(needed, found, role, method, path, connection)
        if problem is not None:
            if problem.status == 403 and method not in READS:
                self.authority.audit.record(found.user, role, client, "refused", f"{method} {path}", ok=False,
                                            detail=problem.error)
            await _refusal(problem)(scope, receive, send)
        elif method in READS or needed == "open":  # the login and logout audit themselves
            await self.app(scope, receive, send)
        else:
            await self._audited(scope, receive, send, found, role, client)

    def _problem(self, needed: Required, found: Identity, role: str | None, method: str, path: str,
                 connection: HTTPConnection) -> Refusal | None:
        if found.user is None and not allows(role, needed):
            return Refusal(401, self._login_needed())
        if not allows(role, needed):
            return Refusal(403, f"role {needed} required")
        if method not in READS and found.session is not None and path != LOGIN_PATH:
            offered = connection.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(offered.encode(), found.session.csrf.encode()):
                return Refusal(403, "the X-CSRF-Token header is missing or wrong (GET /api/v1/auth/me answers it)")
        return None

    def _login_needed(self) -> str:
        if self.authority.config.users:
            return "login required"
        if self.authority.has_api_token:
            return "a valid API token is required: Authorization: Bearer <api.token>"
        return ("this hub has no API token configured (api.token in the hub config) and no users (auth.users), "
                "so it refuses every change")

    async def _audited(self, scope: Scope, receive: Receive, send: Send, found: Identity, role: str | None,
                       client: str) -> None:
        """Pass a change on; once it has been answered with success, write its audit entry."""
        request: list[bytes] = []
        answer: list[bytes] = []
        status = 0

        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request" and sum(map(len, request)) < AUDIT_BODY_BYTES:
                request.append(message.get("body", b""))
            return message

        async def answering(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and sum(map(len, answer)) < AUDIT_BODY_BYTES:
                answer.append(message.get("body", b""))
            await send(message)

        await self.app(scope, reading, answering)
        if 200 <= status < 400:
            change = describe_change(scope["method"], scope["path"], b"".join(request), b"".join(answer))
            self.authority.audit.record(found.user, role, client, change.action, change.target, detail=change.detail)


def _refusal(refusal: Refusal) -> Any:
    body: dict[str, Any] = {"error": refusal.error}
    headers = {}
    if refusal.status == 429:
        retry_after = max(1, math.ceil(refusal.retry_after))
        body["retry_after"] = retry_after
        headers["Retry-After"] = str(retry_after)
    elif refusal.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="fleetmon"'
    return JSONResponse(body, status_code=refusal.status, headers=headers)
