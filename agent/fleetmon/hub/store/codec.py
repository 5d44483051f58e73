"""Packed columns: a sample's values and a bucket's aggregates as little-endian arrays.

A row holds the values of one host's sample (or one host's bucket) in the order of a *layout*, a stored
list of series ids, so a value costs 8 bytes on disk instead of a row per series. A reader picks one
series out of a row with ``struct.unpack_from`` at its index, without decoding the rest.

Aggregates ``[min, max, sum, count]`` are packed by what the bucket holds:
  b"1"  every series has one value (the sampling interval is as long as the bucket): values only;
  b"U"  every series has the same count: that count, then mins, maxs, sums;
  b"F"  counts differ: mins, maxs, sums, then one count per series.
"""

import struct
from collections.abc import Sequence

_DOUBLE = struct.Struct("<d")
_UINT = struct.Struct("<I")
SINGLE, UNIFORM, FULL = ord("1"), ord("U"), ord("F")

Aggregate = tuple[float, float, float, int]  # min, max, sum, count


def pack_ids(ids: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(ids)}I", *ids)


def unpack_ids(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(blob) // 4}I", blob)


def pack_values(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values)}d", *values)


def unpack_values(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 8}d", blob)


def value_at(blob: bytes, index: int) -> float:
    return _DOUBLE.unpack_from(blob, 8 * index)[0]


def pack_aggregates(aggregates: Sequence[Sequence[float]]) -> bytes:
    count = aggregates[0][3]
    if all(a[3] == count for a in aggregates):
        if count == 1:
            return bytes((SINGLE,)) + pack_values([a[0] for a in aggregates])
        head = bytes((UNIFORM,)) + _UINT.pack(count)
        return head + pack_values([a[0] for a in aggregates] + [a[1] for a in aggregates]
                                  + [a[2] for a in aggregates])
    n = len(aggregates)
    return (bytes((FULL,)) + pack_values([a[0] for a in aggregates] + [a[1] for a in aggregates]
                                         + [a[2] for a in aggregates])
            + struct.pack(f"<{n}I", *(a[3] for a in aggregates)))


def aggregate_at(blob: bytes, index: int) -> Aggregate:
    tag = blob[0]
    if tag == SINGLE:
        value = _DOUBLE.unpack_from(blob, 1 + 8 * index)[0]
        return value, value, value, 1
    if tag == UNIFORM:
        n = (len(blob) - 5) // 24
        count = _UINT.unpack_from(blob, 1)[0]
        base = 5
    elif tag == FULL:
        n = (len(blob) - 1) // 28
        count = _UINT.unpack_from(blob, 1 + 24 * n + 4 * index)[0]
        base = 1
    else:
        raise ValueError(f"unknown aggregate encoding {tag!r}")
    return (_DOUBLE.unpack_from(blob, base + 8 * index)[0], _DOUBLE.unpack_from(blob, base + 8 * (n + index))[0],
            _DOUBLE.unpack_from(blob, base + 8 * (2 * n + index))[0], count)


def aggregates_of(blob: bytes, indices: Sequence[int]) -> list[Aggregate]:
    """The aggregates at ``indices`` of one packed row, the row decoded once: reading many series of a row
    costs one ``unpack`` instead of three per series."""
    tag = blob[0]
    if tag == SINGLE:
        values = unpack_values(blob[1:])
        return [(values[i], values[i], values[i], 1) for i in indices]
    if tag == UNIFORM:
        n = (len(blob) - 5) // 24
        count = _UINT.unpack_from(blob, 1)[0]
        values = struct.unpack_from(f"<{3 * n}d", blob, 5)
        return [(values[i], values[n + i], values[2 * n + i], count) for i in indices]
    if tag == FULL:
        n = (len(blob) - 1) // 28
        values = struct.unpack_from(f"<{3 * n}d", blob, 1)
        counts = struct.unpack_from(f"<{n}I", blob, 1 + 24 * n)
        return [(values[i], values[n + i], values[2 * n + i], counts[i]) for i in indices]
    raise ValueError(f"unknown aggregate encoding {tag!r}")


def unpack_aggregates(blob: bytes) -> list[Aggregate]:
    tag = blob[0]
    if tag == SINGLE:
        return [(v, v, v, 1) for v in unpack_values(blob[1:])]
    if tag == UNIFORM:
        count = _UINT.unpack_from(blob, 1)[0]
        values = unpack_values(blob[5:])
        n = len(values) // 3
        return [(values[i], values[n + i], values[2 * n + i], count) for i in range(n)]
    if tag == FULL:
        n = (len(blob) - 1) // 28
        values = unpack_values(blob[1:1 + 24 * n])
        counts = struct.unpack(f"<{n}I", blob[1 + 24 * n:])
        return [(values[i], values[n + i], values[2 * n + i], counts[i]) for i in range(n)]
    raise ValueError(f"unknown aggregate encoding {tag!r}")
