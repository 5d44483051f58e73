"""Each agent host's final thresholds as the fleetmon_agent role renders them, with the inventory layer that
set every field (``fleetmon thresholds explain``) and the rules the agent will evaluate.

The role (roles/fleetmon_agent/vars/main.yml) combines these variables recursively, in this order:
``fleetmon_agent_thresholds_defaults`` (the role default), ``fleetmon_agent_thresholds_group``, every
``fleetmon_agent_thresholds_group_<name>`` (sorted by variable name) and ``fleetmon_agent_thresholds_host``.
Each of them is one Ansible variable: when two groups set the same one, Ansible keeps the winner whole and
the others are lost, which ``Layer.shadowed`` records so that explain can say so.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.deploy.inventory import ALL, REPOSITORY, Definition, Inventory, InventoryError
from fleetmon.protocol.thresholds import ThresholdRule, parse_thresholds

DEFAULTS_VAR = "fleetmon_agent_thresholds_defaults"
GROUP_VAR = "fleetmon_agent_thresholds_group"
HOST_VAR = "fleetmon_agent_thresholds_host"
ROLE_DEFAULT = "role default"
#: Roles whose defaults/main.yml hold the variables read here (the agent's, and the shared one's).
ROLES = ("fleetmon_common", "fleetmon_agent")
DEFAULT_ROLES_DIR = REPOSITORY / "roles"


@dataclass(frozen=True, slots=True)
class RoleDefaults:
    values: dict[str, Any]
    files: dict[str, str]  # variable -> the defaults file that sets it


@dataclass(frozen=True, slots=True)
class Layer:
    """One of the merged variables, as it applies to one host."""

    variable: str
    value: Any
    source: str  # "role default", "group jetsons" or "host"
    file: str
    shadowed: tuple[Definition, ...] = ()  # definitions of the same variable that Ansible discards


@dataclass(frozen=True, slots=True)
class FieldOrigin:
    rule: str
    field: str  # "warning", or "match.zone" inside a mapping
    value: Any
    layer: Layer


@dataclass(frozen=True, slots=True)
class HostThresholds:
    host: str  # the inventory hostname
    host_id: str  # the agent's host id: the `host` label of its series and alerts
    is_jetson: bool
    groups: tuple[str, ...]
    layers: tuple[Layer, ...]
    merged: dict[str, Any]  # `thresholds:` of the host's agent config
    origins: tuple[FieldOrigin, ...]
    rules: tuple[ThresholdRule, ...]  # the enabled rules, parsed as the agent parses them
    errors: tuple[str, ...]

    def rule(self, name: str) -> ThresholdRule | None:
        return next((rule for rule in self.rules if rule.name == name), None)


def load_role_defaults(roles_dir: Path = DEFAULT_ROLES_DIR) -> RoleDefaults:
    values: dict[str, Any] = {}
    files: dict[str, str] = {}
    for role in ROLES:
        path = Path(roles_dir) / role / "defaults" / "main.yml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise InventoryError(f"cannot read the role defaults {path}: {exc.strerror} (pass --roles DIR)") from exc
        values.update(data)
        files.update(dict.fromkeys(data, f"roles/{role}/defaults/main.yml"))
    return RoleDefaults(values, files)


def resolve(inventory: Inventory, host: str, variable: str, defaults: RoleDefaults) -> Layer | None:
    """The variable's value for the host: the inventory's winning definition, else the role default."""
    definitions = inventory.definitions(host, variable)
    if definitions:
        winner = definitions[-1]
        return Layer(variable, winner.value, winner.source, winner.file, tuple(definitions[:-1]))
    if variable in defaults.values:
        return Layer(variable, defaults.values[variable], ROLE_DEFAULT, defaults.files[variable])
    return None


def fleet_value(inventory: Inventory, variable: str, defaults: RoleDefaults) -> Any:
    """A fleet-wide setting (fleetmon_agent_group): as group ``all`` sets it, else the role default."""
    definitions = [d for d in inventory.definitions_of_group(ALL) if d.variable == variable]
    return definitions[-1].value if definitions else defaults.values.get(variable)


def agent_hosts(inventory: Inventory, defaults: RoleDefaults) -> list[str]:
    group = fleet_value(inventory, "fleetmon_agent_group", defaults)
    if group not in inventory.groups:
        raise InventoryError(f"no group {group!r} (fleetmon_agent_group) in the inventory {inventory.root}: "
                             "it lists the hosts that run an agent")
    return inventory.members(group)


def host_thresholds(inventory: Inventory, host: str, defaults: RoleDefaults) -> HostThresholds:
    names = sorted(n for n in inventory.variable_names(host) if n.startswith(GROUP_VAR + "_"))
    layers = tuple(layer for variable in (DEFAULTS_VAR, GROUP_VAR, *names, HOST_VAR)
                   if (layer := resolve(inventory, host, variable, defaults)) is not None)
    errors = Errors()
    for layer in layers:
        if not isinstance(layer.value, dict):
            errors.add(layer.variable, f"must be a mapping of rule name to settings ({layer.source}, {layer.file})")
    usable = [layer for layer in layers if isinstance(layer.value, dict)]
    merged = _combine([layer.value for layer in usable])
    origins = _origins(merged, usable)
    rules = parse_thresholds(Node(merged, "thresholds", errors))
    # A Jinja expression would be templated by Ansible but is read as written here: say so, instead of
    # the parser's complaint about the same field.
    templated = {f"thresholds.{o.rule}.{o.field}": o for o in origins
                 if isinstance(o.value, str) and ("{{" in o.value or "{%" in o.value)}
    problems = [f"{path}: {o.value!r} ({o.layer.source}, {o.layer.file}) is a Jinja expression; explain and "
                "render read the inventory without templating it: write the value itself"
                for path, o in templated.items()]
    problems += [line for line in errors if line.split(":", 1)[0] not in templated]
    jetson_group = _literal(resolve(inventory, host, "fleetmon_agent_jetson_group", defaults), "jetsons")
    groups = inventory.groups_of(host)
    return HostThresholds(
        host=host, host_id=_host_id(inventory, host, defaults), is_jetson=jetson_group in groups,
        groups=tuple(groups), layers=layers, merged=merged, origins=tuple(origins),
        rules=tuple(rules), errors=tuple(problems))


def fleet_thresholds(inventory: Inventory, defaults: RoleDefaults) -> list[HostThresholds]:
    return [host_thresholds(inventory, host, defaults) for host in agent_hosts(inventory, defaults)]


def _combine(mappings: list[dict[str, Any]]) -> dict[str, Any]:
    """Ansible's ``combine(recursive=true)``: mappings merge key by key, anything else is replaced."""
    out: dict[str, Any] = {}
    for mapping in mappings:
        for key, value in mapping.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = _combine([out[key], value])
            else:
                out[key] = value
    return out


