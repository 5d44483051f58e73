"""The console in a real browser against a real hub fed by `fleetmon simulate`: logging in, the overview, a
host's charts, a group's heatmap, acknowledging and silencing an alert and the notification log that shows
it, a login that fails ten times and is slowed down, and a viewer refused what only operators may do."""

import re
import time

from tests.console.conftest import PASSWORDS, Console, log_in, screenshot, seen
from tests.polling import wait_until

JETSON, SERVER = "sim-jetson-0001", "sim-server-0002"


def test_anonymous_visitors_are_sent_to_the_login(page, console: Console):
    page.goto(console.url)
    page.wait_for_selector("#login-form")
    assert "#/login" in page.url
    screenshot(page, "login")


def test_the_overview_lists_every_host_and_links_to_its_page(page, console: Console):
    log_in(page, console, "vic")
    page.goto(console.url + "#/")
    rows = page.locator("main tbody tr th.host")
    wait_until(lambda: rows.count() >= 6, timeout=15, message="a row per simulated host")
    names = {text.strip() for text in rows.all_inner_texts()}
    assert {JETSON, SERVER} <= names
    page.click(f"main a[href='#/host/{SERVER}']")
    page.wait_for_selector(f".host-page h1:has-text('{SERVER}')")


def test_the_overview_takes_panel_values_from_the_server_push(page, console: Console):
    log_in(page, console, "vic")
    page.goto(console.url + "#/")
    page.wait_for_selector("body[data-ready='overview']")
    reads = []
    page.on("request", lambda r: "api/v1/dashboard" in r.url and reads.append(r.url))
    cpu = page.locator(f"tr[data-host='{SERVER}'] td.panel").first
    shown = {"text": cpu.inner_text(), "changes": 0}

    def pushed() -> bool:
        """More new CPU figures than reads of the dashboard (the page reads it again when its trends take a new
        minute, at most once here): some came with the feed's panels."""
        text = cpu.inner_text()
        if text != shown["text"]:
            shown["text"], shown["changes"] = text, shown["changes"] + 1
        return shown["changes"] > len(reads)

    # A simulated host samples every second, the feed sends panel values every 5 s.
    wait_until(pushed, timeout=20, message="a CPU figure from the server push")


def test_a_host_page_draws_its_metrics_as_synchronised_charts_with_values_on_hover(page, console: Console):
    log_in(page, console, "vic")
    page.goto(console.url + "#/")
    screenshot(page, "overview")
    answers = []
    page.on("response", lambda r: "api/v1/query_range" in r.url and answers.append(r))
    page.goto(console.url + f"#/host/{JETSON}")
    charts = page.locator(".chart[data-metric]")
    wait_until(lambda: charts.count() >= 8, timeout=15, message="the host page's charts")
    metrics = set(charts.evaluate_all("els => els.map(e => e.dataset.metric)"))
    # system and Jetson sections alike: what the simulated Jetson sends
    assert {"fleetmon_cpu_usage_ratio", "fleetmon_memory_usage_ratio", "fleetmon_jetson_gpu_load_ratio"} <= metrics
    wait_until(seen(page, lambda: answers and all(r.status == 200 for r in answers)), timeout=10, message="chart data")
    points = sum(len(s["points"]) for r in answers for s in r.json()["series"])
    assert points > 0, "the charts' data has samples"
    cpu = page.locator(".chart[data-metric='fleetmon_cpu_usage_ratio']")
    cpu.locator("canvas").first.wait_for()
    box = cpu.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    # hover: the legend shows the value under the cursor, and the cursor is synchronised across charts
    wait_until(lambda: re.search(r"\d+%", cpu.locator(".u-legend").inner_text()), timeout=5,
               message="a CPU value in the legend under the cursor")
    memory = page.locator(".chart[data-metric='fleetmon_memory_usage_ratio'] .u-legend")
    assert re.search(r"\d+%", memory.inner_text()), "the memory chart follows the CPU chart's cursor"
    for text in ("Facts", "Health checks", "Events"):
        assert page.locator(f".host-page h2:has-text('{text}')").count() == 1, text
    screenshot(page, "host")
    answers.clear()
    page.click("button[data-range='24h']")
    wait_until(seen(page, lambda: answers and all(r.status == 200 for r in answers)), timeout=10,
               message="24 h of data")
    assert all(r.json()["tier"] in ("raw", "1m") for r in answers)
    # the day of history the console's hub was given before it started, not only what arrived live
    earliest = min(s["points"][0][0] for r in answers for s in r.json()["series"] if s["points"])
    assert earliest < time.time() - 20 * 3600, earliest


