"""The log store's reads: searches newest first, the lines after an id, and the counts log rules take.

Which lines SQLite walks is chosen here, not left to the planner (which has no statistics to go by):

- with text, the FTS5 index leads: it yields matching ids newest first, and each is joined to its line for
  the other filters;
- with hosts or units, their index (host, ts, priority) or (unit, ts, priority) leads, bounded by the time
  range: the matching ids come from the index alone, are sorted, and only the page's lines are read;
- otherwise the lines are walked by id, newest first, through only the id ranges whose spans overlap the
  time range and hold the priority asked for (fleetmon.hub.logs.schema, ``spans``), until the limit is
  reached.

Every read is one statement that returns its whole answer as one JSON array (``json_group_array``):
Python's sqlite3 gives the GIL away at each row it steps through, and beside a busy ingest thread every
such step waits for it (docs/benchmarks.md, "Hub: ingest", on the history writer), so a hundred lines in
a hundred steps could take a second on a loaded hub.
"""

import re
import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from fleetmon.hub.logs.search import LogLine, LogQuery

#: Lines a regex rule looks at, newest first: a regex runs in Python on every line the rest of its query
#: selects, so this bounds one evaluation. Beyond it the count is a lower bound (HostCount.capped).
MAX_REGEX_LINES = 50_000
_MAX_ID = 2**63 - 1
_COLUMNS = "l.id, l.host, l.ts, l.priority, l.unit, l.identifier, l.pid, l.transport, l.message"
_AS_JSON = ("SELECT json_group_array(json_array(m.id, h.name, m.ts, m.priority, u.name, i.name, m.pid, t.name, "
            "m.message)) FROM ({inner}) AS m LEFT JOIN names AS h ON h.id = m.host LEFT JOIN names AS u ON "
            "u.id = m.unit LEFT JOIN names AS i ON i.id = m.identifier LEFT JOIN names AS t ON t.id = m.transport")


class HostCount(NamedTuple):
    """What one host's lines matching a rule's query came to."""

    host: str
    count: int
    latest: tuple[LogLine, ...]  # the newest matching lines, newest first, at most the sample asked for
    capped: bool = False  # a regex rule stopped at MAX_REGEX_LINES: the count is at least this


class Where(NamedTuple):
    clauses: list[str]
    params: list[Any]


def search(conn: sqlite3.Connection, query: LogQuery, limit: int, before: int | None = None) -> list[LogLine]:
    """The newest ``limit`` lines matching ``query`` with an id below ``before``, newest first."""
    where = _where(conn, query)
    if where is None or limit <= 0:
        return []
    if (query.hosts is not None or query.units) and not query.text:
        # The ids from the index alone (see the docstring), and only then the lines they answer.
        ids = f"SELECT l.id FROM lines AS l WHERE {' AND '.join(where.clauses)} AND l.id < ? ORDER BY +l.id DESC " \
              "LIMIT ?"
        return _lines(conn, (f"SELECT {_COLUMNS} FROM lines AS l WHERE l.id IN ({ids})",
                             [*where.params, before or _MAX_ID, limit]))
    found: list[LogLine] = []
    for low, high in id_ranges(conn, query.start, query.end, before, query.priority):
        ranged = Where([*where.clauses, f"{_id(query)} BETWEEN ? AND ?"], [*where.params, low, high])
        found += _lines(conn, _select(_source(query), ranged, f"{_id(query)} DESC", limit - len(found)))
        if len(found) >= limit:
            break
    return found


def follow(conn: sqlite3.Connection, query: LogQuery, after: int, limit: int) -> list[LogLine]:
    """Up to ``limit`` lines matching ``query`` with an id above ``after``, oldest first: a live tail's next
    lines. Walked by id (or by the text index) whatever the filters: the new lines are few."""
    where = _where(conn, query.between(query.start, None))
    if where is None:
        return []
    after_clause = Where([*where.clauses, f"{_id(query)} > ?"], [*where.params, after])
    source = _source(query) if query.text else "FROM lines AS l NOT INDEXED"
    return sorted(_lines(conn, _select(source, after_clause, f"{_id(query)} ASC", limit)), key=lambda line: line.id)


def count_matches(conn: sqlite3.Connection, query: LogQuery, sample: int) -> list[HostCount]:
    """Per host, how many lines match ``query`` and its newest ``sample`` of them."""
    if query.regex:
        return _regex_counts(conn, query, sample)
    where = _where(conn, query)
    if where is None:
        return []
    counts: dict[str, int] = {}
    latest: dict[str, list[LogLine]] = {}
    for source, bounded in _scans(conn, query, where):
        inner = f"SELECT l.host AS host, count(*) AS n {source} WHERE {' AND '.join(bounded.clauses) or '1'} " \
                "GROUP BY l.host"
        sql = f"SELECT json_group_array(json_array(h.name, c.n)) FROM ({inner}) AS c JOIN names AS h ON h.id = c.host"
        for host, n in orjson.loads(conn.execute(sql, bounded.params).fetchone()[0]):
            counts[host] = counts.get(host, 0) + n
        ranked = f"SELECT l.id AS id, row_number() OVER (PARTITION BY l.host ORDER BY l.id DESC) AS rank {source} " \
                 f"WHERE {' AND '.join(bounded.clauses) or '1'}"
        newest = f"SELECT {_COLUMNS} FROM lines AS l WHERE l.id IN (SELECT id FROM ({ranked}) WHERE rank <= ?)"
        for line in _lines(conn, (newest, [*bounded.params, sample])):
            latest.setdefault(line.host, []).append(line)
    return [HostCount(host, count, tuple(sorted(latest.get(host, ()), key=lambda line: -line.id)[:sample]))
            for host, count in sorted(counts.items())]


