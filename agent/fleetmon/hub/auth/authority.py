"""Who is asking: a request's bearer token or session cookie turned into a user and the role the config gives
that user now, and the login and logout that open and end sessions.

The users, roles and ``anonymous_read`` are read from the config in force at every request (``config`` and
``api_token`` are callables), so a reload (SIGHUP) applies to open sessions at once: a removed user's sessions
end, a changed role counts from the next request, and everyone else stays logged in.
"""

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import math
import time
from collections.abc import Callable
from typing import NamedTuple

from starlette.concurrency import run_in_threadpool

from fleetmon.hub.auth.audit import AuditLog
from fleetmon.hub.auth.config import API_TOKEN_USER, AuthConfig, User
from fleetmon.hub.auth.database import AuthDatabase
from fleetmon.hub.auth.passwords import verify_password
from fleetmon.hub.auth.ratelimit import Throttle
from fleetmon.hub.auth.sessions import Session, SessionStore
from fleetmon.hub.auth.tokens import token_hash

#: Checked when the user is unknown, so that an unknown name costs the time a wrong password does and the
#: answer's delay does not tell which names exist. It matches no password.
DECOY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
BAD_LOGIN = "unknown user or wrong password"
#: Failed logins one client address has free in the throttle's window (a user name has ratelimit.FREE_FAILURES).
CLIENT_FREE_FAILURES = 20
BAD_TOKEN = "a valid API token is required: Authorization: Bearer <token>"
#: Longer basic auth credentials are not checked (the base64 of a name and a password of the login's limits).
MAX_BASIC_CREDENTIALS = 4096


class Identity(NamedTuple):
    user: str | None  # None: nobody logged in
    role: str | None  # the user's role in the config in force
    session: Session | None = None  # the console session the request came with (its csrf guards changes)
    session_id: str = ""


ANONYMOUS = Identity(None, None)


class Refusal(NamedTuple):
    status: int  # 401, or 429 while throttled
    error: str
    retry_after: float = 0.0


class Authority:
    def __init__(self, config: Callable[[], AuthConfig], api_token: Callable[[], str], db: AuthDatabase,
                 retention: Callable[[], float], clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._config, self._api_token, self._db = config, api_token, db
        self.sessions = SessionStore(db, clock)
        self.audit = AuditLog(db, retention, clock)
        # Failed logins per user name, and per client address with more to spare: the people behind one office
        # address or proxy are not locked out by one of them guessing, while a client trying name after name is.
        self.logins = Throttle(monotonic)
        self.login_clients = Throttle(monotonic, free_failures=CLIENT_FREE_FAILURES)
        self.bad_tokens = Throttle(monotonic)  # wrong bearer tokens, per client address
        self._login_lock = asyncio.Lock()  # one password check at a time: the throttle sees every failure first

    @property
    def config(self) -> AuthConfig:
        return self._config()

    @property
    def has_api_token(self) -> bool:
        return bool(self._api_token())

    def anonymous_role(self) -> str | None:
        return "viewer" if self.config.anonymous_read else None

    def identify(self, authorization: str, session_id: str, client: str, checked: bool) -> Identity | Refusal:
        """Who a request is from. A bearer token wins over a cookie. ``checked``: the request needs a role, so
        a wrong token is refused (and counted); on an open path it only makes the request anonymous."""
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            return self._by_token(token, client, checked)
        if session_id:
            return self._by_session(session_id)
        return ANONYMOUS

    async def login(self, name: str, password: str, client: str) -> tuple[str, Identity] | Refusal:
        """A new session for ``name`` (its id for the cookie, and who it is), or why not."""
        user = await self._check_password(name, password, client)
        if isinstance(user, Refusal):
            return user
        session_id, session = self.sessions.open(name, _credential(user), self.config.session_ttl)
        self.audit.record(name, user.role, client, "login")
        return session_id, Identity(name, user.role, session, session_id)

    async def identify_basic(self, authorization: str, client: str) -> Identity | Refusal:
        """Who a request with HTTP basic auth is from (Alertmanager's clients send it: amtool's http_config
        ``basic_auth``): a user's name and password, checked and throttled as a login is; no session opens."""
        scheme, _, encoded = authorization.partition(" ")
        name, colon, password = "", "", ""
        if scheme.lower() == "basic" and len(encoded) <= MAX_BASIC_CREDENTIALS:
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                name, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        if not colon:
            return Refusal(401, "basic auth must carry the base64 of user:password")
        user = await self._check_password(name, password, client, how=" (basic auth)")
        return user if isinstance(user, Refusal) else Identity(user.name, user.role)

    async def _check_password(self, name: str, password: str, client: str, how: str = "") -> User | Refusal:
        """The user whose password this is, or why not; every failure counts in the throttles and the audit log
        (``how`` says in the audit entry how it was offered)."""
        user_key, client_key = (f"user:{name}",), (f"client:{client}",)
        async with self._login_lock:
            if max(self.logins.wait(user_key), self.login_clients.wait(client_key)) > 0:
                wait = max(self.logins.failed(user_key), self.login_clients.failed(client_key))
                self.audit.record(name, None, client, "login", ok=False, detail="throttled" + how)
                return Refusal(429, f"too many failed logins: try again in {math.ceil(wait)} s", wait)
            user = self.config.users.get(name)
            encoded = user.password_hash if user is not None and user.password_hash else DECOY_HASH
            matches = await run_in_threadpool(verify_password, password, encoded)
            user = self.config.users.get(name)  # a reload may have come while the password was checked
            if user is None or not matches or encoded != user.password_hash:
                self.logins.failed(user_key)
                self.login_clients.failed(client_key)
                reason = "unknown user" if user is None else "bad password" if user.password_hash else "no password"
                self.audit.record(name, None, client, "login", ok=False, detail=reason + how)
                return Refusal(401, BAD_LOGIN)
        self.logins.forget(f"user:{name}")
        return user

    def logout(self, identity: Identity, client: str) -> None:
        if identity.session is None:
            return
        self.sessions.end(identity.session_id)
        self.audit.record(identity.user, identity.role, client, "logout")

    def close(self) -> None:
        self._db.close()

    def _by_token(self, token: str, client: str, checked: bool) -> Identity | Refusal:
        api_token = self._api_token()
        if api_token and hmac.compare_digest(token.encode(), api_token.encode()):
            return Identity(API_TOKEN_USER, "admin")
        config = self.config
        user = config.users.get(config.token_owners.get(token_hash(token), ""))
        if user is not None:
            return Identity(user.name, user.role)
        if not checked:
            return ANONYMOUS
        # A right token always passes, whatever a client behind the same address got wrong: a token is random
        # and long, nobody guesses it; the back-off stops a client hammering with a wrong one.
        key = (f"token:{client}",)
        throttled = self.bad_tokens.wait(key) > 0
        wait = self.bad_tokens.failed(key)
        if throttled:
            return Refusal(429, f"too many wrong API tokens: try again in {math.ceil(wait)} s", wait)
        return Refusal(401, BAD_TOKEN)

    def _by_session(self, session_id: str) -> Identity:
        config = self.config
        session = self.sessions.find(session_id, config.session_ttl)
        if session is None:
            return ANONYMOUS
        user = config.users.get(session.user)
        if user is None or _credential(user) != session.credential:  # removed by a reload, or a new password
            self.sessions.end(session_id)
            return ANONYMOUS
        return Identity(user.name, user.role, session, session_id)


def _credential(user: User) -> str:
    """A fingerprint of the password a session was opened with (not the hash itself: the hash stays in the config)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]