def test_a_host_page_takes_new_samples_from_the_server_push(page, console: Console):
    log_in(page, console, "vic")
    refetches = []
    page.goto(console.url + f"#/host/{SERVER}")
    page.locator(".chart[data-metric='fleetmon_cpu_usage_ratio'] canvas").first.wait_for()
    page.on("request", lambda r: ("api/v1/query_range" in r.url or "api/v1/hosts" in r.url) and refetches.append(r))
    first = page.locator(".host-page [data-last-sample]").get_attribute("data-last-sample")
    # The simulated host sends a sample a second: the page shows newer ones without asking for them again.
    wait_until(lambda: page.locator(".host-page [data-last-sample]").get_attribute("data-last-sample") != first,
               timeout=10, message="a newer sample on the page")
    assert not refetches, [r.url for r in refetches]


def test_a_group_page_shows_its_hosts_side_by_side(page, console: Console):
    log_in(page, console, "vic")
    page.goto(console.url + "#/group/lab")
    page.wait_for_selector(".heatmap canvas")
    hosts = set(page.locator(".heatmap [data-host]").evaluate_all("els => els.map(e => e.dataset.host)"))
    assert {JETSON, SERVER} <= hosts, hosts
    # each host's name stands beside its own row of the map (hovering or clicking a row means that host)
    offsets = page.evaluate("""() => {
        const canvas = document.querySelector('.heatmap canvas').getBoundingClientRect();
        const names = [...document.querySelectorAll('.heatmap [data-host]')];
        return names.map((a) => (a.getBoundingClientRect().top - canvas.top) / (canvas.height / names.length));
    }""")
    assert [round(offset, 2) for offset in offsets] == list(range(len(offsets))), offsets
    screenshot(page, "group")


def test_an_operator_acknowledges_and_silences_an_alert_and_the_notification_log_shows_it(page, console: Console):
    console.fire("ConsoleDiskFull", SERVER)
    console.sink.wait(count=1, path="/hook")
    log_in(page, console, "olga")
    page.goto(console.url + "#/alerts")
    alert = page.locator(".alert", has_text="ConsoleDiskFull")
    alert.wait_for()

    alert.locator(".ack-button").click()
    dialog = page.locator("#ack-dialog")
    dialog.locator("textarea, input[name=comment]").first.fill("looking at it")
    dialog.locator("[type=submit]").click()
    wait_until(lambda: "olga" in page.locator(".alert", has_text="ConsoleDiskFull").inner_text(), timeout=10,
               message="the alert acknowledged by olga")
    acks = console.api("api/v1/acks")["acks"]
    assert any(a["by"] == "olga" and a["comment"] == "looking at it" for a in acks), acks

    page.locator(".alert", has_text="ConsoleDiskFull").locator(".silence-button").click()
    dialog = page.locator("#silence-dialog")
    wait_until(lambda: "ConsoleDiskFull" in page.locator("#silence-preview").inner_text(), timeout=10,
               message="the preview lists the alert the silence would mute")
    dialog.locator("textarea, input[name=comment]").first.fill("disk being replaced")
    screenshot(page, "silence")
    dialog.locator("[type=submit]").click()
    wait_until(lambda: any(s["createdBy"] == "olga" and s["comment"] == "disk being replaced"
                           for s in console.api("api/v1/silences")["silences"]), timeout=10,
               message="the silence stored with its author")
    wait_until(lambda: re.search(r"silenced", page.locator(".alert", has_text="ConsoleDiskFull").inner_text(), re.I),
               timeout=10, message="the alert shown as silenced")
    screenshot(page, "alerts")

    page.goto(console.url + "#/notifications")
    log = page.locator("#notification-log tbody tr")
    wait_until(lambda: log.filter(has_text="hook").count() >= 1, timeout=10, message="the delivery to the hook")
    before = log.count()
    console.fire("ConsoleFanStopped", JETSON)  # a new notification while the page is open: it appears by itself
    wait_until(lambda: log.count() > before, timeout=15, message="a new row in the notification log")
    assert "ConsoleFanStopped" in page.locator("#notification-log").inner_text()
    screenshot(page, "notifications")


