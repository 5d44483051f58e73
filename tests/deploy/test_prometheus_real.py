"""Debian's Prometheus run with what `fleetmon render dashboards` writes, against a real hub.

The fleet: `fleetmon simulate` (servers and Jetsons, with its seeded fault plan) and one NVIDIA GPU server,
which the simulator does not model, published here; all of it through a real mosquitto into a real hub that
serves HTTPS and takes alerts with its API token. An inventory naming those hosts is rendered, and
Prometheus runs with the rendered scrape job (its target the test hub; HTTPS checked with the CA file as
rendered) and the rendered rules, scraping and evaluating every second, with the hub as its Alertmanager
(API v2). Checked: the target is up; every rule group and rule is healthy; every panel query of the
rendered dashboards, with Grafana's variables substituted as Grafana substitutes them, parses and returns
series; and the simulator's CPU spike fires the rendered rule, which Prometheus delivers to the hub.

No panel query may come back empty: each kind of host a panel is for is in the fleet. The simulator has
no NVIDIA GPU servers, and without one the servers dashboard's GPU row would be empty; so the test
publishes one (`GpuServer`), whose host id has a dot, which the rules' and Grafana's regexes must escape.
"""

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from fleetmon.deploy.inventory import InventoryError, find_ansible_inventory
from fleetmon.protocol import messages
from fleetmon.protocol.topics import host_topics
from fleetmon.simulate.faults import CPU_SPIKE
from fleetmon.simulate.runner import SimOptions, fleet_and_plan
from tests.conftest import AGENT_SRC, free_port
from tests.hub.conftest import HubProcess
from tests.polling import wait_until

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# Seed 3 puts the CPU spike on a server, 19.3 s to 35.2 s into the run; the other faults (a death, a
# silence, a filling disk) hit other hosts, so every kind of host keeps reporting throughout. The test
# is done long before the run's end.
SIMULATION = SimOptions(hosts=6, interval_s=1.0, duration_s=60.0, jetson_share=0.5, faults=True, seed=3)
FLEET, PLAN = fleet_and_plan(SIMULATION)
SPIKE = PLAN.first(CPU_SPIKE)
SPIKED = next(spec for spec in FLEET if spec.host == SPIKE.host)
GPU_HOST = "gpu.server-01"  # a dot, which the rules' and Grafana's regexes must escape
TOKEN = "prometheus-test-token-4f1c2a9e"
EXTERNAL_LABELS = {"prometheus": "fleetmon-test"}  # Prometheus adds them to the alerts it sends
SCRAPE_INTERVAL_S = 1
# What Grafana puts in for its interval variables with a data source whose scrape interval is 1 s, over
# a short range: $__interval is the range's step, $__rate_interval max($__interval + scrape, 4 * scrape).
GRAFANA_INTERVALS = {"__rate_interval": "4s", "__interval": "1s", "__range": "1m", "__interval_ms": "1000",
                     "__range_s": "60"}
SERVERS = {spec.host for spec in FLEET if spec.kind == "server"} | {GPU_HOST}
JETSONS = {spec.host for spec in FLEET if spec.kind == "jetson"}
#: The hosts each dashboard's host variable offers (its group "All" stands for the dashboard's hosts).
DASHBOARD_HOSTS = {"fleetmon-overview": SERVERS | JETSONS, "fleetmon-servers": SERVERS, "fleetmon-jetsons": JETSONS}


