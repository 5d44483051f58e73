"""The hub's history store: SQLite (WAL) with a raw tier and minute/hour tiers (docs/hub.md "History").

    store = Store("/var/lib/fleetmon/hub.db", StoreConfig())
    store.start()
    store.write_sample(host, session, seq, ts, metrics_wire, backfill=False)   # never blocks
    store.query("srv-01", "fleetmon_cpu_usage_ratio", {}, start, end)          # tier picked by range
"""

from fleetmon.hub.store.config import HOUR, MINUTE, RAW, TIERS, StoreConfig, pick_tier
from fleetmon.hub.store.counters import Counters
from fleetmon.hub.store.history import Store
from fleetmon.hub.store.records import AlertRecord, BucketedSeries, CheckRecord, Event, QueriedSeries, StateChange

__all__ = ["HOUR", "MINUTE", "RAW", "TIERS", "AlertRecord", "BucketedSeries", "CheckRecord", "Counters", "Event",
           "QueriedSeries", "StateChange", "Store", "StoreConfig", "pick_tier"]
