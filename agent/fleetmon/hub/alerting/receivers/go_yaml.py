"""YAML read as Go's gopkg.in/yaml.v2 reads it into an ``interface{}``: what Alertmanager does to a rendered
webhook ``payload`` or Jira ``fields`` string before it sends it (template.DeepCopyWithTemplate).

PyYAML parses; the values are yaml.v2's, not PyYAML's, where the two differ: YAML 1.1 booleans include
``y``/``n``, ``1e3`` and ``08`` are floats, ``0o17`` is octal, a timestamp stays the string it was, a number
too big for a float stays a string. Mappings keep only their string keys (Alertmanager drops the others);
merge keys (``<<``) apply in document order, as yaml.v2 applies them. Aliases are expanded, at most
``MAX_VALUES`` values in all: a few hundred bytes of nested aliases cannot grow into a huge payload.

Most rendered strings are JSON (``toJson``), which reads the same as JSON or as YAML: they take ``json.loads``
(a 200 KB toJson of 2,000 alerts: 2 ms, against 0.94 s in PyYAML), unless a number in them is one yaml.v2
reads otherwise (out of int64 and uint64, out of float range) or ``NaN``/``Infinity`` appear; anything else
goes through PyYAML's pure-Python parser. Not libyaml's (CSafeLoader): it recurses in C and crashes the
process on a deeply nested document, where the pure-Python one raises RecursionError, which reads as "not
YAML".
"""

import base64
import binascii
import json
import math
import re
from typing import Any

import yaml

MAX_VALUES = 100_000

_PLAIN = "!fleetmon/plain"  # the tag PyYAML gives an unquoted, untagged scalar here: resolved by yaml.v2's rules
_TAG = "tag:yaml.org,2002:"
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_WORD_STARTS = frozenset("yYnNtTfFoO~")
_NUMBER_STARTS = frozenset("+-0123456789")
# Go's strconv.ParseInt(s, 0, 64) accepts these (a leading 0 is octal), ParseUint the unsigned ones.
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT64 = range(-2**63, 2**63)
_UINT64 = range(2**64)


class _Loader(yaml.SafeLoader):
    """Composes nodes only; plain scalars keep their text for ``resolve_plain``."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


def read(text: str) -> Any:
    """The first document of ``text``; ValueError when it is not YAML, a tagged value does not fit its tag,
    a mapping key is not a scalar, or it expands to more than MAX_VALUES values."""
    if text.lstrip()[:1] in ("{", "[", '"'):
        try:
            return json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_not_json)
        except (ValueError, RecursionError):  # not plain JSON, or not read the same: as YAML
            pass
    return read_yaml(text)


def read_yaml(text: str) -> Any:
    """``read`` without the JSON shortcut."""
    loader = _Loader(text)
    try:
        node = loader.get_node() if loader.check_node() else None  # the first document only
        return None if node is None else _Reader().value(node)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML: {exc}") from None
    except RecursionError:  # nested too deep, or an anchor that holds itself
        raise ValueError("nested too deep") from None
    finally:
        loader.dispose()


def _json_int(text: str) -> int:
    value = int(text)
    if value in _INT64 or value in _UINT64:
        return value
    raise ValueError("beyond 64 bits: yaml.v2 reads it as a float")


def _json_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("out of range: yaml.v2 keeps it a string")
    return value


def _not_json(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def resolve_plain(text: str) -> Any:
    """An unquoted scalar's value, by yaml.v2's resolve()."""
    if text in _WORDS:
        return _WORDS[text]
    first = text[0]
    if first in _WORD_STARTS:
        return text
    if first == ".":
        return _float(text, text)
    if first not in _NUMBER_STARTS:
        return text
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.fullmatch(plain):
        return _float(plain, text)
    return text


def _go_int(text: str) -> int | None:
    match = _GO_INT.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if digits[:2].lower() in ("0x", "0o", "0b"):
        value = int(digits[2:], {"x": 16, "o": 8, "b": 2}[digits[1].lower()])
    else:
        value = int(digits, 8) if digits.startswith("0") else int(digits)
    value = -value if sign == "-" else value
    return value if value in _INT64 or (not sign and value in _UINT64) else None


def _float(number: str, text: str) -> Any:
    """``number`` as Go's ParseFloat reads it, else ``text`` itself (out of range included, as yaml.v2 keeps)."""
    try:
        value = float(number)
    except ValueError:
        return text
    return text if math.isinf(value) or "_" in number else value


class _Reader:
    def __init__(self) -> None:
        self.left = MAX_VALUES

    def value(self, node: yaml.Node) -> Any:
        self.left -= 1
        if self.left < 0:
            raise ValueError(f"expands to more than {MAX_VALUES} values")
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item) for item in node.value]
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _PLAIN and key_node.value == "<<":
                self.merge(mapping, value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise ValueError("a mapping key is not a scalar")
            key = self.value(key_node)
            if isinstance(key, str):
                mapping[key] = self.value(value_node)
        return mapping

    def merge(self, mapping: dict[str, Any], node: yaml.Node) -> None:
        """yaml.v2's merge: a mapping's keys, or those of a sequence of mappings, the first one winning."""
        sources = list(reversed(node.value)) if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise ValueError("a merge takes a mapping or a sequence of mappings")
            mapping.update(self.value(source))


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, text = node.tag, node.value
    if tag == _PLAIN:
        return resolve_plain(text)
    if not tag.startswith(_TAG):
        return text  # a local tag (!foo): yaml.v2 keeps the text
    kind = tag[len(_TAG):]
    if kind in ("str", "timestamp"):
        return text
    if kind == "binary":
        try:
            return base64.b64decode(text, validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            raise ValueError(f"!!binary {text!r} is not base64") from None
    value = resolve_plain(text) if text else None
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = {"int": int, "float": float, "bool": bool, "null": type(None)}.get(kind)
    if expected is None:
        return text
    if type(value) is not expected:
        raise ValueError(f"cannot read {text!r} as !!{kind}")
    return value
