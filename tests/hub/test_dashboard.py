"""The hub's dashboard: its layout in the hub config, the layout the hub derives without one, the panel values,
GET /api/v1/dashboard from a real hub, and the page itself rendered by a real browser (headless Chromium)
against a real hub, broker, agents and simulated Jetsons and servers."""

import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest

from fleetmon.config_reader import ConfigError
from fleetmon.hub.config import parse_config
from fleetmon.hub.ingest import Message
from fleetmon.hub.layout import JETSON_PANELS, PANELS, SERVER_PANELS, DashboardConfig, DashboardSection, resolve
from fleetmon.hub.state import FleetState
from tests.conftest import AGENT_SRC
from tests.polling import wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_VALUE = "\u2013"  # the en dash the page shows for a panel without a value


def config_errors(dashboard) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({"dashboard": dashboard})
    return caught.value.errors


def birth(host: str, groups: list[str], facts: dict | None = None, thresholds: list | None = None,
          now: float = 1000.0) -> Message:
    body = {"state": "online", "agent": {"version": "1.0"}, "facts": facts or {}, "groups": groups, "labels": {},
            "thresholds": thresholds or [], "checks": [], "interval_s": 10}
    return Message("status", host, 1, 1, now, body, now)


def sample(host: str, seq: int, ts: float, metrics: dict) -> Message:
    return Message("metrics", host, 1, seq, ts, {"interval_s": 10, "metrics": metrics}, ts)


# --- the layout in the config ---------------------------------------------------------------------------


def test_a_layout_reads_with_its_defaults():
    config = parse_config({"dashboard": {"title": "Berlin lab", "sections": [
        {"group": "jetsons", "title": "Jetsons", "panels": ["cpu", "gpu", "power", "emc"]},
        {"group": "servers"}]}})
    assert config.dashboard == DashboardConfig("Berlin lab", (
        DashboardSection("jetsons", "Jetsons", ("cpu", "gpu", "power", "emc")), DashboardSection("servers")))
    assert parse_config({}).dashboard == DashboardConfig()


def test_layout_errors_name_their_key_path():
    errors = config_errors({"title": ["x"], "colour": "blue", "sections": [
        {"group": "jetsons", "panels": ["cpu", "gpu", "cpu", "fan", None]},
        {"group": "jetsons", "panels": []},
        {"title": "no group", "rows": 3},
        "servers"]})
    assert errors == [
        "dashboard.colour: unknown key (expected one of: sections, title)",
        "dashboard.sections[0].panels[2]: panel 'cpu' is named twice",
        f"dashboard.sections[0].panels[3]: must be one of: {', '.join(PANELS)} (got 'fan')",
        "dashboard.sections[0].panels[4]: must be a panel name",
        "dashboard.sections[1].group: group 'jetsons' already has a section",
        "dashboard.sections[1].panels: must name at least one panel (or leave it out for the group's default panels)",
        "dashboard.sections[2].rows: unknown key (expected one of: group, panels, title)",
        "dashboard.sections[2].group: must name an inventory group",
        "dashboard.sections[3]: must be a mapping with the section's group",
        "dashboard.title: must be a string",
    ]
    assert config_errors({"sections": {"group": "servers"}}) == ["dashboard.sections: must be a list"]
    assert config_errors(["servers"]) == ["dashboard: must be a mapping"]


# --- the layout in force ---------------------------------------------------------------------------------


def test_without_a_layout_each_group_gets_a_section_and_jetsons_get_jetson_panels():
    state = FleetState({"orin-09": ["jetson-orin"], "srv-02": ["servers", "berlin"]})  # both never seen
    state.apply(birth("nano-01", ["edge", "berlin"], facts={"jetson": {"model": "Jetson Orin Nano"}}))
    state.apply(birth("srv-01", ["servers", "berlin"]))
    state.apply(birth("lone", []))
    layout = resolve(DashboardConfig(), state.hosts.values())
    sections = {s["group"]: s for s in layout["sections"]}
    assert list(sections) == ["berlin", "edge", "jetson-orin", "servers", "ungrouped"]  # hosts without a group last
    assert layout["title"] == "fleetmon" and layout["source"] == "default"
    # A Jetson by its birth facts, or by its inventory group's name while it has not been seen.
    assert sections["edge"]["panels"] == list(JETSON_PANELS)
    assert sections["jetson-orin"]["panels"] == list(JETSON_PANELS)
    assert sections["servers"]["panels"] == list(SERVER_PANELS) == sections["ungrouped"]["panels"]
    # A mixed group shows both kinds of panels; a server's Jetson cells stay empty.
    assert set(sections["berlin"]["panels"]) == set(JETSON_PANELS) | set(SERVER_PANELS)
    assert [h["host"] for h in sections["berlin"]["hosts"]] == ["nano-01", "srv-01", "srv-02"]
    assert [h["host"] for h in sections["servers"]["hosts"]] == ["srv-01", "srv-02"]
    assert set(layout["panels"]) == set(JETSON_PANELS) | set(SERVER_PANELS)
    assert layout["panels"]["cpu"] == {"title": "CPU", "unit": "ratio", "max": 1.0}


