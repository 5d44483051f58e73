"""Builds the enabled collectors and runs them so that each fails alone.

A collector that raises is reported in the sample's ``errors`` and as ``fleetmon_agent_collector_up 0``;
its error is logged once (and again only when the message changes), the other collectors go on.
"""

import logging
import time
from typing import Dict, List, Tuple

from fleetmon.agent.collectors.base import Collector, CollectorUnavailable
from fleetmon.agent.config import CollectorsConfig
from fleetmon.config_reader import ConfigError
from fleetmon.protocol.metricset import MetricSet

log = logging.getLogger("fleetmon.agent.collectors")


def build_collectors(config: CollectorsConfig, interval: float) -> List[Collector]:
    """Instantiate what the config enables. A collector marked ``true`` that cannot run is an error;
    one marked ``auto`` is left out quietly (not a Jetson, no NVIDIA GPU)."""
    collectors: List[Collector] = []
    if config.system.enabled:
        from fleetmon.agent.collectors.system import SystemCollector

        collectors.append(SystemCollector(config.system))
    optional = []
    if config.jetson.enabled != "false":
        optional.append(("collectors.jetson", config.jetson.enabled, _jetson(config, interval)))
    if config.nvml.enabled != "false":
        optional.append(("collectors.nvml", config.nvml.enabled, _nvml(config)))
    for path, enabled, factory in optional:
        try:
            collectors.append(factory())
        except CollectorUnavailable as exc:
            if enabled == "true":
                raise ConfigError([f"{path}.enabled: is true, but {exc}"]) from exc
            log.debug("%s left out: %s", path, exc)
    if config.prometheus.targets:
        from fleetmon.agent.collectors.prometheus import PrometheusScrapeCollector

        collectors.append(PrometheusScrapeCollector(config.prometheus))
    return collectors


def _jetson(config: CollectorsConfig, interval: float):
    def factory() -> Collector:
        from fleetmon.agent.collectors.jetson import no_source_here

        reason = no_source_here(config.jetson.source, config.jetson.tegrastats_path)
        if reason:
            raise CollectorUnavailable(reason)
        from fleetmon.agent.collectors.jetson.collector import JetsonCollector

        return JetsonCollector(config.jetson, interval)

    return factory


def _nvml(config: CollectorsConfig):
    def factory() -> Collector:
        from fleetmon.agent.collectors.nvml import NvmlCollector

        return NvmlCollector(config.nvml)

    return factory


class CollectorRunner:
    def __init__(self, collectors: List[Collector]) -> None:
        self.collectors = collectors
        self._last_error: Dict[str, str] = {}

    def facts(self) -> Dict[str, object]:
        facts: Dict[str, object] = {}
        for collector in self.collectors:
            try:
                facts.update(collector.facts())
            except Exception as exc:  # a plugin boundary: one bad collector must not stop the agent
                log.warning("collector %s could not report facts: %s", collector.name, exc)
        return facts

    def collect(self) -> Tuple[MetricSet, Dict[str, str], float]:
        """One sample: (metrics, errors by collector, seconds it took)."""
        started = time.monotonic()
        out = MetricSet()
        errors: Dict[str, str] = {}
        for collector in self.collectors:
            part = MetricSet()
            try:
                collector.collect(part)
            except Exception as exc:  # a plugin boundary: see the module docstring
                message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                errors[collector.name] = message
                if self._last_error.get(collector.name) != message:
                    log.error("collector %s failed: %s", collector.name, message,
                              exc_info=not isinstance(exc, (OSError, RuntimeError, ValueError)))
                    self._last_error[collector.name] = message
            else:
                if collector.name in self._last_error:
                    log.info("collector %s recovered", collector.name)
                    del self._last_error[collector.name]
            out.update(part)
            out.add("fleetmon_agent_collector_up", 0 if collector.name in errors else 1,
                    {"collector": collector.name})
        duration = time.monotonic() - started
        out.add("fleetmon_agent_collect_duration_seconds", duration)
        return out, errors, duration

    def close(self) -> None:
        for collector in self.collectors:
            try:
                collector.close()
            except Exception as exc:  # closing must reach every collector
                log.warning("collector %s did not close cleanly: %s", collector.name, exc)
