"""The Logs page in a real browser against the console's hub (tests/console/conftest.py). Its hub has no agent that
ships logs, so the lines reach its log store the real way: `logs` messages, as an agent publishes them, on the broker
the hub listens to, for one of the simulated hosts. The page lists them newest first and filters them by unit and by
a word, shows a line published after it opened without reading the search again (the live tail), shows the hub's own
words for a query it refuses, and opens for a viewer. The page's pure decisions (which filters an address asks for,
which rows the tail keeps) are table tests run by node on the shipped module."""

import itertools
import json
import time
import urllib.error
import uuid
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.protocol import messages
from fleetmon.protocol.topics import host_topics
from tests.console.conftest import Console, log_in, screenshot
from tests.hub.test_console_modules import NODE, call
from tests.polling import wait_until

HOST = "sim-server-0002"
SESSION = 424242  # not the simulated agent's: the log store keeps lines by cursor, whatever the session
_SEQ = itertools.count(1)
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (`make console` installs it)")


def marker() -> str:
    """A word no other line holds (letters and digits only: the full-text index splits on anything else)."""
    return "m" + uuid.uuid4().hex[:12]


def line(message: str, unit: str = "nginx.service", identifier: str = "nginx", priority: int = 6,
         ts: float | None = None) -> dict[str, Any]:
    return {"ts": time.time() if ts is None else ts, "cursor": f"s={uuid.uuid4().hex};i=1", "priority": priority,
            "unit": unit, "identifier": identifier, "pid": 812, "transport": "stdout", "message": message}