def test_a_configured_layout_keeps_its_order_titles_and_panels_and_may_show_an_empty_group():
    state = FleetState()
    state.apply(birth("srv-01", ["servers"]))
    config = DashboardConfig("Lab", (DashboardSection("servers", "Servers", ("memory", "cpu")),
                                     DashboardSection("jetsons", "Jetsons")))
    layout = resolve(config, state.hosts.values())
    assert layout["source"] == "config" and layout["title"] == "Lab"
    assert [(s["title"], s["panels"], [h["host"] for h in s["hosts"]]) for s in layout["sections"]] == [
        ("Servers", ["memory", "cpu"], ["srv-01"]), ("Jetsons", list(JETSON_PANELS), [])]


def test_panels_show_the_worst_series_counter_rates_and_the_hosts_own_levels():
    state = FleetState()
    thresholds = [{"metric": "fleetmon_cpu_usage_ratio", "direction": "above", "warning": 0.8, "critical": 0.95},
                  {"metric": "fleetmon_filesystem_usage_ratio", "direction": "above", "warning": 0.85},
                  {"metric": "fleetmon_filesystem_usage_ratio", "direction": "above", "warning": 0.7},
                  {"metric": "fleetmon_memory_usage_ratio", "direction": "below", "warning": 0.1}]
    state.apply(birth("jet-01", ["jetsons"], facts={"jetson": {}}, thresholds=thresholds))
    net = "fleetmon_network_receive_bytes_total", "fleetmon_network_transmit_bytes_total"
    state.apply(sample("jet-01", 1, 1000.0, {net[0]: [[{"interface": "eth0"}, 1000]],
                                             net[1]: [[{"interface": "eth0"}, 500]]}))
    config = DashboardConfig(sections=(DashboardSection("jetsons", panels=("cpu", "memory", "disk", "network",
                                                                          "temperature", "power", "gpu")),))
    row = resolve(config, state.hosts.values())["sections"][0]["hosts"][0]
    assert "network" not in row["values"], "a rate needs two samples"
    state.apply(sample("jet-01", 2, 1010.0, {
        "fleetmon_cpu_usage_ratio": 0.5, "fleetmon_memory_usage_ratio": 0.3,
        "fleetmon_filesystem_usage_ratio": [[{"mount": "/"}, 0.4], [{"mount": "/data"}, 0.9]],
        "fleetmon_jetson_temperature_celsius": [[{"zone": "cpu"}, 48.5], [{"zone": "tj"}, 61.0]],
        "fleetmon_temperature_celsius": [[{"zone": "nvme"}, 40.0]],
        "fleetmon_jetson_power_total_watts": 7.5, "fleetmon_jetson_gpu_load_ratio": 0.0,
        net[0]: [[{"interface": "eth0"}, 21000], [{"interface": "wlan0"}, 100]],
        net[1]: [[{"interface": "eth0"}, 5500]]}))
    row = resolve(config, state.hosts.values())["sections"][0]["hosts"][0]
    assert row["values"] == {"cpu": 0.5, "memory": 0.3, "disk": 0.9, "network": 2510.0, "temperature": 61.0,
                             "power": 7.5, "gpu": 0.0}
    # The lowest level of the host's upper-bound rules on the panel's metric; lower-bound rules and rates none.
    assert row["levels"] == {"cpu": {"warning": 0.8, "critical": 0.95}, "disk": {"warning": 0.7}}
    state.apply(sample("jet-01", 3, 1020.0, {net[0]: [[{"interface": "eth0"}, 10]]}))  # the host rebooted
    row = resolve(config, state.hosts.values())["sections"][0]["hosts"][0]
    assert row["values"] == {}, "a counter that went down was reset: no rate, and no stale values"


# --- the real hub ------------------------------------------------------------------------------------------


@pytest.fixture
def simulated(broker):
    """`fleetmon simulate`: servers and Jetsons (Jetson facts, tegrastats-shaped metrics) through the real protocol,
    one sample a second, in groups jetsons|servers and lab."""
    processes = []

    def start(hosts: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(AGENT_SRC))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "fleetmon", "simulate", "--hosts", str(hosts), "--interval", "1",
             "--duration", "120", "--jetson-share", "0.5", "--groups", "lab", "--broker", broker.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env))

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


