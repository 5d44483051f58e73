"""Journal entries and logs bodies as an agent sends them (schemas/logs.json), for the log store's tests."""

from pathlib import Path
from typing import Any

from fleetmon.hub.logs.config import LogsConfig
from fleetmon.hub.logs.store import LogStore

T0 = 1_800_000_000.0  # the tests' "now"


def entry(n: int, message: str = "", *, ts: float | None = None, priority: int = 6, unit: str = "app.service",
          identifier: str = "app", pid: int | None = 100, transport: str = "journal",
          cursor: str | None = None) -> dict[str, Any]:
    """The journal's ``n``-th entry: its cursor and (unless given) its time follow from ``n``."""
    return {"ts": T0 + n if ts is None else ts, "cursor": cursor or f"s=4f2a;i={n:x};b=77;m=1;t=2;x=3",
            "priority": priority, "unit": unit, "identifier": identifier, "pid": pid, "transport": transport,
            "message": message or f"line {n}"}


def kernel(n: int, message: str, priority: int = 3, **fields: Any) -> dict[str, Any]:
    return entry(n, message, priority=priority, unit="", identifier="kernel", pid=None, transport="kernel", **fields)


def body(*entries: dict[str, Any], dropped: dict[str, int] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"entries": list(entries)}
    if dropped:
        payload["dropped"] = dropped
    return payload


def filled(tmp_path: Path, batches: dict[str, list[dict[str, Any]]], config: LogsConfig | None = None,
           **kwargs: Any) -> LogStore:
    """A store on a real file in ``tmp_path`` holding ``batches`` (host -> entries), written."""
    store = LogStore(str(tmp_path / "logs.db"), config, **kwargs)
    for host, entries in batches.items():
        assert store.take(host, body(*entries))
    assert store.flush()
    return store
