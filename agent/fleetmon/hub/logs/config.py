"""The ``logs:`` section of the hub config: how long log lines are kept, and the log rules.

::

    logs:
      retention: 7d           # a line is deleted this long after the hub stored it
      max_lines: 10000000     # and the oldest go first once more are stored
      queue_lines: 100000     # lines waiting for the store's writer; beyond, batches are dropped and counted
      rules:
        - name: GpuFellOffBus           # the alert's alertname
          query:                        # every key optional; all given must hold
            unit: ""                    # a unit or a list of units; "" is the kernel's lines
            priority: err               # this level and the more severe ones (0..7 or emerg..debug)
            text: '"fallen off the bus"'   # full-text query (FTS5 syntax), as `fleetmon logs --grep` takes it
            regex: 'Xid \\(PCI:[0-9a-f:.]+\\): 79'   # Python regex on the message, after the other filters
            hosts: [jetson-01]          # these hosts and the members of these groups (default: every host)
            groups: [edge]
          window: 5m                    # the lines whose own time is within the last window
          threshold: 1                  # fires when at least this many lines match ...
          per: host                     # ... on one host, in one group (group), or in the whole fleet (fleet)
          severity: critical            # default warning
          for: 0s                       # how long the count must stay at or above the threshold first

A rule's alert carries ``host`` or ``group`` (by ``per``) beside alertname and severity; its annotations the
count, up to five of the matching lines and ``search``, a link to the same search (fleetmon.hub.logs.rules).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fleetmon.config_reader import Node
from fleetmon.hub.logs.search import LogQuery, QueryError, hosts_of, priority_level, text_query

PER = ("host", "group", "fleet")
RULE_KEYS = ("name", "query", "window", "threshold", "per", "severity", "for")
QUERY_KEYS = ("unit", "priority", "text", "regex", "hosts", "groups")
#: An alertname people can type into a matcher without quoting.
ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class RuleQuery:
    """A rule's filters; the hosts of its groups are looked up at each evaluation (groups change)."""

    units: tuple[str, ...] = ()
    priority: int | None = None
    text: str = ""  # through search.text_query already
    regex: str = ""
    hosts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def over(self, host_groups: Mapping[str, Sequence[str]], start: float, end: float) -> LogQuery:
        """The store's query for the lines of ``[start, end]``; ``host_groups``: each host's groups."""
        return LogQuery(hosts_of(self.hosts, self.groups, host_groups), self.units, self.priority, start, end,
                        self.text, self.regex)


@dataclass(frozen=True, slots=True)
class LogRule:
    name: str
    query: RuleQuery = RuleQuery()
    window_s: float = 300.0
    threshold: int = 1
    per: str = "host"
    severity: str = "warning"
    for_s: float = 0.0


@dataclass(frozen=True, slots=True)
class LogsConfig:
    retention_s: float = 7 * DAY
    max_lines: int = 10_000_000
    queue_lines: int = 100_000
    rules: tuple[LogRule, ...] = field(default_factory=tuple)


def parse_logs(node: Node) -> LogsConfig:
    """The ``logs`` section (missing: the defaults); errors are added to the node's list with their key paths."""
    default = LogsConfig()
    node = node.mapping(("retention", "max_lines", "queue_lines", "rules"))
    retention = node.child("retention").duration(default.retention_s, minimum=60)
    rules = []
    names: set[str] = set()
    for rule_node in node.child("rules").sequence():
        rule = _rule(rule_node, retention)
        if rule is None:
            continue
        if rule.name in names:
            rule_node.child("name").fail(f"another rule is named {rule.name!r}")
        names.add(rule.name)
        rules.append(rule)
    return LogsConfig(retention_s=retention,
                      max_lines=node.child("max_lines").number(default.max_lines, minimum=1000, integer=True),
                      queue_lines=node.child("queue_lines").number(default.queue_lines, minimum=5000, integer=True),
                      rules=tuple(rules))


def _rule(node: Node, retention: float) -> LogRule | None:
    if not isinstance(node.value, dict):
        node.fail("must be a mapping")
        return None
    node = node.mapping(RULE_KEYS)
    name_node = node.child("name")
    if name_node.missing:
        name_node.fail("is required")
    name = name_node.string("", pattern=ALERT_NAME)
    default = LogRule(name)
    window_node = node.child("window")
    window = window_node.duration(default.window_s, minimum=1)
    if window > retention:
        window_node.fail(f"must not be longer than logs.retention ({retention:g} s): older lines are gone")
    severity_node = node.child("severity")
    severity = severity_node.string(default.severity)
    if not severity:
        severity_node.fail("must not be empty")
    return LogRule(name=name, query=_query(node.child("query")), window_s=window,
                   threshold=node.child("threshold").number(default.threshold, minimum=1, integer=True),
                   per=node.child("per").string(default.per, choices=PER), severity=severity or default.severity,
                   for_s=node.child("for").duration(default.for_s, minimum=0))


def _query(node: Node) -> RuleQuery:
    node = node.mapping(QUERY_KEYS)
    unit_node = node.child("unit")
    units = (unit_node.string(""),) if isinstance(unit_node.value, str) else tuple(unit_node.string_list())
    priority_node = node.child("priority")
    priority = None
    if not priority_node.missing:
        try:
            priority = priority_level(priority_node.value)
        except ValueError as exc:
            priority_node.fail(str(exc))
    text_node = node.child("text")
    text = ""
    try:
        text = text_query(text_node.string(""))
    except QueryError as exc:
        text_node.fail(str(exc))
    regex_node = node.child("regex")
    regex = regex_node.string("")
    try:
        re.compile(regex)
    except re.error as exc:
        regex_node.fail(f"not a regular expression: {exc}")
        regex = ""
    return RuleQuery(units=units, priority=priority, text=text, regex=regex,
                     hosts=tuple(node.child("hosts").string_list()), groups=tuple(node.child("groups").string_list()))
