"""Inhibition as a table, without I/O: which firing source mutes which target (fleetmon.hub.alerting.inhibit).

The cases are those of Alertmanager's inhibit/inhibit_test.go (TestInhibitRuleHasEqual,
TestInhibitRuleMatches, TestInhibitRuleMatchers, TestInhibit), in our words; the semantics are in
shared/reference/alertmanager.md §6. Sources reach the inhibitor as the dispatcher hands them over: every
alert ingested into the alert store, of which only those firing at the evaluation instant count.
"""

from typing import NamedTuple

import pytest
import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.alert import Alert
from fleetmon.hub.alerting.alert_store import AlertStore
from fleetmon.hub.alerting.inhibit import Inhibitor, InhibitRule, parse_inhibit_rules
from fleetmon.protocol.alerts import fingerprint

NOW = 1_800_000_000.0


def rules(text: str) -> list[InhibitRule]:
    errors = Errors()
    parsed = parse_inhibit_rules(Node(yaml.safe_load(text), "inhibit_rules", errors))
    assert not errors, errors
    return parsed


def alert(labels: dict[str, str], resolved: bool = False) -> Alert:
    """Fired a minute ago; resolved a second ago, or ending in an hour."""
    return Alert(labels, {}, NOW - 60, NOW - 1 if resolved else NOW + 3600, updated_at=NOW,
                 fingerprint=fingerprint(labels))


def inhibited(rule_set: list[InhibitRule], sources: list[Alert], target: dict[str, str]) -> str:
    store = AlertStore()
    for source in sources:
        store.ingest(source, "", NOW)
    return Inhibitor(rule_set).prepare(store.firing_labels(NOW)).reason(target, NOW)


# --- the `equal` labels (TestInhibitRuleHasEqual) -------------------------------------------------------------
# Upstream checks the rule's source cache alone; here the rule's sides select kind="source" and kind="target",
# so that only `equal` and resolution decide.

def equal_rule(*names: str) -> list[InhibitRule]:
    return rules(f"""
- source_matchers: ['kind="source"']
  target_matchers: ['kind="target"']
  equal: {list(names)}
""")


def source(resolved: bool = False, **labels: str) -> Alert:
    return alert({"kind": "source", **labels}, resolved)


class Equal(NamedTuple):
    name: str
    why: str
    equal: tuple[str, ...]
    sources: list[Alert]
    target: dict[str, str]
    inhibited: bool


EQUAL = [
    Equal("no source", "nothing fires that could inhibit", ("a",), [], {"a": "b"}, False),
    Equal("no equal labels", "an empty `equal` accepts any firing source", (), [source(a="x")], {"a": "b"}, True),
    Equal("equal but resolved", "the sources agree on a and b, but both resolved: only firing sources inhibit",
          ("a", "b"), [source(True, a="b", b="f"), source(True, a="b", b="c")], {"a": "b", "b": "c"}, False),
    Equal("equal and one firing", "of two sources with a=b one resolved and one fires: the firing one inhibits",
          ("a",), [source(True, a="b", c="d"), source(a="b", c="f")], {"a": "b"}, True),
    Equal("equal label differs", "the sources have a=c, the target a=b", ("a",),
          [source(True, a="c", c="d"), source(True, a="c", c="f")], {"a": "b"}, False),
    Equal("missing on both sides", "a missing label is the empty string, so two alerts without `site` agree",
          ("site",), [source(host="x")], {"host": "y"}, True),
    Equal("missing on one side", "the empty string differs from north", ("site",), [source(host="x")],
          {"site": "north"}, False),
]


@pytest.mark.parametrize("case", EQUAL, ids=[c.name for c in EQUAL])
def test_the_equal_labels(case):
    target = {"kind": "target", **case.target}
    assert bool(inhibited(equal_rule(*case.equal), case.sources, target)) == case.inhibited, case.why


# --- two rules, equality and inequality targets (TestInhibitRuleMatches, TestInhibitRuleMatchers) ----------

EQUALITY_RULES = """
- {source_match: {s1: '1'}, target_match: {t1: '1'}, equal: [e]}
- {source_match: {s2: '1'}, target_match: {t2: '1'}, equal: [e]}
"""
INEQUALITY_RULES = """
- {source_matchers: ['s1="1"'], target_matchers: ['t1!="1"'], equal: [e]}
- {source_matchers: ['s2="1"'], target_matchers: ['t2="1"'], equal: [e]}
"""
#: Firing, and matching the source side of the first rule only.
SOURCE_1 = alert({"s1": "1", "t1": "2", "e": "1"})
#: Firing, and matching both sides of the second rule.
SOURCE_2 = alert({"s2": "1", "t2": "1", "e": "1"})
FIRST, SECOND = "inhibited by inhibit_rules[0]", "inhibited by inhibit_rules[1]"


class Matches(NamedTuple):
    name: str
    why: str
    rules: str
    target: dict[str, str]
    reason: str  # "" when not inhibited; else the first rule that inhibits


