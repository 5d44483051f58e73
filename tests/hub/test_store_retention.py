"""How long each table keeps its rows (``tiers.retention_cutoffs``): each tier and the records by their own
retention, and no table of the schema without one."""

import sqlite3
from typing import NamedTuple

import pytest

from fleetmon.hub.store import StoreConfig
from fleetmon.hub.store.schema import migrate
from fleetmon.hub.store.tiers import retention_cutoffs

NOW = 10_000_000.0
HOUR, DAY = 3600.0, 86400.0
# Four different retentions, so a table that took another's would show.
CONFIG = StoreConfig(raw_window=HOUR, minute_retention=DAY, hour_retention=7 * DAY, record_retention=2 * DAY)


class Case(NamedTuple):
    table: str
    oldest_kept: float  # rows dated before this are pruned


CASES = [
    Case("raw", NOW - HOUR),  # raw_window: the raw tier is the biggest, kept shortest
    Case("rollup_1m", NOW - DAY),  # minute_retention
    Case("rollup_1h", NOW - 7 * DAY),  # hour_retention: the longest history, the coarsest
    # record_retention, one for every kind of record: checks, events, state changes, alert history
    Case("checks", NOW - 2 * DAY),
    Case("events", NOW - 2 * DAY),
    Case("state_changes", NOW - 2 * DAY),
    Case("alerts", NOW - 2 * DAY),
]


@pytest.mark.parametrize("case", CASES, ids=[case.table for case in CASES])
def test_each_table_keeps_its_own_retention(case):
    assert retention_cutoffs(CONFIG, NOW)[case.table] == case.oldest_kept


def test_every_table_that_grows_has_a_retention():
    """Only the id tables (and meta) are kept whole: what they name is small and referenced by every row."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    kept_whole = {"hosts", "series", "layouts", "meta", "sqlite_sequence"}
    assert set(retention_cutoffs(CONFIG, NOW)) == tables - kept_whole == {case.table for case in CASES}
