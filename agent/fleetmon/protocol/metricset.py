"""MetricSet: the series of one sample, and their compact JSON form.

On the wire a sample's metrics are one object keyed by metric name. A metric without labels is a
number; a labelled metric is a list of ``[labels, value]`` pairs. That keeps a sample of a few hundred
series to a few kilobytes and lets ``mosquitto_sub | jq`` read it without a decoder.
"""

import math
from typing import Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple

LabelKey = Tuple[Tuple[str, str], ...]


class Series(NamedTuple):
    name: str
    labels: Mapping[str, str]
    value: float


class MetricSet:
    __slots__ = ("_metrics",)

    def __init__(self) -> None:
        self._metrics: Dict[str, Dict[LabelKey, float]] = {}

    def add(self, name: str, value: float, labels: Optional[Mapping[str, str]] = None) -> None:
        """Add one series; non-finite values are dropped (JSON cannot carry them)."""
        value = float(value)
        if not math.isfinite(value):
            return
        key: LabelKey = tuple(sorted((k, str(v)) for k, v in labels.items())) if labels else ()
        self._metrics.setdefault(name, {})[key] = value

    def update(self, other: "MetricSet") -> None:
        for name, series in other._metrics.items():
            self._metrics.setdefault(name, {}).update(series)

    def get(self, name: str, /, **labels: str) -> Optional[float]:
        return self._metrics.get(name, {}).get(tuple(sorted(labels.items())))

    def series(self, name: str) -> Iterator[Series]:
        """The series of one metric, without walking the others."""
        for key, value in self._metrics.get(name, {}).items():
            yield Series(name, dict(key), value)

    def names(self) -> List[str]:
        return list(self._metrics)

    def __iter__(self) -> Iterator[Series]:
        for name, series in self._metrics.items():
            for key, value in series.items():
                yield Series(name, dict(key), value)

    def __len__(self) -> int:
        return sum(len(series) for series in self._metrics.values())

    def to_json(self) -> Dict[str, object]:
        out: Dict[str, object] = {}
        for name, series in self._metrics.items():
            if len(series) == 1 and () in series:
                out[name] = _compact(series[()])
            else:
                out[name] = [[dict(key), _compact(value)] for key, value in series.items()]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "MetricSet":
        """Decode the wire form; raises ValueError on anything malformed."""
        metrics = cls()
        if not isinstance(data, Mapping):
            raise ValueError("metrics must be an object")
        for name, entry in data.items():
            if isinstance(entry, (int, float)) and not isinstance(entry, bool):
                metrics.add(name, entry)
            elif isinstance(entry, list):
                for pair in entry:
                    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], dict)
                            and isinstance(pair[1], (int, float)) and not isinstance(pair[1], bool)):
                        raise ValueError(f"metric {name!r}: each series must be [labels, number]")
                    metrics.add(name, pair[1], pair[0])
            else:
                raise ValueError(f"metric {name!r}: must be a number or a list of [labels, number]")
        return metrics


def _compact(value: float) -> float:
    """Integral floats travel as ints: '1234' is shorter than '1234.0'."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
