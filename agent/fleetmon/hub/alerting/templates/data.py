"""Alertmanager's template data (its ``template.Data``), built from a Notification or read from JSON.

Templates see what Alertmanager's see: ``.Receiver``, ``.Status``, ``.Alerts`` (with ``.Firing`` and
``.Resolved``), ``.GroupLabels``, ``.CommonLabels``, ``.CommonAnnotations``, ``.ExternalURL``, and on each
alert ``.Status``, ``.Labels``, ``.Annotations``, ``.StartsAt``, ``.EndsAt``, ``.GeneratorURL``,
``.Fingerprint``. Label sets are ``KV`` maps with Alertmanager's methods (``SortedPairs`` with
``alertname`` first, ``Names``, ``Values``, ``Remove``); times are Go ``time.Time`` values with Go's method
names (``.StartsAt.Format "15:04"``, times.py). Every value prints as Go's fmt prints it, and ``toJson`` writes it as
Go's encoding/json does, so a template's output is what Alertmanager writes for the same data.

Versions: the fields and methods are Alertmanager 0.34's: Data has ``.NotificationReason`` (0.32) and
``.RouteLabels`` (0.34), KV and Pairs a ``String`` method ("a=b, c=d", 0.26) and Strings a ``Join``
method. Printed whole, a KV or Pairs value shows Go's map and slice form (``map[a:b c:d]``), as in 0.25;
0.26 and later print the String form there.

Go's templates fail on a field a struct does not have ("can't evaluate field X in type template.Alert")
and give the zero value ("") for a key a map does not have (``missingkey=zero``); so do these.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from gotpl import TemplateExecutionError

from fleetmon.hub.alerting.notification import Notification, quote_meta
from fleetmon.hub.alerting.templates.times import GoTime, GoValue, no_field

ALERTNAME = "alertname"


class Strings(list):
    """Alertmanager's ``template.Strings``: a list of strings with a Join method."""

    __slots__ = ()

    def __gotemplate_lookup__(self, name: str) -> object:
        if name == "Join":
            return self.join
        raise no_field(name, "template.Strings")

    def join(self, sep: str) -> str:
        return sep.join(self)


@dataclass(frozen=True, slots=True)
class Pair(GoValue):
    name: str
    value: str

    GO_TYPE = "template.Pair"
    FIELDS = ("Name", "Value")

    def __str__(self) -> str:
        return f"{{{self.name} {self.value}}}"

    def go_json(self) -> object:
        return {"Name": self.name, "Value": self.value}


class Pairs(list):
    """A sorted list of Pairs, as ``KV.SortedPairs`` returns it."""

    __slots__ = ()
    METHODS = {"Names": "names", "Values": "values", "String": "string"}

    def __gotemplate_lookup__(self, name: str) -> object:
        if name in self.METHODS:
            return getattr(self, self.METHODS[name])
        raise no_field(name, "template.Pairs")

    def names(self) -> Strings:
        return Strings(pair.name for pair in self)

    def values(self) -> Strings:
        return Strings(pair.value for pair in self)

    def string(self) -> str:
        return ", ".join(f"{pair.name}={pair.value}" for pair in self)


class KV(dict):
    """Alertmanager's ``template.KV``: a label or annotation set; a missing key reads as "".

    A dict, so that templates test it (``{{ if .Annotations }}``), range over it and index it as Go does a
    map; its methods win over a key of the same name, as in Go.
    """

    __slots__ = ()
    METHODS = {"SortedPairs": "sorted_pairs", "Names": "names", "Values": "values", "Remove": "remove",
               "String": "string"}

    @classmethod
    def of(cls, pairs: Mapping[str, str] | None = None) -> "KV":
        return cls(pairs or {})

    def __missing__(self, name: str) -> str:
        return ""

    def __contains__(self, name: object) -> bool:
        """Every name reads as present (absent ones as ""), so ``index .Labels "x"`` gives Go's zero value;
        ``has`` says whether the set really holds a name."""
        return isinstance(name, str)

    def has(self, name: str) -> bool:
        return dict.__contains__(self, name)

    def __gotemplate_lookup__(self, name: str) -> object:
        method = self.METHODS.get(name)
        if method is not None:
            return getattr(self, method)
        return self.get(name, "")

    def sorted_pairs(self) -> Pairs:
        """The pairs sorted by name, except that ``alertname`` comes first."""
        names = sorted(name for name in self if name != ALERTNAME)
        if self.has(ALERTNAME):
            names.insert(0, ALERTNAME)
        return Pairs(Pair(name, self[name]) for name in names)

    def names(self) -> Strings:
        return self.sorted_pairs().names()

    def values(self) -> Strings:
        return self.sorted_pairs().values()

    def remove(self, names: Iterable[str]) -> "KV":
        drop = set(names)
        return KV({name: value for name, value in self.items() if name not in drop})

    def string(self) -> str:
        return self.sorted_pairs().string()

    def go_print(self) -> str:
        """As Go's fmt prints the map: 'map[a:b c:d]', sorted by key."""
        return "map[" + " ".join(f"{name}:{value}" for name, value in sorted(self.items())) + "]"

    def go_json(self) -> object:
        return dict(sorted(self.items()))


