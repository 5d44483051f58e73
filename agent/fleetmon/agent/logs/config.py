"""The ``logs:`` section of the agent config: what to follow, what to keep, how to bound and ship it.

Read through ``fleetmon.config_reader.Node`` like the rest of the agent config, so every error names its
key path (``logs.rate_limit.per: must be a duration``). docs/agent.md ("logs") documents each key.
"""

import os
from dataclasses import dataclass, field
from typing import List, Optional

from fleetmon.config_reader import Node, regex_list

#: syslog priorities as journalctl names them, 0 (most severe) .. 7.
PRIORITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
DEFAULT_PRIORITY = PRIORITY_NAMES.index("warning")
#: The message schema's bound on entries per batch (schemas/logs.json, ``entries.maxItems``).
MAX_BATCH_LINES = 5000

#: Secrets that show up in logs: each group is what becomes ``***``, so the key name stays readable.
DEFAULT_REDACTIONS = (
    # password=..., "token": "...", client_secret: ..., api_key=..., aws_secret_access_key = ...
    # (the lookahead names the first letters, which lets the regex engine skip ahead: twice as fast per line)
    r"(?i)(?=[pstak])(?:pass(?:wd|word)?|secret(?:[_-]?access)?(?:[_-]?key)?|token|(?:api|access|private)[_-]?key)"
    r"[\"']?\s*[:=]\s*[\"']?([^\s\"'&,;]+)",
    # Authorization: Bearer ..., Authorization: Basic ..., and a bare "Bearer ..."
    r"(?i)\bauthorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest)\s+)?([^\s\"',;]+)",
    r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]+=*)",
    # AWS access key ids
    r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16})\b",
    # credentials in URLs: scheme://user:SECRET@host
    r"://[^/\s:@]+:([^/\s@]+)@",
)

#: A rate limit's burst, unless set: a unit quiet for a while may send this many periods' worth at once.
BURST_FACTOR = 5

LOGS_KEYS = ("enabled", "priority", "units", "exclude_units", "identifiers", "include", "exclude", "kernel",
             "rate_limit", "redact", "redact_defaults", "batch_lines", "batch_interval", "spool",
             "journal_directory")


@dataclass
class RateLimitConfig:
    lines: int = 100  # per unit per ``per`` seconds; 0: no limit
    per: float = 10.0
    burst: int = 500  # the most a quiet unit may send at once; BURST_FACTOR x lines unless set


@dataclass
class LogSpoolConfig:
    max_batches: int = 1000
    max_bytes: int = 16 * 1024 * 1024


@dataclass
class LogsConfig:
    enabled: bool = False
    priority: int = DEFAULT_PRIORITY  # keep entries at this priority or more severe (a lower number)
    units: List[str] = field(default_factory=list)  # globs over _SYSTEMD_UNIT; empty: every unit
    exclude_units: List[str] = field(default_factory=list)
    identifiers: List[str] = field(default_factory=list)  # globs over SYSLOG_IDENTIFIER
    include: List[str] = field(default_factory=list)  # regexes searched in the message; empty: all
    exclude: List[str] = field(default_factory=list)
    kernel: bool = True  # kernel messages are kept whatever units and identifiers say
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    redact: List[str] = field(default_factory=list)  # on top of DEFAULT_REDACTIONS unless redact_defaults is off
    redact_defaults: bool = True
    batch_lines: int = 500
    batch_interval: float = 2.0
    spool: LogSpoolConfig = field(default_factory=LogSpoolConfig)
    journal_directory: Optional[str] = None  # journal files to read instead of the system journal

    def redactions(self) -> List[str]:
        """Every redaction pattern in force, the built-in ones first."""
        return (list(DEFAULT_REDACTIONS) if self.redact_defaults else []) + list(self.redact)


def parse_logs(node: Node) -> LogsConfig:
    node = node.mapping(LOGS_KEYS)
    return LogsConfig(
        enabled=node.child("enabled").boolean(False),
        priority=_priority(node.child("priority")),
        units=node.child("units").string_list(),
        exclude_units=node.child("exclude_units").string_list(),
        identifiers=node.child("identifiers").string_list(),
        include=regex_list(node.child("include")),
        exclude=regex_list(node.child("exclude")),
        kernel=node.child("kernel").boolean(True),
        rate_limit=_rate_limit(node.child("rate_limit")),
        redact=regex_list(node.child("redact")),
        redact_defaults=node.child("redact_defaults").boolean(True),
        batch_lines=node.child("batch_lines").number(500, minimum=1, maximum=MAX_BATCH_LINES, integer=True),
        batch_interval=node.child("batch_interval").duration(2.0, minimum=0.1),
        spool=_spool(node.child("spool")),
        journal_directory=_directory(node.child("journal_directory")),
    )


def _priority(node: Node) -> int:
    value = node.value
    if node.missing:
        return DEFAULT_PRIORITY
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 7:
        return value
    if isinstance(value, str) and value.lower() in PRIORITY_NAMES:
        return PRIORITY_NAMES.index(value.lower())
    node.fail("must be a priority: {} or 0..7".format(", ".join(PRIORITY_NAMES)))
    return DEFAULT_PRIORITY


def _rate_limit(node: Node) -> RateLimitConfig:
    node = node.mapping(("lines", "per", "burst"))
    lines = node.child("lines").number(100, minimum=0, integer=True)
    burst_node = node.child("burst")
    burst = burst_node.number(BURST_FACTOR * lines, minimum=0, integer=True)
    if lines and burst < lines:
        burst_node.fail(f"must be at least lines ({lines})")
    return RateLimitConfig(lines=lines, per=node.child("per").duration(10.0, minimum=0.001), burst=burst)


def _spool(node: Node) -> LogSpoolConfig:
    node = node.mapping(("max_batches", "max_bytes"))
    return LogSpoolConfig(max_batches=node.child("max_batches").number(1000, minimum=1, integer=True),
                          max_bytes=node.child("max_bytes").size(16 * 1024 * 1024))


def _directory(node: Node) -> Optional[str]:
    path = node.string(None)
    if path and not os.path.isdir(path):
        node.fail(f"{path} is not a directory")
    elif path and not os.access(path, os.R_OK | os.X_OK):
        node.fail(f"cannot read {path}")
    return path
