"""One notification as a receiver gets it, and its Alertmanager webhook (version 4) form.

The dispatcher builds a ``Notification`` at flush time: the group's alerts in Alertmanager's flush order,
firing and resolved mixed. Every receiver kind reads it; the webhook, MQTT and file receivers send
``webhook_payload()`` as it is, so a consumer written for Alertmanager's webhook reads ours unchanged:
same keys in the same order, maps sorted by key (as Go's encoding/json writes them), the receiver name
regex-escaped, RFC 3339 times with trailing zeros trimmed, and Go's zero time as endsAt while firing.

Newer Alertmanager releases add two keys: ``notification_reason`` (0.32) and ``routeLabels`` (0.34).
We send each only when it carries something, in the place those releases put it, so a notification
without them is byte-for-byte the shape of Alertmanager 0.25, the version the differential tests run.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from fleetmon.protocol.alerts import fingerprint as label_fingerprint
from fleetmon.protocol.messages import ZERO_TIME

_GO_REGEX_META = frozenset("\\.+*?()|[]{}^$")


def go_time(ts: float) -> str:
    """A Unix time as Go's RFC3339Nano writes it in UTC: '2024-01-02T03:04:05.12Z' (no trailing zeros)."""
    text = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta, which Alertmanager applies to the receiver name (re.escape escapes more)."""
    return "".join("\\" + char if char in _GO_REGEX_META else char for char in text)


def _sorted(pairs: dict[str, str]) -> dict[str, str]:
    return dict(sorted(pairs.items()))


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    """The pairs every map holds with the same value."""
    if not maps:
        return {}
    common = dict(maps[0])
    for other in maps[1:]:
        common = {name: value for name, value in common.items() if other.get(name) == value}
    return common


@dataclass(slots=True)
class AlertSnapshot:
    """One alert as it goes out in a notification."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float  # unix seconds
    ends_at: float | None  # None while firing; the resolve time once resolved
    generator_url: str = ""
    fingerprint: str = ""  # 16 hex digits; computed from the labels when left empty

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = label_fingerprint(self.labels)

    @property
    def status(self) -> str:
        return "firing" if self.ends_at is None else "resolved"

    def webhook_alert(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": _sorted(self.labels),
            "annotations": _sorted(self.annotations),
            "startsAt": go_time(self.starts_at),
            "endsAt": ZERO_TIME if self.ends_at is None else go_time(self.ends_at),
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


@dataclass(slots=True)
class Notification:
    """One batch of a group's alerts for one receiver, built by the dispatcher at flush time."""

    receiver: str
    group_key: str  # e.g. '{}/{env="prod"}:{alertname="X"}'
    group_labels: dict[str, str]
    alerts: list[AlertSnapshot]  # in Alertmanager's flush order; firing and resolved mixed
    reason: str = ""  # "first notification", "new alerts added", "all alerts resolved", ...
    external_url: str = ""
    route_labels: dict[str, str] = field(default_factory=dict)
    tier: int = 0  # escalation tier: 0 is the route's own receiver
    # An incident's change (fleetmon.hub.incidents) rather than a group's flush: "opened", "resolved", ...
    incident_change: str = ""
    incident: dict[str, Any] | None = None
    # What the integration's last notification of the group left in the notification log (nflog.carried_data),
    # for it to read and change during a successful send; the dispatcher logs it with the entry. with_alerts
    # shares the one dict.
    receiver_data: dict[str, str] = field(default_factory=dict)

    @property
    def firing(self) -> list[AlertSnapshot]:
        return [alert for alert in self.alerts if alert.ends_at is None]

    @property
    def resolved(self) -> list[AlertSnapshot]:
        return [alert for alert in self.alerts if alert.ends_at is not None]

    @property
    def status(self) -> str:
        return "firing" if any(alert.ends_at is None for alert in self.alerts) else "resolved"

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([alert.labels for alert in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([alert.annotations for alert in self.alerts])

    def with_alerts(self, alerts: Iterable[AlertSnapshot]) -> "Notification":
        return replace(self, alerts=list(alerts))

    def truncated(self, max_alerts: int) -> "Notification":
        """The notification of its first ``max_alerts`` alerts (0: all of them)."""
        return self.with_alerts(self.alerts[:max_alerts]) if 0 < max_alerts < len(self.alerts) else self

    def webhook_payload(self, max_alerts: int = 0) -> dict[str, Any]:
        """The webhook body; with ``max_alerts`` > 0 only the first that many alerts, the rest counted in
        truncatedAlerts. Status and common labels describe the alerts sent, as in Alertmanager."""
        if self.incident is not None:
            return self.incident_payload()
        shown = self.truncated(max_alerts)
        payload: dict[str, Any] = {
            "receiver": quote_meta(self.receiver),
            "status": shown.status,
            "alerts": [alert.webhook_alert() for alert in shown.alerts],
        }
        if self.reason:
            payload["notification_reason"] = self.reason
        payload["groupLabels"] = _sorted(self.group_labels)
        payload["commonLabels"] = _sorted(shown.common_labels)
        payload["commonAnnotations"] = _sorted(shown.common_annotations)
        if self.route_labels:
            payload["routeLabels"] = _sorted(self.route_labels)
        payload["externalURL"] = self.external_url
        payload["version"] = "4"
        payload["groupKey"] = self.group_key
        payload["truncatedAlerts"] = len(self.alerts) - len(shown.alerts)
        return payload

    def incident_payload(self) -> dict[str, Any]:
        """An incident's change for machines (docs/incidents.md, "Receivers"): its own ``kind``, so a consumer
        of alert notifications tells it apart by one key."""
        return {"version": "4", "kind": "incident", "change": self.incident_change,
                "receiver": quote_meta(self.receiver), "incident": self.incident,
                "alerts": [alert.webhook_alert() for alert in self.alerts],
                "externalURL": self.external_url}
