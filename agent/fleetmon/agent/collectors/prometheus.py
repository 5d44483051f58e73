"""Scrapes local Prometheus endpoints (an inference server, a DCGM exporter, an app's /metrics).

Each configured target is fetched over HTTP, its exposition text parsed, its series filtered by the
target's ``metrics`` regexes (a name is kept when one matches it whole; no regexes keeps all) and
labelled ``target=<name>`` plus the target's own labels. A scraped label that collides with one of
those is kept as ``exported_<label>``, as Prometheus does. At most MAX_SERIES_PER_TARGET series are
kept per target so that one chatty endpoint cannot swell every sample; narrow ``metrics`` to fit.

Targets are scraped one after another, each bounded by its own timeout per network operation. A
failing target does not stop the others: their series are kept and the collect then raises
ScrapeError naming every target that failed.

Targets are local, so proxies from the environment (http_proxy, ...) are never used.
"""

import re
import urllib.error
import urllib.request
from http.client import HTTPException
from typing import Dict, List, Optional, Pattern, Sequence

from fleetmon import __version__
from fleetmon.agent.collectors.base import Collector
from fleetmon.agent.config import PrometheusCollectorConfig, ScrapeTarget
from fleetmon.agent.exposition import ExpositionError, parse
from fleetmon.protocol.metricset import MetricSet, Series

MAX_SERIES_PER_TARGET = 2000
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"


class ScrapeError(RuntimeError):
    """One or more targets could not be scraped (or were truncated); the message names each."""


class _Target:
    __slots__ = ("config", "labels", "metrics")

    def __init__(self, config: ScrapeTarget) -> None:
        self.config = config
        self.metrics: Optional[Pattern[str]] = (
            re.compile("|".join(f"(?:{pattern})" for pattern in config.metrics)) if config.metrics else None)
        self.labels: Dict[str, str] = dict(config.labels, target=config.name)


def select_series(series: Sequence[Series], metrics: Optional[Pattern[str]], labels: Dict[str, str],
                  limit: int) -> List[Series]:
    """The series whose names ``metrics`` fully matches, with ``labels`` added, at most ``limit``."""
    out: List[Series] = []
    for item in series:
        if metrics is not None and not metrics.fullmatch(item.name):
            continue
        if len(out) >= limit:
            break
        merged = {("exported_" + key if key in labels else key): value for key, value in item.labels.items()}
        merged.update(labels)
        out.append(Series(item.name, merged, item.value))
    return out


def count_selected(series: Sequence[Series], metrics: Optional[Pattern[str]]) -> int:
    return sum(1 for item in series if metrics is None or metrics.fullmatch(item.name))


class PrometheusScrapeCollector(Collector):
    name = "prometheus"

    def __init__(self, config: PrometheusCollectorConfig) -> None:
        self.config = config
        self._targets = [_Target(target) for target in config.targets]
        # An opener without ProxyHandler settings from the environment: targets are on this host.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._user_agent = f"fleetmon-agent/{__version__}"

    def collect(self, out: MetricSet) -> None:
        problems: List[str] = []
        for target in self._targets:
            try:
                series = parse(self._fetch(target.config))
            except (urllib.error.URLError, HTTPException, OSError, UnicodeDecodeError, ExpositionError,
                    ScrapeError) as exc:
                problems.append(f"{target.config.name} ({target.config.url}): {_describe(exc)}")
                continue
            kept = select_series(series, target.metrics, target.labels, MAX_SERIES_PER_TARGET)
            for item in kept:
                out.add(item.name, item.value, item.labels)
            if len(kept) == MAX_SERIES_PER_TARGET:
                total = count_selected(series, target.metrics)
                if total > MAX_SERIES_PER_TARGET:
                    problems.append(f"{target.config.name} ({target.config.url}): kept the first "
                                    f"{MAX_SERIES_PER_TARGET} of {total} series; narrow its metrics regexes")
        if problems:
            raise ScrapeError("; ".join(problems))

    def _fetch(self, target: ScrapeTarget) -> str:
        headers = {"Accept": ACCEPT, "User-Agent": self._user_agent}
        request = urllib.request.Request(target.url, headers=headers)
        with self._opener.open(request, timeout=target.timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
        if len(body) > MAX_RESPONSE_BYTES:
            raise ScrapeError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
        return body.decode("utf-8")  # the text format is UTF-8 by definition


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__
