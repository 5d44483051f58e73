"""Fleet rules: pure functions from the fleet's state and history to the alerts that should fire now.

One module per family: ``liveness`` (HostDown, HostMissing), ``hub`` (HubBlind, HubStorageFailing: the
hub's own faults, evaluated even while it cannot judge the hosts), ``predictive`` (PredictedExhaustion),
``patterns`` (CascadingFailure, FleetResourceTrend, LoadImbalance, HeartbeatDegraded), ``journeys``
(JourneyFailing: a journey check failing from several hosts), ``config`` (the ``rules:`` section), ``alerts``
(the alert value and ``ActiveAlerts``, which turns evaluations into firing/resolved transitions), ``fit``
(least squares). Nothing here reads a clock or does I/O.

The hub's loop, every evaluation::

    series = [SeriesHistory(host, metric, labels, points) ...]  # store query, one per config.history() metric
    transitions = active.update(evaluate(config, views, series, now), now)
"""

from collections.abc import Iterable, Sequence

from fleetmon.hub.model import HostView
from fleetmon.hub.rules.alerts import ActiveAlerts, FleetAlert
from fleetmon.hub.rules.config import RulesConfig, parse_rules
from fleetmon.hub.rules.hub import HubHealth, hub_blind, hub_storage_failing
from fleetmon.hub.rules.journeys import journey_failing
from fleetmon.hub.rules.liveness import host_down, host_missing
from fleetmon.hub.rules.patterns import cascading_failure, heartbeat_degraded, load_imbalance, resource_trend
from fleetmon.hub.rules.predictive import SeriesHistory, predicted_exhaustion

__all__ = ["ActiveAlerts", "FleetAlert", "RulesConfig", "SeriesHistory", "evaluate", "evaluate_hub", "parse_rules"]


def evaluate(config: RulesConfig, hosts: Iterable[HostView], series: Sequence[SeriesHistory],
             now: float) -> list[FleetAlert]:
    """Every enabled rule over one snapshot of the fleet; ``series`` holds the history ``config.history()``
    asks for. Back-filled points may be in it: they are real history, and a trend rule judges the present,
    not the moment a point was taken (the protocol's "back-fill never alerts" is about that moment)."""
    views = list(hosts)
    by_host = {view.host: view for view in views}
    alerts: list[FleetAlert] = []
    if config.host_down.enabled:
        alerts += host_down(views, config.host_down)
    if config.host_missing.enabled:
        alerts += host_missing(views, config.host_missing)
    if config.predictive.enabled:
        alerts += predicted_exhaustion(series, by_host, config.predictive, now)
    if config.cascading_failure.enabled:
        alerts += cascading_failure(views, config.cascading_failure)
    if config.resource_trend.enabled:
        alerts += resource_trend(series, views, config.resource_trend, now)
    if config.load_imbalance.enabled:
        alerts += load_imbalance(views, config.load_imbalance, now)
    if config.heartbeat_degraded.enabled:
        alerts += heartbeat_degraded(views, config.heartbeat_degraded, now)
    if config.journey_failing.enabled:
        alerts += journey_failing(views, config.journey_failing, now)
    return alerts


def evaluate_hub(config: RulesConfig, health: HubHealth) -> list[FleetAlert]:
    """The rules about the hub itself (fleetmon.hub.rules.hub)."""
    alerts: list[FleetAlert] = []
    if config.hub_blind.enabled:
        alerts += hub_blind(health, config.hub_blind)
    if config.hub_storage_failing.enabled:
        alerts += hub_storage_failing(health, config.hub_storage_failing)
    return alerts
