"""Flap tracking (fleetmon's own mute): an alert that keeps changing state is held until it settles.

An alert flaps once it changed state (firing to resolved or back) more than ``changes`` times within
``window``; its notifications are then held, the flush treating it as muted, until it has not changed for
``settle``. Without this, a threshold that wobbles around its limit pages on every swing.

State changes only in ``observe`` (a change of the alert) and ``tick`` (time passing: flaps that settled end);
``flapping`` and ``reason`` only read, so an API view asking about an alert never alters it.
"""

import logging
from collections import deque
from collections.abc import Mapping

from fleetmon.hub.alerting.config import FlapPolicy
from fleetmon.protocol.alerts import fingerprint

log = logging.getLogger("fleetmon.hub.alerting")


class Flaps:
    """The recent state changes of every alert, by fingerprint. Not thread-safe: the dispatcher's lock
    guards it. ``policy`` may be replaced by a reload; it applies from the next call on."""

    def __init__(self, policy: FlapPolicy) -> None:
        self.policy = policy
        self._changes: dict[str, deque[float]] = {}
        self._flapping: set[str] = set()

    def observe(self, fp: str, now: float) -> None:
        """The alert ``fp`` changed state at ``now``. A flap that settled before this change ended then,
        whether or not a tick came in between: the answer depends on the changes, not on who looked."""
        self._end_if_settled(fp, now)
        policy = self.policy
        if not policy.enabled:
            return
        changes = self._changes.setdefault(fp, deque())
        changes.append(now)
        while changes[0] < now - policy.window:
            changes.popleft()
        if len(changes) > policy.changes and fp not in self._flapping:
            self._flapping.add(fp)
            log.info("alert %s is flapping (%d changes in %gs): notifications held until it settles", fp,
                     len(changes), policy.window)

    def tick(self, now: float) -> None:
        """End the flaps of the alerts that have not changed for ``settle``."""
        for fp in list(self._flapping):
            self._end_if_settled(fp, now)

    def forget(self, fp: str) -> None:
        self._changes.pop(fp, None)
        self._flapping.discard(fp)

    def flapping(self, fp: str, now: float) -> bool:
        return fp in self._flapping and not self._settled(fp, now)

    def reason(self, labels: Mapping[str, str], now: float) -> str:
        """A muter (fleetmon.hub.alerting.muting): "flapping" while the alert with these labels flaps."""
        if not self._flapping:  # the usual case, and it spares hashing every label of every alert
            return ""
        return "flapping" if self.flapping(fingerprint(labels), now) else ""

    def _end_if_settled(self, fp: str, now: float) -> None:
        if fp in self._flapping and self._settled(fp, now):
            self._flapping.discard(fp)
            log.info("alert %s settled", fp)

    def _settled(self, fp: str, now: float) -> bool:
        changes = self._changes.get(fp)
        return bool(changes) and now - changes[-1] >= self.policy.settle
