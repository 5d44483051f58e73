"""The hub's /metrics: every host's latest sample with `host` and inventory labels, liveness, and the
hub's own counters, through prometheus_client."""

import bisect
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from fleetmon.hub.model import STATES
from fleetmon.hub.state import FleetState, health_score
from fleetmon.protocol import catalog

RESERVED = ("host",)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class FleetCollector(Collector):
    """Renders the fleet state at scrape time; ``lock`` guards the state against the ingest thread."""

    def __init__(self, state: FleetState, lock: Any, hub_metrics: "HubCounters") -> None:
        self.state, self.lock, self.hub = state, lock, hub_metrics

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        up = GaugeMetricFamily("fleetmon_host_up", "1 while the host is online (birth seen, samples arriving).",
                               labels=["host"])
        state = GaugeMetricFamily("fleetmon_host_state", "1 for the host's current liveness state.",
                                  labels=["host", "state"])
        health = GaugeMetricFamily("fleetmon_host_health_score", "Health score 0..100 (docs/hub.md).",
                                   labels=["host"])
        with self.lock:  # only a snapshot under the lock: rendering thousands of hosts must not stall ingest
            hosts = [(r.host, r.state, health_score(r, self.state.skewed(r)), r.labels, r.last_sample)
                     for r in self.state.hosts.values()]
        for host, host_state, score, labels, sample in hosts:
            up.add_metric([host], 1.0 if host_state == "online" else 0.0)
            for name in STATES:
                state.add_metric([host, name], 1.0 if host_state == name else 0.0)
            health.add_metric([host], score)
            if sample:  # replaced, never mutated, by ingest: safe to read outside the lock
                self._add_sample(families, host, labels, sample)
        yield up
        yield state
        yield health
        yield from families.values()
        yield from self.hub.families()

    def _add_sample(self, families: dict[str, Metric], host: str, host_labels: dict[str, str],
                    sample: dict[str, Any]) -> None:
        base = {"host": host, **{k: v for k, v in host_labels.items() if k not in RESERVED}}
        for name, entry in sample.items():
            for pair in entry if isinstance(entry, list) else [[{}, entry]]:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], dict)
                        and isinstance(pair[1], (int, float)) and not isinstance(pair[1], bool)):
                    continue  # malformed series: the store counts them; exposition just skips
                labels, value = pair
                merged = {**base, **{k: str(v) for k, v in labels.items() if k not in base}}
                family = families.get(name)
                if family is None:
                    family = families[name] = _family(name)
                family.add_sample(family.name + ("_total" if family.type == "counter" else ""), merged,
                                  float(value))


def _family(name: str) -> Metric:
    spec = catalog.BY_NAME.get(name)
    if spec is not None and spec.type == "counter":
        return Metric(name[: -len("_total")], spec.help, "counter")
    return Metric(name, spec.help if spec else "Scraped by the agent from a local endpoint.", "gauge")


class HubCounters:
    """The hub's own metrics, updated from several threads (int += is atomic enough under the GIL for
    counters that only grow; readers tolerate a sample being one behind)."""

    def __init__(self) -> None:
        self.ingested = 0
        self.backfilled = 0
        self.rejected: dict[str, int] = {}
        self.store: Any = None  # the Store, for its write counters
        self._lag_counts = [0] * (len(LAG_BUCKETS) + 1)
        self._lag_sum = 0.0

    def observe_lag(self, seconds: float) -> None:
        """Receive time minus sample time of a live sample: a fixed-bucket histogram, cheap per message."""
        index = bisect.bisect_left(LAG_BUCKETS, seconds)
        self._lag_counts[index] += 1
        self._lag_sum += seconds

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """The hub's own figures as JSON, cheap to produce whatever the fleet's size."""
        store = self.store
        return {"samples_ingested": self.ingested, "backfill_samples": self.backfilled,
                "messages_rejected": dict(self.rejected),
                "ingest_lag_seconds": {"buckets": dict(zip([*map(str, LAG_BUCKETS), "+Inf"], self._lag_counts,
                                                           strict=True)), "sum": self._lag_sum},
                "db": {} if store is None else {"samples_written": store.samples_written,
                                                "samples_dropped": store.samples_dropped,
                                                "write_seconds": store.write_seconds_total}}

    def families(self) -> Iterator[Metric]:
        ingested = CounterMetricFamily("fleetmon_hub_samples_ingested",
                                       "Live host samples applied to the fleet state.")
        ingested.add_metric([], self.ingested)
        yield ingested
        backfilled = CounterMetricFamily("fleetmon_hub_backfill_samples", "Back-filled samples received.")
        backfilled.add_metric([], self.backfilled)
        yield backfilled
        rejected = CounterMetricFamily("fleetmon_hub_messages_rejected", "Messages dropped, by reason.",
                                       labels=["reason"])
        for reason, count in sorted(self.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        cumulative, buckets = 0, []
        for bound, count in zip([*LAG_BUCKETS, float("inf")], self._lag_counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        lag = HistogramMetricFamily("fleetmon_hub_ingest_lag_seconds",
                                    "Hub receive time minus the sample's own timestamp, live samples.")
        lag.add_metric([], buckets, self._lag_sum)
        yield lag
        yield from _store_families(self.store)


#: The history store's counters exposed on /metrics: (metric name, help, attribute of store.counters).
STORE_COUNTERS = (
    ("fleetmon_hub_db_samples_written", "Samples written to the history store.", "samples_written"),
    ("fleetmon_hub_db_samples_dropped", "Samples the history store dropped because its write queue was full.",
     "samples_dropped"),
    ("fleetmon_hub_db_samples_duplicate", "Samples received again (same host, session, seq), stored once.",
     "samples_duplicate"),
    ("fleetmon_hub_db_series_malformed", "Malformed series skipped in stored samples.", "series_malformed"),
    ("fleetmon_hub_db_write_seconds", "Time spent writing batches to SQLite.", "write_seconds_total"),
)


def _store_families(store: Any) -> Iterator[Metric]:
    if store is None:
        return
    for name, text, attribute in STORE_COUNTERS:
        family = CounterMetricFamily(name, text)
        family.add_metric([], getattr(store, attribute))
        yield family
