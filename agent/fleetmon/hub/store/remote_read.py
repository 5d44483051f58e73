"""``history.remote_read``: the console's chart reads answered by a long-term store's Prometheus query API.

The resolution follows the tier the SQLite read would use (``pick_tier``): the raw tier reads the raw
samples (an instant query of a range vector, ``{...}[span]``, which both Prometheus and VictoriaMetrics
answer with the samples as stored); the minute and hour tiers read what the tier tables keep, min, max,
sum and count (``min/max/sum/count_over_time``), at a step of their bucket, one query per metric. Each
point is then ``(bucket_start, min, sum, count, max)`` as a SQLite row gives it, so ``max_points`` thins it
exactly as SQLite reads are thinned (``downsample``: a merged bucket's mean weighs each minute by its
samples) and an unthinned point is ``(bucket_start, min, avg, max)`` alike.

A bucket is ``[start, start + step)`` (``rollup.bucket_of``). A range function's window at time t is
``(t - step, t]`` in VictoriaMetrics and Prometheus 3: evaluated at a bucket's end it would count the
sample at the next bucket's first millisecond and miss the one at its own (an agent sampling on whole
seconds puts one there every minute). ``offset 1ms`` moves the window to ``(end - step - 1ms, end - 1ms]``,
which at the store's millisecond timestamps is the bucket exactly. A bucket without samples has no point
in the answer (no lookback fills it), so a gap stays a gap as in SQLite.

A failure (the store unreachable, an error answer, a body that is not a query result) raises
``RemoteError``; the Store falls back to SQLite, logs and counts it.
"""

import json
import math
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from fleetmon.hub.store.config import BUCKET_SECONDS, RAW
from fleetmon.hub.store.downsample import downsample
from fleetmon.hub.store.records import QueriedSeries
from fleetmon.hub.store.remote_config import RemoteReadConfig
from fleetmon.hub.store.remote_http import Client, RemoteError

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_AGGREGATES = ("min", "max", "sum", "count")  # a tier row's aggregates


def selector(host: str, metrics: Sequence[str], matchers: Mapping[str, str]) -> str:
    """The PromQL series selector of ``metrics`` on ``host`` whose labels equal ``matchers``. Names that
    cannot be Prometheus metric or label names match nothing in the store and are left out (a matcher on
    such a label matches nothing: an empty selector is refused with ValueError)."""
    names = [m for m in metrics if _NAME.match(m)]
    if not names or not all(_LABEL.match(k) for k in matchers):
        raise ValueError("no metric or label the long-term store can hold")
    name = f'__name__="{names[0]}"' if len(names) == 1 else f'__name__=~"{"|".join(names)}"'
    pairs = [name, f"host={_quoted(host)}", *(f"{k}={_quoted(v)}" for k, v in sorted(matchers.items()) if k != "host")]
    return "{" + ",".join(pairs) + "}"


def _quoted(value: str) -> str:
    return json.dumps(value)  # a PromQL string takes the escapes of a JSON string


class LongTermReader:
    def __init__(self, config: RemoteReadConfig) -> None:
        self._client = Client(config.endpoint)
        self.url = config.endpoint.url
        # Chart reads answered by the store, and those that failed and fell back to SQLite (the Store's
        # callers count them: fleetmon_hub_long_term_reads_total, fleetmon_hub_long_term_read_failures_total).
        self.reads = 0
        self.failures = 0
        self.failing = False  # the last read failed: the next failure is not logged again

    def query_many(self, host: str, metrics: Sequence[str], matchers: Mapping[str, str], start: float, end: float,
                   tier: str, max_points: int | None) -> list[QueriedSeries]:
        """What ``Store.query_many`` answers, read from the long-term store: by metric, then labels."""
        order = {metric: position for position, metric in enumerate(metrics)}
        try:
            chosen = selector(host, metrics, matchers)
        except ValueError:
            return []
        found: dict[tuple[str, str], tuple[dict[str, str], list[tuple]]] = {}
        if tier == RAW:
            span_ms = math.ceil((end - start) * 1000) + 1
            for metric, points in self._matrix("/api/v1/query", {"query": f"{chosen}[{span_ms}ms]", "time": end}):
                name, labels = _identity(metric)
                kept = [(ts, value) for ts, value in points if start <= ts <= end]
                if name in order and kept:
                    found[(name, _key(labels))] = (labels, kept)
            series = [(name, labels, _thin_raw(points, max_points)) for (name, _), (labels, points) in found.items()]
        else:
            step = BUCKET_SECONDS[tier]
            first, last = math.floor(start / step) * step + step, math.floor(end / step) * step + step
            spreads: dict[tuple[str, str], dict[float, dict[str, float]]] = {}
            for name in (m for m in metrics if _NAME.match(m)):
                one = selector(host, [name], matchers)
                query = " or ".join(f'label_replace({kind}_over_time({one}[{step}s] offset 1ms), "fleetmon_agg", '
                                    f'"{kind}", "", "")' for kind in _AGGREGATES)
                for metric, points in self._matrix("/api/v1/query_range",
                                                   {"query": query, "start": first, "end": last, "step": step}):
                    kind = metric.pop("fleetmon_agg", "")
                    metric["__name__"] = name
                    _, labels = _identity(metric)
                    key = (name, _key(labels))
                    found.setdefault(key, (labels, []))
                    buckets = spreads.setdefault(key, {})
                    for ts, value in points:
                        buckets.setdefault(ts - step, {})[kind] = value
            series = []
            for key, (labels, _) in found.items():
                points = [(bucket, v["min"], v["sum"], int(v["count"]), v["max"])
                          for bucket, v in sorted(spreads[key].items())
                          if len(v) == len(_AGGREGATES) and start - step < bucket <= end]
                if points:
                    series.append((key[0], labels, downsample(points, max_points or len(points), step)))
        series.sort(key=lambda s: (order[s[0]], _key(s[1])))
        return [QueriedSeries(name, labels, tier, points) for name, labels, points in series]

    def _matrix(self, path: str, params: Mapping[str, object]) -> list[tuple[dict[str, str], list[tuple]]]:
        body = self._client.request("GET", f"{path}?{urlencode(params)}", headers={"Accept": "application/json"})
        try:
            answer = json.loads(body)
            if answer.get("status") != "success" or answer["data"]["resultType"] != "matrix":
                raise ValueError(f"status {answer.get('status')!r}: {answer.get('error', '')}")
            return [(dict(r["metric"]), [(float(ts), float(v)) for ts, v in r["values"]])
                    for r in answer["data"]["result"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RemoteError(f"GET {self.url}{path}: not a query result: {exc}", retryable=True) from exc


def _identity(metric: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A result's metric name and its labels as the store keeps them (without ``host``)."""
    labels = {k: v for k, v in metric.items() if k not in ("__name__", "host")}
    return metric.get("__name__", ""), labels


def _key(labels: Mapping[str, str]) -> str:
    """The order SQLite answers series in: by their canonical labels JSON (fleetmon.hub.store.series)."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


def _thin_raw(points: list[tuple[float, float]], max_points: int | None) -> list[tuple[float, ...]]:
    if max_points is None or len(points) <= max_points:
        return points
    return downsample([(ts, v, v, 1, v) for ts, v in points], max_points, 1.0)
