"""A YAML value whose every string is a template: a webhook's ``payload``, Jira's ``fields``.

Alertmanager renders such a tree with template.DeepCopyWithTemplate: each string (mapping keys too) is
rendered, and a rendered value that reads as YAML other than a string (a mapping, a list, a number,
true, null — an empty result reads as null) becomes that value, read as Go's yaml.v2 reads it (go_yaml);
what does not read as YAML stays the rendered string. Values that are read are final: a string inside them
is neither rendered nor read again (Alertmanager #5302). Numbers, booleans and nulls of the config stay as
they are; a mapping key that is not a string is dropped, as Alertmanager drops it.
"""

import datetime
from typing import Any

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.receivers.common import template
from fleetmon.hub.alerting.receivers.go_yaml import read
from fleetmon.hub.alerting.templates import Data, Field, RenderError, TemplateSet


def parse_tree(node: Node, templates: TemplateSet) -> Any:
    """The tree under ``node`` with its strings parsed as templates (a syntax error fails the load with the
    key path); a date of the config is its text again, as yaml.v2 leaves it."""
    value = node.value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return template(node, templates)
    if isinstance(value, list):
        return [parse_tree(item, templates) for item in node.sequence()]
    if isinstance(value, dict):
        return {template(Node(key, node.path, node.errors), templates): parse_tree(node.child(key), templates)
                for key in value if isinstance(key, str)}
    return value


def render_tree(tree: Any, data: Data) -> Any:
    """The tree rendered for ``data``; DeliveryError (not worth a retry) when a template fails."""
    if isinstance(tree, Field):
        return structured(render(tree, data))
    if isinstance(tree, list):
        return [render_tree(item, data) for item in tree]
    if isinstance(tree, dict):
        return {render(key, data): render_tree(item, data) for key, item in tree.items()}
    return tree


def structured(rendered: str) -> Any:
    """A rendered string as Alertmanager sends it: the value it reads as, unless that is a string or it does
    not read, then the string itself."""
    try:
        value = read(rendered)
    except ValueError:
        return rendered
    return rendered if isinstance(value, str) else value


def render(field: Field, data: Data) -> str:
    try:
        return field.render(data)
    except RenderError as exc:
        raise DeliveryError(f"template failed: {exc}", retryable=False) from exc
