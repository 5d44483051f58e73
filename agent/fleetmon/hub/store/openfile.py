"""The writer's connection to the database file and every in-memory view of the file it rebuilds on open.

The writer opens the file afresh after every failure, so these views never outlive what the file holds:
the ids (``series.Registry``), the raw id marks, and the aggregates of raw rows not yet in the tiers.
"""

import logging
import sqlite3
from dataclasses import dataclass, field

from fleetmon.hub.store.codec import unpack_values
from fleetmon.hub.store.rollup import RollupBuffer
from fleetmon.hub.store.schema import connect, migrate
from fleetmon.hub.store.series import Registry

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class OpenFile:
    conn: sqlite3.Connection
    registry: Registry
    #: The highest raw id committed (AUTOINCREMENT ids only grow).
    last_raw_id: int
    #: The highest raw id counted in the minute/hour tiers (``meta.rollup_through``).
    rolled_through: int
    #: Minute aggregates of the raw rows above ``rolled_through``, not yet merged into the tiers.
    buffer: RollupBuffer = field(default_factory=RollupBuffer)

    def close(self) -> None:
        _close_quietly(self.conn)


def open_file(path: str, busy_timeout: float) -> tuple[OpenFile, int]:
    """Connect, create or check the schema, and rebuild the views; also how many raw rows were replayed
    into the buffer (after a crash, or a failure that closed the connection). Nothing is left open when
    this raises."""
    conn = connect(path, busy_timeout=busy_timeout)
    try:
        migrate(conn)
        registry = Registry(conn)
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'raw'").fetchone()
        rolled_through = conn.execute("SELECT value FROM meta WHERE key = 'rollup_through'").fetchone()[0]
        opened = OpenFile(conn, registry, row[0] if row else 0, rolled_through)
        replayed = 0
        for host_id, ts, layout_id, vals in conn.execute(
                "SELECT host_id, ts, layout_id, vals FROM raw WHERE id > ? ORDER BY id", (rolled_through,)):
            opened.buffer.add(host_id, ts, registry.layout(layout_id), unpack_values(vals))
            replayed += 1
    except BaseException:
        _close_quietly(conn)
        raise
    return opened, replayed


def _close_quietly(conn: sqlite3.Connection) -> None:
    """Close a connection that may have failed: there is nothing left to save on it."""
    try:
        conn.close()
    except sqlite3.Error:
        log.debug("history store: closing a failed connection", exc_info=True)
