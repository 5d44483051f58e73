"""The maintenance calendar: every window, from the config and from people, and what they mean right now.

The dispatcher asks it as a muter (``reason``): an alert inside an active window is not notified and reads
"in maintenance window NAME". It watches the windows' edges for the dispatcher (``active_ids``), which looks
at every group again when a window opens or closes, so a host still down when its window ends pages then,
not a group interval later. The SLA reports ask it which stretches of a host's time to exclude (``spans``).

Windows made through the API, and the early end of any window, are kept in the alerting database (the
hub's own state, beside the alert journal), so a restart keeps them; the config's windows come back from the
config. Which groups a host belongs to is learned from the fleet state each rules round (``learn_groups``):
the calendar never takes the fleet's lock, as the dispatcher asks it with its own held.
"""

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.maintenance.windows import Window, WindowError, window_from_node

SCHEMA = "CREATE TABLE IF NOT EXISTS maintenance_windows (id TEXT PRIMARY KEY, body TEXT NOT NULL)"
#: Windows ended this long ago are forgotten by ``prune`` (their time stays excluded in SLA reports only
#: while they are kept: keep them as long as the reports look back).
KEEP_ENDED = 400 * 86400.0


class WindowNotFound(LookupError):
    pass


class MaintenanceCalendar:
    def __init__(self, path: str | None, configured: Iterable[Window] = ()) -> None:
        self._lock = threading.Lock()
        self._conn = None if path is None else sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._groups: dict[str, tuple[str, ...]] = {}
        self._made: dict[str, Window] = {}  # through the API
        self._ended: dict[str, float] = {}  # config windows ended early, by id
        self._configured: dict[str, Window] = {}
        if self._conn is not None:
            self._conn.execute("PRAGMA busy_timeout = 10000")
            self._conn.execute(SCHEMA)
            for window_id, body in self._conn.execute("SELECT id, body FROM maintenance_windows"):
                self._load(window_id, json.loads(body))
        self.reconfigure(configured)

    def _load(self, window_id: str, body: dict) -> None:
        if body.get("source") == "config":
            self._ended[window_id] = body["endedAt"]
            return
        window = window_from_node(Node(body["window"], "", Errors()), window_id, "api", body.get("createdBy", ""))
        if window is not None:
            self._made[window_id] = window if body.get("endedAt") is None else window.ended(body["endedAt"])

    def reconfigure(self, configured: Iterable[Window]) -> None:
        with self._lock:
            self._configured = {w.id: w for w in configured}

    def learn_groups(self, groups: Mapping[str, Sequence[str]]) -> None:
        """Each host's inventory groups, from the fleet state (the rules loop, every round)."""
        self._groups = {host: tuple(names) for host, names in groups.items()}

    def groups_of(self, host: str) -> tuple[str, ...]:
        return self._groups.get(host, ())

    def windows(self) -> list[Window]:
        with self._lock:
            configured = [w if w.id not in self._ended else w.ended(self._ended[w.id])
                          for w in self._configured.values()]
            return configured + list(self._made.values())

    # --- asked by the dispatcher (its lock held) and the SLA reports ----------------------------

    def reason(self, labels: Mapping[str, str], now: float) -> str:
        for window in self.windows():
            if window.active(now) and window.covers(labels, self.groups_of):
                return f"in maintenance window {window.name}"
        return ""

    def active_ids(self, now: float) -> frozenset[str]:
        return frozenset(w.id for w in self.windows() if w.active(now))

    def spans(self, host: str, groups: Sequence[str], start: float, end: float) -> list[tuple[float, float]]:
        """The stretches of [start, end) the host spent in maintenance (overlapping windows may overlap)."""
        return [span for w in self.windows() if w.covers_host(host, groups) for span in w.spans(start, end)]

    # --- changed by people ---------------------------------------------------------------------

    def add(self, body: object, created_by: str) -> Window:
        """A window from an API body (the config's keys); WindowError naming every bad field."""
        errors = Errors()
        window = window_from_node(Node(body, "", errors), secrets.token_hex(6), "api", created_by)
        if window is None:
            raise WindowError("; ".join(errors))
        with self._lock:
            self._made[window.id] = window
            self._write(window.id, {"source": "api", "window": body, "createdBy": created_by, "endedAt": None})
        return window

    def end(self, window_id: str, now: float) -> Window:
        with self._lock:
            window = self._made.get(window_id) or self._configured.get(window_id)
            if window is None:
                raise WindowNotFound(f"no maintenance window with id {window_id}")
            if window.status(now) == "ended" or window.ended_at is not None or window_id in self._ended:
                raise WindowError(f"maintenance window {window_id} has already ended")
            ended = window.ended(now)
            if window.source == "config":
                self._ended[window_id] = now
                self._write(window_id, {"source": "config", "endedAt": now})
            else:
                self._made[window_id] = ended
                row = self._conn.execute("SELECT body FROM maintenance_windows WHERE id = ?",
                                         (window_id,)).fetchone() if self._conn else None
                body = json.loads(row[0]) if row else {"source": "api", "window": {}}
                self._write(window_id, {**body, "endedAt": now})
            return ended

    def prune(self, now: float) -> None:
        with self._lock:
            gone = [w.id for w in self._made.values() if w.status(now) == "ended"
                    and min(w.ends_at, w.ended_at or w.ends_at) < now - KEEP_ENDED]
            for window_id in gone:
                del self._made[window_id]
                if self._conn is not None:
                    self._conn.execute("DELETE FROM maintenance_windows WHERE id = ?", (window_id,))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _write(self, window_id: str, body: dict) -> None:
        if self._conn is not None:
            self._conn.execute("INSERT OR REPLACE INTO maintenance_windows VALUES (?, ?)",
                               (window_id, json.dumps(body)))


def parse_maintenance(node: Node) -> tuple[Window, ...]:
    """The hub config's ``maintenance:`` list (rendered from the inventory); a window's id is its name."""
    windows: list[Window] = []
    for item in node.sequence():
        name = item.child("name").value if isinstance(item.value, dict) else None
        if isinstance(name, str) and any(w.id == name for w in windows):
            item.child("name").fail(f"another window is named {name!r}")
            continue
        window = window_from_node(item, str(name or ""), "config")
        if window is not None:
            windows.append(window)
    return tuple(windows)
