"""Which journal entries the agent keeps (fleetmon.agent.logs.filters), without I/O: each case names the
settings, the entry and why the answer is what it is."""

from typing import Any, Dict, NamedTuple

import pytest

from fleetmon.agent.logs.config import LogsConfig
from fleetmon.agent.logs.filters import LogFilter
from fleetmon.agent.logs.journal import JournalEntry


def line(message: str = "request failed", priority: int = 3, unit: str = "app.service",
         identifier: str = "app", transport: str = "journal") -> JournalEntry:
    return JournalEntry(1.0, "c", priority, unit, identifier, 42, transport, message)


def kernel(message: str, priority: int = 3) -> JournalEntry:
    return line(message, priority, unit="", identifier="kernel", transport="kernel")


class Case(NamedTuple):
    name: str
    why: str
    settings: Dict[str, Any]
    entry: JournalEntry
    kept: bool


CASES = [
    # --- priority --------------------------------------------------------------------------------------
    Case("err at warning", "3 is more severe than 4: kept", {}, line(priority=3), True),
    Case("warning at warning", "the threshold itself is kept", {}, line(priority=4), True),
    Case("info at warning", "6 is less severe than 4", {}, line(priority=6), False),
    Case("debug at debug", "everything is at or above debug", {"priority": 7}, line(priority=7), True),
    Case("kernel below priority", "priority applies to kernel messages as well", {},
         kernel("usb 1-1: new device", priority=6), False),
    # --- units and identifiers ---------------------------------------------------------------------------
    Case("no source lists", "with neither list every unit is selected", {}, line(unit="any.service"), True),
    Case("unit glob matches", "app-*.service selects app-web.service", {"units": ["app-*.service"]},
         line(unit="app-web.service"), True),
    Case("unit glob misses", "nginx.service is not in the list", {"units": ["app-*.service"]},
         line(unit="nginx.service"), False),
    Case("globs are case-sensitive", "unit names are", {"units": ["App.service"]}, line(unit="app.service"), False),
    Case("identifier selects", "a process outside the listed units, picked by its identifier",
         {"units": ["app.service"], "identifiers": ["sshd"]}, line(unit="ssh.service", identifier="sshd"), True),
    Case("neither list matches", "units and identifiers are alternatives; this entry fits neither",
         {"units": ["app.service"], "identifiers": ["sshd"]}, line(unit="cron.service", identifier="CRON"), False),
    Case("no unit with a unit list", "an entry outside any unit is not in a unit list",
         {"units": ["*"]}, line(unit="", identifier="myscript"), False),
    Case("excluded unit", "exclude_units wins over the selection", {"exclude_units": ["chatty*"]},
         line(unit="chatty.service"), False),
    Case("excluded though listed", "listed and excluded: excluded",
         {"units": ["*.service"], "exclude_units": ["chatty.service"]}, line(unit="chatty.service"), False),
    # --- the kernel --------------------------------------------------------------------------------------
    Case("kernel despite units", "kernel messages skip the source lists: NVRM matters whatever units say",
         {"units": ["app.service"]}, kernel("NVRM: Xid (PCI:0000:01:00): 79"), True),
    Case("kernel despite exclude_units", "exclude_units names units; the kernel is none",
         {"exclude_units": ["*"]}, kernel("Out of memory: Killed process 1234 (python3)"), True),
    Case("kernel off", "kernel: false drops them all", {"kernel": False}, kernel("thermal throttling"), False),
    Case("kernel off, not the kernel", "kernel: false leaves other entries alone", {"kernel": False},
         line(), True),
    # --- message regexes ----------------------------------------------------------------------------------
    Case("include matches", "searched anywhere in the message", {"include": ["fail"]},
         line("request failed"), True),
    Case("include misses", "no include pattern found", {"include": ["timeout", "refused"]},
         line("request failed"), False),
    Case("exclude matches", "exclude drops what it finds", {"exclude": ["^health"]}, line("health check ok"),
         False),
    Case("include and exclude", "included, then excluded: exclude wins", {"include": ["fail"],
         "exclude": ["expected"]}, line("failed as expected"), False),
    Case("message filters on the kernel", "include and exclude apply to kernel messages too",
         {"exclude": ["^usb "]}, kernel("usb 1-1: device descriptor read/64, error -71"), False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_keeps(case):
    assert LogFilter(LogsConfig(**case.settings)).keeps(case.entry) is case.kept, case.why
