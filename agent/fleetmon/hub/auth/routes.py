"""The console's login, logout and who-am-i, and the audit log's read (admins only; the middleware decides).

The session cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and
Secure when the hub is reached over HTTPS; it lives no longer than a session can (SESSION_MAX_AGE).
"""

import math

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetmon.hub.auth.authority import Authority, Refusal
from fleetmon.hub.auth.config import SESSION_MAX_AGE
from fleetmon.hub.auth.middleware import SESSION_COOKIE
from fleetmon.hub.auth.policy import AUDIT_PATH, LOGIN_PATH, LOGOUT_PATH, ME_PATH

#: Longer names or passwords are not checked: nobody has one, and scrypt over megabytes costs time.
MAX_CREDENTIAL = 1024


def auth_routes(authority: Authority) -> list[Route]:
    async def login(request: Request) -> Response:
        # A form of another site can post text/plain that parses as JSON (and its answer may set a cookie): a
        # JSON content type cannot be sent across sites without the browser asking first, so this one is a
        # login made by a page of this hub or by a script (login CSRF).
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _error(415, "the login takes Content-Type: application/json")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _error(400, f"the body is not JSON: {exc}")
        if not isinstance(body, dict) or not isinstance(body.get("user"), str) \
                or not isinstance(body.get("password"), str):
            return _error(400, "expected {user, password}")
        if len(body["user"]) > MAX_CREDENTIAL or len(body["password"]) > MAX_CREDENTIAL:
            return _error(400, f"user and password are at most {MAX_CREDENTIAL} characters")
        result = await authority.login(body["user"], body["password"], _client(request))
        if isinstance(result, Refusal):
            if result.status == 429:
                retry_after = max(1, math.ceil(result.retry_after))
                return JSONResponse({"error": result.error, "retry_after": retry_after}, status_code=429,
                                    headers={"Retry-After": str(retry_after)})
            return _error(result.status, result.error)
        session_id, identity = result
        replaced = request.state.identity
        if replaced.session is not None:  # the browser's previous session ends with this login
            authority.sessions.end(replaced.session_id)
        answer = JSONResponse({"user": identity.user, "role": identity.role, "csrf": identity.session.csrf})
        answer.set_cookie(SESSION_COOKIE, session_id, max_age=int(SESSION_MAX_AGE), path="/", httponly=True,
                          samesite="strict", secure=request.url.scheme == "https")
        return answer

    async def logout(request: Request) -> Response:
        authority.logout(request.state.identity, _client(request))  # a session's; a token stays valid
        answer = JSONResponse({"ok": True})
        answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                             secure=request.url.scheme == "https")
        return answer

    async def me(request: Request) -> Response:
        state = request.state
        config = authority.config
        return JSONResponse({"user": state.user, "role": state.role if state.user is not None else None,
                             "csrf": state.csrf, "anonymous_read": config.anonymous_read,
                             "users_configured": bool(config.users)})

    async def audit(request: Request) -> Response:
        return JSONResponse({"entries": authority.audit.entries(_since(request), _limit(request))})

    return [Route(LOGIN_PATH, login, methods=["POST"]), Route(LOGOUT_PATH, logout, methods=["POST"]),
            Route(ME_PATH, me, methods=["GET"]), Route(AUDIT_PATH, audit, methods=["GET"])]


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _since(request: Request) -> float:
    """Unix seconds; default (and for what is not a finite number) everything the log keeps."""
    try:
        since = float(request.query_params.get("since", 0))
    except ValueError:
        return 0.0
    return since if math.isfinite(since) else 0.0


def _limit(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("limit", 500)), 10_000))
    except ValueError:
        return 500