def section_rows(layout: dict, title: str) -> dict[str, dict]:
    """host -> its row in the section (none while the section is not there)."""
    return {row["host"]: row for section in layout["sections"] if section["title"] == title
            for row in section["hosts"]}


def test_the_dashboard_endpoint_derives_the_layout_from_the_hosts_it_knows(start_hub, start_agent, simulated):
    hub = start_hub({"expected_hosts": {"nano-09": ["jetsons"]}})
    simulated(4)  # sim-jetson-0001 and -0003, sim-server-0002 and -0004
    start_agent({"host_id": "srv-real", "groups": ["servers"], "thresholds": {"cpu": {"warning": "85%"}}})

    def seen_twice(layout) -> bool:  # every host's second sample: the network rate needs two
        rows = {**section_rows(layout, "lab"), **section_rows(layout, "servers")}
        return len(rows) == 5 and all("network" in row["values"] for row in rows.values())

    layout = wait_until(lambda: (d := hub.get("/api/v1/dashboard")) and seen_twice(d) and d, timeout=30,
                        message="four simulated hosts and a real agent, two samples each")
    assert layout["source"] == "default" and layout["title"] == "fleetmon"
    assert [s["group"] for s in layout["sections"]] == ["jetsons", "lab", "servers"]
    assert set(layout["sections"][1]["panels"]) == set(JETSON_PANELS) | set(SERVER_PANELS)
    jetsons, servers = section_rows(layout, "jetsons"), section_rows(layout, "servers")
    assert set(jetsons) == {"nano-09", "sim-jetson-0001", "sim-jetson-0003"}
    assert jetsons["nano-09"] == {"host": "nano-09", "values": {}, "levels": {}}  # missing: nothing to show
    jetson = jetsons["sim-jetson-0001"]
    assert set(jetson["values"]) == set(JETSON_PANELS)  # Jetson by its birth facts, not only its group's name
    assert 0 <= jetson["values"]["gpu"] <= 1 and jetson["values"]["power"] > 0
    assert jetson["levels"]["temperature"] == {"warning": 85.0, "critical": 95.0}  # from its birth
    assert set(servers) == {"sim-server-0002", "sim-server-0004", "srv-real"}
    assert set(layout["sections"][2]["panels"]) == set(SERVER_PANELS)
    real = servers["srv-real"]
    assert 0 <= real["values"]["cpu"] <= 1 and 0 < real["values"]["memory"] < 1 and real["values"]["network"] >= 0
    assert real["levels"] == {"cpu": {"warning": 0.85}}


# --- the page in a real browser -------------------------------------------------------------------------