def test_ten_failed_logins_are_slowed_down(page, console: Console):
    for attempt in range(10):
        log_in(page, console, "mallory", password=f"wrong-{attempt}")
        page.wait_for_selector("#login-error:not(:empty)")
    assert re.search(r"(try again|wait).*\d", page.locator("#login-error").inner_text(), re.I), \
        page.locator("#login-error").inner_text()
    # While the back-off lasts even the right password is turned away, unread.
    answer = page.evaluate("""async (password) => {
        const r = await fetch('api/v1/auth/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                   body: JSON.stringify({user: 'mallory', password})});
        return {status: r.status, retry: r.headers.get('Retry-After')};
    }""", PASSWORDS["mallory"])
    assert answer["status"] == 429 and int(answer["retry"]) >= 1, answer
    audit = console.api("api/v1/audit?limit=100")["entries"]
    assert sum(1 for e in audit if e["action"] == "login" and not e["ok"] and e["user"] == "mallory") >= 5
    # Someone else behind the same address (an office, a proxy) is not locked out by the guessing.
    log_in(page, console, "vic")


def test_a_viewer_sees_no_actions_and_is_refused_them(page, console: Console):
    console.fire("ConsoleViewerCheck", SERVER)
    log_in(page, console, "vic")
    page.goto(console.url + "#/alerts")
    page.locator(".alert", has_text="ConsoleViewerCheck").wait_for()
    assert page.locator(".ack-button, .silence-button").count() == 0
    assert page.locator("nav.console-nav a[href='#/audit']").count() == 0, "the audit log is for admins"
    answer = page.evaluate("""async () => {
        const me = await (await fetch('api/v1/auth/me')).json();
        const r = await fetch('api/v1/silences', {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-CSRF-Token': me.csrf}, body: JSON.stringify({matchers: [{name: 'alertname', value: 'x',
            isRegex: false, isEqual: true}], endsAt: new Date(Date.now() + 3600e3).toISOString()})});
        return {status: r.status, body: await r.json()};
    }""")
    assert answer["status"] == 403 and "operator" in answer["body"]["error"], answer


def test_an_admin_reads_the_alert_statistics_and_the_audit_log(page, console: Console):
    console.fire("ConsoleFlapping", SERVER)
    wait_until(lambda: [a for a in console.api("api/v1/alerts")["alerts"]
                        if a["labels"]["alertname"] == "ConsoleFlapping"], timeout=10, message="the alert firing")
    firing = next(a for a in console.api("api/v1/alerts")["alerts"] if a["labels"]["alertname"] == "ConsoleFlapping")
    console.api("api/v1/acks", {"target": firing["fingerprint"], "by": "ada", "comment": "seen"})
    log_in(page, console, "ada")
    page.goto(console.url + "#/alerts/history")
    page.wait_for_selector("body[data-ready='alerts/history']")
    wait_until(lambda: "ConsoleFlapping" in page.locator("main").inner_text(), timeout=10,
               message="the alert among the noisiest and in the transitions")
    screenshot(page, "history")

    page.goto(console.url + "#/audit")
    page.wait_for_selector("body[data-ready='audit']")
    rows = page.locator("#audit-log tbody tr")
    wait_until(lambda: rows.filter(has_text="ada").filter(has_text="login").count() >= 1, timeout=10,
               message="ada's own login in the audit log")
    assert rows.filter(has_text="ack").count() >= 1, "the acknowledgement made with the API token"
    screenshot(page, "audit")
