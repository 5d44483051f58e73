"""The routing tree: which routes (and so receivers and groups) an alert lands in, as Alertmanager decides.

Matching is depth-first, left to right; a node is the match only when none of its children match, and a
child's ``continue`` decides whether its later siblings are tried. Options inherit by key presence: an
absent ``group_by`` inherits, ``['...']`` groups by every label, ``[]`` groups everything together (0.31+);
mute and active time intervals are never inherited. fleetmon adds, both inherited like ``receiver``:
``escalation``, tiers of receivers notified when a firing group stays unacknowledged, and ``incident``, which
alerts of the route's groups open an incident (fleetmon.hub.incidents; docs/incidents.md).

Route ``labels`` (Alertmanager 0.34): a map merged into the children's, a child's own key winning. Each value
is a Go template, parsed at config load and rendered per aggregation group (``render_labels``) against the
group's data with ``.NotificationReason`` "unknown": at a flush against the alerts about to be notified, in
the API against all the group's alerts. Inside such a template ``.RouteLabels`` holds the raw values and
``routeLabels "x"`` renders label x (once per render; a cycle is an error). A label whose template fails is
left out and logged, as Alertmanager does; grouping never looks at them.
"""

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from gotpl import TemplateExecutionError, TemplateSyntaxError

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.matchers import Matcher, MatcherError, format_matchers, is_label_name, parse_matchers
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.templates import (
    Data,
    Field,
    RenderError,
    TemplateSet,
    default_templates,
    from_notification,
    syntax_error,
)
from fleetmon.hub.alerting.templates.data import KV

ROUTE_KEYS = ("receiver", "group_by", "continue", "matchers", "match", "match_re", "group_wait", "group_interval",
              "repeat_interval", "mute_time_intervals", "active_time_intervals", "routes", "escalation", "incident",
              "labels")
DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0

log = logging.getLogger("fleetmon.hub.alerting")


@dataclass(slots=True, frozen=True)
class EscalationTier:
    after: float  # seconds a firing group may stay unacknowledged before this tier is notified
    receivers: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class RouteOptions:
    """The options a node passes down to its children."""

    receiver: str = ""
    group_by: frozenset[str] = frozenset()
    group_by_all: bool = False
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    escalation: tuple[EscalationTier, ...] = ()
    # None: no incidents; a tuple: the matchers an alert must meet to open or join one (empty: every alert)
    incident: tuple[Matcher, ...] | None = None
    labels: tuple[tuple[str, Field], ...] = ()  # route labels, own and inherited, by name; values are templates

    def opens_incident(self, labels: Mapping[str, str]) -> bool:
        return self.incident is not None and all(m.matches(labels) for m in self.incident)


@dataclass(eq=False)
class Route:
    options: RouteOptions
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    routes: list["Route"] = field(default_factory=list)
    key: str = "{}"  # Alertmanager's Route.Key(): not unique, part of every group key
    id: str = "{}"  # Route.ID(): the key plus each node's index among its siblings, unique

    @property
    def receiver(self) -> str:
        return self.options.receiver

    def match(self, labels: Mapping[str, str]) -> list["Route"]:
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found += matched
            if matched and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.options.group_by_all:
            return dict(labels)
        return {k: v for k, v in labels.items() if k in self.options.group_by}

    def render_labels(self, group_labels: Mapping[str, str], alerts: list[AlertSnapshot],
                      external_url: str = "") -> dict[str, str]:
        """The route labels rendered for one group and batch of alerts; {} when the route has none."""
        fields = dict(self.options.labels)
        if not fields or not alerts:
            return {}
        data = from_notification(Notification(receiver=self.receiver, group_key="", group_labels=dict(group_labels),
                                              alerts=alerts, reason="unknown", external_url=external_url))
        resolver = data.route_labels = _LabelResolver(fields, data)
        rendered = {}
        for name in sorted(fields):
            try:
                rendered[name] = resolver.get(name)
            except RenderError as exc:
                log.error("route %s: label %s not rendered: %s", self.id, name, exc)
        return rendered

    def walk(self, depth: int = 0) -> Iterator[tuple[int, "Route"]]:
        yield depth, self
        for child in self.routes:
            yield from child.walk(depth + 1)

    def describe(self) -> str:
        """One line for the tree view: matchers, receiver, grouping and what differs from the defaults."""
        o = self.options
        parts = [format_matchers(self.matchers) if self.matchers else "(default)", f"receiver={o.receiver}"]
        parts.append("group_by=[...]" if o.group_by_all else f"group_by=[{','.join(sorted(o.group_by))}]")
        if self.continue_:
            parts.append("continue")
        for name, value, default in (("group_wait", o.group_wait, DEFAULT_GROUP_WAIT),
                                     ("group_interval", o.group_interval, DEFAULT_GROUP_INTERVAL),
                                     ("repeat_interval", o.repeat_interval, DEFAULT_REPEAT_INTERVAL)):
            if value != default:
                parts.append(f"{name}={_seconds(value)}")
        if self.mute_time_intervals:
            parts.append("mute=" + ",".join(self.mute_time_intervals))
        if self.active_time_intervals:
            parts.append("active=" + ",".join(self.active_time_intervals))
        for tier in o.escalation:
            parts.append(f"escalate after {_seconds(tier.after)} to {','.join(tier.receivers)}")
        if o.incident is not None:
            parts.append(f"incident{{{format_matchers(o.incident)}}}" if o.incident else "incident")
        if o.labels:
            parts.append("labels{" + ",".join(f"{name}={field.source!r}" for name, field in o.labels) + "}")
        return "  ".join(parts)

    def tree(self) -> str:
        return "\n".join("  " * depth + route.describe() for depth, route in self.walk())