class RenderedDashboard(HTMLParser):
    """What a reader sees in the dumped DOM: the title, the fleet counts, and per section its header and rows,
    each cell as (text, class)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.title, self.counts, self.sections = "", "", {}
        self._section = None
        self._where = None  # "h1", "counts", "h2", "cell"
        self._depth = 0  # open <li> inside the counts list
        self._row = None
        self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h1":
            self._where = "h1"
        elif attrs.get("id") == "counts":
            self._where = "counts"
        elif tag == "h2":
            self._where, self._section = "h2", ""
        elif tag == "tr" and self._section is not None:
            self._row = []
        elif tag in ("th", "td") and self._row is not None:
            self._cell = ["", attrs.get("class") or ""]
        elif tag == "li" and self._where == "counts":
            self.counts += " |"

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "ul") and self._where != "cell":
            if tag == "h2":
                self.sections[self._section] = {"header": [], "rows": []}
            self._where = None
        elif tag in ("th", "td") and self._cell is not None:
            self._row.append((" ".join(self._cell[0].split()), self._cell[1]))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            rows = self.sections[self._section]
            if rows["header"]:
                rows["rows"].append(self._row)
            else:
                rows["header"] = [text for text, _ in self._row]
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data
        elif self._where == "h1":
            self.title += data
        elif self._where == "counts":
            self.counts += data
        elif self._where == "h2":
            self._section += data

    def rows(self, section: str) -> dict[str, dict[str, tuple[str, str]]]:
        """host -> {column: (text, class)}"""
        table = self.sections[section]
        return {row[0][0]: dict(zip(table["header"], row, strict=True)) for row in table["rows"]}


def rendered(url: str, screenshot=None) -> str:
    """The page's DOM once its overview has drawn a complete refresh, through Debian's chromium driven by
    Playwright (the console keeps a live stream open: chromium's own --virtual-time-budget would wait for it to end).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.wait_for_function("(document.querySelector('#status') || {}).textContent?.startsWith('Updated')",
                               timeout=30_000)
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
        html = page.content()
        browser.close()
    return html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make deps` installs the Debian package)")
def test_the_page_shows_the_sections_hosts_states_and_panels_in_a_real_browser(
        tmp_path, start_hub, start_agent, simulated):
    hub = start_hub({
        # With an inventory, a host outside it is forgotten once it goes offline: srv-gone must be in it.
        "expected_hosts": {"nano-09": ["jetsons"], "srv-gone": ["servers"]},
        "dashboard": {"title": "Berlin lab", "sections": [
            {"group": "jetsons", "title": "Jetsons", "panels": ["cpu", "memory", "gpu", "emc", "power", "temperature"]},
            {"group": "servers", "title": "Servers", "panels": ["cpu", "memory", "disk", "network", "temperature"]}]}})
    simulated(4)
    # A real agent whose memory rule is sure to fire, so the page shows a host's level and its firing alert.
    start_agent({"host_id": "srv-real", "groups": ["servers"], "thresholds": {"memory": {"warning": "1%"}}})
    gone = start_agent({"host_id": "srv-gone", "groups": ["servers"]}, "gone")
    wait_until(lambda: (h := hub.host("srv-gone")) and h["state"] == "online", timeout=20, message="srv-gone online")
    gone.stop()  # a clean shutdown: offline
    wait_until(lambda: hub.host("srv-gone")["state"] == "offline", timeout=10, message="srv-gone offline")
    wait_until(lambda: all((h := hub.host(name)) and h["state"] == "online" and h["cpu"] is not None
                           for name in ("sim-jetson-0001", "sim-server-0002", "srv-real")), timeout=30,
               message="the simulated and real hosts online with samples")
    wait_until(lambda: any(a["labels"].get("host") == "srv-real" for a in hub.get("/api/v1/alerts")["alerts"]),
               timeout=20, message="srv-real's memory alert")
    # A second sample everywhere, for the network rate: each online host has one already, so one received
    # after now is its second.
    first_seen = time.time()  # the hub's receive times are on this machine's clock
    wait_until(lambda: all((h["last_sample_at"] or 0) > first_seen
                           for h in hub.get("/api/v1/hosts")["hosts"] if h["state"] == "online"),
               timeout=20, message="a second sample from every online host")

    for path in ("/", "/dashboard"):
        page = RenderedDashboard(rendered(f"http://127.0.0.1:{hub.port}{path}"))
        assert page.title == "Berlin lab"
        assert list(page.sections) == ["Jetsons", "Servers"]
    counts = " ".join(page.counts.split())
    assert "7 hosts" in counts and "5 online" in counts and "1 offline" in counts and "1 missing" in counts
    # srv-real's memory rule (a clean shutdown is no HostDown; a busy machine may add a HeartbeatDegraded).
    assert int(re.search(r"(\d+) alerts? firing", counts)[1]) >= 1

    jetsons = page.rows("Jetsons")
    assert page.sections["Jetsons"]["header"] == ["Host", "State", "Health", "CPU", "Memory", "GPU", "EMC", "Power",
                                                  "Temp", "Alerts"]
    assert set(jetsons) == {"nano-09", "sim-jetson-0001", "sim-jetson-0003"}
    assert next(iter(jetsons)) == "nano-09", "worst first"
    assert jetsons["nano-09"]["State"][0].startswith("missing") and jetsons["nano-09"]["Health"][0] == "0"
    assert jetsons["nano-09"]["GPU"] == (f"{NO_VALUE}no value", "panel novalue")  # a dash; "no value" spoken
    jetson = jetsons["sim-jetson-0001"]
    assert jetson["State"][0].startswith("online") and jetson["Health"][0] == "100"
    for column, pattern in (("CPU", r"\d+%"), ("GPU", r"\d+%"), ("EMC", r"\d+%"), ("Power", r"\d+(\.\d)? W"),
                            ("Temp", r"\d+ °C")):
        assert jetson[column][1] == "panel level-ok" and re.fullmatch(pattern, jetson[column][0]), \
            (column, jetson[column])

    servers = page.rows("Servers")
    assert set(servers) == {"sim-server-0002", "sim-server-0004", "srv-real", "srv-gone"}
    assert servers["srv-gone"]["State"][0].startswith("offline") and servers["srv-gone"]["Health"][0] == "0"
    real = servers["srv-real"]
    assert real["Memory"][1] == "panel level-warn" and real["Memory"][0].endswith("(above its warning level)")
    assert int(real["Alerts"][0]) >= 1 and real["Alerts"][1] == "num"
    assert re.fullmatch(r"[\d.]+ (B|kB|MB|GB)/s", servers["sim-server-0002"]["Network"][0])
    assert re.fullmatch(r"\d+%", servers["sim-server-0002"]["Disk"][0])

    screenshot = tmp_path / "dashboard.png"
    rendered(f"http://127.0.0.1:{hub.port}/", screenshot=screenshot)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {screenshot}")
