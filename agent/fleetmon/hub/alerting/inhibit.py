"""Inhibition: a firing source alert mutes target alerts that share its ``equal`` labels.

Semantics are Alertmanager's documented ones, implemented as the scan over every cached source (the
behaviour of Alertmanager ≤ 0.29 and of all its tests): for some rule, the target matches the target side,
some source matching the source side is not resolved, the ``equal`` labels agree (a missing label is
``""``), and — the self-inhibition guard — when the target also matches the source side, that source must
not match the target side. Evaluated at flush time, so a source that resolves lets its targets through at
the next tick.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.matchers import Matcher, MatcherError, matches_all, parse_matchers

RULE_KEYS = ("name", "source_matchers", "target_matchers", "source_match", "source_match_re", "target_match",
             "target_match_re", "equal")


@dataclass(slots=True, frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    name: str = ""


def parse_inhibit_rules(node: Node) -> list[InhibitRule]:
    """The rules; a rule without any target matcher is an error. Alertmanager takes such a rule, and it then
    mutes every alert (but its sources) that agrees on ``equal`` with a firing source: never what was meant."""
    rules = []
    for item in node.sequence():
        item = item.mapping(RULE_KEYS)
        if not any(item.value.get(f"target_{kind}") for kind in ("matchers", "match", "match_re")):
            item.child("target_matchers").fail("an inhibit rule needs target matchers (target_matchers, target_match "
                                               "or target_match_re): without any it would mute every alert")
        rules.append(InhibitRule(source=_side(item, "source"), target=_side(item, "target"),
                                 equal=tuple(item.child("equal").string_list()),
                                 name=item.child("name").string("")))
    return rules


def _side(node: Node, side: str) -> tuple[Matcher, ...]:
    found: list[Matcher] = []
    for item in node.child(f"{side}_matchers").sequence():
        try:
            found += parse_matchers(item.string(""))
        except MatcherError as exc:
            item.fail(str(exc))
    found += [Matcher.make(k, "=", v) for k, v in node.child(f"{side}_match").string_map().items()]
    for name, value in node.child(f"{side}_match_re").string_map().items():
        try:
            found.append(Matcher.make(name, "=~", f"^(?:{value})$"))
        except MatcherError as exc:
            node.child(f"{side}_match_re").child(name).fail(str(exc))
    return tuple(found)


class Inhibitor:
    """Which label sets the current alerts inhibit.

    ``sources`` are the alerts currently known (label sets of alerts not resolved at the evaluation time);
    the caller passes them per evaluation, so there is no cache to keep coherent.
    """

    def __init__(self, rules: list[InhibitRule]) -> None:
        self.rules = rules

    def prepare(self, active: list[Mapping[str, str]]) -> "InhibitionView":
        per_rule = [[s for s in active if matches_all(rule.source, s)] for rule in self.rules]
        return InhibitionView(self.rules, per_rule)


class InhibitionView:
    """The inhibitions in force at one instant: a muter (fleetmon.hub.alerting.muting)."""

    def __init__(self, rules: list[InhibitRule], sources: list[list[Mapping[str, str]]]) -> None:
        self._rules = list(zip(rules, sources, strict=True))

    def reason(self, target: Mapping[str, str], now: float) -> str:
        """"inhibited by" the name (or index) of the first rule that inhibits ``target``, "" when none
        does. ``now`` is the instant the view was prepared for: its sources are the alerts firing then."""
        for index, (rule, sources) in enumerate(self._rules):
            if not sources or not matches_all(rule.target, target):
                continue
            guard = matches_all(rule.source, target)
            for source in sources:
                if any(source.get(n, "") != target.get(n, "") for n in rule.equal):
                    continue
                if guard and matches_all(rule.target, source):
                    continue
                return f"inhibited by {rule.name or f'inhibit_rules[{index}]'}"
        return ""
