"""Why a write failed: the environment's fault or an item's, told apart by SQLite's result code, not its
message (docs/hub.md "History").

- the environment's (disk full, read-only, I/O error, locked, corrupt): the work is kept and retried (see
  ``retry``); a corrupt file is moved aside (see ``corrupt``).
- an item's own (a value SQLite refuses, a wrong type): that item alone is refused (see ``batch``).
- anything else is logged and counted as "unexpected", and the writer goes on.
"""

import os
import sqlite3
from collections.abc import Callable

#: Failures that are the environment's, not an item's, by SQLite primary result code: the work is kept and
#: retried. The names are the ``reason`` label of fleetmon_hub_db_write_failures_total.
ENVIRONMENTAL = {
    sqlite3.SQLITE_FULL: "disk_full",
    sqlite3.SQLITE_READONLY: "read_only",
    sqlite3.SQLITE_PERM: "read_only",
    sqlite3.SQLITE_IOERR: "io_error",
    sqlite3.SQLITE_CANTOPEN: "cant_open",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_PROTOCOL: "locked",
    sqlite3.SQLITE_CORRUPT: "corrupt",
    sqlite3.SQLITE_NOTADB: "corrupt",
    sqlite3.SQLITE_NOMEM: "out_of_memory",
}
#: Every reason a write can fail for; "unexpected" is a failure no item and no known condition explains.
REASONS = (*dict.fromkeys(ENVIRONMENTAL.values()), "unexpected")
#: Reasons behind which a read-only filesystem may hide: SQLite cannot open or write the file, and does
#: not say that the filesystem refused.
_MAYBE_READ_ONLY = ("cant_open", "io_error", "read_only")


def environmental_reason(exc: BaseException) -> str | None:
    """The REASONS name of a failure of the environment, None when it is not one."""
    if isinstance(exc, MemoryError):
        return "out_of_memory"
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    return None if code is None else ENVIRONMENTAL.get(code & 0xFF)


def describe(exc: BaseException) -> str:
    """``exc`` for people: SQLite's message and its result code name."""
    name = getattr(exc, "sqlite_errorname", None)
    return f"{exc} ({name})" if name else f"{type(exc).__name__}: {exc}"


def failure_reason(exc: BaseException, filesystem_read_only: Callable[[], bool]) -> tuple[str, str]:
    """The REASONS name of a failed attempt and its description for people. ``filesystem_read_only`` is
    asked only when SQLite's answer could be a read-only filesystem's."""
    reason = environmental_reason(exc) or "unexpected"
    text = describe(exc)
    if reason in _MAYBE_READ_ONLY and filesystem_read_only():
        # SQLite says it cannot open or write a file; the filesystem says why
        reason, text = "read_only", f"{text}; the filesystem is read-only"
    return reason, text


def filesystem_read_only(path: str) -> bool:
    """Whether the filesystem holding ``path`` is mounted read-only (False when that cannot be told)."""
    try:
        return bool(os.statvfs(os.path.dirname(os.path.abspath(path))).f_flag & os.ST_RDONLY)
    except OSError:
        return False
