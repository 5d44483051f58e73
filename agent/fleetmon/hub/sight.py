"""Whether the hub can trust its own view of the fleet ("the hub knows when it is blind").

A host that sends nothing looks exactly like a hub that receives nothing. The hub is blind while
  - it has no broker session (the broker is down or restarting, the network to it is cut),
  - it was stalled (SIGSTOP, a frozen VM, swapping): its rules loop ran late by more than ``stall_after``,
  - it is behind: its own probe, published to the broker and received back through the same queue as the
    hosts' messages, has not come back within ``max_lag``.
Sight returns when a probe sent *after* the fault comes back: everything the broker queued for the hub
before that probe has then been read. After a (re)connection the hub also settles for ``settle`` seconds,
long enough for retained births and for agents to reconnect with their backoff (a restarted broker lost
them all) and send their next sample — or less: the settle ends as soon as every host online now or when
the hub went blind has been heard from since sight returned (``caught_up``; FleetState.heard_since), so only
a host that stays quiet waits it out.

While blind or settling the hub judges no host: no host turns silent, and fleet rules keep their last
verdict (fleetmon.hub.service). Afterwards silence is measured from the moment sight returned, so a host
that really died meanwhile is reported then — once. The blindness itself is one alert about the hub
(HubBlind, fleetmon.hub.rules.hub).

Pure: the caller passes the hub's clock in and publishes the probes this returns. Not thread-safe: the
hub calls it under its state lock.
"""

from dataclasses import dataclass

#: Probes are ``probe-<hub run>-<number>``: a probe of an earlier run, queued in the broker for the hub's
#: persistent session, must not pass for one of this run.
PROBE_PREFIX = b"probe-"

BROKER, STALLED, LAGGING, STARTING = "broker", "stalled", "lagging", "starting"


@dataclass(slots=True, frozen=True)
class Blindness:
    """Why the hub cannot see, since when; what HubBlind and /health/ready report."""

    cause: str  # BROKER, STALLED, LAGGING or STARTING
    since: float
    detail: str


class Sight:
    def __init__(self, stall_after: float, max_lag: float, settle: float, now: float, run: str = "") -> None:
        self.stall_after = stall_after
        self.max_lag = max_lag
        self.settle = settle
        self.blindness: Blindness | None = Blindness(STARTING, now, "not connected to the broker yet")
        self.seeing_since: float | None = None  # when sight last returned
        self.settled_at = 0.0  # no host is judged before this
        self.lag: float | None = None  # round trip of the last probe that came back
        self.episodes = 0  # blind episodes that ended, for /metrics
        self._prefix = PROBE_PREFIX + run.encode() + b"-"
        self._connected = False
        self._counter = 0
        self._outstanding: dict[int, float] = {}  # probe number -> when it was sent
        self._mark = 0  # only a probe numbered above this, sent after the fault began, ends the blindness
        self._last_tick: float | None = None

    # --- events ----------------------------------------------------------------------------------

    def connected(self, now: float) -> bytes:
        """A broker session began: settle, and send a probe through it. Returns the probe to publish."""
        self._connected = True
        self.settled_at = max(self.settled_at, now + self.settle)
        return self._arm(now)

    def disconnected(self, now: float) -> None:
        self._connected = False
        self._outstanding.clear()
        self._go_blind(BROKER, now, "the broker connection was lost")

    def tick(self, now: float) -> bytes | None:
        """Once per rules round: notice a stall or a lag; returns a probe to publish, if one is due."""
        last, self._last_tick = self._last_tick, now
        if last is not None and now - last > self.stall_after:
            self._go_blind(STALLED, last, f"the hub was stalled for {now - last:.0f}s")
        if not self._connected:
            return None
        oldest = min(self._outstanding.values(), default=None)
        if oldest is not None and now - oldest > self.max_lag:
            self._go_blind(LAGGING, oldest, f"its probe has not come back through the broker for {now - oldest:.0f}s")
        if not self._outstanding:
            return self._arm(now)
        if self.blindness is not None:
            # One probe sent since the fault must be on its way; another if that one may have been lost
            # (published just as the connection broke).
            fresh = [at for number, at in self._outstanding.items() if number > self._mark]
            if not fresh or now - max(fresh) > self.max_lag:
                return self._arm(now)
        return None

    def caught_up(self, now: float) -> None:
        """Every host that was online has sent a sample since sight returned: nothing left to settle for."""
        if self.blindness is None:
            self.settled_at = min(self.settled_at, now)

    def probe_returned(self, payload: bytes, now: float) -> None:
        number = self._number(payload)
        sent = self._outstanding.pop(number, None) if number is not None else None
        if sent is None:
            return  # an earlier connection's or run's probe, or another hub's: says nothing about this one
        self.lag = now - sent
        # Probes sent before this one were queued ahead of it: lost with an earlier connection, not late.
        self._outstanding = {n: at for n, at in self._outstanding.items() if n > number}
        if self.blindness is not None and number > self._mark:
            self.blindness = None
            self.seeing_since = now
            self.episodes += 1

    # --- questions ---------------------------------------------------------------------------------

    @property
    def blind(self) -> bool:
        return self.blindness is not None

    def judging(self, now: float) -> bool:
        """Whether the hub may judge hosts now: it sees, and it has settled since its last connection."""
        return self.blindness is None and now >= self.settled_at

    def trusted_from(self) -> float:
        """Silence is counted from here at the earliest: the hub saw nothing of the fleet before it."""
        return self.seeing_since or 0.0

    # --- internals ---------------------------------------------------------------------------------

    def _go_blind(self, cause: str, since: float, detail: str) -> None:
        """Start (or re-cause) a blind episode; only a probe sent after this ends it."""
        if self.blindness is None:
            self.blindness = Blindness(cause, since, detail)
        elif cause == LAGGING:
            return  # already blind: a late probe is a symptom of that, not news
        else:
            self.blindness = Blindness(cause, self.blindness.since, detail)
        self._mark = self._counter

    def _arm(self, now: float) -> bytes:
        self._counter += 1
        self._outstanding[self._counter] = now
        return self._prefix + str(self._counter).encode()

    def _number(self, payload: bytes) -> int | None:
        tail = payload[len(self._prefix):] if payload.startswith(self._prefix) else b""
        return int(tail) if tail.isdigit() else None