def parse_route(node: Node, receivers: set[str], intervals: set[str], templates: TemplateSet | None = None) -> Route:
    """The root route; errors (with key paths) go to the node's error list. ``templates``: the set the route
    labels' templates are parsed against (the config's ``templates:`` files)."""
    node = node.mapping(ROUTE_KEYS)
    if node.missing or not node.value:
        node.fail("a root route is required")
        return Route(RouteOptions())
    for key in ("match", "match_re", "matchers", "mute_time_intervals", "active_time_intervals"):
        if key in node.value:
            node.child(key).fail("the root route cannot have matchers or time intervals: it matches every alert")
    if node.child("continue").boolean(False):
        node.child("continue").fail("the root route cannot continue")
    if not node.child("receiver").string(""):
        node.child("receiver").fail("the root route must name a receiver")
    return _route(node, RouteOptions(), receivers, intervals, templates or default_templates(), "{}")


def _route(node: Node, parent: RouteOptions, receivers: set[str], intervals: set[str], templates: TemplateSet,
           parent_key: str, index: int | None = None) -> Route:
    node = node.mapping(ROUTE_KEYS)
    own_receiver = node.child("receiver").string("")
    if own_receiver and own_receiver not in receivers:
        node.child("receiver").fail(f"undefined receiver {own_receiver!r}")
    options = replace(parent, receiver=own_receiver or parent.receiver)
    if "group_by" in node.value:
        options = _group_by(node.child("group_by"), options)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        minimum = 0.0 if key == "group_wait" else 0.001
        child = node.child(key)
        if not child.missing and child.value in (0, "0", "0s") and key != "group_wait":
            child.fail(f"{key} cannot be zero")
        options = replace(options, **{key: child.duration(getattr(options, key), minimum=minimum)})
    if "escalation" in node.value:
        options = replace(options, escalation=_escalation(node.child("escalation"), receivers))
    if "incident" in node.value:
        options = replace(options, incident=_incident(node.child("incident")))
    if "labels" in node.value:
        own = _labels(node.child("labels"), templates)
        options = replace(options, labels=tuple(sorted({**dict(options.labels), **own}.items())))
    matchers = tuple(sorted(_matchers(node), key=lambda m: m.sort_key))
    time_intervals = {}
    for key in ("mute_time_intervals", "active_time_intervals"):
        names = node.child(key).string_list()
        for i, name in enumerate(names):
            if name not in intervals:
                Node(name, f"{node.child(key).path}[{i}]", node.errors).fail(f"undefined time interval {name!r}")
        time_intervals[key] = tuple(names)
    key = parent_key if index is None else f"{parent_key}/{format_matchers(matchers)}"
    route_id = key if index is None else f"{key}/{index}"
    route = Route(options, matchers, node.child("continue").boolean(False), time_intervals["mute_time_intervals"],
                  time_intervals["active_time_intervals"], key=key, id=route_id)
    route.routes = [_route(child, options, receivers, intervals, templates, key, i)
                    for i, child in enumerate(node.child("routes").sequence())]
    return route


def _group_by(node: Node, options: RouteOptions) -> RouteOptions:
    names = node.string_list()
    if len(set(names)) != len(names):
        node.fail("duplicate label names in group_by")
    if "..." in names:
        if len(names) > 1:
            node.fail("'...' groups by every label and cannot be combined with other names")
        return replace(options, group_by_all=True)
    for i, name in enumerate(names):
        if not is_label_name(name, classic=False):
            Node(name, f"{node.path}[{i}]", node.errors).fail(f"invalid label name {name!r}")
    return replace(options, group_by=frozenset(names), group_by_all=False)


