"""Console sessions: opened by a login, named by a random id in the ``fleetmon_session`` cookie, kept in
``auth.db`` as the id's sha256 (so that a copy of the file logs nobody in), each with its own CSRF token.

A session ends when it has been idle for ``auth.session_ttl``, SESSION_MAX_AGE after its login whatever its use,
at its logout, or when its user's password changes. Whose it is, not what that user may do, is stored: the
role is the config's of the moment (fleetmon.hub.auth.authority), so a reload that changes it applies at once.
"""

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import NamedTuple

from fleetmon.hub.auth.config import SESSION_MAX_AGE
from fleetmon.hub.auth.database import AuthDatabase

#: How stale a session's last use may be on disk: a console polling every few seconds writes once a minute.
TOUCH_INTERVAL = 60.0


class Session(NamedTuple):
    user: str
    csrf: str  # the X-CSRF-Token its changes must carry
    credential: str  # fingerprint of the password hash it was opened with
    created: float
    seen: float


class SessionStore:
    def __init__(self, db: AuthDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db, self._clock = db, clock

    def open(self, user: str, credential: str, idle_ttl: float) -> tuple[str, Session]:
        """A new session for ``user``: its id (for the cookie, stored nowhere) and the session."""
        now = self._clock()
        session_id = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(24), credential, now, now)
        with self._db.connection() as db:
            self._prune(db, now, idle_ttl)
            db.execute("INSERT INTO sessions (id_hash, user, csrf, credential, created, seen) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (_digest(session_id), *session))
        return session_id, session

    def find(self, session_id: str, idle_ttl: float) -> Session | None:
        """The live session ``session_id`` names, marked as used now; None when there is none (an ended one is
        removed)."""
        now = self._clock()
        key = _digest(session_id)
        with self._db.connection() as db:
            row = db.execute("SELECT user, csrf, credential, created, seen FROM sessions WHERE id_hash = ?",
                             (key,)).fetchone()
            if row is None:
                return None
            session = Session(*row)
            if _ended(session, now, idle_ttl):
                db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
                return None
            if now - session.seen >= TOUCH_INTERVAL:
                db.execute("UPDATE sessions SET seen = ? WHERE id_hash = ?", (now, key))
                session = session._replace(seen=now)
        return session

    def end(self, session_id: str) -> None:
        with self._db.connection() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))

    @staticmethod
    def _prune(db, now: float, idle_ttl: float) -> None:
        db.execute("DELETE FROM sessions WHERE seen < ? OR created < ?", (now - idle_ttl, now - SESSION_MAX_AGE))


def _ended(session: Session, now: float, idle_ttl: float) -> bool:
    return now - session.seen > idle_ttl or now - session.created > SESSION_MAX_AGE


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
