"""The hub's /metrics: every host's latest sample with `host` and inventory labels, liveness, and the
hub's own counters, through prometheus_client."""

import bisect
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.model import STATES
from fleetmon.protocol import catalog

RESERVED = ("host",)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class FleetCollector(Collector):
    """Renders the fleet state at scrape time, from a snapshot the reader takes under the state lock:
    rendering thousands of hosts must not stall ingest."""

    def __init__(self, fleet: FleetReader, hub_metrics: "HubCounters") -> None:
        self.fleet, self.hub = fleet, hub_metrics

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        up = GaugeMetricFamily("fleetmon_host_up", "1 while the host is online (birth seen, samples arriving).",
                               labels=["host"])
        state = GaugeMetricFamily("fleetmon_host_state", "1 for the host's current liveness state.",
                                  labels=["host", "state"])
        health = GaugeMetricFamily("fleetmon_host_health_score", "Health score 0..100 (docs/hub.md).",
                                   labels=["host"])
        for host, host_state, score, labels, sample in self.fleet.scrape():
            up.add_metric([host], 1.0 if host_state == "online" else 0.0)
            for name in STATES:
                state.add_metric([host, name], 1.0 if host_state == name else 0.0)
            health.add_metric([host], score)
            if sample:
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
                if any(type(v) is dict or type(v) is list for v in labels.values()):
                    continue  # a label value is text; a nested one, samples not being depth-checked, might not print
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
        self.samples_lost = 0  # given up by the delivery tracker (hub/delivery.py)
        self.rejected: dict[str, int] = {}
        self.store: Any = None  # the Store, for its write counters
        self.sight: Any = None  # the hub's Sight (fleetmon.hub.sight), for blindness and probe lag
        self.evaluations = 0  # rule evaluations (rounds of the rules loop)
        self.republish_skipped = 0  # fleet-view rounds skipped: the broker had not taken the previous one yet
        self.config_reloads = {"success": 0, "failure": 0}  # SIGHUP reloads, by result
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
                                                "write_seconds": store.write_seconds_total,
                                                "write_failures": store.failures,
                                                "failing_since": store.failing_since},
                **({} if self.sight is None else {"sight": _sight_figures(self.sight)})}

    def families(self) -> Iterator[Metric]:
        ingested = CounterMetricFamily("fleetmon_hub_samples_ingested",
                                       "Live host samples applied to the fleet state.")
        ingested.add_metric([], self.ingested)
        yield ingested
        backfilled = CounterMetricFamily("fleetmon_hub_backfill_samples", "Back-filled samples received.")
        backfilled.add_metric([], self.backfilled)
        yield backfilled
        skipped = CounterMetricFamily("fleetmon_hub_republish_skipped",
                                      "Fleet-view rounds skipped: the previous round was still unsent.")
        skipped.add_metric([], self.republish_skipped)
        yield skipped
        lost = CounterMetricFamily("fleetmon_hub_samples_lost",
                                   "Samples asked for again in vain and given up: never in the history.")
        lost.add_metric([], self.samples_lost)
        yield lost
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
        evaluations = CounterMetricFamily("fleetmon_hub_rule_evaluations", "Rounds of the hub's rules loop.")
        evaluations.add_metric([], self.evaluations)
        yield evaluations
        reloads = CounterMetricFamily("fleetmon_hub_config_reloads", "Config reloads (SIGHUP), by result.",
                                      labels=["result"])
        for result, count in self.config_reloads.items():
            reloads.add_metric([result], count)
        yield reloads
        yield from _sight_families(self.sight)
        yield from _store_families(self.store)


#: The history store's counters exposed on /metrics: (metric name, help, attribute of store.counters).
STORE_COUNTERS = (
    ("fleetmon_hub_db_samples_written", "Samples written to the history store.", "samples_written"),
    ("fleetmon_hub_db_samples_dropped", "Samples the history store dropped because its write queue was full.",
     "samples_dropped"),
    ("fleetmon_hub_db_samples_duplicate", "Samples received again (same host, session, seq), stored once.",
     "samples_duplicate"),
    ("fleetmon_hub_db_series_malformed", "Malformed series skipped in stored samples.", "series_malformed"),
    ("fleetmon_hub_db_samples_malformed", "Samples not stored: malformed, or refused by SQLite.", "samples_malformed"),
    ("fleetmon_hub_db_records_dropped", "Checks, events, state changes and alert transitions dropped because the "
     "history write queue was full.", "records_dropped"),
    ("fleetmon_hub_db_records_malformed", "Records not stored: refused by SQLite or not convertible.",
     "records_malformed"),
    ("fleetmon_hub_db_writes_lost", "Queued writes given up because the hub stopped while history writes failed.",
     "writes_lost"),
    ("fleetmon_hub_db_replaced", "Corrupt history files moved aside for a new, empty one.", "databases_replaced"),
    ("fleetmon_hub_db_write_seconds", "Time spent writing batches to SQLite.", "write_seconds_total"),
)