def _labels(node: Node, templates: TemplateSet) -> dict[str, Field]:
    """A route's own labels, each value parsed as a template against the config's template set."""
    if not node.missing and not isinstance(node.value, dict):
        node.fail("must be a mapping of label names to values")
        return {}
    fields = {}
    for name, value in node.string_map().items():
        if not is_label_name(name, classic=False):
            node.child(name).fail(f"invalid label name {name!r}")
            continue
        try:
            fields[name] = templates.text(value)
        except TemplateSyntaxError as exc:
            node.child(name).fail(f"template: {syntax_error(exc)}")
    return fields


class _LabelResolver(KV):
    """``.RouteLabels`` while route labels render: looked up (``.RouteLabels.x``, ``index``, ``range``) it
    gives the raw values, as Alertmanager's data holds them; ``get``, which the ``routeLabels`` function
    calls, renders the named label, each at most once per render, and refuses a cycle."""

    __slots__ = ("_data", "_fields", "_memo", "_stack")

    def __init__(self, fields: Mapping[str, Field], data: Data) -> None:
        super().__init__({name: field.source for name, field in fields.items()})
        self._fields, self._data = dict(fields), data
        self._memo: dict[str, str] = {}
        self._stack: list[str] = []

    def __gotemplate_lookup__(self, name: str) -> object:
        method = self.METHODS.get(name)
        return getattr(self, method) if method is not None else dict.get(self, name, "")

    def get(self, name: str, default: object = "") -> str:  # type: ignore[override]
        field = self._fields.get(name)
        if field is None:
            return ""
        if name in self._memo:
            return self._memo[name]
        if name in self._stack:
            raise TemplateExecutionError("route label cycle detected: " + " -> ".join([*self._stack, name]))
        self._stack.append(name)
        try:
            value = self._memo[name] = field.render(self._data)
        finally:
            self._stack.pop()
        return value


def _matchers(node: Node) -> list[Matcher]:
    found = []
    for item in node.child("matchers").sequence():
        text = item.string("")
        try:
            found += parse_matchers(text)
        except MatcherError as exc:
            item.fail(str(exc))
    for name, value in node.child("match").string_map().items():
        found.append(Matcher.make(name, "=", value))
    for name, value in node.child("match_re").string_map().items():
        try:
            # Stored anchored, as Alertmanager does: the anchors show in route keys.
            found.append(Matcher.make(name, "=~", f"^(?:{value})$"))
        except MatcherError as exc:
            node.child("match_re").child(name).fail(str(exc))
    return found


def _escalation(node: Node, receivers: set[str]) -> tuple[EscalationTier, ...]:
    tiers = []
    for item in node.sequence():
        item = item.mapping(("after", "receivers"))
        after = item.child("after").duration(None, minimum=1)
        if after is None:
            item.child("after").fail("required: how long a firing group may stay unacknowledged")
        names = tuple(item.child("receivers").string_list())
        if not names:
            item.child("receivers").fail("required: the receivers of this tier")
        for i, name in enumerate(names):
            if name not in receivers:
                Node(name, f"{item.child('receivers').path}[{i}]", node.errors).fail(f"undefined receiver {name!r}")
        if after is not None:
            tiers.append(EscalationTier(after, names))
    if [t.after for t in tiers] != sorted(t.after for t in tiers):
        node.fail("tiers must be listed in increasing order of 'after'")
    return tuple(tiers)


def _incident(node: Node) -> tuple[Matcher, ...] | None:
    """``true`` (every alert), ``false`` (none), ``{label: value}`` (labels that must be equal) or a list of
    matcher strings: which alerts of the route's groups open or join an incident."""
    value = node.value
    if isinstance(value, bool):
        return () if value else None
    if isinstance(value, dict):
        return tuple(sorted((Matcher.make(name, "=", text) for name, text in node.string_map().items()),
                            key=lambda m: m.sort_key))
    if isinstance(value, list):
        found: list[Matcher] = []
        for item in node.sequence():
            try:
                found += parse_matchers(item.string(""))
            except MatcherError as exc:
                item.fail(str(exc))
        return tuple(sorted(found, key=lambda m: m.sort_key))
    node.fail("must be true, false, a mapping of labels to values, or a list of matchers")
    return None


def _seconds(value: float) -> str:
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"
