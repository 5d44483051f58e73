"""The Prometheus text exposition format (version 0.0.4), both ways.

``render`` writes series as a scrape response, with ``# HELP``/``# TYPE`` from the metric catalogue;
names the catalogue does not know (scraped application metrics) are typed ``untyped``. ``parse`` reads
a scrape response back into plain series for the local endpoint scraper. Histogram and summary lines
(``_bucket``, ``_sum``, ``_count``, ``quantile``) come out as ordinary series: the agent forwards
numbers, it does not interpret families. Sample timestamps are read and dropped, because a sample
carries one time, the moment the agent collected it.
"""

import math
import re
from typing import Dict, Iterable, List, Mapping

from fleetmon.protocol.catalog import BY_NAME
from fleetmon.protocol.metricset import Series

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# One label pair and the separator after it: the value is any run of plain characters or escapes;
# which escapes are allowed is checked afterwards, so the error can name the bad one.
_LABEL_PAIR = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*(,|\})')
_LABEL_END = re.compile(r"[ \t]*\}")
_BLANKS = re.compile(r"[ \t]*")
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI]nf|NaN|nan)")
_TIMESTAMP = re.compile(r"-?\d+")


class ExpositionError(ValueError):
    """Text that is not valid exposition format; the message names the line."""


def render(series: Iterable[Series]) -> str:
    """The exposition text for ``series`` (a MetricSet or any iterable of Series).

    Series of one name are written together under one HELP/TYPE header, as the format requires.
    Raises ValueError for a metric or label name the format cannot carry.
    """
    families: Dict[str, List[Series]] = {}
    for item in series:
        families.setdefault(item.name, []).append(item)
    lines: List[str] = []
    for name, members in families.items():
        if not _METRIC_NAME.fullmatch(name):
            raise ValueError(f"not a valid Prometheus metric name: {name!r}")
        spec = BY_NAME.get(name)
        if spec is not None:
            lines.append(f"# HELP {name} {_escape_help(spec.help)}")
        lines.append("# TYPE {} {}".format(name, spec.type if spec is not None else "untyped"))
        for member in members:
            lines.append(f"{name}{_render_labels(name, member.labels)} {format_value(member.value)}")
    return "".join(line + "\n" for line in lines)


def format_value(value: float) -> str:
    """A sample value as the format spells it: integers without a fraction, NaN, +Inf, -Inf."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _render_labels(name: str, labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    for key in labels:
        if not _LABEL_NAME.fullmatch(key):
            raise ValueError(f"metric {name}: not a valid label name: {key!r}")
    return "{" + ",".join(f'{key}="{escape_label_value(str(labels[key]))}"'
                          for key in sorted(labels)) + "}"


def parse(text: str) -> List[Series]:
    """Every sample in ``text`` as a Series, in order; raises ExpositionError on a malformed line.

    Comments (HELP, TYPE and any other ``#`` line) and blank lines are skipped. Values may be NaN
    or +/-Inf; deciding what to do with them is the caller's business.
    """
    out: List[Series] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if not line or line.startswith("#"):
            continue
        try:
            out.append(_parse_sample(line))
        except ExpositionError as exc:
            raise ExpositionError(f"line {number}: {exc}: {_shorten(line)!r}") from None
    return out


def _parse_sample(line: str) -> Series:
    match = _METRIC_NAME.match(line)
    if not match:
        raise ExpositionError("expected a metric name")
    name = match.group()
    pos = match.end()
    labels: Dict[str, str] = {}
    brace = _BLANKS.match(line, pos).end()  # blanks may stand between the name and its labels
    if brace < len(line) and line[brace] == "{":
        pos = _parse_labels(line, brace + 1, labels)
    rest = line[pos:]
    if rest[:1] not in (" ", "\t"):
        raise ExpositionError("expected a space before the value")
    fields = rest.split()
    if not fields or len(fields) > 2:
        raise ExpositionError("expected a value and at most a timestamp")
    if not _NUMBER.fullmatch(fields[0]):
        raise ExpositionError(f"not a number: {fields[0]!r}")
    if len(fields) == 2 and not _TIMESTAMP.fullmatch(fields[1]):
        raise ExpositionError(f"not a timestamp in milliseconds: {fields[1]!r}")
    return Series(name, labels, float(fields[0]))


def _parse_labels(line: str, pos: int, labels: Dict[str, str]) -> int:
    """Read label pairs starting after '{' into ``labels``; return the position after '}'."""
    end = _LABEL_END.match(line, pos)
    if end:
        return end.end()
    while True:
        pair = _LABEL_PAIR.match(line, pos)
        if not pair:
            raise ExpositionError(f"malformed labels at column {pos + 1}")
        key, value, separator = pair.groups()
        if key in labels:
            raise ExpositionError(f"label {key!r} appears twice")
        labels[key] = _ESCAPE.sub(_unescape, value) if "\\" in value else value
        pos = pair.end()
        if separator == "}":
            return pos
        end = _LABEL_END.match(line, pos)
        if end:  # a trailing comma before '}' is allowed
            return end.end()


def _unescape(match: "re.Match[str]") -> str:
    char = match.group(1)
    if char not in _UNESCAPES:
        raise ExpositionError(f"unknown escape \\{char} in a label value")
    return _UNESCAPES[char]


def _shorten(line: str, limit: int = 120) -> str:
    return line if len(line) <= limit else line[:limit] + "..."
