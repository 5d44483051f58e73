"""Matchers, parsed and applied as Alertmanager does (reference: shared/reference/alertmanager.md §2)."""

from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetmon.hub.alerting.matchers import (
    Matcher,
    MatcherError,
    format_labels,
    format_matchers,
    go_quote,
    parse_classic,
    parse_matcher,
    parse_matchers,
    parse_utf8,
)


class Match(NamedTuple):
    name: str
    why: str
    matcher: tuple[str, str, str]  # name, operator, value
    labels: dict[str, str]
    matches: bool


MATCHES = [
    Match("!= a missing label", "a missing label is the empty string, which is not critical",
          ("level", "!=", "critical"), {}, True),
    Match('="" a missing label', "the empty string equals the empty string", ("foo", "=", ""), {"bar": "x"}, True),
    Match(".* a missing label", ".* matches the empty string", ("job", "=~", ".*"), {}, True),
    Match(".+ a missing label", ".+ needs at least one character", ("job", "=~", ".+"), {}, False),
    Match("=~ the whole value", "bar is bar", ("a", "=~", "bar"), {"a": "bar"}, True),
    Match("=~ not a part", "regexes are fully anchored: bar is not foo-bar", ("a", "=~", "bar"), {"a": "foo-bar"},
          False),
    Match("=~ not before a newline", "anchored at the very end, unlike Python's $", ("a", "=~", "bar"),
          {"a": "bar\n"}, False),
    Match("=~ a leading .*", "the pattern itself may reach the start", ("a", "=~", ".*bar"), {"a": "foo-bar"}, True),
    Match("=~ alternation", "the alternation stays inside the anchors", ("a", "=~", "a|b"), {"a": "b"}, True),
    Match("=~ ASCII digits", "Go's \\d is ASCII only: an Arabic-Indic three is no digit", ("a", "=~", r"\d+"),
          {"a": "٣"}, False),
    Match("=~ inline flags", "(?s) at the start still works inside the anchors", ("a", "=~", "(?s)x.y"),
          {"a": "x\ny"}, True),
    Match("!~ in the set", "prod is in prod|staging", ("a", "!~", "prod|staging"), {"a": "prod"}, False),
]


@pytest.mark.parametrize("case", MATCHES, ids=[c.name for c in MATCHES])
def test_what_a_matcher_matches(case):
    assert Matcher.make(*case.matcher).matches(case.labels) == case.matches, case.why


def test_an_invalid_regex_is_refused():
    with pytest.raises(MatcherError, match="invalid regular expression"):
        Matcher.make("a", "=~", "(")


@pytest.mark.parametrize("text, expected", [
    ('foo="bar"', [("foo", "=", "bar")]),
    ("{foo=bar}", [("foo", "=", "bar")]),
    ('{foo="bar", baz!~"x|y",}', [("foo", "=", "bar"), ("baz", "!~", "x|y")]),
    ("tricky=~~~", [("tricky", "=~", "~~")]),
    ("{foo=bar}}", [("foo", "=", "bar}")]),
    (r'a="say \"hi\"\n"', [("a", "=", 'say "hi"\n')]),
    (r'a="back\slash\\"', [("a", "=", "back\\slash\\")]),
    ('a="x,y",b=z', [("a", "=", "x,y"), ("b", "=", "z")]),
    ("", []),
])
def test_classic_syntax(text, expected):
    assert [(m.name, m.op, m.value) for m in parse_classic(text)] == expected


@pytest.mark.parametrize("text", ['a="b"c"', "1a=b", "a", "a=b,,c=d", "=b"])
def test_classic_rejects(text):
    with pytest.raises(MatcherError):
        parse_classic(text)


def test_utf8_syntax_and_fallback():
    assert [(m.name, m.op, m.value) for m in parse_utf8('{"service name"="a\\x41", env!="prod"}')] == \
        [("service name", "=", "aA"), ("env", "!=", "prod")]
    with pytest.raises(MatcherError):
        parse_utf8("{foo=bar")
    # fallback: classic when it accepts the text, UTF-8 otherwise
    assert parse_matchers('"über"="x"')[0].name == "über"
    assert parse_matchers("foo=~~~")[0].value == "~~"
    with pytest.raises(MatcherError):
        parse_matchers('{a="b}')
    with pytest.raises(MatcherError, match="expected one matcher"):
        parse_matcher("a=1,b=2")


def test_string_forms_used_in_keys():
    matchers = parse_matchers('{owner="team-A", level!="critical", x=~"a\\\\b"}')
    assert format_matchers(matchers) == '{level!="critical",owner="team-A",x=~"a\\\\b"}'
    assert str(Matcher.make("with space", "=", 'q"')) == '"with space"="q\\""'
    assert format_labels({"service": "api", "alertname": "High", "cluster": "aa"}) == \
        '{alertname="High", cluster="aa", service="api"}'
    assert go_quote("tab\there\x01é") == '"tab\\there\\x01é"'
    # same name and value: sorted by type in the order = != =~ !~
    same = [Matcher.make("a", op, "x") for op in ("!~", "=~", "!=", "=")]
    assert format_matchers(same) == '{a="x",a!="x",a=~"x",a!~"x"}'


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_any_value_round_trips_through_its_string_form(value):
    matcher = Matcher.make("name", "=", value)
    assert parse_matchers(str(matcher)) == [matcher]