@dataclass(slots=True)
class Alert(GoValue):
    status: str
    labels: KV
    annotations: KV
    starts_at: GoTime
    ends_at: GoTime
    generator_url: str
    fingerprint: str

    GO_TYPE = "template.Alert"
    FIELDS = ("Status", "Labels", "Annotations", "StartsAt", "EndsAt", "GeneratorURL", "Fingerprint")

    def __str__(self) -> str:
        return "{" + " ".join((self.status, self.labels.go_print(), self.annotations.go_print(),
                               self.starts_at.string(), self.ends_at.string(), self.generator_url,
                               self.fingerprint)) + "}"

    def go_json(self) -> object:
        return {"status": self.status, "labels": self.labels, "annotations": self.annotations,
                "startsAt": self.starts_at, "endsAt": self.ends_at, "generatorURL": self.generator_url,
                "fingerprint": self.fingerprint}


class Alerts(list):
    """Alertmanager's ``template.Alerts``: the notification's alerts with Firing and Resolved."""

    __slots__ = ()

    def __gotemplate_lookup__(self, name: str) -> object:
        if name == "Firing":
            return self.firing
        if name == "Resolved":
            return self.resolved
        raise no_field(name, "template.Alerts")

    def firing(self) -> list[Alert]:
        return [alert for alert in self if alert.status == "firing"]

    def resolved(self) -> list[Alert]:
        return [alert for alert in self if alert.status == "resolved"]


@dataclass(slots=True)
class Data(GoValue):
    receiver: str
    status: str
    alerts: Alerts
    group_labels: KV
    common_labels: KV
    common_annotations: KV
    external_url: str
    notification_reason: str = ""
    route_labels: KV = field(default_factory=KV.of)

    GO_TYPE = "template.Data"
    FIELDS = ("Receiver", "Status", "Alerts", "NotificationReason", "GroupLabels", "CommonLabels",
              "CommonAnnotations", "RouteLabels", "ExternalURL")

    def __str__(self) -> str:
        """Alertmanager 0.25's form (the fields it has), which is what amtool 0.25 prints."""
        alerts = "[" + " ".join(str(alert) for alert in self.alerts) + "]"
        return "{" + " ".join((self.receiver, self.status, alerts, self.group_labels.go_print(),
                               self.common_labels.go_print(), self.common_annotations.go_print(),
                               self.external_url)) + "}"

    def go_json(self) -> object:
        return {"receiver": self.receiver, "status": self.status, "alerts": list(self.alerts),
                "notification_reason": self.notification_reason, "groupLabels": self.group_labels,
                "commonLabels": self.common_labels, "commonAnnotations": self.common_annotations,
                "routeLabels": self.route_labels, "externalURL": self.external_url}


def from_notification(notification: Notification) -> Data:
    """What Alertmanager's ``template.Data`` holds for this batch: the receiver regex-escaped, firing alerts
    with Go's zero time as EndsAt."""
    alerts = Alerts(Alert(status=snapshot.status, labels=KV.of(snapshot.labels),
                          annotations=KV.of(snapshot.annotations), starts_at=GoTime.from_unix(snapshot.starts_at),
                          ends_at=GoTime.zero() if snapshot.ends_at is None else GoTime.from_unix(snapshot.ends_at),
                          generator_url=snapshot.generator_url, fingerprint=snapshot.fingerprint)
                    for snapshot in notification.alerts)
    return Data(receiver=quote_meta(notification.receiver), status=notification.status, alerts=alerts,
                group_labels=KV.of(notification.group_labels), common_labels=KV.of(notification.common_labels),
                common_annotations=KV.of(notification.common_annotations), external_url=notification.external_url,
                notification_reason=notification.reason, route_labels=KV.of(notification.route_labels))