def _sight_figures(sight: Any) -> dict[str, Any]:
    blindness = sight.blindness
    return {"blind": None if blindness is None else {"cause": blindness.cause, "since": blindness.since,
                                                     "detail": blindness.detail},
            "judging": sight.judging(time.time()), "probe_round_trip_seconds": sight.lag}


def _sight_families(sight: Any) -> Iterator[Metric]:
    """Whether the hub can see the fleet (fleetmon.hub.sight); read without its lock, each value on its own."""
    if sight is None:
        return
    blindness = sight.blindness
    blind = GaugeMetricFamily("fleetmon_hub_blind", "1 while the hub cannot see the fleet, by cause "
                              "(broker, stalled, lagging, starting).", labels=["cause"])
    if blindness is not None:
        blind.add_metric([blindness.cause], 1.0)
    yield blind
    judging = GaugeMetricFamily("fleetmon_hub_judging", "1 while the hub judges hosts' liveness (it sees and has "
                                "settled since its last connection).")
    judging.add_metric([], 1.0 if sight.judging(time.time()) else 0.0)
    yield judging
    episodes = CounterMetricFamily("fleetmon_hub_blind_episodes", "Times the hub's sight returned after "
                                   "blindness.")
    episodes.add_metric([], sight.episodes)
    yield episodes
    if sight.lag is not None:
        lag = GaugeMetricFamily("fleetmon_hub_probe_round_trip_seconds", "The last probe's way through the "
                                "broker and the hub's ingest queue.")
        lag.add_metric([], sight.lag)
        yield lag


def _store_families(store: Any) -> Iterator[Metric]:
    if store is None:
        return
    for name, text, attribute in STORE_COUNTERS:
        family = CounterMetricFamily(name, text)
        family.add_metric([], getattr(store, attribute))
        yield family
    failures = CounterMetricFamily("fleetmon_hub_db_write_failures", "Failed history write attempts (each "
                                   "retried), by reason (disk_full, read_only, io_error, locked, corrupt, ...).",
                                   labels=["reason"])
    for reason, count in store.failures.items():
        failures.add_metric([reason], count)
    yield failures
    dropped = CounterMetricFamily("fleetmon_hub_db_dropped", "Writes the full history queue could not take, by "
                                  "kind (sample, record) and why it was full (queue_full, or the failure).",
                                  labels=["kind", "reason"])
    for (kind, reason), count in sorted(store.dropped.items()):
        dropped.add_metric([kind, reason], count)
    yield dropped
    failing = GaugeMetricFamily("fleetmon_hub_db_failing_since_seconds", "Unix time since when history writes "
                                "fail; 0 while they succeed.")
    failing.add_metric([], store.failing_since)
    yield failing
    yield from _long_term_families(store.remote_write, store.long_term)


#: ``history.remote_write``'s counters on /metrics: (metric name, help, its figure).
REMOTE_WRITE_COUNTERS = (
    ("fleetmon_hub_remote_write_samples_sent", "Samples the long-term store's remote-write receiver took.",
     "samples_sent"),
    ("fleetmon_hub_remote_write_samples_failed", "Samples the receiver refused (a 4xx other than 429): not "
     "retried.", "samples_failed"),
    ("fleetmon_hub_remote_write_samples_dropped", "Samples not sent: more than history.remote_write.max_backlog "
     "host-samples waited for the receiver.", "samples_dropped"),
    ("fleetmon_hub_remote_write_requests_retried", "Remote-write requests tried again after a 5xx, 429 or "
     "network error.", "requests_retried"),
    ("fleetmon_hub_remote_write_host_samples_pruned", "Host-samples pruned from the raw tier (older than "
     "history.raw_window) before remote write sent them.", "host_samples_pruned"),
)


def _long_term_families(remote_write: Any, long_term: Any) -> Iterator[Metric]:
    """The long-term store's figures, when the config has one (fleetmon.hub.store.remote_write, remote_read)."""
    if remote_write is not None:
        figures = remote_write.figures()
        for name, text, key in REMOTE_WRITE_COUNTERS:
            family = CounterMetricFamily(name, text)
            family.add_metric([], figures[key])
            yield family
        queue = GaugeMetricFamily("fleetmon_hub_remote_write_queue_length", "Host-samples stored and not yet "
                                  "sent to the remote-write receiver.")
        queue.add_metric([], figures["backlog"])
        yield queue
        failing = GaugeMetricFamily("fleetmon_hub_remote_write_failing_since_seconds", "Unix time since when "
                                    "remote-write requests fail and are retried; 0 while they succeed.")
        failing.add_metric([], figures["failing_since"])
        yield failing
    if long_term is not None:
        reads = CounterMetricFamily("fleetmon_hub_long_term_reads", "Chart reads the long-term store answered.")
        reads.add_metric([], long_term.reads)
        yield reads
        failures = CounterMetricFamily("fleetmon_hub_long_term_read_failures", "Chart reads the long-term store "
                                       "failed, answered from SQLite instead.")
        failures.add_metric([], long_term.failures)
        yield failures
