"""A sample read in the shape of its host's previous one: its values without decoding it into objects.

A host sends the same metrics with the same labels in every sample; only the numbers change. Decoding each
sample into Python objects and looking every series up by name and labels (``Registry.resolve``) is most
of the writer's work per sample. So the writer remembers, per host, the *shape* of the last sample that
took that full path cleanly (every series stored): the message's text without its numbers, and at which
number each stored series' value stands. A sample of the same shape then costs a few byte operations and
one orjson call on its numbers, whatever its number of series. Anything else takes the full path, which
alone decides what is stored; a shape only repeats what the full path found.

Why a matching shape means the same series: the strings are compared whole (metric names, label names and
values, the host); outside the strings only number characters are taken out (`0-9 + - . e E`), so the
punctuation, whitespace and the letters of true/false/null stand where they stood; each run of number
characters between them must parse as one JSON scalar, and there must be as many as before. The text is
then the remembered one with other numbers in the same places. Not remembered (so always the full path): a
text with a backslash (escapes: one string could be written several ways), duplicate keys (their decoded
object has fewer members than the text has colons), label values that are not strings, a sample with a
malformed series, and a value that is not finite.
"""

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson

_NUMBER_CHARACTERS = b"0123456789+-.eE"
_PUNCTUATION_TO_SPACE = bytes.maketrans(b"{}[],:", b"      ")


class Shape(NamedTuple):
    strings: bytes  # every string of the text, in order, joined by quotes
    skeleton: bytes  # the text outside its strings, number characters removed
    tokens: int  # scalars outside strings: numbers (and true, false, null)
    pick: Callable[[Sequence[Any]], Any]  # the stored series' values out of the scalars
    ids: tuple[int, ...]  # their series ids, in the order of the values
    layout_id: int


def _split(raw: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The text's strings, its skeleton and its scalars as one JSON array; None when it has an escape or
    an unmatched quote."""
    if b"\\" in raw:
        return None
    pieces = raw.split(b'"')
    if len(pieces) % 2 == 0:
        return None
    outside = b" ".join(pieces[0::2])  # a string stood between two pieces: their scalars stay apart
    scalars = b",".join(outside.translate(_PUNCTUATION_TO_SPACE).split())
    return b'"'.join(pieces[1::2]), outside.translate(None, _NUMBER_CHARACTERS), b"[" + scalars + b"]"


def recall(shape: Shape | None, raw: bytes) -> list | None:
    """The stored series' values of ``raw`` (in ``shape.ids`` order) when it has ``shape``; else None."""
    if shape is None:
        return None
    split = _split(raw)
    if split is None or split[0] != shape.strings or split[1] != shape.skeleton:
        return None
    try:
        scalars = orjson.loads(split[2])
    except orjson.JSONDecodeError:
        return None
    if len(scalars) != shape.tokens:
        return None
    values = shape.pick(scalars)
    try:
        finite = math.isfinite(sum(values))  # a sum is finite when every term is (or it overflowed)
    except (OverflowError, TypeError):
        return None
    return values if finite else None


def learn(raw: bytes, ids: Sequence[int], layout_id: int, values: Sequence[Any]) -> Shape | None:
    """The shape of ``raw``, whose every series the full path stored as ``ids`` with ``values``; None when
    it cannot be remembered."""
    split = _split(raw)
    if split is None:
        return None
    try:
        body = orjson.loads(raw)
        scalars = orjson.loads(split[2])
    except orjson.JSONDecodeError:
        return None
    found = _value_positions(body)
    if found is None:
        return None
    positions, tokens, members = found
    if tokens != len(scalars) or members != split[1].count(b":") or len(positions) != len(ids):
        return None
    pick = _picker(positions)
    picked = pick(scalars)
    if picked != list(values) or any(type(a) is not type(b) for a, b in zip(picked, values, strict=True)):
        return None
    return Shape(split[0], split[1], tokens, pick, tuple(ids), layout_id)


def _picker(positions: list[int]) -> Callable[[Sequence[Any]], list]:
    if len(positions) == 1:  # itemgetter of one index returns the item, not a tuple
        index = positions[0]
        return lambda scalars: [scalars[index]]
    getter = operator.itemgetter(*positions)
    return lambda scalars: list(getter(scalars))


def _value_positions(body: Any) -> tuple[list[int], int, int] | None:
    """Where each series value of a sample stands among the text's scalars, in the full path's order;
    with the number of scalars and of object members. None when the sample is not one to remember."""
    if not isinstance(body, dict) or not isinstance(body.get("metrics"), dict):
        return None
    positions: list[int] = []
    position, members = 0, len(body)
    for key, value in body.items():
        if key != "metrics":
            tokens, inner = _count(value)
            position, members = position + tokens, members + inner
            continue
        members += len(value)
        for entry in value.values():
            if type(entry) is float or type(entry) is int:
                positions.append(position)
                position += 1
            elif type(entry) is list:
                for pair in entry:
                    if not (type(pair) is list and len(pair) == 2 and type(pair[0]) is dict
                            and all(type(label) is str for label in pair[0].values())
                            and type(pair[1]) in (float, int)):
                        return None
                    members += len(pair[0])
                    positions.append(position)
                    position += 1
            else:
                return None
    return positions, position, members


def _count(value: Any) -> tuple[int, int]:
    """Scalars (numbers, true, false, null) and object members inside ``value``, at any depth."""
    tokens = members = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            members += len(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
        elif type(item) is not str:
            tokens += 1
    return tokens, members