def from_json(document: object) -> Data:
    """Data from its JSON form (the webhook payload, or ``amtool template render --template.data``):
    absent keys read as Go's zero values, as encoding/json leaves them. ValueError when malformed."""
    if not isinstance(document, dict):
        raise ValueError("the data must be a JSON object")
    alerts = Alerts()
    for index, item in enumerate(_typed(document, "alerts", list, [])):
        if not isinstance(item, dict):
            raise ValueError(f"alerts[{index}] must be an object")
        alerts.append(Alert(status=_typed(item, "status", str, ""), labels=_kv(item, "labels"),
                            annotations=_kv(item, "annotations"), starts_at=_json_time(item, "startsAt"),
                            ends_at=_json_time(item, "endsAt"), generator_url=_typed(item, "generatorURL", str, ""),
                            fingerprint=_typed(item, "fingerprint", str, "")))
    return Data(receiver=_typed(document, "receiver", str, ""), status=_typed(document, "status", str, ""),
                alerts=alerts, group_labels=_kv(document, "groupLabels"), common_labels=_kv(document, "commonLabels"),
                common_annotations=_kv(document, "commonAnnotations"),
                external_url=_typed(document, "externalURL", str, ""),
                notification_reason=_typed(document, "notification_reason", str, ""),
                route_labels=_kv(document, "routeLabels"))


def _typed(document: dict, key: str, kind: type, default: Any) -> Any:
    value = document.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ValueError(f"{key} must be a JSON {'string' if kind is str else 'array'}")
    return value


def _kv(document: dict, key: str) -> KV:
    value = document.get(key)
    if value is None:
        return KV.of()
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{key} must be an object of strings")
    return KV.of(value)


def _json_time(document: dict, key: str) -> GoTime:
    value = document.get(key)
    if value is None:
        return GoTime.zero()
    if not isinstance(value, str):
        raise ValueError(f"{key} must be an RFC 3339 time string")
    return GoTime.parse_rfc3339(value)


def example_data(now: float | None = None) -> Data:
    """The data ``amtool template render`` uses when given no --template.data: two alerts that started 5
    and 10 minutes ago and end now."""
    now = datetime.now(timezone.utc).timestamp() if now is None else now
    common_labels = {"commonlabelkey1": "commonlabelvalue1", "commonlabelkey2": "commonlabelvalue2"}
    common_annotations = {"commonannotationkey1": "commonannotationvalue1",
                          "commonannotationkey2": "commonannotationvalue2"}
    alerts = Alerts([
        Alert("alertstatus", KV.of({"label1": "value1", "label2": "value2", "instance": "foo.bar:1234",
                                    **common_labels}),
              KV.of({"annotation1": "value1", "annotation2": "value2", **common_annotations}),
              GoTime.from_unix(now - 300), GoTime.from_unix(now), "https://generatorurl.com", "fingerprint1"),
        Alert("alertstatus", KV.of({"foo": "bar", "baz": "qux", **common_labels}),
              KV.of({"aaa": "bbb", "ccc": "ddd", **common_annotations}),
              GoTime.from_unix(now - 600), GoTime.from_unix(now), "https://generatorurl.com", "fingerprint2"),
    ])
    return Data("receiver", "alertstatus", alerts,
                KV.of({"grouplabelkey1": "grouplabelvalue1", "grouplabelkey2": "grouplabelvalue2"}),
                KV.of(common_labels), KV.of(common_annotations), "https://example.com")


def go_json(value: object) -> str:
    """``value`` as Go's json.Marshal writes it: struct fields in declaration order, maps sorted by key, and
    <, >, & (and U+2028, U+2029) escaped as Go escapes them for HTML safety."""
    text = json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def _plain(value: object) -> object:
    to_json: Callable[[], object] | None = getattr(value, "go_json", None)
    if to_json is not None:
        fields = to_json()
        if isinstance(fields, dict):  # a struct's fields, or a map already sorted: keep their order
            return {name: _plain(item) for name, item in fields.items()}
        return _plain(fields)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(Decimal(repr(value)))  # Go writes 1.0 as 1, 2**60 as 1152921504606847000 (shortest digits)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TemplateExecutionError(f"json: unsupported type: {type(value).__name__}")
