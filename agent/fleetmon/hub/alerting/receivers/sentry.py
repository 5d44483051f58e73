"""sentry_configs (fleetmon's; Alertmanager has none): alerts as Sentry events, through a DSN's envelope endpoint.

A DSN ``https://<public key>@<host>/<project id>`` (a path before the project id is kept, for a Sentry
under a prefix) gives the endpoint ``https://<host>/api/<project id>/envelope/``. Each notification is one
envelope with one ``event`` item; the request carries ``X-Sentry-Auth`` with the public key, and the
envelope header the DSN, as Sentry's SDKs send them.

The event: ``level`` error while the group fires (or the configured level), ``message`` the subject line,
``fingerprint`` the group key, so every notification of a group lands in the same Sentry issue, ``tags``
the group's common labels (then the configured ``tags``), ``extra`` the group key, the link back to the hub
and each alert's labels, annotations and times. Sentry keeps tag keys of at most 32 characters and values
of at most 200: longer keys are left out, longer values cut.

Sentry's ingestion cannot resolve an issue (that takes its web API and an auth token), so
``send_resolved`` is false by default; set to true, a group's resolution is sent as an ``info`` event into
the same issue, a record of it, and the issue stays as it is.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

from fleetmon import __version__
from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification, go_time
from fleetmon.hub.alerting.receivers.base import Integration
from fleetmon.hub.alerting.receivers.common import render, secret, secret_source, template, template_map
from fleetmon.hub.alerting.receivers.http import HttpConfig, entry_http_config, post
from fleetmon.hub.alerting.receivers.opsgenie import cut
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Field

DEFAULTS = {"message": '{{ template "__subject" . }}', "environment": "", "level": ""}
KEYS = ("dsn", "dsn_file", "tags", "send_resolved", "timeout", "http_config", *DEFAULTS)
LEVELS = ("fatal", "error", "warning", "info", "debug")
CLIENT = f"fleetmon/{__version__}"
MAX_TAG_KEY, MAX_TAG_VALUE = 32, 200
MAX_MESSAGE = 8192  # characters Sentry keeps of a message


@dataclass(slots=True, frozen=True)
class Dsn:
    text: str = field(repr=False)
    public_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    envelope_url: str


def parse_dsn(text: str) -> Dsn | None:
    """The parts of a Sentry DSN; None when it is not one."""
    parts = urlsplit(text.strip())
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        return None
    path, _, project = parts.path.rstrip("/").rpartition("/")
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.username or not project.isdigit():
        return None
    netloc = parts.netloc.rpartition("@")[2]
    return Dsn(text.strip(), unquote(parts.username), unquote(parts.password or ""),
               urlunsplit((parts.scheme, netloc, f"{path}/api/{project}/envelope/", "", "")))


def auth_header(dsn: Dsn) -> str:
    fields = ["sentry_version=7", f"sentry_client={CLIENT}", f"sentry_key={dsn.public_key}"]
    if dsn.secret_key:
        fields.append(f"sentry_secret={dsn.secret_key}")
    return "Sentry " + ", ".join(fields)


@dataclass(eq=False, kw_only=True)
class Sentry(Integration):
    kind: ClassVar[str] = "sentry"
    dsn: Dsn = field(repr=False)
    http: HttpConfig
    fields: dict[str, Field]  # every key of DEFAULTS
    tags: dict[str, Field] = field(default_factory=dict)

    def event(self, notification: Notification, event_id: str, now: datetime) -> dict:
        texts = render(self.fields, notification)
        firing = notification.status == "firing"
        level = (texts["level"] or "error") if firing else "info"
        tags = {**notification.common_labels, **render(self.tags, notification)}
        event = {"event_id": event_id, "timestamp": now.isoformat().replace("+00:00", "Z"), "platform": "other",
                 "level": level if level in LEVELS else "error", "logger": "fleetmon",
                 "message": {"formatted": cut(texts["message"], MAX_MESSAGE)},
                 "fingerprint": [notification.group_key],
                 "tags": {name: value[:MAX_TAG_VALUE] for name, value in sorted(tags.items())
                          if name and len(name) <= MAX_TAG_KEY and value},
                 "extra": {"status": notification.status, "group_key": notification.group_key,
                           "receiver": notification.receiver, "external_url": notification.external_url,
                           "alerts": [{"status": alert.status, "labels": alert.labels,
                                       "annotations": alert.annotations, "startsAt": go_time(alert.starts_at),
                                       **({"endsAt": go_time(alert.ends_at)} if alert.ends_at else {}),
                                       "generatorURL": alert.generator_url} for alert in notification.alerts]},
                 "sdk": {"name": "fleetmon", "version": __version__}}
        if texts["environment"]:
            event["environment"] = texts["environment"]
        return event

    def envelope(self, notification: Notification) -> bytes:
        event_id = uuid.uuid4().hex
        now = datetime.now(timezone.utc)
        payload = encode(self.event(notification, event_id, now))
        header = {"event_id": event_id, "dsn": self.dsn.text, "sent_at": now.isoformat().replace("+00:00", "Z"),
                  "sdk": {"name": "fleetmon", "version": __version__}}
        item = {"type": "event", "length": len(payload), "content_type": "application/json"}
        return b"\n".join((encode(header), encode(item), payload)) + b"\n"

    def send(self, notification: Notification) -> None:
        post(self.dsn.envelope_url, self.envelope(notification), self.http, self.timeout,
             content_type="application/x-sentry-envelope", headers={"X-Sentry-Auth": auth_header(self.dsn)})


def parse(node: Node, setup: IntegrationSetup) -> Sentry:
    node = node.mapping(KEYS)
    text = secret(node, "dsn")
    dsn = parse_dsn(text) if text else None
    if not text:
        node.child("dsn").fail("dsn or dsn_file is required")
    elif dsn is None:
        secret_source(node, "dsn").fail("must be a Sentry DSN: https://<public key>@<host>/<project id>")
    level = node.child("level").string()
    if level and "{{" not in level and level not in LEVELS:
        node.child("level").fail("must be one of: {} (got {!r})".format(", ".join(LEVELS), level))
    templates = setup.templates
    return Sentry(**integration_fields(node, setup, send_resolved=False), dsn=dsn or Dsn("", "", "", ""),
                  http=entry_http_config(node, setup.glob.http_config),
                  fields={key: template(node.child(key), templates, default) for key, default in DEFAULTS.items()},
                  tags=template_map(node.child("tags"), templates))
