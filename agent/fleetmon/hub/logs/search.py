"""What a log search asks for, and what it answers: the filters (``LogQuery``), a stored line (``LogLine``),
priorities by name, and the full-text query a user's words become.

The text is FTS5 query syntax (https://sqlite.org/fts5.html#full_text_query_syntax): words, ``"phrases"``,
``prefix*``, ``AND``/``OR``/``NOT``, ``NEAR(...)``. What people paste into a log search is often a piece of
a line instead — ``eth0: link down``, ``10.0.0.7``, ``nginx[812]``, ``PCI:0000:01:00`` — which FTS5 reads
as column filters or refuses; such a string, when it holds none of FTS5's operators, is searched as one
quoted phrase (its words next to each other, as grep would find it). A string that does use the syntax and
gets it wrong is a ``QueryError`` that says so: guessing what a broken ``(a OR`` meant would find lines
nobody asked for.
"""

import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

#: syslog priorities, 0 (most severe) to 7, as journalctl names them.
PRIORITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
#: Other spellings people use for the same levels.
_ALIASES = {"emergency": 0, "panic": 0, "critical": 2, "error": 3, "warn": 4}
#: Characters and words that only FTS5's syntax gives a meaning: a string holding one is meant as a query.
_OPERATORS = re.compile(r'["()*^{}+]|\b(?:AND|OR|NOT|NEAR)\b')


class QueryError(ValueError):
    """A search that cannot run as asked; the message says why, for people."""


class LogLine(NamedTuple):
    id: int  # the store's order of arrival: larger is newer
    host: str
    ts: float  # the entry's own time (the host's clock), Unix seconds
    priority: int
    unit: str  # "" for the kernel's lines
    identifier: str
    pid: int | None
    transport: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which lines: every filter given must hold. ``hosts`` None means every host, an empty tuple none (a
    group without members); ``units`` may hold "" for the kernel's lines; ``priority`` keeps that level and
    the more severe ones; ``start``/``end`` bound the entries' own times, inclusive; ``text`` is an FTS5 query
    (already through ``text_query``); ``regex`` is matched against the message in Python (log rules only)."""

    hosts: tuple[str, ...] | None = None
    units: tuple[str, ...] = ()
    priority: int | None = None
    start: float | None = None
    end: float | None = None
    text: str = ""
    regex: str = ""

    def between(self, start: float | None, end: float | None) -> "LogQuery":
        return replace(self, start=start, end=end)


def priority_level(value: str | int) -> int:
    """0..7 from a number or a name (``err``, ``warning``, ``error``...); ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        level = value
    elif isinstance(value, str) and value.strip().isdigit():
        level = int(value)
    elif isinstance(value, str) and value.strip().lower() in PRIORITIES:
        return PRIORITIES.index(value.strip().lower())
    elif isinstance(value, str) and value.strip().lower() in _ALIASES:
        return _ALIASES[value.strip().lower()]
    else:
        raise ValueError(f"must be 0..7 or one of {', '.join(PRIORITIES)}")
    if not 0 <= level <= 7:
        raise ValueError(f"must be 0..7 or one of {', '.join(PRIORITIES)}")
    return level


def text_query(text: str) -> str:
    """The FTS5 query to run for ``text`` ("" for no text search); QueryError when it is a malformed query."""
    text = text.strip()
    if not text:
        return ""
    problem = fts_problem(text)
    if problem is None:
        return text
    if not _OPERATORS.search(text):
        return '"' + text + '"'
    raise QueryError(f"not a valid full-text query ({problem}); put text to find as it is in double quotes")


def fts_problem(text: str) -> str | None:
    """What SQLite's FTS5 finds wrong with ``text`` as a query, None when nothing. Asked of an empty table
    with the store's column name, so column filters (``message: x``) mean the same as in the store."""
    with closing(sqlite3.connect(":memory:")) as probe:
        probe.execute("CREATE VIRTUAL TABLE lines_text USING fts5(message)")
        try:
            probe.execute("SELECT rowid FROM lines_text WHERE lines_text MATCH ?", (text,)).fetchall()
        except sqlite3.OperationalError as exc:
            return str(exc)
    return None


def hosts_of(hosts: Iterable[str], groups: Iterable[str],
             host_groups: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """The hosts a search names: those given and every member of the groups given (None: neither was
    given, so every host). ``host_groups``: each known host's groups."""
    hosts, groups = list(hosts), set(groups)
    if not hosts and not groups:
        return None
    members = [host for host, of in host_groups.items() if groups.intersection(of)]
    return tuple(sorted(set(hosts).union(members)))


def search_params(query: LogQuery, groups: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``query`` as the search API's parameters (fleetmon.hub.logs.params): for links to a search. ``groups``
    stand in for the hosts, when the hosts came from them."""
    params: list[tuple[str, str]] = [("group", group) for group in groups]
    if not groups:
        params += [("host", host) for host in query.hosts or ()]
    params += [("unit", unit) for unit in query.units]
    if query.priority is not None:
        params.append(("priority", PRIORITIES[query.priority]))
    if query.start is not None:
        params.append(("start", f"{query.start:.3f}"))
    if query.end is not None:
        params.append(("end", f"{query.end:.3f}"))
    if query.text:
        params.append(("q", query.text))
    return params