def inventory_for_the_fleet(root: Path) -> Path:
    """The inventory a user of this fleet would write: servers and Jetsons, sites as groups and labels,
    thresholds for every dashboard row (a rule of their own, NVIDIA GPU rules on the GPU server) and a
    short `for` on CPU so that the spike fires within the run."""
    servers = {spec.host: {"fleetmon_agent_labels": {"site": spec.site}} for spec in FLEET if spec.kind == "server"}
    servers[GPU_HOST] = {"fleetmon_agent_labels": {"site": "site-a"}}
    jetsons = {spec.host: {"fleetmon_agent_labels": {"site": spec.site}} for spec in FLEET if spec.kind == "jetson"}
    sites: dict[str, dict] = {}
    for spec in FLEET:
        sites.setdefault(spec.site, {"hosts": {}})["hosts"][spec.host] = {}
    sites["site-a"]["hosts"][GPU_HOST] = {}
    hosts = {"all": {"children": {
        "hub": {"hosts": {"hub-01": {"ansible_host": "127.0.0.1"}}},
        "agents": {"children": {"servers": {"hosts": servers}, "jetsons": {"hosts": jetsons}, **sites}}}}}
    files = {
        "hosts.yml": yaml.safe_dump(hosts),
        "group_vars/all.yml": """
            fleetmon_agent_thresholds_group:
              cpu: {warning: 90%, critical: 97%, for: 2s}
              disk: {match: {mount: "~/|/data"}}
            """,
        "group_vars/servers.yml": """
            fleetmon_agent_thresholds_group_servers:
              load: {metric: fleetmon_load5, warning: 64, critical: 128, for: 10m}
            """,
        "group_vars/jetsons.yml": """
            fleetmon_agent_thresholds_group_jetsons:
              temperature: {enabled: false}
              jetson_temperature: {match: {zone: "~cpu|gpu|tj"}, warning: 85, critical: 95, for: 1m, hysteresis: 3}
              jetson_gpu: {warning: 90%, critical: 98%, for: 10m}
              emc: {warning: 85%, critical: 95%, for: 10m}
              jetson_power: {warning: 45, critical: 55, for: 5m}
            """,
        f"host_vars/{GPU_HOST}.yml": """
            fleetmon_agent_thresholds_host:
              gpu: {warning: 90%, critical: 98%, for: 10m}
              gpu_temperature: {warning: 85, critical: 95, for: 5m}
              gpu_power: {warning: 300, critical: 350, for: 5m}
            """,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


class GpuServer(threading.Thread):
    """A server with one NVIDIA GPU, publishing as its agent would: a retained birth, then a sample a second
    with the NVML collector's series beside the basic ones."""

    def __init__(self, broker) -> None:
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.topics = host_topics(GPU_HOST)
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.session = int(time.time())

    def run(self) -> None:
        now = time.time()
        self._publish(self.topics.status, messages.status(
            GPU_HOST, self.session, 1, now, "online", agent_version="test", started_at=now, interval_s=1,
            facts={"hostname": GPU_HOST}, groups=["servers", "site-a"], labels={"site": "site-a"}), retain=True)
        seq = 0
        while not self.stopping.is_set():
            seq += 1
            gpu = [[{"gpu": "0"}, value] for value in (0.4 + 0.01 * (seq % 10),)]
            series = {"fleetmon_cpu_usage_ratio": 0.2, "fleetmon_memory_usage_ratio": 0.3,
                      "fleetmon_gpu_utilization_ratio": gpu,
                      "fleetmon_gpu_temperature_celsius": [[{"gpu": "0"}, 60.0 + seq % 5]],
                      "fleetmon_gpu_power_watts": [[{"gpu": "0"}, 180.0 + seq % 7]]}
            self._publish(self.topics.metrics, messages.metrics(GPU_HOST, self.session, seq, time.time(), 1, 0.01,
                                                                series, {}))
            self.stopping.wait(SCRAPE_INTERVAL_S)

    def _publish(self, topic: str, payload: dict, retain: bool = False) -> None:
        self.client.publish(topic, messages.encode(payload), qos=1, retain=retain).wait_for_publish(5)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        self.client.loop_stop()
        self.client.disconnect()


class HttpsHub(HubProcess):
    """The hub process of tests/hub/conftest.py over HTTPS, asked with its API token."""

    context: ssl.SSLContext

    def request(self, path: str):
        request = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=5, context=self.context) as response:
            body = response.read()
        return body.decode() if path == "/metrics" else json.loads(body)

    def get(self, path: str, ok_only: bool = True):
        try:
            return self.request(path)
        except urllib.error.HTTPError as exc:
            return None if ok_only else exc.code
        except OSError:  # not listening yet
            return None


