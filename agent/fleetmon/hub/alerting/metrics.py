"""Alerting's own Prometheus series: every firing alert, and how notifications are going.

``fleetmon_alert_firing`` mirrors Prometheus' ``ALERTS`` series (one sample of 1 per firing alert, with
its labels), so dashboards and a Prometheus scraping the hub can show the hub's alerts without asking
its API; ``muted`` says whether it is inhibited, silenced or flapping, ``acknowledged`` whether someone
took it.
"""

import re
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_OWN = ("muted", "acknowledged")


class AlertingCollector(Collector):
    def __init__(self, dispatcher: Any, deliverer: Any) -> None:
        self.dispatcher, self.deliverer = dispatcher, deliverer

    def collect(self) -> Iterator[Metric]:
        views = [v for v in self.dispatcher.alert_views(time.time()) if v["status"] == "firing"]
        names = sorted({name for v in views for name in v["labels"]
                        if _LABEL_NAME.match(name) and name not in _OWN and not name.startswith("__")})
        firing = GaugeMetricFamily("fleetmon_alert_firing", "1 per firing alert, with its labels (like ALERTS).",
                                   labels=[*names, *_OWN])
        for view in views:
            labels = view["labels"]
            firing.add_metric([labels.get(n, "") for n in names] + [
                "true" if view["muted"] else "false", "true" if view["acknowledged"] else "false"], 1.0)
        yield firing
        groups = GaugeMetricFamily("fleetmon_hub_alert_groups", "Aggregation groups the dispatcher holds.")
        groups.add_metric([], len(self.dispatcher.groups))
        yield groups
        sent = CounterMetricFamily("fleetmon_hub_notifications", "Notifications delivered or given up, by result.",
                                   labels=["result"])
        sent.add_metric(["delivered"], self.dispatcher.notifications_sent)
        sent.add_metric(["failed"], self.dispatcher.notifications_failed)
        yield sent
        pending = GaugeMetricFamily("fleetmon_hub_notifications_pending", "Notifications queued or being sent.")
        pending.add_metric([], self.deliverer.pending)
        yield pending
