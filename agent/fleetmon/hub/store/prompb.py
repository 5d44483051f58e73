"""Prometheus remote write 1.0 on the wire: a ``prometheus.WriteRequest`` in protobuf, snappy-compressed
(block format, not framed).

The four messages are small enough to encode by hand instead of pulling in protobuf and generated code:

    WriteRequest { repeated TimeSeries timeseries = 1; }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    Label        { string name = 1; string value = 2; }
    Sample       { double value = 1; int64 timestamp = 2; }      // milliseconds since the epoch

Every field is either length-delimited (wire type 2: key, varint length, bytes), a double (wire type 1: key,
8 bytes little-endian) or a varint (wire type 0; a negative int64 takes ten bytes, two's complement).
"""

import struct
from collections.abc import Iterable, Sequence

import cramjam

HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}

# Field keys: (field number << 3) | wire type.
_TIMESERIES = 0x0A  # WriteRequest.timeseries = 1, length-delimited
_LABEL = 0x0A  # TimeSeries.labels = 1, length-delimited
_SAMPLE = 0x12  # TimeSeries.samples = 2, length-delimited
_NAME, _VALUE = 0x0A, 0x12  # Label.name = 1, Label.value = 2, both length-delimited
_SAMPLE_VALUE = 0x09  # Sample.value = 1, 64-bit
_SAMPLE_TIMESTAMP = 0x10  # Sample.timestamp = 2, varint
_DOUBLE = struct.Struct("<d")

Labels = Sequence[tuple[str, str]]  # sorted by name, ``__name__`` among them
Series = tuple[Labels, Sequence[tuple[int, float]]]  # labels, (timestamp ms, value) in time order


def varint(value: int) -> bytes:
    """``value`` as a protobuf varint; a negative one as its 64-bit two's complement (ten bytes)."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(key: int, payload: bytes) -> bytes:
    return bytes((key,)) + varint(len(payload)) + payload


def _label(name: str, value: str) -> bytes:
    return _delimited(_NAME, name.encode()) + _delimited(_VALUE, value.encode())


def _sample(timestamp_ms: int, value: float) -> bytes:
    return bytes((_SAMPLE_VALUE,)) + _DOUBLE.pack(value) + bytes((_SAMPLE_TIMESTAMP,)) + varint(timestamp_ms)


def encode_labels(labels: Labels) -> bytes:
    """A series' label fields, encoded once and kept: the same series goes out in request after request."""
    return b"".join(_delimited(_LABEL, _label(name, value)) for name, value in labels)


def write_request(series: Iterable[tuple[bytes, Sequence[tuple[int, float]]]]) -> bytes:
    """The WriteRequest of ``series``: each one's encoded labels (``encode_labels``) and its samples."""
    parts = []
    for labels, samples in series:
        body = labels + b"".join(_delimited(_SAMPLE, _sample(ts, value)) for ts, value in samples)
        parts.append(_delimited(_TIMESERIES, body))
    return b"".join(parts)


def compress(payload: bytes) -> bytes:
    """Snappy's block format, which remote write asks for (``cramjam.snappy.compress`` is the framed one)."""
    return bytes(cramjam.snappy.compress_raw(payload))
