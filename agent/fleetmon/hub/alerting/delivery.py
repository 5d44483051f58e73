"""Delivery: every notification tried, retried with backoff until its deadline, and every attempt reported.

Each integration (receiver and ``kind[index]``) has its own worker thread and queue, so a receiver that
hangs until its timeout, or refuses connections for an hour, delays only its own notifications; the
others go out at once. Within one integration notifications go out in the order they were handed over.

Retries follow Alertmanager's retry stage: a retryable failure (DeliveryError with ``retryable``, or
any unexpected exception, which is also logged with its traceback) is tried again after an exponential,
jittered backoff until the deadline; a non-retryable one ends the delivery at once. No attempt starts
at or after the deadline, but one that started may run past it by up to its integration's timeout.
A notification that waited in its queue past its deadline is never tried: it is reported as attempt 0,
so the delivery log shows why nothing went out.

A notification may carry a ``durable`` wait (the alert journal's barrier): its first attempt waits until
the state it depends on is committed, so a crash after the send finds it logged (docs/alerting.md,
"Crash safety"). The wait happens here, on the integration's thread: neither the dispatcher nor ingest
ever waits for SQLite. A journal that cannot commit within ``JOURNAL_WAIT`` does not hold the page back.
"""

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration

log = logging.getLogger(__name__)

#: Seconds a notification waits for the alert journal to commit its state before it goes out regardless.
JOURNAL_WAIT = 5.0


@dataclass(slots=True)
class Attempt:
    """One try, for the delivery log."""

    receiver: str
    integration: str  # kind[index]
    group_key: str
    attempt: int  # 1 for the first try; 0 when the deadline passed before any try
    ok: bool
    error: str
    status: int | None  # the peer's status code (HTTP, SMTP) when it answered one
    started: float  # unix seconds
    duration: float  # seconds
    final: bool  # no further try follows for this notification


@dataclass(slots=True)
class _Job:
    integration: Integration
    notification: Notification
    deadline: float
    done: Callable[[bool], None]
    durable: Callable[[float], bool] | None = None


_STOP = object()  # queued behind the jobs to end a worker


class Deliverer:
    def __init__(self, on_attempt: Callable[[Attempt], None] | None = None, initial_backoff: float = 0.5,
                 max_backoff: float = 30.0) -> None:
        self._on_attempt = on_attempt
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._workers: dict[tuple[str, str], tuple[threading.Thread, queue.SimpleQueue]] = {}
        self._pending = 0
        self._stopping = threading.Event()

    @property
    def pending(self) -> int:
        """Notifications queued or being tried."""
        with self._lock:
            return self._pending

    def deliver(self, integration: Integration, notification: Notification, deadline: float,
                done: Callable[[bool], None], durable: Callable[[float], bool] | None = None) -> None:
        """Hand over one notification; returns at once. ``done(ok)`` follows exactly once, from the
        integration's worker thread (from this thread when the deliverer is already stopped).

        ``deadline`` is a unix time: no attempt starts after it. ``durable(timeout)``, when given, is
        waited for before the first attempt (True once the notification's state is committed).
        """
        key = (integration.receiver, integration.name)
        with self._lock:
            if self._stopping.is_set():
                stopped = True
            else:
                stopped = False
                self._pending += 1
                if key not in self._workers:
                    jobs: queue.SimpleQueue = queue.SimpleQueue()
                    worker = threading.Thread(target=self._run, args=(jobs,), daemon=True,
                                              name=f"deliver {integration.receiver}/{integration.name}")
                    self._workers[key] = (worker, jobs)
                    worker.start()
                self._workers[key][1].put(_Job(integration, notification, deadline, done, durable))
        if stopped:
            log.warning("delivery stopped: %s/%s not sent for %s", integration.receiver, integration.name,
                        notification.group_key)
            self._finish(done, False)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every worker: attempts under way finish and are reported; notifications not tried yet, or
        waiting for a retry, get done(False) (so a failed attempt reported as not final may stay the last).
        Waits up to ``timeout`` seconds in all for the workers to end."""
        with self._lock:
            self._stopping.set()
            workers = list(self._workers.values())
        for _, jobs in workers:
            jobs.put(_STOP)
        end = time.monotonic() + timeout
        for worker, _ in workers:
            worker.join(max(0.0, end - time.monotonic()))
            if worker.is_alive():
                log.warning("%s still busy after %.1fs; left running", worker.name, timeout)

    def _run(self, jobs: queue.SimpleQueue) -> None:
        while True:
            job = jobs.get()
            if job is _STOP:
                return
            ok = False if self._stopping.is_set() else self._deliver(job)
            self._finish(job.done, ok)
            with self._lock:
                self._pending -= 1

    def _deliver(self, job: _Job) -> bool:
        integration, notification = job.integration, job.notification
        try:
            prepared = integration.prepare(notification)
        except Exception:
            log.exception("%s/%s could not prepare %s", integration.receiver, integration.name, notification.group_key)
            return False
        if prepared is None:  # nothing to send (send_resolved off, all resolved): delivered
            return True
        if job.durable is not None and not job.durable(max(0.0, min(JOURNAL_WAIT, job.deadline - time.time()))):
            log.warning("%s/%s: the alert journal did not commit the state of %s within %gs; sending it anyway, "
                        "without its crash guarantee", integration.receiver, integration.name,
                        notification.group_key, JOURNAL_WAIT)
        if time.time() >= job.deadline:
            self._report(job, 0, False, "deadline passed while waiting behind earlier notifications", None,
                         time.time(), 0.0, final=True)
            return False
        number = 0
        while True:
            number += 1
            started = time.time()
            ok, retryable, error, status = self._attempt(integration, prepared)
            ended = time.time()
            delay = self._backoff(number)
            final = ok or not retryable or ended + delay >= job.deadline or self._stopping.is_set()
            self._report(job, number, ok, error, status, started, ended - started, final)
            if final:
                return ok
            if self._stopping.wait(delay):
                return False

    def _attempt(self, integration: Integration, notification: Notification) -> tuple[bool, bool, str, int | None]:
        """(ok, retryable, error, status) of one send."""
        try:
            integration.send(notification)
        except DeliveryError as exc:
            return False, exc.retryable, str(exc), exc.status
        except Exception as exc:  # a bug in a kind, or a library's surprise: logged, and tried again
            log.exception("%s/%s failed unexpectedly", integration.receiver, integration.name)
            return False, True, f"{type(exc).__name__}: {exc}", None
        return True, False, "", None

    def _backoff(self, attempt: int) -> float:
        """Seconds before the next try: doubling from initial_backoff up to max_backoff, jittered by ±20%
        so integrations that failed together do not retry in step."""
        base = min(self._max_backoff, self._initial_backoff * 2 ** (attempt - 1))
        return base * random.uniform(0.8, 1.2)

    def _report(self, job: _Job, number: int, ok: bool, error: str, status: int | None, started: float,
                duration: float, final: bool) -> None:
        attempt = Attempt(job.integration.receiver, job.integration.name, job.notification.group_key, number, ok,
                          error, status, started, duration, final)
        if not ok:
            log.log(logging.WARNING if final else logging.INFO, "%s/%s attempt %d for %s failed%s: %s",
                    attempt.receiver, attempt.integration, number, attempt.group_key,
                    "" if final else ", will retry", error)
        if self._on_attempt is not None:
            try:
                self._on_attempt(attempt)
            except Exception:
                log.exception("recording a delivery attempt failed")

    @staticmethod
    def _finish(done: Callable[[bool], None], ok: bool) -> None:
        try:
            done(ok)
        except Exception:
            log.exception("a delivery callback failed")
