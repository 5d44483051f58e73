"""A journey's steps on the host page, in a real browser against the console's hub (tests/console/conftest.py). The
simulated hosts run no journey, so a probe host of the test's own reaches the hub the real way: its birth declaring
the journey, then a `checks` message built by the agent's own encoder (fleetmon.protocol.check_results), on the
broker the hub listens to (the hub shows only the results of checks a host declares). The host API hands the steps
to the browser as the host sent them; the page shows them under the journey's strip, the failed step marked, the
skipped one muted, every message as the text it is. How a step's seconds read in milliseconds is a table test run by
node on the shipped module."""

import itertools
import time
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.protocol import messages
from fleetmon.protocol.check_results import (
    STEP_FAILED,
    STEP_OK,
    STEP_SKIPPED,
    CheckResult,
    StepResult,
    StepTimings,
    result_to_json,
)
from fleetmon.protocol.topics import host_topics
from tests.console.conftest import Console, log_in
from tests.hub.test_console_modules import NO_VALUE, NODE, call
from tests.polling import wait_until

HOST = "probe-berlin-01"  # no simulated host: nothing else publishes for it
CHECK = "shop-journey"
SESSION = 1
_SEQ = itertools.count(1)
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (`make console` installs it)")

FAILURE = "POST http://shop.test/login: 503 <b>Service Unavailable</b>"  # markup from a host, to be shown as text
STEPS = (
    StepResult(1, "home", STEP_OK, "GET https://shop.test/: 200", StepTimings(0.0021, 0.0043, 0.0187, 0.0452, 0.0512),
               http_status=200),
    # Over plain http: no TLS phase.
    StepResult(2, "login", STEP_FAILED, FAILURE, StepTimings(0.0004, 0.0031, None, 0.2304, 0.2311), http_status=503),
    StepResult(3, "checkout", STEP_SKIPPED, "not run: step 2 failed"),
)


def publish_journey(console: Console) -> dict[str, Any]:
    """One journey result on HOST's checks topic, confirmed by the broker the console's hub reads; answers the
    result as the agent's encoder wrote it."""
    now = time.time()
    result = result_to_json(CheckResult(CHECK, "journey", False, f"step 2 (login) failed: {FAILURE}", now - 0.3, 0.28,
                                        0.28, STEPS), consecutive_failures=1)
    broker = urlsplit(yaml.safe_load(console.hub.config_path.read_text())["broker"]["url"])
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(broker.hostname, broker.port)
    client.loop_start()
    try:
        birth = messages.status(HOST, SESSION, next(_SEQ), now, "online", agent_version="0.1.0", started_at=now,
                                interval_s=10, groups=["probes"], checks=[{"name": CHECK, "type": "journey"}])
        client.publish(host_topics(HOST).status, messages.encode(birth), qos=1).wait_for_publish(5)
        payload = messages.checks(HOST, SESSION, next(_SEQ), now, [result])
        client.publish(host_topics(HOST).checks, messages.encode(payload), qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
    return result


def test_the_host_page_shows_a_journeys_steps_with_the_failed_one_marked(page, console: Console):
    published = publish_journey(console)
    # What the host page reads for the latest results: the steps come through the host API as the host sent them.
    latest = wait_until(lambda: (console.api(f"api/v1/hosts/{HOST}")["checks"].get(CHECK) or {}).get("steps"),
                        timeout=15, message=f"the {CHECK} result in the host's checks")
    assert latest == published["steps"]

    log_in(page, console, "vic")
    page.goto(console.url + f"#/host/{HOST}")
    table = page.locator(f".checks table.journey-steps[aria-label='steps of {CHECK}']")
    table.wait_for()
    assert page.locator(".checks table.journey-steps").count() == 1, "the host's other checks are no journeys"
    rows = table.locator("tbody tr").evaluate_all("""rows => rows.map((row) => ({
        step: row.dataset.step, kind: row.className,
        cells: [...row.cells].map((cell) => cell.innerText.trim()),
        color: getComputedStyle(row.querySelector('.step-status')).color}))""")
    assert [row["cells"][:3] for row in rows] == [["1", "home", "passed"], ["2", "login", "failed"],
                                                  ["3", "checkout", "skipped"]]
    assert [row["kind"] for row in rows] == ["step-ok", "step-fail", "step-skipped"]
    assert rows[1]["cells"][3] == FAILURE, "the failed step's message, as the text it is"
    assert table.locator("b").count() == 0, "no markup from the host"
    # DNS, connect, TLS, first byte, total, in milliseconds; a phase that did not happen is a dash.
    assert [row["cells"][4:] for row in rows] == [["2.1", "4.3", "19", "45", "51"],
                                                  ["0.4", "3.1", NO_VALUE, "230", "231"],
                                                  [NO_VALUE] * 5]
    assert len({row["color"] for row in rows}) == 3, f"passed, failed and skipped each in a colour of its own: {rows}"
    # Under its own check's row: the journey's name, then the table below it.
    name = page.locator(".check-strips .name", has_text=CHECK)
    assert name.bounding_box()["y"] + name.bounding_box()["height"] <= table.bounding_box()["y"]
    assert "step 2 (login) failed" in page.locator(".check-strips").inner_text()


class Reading(NamedTuple):
    seconds: Any
    reads: str


MILLISECONDS = [
    pytest.param(Reading(0.0512, "51"), id="whole-milliseconds"),
    pytest.param(Reading(0.0021, "2.1"), id="a-decimal-under-ten"),
    pytest.param(Reading(0.0, "0.0"), id="zero-is-a-reading"),  # a phase that took no time did happen
    pytest.param(Reading(12.5, "12500"), id="seconds-stay-in-milliseconds"),  # a column in one unit
    pytest.param(Reading(None, NO_VALUE), id="a-phase-that-did-not-happen"),
    pytest.param(Reading(-0.001, NO_VALUE), id="no-negative-duration"),
    pytest.param(Reading("0.2", NO_VALUE), id="not-a-number"),
]


@needs_node
@pytest.mark.parametrize("reading", MILLISECONDS)
def test_a_steps_seconds_read_in_milliseconds(reading: Reading):
    assert call("pages/host_details.js", [("milliseconds", [reading.seconds])]) == [reading.reads]


@needs_node
def test_a_step_whatever_the_host_wrote_in_it_is_text():
    """A status the protocol does not have (even one named like an object's own property) is shown as it is, never
    looked up among an object's properties; a name is escaped; steps that are no list draw no table."""
    steps = [{"index": 1, "name": "<img src=x onerror=alert(1)>", "status": "constructor", "message": "",
              "timings_s": {"total": "fast"}}]
    latest = {"odd": {"ok": False, "message": "", "steps": steps}, "plain": {"ok": True, "message": "", "steps": "no"}}
    [markup] = call("pages/host_details.js", [("checksMarkup", [{}, latest, 0, 60])])
    assert "<img" not in markup and "&#60;img src=x onerror=alert(1)&#62;" in markup
    assert '<tr class="step-unknown" data-step="1">' in markup and ">constructor</td>" in markup
    assert markup.count("<table") == 1, "only the journey with a list of steps"
