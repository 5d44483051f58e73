"""A real console to drive: a hub with users, fed by `fleetmon simulate` through a real mosquitto, a webhook
sink as its one receiver, and Debian's chromium driven headless by Playwright (no browser download).

One console serves the whole module (a hub with a fleet takes seconds to fill); each test gets a fresh browser
context, so no cookie or session leaks from one test into the next. A page that throws a JavaScript error or
logs one to the console fails its test.
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.console_history import fill_history
from fleetmon.hub.auth.passwords import hash_password
from tests.conftest import AGENT_SRC, Broker
from tests.hub.alerting.conftest import HttpSink
from tests.hub.conftest import HubProcess
from tests.polling import wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "console-test-admin-token-0123456789"
# mallory is the guessing test's own: a user slowed down by failed logins stays so for minutes.
PASSWORDS = {"ada": "ada-admin-pass", "olga": "olga-operator-pass", "vic": "vic-viewer-pass",
             "mallory": "mallory-viewer-pass"}
ROLES = {"ada": "admin", "olga": "operator", "vic": "viewer", "mallory": "viewer"}
SIMULATED_HOSTS = 6
SLO = "lab-up"
#: Where the tests leave their screenshots: `make screenshots` points this at docs/images.
SCREENSHOTS = Path(os.environ.get("FLEETMON_SCREENSHOTS", "")) if os.environ.get("FLEETMON_SCREENSHOTS") else None


@dataclass
class Console:
    hub: HubProcess
    sink: HttpSink

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.hub.port}/"

    def api(self, path: str, body=None, method: str | None = None):
        """The hub's API as the admin token sees it."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path.lstrip("/"), data=data, method=method,
                                         headers={"Authorization": f"Bearer {TOKEN}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def fire(self, alertname: str, host: str, **labels: str) -> None:
        self.api("api/v2/alerts", [{"labels": {"alertname": alertname, "host": host, "severity": "warning",
                                               **labels},
                                    "annotations": {"summary": f"{alertname} on {host}"}}])


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (`make deps` installs the Debian package)")
    workdir = tmp_path_factory.mktemp("console")
    broker = Broker(workdir)
    broker.start()
    sink = HttpSink()
    # A day of the simulated hosts' past, as the live writer would have left it: the charts, the heatmap and
    # the screenshots show a day of history, not the seconds the test has run.
    (workdir / "hub").mkdir()
    fill_history(str(workdir / "hub" / "history.db"), SIMULATED_HOSTS, days=1, interval=10, jetson_share=0.5)
    users = [{"name": name, "role": ROLES[name], "password_hash": hash_password(password)}
             for name, password in PASSWORDS.items()]
    hub = HubProcess(workdir, broker, {
        "api": {"token": TOKEN},
        "auth": {"users": users},
        "expected_hosts": {f"sim-{kind}-{n:04d}": ["lab"] for n, kind in
                           ((n, "jetson" if n % 2 else "server") for n in range(1, SIMULATED_HOSTS + 1))},
        "alerting": {"route": {"receiver": "hook", "group_by": ["alertname"], "group_wait": "0s",
                               "group_interval": "1s", "repeat_interval": "1h"},
                     "receivers": [{"name": "hook", "webhook_configs": [{"url": sink.url()}]}]},
        # For the SLO page (test_operations_pages.py). No burn-rate alerts: the gap between the filled history
        # and the first live samples is bad time, and an SLOBudgetBurn alert would change what the alert tests see.
        "slos": [{"name": SLO, "description": "every lab host answers", "scope": {"groups": ["lab"]},
                  "good": {"host_up": True}, "target": 99.5, "period": "daily", "burn_alerts": False}],
    }).start()
    simulate = subprocess.Popen(
        [sys.executable, "-m", "fleetmon", "simulate", "--hosts", str(SIMULATED_HOSTS), "--interval", "1",
         "--jetson-share", "0.5", "--groups", "lab", "--broker", broker.url],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)))
    try:
        wait_until(lambda: len([h for h in (hub.get("/api/v1/hosts") or {}).get("hosts", [])
                                if h["state"] == "online" and h["last_sample_at"]]) == SIMULATED_HOSTS,
                   timeout=40, message="every simulated host online with a sample")
        yield Console(hub, sink)
    finally:
        simulate.terminate()
        simulate.wait(timeout=20)
        hub.stop()
        print(f"--- hub log ---\n{hub.log[-20000:]}")
        sink.close()
        broker.stop()


# Per module, not per session: Playwright's sync API runs an event loop in this thread while it is open, and
# every later test that calls asyncio.run() would fail with "cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (`make deps` installs the Debian package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser, console):
    """A fresh browser context on the console; the test fails on any JavaScript error the page raised."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    tab.on("console", lambda message: message.type == "error" and errors.append(f"console: {message.text}"))
    yield tab
    context.close()
    # A refused request (a 403 the test provoked, a 401 before the login) is logged by the browser as a
    # failed resource load; what is left must be the page's own errors.
    own = [e for e in errors if "Failed to load resource" not in e]
    assert not own, own


def log_in(page, console: Console, user: str, password: str | None = None) -> None:
    page.goto(console.url + "#/login")
    page.fill("#login-user", user)
    page.fill("#login-password", PASSWORDS[user] if password is None else password)
    page.click("#login-form [type=submit]")
    if password is None:
        page.wait_for_selector(f"#whoami:has-text('{user}')")


def seen(page, predicate):
    """``predicate`` for wait_until over what Playwright's event handlers collect (responses, requests): its sync
    API hands them events only while the test calls into it, so each poll makes a round trip to the page first."""
    def poll():
        page.evaluate("0")
        return predicate()
    return poll


def screenshot(page, name: str) -> None:
    """Into docs/images with `make screenshots`; otherwise nowhere (the test already checked the page)."""
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=False)
