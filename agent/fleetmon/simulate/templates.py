"""Precomputed metrics payloads: a host's sample built once by the protocol's own builders, then only
seq, ts, duration and the dynamic values patched in per sample.

Building a sample through MetricSet and json.dumps costs far more than a simulated host may spend when one
process plays thousands of hosts. The template is the exact text messages.metrics and MetricSet.to_json
produce, turned into one printf format: every static byte stays as the builders wrote it.
"""

import re
from typing import Dict, List, Sequence

from fleetmon.protocol import messages
from fleetmon.protocol.metricset import MetricSet
from fleetmon.simulate.model import SeriesDecl

_MARKER = re.compile(r'"@@(\d+)@@"')
# The envelope's own slots come first in the text, before the metrics object.
_ENVELOPE_FORMATS = ("%d", "%.3f", "%.6f")  # seq, ts, duration_s


class SampleTemplate:
    __slots__ = ("_format", "slots")

    def __init__(self, host: str, session: int, interval_s: float, series: Sequence[SeriesDecl]) -> None:
        metrics = MetricSet()
        for decl in series:
            metrics.add(decl.name, decl.value, dict(decl.labels))
        wire = metrics.to_json()
        dynamic = [decl for decl in series if decl.fmt]
        for number, decl in enumerate(dynamic, start=len(_ENVELOPE_FORMATS)):
            _mark(wire, decl, f"@@{number}@@")
        payload = messages.metrics(host, session, 1, 0.0, interval_s, 0.0, wire, {})
        payload.update(seq="@@0@@", ts="@@1@@", duration_s="@@2@@")
        text = messages.encode(payload).decode("utf-8").replace("%", "%%")
        formats = list(_ENVELOPE_FORMATS) + [decl.fmt for decl in dynamic]
        numbers = [int(found) for found in _MARKER.findall(text)]
        if numbers != list(range(len(formats))):
            raise ValueError("declare the series of one metric together: slots came out of order")
        self._format = _MARKER.sub(lambda m: formats[int(m.group(1))], text)
        self.slots = len(dynamic)

    def render(self, seq: int, ts: float, duration_s: float, values: List[float]) -> bytes:
        return (self._format % (seq, ts, duration_s, *values)).encode("utf-8")


def _mark(wire: Dict[str, object], decl: SeriesDecl, marker: str) -> None:
    entry = wire[decl.name]
    if not isinstance(entry, list):
        wire[decl.name] = marker
        return
    labels = dict(decl.labels)
    for pair in entry:
        if pair[0] == labels:
            pair[1] = marker
            return
    raise ValueError(f"series {decl.name}{labels} is not in the sample")