class Prometheus:
    """/usr/bin/prometheus on a free loopback port, with its own data directory."""

    def __init__(self, workdir: Path, config: dict) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Prometheus":
        if not os.path.exists(PROMETHEUS):
            pytest.fail("prometheus is not installed: run `make deps` (Debian package prometheus)")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout=30, message="Prometheus ready")
        return self

    def _ready(self) -> bool:
        assert self.process.poll() is None, f"prometheus exited:\n{self.log[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, path: str, form: dict | None = None):
        """An API answer's data; an error answer (a query that does not parse) fails the test with its words."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v1/{path}", data=data)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            answer = json.loads(exc.read())
        assert answer["status"] == "success", f"{path} {form}: {answer}"
        return answer["data"]

    @property
    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def ansible_inventory() -> str:
    try:
        return find_ansible_inventory()
    except InventoryError:
        pytest.skip("needs ansible-inventory: run `make deploy-venv`")  # as tests/deploy/test_dashboards.py


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    """The hub's certificate for 127.0.0.1, self-signed: it is its own CA, the file Prometheus is given."""
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def stack(tmp_path, broker, certificate, ansible_inventory):
    """The rendered files, the hub, Prometheus, and the fleet running: (rendered dir, hub, prometheus)."""
    cert, key = certificate
    hub = HttpsHub(tmp_path, broker, {"api": {"token": TOKEN},
                                      "listen_tls": {"cert_file": str(cert), "key_file": str(key)}})
    hub.context = ssl.create_default_context(cafile=str(cert))
    rendered = tmp_path / "rendered"
    done = subprocess.run(
        [sys.executable, "-m", "fleetmon", "render", "dashboards", "--inventory",
         str(inventory_for_the_fleet(tmp_path / "inventory")), "--out", str(rendered), "--ansible-inventory",
         ansible_inventory, "--hub-target", f"127.0.0.1:{hub.port}", "--hub-ca-file", str(cert)],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)), check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    scrape = yaml.safe_load((rendered / "prometheus" / "scrape.yml").read_text())
    interval = f"{SCRAPE_INTERVAL_S}s"
    config = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval,
                   "external_labels": EXTERNAL_LABELS},
        "rule_files": [str(rendered / "prometheus" / "rules.yml")],
        # The hub as Prometheus's Alertmanager: the same address and CA as the scrape job, the API token.
        "alerting": {"alertmanagers": [{
            "api_version": "v2", "scheme": "https", "tls_config": {"ca_file": str(cert)},
            "authorization": {"credentials": TOKEN},
            "static_configs": [{"targets": [f"127.0.0.1:{hub.port}"]}]}]},
        **scrape}
    (tmp_path / "prometheus").mkdir()
    prometheus = Prometheus(tmp_path / "prometheus", config)
    gpu_server = GpuServer(broker)
    simulate = None
    try:
        hub.start()
        prometheus.start()
        simulate = subprocess.Popen(
            [sys.executable, "-m", "fleetmon", "simulate", "--hosts", str(SIMULATION.hosts), "--jetson-share",
             str(SIMULATION.jetson_share), "--interval", str(SIMULATION.interval_s), "--duration",
             str(SIMULATION.duration_s), "--faults", "--seed", str(SIMULATION.seed), "--broker", broker.url],
            env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        gpu_server.start()
        yield rendered, hub, prometheus
    finally:
        gpu_server.stop()
        if simulate is not None:
            simulate.terminate()
            simulate.wait(timeout=20)
        prometheus.stop()
        hub.stop()
        print(f"--- prometheus log ---\n{prometheus.log[-6000:]}\n--- hub log ---\n{hub.log[-6000:]}")


# Grafana's variables ----------------------------------------------------------------------------------

def regular_escape(value: str) -> str:
    """A single-valued variable in a Prometheus query, as Grafana's Prometheus data source writes it."""
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def regex_escape(value: str) -> str:
    """One value of a multi-value variable: regex-escaped, inside a PromQL string."""
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def substitute(expr: str, values: dict[str, str]) -> str:
    """$name and ${name} replaced; one left over fails (a variable the dashboard does not define)."""
    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"{expr}: no value for ${name}"
        return values[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)


def variable_values(dashboard: dict, prometheus: Prometheus) -> tuple[dict[str, str], set[str]]:
    """Each template variable's value with its current option (group: All; host: All, the hosts its query
    finds in Prometheus), formatted for a Prometheus query, plus Grafana's interval variables; and the
    hosts the host variable offers."""
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    values = dict(GRAFANA_INTERVALS)
    group = variables["group"]
    assert group["current"]["text"] == "All" and not group["multi"] and not group["includeAll"]
    values["group"] = regular_escape(group["current"]["value"])
    host = variables["host"]
    found = re.fullmatch(r"label_values\((.+), (\w+)\)", host["query"])
    assert found, host["query"]
    selector = substitute(found.group(1), values)
    hosts = prometheus.api(f"label/{found.group(2)}/values?" + urllib.parse.urlencode({"match[]": selector}))
    assert hosts, f"{dashboard['uid']}: {host['query']} finds no host"
    assert host["multi"] and host["current"]["value"] == ["$__all"]
    escaped = [regex_escape(name) for name in hosts]
    values["host"] = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    return values, set(hosts)


def queries(dashboard: dict) -> list[tuple[str, dict]]:
    return [(panel["title"], target) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def series_of(prometheus: Prometheus, target: dict, expr: str) -> list:
    """What Grafana asks for a target: an instant query, or a range over the last 30 s at a 1 s step."""
    if target.get("instant"):
        return prometheus.api("query", {"query": expr})["result"]
    now = time.time()
    return prometheus.api("query_range", {"query": expr, "start": now - 30, "end": now, "step": "1"})["result"]


# The test -----------------------------------------------------------------------------------------------

def test_prometheus_scrapes_the_hub_evaluates_the_rules_and_answers_every_panel(stack):
    rendered, hub, prometheus = stack
    everyone = SERVERS | JETSONS

    # the scrape job as rendered: the hub's /metrics over HTTPS, its certificate checked with the CA file
    def target_up():
        targets = prometheus.api("targets")["activeTargets"]
        if not targets:
            return None  # the first discovery has not come through yet
        assert len(targets) == 1 and targets[0]["scrapeUrl"] == f"https://127.0.0.1:{hub.port}/metrics", targets
        return targets[0] if targets[0]["health"] == "up" else None
    target = wait_until(target_up, timeout=20, message="the hub's target up in Prometheus")
    assert target["labels"]["job"] == "fleetmon-hub" and target["lastError"] == ""

    def every_host_scraped():
        found = {s["metric"]["host"] for s in prometheus.api("query", {"query": "fleetmon_host_up"})["result"]}
        return found if found >= everyone else None
    wait_until(every_host_scraped, timeout=30, message=f"fleetmon_host_up of {sorted(everyone)} in Prometheus")

    # every rendered group and rule loaded, evaluated and healthy
    rules = yaml.safe_load((rendered / "prometheus" / "rules.yml").read_text())
    wanted = {(g["name"], r["alert"], r["labels"]["severity"]) for g in rules["groups"] for r in g["rules"]}

    def rules_evaluated():
        groups = prometheus.api("rules")["groups"]
        loaded = [(g["name"], r) for g in groups for r in g["rules"]]
        broken = [(name, r["name"], r["health"], r.get("lastError")) for name, r in loaded
                  if r["health"] == "err" or r.get("lastError")]
        assert not broken, broken
        if any(r["health"] != "ok" for _, r in loaded) or any(g["lastEvaluation"].startswith("0001") for g in groups):
            return None
        return groups
    groups = wait_until(rules_evaluated, timeout=20, message="every rendered rule evaluated")
    assert {(g["name"], r["name"], r["labels"]["severity"]) for g in groups for r in g["rules"]} == wanted

    # the CPU spike crosses the rendered levels: Prometheus fires the rule and delivers it to the hub, as
    # the same alert as the simulated agent's own (its thresholds are the simulator's), plus Prometheus's
    # external labels
    def both_fired():
        alerts = [a for a in hub.request("/api/v1/alerts")["alerts"]
                  if a["labels"].get("alertname") == "HostCpuHigh" and a["labels"].get("host") == SPIKE.host]
        ours = {a["labels"]["severity"]: a for a in alerts if a["labels"].get("prometheus") == "fleetmon-test"}
        edge = {a["labels"]["severity"]: a for a in alerts if "prometheus" not in a["labels"]}
        return (ours, edge) if len(ours) == len(edge) == 2 else None
    from_prometheus, from_agent = wait_until(
        both_fired, timeout=SPIKE.at + 30,
        message=f"HostCpuHigh warning and critical of {SPIKE.host} from Prometheus and from the agent on the hub")
    for severity in ("warning", "critical"):
        ours, edge = from_prometheus[severity], from_agent[severity]
        assert ours["status"] == "firing" and ours["generatorURL"].startswith("http")
        assert ours["labels"] == {**edge["labels"], **EXTERNAL_LABELS}
        assert ours["labels"]["site"] == SPIKED.site
        assert ours["annotations"] == edge["annotations"]
    firing = prometheus.api("alerts")["alerts"]
    assert {a["labels"]["severity"] for a in firing if a["labels"]["alertname"] == "HostCpuHigh"
            and a["labels"]["host"] == SPIKE.host and a["state"] == "firing"} == {"warning", "critical"}, firing
    assert prometheus.api("alertmanagers")["activeAlertmanagers"] == [
        {"url": f"https://127.0.0.1:{hub.port}/api/v2/alerts"}]

    # every panel query, with the variables as Grafana substitutes them, parses and returns series
    paths = sorted((rendered / "grafana").glob("*.json"))
    assert [path.name for path in paths] == ["fleetmon-jetsons.json", "fleetmon-overview.json", "fleetmon-servers.json"]
    for path in paths:
        dashboard = json.loads(path.read_text())
        values, hosts = variable_values(dashboard, prometheus)
        assert hosts == DASHBOARD_HOSTS[dashboard["uid"]], f"{path.name}: $host offers {hosts}"
        for title, target in queries(dashboard):
            expr = substitute(target["expr"], values)
            wait_until(lambda: series_of(prometheus, target, expr), timeout=15,  # noqa: B023 (waited for here)
                       message=f"{path.name}: {title}: series for {expr}")
    titles = {panel["title"] for panel in json.loads(paths[2].read_text())["panels"]}
    assert {"GPU utilization", "GPU temperature", "GPU power", "load (fleetmon_load5)"} <= titles
