"""Reading untrusted YAML into typed values, collecting every error with its key path.

Each program keeps its schema in one module (fleetmon.agent.config for the agent) and reads it through
``Node``: a value plus the path that leads to it. Reading never raises; errors accumulate in the shared
``Errors`` list, so ``check-config`` can print all of them at once, e.g.
``thresholds.cpu.warning: must be a number``.
"""

import os
import re
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")
MISSING = object()

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$")
# Prometheus' compound form, as Alertmanager configs write it: '1h30m', '1d12h'.
_COMPOUND_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0,
                   "y": 31536000.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)


class ConfigError(Exception):
    """A configuration that cannot be used; ``errors`` holds one 'path: message' line each."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


def read_yaml(path: Optional[str]) -> Any:
    """The document in ``path`` ({} without a path or for an empty file); ConfigError naming the file when
    it cannot be read or parsed."""
    if not path:
        return {}
    import yaml  # only the programs that read config files pay for it

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from exc
    return {} if data is None else data


def with_overrides(data: Any, overrides: Optional[Mapping[str, Any]]) -> Any:
    """Command-line flags over a document: ``broker_url`` sets ``broker.url``, any other key a top-level key;
    None means the flag was not given. A document that is not a mapping is left for validation to refuse."""
    if not isinstance(data, dict) or not overrides:
        return data
    doc = dict(data)
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "broker_url":
            doc["broker"] = dict(doc.get("broker") or {}, url=value)
        else:
            doc[key] = value
    return doc


class Errors(List[str]):
    def add(self, path: str, message: str) -> None:
        self.append("{}: {}".format(path or "(top level)", message))


class Node:
    """One value in the document and the path that leads to it."""

    __slots__ = ("errors", "path", "value")

    def __init__(self, value: Any, path: str, errors: Errors) -> None:
        self.value, self.path, self.errors = value, path, errors

    @property
    def missing(self) -> bool:
        return self.value is MISSING or self.value is None

    def fail(self, message: str) -> None:
        self.errors.add(self.path, message)

    def child(self, key: str) -> "Node":
        value = self.value.get(key, MISSING) if isinstance(self.value, dict) else MISSING
        return Node(value, f"{self.path}.{key}" if self.path else key, self.errors)

    def mapping(self, allowed: Optional[Sequence[str]] = None) -> "Node":
        """Expect a mapping (missing reads as empty); unknown keys are errors, never ignored."""
        if self.missing:
            return Node({}, self.path, self.errors)
        if not isinstance(self.value, dict):
            self.fail("must be a mapping")
            return Node({}, self.path, self.errors)
        if allowed is not None:
            for key in self.value:
                if key not in allowed:
                    self.errors.add(self._join(key), "unknown key (expected one of: {})".format(
                        ", ".join(sorted(allowed))))
        return self

    def items(self) -> Iterator[Tuple[str, "Node"]]:
        """Entries of a free-form mapping (names chosen by the user), each as a Node."""
        node = self.mapping()
        for key in node.value:
            if not isinstance(key, str):
                self.errors.add(self._join(key), "keys must be strings")
                continue
            yield key, node.child(key)

    def sequence(self) -> List["Node"]:
        if self.missing:
            return []
        if not isinstance(self.value, list):
            self.fail("must be a list")
            return []
        return [Node(v, f"{self.path}[{i}]", self.errors) for i, v in enumerate(self.value)]

    def _join(self, key: Any) -> str:
        return f"{self.path}.{key}" if self.path else str(key)

    def _typed(self, default: T, ok: Callable[[Any], bool], convert: Callable[[Any], T], what: str) -> T:
        if self.missing:
            return default
        if not ok(self.value):
            self.fail("must be " + what)
            return default
        return convert(self.value)

    def string(self, default: Any = "", choices: Optional[Sequence[str]] = None,
               pattern: Optional["re.Pattern[str]"] = None) -> Any:
        value = self._typed(default, lambda v: isinstance(v, str), str, "a string")
        if self.missing or not isinstance(self.value, str):
            return value
        if choices is not None and value not in choices:
            self.fail("must be one of: {} (got {!r})".format(", ".join(choices), value))
            return default
        if pattern is not None and not pattern.match(value):
            self.fail(f"{value!r} does not match {pattern.pattern}")
            return default
        return value

    def boolean(self, default: bool) -> bool:
        return self._typed(default, lambda v: isinstance(v, bool), bool, "true or false")

    def number(self, default: Any, minimum: Optional[float] = None, maximum: Optional[float] = None,
               integer: bool = False) -> Any:
        def ok(v: Any) -> bool:
            return isinstance(v, int if integer else (int, float)) and not isinstance(v, bool)

        value = self._typed(default, ok, int if integer else float, "an integer" if integer else "a number")
        return self._bounded(value, minimum, maximum)

    def level(self, default: Any, percent: bool = False) -> Any:
        """A number; with ``percent`` (for 0..1 ratios) also a percentage string such as '85%' (0.85)."""
        if self.missing:
            return default
        value = self.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if percent and isinstance(value, str) and value.strip().endswith("%"):
            try:
                return float(value.strip()[:-1]) / 100.0
            except ValueError:
                pass
        self.fail("must be a number or a percentage like '85%'" if percent else "must be a number")
        return default

    def duration(self, default: Any, minimum: Optional[float] = None) -> Any:
        """Seconds: a number, or a string such as '500ms', '30s', '5m', '1h', '2d', '1h30m'."""
        if self.missing:
            return default
        value = self.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str) and _DURATION.match(value):
            number, unit = _DURATION.match(value).groups()
            seconds = float(number) * _DURATION_UNITS[unit]
        elif isinstance(value, str) and _COMPOUND_DURATION.match(value.strip()):
            seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(value))
        else:
            self.fail("must be a duration (seconds, or a string like '30s', '5m', '1h')")
            return default
        return self._bounded(seconds, minimum, None)

    def size(self, default: int) -> int:
        """Bytes: an integer, or a string such as '64MiB' or '1G'."""
        if self.missing:
            return default
        value = self.value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        match = _SIZE.match(value) if isinstance(value, str) else None
        if not match:
            self.fail("must be a size in bytes (an integer, or a string like '64MiB')")
            return default
        number, unit = match.groups()
        power = "BKMGT".index(unit[0].upper()) if unit else 0
        base = 1000 if unit and len(unit) > 1 and unit[1].upper() == "B" and len(unit) == 2 else 1024
        return int(float(number) * base ** power)

    def string_map(self) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for key, node in self.items():
            if isinstance(node.value, (str, int, float)) and not isinstance(node.value, bool):
                out[key] = str(node.value)
            else:
                node.fail("must be a string")
        return out

    def string_list(self) -> List[str]:
        out = []
        for node in self.sequence():
            if isinstance(node.value, str):
                out.append(node.value)
            else:
                node.fail("must be a string")
        return out

    def _bounded(self, value: Any, minimum: Optional[float], maximum: Optional[float]) -> Any:
        if self.missing or not isinstance(value, (int, float)):
            return value
        if minimum is not None and value < minimum:
            self.fail(f"must be at least {minimum:g} (got {value:g})")
        elif maximum is not None and value > maximum:
            self.fail(f"must be at most {maximum:g} (got {value:g})")
        return value


def regex(node: Node) -> Optional[str]:
    """One regular expression (None when absent), compiled here so a bad one is an error at its key."""
    pattern = node.string(None)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            node.fail(f"bad regular expression: {exc}")
    return pattern


def regex_list(node: Node, default: Optional[List[str]] = None) -> List[str]:
    """A list of regular expressions, each compiled once here so a bad one is an error at its index."""
    if node.missing:
        return list(default or [])
    patterns = node.string_list()
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            node.errors.add(f"{node.path}[{index}]", f"bad regular expression: {exc}")
    return patterns


def readable_file(node: Node) -> Optional[str]:
    """A path setting that must name a file this process can read."""
    path = node.string(None)
    if path and not os.access(path, os.R_OK):
        node.fail(f"cannot read {path}")
    return path
