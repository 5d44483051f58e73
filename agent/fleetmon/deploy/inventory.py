"""An Ansible inventory, read so that every variable keeps where it was written and which definition wins.

The group tree and the variables written inline in the inventory sources come from
``ansible-inventory --list --export`` run with the vars plugins off; the ``group_vars/`` and ``host_vars/``
files are read here the way Ansible's host_group_vars plugin finds them. Two reasons not to take Ansible's
merged ``--host`` view instead: it forgets which group or file a value came from, and an ansible-vault
encrypted file stops it without the vault password. Here an encrypted file is skipped and listed in
``Inventory.unread``, so thresholds written in plain files still explain and render.

Precedence follows Ansible's (lowest first, a later definition replaces an earlier one whole):
inline vars of ``all``, inline vars of the host's groups, ``group_vars/all``, ``group_vars/<group>``, inline
host vars, ``host_vars/<host>``; groups in Ansible's order: depth (children after parents), then
``ansible_group_priority``, then name. Values are taken as written: Jinja expressions are not evaluated.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

GROUP, HOST = "group", "host"
ALL = "all"
#: Stands for "written in the inventory source itself" (hosts.yml, an INI file, a plugin's output).
INLINE = "inventory source"
#: host_group_vars tries these after the bare name, and stops at the first that exists.
VARS_EXTENSIONS = (".yml", ".yaml", ".json")
VAULT_HEADER = "$ANSIBLE_VAULT;"
REPOSITORY = Path(__file__).resolve().parents[3]


class InventoryError(Exception):
    """The inventory cannot be read; the message says why and where."""


@dataclass(frozen=True, slots=True)
class Definition:
    """One place that sets a variable for a host."""

    variable: str
    value: Any
    scope: str  # GROUP or HOST
    owner: str  # the group's or the host's name
    file: str  # the vars file, relative to the inventory, or INLINE

    @property
    def source(self) -> str:
        return f"group {self.owner}" if self.scope == GROUP else "host"


@dataclass(slots=True)
class Group:
    name: str
    parents: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)  # direct members only
    inline: dict[str, Any] = field(default_factory=dict)
    depth: int = 0

    @property
    def priority(self) -> int:
        return int(self.inline.get("ansible_group_priority", 1))


@dataclass(frozen=True, slots=True)
class VarsLayer:
    """Variables from one place, in precedence order with the others."""

    scope: str
    owner: str
    file: str
    values: dict[str, Any]


class Inventory:
    def __init__(self, root: Path, groups: dict[str, Group], host_inline: dict[str, dict[str, Any]]) -> None:
        self.root = root
        self.groups = groups
        self._host_inline = host_inline
        self.unread: list[str] = []  # vars files skipped (encrypted), relative to root
        self._files: dict[tuple[str, str], list[VarsLayer]] = {}
        self._groups_of: dict[str, list[str]] = {}

    @property
    def hosts(self) -> list[str]:
        return sorted(self._host_inline)

    def groups_of(self, host: str) -> list[str]:
        """The host's groups but ``all``, lowest precedence first, as Ansible sorts them."""
        if host not in self._host_inline:
            raise InventoryError(f"no host {host!r} in the inventory {self.root}")
        if host not in self._groups_of:
            self._groups_of[host] = self._sorted_groups(host)
        return self._groups_of[host]

    def _sorted_groups(self, host: str) -> list[str]:
        found: set[str] = set()
        pending = [g.name for g in self.groups.values() if host in g.hosts]
        while pending:
            name = pending.pop()
            if name not in found:
                found.add(name)
                pending.extend(self.groups[name].parents)
        found.discard(ALL)
        return sorted(found, key=lambda name: (self.groups[name].depth, self.groups[name].priority, name))

    def members(self, group: str) -> list[str]:
        """Every host in the group or in one of its descendants."""
        return sorted(h for h in self._host_inline if group == ALL or group in self.groups_of(h))

    def layers(self, host: str) -> list[VarsLayer]:
        """Every place that sets variables for the host, lowest precedence first."""
        groups = self.groups_of(host)
        inline = [VarsLayer(GROUP, name, INLINE, self.groups[name].inline) for name in (ALL, *groups)
                  if name in self.groups]
        files = [layer for name in (ALL, *groups) for layer in self._vars_files(GROUP, name)]
        return [*inline, *files, VarsLayer(HOST, host, INLINE, self._host_inline[host]),
                *self._vars_files(HOST, host)]

    def definitions(self, host: str, variable: str) -> list[Definition]:
        """The definitions of ``variable`` that apply to the host; the last one is the one Ansible uses."""
        return [Definition(variable, layer.values[variable], layer.scope, layer.owner, layer.file)
                for layer in self.layers(host) if variable in layer.values]

    def definitions_of_group(self, group: str) -> list[Definition]:
        """What the group itself sets (inline, then its group_vars files), lowest precedence first."""
        layers = [VarsLayer(GROUP, group, INLINE, self.groups[group].inline), *self._vars_files(GROUP, group)]
        return [Definition(name, value, GROUP, group, layer.file)
                for layer in layers for name, value in layer.values.items()]

    def variable_names(self, host: str) -> set[str]:
        return {name for layer in self.layers(host) for name in layer.values}

    def read_vars_files(self) -> None:
        """Read every group's and host's vars files now, so that ``unread`` is complete."""
        for group in self.groups:
            self._vars_files(GROUP, group)
        for host in self._host_inline:
            self._vars_files(HOST, host)

    def _vars_files(self, scope: str, name: str) -> list[VarsLayer]:
        key = (scope, name)
        if key not in self._files:
            directory = self.root / ("group_vars" if scope == GROUP else "host_vars")
            self._files[key] = [layer for path in _find_vars_files(directory, name)
                                if (layer := self._read_vars_file(scope, name, path)) is not None]
        return self._files[key]

    def _read_vars_file(self, scope: str, owner: str, path: Path) -> VarsLayer | None:
        relative = str(path.relative_to(self.root))
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith(VAULT_HEADER):
            self.unread.append(relative)
            return None
        try:
            values = yaml.load(text, Loader=_VarsLoader) or {}  # a SafeLoader subclass: no arbitrary objects
        except yaml.YAMLError as exc:
            raise InventoryError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(values, dict):
            raise InventoryError(f"{path}: must be a mapping of variable names to values")
        return VarsLayer(scope, owner, relative, values)


