"""Config readers every receiver kind uses: secrets inline or from a file, and Go-template fields.

A field Alertmanager renders as a template is parsed when the config loads (``template``), against the
config's template set, so a syntax error or an unknown function fails the load with the key path; it is
rendered per notification (``render``). A field that fails to render fails that integration's attempt
for good, as in Alertmanager: the delivery log and the hub log say why, and since nothing was logged as
sent, the group's next tick tries again.
"""

from collections.abc import Mapping
from pathlib import Path

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.templates import (
    Data,
    Field,
    RenderError,
    TemplateSet,
    TemplateSyntaxError,
    from_notification,
)
from fleetmon.hub.alerting.templates import syntax_error as describe_syntax_error


def secret(node: Node, key: str) -> str:
    """``key`` or ``key_file`` of mapping ``node`` (the file's content without surrounding whitespace, read
    at load time, as Alertmanager trims it); setting both is an error."""
    inline, from_file = node.child(key), node.child(key + "_file")
    if not inline.missing and not from_file.missing:
        from_file.fail(f"set {key} or {key}_file, not both")
    if from_file.missing:
        return inline.string()
    path = from_file.string()
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        from_file.fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        from_file.fail(f"{path} is not UTF-8 text")
    return ""


#: Why prometheus/common's ``*_ref`` keys are refused: they name secrets of a secret manager, and Alertmanager
#: builds its HTTP clients without one, so it cannot resolve them either (it fails the receiver's setup).
NO_SECRET_MANAGER = "secret references need a secret manager, which Alertmanager (and the hub) does not have"


def refuse_refs(node: Node, *keys: str) -> None:
    """Fail each ``<key>_ref`` of mapping ``node`` that is set, saying why and what to use instead."""
    for key in keys:
        ref = node.child(f"{key}_ref")
        if not ref.missing and ref.value != "":
            ref.fail(f"{NO_SECRET_MANAGER}: use the inline key or its _file ({key} or {key}_file)")


def secret_source(node: Node, key: str) -> Node:
    """The node a secret was read from, for errors about its value: ``key_file`` when that is set."""
    from_file = node.child(key + "_file")
    return node.child(key) if from_file.missing else from_file


def template(node: Node, templates: TemplateSet, default: str = "", html: bool = False) -> Field:
    """The field's template (``default`` when the key is absent, as Alertmanager's defaults fill it in);
    an error on ``node`` when it does not parse."""
    source = default if node.missing else node.string()
    try:
        return templates.html(source) if html else templates.text(source)
    except TemplateSyntaxError as exc:
        node.fail(f"template does not parse: {describe_syntax_error(exc)}")
        return templates.text("")


def template_map(node: Node, templates: TemplateSet) -> dict[str, Field]:
    """A mapping of names to templated values (email headers, PagerDuty details)."""
    fields = {}
    for name, item in node.items():
        if isinstance(item.value, str):
            fields[name] = template(item, templates)
        else:
            item.fail("must be a string")
    return fields


def render(fields: Mapping[str, Field], notification: Notification | Data) -> dict[str, str]:
    """Each field rendered with the notification's template data (or that data, made once for several calls);
    a render error is a DeliveryError that no retry can fix."""
    data = notification if isinstance(notification, Data) else from_notification(notification)
    rendered = {}
    for key, field in fields.items():
        try:
            rendered[key] = field.render(data)
        except RenderError as exc:
            raise DeliveryError(f"template of {key} failed: {exc}", retryable=False) from exc
    return rendered
