"""A corrupt database file never heals: the writer keeps it beside (for recovery by hand) and starts a new,
empty history in its place. Readers notice through ``Counters.databases_replaced`` and reopen."""

import logging
import os
import time

log = logging.getLogger(__name__)

#: The database file and the files SQLite keeps beside it in WAL mode: moved together, or the new file
#: would meet the old one's log.
_SUFFIXES = ("", "-wal", "-shm")


def move_aside(path: str, why: str) -> bool:
    """Rename ``path`` (and its WAL files) to ``path.corrupt-<UTC time>``; False, logged, when it cannot."""
    target = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    try:
        for suffix in _SUFFIXES:
            if os.path.exists(path + suffix):
                os.replace(path + suffix, target + suffix)
    except OSError as exc:
        log.error("history store: %s is corrupt (%s) and could not be moved aside: %s", path, why, exc)
        return False
    log.error("history store: %s is corrupt (%s); moved it to %s and started a new, empty history",
              path, why, target)
    return True
