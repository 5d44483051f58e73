"""The collector plugin interface.

A collector adds series to a MetricSet and may report static facts for the birth message. It raises
on failure; the CollectorRunner catches that at the plugin boundary so one broken source never stops
the others (see fleetmon.agent.collectors.runner).
"""

from typing import Dict

from fleetmon.protocol.metricset import MetricSet


class CollectorUnavailable(Exception):
    """Raised by a collector's constructor when its source does not exist on this host.

    With ``enabled: auto`` this quietly leaves the collector out; with ``enabled: true`` it is an error.
    """


class Collector:
    #: Short name used in logs, the sample's ``errors`` and ``fleetmon_agent_collector_up``.
    name = "collector"

    def collect(self, out: MetricSet) -> None:
        raise NotImplementedError

    def facts(self) -> Dict[str, object]:
        """Static facts about the host for the birth message (model, versions, ...)."""
        return {}

    def close(self) -> None:
        """Release processes, threads or handles."""