def _origins(merged: dict[str, Any], layers: list[Layer]) -> list[FieldOrigin]:
    """Every field with the last layer that wrote it."""
    origins = []
    for path, value in _fields(merged):
        layer = next(layer for layer in reversed(layers) if _lookup(layer.value, path) is not _ABSENT)
        origins.append(FieldOrigin(path[0], ".".join(path[1:]), value, layer))
    return origins


def _fields(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) of each rule's fields, and of the entries of its mappings (match.zone, labels.team)."""
    if isinstance(value, dict) and value and len(path) < 3:
        for key, inner in value.items():
            yield from _fields(inner, (*path, key))
    else:
        yield path, value


_ABSENT = object()


def _lookup(mapping: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(mapping, dict) or key not in mapping:
            return _ABSENT
        mapping = mapping[key]
    return mapping


def _literal(layer: Layer | None, default: str) -> str:
    return layer.value if layer is not None and isinstance(layer.value, str) else default


def _host_id(inventory: Inventory, host: str, defaults: RoleDefaults) -> str:
    value = _literal(resolve(inventory, host, "fleetmon_agent_host_id", defaults), host)
    if "{{" in value:  # the role default "{{ inventory_hostname }}", or an expression not evaluated here
        if value.replace(" ", "") != "{{inventory_hostname}}":
            raise InventoryError(f"{host}: fleetmon_agent_host_id {value!r} is a Jinja expression; set the host id "
                                 "itself, or leave the default (the inventory hostname)")
        return host
    return value