def publish_logs(console: Console, entries: list[dict[str, Any]]) -> None:
    """One batch on HOST's logs topic, confirmed by the broker the console's hub reads."""
    broker = urlsplit(yaml.safe_load(console.hub.config_path.read_text())["broker"]["url"])
    payload = messages.logs(HOST, SESSION, next(_SEQ), time.time(), entries)
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(broker.hostname, broker.port)
    client.loop_start()
    try:
        client.publish(host_topics(HOST).logs, messages.encode(payload), qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def stored(console: Console, word: str, count: int) -> list[dict]:
    """Waits until the hub's search finds ``count`` lines with ``word``; answers them, newest first."""
    return wait_until(lambda: (lambda lines: len(lines) == count and lines)(
        console.api(f"api/v1/logs?q={word}")["lines"]), timeout=15, message=f"{count} lines with {word} stored")


def shown(page) -> list[str]:
    return page.locator("#log-lines tbody .log-message").all_inner_texts()


def test_the_page_lists_lines_newest_first_and_filters_them_by_unit_and_by_a_word(page, console: Console):
    word = marker()
    now = time.time()
    publish_logs(console, [line(f"{word} upstream timed out (110: timeout) <b>not bold</b>", ts=now - 3),
                           line(f"{word} Accepted publickey for ops", unit="ssh.service", identifier="sshd",
                                priority=5, ts=now - 2),
                           line(f"{word} worker process exited on signal 9", priority=3, ts=now - 1)])
    ids = [entry["id"] for entry in stored(console, word, 3)]
    log_in(page, console, "olga")
    page.goto(console.url + f"#/logs?q={word}")
    page.wait_for_selector("body[data-ready='logs']")
    assert shown(page) == [f"{word} worker process exited on signal 9", f"{word} Accepted publickey for ops",
                           f"{word} upstream timed out (110: timeout) <b>not bold</b>"], \
        "newest first, and a message shown as the text it is"
    rows = page.locator("#log-lines tbody tr")
    assert [int(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.line)")] == ids
    newest = rows.first
    assert newest.locator("a").get_attribute("href") == f"#/host/{HOST}"
    assert newest.locator(".log-priority").inner_text() == "err"
    assert "nginx.service" in newest.locator(".log-unit").inner_text()
    assert "nginx[812]" in newest.locator(".log-unit").inner_text()
    assert page.locator("#logs-q").input_value() == word, "the address's filter is in the form"

    page.fill("#logs-unit", "nginx.service")
    page.press("#logs-unit", "Enter")
    wait_until(lambda: len(shown(page)) == 2, timeout=10, message="the unit filter leaving ssh.service out")
    assert all("Accepted publickey" not in text for text in shown(page))
    assert "unit=nginx.service" in page.evaluate("location.hash"), "the filters are kept in the address"

    page.fill("#logs-unit", "")
    page.fill("#logs-q", f"{word} timeout")
    page.press("#logs-q", "Enter")
    wait_until(lambda: shown(page) == [f"{word} upstream timed out (110: timeout) <b>not bold</b>"], timeout=10,
               message="the one line with both words")
    screenshot(page, "logs")


def test_a_line_published_after_the_page_opened_appears_without_a_reload(page, console: Console):
    word = marker()
    publish_logs(console, [line(f"{word} first")])
    stored(console, word, 1)
    searches: list[str] = []
    page.on("request", lambda request: "api/v1/logs?" in request.url and searches.append(request.url))
    log_in(page, console, "olga")
    page.goto(console.url + f"#/logs?q={word}")
    page.wait_for_selector("body[data-ready='logs']")
    assert shown(page) == [f"{word} first"]
    assert page.locator("#logs-live").is_checked(), "the tail is on by default"

    publish_logs(console, [line(f"{word} second", priority=4)])
    wait_until(lambda: shown(page) == [f"{word} second", f"{word} first"], timeout=15,
               message="the new line on top")
    assert page.locator("#log-lines tbody tr").first.locator(".log-priority").inner_text() == "warning"
    assert "· live" in page.locator(".logs-status").inner_text()

    page.uncheck("#logs-live")
    assert "live off" in page.locator(".logs-status").inner_text()
    publish_logs(console, [line(f"{word} third")])
    stored(console, word, 3)
    page.check("#logs-live")  # the tail opens again after the last line it brought
    wait_until(lambda: shown(page) == [f"{word} third", f"{word} second", f"{word} first"], timeout=15,
               message="the line published while the tail was off")
    assert len(searches) == 1, f"one search; every later line came on the tail: {searches}"


def test_a_query_the_hub_refuses_shows_the_hubs_own_words(page, console: Console):
    bad = "(oom OR"
    with pytest.raises(urllib.error.HTTPError) as refused:
        console.api(f"api/v1/logs?q={quote(bad)}")
    assert refused.value.code == 400
    words = json.loads(refused.value.read())["error"]
    log_in(page, console, "olga")
    page.goto(console.url + "#/logs")
    page.wait_for_selector("body[data-ready='logs']")
    page.fill("#logs-q", bad)
    page.press("#logs-q", "Enter")
    problem = page.locator(".logs-problem")
    problem.wait_for()
    assert problem.inner_text() == f"The search failed: {words}"
    assert page.locator("#log-lines tbody tr").count() == 0
    assert "not a valid full-text query" in words

    page.fill("#logs-q", "")
    page.press("#logs-q", "Enter")
    problem.wait_for(state="hidden")


def test_a_viewer_finds_the_page_in_the_navigation_and_reads_lines(page, console: Console):
    word = marker()
    publish_logs(console, [line(f"{word} a line for viewers", unit="", identifier="kernel", priority=2)])
    stored(console, word, 1)
    log_in(page, console, "vic")
    page.click("nav.console-nav a:text-is('Logs')")
    page.wait_for_selector("body[data-ready='logs']")
    page.fill("#logs-q", word)
    page.press("#logs-q", "Enter")
    wait_until(lambda: shown(page) == [f"{word} a line for viewers"], timeout=10, message="the viewer's line")
    row = page.locator("#log-lines tbody tr").first
    assert row.locator(".log-priority").inner_text() == "crit"
    assert row.locator(".log-unit .muted").inner_text() == "kernel", "a line without a unit is the kernel's"
    assert page.locator("main button:visible").all_inner_texts() == ["Search"], "a viewer only reads"


class Address(NamedTuple):
    entries: list[list[str]]
    filters: dict[str, str]


ADDRESSES = [
    # A fresh page: every host over the default range.
    pytest.param(Address([], {"since": "1h"}), id="nothing-given"),
    pytest.param(Address([["host", "jetson-01"], ["unit", "nginx.service"], ["priority", "err"], ["q", "timeout"],
                          ["since", "6h"]],
                         {"host": "jetson-01", "unit": "nginx.service", "priority": "err", "q": "timeout",
                          "since": "6h"}), id="every-filter"),
    # Empty boxes ask for nothing (an empty unit= would be the kernel's lines to the hub).
    pytest.param(Address([["host", " "], ["unit", ""], ["q", "  oom "]], {"q": "oom", "since": "1h"}),
                 id="blank-boxes-left-out"),
    # Only the form's choices: a hand-edited address cannot ask for what the form cannot show.
    pytest.param(Address([["priority", "loud"], ["since", "3h"]], {"since": "1h"}), id="unknown-choices-left-out"),
    pytest.param(Address([["group", "lab"], ["live", "on"]], {"group": "lab", "since": "1h"}), id="not-a-filter"),
]


@needs_node
@pytest.mark.parametrize("case", ADDRESSES)
def test_the_address_becomes_the_searchs_filters(case: Address):
    assert call("pages/logs.js", [("filtersFrom", [case.entries])]) == [case.filters]


class Arrival(NamedTuple):
    shown: list[int]  # ids on the page, newest first
    arriving: list[int]  # ids as the tail sends them, oldest first
    cap: int
    kept: list[int]


ARRIVALS = [
    pytest.param(Arrival([5, 3], [7, 9], 10, [9, 7, 5, 3]), id="newest-on-top"),
    # A reconnect may send again what a search already showed: shown once.
    pytest.param(Arrival([5, 3], [4, 5, 6], 10, [6, 5, 3]), id="shown-once"),
    pytest.param(Arrival([5, 3, 2], [6, 7], 3, [7, 6, 5]), id="oldest-dropped-at-the-cap"),
    pytest.param(Arrival([], [1, 2, 3, 4], 2, [4, 3]), id="more-than-the-cap-arriving"),
]


@needs_node
@pytest.mark.parametrize("case", ARRIVALS)
def test_the_tail_keeps_the_newest_rows_once_each(case: Arrival):
    as_lines = [{"id": i} for i in case.shown], [{"id": i} for i in case.arriving]
    [kept] = call("pages/logs.js", [("withArrivals", [*as_lines, case.cap])])
    assert [entry["id"] for entry in kept] == case.kept
