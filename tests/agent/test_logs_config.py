"""The ``logs:`` section of the agent config: defaults, the forms each key takes, and errors that name their
key path."""

from typing import Any, Dict, NamedTuple

import pytest

from fleetmon.agent.config import parse_config
from fleetmon.agent.logs.config import BURST_FACTOR, DEFAULT_REDACTIONS, MAX_BATCH_LINES
from fleetmon.config_reader import ConfigError


def logs_of(section: Dict[str, Any]):
    return parse_config({"logs": section}).logs


def errors_of(section: Any):
    with pytest.raises(ConfigError) as caught:
        parse_config({"logs": section})
    return caught.value.errors


def test_without_a_logs_section_nothing_is_followed_and_the_defaults_are_safe():
    logs = parse_config({}).logs
    assert not logs.enabled
    assert logs.priority == 4, "warning and more severe"
    assert logs.kernel and logs.redact_defaults and logs.redactions() == list(DEFAULT_REDACTIONS)
    assert (logs.rate_limit.lines, logs.rate_limit.per, logs.rate_limit.burst) == (100, 10.0, 500)
    assert (logs.batch_lines, logs.batch_interval) == (500, 2.0)
    assert (logs.spool.max_batches, logs.spool.max_bytes) == (1000, 16 * 1024 * 1024)
    assert logs.journal_directory is None


class Priority(NamedTuple):
    written: Any
    want: int


PRIORITIES = [
    Priority("emerg", 0),
    Priority("err", 3),
    Priority("WARNING", 4),  # journalctl's names, in any case
    Priority("debug", 7),
    Priority(0, 0),
    Priority(6, 6),
]


@pytest.mark.parametrize("case", PRIORITIES, ids=lambda c: repr(c.written))
def test_priority_by_name_or_number(case):
    assert logs_of({"priority": case.written}).priority == case.want


def test_every_key_read_in_its_own_form(tmp_path):
    logs = logs_of({
        "enabled": True, "units": ["nginx.service", "app-*.service"], "exclude_units": ["chatty.service"],
        "identifiers": ["sshd"], "include": ["error|fail"], "exclude": ["^DEBUG"], "kernel": False,
        "rate_limit": {"lines": 20, "per": "1m"}, "redact": [r"card=(\d+)"], "redact_defaults": False,
        "batch_lines": 50, "batch_interval": "500ms", "spool": {"max_batches": 10, "max_bytes": "1MiB"},
        "journal_directory": str(tmp_path),
    })
    assert logs.enabled and not logs.kernel and logs.units == ["nginx.service", "app-*.service"]
    assert (logs.rate_limit.lines, logs.rate_limit.per) == (20, 60.0)
    assert logs.rate_limit.burst == BURST_FACTOR * 20, "the burst follows the configured lines unless set"
    assert logs.redactions() == [r"card=(\d+)"], "redact_defaults off: only the configured patterns"
    assert (logs.batch_lines, logs.batch_interval, logs.spool.max_bytes) == (50, 0.5, 1024 * 1024)
    assert logs.journal_directory == str(tmp_path)


def test_configured_redactions_come_on_top_of_the_defaults():
    assert logs_of({"redact": ["x=(\\S+)"]}).redactions() == [*DEFAULT_REDACTIONS, "x=(\\S+)"]


def test_a_rate_limit_of_zero_lines_means_no_limit():
    limit = logs_of({"rate_limit": {"lines": 0}}).rate_limit
    assert (limit.lines, limit.burst) == (0, 0)


class Bad(NamedTuple):
    name: str
    section: Any
    error: str  # the start of the one error expected


BAD = [
    Bad("not a mapping", ["enabled"], "logs: must be a mapping"),
    Bad("unknown key", {"units_glob": []}, "logs.units_glob: unknown key"),
    Bad("priority name", {"priority": "loud"}, "logs.priority: must be a priority: emerg, alert"),
    Bad("priority number", {"priority": 8}, "logs.priority: must be a priority"),
    Bad("enabled", {"enabled": "yes"}, "logs.enabled: must be true or false"),
    Bad("units", {"units": "nginx.service"}, "logs.units: must be a list"),
    Bad("an identifier", {"identifiers": ["sshd", 7]}, "logs.identifiers[1]: must be a string"),
    Bad("include regex", {"include": ["ok", "("]}, "logs.include[1]: bad regular expression"),
    Bad("redact regex", {"redact": ["[a-"]}, "logs.redact[0]: bad regular expression"),
    Bad("rate limit per", {"rate_limit": {"per": "often"}}, "logs.rate_limit.per: must be a duration"),
    Bad("burst below lines", {"rate_limit": {"lines": 50, "burst": 10}}, "logs.rate_limit.burst: must be at least"),
    Bad("rate limit key", {"rate_limit": {"rate": 5}}, "logs.rate_limit.rate: unknown key"),
    Bad("batch lines", {"batch_lines": MAX_BATCH_LINES + 1}, "logs.batch_lines: must be at most 5000"),
    Bad("batch interval", {"batch_interval": "0ms"}, "logs.batch_interval: must be at least 0.1"),
    Bad("spool size", {"spool": {"max_bytes": "lots"}}, "logs.spool.max_bytes: must be a size"),
    Bad("spool count", {"spool": {"max_batches": 0}}, "logs.spool.max_batches: must be at least 1"),
    Bad("journal directory", {"journal_directory": "/nonexistent/journal"},
        "logs.journal_directory: /nonexistent/journal is not a directory"),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_errors_name_their_key_path(case):
    errors = errors_of(case.section)
    assert len(errors) == 1 and errors[0].startswith(case.error), errors


def test_every_error_of_the_section_is_reported_at_once():
    errors = errors_of({"priority": "loud", "include": ["("], "spool": {"max_batches": -1}, "extra": 1})
    assert [e.split(":")[0] for e in errors] == ["logs.extra", "logs.priority", "logs.include[0]",
                                                  "logs.spool.max_batches"]