def latest_id(conn: sqlite3.Connection) -> int:
    """The newest id given to a line (0 before the first): a live tail that starts now follows from it."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'lines'").fetchone()
    return int(row[0]) if row else 0


def id_ranges(conn: sqlite3.Connection, start: float | None, end: float | None, before: int | None,
              priority: int | None = None) -> list[tuple[int, int]]:
    """Inclusive id ranges, newest first, that hold every line with an entry time in [start, end], an id
    below ``before`` and (with ``priority``) that priority or a more severe one: the spans that can hold such
    lines, adjacent ones merged."""
    high_limit = (before or _MAX_ID) - 1
    if start is None and end is None and priority is None:
        return [(1, high_limit)] if high_limit >= 1 else []
    rows = conn.execute("SELECT first_id, last_id FROM spans WHERE max_ts >= ? AND min_ts <= ? AND min_priority <= ? "
                        "AND first_id <= ? ORDER BY first_id DESC",
                        (-1e300 if start is None else start, 1e300 if end is None else end,
                         7 if priority is None else priority, high_limit)).fetchall()
    ranges: list[tuple[int, int]] = []
    for first, last in rows:
        last = min(last, high_limit)
        if ranges and last + 1 >= ranges[-1][0]:
            ranges[-1] = (first, ranges[-1][1])
        else:
            ranges.append((first, last))
    return ranges


def _scans(conn: sqlite3.Connection, query: LogQuery, where: Where) -> Iterable[tuple[str, Where]]:
    """Each source and bounded filter that together cover ``query``'s lines (see the module's docstring)."""
    if (query.hosts is not None or query.units) and not query.text:
        yield "FROM lines AS l", where
        return
    for low, high in id_ranges(conn, query.start, query.end, None, query.priority):
        yield _source(query), Where([*where.clauses, f"{_id(query)} BETWEEN ? AND ?"], [*where.params, low, high])


def _regex_counts(conn: sqlite3.Connection, query: LogQuery, sample: int) -> list[HostCount]:
    pattern = re.compile(query.regex)
    candidates = search(conn, query.between(query.start, query.end), MAX_REGEX_LINES)
    capped = len(candidates) >= MAX_REGEX_LINES
    counts: dict[str, int] = {}
    latest: dict[str, list[LogLine]] = {}
    for line in candidates:  # newest first
        if pattern.search(line.message):
            counts[line.host] = counts.get(line.host, 0) + 1
            kept = latest.setdefault(line.host, [])
            if len(kept) < sample:
                kept.append(line)
    return [HostCount(host, count, tuple(latest[host]), capped) for host, count in sorted(counts.items())]


def _where(conn: sqlite3.Connection, query: LogQuery) -> Where | None:
    """The filters of ``query`` on ``l`` (lines) as SQL; None when no line can match (a host never seen)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, names in (("host", query.hosts), ("unit", query.units or None)):
        if names is None:
            continue
        ids = _name_ids(conn, names)
        if not ids:
            return None
        clauses.append(f"l.{column} IN (SELECT value FROM json_each(?))")
        params.append(orjson.dumps(ids).decode())
    for clause, value in (("l.priority <= ?", query.priority), ("l.ts >= ?", query.start), ("l.ts <= ?", query.end)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if query.text:
        clauses.append("lines_text MATCH ?")
        params.append(query.text)
    return Where(clauses, params)


def _name_ids(conn: sqlite3.Connection, names: Iterable[str]) -> list[int]:
    wanted = orjson.dumps(sorted(set(names))).decode()
    return [row[0] for row in conn.execute("SELECT id FROM names WHERE name IN (SELECT value FROM json_each(?))",
                                           (wanted,))]


def _source(query: LogQuery) -> str:
    if query.text:
        return "FROM lines_text CROSS JOIN lines AS l ON l.id = lines_text.rowid"
    return "FROM lines AS l NOT INDEXED"


def _id(query: LogQuery) -> str:
    """The id column to bound and order by: the text index's own rowid when it leads, which it can walk in
    either direction and start anywhere."""
    return "lines_text.rowid" if query.text else "l.id"


def _select(source: str, where: Where, order: str, limit: int) -> tuple[str, list[Any]]:
    inner = f"SELECT {_COLUMNS} {source} WHERE {' AND '.join(where.clauses) or '1'} ORDER BY {order} LIMIT ?"
    return inner, [*where.params, limit]


def _lines(conn: sqlite3.Connection, statement: tuple[str, list[Any]]) -> list[LogLine]:
    inner, params = statement
    found = conn.execute(_AS_JSON.format(inner=inner), params).fetchone()[0]
    lines = [LogLine(row[0], row[1], row[2], row[3], row[4] or "", row[5] or "", row[6], row[7] or "", row[8])
             for row in orjson.loads(found)]
    lines.sort(key=lambda line: -line.id)
    return lines
