"""What a search's words become (an FTS5 query, a quoted phrase, or a clear refusal), priorities by name and
number, and which hosts a search's hosts and groups name. Decisions without I/O."""

from typing import NamedTuple

import pytest

from fleetmon.hub.logs.search import LogQuery, QueryError, hosts_of, priority_level, search_params, text_query


class Text(NamedTuple):
    name: str
    why: str
    typed: str
    query: str | None  # what runs; None: refused with QueryError
    problem: str = ""  # a piece of the refusal's message


TEXTS = [
    Text("a word", "FTS5 reads it as it is", "NVRM", "NVRM"),
    Text("words", "several words: all of them, anywhere in the line", "link down", "link down"),
    Text("a phrase", "quoted: the words next to each other", '"fallen off the bus"', '"fallen off the bus"'),
    Text("a prefix", "a star after a word", "thrott*", "thrott*"),
    Text("operators", "AND, OR, NOT and parentheses", "(oom OR xid) NOT test", "(oom OR xid) NOT test"),
    Text("blank", "no text: no text search", "   ", ""),
    Text("surrounding space", "trimmed", "  NVRM ", "NVRM"),
    Text("a colon", "FTS5 would read eth0: as a column filter; no operator in it, so it is a phrase", "eth0: link down",
         '"eth0: link down"'),
    Text("an address", "dots are no FTS5 syntax", "10.0.0.7", '"10.0.0.7"'),
    Text("brackets", "nginx[812] as journalctl prints it", "nginx[812]", '"nginx[812]"'),
    Text("a path", "slashes", "/var/log/syslog", '"/var/log/syslog"'),
    Text("a dash", "FTS5 reads a-b as a column filter", "jetson-01", '"jetson-01"'),
    Text("a broken group", "it uses the syntax, and wrongly: guessing would find lines nobody asked for",
         "(oom OR", None, "syntax error"),
    Text("a dangling operator", "OR with nothing after it", "oom OR", None, "syntax error"),
    Text("an unterminated phrase", "the quote is syntax", '"fallen off', None, "unterminated string"),
    Text("a lone star", "a prefix of nothing", "*", None, "not a valid full-text query"),
    Text("an operator and a colon", "uses the syntax, and names a column that does not exist", "NOT eth0: down",
         None, "not a valid full-text query"),
]


@pytest.mark.parametrize("case", TEXTS, ids=[case.name for case in TEXTS])
def test_text_query(case: Text) -> None:
    if case.query is None:
        with pytest.raises(QueryError, match=case.problem):
            text_query(case.typed)
    else:
        assert text_query(case.typed) == case.query, case.why


@pytest.mark.parametrize(("given", "level"), [
    (0, 0), (7, 7), ("3", 3), ("err", 3), ("error", 3), ("ERR", 3), ("warning", 4), ("warn", 4), ("emerg", 0),
    ("crit", 2), ("critical", 2), ("debug", 7), (" info ", 6)])
def test_priority_level(given, level: int) -> None:
    assert priority_level(given) == level


@pytest.mark.parametrize("given", [8, -1, "8", "loud", "", True, 3.0, None])
def test_priority_level_refuses(given) -> None:
    with pytest.raises(ValueError, match=r"0\.\.7 or one of emerg"):
        priority_level(given)


GROUPS = {"jetson-01": ("edge", "cameras"), "jetson-02": ("edge",), "web-01": ("web",), "lab": ()}


@pytest.mark.parametrize(("hosts", "groups", "expected", "why"), [
    ((), (), None, "neither: every host"),
    (("web-01",), (), ("web-01",), "a host"),
    ((), ("edge",), ("jetson-01", "jetson-02"), "a group's members"),
    (("web-01",), ("cameras",), ("jetson-01", "web-01"), "hosts and groups together"),
    (("jetson-01",), ("edge",), ("jetson-01", "jetson-02"), "a host named twice counts once"),
    ((), ("nobody",), (), "a group without members: no host, not every host"),
    (("unknown",), (), ("unknown",), "a host the fleet does not know (yet) may still have lines"),
])
def test_hosts_of(hosts, groups, expected, why) -> None:
    assert hosts_of(hosts, groups, GROUPS) == expected, why


def test_search_params_name_the_query() -> None:
    query = LogQuery(("a", "b"), ("nginx.service",), 3, 100.0, 200.5, '"timed out"')
    assert search_params(query) == [("host", "a"), ("host", "b"), ("unit", "nginx.service"), ("priority", "err"),
                                    ("start", "100.000"), ("end", "200.500"), ("q", '"timed out"')]
    assert search_params(query, groups=("edge",))[:2] == [("group", "edge"), ("unit", "nginx.service")], \
        "the group stands for its hosts"
