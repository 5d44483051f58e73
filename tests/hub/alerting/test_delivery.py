"""Delivery: retries, deadlines, isolation between integrations and stopping, with real webhooks and sinks."""

import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import pytest

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.delivery import Attempt, Deliverer
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.receivers import GlobalConfig, Integration, parse_receivers
from tests.conftest import free_port
from tests.polling import wait_until


def webhook(url: str, name: str = "ops", **options) -> Integration:
    errors = Errors()
    receivers = parse_receivers(Node([{"name": name, "webhook_configs": [{"url": url, **options}]}], "receivers",
                                      errors), GlobalConfig())
    assert not errors, errors
    return receivers[name].integrations[0]


def notification(host: str = "a", resolved: bool = False, key: str = '{}:{alertname="HighCPU"}') -> Notification:
    start = time.time() - 60
    alert = AlertSnapshot({"alertname": "HighCPU", "host": host}, {}, start, start + 30 if resolved else None)
    return Notification("ops", key, {"alertname": "HighCPU"}, [alert])


class Outcomes:
    """done() and on_attempt() as a dispatcher would pass them, recording with the thread that called."""

    def __init__(self) -> None:
        self.done: dict[str, tuple[bool, str, float]] = {}
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()

    def on_attempt(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def callback(self, label: str):
        def done(ok: bool) -> None:
            with self._lock:
                assert label not in self.done, f"done() twice for {label}"
                self.done[label] = (ok, threading.current_thread().name, time.monotonic())

        return done

    def wait(self, *labels: str, timeout: float = 10.0) -> dict[str, bool]:
        wait_until(lambda: all(label in self.done for label in labels), timeout, message=f"done() for {labels}")
        return {label: self.done[label][0] for label in labels}


@pytest.fixture
def outcomes():
    return Outcomes()


@pytest.fixture
def deliverer(outcomes):
    instance = Deliverer(outcomes.on_attempt, initial_backoff=0.05, max_backoff=0.2)
    yield instance
    instance.stop(timeout=2)


def test_a_5xx_is_retried_until_it_succeeds(deliverer, outcomes, http_sink):
    http_sink.respond(503, 502, 200)
    hook = webhook(http_sink.url())
    deliverer.deliver(hook, notification(), time.time() + 30, outcomes.callback("n"))
    assert outcomes.wait("n") == {"n": True}
    assert len(http_sink.requests) == 3
    assert [(a.attempt, a.ok, a.status, a.final) for a in outcomes.attempts] == \
        [(1, False, 503, False), (2, False, 502, False), (3, True, None, True)]
    first = outcomes.attempts[0]
    assert (first.receiver, first.integration, first.group_key) == ("ops", "webhook[0]", '{}:{alertname="HighCPU"}')
    assert "HTTP 503" in first.error and first.duration >= 0
    assert outcomes.attempts[1].started >= first.started + first.duration
    assert outcomes.done["n"][1].startswith("deliver ops/webhook[0]")  # from the integration's worker
    assert deliverer.pending == 0


def test_a_4xx_is_not_retried(deliverer, outcomes, http_sink):
    http_sink.respond(400)
    deliverer.deliver(webhook(http_sink.url()), notification(), time.time() + 30, outcomes.callback("n"))
    assert outcomes.wait("n") == {"n": False}
    (attempt,) = outcomes.attempts
    assert (attempt.attempt, attempt.ok, attempt.status, attempt.final) == (1, False, 400, True)
    assert len(http_sink.requests) == 1


def test_retries_end_at_the_deadline(deliverer, outcomes):
    began = time.time()
    refused = webhook(f"http://127.0.0.1:{free_port()}/")
    deliverer.deliver(refused, notification(), began + 0.8, outcomes.callback("n"))
    assert outcomes.wait("n") == {"n": False}
    assert time.time() - began < 5
    assert len(outcomes.attempts) >= 2
    assert all(not a.ok for a in outcomes.attempts)
    assert [a.final for a in outcomes.attempts] == [False] * (len(outcomes.attempts) - 1) + [True]
    assert all(a.started < began + 0.8 for a in outcomes.attempts)  # no attempt starts after the deadline


def test_nothing_to_send_counts_as_delivered(deliverer, outcomes, http_sink):
    quiet = webhook(http_sink.url(), send_resolved=False)
    deliverer.deliver(quiet, notification(resolved=True), time.time() + 30, outcomes.callback("n"))
    assert outcomes.wait("n") == {"n": True}
    assert outcomes.attempts == [] and http_sink.requests == []


def test_a_dead_receiver_does_not_delay_the_others(deliverer, outcomes, make_http_sink):
    dead, healthy = make_http_sink(), make_http_sink()
    dead.respond(200, delay=10)
    handed_over = time.monotonic()
    deliverer.deliver(webhook(dead.url(), name="dead", timeout="4s"), notification(), time.time() + 30,
                      outcomes.callback("dead"))
    dead.wait()  # its attempt is under way and will hang until its timeout
    deliverer.deliver(webhook(healthy.url(), name="healthy"), notification(), time.time() + 30,
                      outcomes.callback("healthy"))
    assert outcomes.wait("healthy", timeout=3) == {"healthy": True}
    assert outcomes.done["healthy"][2] - handed_over < 2.5  # well under the dead one's 4 s timeout
    assert "dead" not in outcomes.done and deliverer.pending == 1


def test_one_integration_delivers_in_order(deliverer, outcomes, http_sink):
    hook = webhook(http_sink.url())
    for host in "abcde":
        deliverer.deliver(hook, notification(host), time.time() + 30, outcomes.callback(host))
    outcomes.wait(*"abcde")
    assert [r.json()["alerts"][0]["labels"]["host"] for r in http_sink.requests] == list("abcde")


def test_a_notification_that_waited_past_its_deadline_is_not_sent(deliverer, outcomes, http_sink):
    http_sink.respond(200, delay=1.5)
    hook = webhook(http_sink.url())
    deliverer.deliver(hook, notification("slow"), time.time() + 30, outcomes.callback("slow"))
    http_sink.wait()
    deliverer.deliver(hook, notification("late"), time.time() + 0.2, outcomes.callback("late"))
    assert outcomes.wait("slow", "late") == {"slow": True, "late": False}
    assert len(http_sink.requests) == 1
    late = outcomes.attempts[-1]
    assert (late.attempt, late.ok, late.final) == (0, False, True) and "deadline" in late.error


@dataclass(eq=False, kw_only=True)
class Flaky(Integration):
    """An integration whose first sends raise what no kind should: a bug the delivery layer must survive."""

    kind: ClassVar[str] = "flaky"
    failures: int
    sent: int = 0

    def send(self, notification: Notification) -> None:
        if self.failures:
            self.failures -= 1
            raise KeyError("a bug")
        self.sent += 1


def test_unexpected_errors_and_failing_callbacks_are_survived(caplog):
    def broken_log(attempt: Attempt) -> None:
        raise RuntimeError("the delivery log is down")

    deliverer = Deliverer(broken_log, initial_backoff=0.01)
    results = []

    def broken_done(ok: bool) -> None:
        results.append(ok)
        raise RuntimeError("the dispatcher choked")

    flaky = Flaky(receiver="ops", index=0, send_resolved=True, failures=1)
    try:
        deliverer.deliver(flaky, notification(), time.time() + 30, broken_done)
        wait_until(lambda: results == [True], message="the first delivery")
        deliverer.deliver(flaky, notification(), time.time() + 30, broken_done)
        wait_until(lambda: results == [True, True], message="the worker to go on")
    finally:
        deliverer.stop()
    assert flaky.sent == 2
    assert "flaky[0] failed unexpectedly" in caplog.text and "KeyError" in caplog.text
    assert "recording a delivery attempt failed" in caplog.text and "a delivery callback failed" in caplog.text


def test_stop_finishes_the_attempt_under_way_and_fails_the_queue(outcomes, http_sink):
    deliverer = Deliverer(outcomes.on_attempt)
    http_sink.respond(200, delay=1)
    hook = webhook(http_sink.url())
    deliverer.deliver(hook, notification("a"), time.time() + 30, outcomes.callback("a"))
    http_sink.wait()
    for host in "bc":
        deliverer.deliver(hook, notification(host), time.time() + 30, outcomes.callback(host))
    assert deliverer.pending == 3
    deliverer.stop(timeout=5)
    assert outcomes.wait("a", "b", "c", timeout=1) == {"a": True, "b": False, "c": False}
    assert [(a.attempt, a.ok) for a in outcomes.attempts] == [(1, True)]
    assert len(http_sink.requests) == 1 and deliverer.pending == 0
    deliverer.deliver(hook, notification("d"), time.time() + 30, outcomes.callback("d"))
    assert outcomes.done["d"][0] is False  # at once: nothing runs any more


def test_stop_interrupts_a_backoff(outcomes):
    deliverer = Deliverer(outcomes.on_attempt, initial_backoff=30, max_backoff=30)
    deliverer.deliver(webhook(f"http://127.0.0.1:{free_port()}/"), notification(), time.time() + 300,
                      outcomes.callback("n"))
    wait_until(lambda: outcomes.attempts, message="the first attempt")
    began = time.monotonic()
    deliverer.stop(timeout=5)
    assert time.monotonic() - began < 3
    assert outcomes.wait("n", timeout=1) == {"n": False}
