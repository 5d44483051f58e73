"""The audit log in ``auth.db``: every login (and failed one, with why), logout and change made through the
API, with who made it, from where and on what; kept as long as ``history.record_retention``.

Changes are written by the middleware (fleetmon.hub.auth.middleware) once their answer is known, so no route
has to remember; ``describe_change`` names what a change did from its request and answer.
"""

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from fleetmon.hub.auth.database import AuthDatabase

#: How often entries past their retention are removed (on a write, so an idle hub does no work).
PRUNE_INTERVAL = 3600.0
#: Longer texts (a comment, a user name someone typed) are cut to this many characters.
MAX_TEXT = 500


class Change(NamedTuple):
    action: str
    target: str
    detail: str


class AuditLog:
    def __init__(self, db: AuthDatabase, retention: Callable[[], float],
                 clock: Callable[[], float] = time.time) -> None:
        self._db, self._retention, self._clock = db, retention, clock
        self._pruned_at = float("-inf")

    def record(self, user: str | None, role: str | None, client: str, action: str, target: str = "",
               ok: bool = True, detail: str = "") -> None:
        now = self._clock()
        with self._db.connection() as db:
            db.execute("INSERT INTO audit (at, user, role, client, action, target, ok, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (now, _cut(user), role, _cut(client), action, _cut(target), int(ok), _cut(detail)))
            if now - self._pruned_at >= PRUNE_INTERVAL:
                self._pruned_at = now
                db.execute("DELETE FROM audit WHERE at < ?", (now - self._retention(),))

    def entries(self, since: float, limit: int) -> list[dict[str, Any]]:
        """The newest entries at or after ``since``, newest first."""
        with self._db.connection() as db:
            rows = db.execute("SELECT at, user, role, client, action, target, ok, detail FROM audit WHERE at >= ? "
                              "ORDER BY at DESC, rowid DESC LIMIT ?", (since, limit)).fetchall()
        return [{"at": at, "user": user, "role": role, "client": client, "action": action, "target": target,
                 "ok": bool(ok), "detail": detail} for at, user, role, client, action, target, ok, detail in rows]


def describe_change(method: str, path: str, request_body: bytes, answer_body: bytes) -> Change:
    """What a change that succeeded did, named from its request and answer (both JSON where the API's are)."""
    request, answer = _json(request_body), _json(answer_body)
    if method == "POST" and path == "/api/v1/acks":
        return Change("ack", _text(request, "target"), _text(request, "comment"))
    if method == "POST" and path == "/api/v1/silences":
        silence = answer.get("silence") if isinstance(answer.get("silence"), dict) else {}
        detail = "; ".join(part for part in (_text(silence, "matchersText"), _text(request, "comment")) if part)
        return Change("silence", _text(answer, "id"), detail)
    if method == "DELETE" and path.startswith("/api/v1/silences/"):
        return Change("silence_expire", path.removeprefix("/api/v1/silences/"), "")
    if method == "POST" and path == "/api/v2/alerts":
        accepted = answer.get("accepted")
        return Change("alerts", "", f"{accepted} alerts" if isinstance(accepted, int) else "")
    return Change("change", f"{method} {path}", "")


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}


def _text(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    return value if isinstance(value, str) else ""


def _cut(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT]