MATCHES = [
    Matches("rule 1's target", "t1=1 and e agrees with SOURCE_1", EQUALITY_RULES, {"t1": "1", "e": "1"}, FIRST),
    Matches("rule 2's target", "t2=1 and e agrees with SOURCE_2, and the target is not on rule 2's source side, "
            "so the guard does not apply", EQUALITY_RULES, {"t2": "1", "e": "1"}, SECOND),
    Matches("rule 1's target with noise", "labels the rule does not name do not matter", EQUALITY_RULES,
            {"t1": "1", "t3": "1", "e": "1"}, FIRST),
    Matches("both rules' targets", "either rule suffices; the first one is named", EQUALITY_RULES,
            {"t1": "1", "t2": "1", "e": "1"}, FIRST),
    Matches("no target side", "t1=0 is on neither rule's target side", EQUALITY_RULES, {"t1": "0", "e": "1"}, ""),
    Matches("both sides of rule 1", "the target is also a rule 1 source, but SOURCE_1 is only a source (t1=2): "
            "the self-inhibition guard lets it inhibit", EQUALITY_RULES, {"s1": "1", "t1": "1", "e": "1"}, FIRST),
    Matches("both sides of rule 2", "the target is also a rule 2 source, and so is SOURCE_2 on both sides: the "
            "guard stops it, so an alert never inhibits its own kind", EQUALITY_RULES,
            {"s2": "1", "t2": "1", "e": "1"}, ""),
    Matches("equal label differs", "e=0 against SOURCE_1's e=1", EQUALITY_RULES, {"t1": "1", "e": "0"}, ""),
    Matches("!= and t1=1", "t1!=1 refuses t1=1, and rule 2 does not apply", INEQUALITY_RULES,
            {"t1": "1", "e": "1"}, ""),
    Matches("!= and a missing t1", "a missing t1 is the empty string, which is not 1: rule 1 inhibits first",
            INEQUALITY_RULES, {"t2": "1", "e": "1"}, FIRST),
    Matches("!= and t1=1 with noise", "t1=1 still refused; t3 does not matter", INEQUALITY_RULES,
            {"t1": "1", "t3": "1", "e": "1"}, ""),
    Matches("!= refused, rule 2 applies", "rule 1 refuses t1=1, rule 2 takes t2=1", INEQUALITY_RULES,
            {"t1": "1", "t2": "1", "e": "1"}, SECOND),
    Matches("!= and t1=0", "0 is not 1: rule 1's target side", INEQUALITY_RULES, {"t1": "0", "e": "1"}, FIRST),
    Matches("!= on both sides of rule 1", "t1=1 is refused by rule 1's target side before any guard",
            INEQUALITY_RULES, {"s1": "1", "t1": "1", "e": "1"}, ""),
    Matches("guarded by one rule, inhibited by another", "rule 2's guard protects the target, but the guard is per "
            "rule: rule 1 (missing t1 is not 1) inhibits it", INEQUALITY_RULES, {"s2": "1", "t2": "1", "e": "1"},
            FIRST),
    Matches("!= and e differs", "e=0 against SOURCE_1's e=1", INEQUALITY_RULES, {"t1": "1", "e": "0"}, ""),
]


@pytest.mark.parametrize("case", MATCHES, ids=[c.name for c in MATCHES])
def test_which_rule_inhibits(case):
    assert inhibited(rules(case.rules), [SOURCE_1, SOURCE_2], case.target) == case.reason, case.why


# --- a source that fires, then resolves (TestInhibit) -----------------------------------------------------------

TIMELINE_RULE = "- {source_match: {s: '1'}, target_match: {t: '1'}, equal: [e]}"
TARGET = {"t": "1", "e": "f"}
SOURCE = {"s": "1", "e": "f"}


class Timeline(NamedTuple):
    name: str
    why: str
    received: list[Alert]  # in order; a re-sent alert merges with the stored copy
    target_muted: bool
    source_muted: bool


TIMELINE = [
    Timeline("the source never fired", "nothing inhibits the target", [alert(TARGET)], False, False),
    Timeline("the source fires", "the target is muted; the source is on no target side",
             [alert(TARGET), alert(SOURCE)], True, False),
    Timeline("the source resolved", "the source's resolution replaced its firing copy: the target goes through",
             [alert(TARGET), alert(SOURCE), alert(SOURCE, resolved=True)], False, False),
]


@pytest.mark.parametrize("case", TIMELINE, ids=[c.name for c in TIMELINE])
def test_a_source_inhibits_only_while_it_fires(case):
    rule_set = rules(TIMELINE_RULE)
    assert bool(inhibited(rule_set, case.received, TARGET)) == case.target_muted, case.why
    assert bool(inhibited(rule_set, case.received, SOURCE)) == case.source_muted, case.why


def test_a_named_rule_is_named_in_the_reason():
    named = rules("- {name: site-down, source_match: {a: SiteDown}, target_match: {a: HostDown}, equal: [site]}")
    assert inhibited(named, [alert({"a": "SiteDown", "site": "n"})], {"a": "HostDown", "site": "n"}) == \
        "inhibited by site-down"
