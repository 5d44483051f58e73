"""The log store's figures on the hub's /metrics (prometheus_client), read at scrape time.

What hosts say their rate limit dropped is counted per host only: a label per unit would grow with every
templated unit (``session-812.scope``) of every host; the units are in each batch, for the debug log.
"""

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class LogCollector(Collector):
    """``figures``: fleetmon.hub.logs.store.LogStore.figures."""

    def __init__(self, figures: Callable[[], dict[str, Any]]) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        figures = self._figures()
        yield _counter("fleetmon_hub_log_lines_received", "Journal lines hosts sent that ingest accepted.",
                       figures["received"])
        yield _counter("fleetmon_hub_log_lines_stored", "Journal lines written to the log store.", figures["stored"])
        yield _counter("fleetmon_hub_log_lines_duplicate",
                       "Journal lines not stored again: the host's cursor was already there (a batch sent twice).",
                       figures["duplicates"])
        dropped = CounterMetricFamily("fleetmon_hub_log_lines_dropped",
                                      "Journal lines the hub could not keep: its write queue was full, the batch was "
                                      "malformed, or the write failed.", labels=["reason"])
        for reason, count in figures["dropped"].items():
            dropped.add_metric([reason], count)
        yield dropped
        at_host = CounterMetricFamily("fleetmon_hub_log_lines_dropped_at_host",
                                      "Journal lines a host's rate limit dropped before sending, as the host reports "
                                      "them (since the hub started).", labels=["host"])
        for host, count in sorted(figures["dropped_at_host"].items()):
            at_host.add_metric([host], count)
        yield at_host
        pruned = CounterMetricFamily("fleetmon_hub_log_lines_pruned", "Journal lines deleted by retention.",
                                     labels=["reason"])
        for reason, count in figures["pruned"].items():
            pruned.add_metric([reason], count)
        yield pruned
        yield _counter("fleetmon_hub_log_write_failures", "Log store transactions SQLite refused.",
                       figures["write_failures"])
        yield GaugeMetricFamily("fleetmon_hub_log_lines", "Journal lines in the log store.", value=figures["lines"])
        yield GaugeMetricFamily("fleetmon_hub_log_queue_lines", "Journal lines waiting for the log store's writer.",
                                value=figures["queued"])
        yield GaugeMetricFamily("fleetmon_hub_log_db_bytes", "Size of the log store's file and its WAL.",
                                value=figures["bytes"])


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