def load_inventory(path: str | os.PathLike[str], program: str | None = None) -> Inventory:
    """The inventory at ``path`` (a directory or one inventory file); ``program`` is ansible-inventory."""
    source = Path(path)
    if not source.exists():
        raise InventoryError(f"{source}: no such inventory")
    listing = _export(source, program or find_ansible_inventory())
    groups: dict[str, Group] = {}
    meta = listing.pop("_meta", {})
    for name, entry in listing.items():
        group = groups.setdefault(name, Group(name))
        group.hosts.update(entry.get("hosts", []))
        group.inline = dict(entry.get("vars", {}))
        for child in entry.get("children", []):
            groups.setdefault(child, Group(child)).parents.add(name)
    groups.setdefault(ALL, Group(ALL))
    _set_depths(groups)
    hosts = {host for group in groups.values() for host in group.hosts}
    host_inline = {host: dict(meta.get("hostvars", {}).get(host, {})) for host in hosts}
    root = source if source.is_dir() else source.parent
    inventory = Inventory(root.resolve(), groups, host_inline)
    inventory.read_vars_files()
    return inventory


def find_ansible_inventory() -> str:
    """ansible-inventory on PATH, beside this Python, or in the checkout's deploy venv (make deploy-venv)."""
    candidates = [shutil.which("ansible-inventory"), Path(sys.executable).with_name("ansible-inventory"),
                  REPOSITORY / ".venv-deploy" / "bin" / "ansible-inventory"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    raise InventoryError("ansible-inventory not found: put Ansible on PATH (make deploy-venv builds "
                         ".venv-deploy) or pass --ansible-inventory")


def _export(source: Path, program: str) -> dict[str, Any]:
    # With the vars plugins off, group_vars/ and host_vars/ stay out of the listing (read by this module)
    # and an encrypted vars file cannot stop it.
    env = {**os.environ, "ANSIBLE_VARS_ENABLED": ""}
    try:
        done = subprocess.run([program, "-i", str(source), "--list", "--export"], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    except OSError as exc:
        raise InventoryError(f"cannot run {program}: {exc}") from exc
    if done.returncode != 0:
        raise InventoryError(f"ansible-inventory -i {source} failed: {done.stderr.strip()}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"ansible-inventory -i {source} printed no JSON: {exc}") from exc


def _set_depths(groups: dict[str, Group]) -> None:
    """Each group's longest path from ``all`` (Ansible's Group.depth): a child sorts after its parents."""

    @cache
    def depth(name: str) -> int:
        parents = groups[name].parents
        return 0 if name == ALL or not parents else 1 + max(depth(parent) for parent in parents)

    for group in groups.values():
        group.depth = depth(group.name)


def _find_vars_files(directory: Path, name: str) -> list[Path]:
    """As host_group_vars: the first of NAME, NAME.yml, NAME.yaml, NAME.json that exists; a directory is
    read whole, sorted, recursively, skipping hidden files, backups and other extensions."""
    for candidate in (directory / name, *(directory / (name + ext) for ext in VARS_EXTENSIONS)):
        if candidate.is_dir():
            return list(_files_in(candidate))
        if candidate.is_file():
            return [candidate]
    return []


def _files_in(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.name.endswith("~"):
            continue
        if path.is_dir() and not path.suffix:
            yield from _files_in(path)
        elif path.is_file() and (not path.suffix or path.suffix in VARS_EXTENSIONS):
            yield path


class VaultedValue:
    """An inline ``!vault`` value: readable only with the vault password, which these tools never need."""

    def __repr__(self) -> str:
        return "<vault-encrypted>"


class _VarsLoader(yaml.SafeLoader):
    """Safe YAML plus Ansible's two tags: ``!vault`` (kept opaque) and ``!unsafe`` (its plain value)."""


def _untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_VarsLoader.add_constructor("!vault", lambda _loader, _node: VaultedValue())
_VarsLoader.add_constructor("!unsafe", _untagged)
