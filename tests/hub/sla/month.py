"""A November of two hosts in a real presence ledger, for the API and CLI tests: srv-a samples every 10 minutes
and restarts on the 10th with an hour without samples; srv-b samples every 10 minutes without a break. The
engine's clock stands on the 20th; there is no history file (host_up reads the ledger alone)."""

from datetime import datetime, timezone
from pathlib import Path

from fleetmon.hub.alerting.timeintervals import TimeIntervals
from fleetmon.hub.model import ONLINE
from fleetmon.hub.sla.config import SLO, HostUp
from fleetmon.hub.sla.engine import HostInfo, SLAEngine
from fleetmon.hub.sla.ledger import PresenceLedger, Sample


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


START, RESTART, NOW = at("2026-11-01 00:00"), at("2026-11-10 00:00"), at("2026-11-20 00:00")
INTERVAL = 600.0
OUTAGE = 3600.0  # srv-a: its last sample of session 1 vouches up to RESTART, session 2 starts an hour later
MEMBERS = {"srv-a": HostInfo(("web",), {}, INTERVAL), "srv-b": HostInfo(("web",), {}, INTERVAL)}
SLOS = [SLO("web-up", HostUp(), 99.9, description="the web servers answer"),
        SLO("web-week", HostUp(), 99.0, period="weekly")]


def november(tmp_path: Path) -> SLAEngine:
    ledger_path = str(tmp_path / "sla.db")
    ledger = PresenceLedger(ledger_path)
    samples = []
    for host in MEMBERS:
        ts, session, seq = START, 1, 1
        while ts < NOW:
            if host == "srv-a" and session == 1 and ts >= RESTART:
                ts, session, seq = RESTART + OUTAGE, 2, 1
            samples.append(Sample(len(samples) + 1, host, session, seq, ts))
            ts, seq = ts + INTERVAL, seq + 1
    ledger.advance(samples, len(samples), lambda host: INTERVAL, 3.0)
    ledger.close()
    return SLAEngine(SLOS, str(tmp_path / "history.db"), ledger_path, lambda: MEMBERS, lambda host: (ONLINE, True),
                     lambda host, groups, start, end: [], TimeIntervals(), 3.0, clock=lambda: NOW)
