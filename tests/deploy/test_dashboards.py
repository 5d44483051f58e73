"""Rendered from the inventory: `fleetmon thresholds explain`, the Grafana dashboards (checked against a real
hub's /metrics and, with the TypeScript compiler, against Grafana's published schema) and the Prometheus
rules and scrape config (checked by promtool; tests/deploy/test_prometheus_real.py runs them in Prometheus)."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from fleetmon.deploy.inventory import InventoryError, find_ansible_inventory, load_inventory
from tests.conftest import AGENT_SRC, ROOT
from tests.hub.conftest import HubProcess
from tests.polling import wait_until

INVENTORY = ROOT / "tests" / "data" / "inventory"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
DASHBOARDS = ("fleetmon-overview.json", "fleetmon-jetsons.json", "fleetmon-servers.json")


@pytest.fixture(scope="module")
def ansible_inventory() -> str:
    try:
        return find_ansible_inventory()
    except InventoryError:
        # `make test` runs the whole suite before `make test-deploy` builds the deploy venv, which runs
        # tests/deploy again with Ansible present.
        pytest.skip("needs ansible-inventory: run `make deploy-venv`")


def fleetmon(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC))
    return subprocess.run([sys.executable, "-m", "fleetmon", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def rendered(ansible_inventory, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    done = fleetmon("render", "dashboards", "--inventory", str(INVENTORY), "--out", str(out),
                    "--ansible-inventory", ansible_inventory)
    assert done.returncode == 0, done.stderr
    return out


def explain(host: str, inventory: Path = INVENTORY) -> tuple[subprocess.CompletedProcess, dict]:
    """The command's result, and its table as {(rule, field): (value, source)}."""
    done = fleetmon("thresholds", "explain", host, "--inventory", str(inventory))
    rows = {}
    for line in done.stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 5 and cells[0] != "RULE":
            rule, field, value, source, _file = cells
            rows[(rule, field)] = (value, source)
    return done, rows


# thresholds explain ---------------------------------------------------------------------------------------

def test_explain_names_role_default_group_and_host_per_field(ansible_inventory):
    done, rows = explain("jet-nano-02")
    assert done.returncode == 0, done.stdout + done.stderr
    # host_vars sets one field; the others stay as the Jetson group wrote them
    assert rows["jetson_temperature", "warning"] == ("80", "host")
    assert rows["jetson_temperature", "critical"] == ("95", "group jetsons")
    assert rows["jetson_temperature", "match.zone"] == ("~cpu|gpu|tj", "group jetsons")
    assert rows["jetson_temperature", "hysteresis"] == ("3", "group jetsons")
    # the model's layer stacks on the Jetson layer, field by field
    assert rows["jetson_power", "warning"] == ("12", "group orin_nano")
    assert rows["jetson_power", "for"] == ("5m", "group jetsons")
    assert rows["disk", "warning"] == ("80%", "group all")
    assert rows["disk", "critical"] == ("95%", "role default")
    assert rows["cpu", "warning"] == ("85%", "role default")
    assert rows["temperature", "enabled"] == ("false", "group jetsons")
    assert "group_vars/all/vault.yml is vault-encrypted and was not read" in done.stdout


def test_explain_server_keeps_group_fields_beside_its_own(ansible_inventory):
    _, rows = explain("srv-munich-01")
    assert rows["disk", "critical"] == ("98%", "host")
    assert rows["disk", "warning"] == ("80%", "group all")
    assert rows["memory", "warning"] == ("90%", "group servers")
    assert rows["memory", "critical"] == ("95%", "role default")
    assert rows["load", "metric"] == ("fleetmon_load5", "group servers")
    _, rows = explain("srv-berlin-02")
    assert rows["cpu", "labels.team"] == ("batch", "host")
    assert rows["cpu", "hysteresis"] == ("5%", "role default")


def test_explain_unknown_host(ansible_inventory):
    done, _ = explain("no-such-host")
    assert done.returncode == 2 and "no host 'no-such-host'" in done.stderr


def write_tree(root: Path, files: dict) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


PRECEDENCE_INVENTORY = {
    "hosts.yml": """
        all:
          vars: {site_note: inline-all, only_inline: inline-all}
          children:
            agents:
              children:
                zeta:
                  hosts:
                    h1: {who: inline-host}
                beta:
                  vars: {ansible_group_priority: 10, site_note: inline-beta}
                  hosts: {h1: {}, h2: {}}
                gamma:
                  vars: {site_note: inline-gamma}
                  children:
                    delta:
                      hosts: {h2: {}}
        """,
    "group_vars/all.yml": "site_note: file-all\n",
    "group_vars/zeta.yml": "fleetmon_agent_thresholds_group: {cpu: {warning: 70%}}\nwho: file-zeta\n",
    "group_vars/beta.yml": "fleetmon_agent_thresholds_group: {cpu: {critical: 99%}}\n",
    "group_vars/gamma.yml": "fleetmon_agent_thresholds_group: {memory: {warning: 60%}}\n",
    # a directory wins over delta.yml, its files are read in name order
    "group_vars/delta/01.yml": "fleetmon_agent_thresholds_group: {memory: {warning: 61%}}\nwho: file-delta\n",
    "group_vars/delta/02.yml": "who: file-delta-02\n",
    "group_vars/delta.yml": "who: ignored\n",
    "host_vars/h1.yml": "fleetmon_agent_thresholds_host: {cpu: {for: 1m}}\n",
}


def test_layering_follows_ansible_precedence(ansible_inventory, tmp_path):
    """Depth, ansible_group_priority, name, inline vs files, host over group: for every host and variable
    the definition we take as the winner holds the value Ansible itself computes."""
    root = write_tree(tmp_path / "inventory", PRECEDENCE_INVENTORY)
    inventory = load_inventory(root, ansible_inventory)
    for host in ("h1", "h2"):
        merged = json.loads(subprocess.run([ansible_inventory, "-i", str(root), "--host", host], check=True,
                                           capture_output=True, text=True).stdout)
        ours = {name: inventory.definitions(host, name)[-1].value for name in inventory.variable_names(host)}
        ours.pop("ansible_group_priority")  # Ansible keeps it for itself
        assert ours == merged
    assert inventory.definitions("h1", "fleetmon_agent_thresholds_group")[-1].owner == "beta"  # priority 10
    done, rows = explain("h1", root)
    assert rows["cpu", "critical"] == ("99%", "group beta")
    assert rows["cpu", "for"] == ("1m", "host")
    assert ("cpu", "warning") in rows and rows["cpu", "warning"] == ("85%", "role default")
    assert "fleetmon_agent_thresholds_group of group zeta (group_vars/zeta.yml) is replaced whole" in done.stdout


def test_render_again_changes_nothing(rendered, ansible_inventory):
    done = fleetmon("render", "dashboards", "-i", str(INVENTORY), "--out", str(rendered), "--ansible-inventory",
                    ansible_inventory)
    assert done.returncode == 0 and "changed:" not in done.stdout and "0 changed" in done.stdout


def test_render_refuses_thresholds_the_agent_would_refuse(ansible_inventory, tmp_path):
    root = write_tree(tmp_path / "inventory", {
        "hosts.yml": "all:\n  children:\n    agents:\n      hosts:\n        h1:\n        h2:\n",
        "host_vars/h1.yml": "fleetmon_agent_thresholds_host: {cpu: {warning: lots}}\n",
        "host_vars/h2.yml": "fleetmon_agent_thresholds_host: {disk: {warning: '{{ disk_level }}'}}\n"})
    done = fleetmon("render", "dashboards", "-i", str(root), "--out", str(tmp_path / "out"), "--hub-target",
                    "hub:9180")
    assert done.returncode == 1
    assert "h1: thresholds.cpu.warning: must be a number or a percentage" in done.stderr
    assert "h2: thresholds.disk.warning" in done.stderr and "Jinja" in done.stderr
    assert not (tmp_path / "out").exists()


# Grafana ------------------------------------------------------------------------------------------------

def panels(rendered: Path, name: str) -> list:
    return json.loads((rendered / "grafana" / name).read_text())["panels"]


def test_grafana_dashboards_are_valid_dashboard_json(rendered):
    assert sorted(p.name for p in (rendered / "grafana").iterdir()) == sorted(DASHBOARDS)
    uids = set()
    for name in DASHBOARDS:
        dashboard = json.loads((rendered / "grafana" / name).read_text())
        assert dashboard["uid"] not in uids and re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dashboard["uid"])
        uids.add(dashboard["uid"])
        assert dashboard["title"] and dashboard["schemaVersion"] >= 36 and "id" not in dashboard
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
        assert variables["host"]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        occupied = set()
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0
            cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                     for y in range(grid["y"], grid["y"] + grid["h"])}
            assert not cells & occupied, f"{panel['title']} overlaps another panel"
            occupied |= cells
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["expr"] and target["refId"] and target["datasource"] == panel["datasource"]
            for thresholds in [panel["fieldConfig"]["defaults"].get("thresholds")] + [
                    p["value"] for o in panel["fieldConfig"]["overrides"] for p in o["properties"]
                    if p["id"] == "thresholds"]:
                if thresholds:  # Grafana's shape: a base step (value null), then ascending levels
                    values = [step["value"] for step in thresholds["steps"]]
                    assert values[0] is None and values[1:] == sorted(values[1:]) and None not in values[1:]


def effective_levels(panel: dict, host: str) -> list:
    """The threshold values Grafana applies to a host's series: the defaults, or the override matching it."""
    thresholds = panel["fieldConfig"]["defaults"]["thresholds"]
    for override in panel["fieldConfig"]["overrides"]:
        if re.fullmatch(override["matcher"]["options"], host):
            thresholds = next(p["value"] for p in override["properties"] if p["id"] == "thresholds")
    return [step["value"] for step in thresholds["steps"][1:]]


@pytest.mark.parametrize(("dashboard", "title", "expected"), [
    ("fleetmon-overview.json", "CPU (now)", {"srv-berlin-01": [0.85, 0.95], "srv-berlin-02": [0.92, 0.95],
                                            "jet-nano-01": [0.85, 0.95]}),
    ("fleetmon-overview.json", "Memory (now)", {"srv-munich-01": [0.9, 0.95], "jet-agx-01": [0.85, 0.95]}),
    ("fleetmon-overview.json", "Temperature (highest per host now)", {"srv-berlin-01": [85, 95], "jet-nano-01": []}),
    ("fleetmon-jetsons.json", "Module power (now)", {"jet-nano-01": [12, 15], "jet-agx-01": [45, 55]}),
    ("fleetmon-jetsons.json", "Hottest thermal zone (highest per host now)", {"jet-nano-02": [80, 95],
                                                                              "jet-agx-01": [85, 95]}),
    ("fleetmon-servers.json", "Filesystem usage (now)", {"srv-munich-01 /data": [0.8, 0.98],
                                                         "srv-berlin-01 /": [0.8, 0.95]}),
    ("fleetmon-servers.json", "load (fleetmon_load5) (now)", {"srv-berlin-01": [8, 16]}),
])
def test_panels_draw_each_hosts_own_thresholds(rendered, dashboard, title, expected):
    panel = next(p for p in panels(rendered, dashboard) if p["title"] == title)
    assert {name: effective_levels(panel, name) for name in expected} == expected


PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                   "offset"}


def metric_names(expr: str) -> set:
    """Metric names in a PromQL expression: identifiers outside strings, label matchers, ranges and label
    lists that are neither functions (followed by '(') nor keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return {name for name, call in re.findall(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\s*(\(?)", expr)
            if not call and name not in PROMQL_KEYWORDS}


def test_metric_names_tokenizer():
    assert metric_names('max by (host) (fleetmon_a{host=~"$host", x="y z"})') == {"fleetmon_a"}
    assert metric_names("sum by (host) (rate(fleetmon_b_total{h=\"a\"}[$__rate_interval])) or vector(0)") == {
        "fleetmon_b_total"}
    assert metric_names("fleetmon_c > 0.8 and ignoring(alertname, severity) ALERTS{a=\"b\"} or d == 1e-05") == {
        "fleetmon_c", "ALERTS", "d"}


def exposed_names(text: str) -> set:
    names = set()
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
        if family.type == "gauge":
            names.add(family.name)  # declared, even while no series has a value (no alert firing)
    return names


def complete(text):
    """The exposition once every host has sent a sample and the agent's alert is firing."""
    if not text:
        return None
    families = {family.name: family for family in text_string_to_metric_families(text)}
    reporting = {sample.labels["host"] for sample in families["fleetmon_cpu_usage_ratio"].samples} if (
        "fleetmon_cpu_usage_ratio" in families) else set()
    alerts = families.get("fleetmon_alert_firing")
    return text if len(reporting) == 7 and alerts and alerts.samples else None


@pytest.fixture
def hub_metrics(broker, start_agent, tmp_path) -> str:
    """/metrics of a real hub fed by `fleetmon simulate` (servers and Jetsons) and a real agent whose
    memory threshold fires, so the alert series are there too."""
    hub = HubProcess(tmp_path, broker, {}).start()
    start_agent({"host_id": "real-agent", "thresholds": {"memory": {"warning": "1%"}}})
    simulate = subprocess.Popen(
        [sys.executable, "-m", "fleetmon", "simulate", "--hosts", "6", "--jetson-share", "0.5", "--interval", "1",
         "--duration", "60", "--broker", broker.url], env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield wait_until(lambda: complete(hub.get("/metrics")), timeout=40,
                         message="samples of all 7 hosts and a firing alert on the hub's /metrics")
    finally:
        simulate.terminate()
        simulate.wait(timeout=20)
        hub.stop()


def test_every_query_names_a_metric_the_hub_exposes(rendered, hub_metrics):
    exposed = exposed_names(hub_metrics)
    checked = set()
    for name in DASHBOARDS:
        dashboard = json.loads((rendered / "grafana" / name).read_text())
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                metric = re.match(r"label_values\((\w+)", variable["query"]).group(1)
                assert metric in exposed, f"{name}: variable {variable['name']} queries {metric}"
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                names = metric_names(target["expr"])
                assert names, f"{name}: {panel['title']}: no metric in {target['expr']}"
                assert names <= exposed, f"{name}: {panel['title']}: {names - exposed} not on the hub's /metrics"
                checked |= names
    assert {"fleetmon_jetson_power_total_watts", "fleetmon_jetson_emc_load_ratio", "fleetmon_host_up",
            "fleetmon_filesystem_usage_ratio", "fleetmon_alert_firing"} <= checked
    rules = yaml.safe_load((rendered / "prometheus" / "rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert metric_names(rule["expr"]) <= exposed | {"ALERTS"}, rule["expr"]


# Grafana's schema --------------------------------------------------------------------------------------

SCHEMA_CHECK = ROOT / "tests" / "grafana_schema"
TSC = ROOT / "node_modules" / ".bin" / "tsc"


def type_check(dashboards: dict, directory: Path) -> subprocess.CompletedProcess:
    """`tsc --noEmit` over one TypeScript file per dashboard, each declaring it as an object literal that
    `satisfies FleetmonDashboard` (tests/grafana_schema/dashboard.ts: @grafana/schema's types)."""
    if not TSC.exists():
        pytest.fail("the TypeScript compiler is not installed: run `make console` (package.json)")
    directory.mkdir(parents=True, exist_ok=True)
    for name, dashboard in dashboards.items():
        (directory / f"{name}.ts").write_text(
            f"import type {{ FleetmonDashboard }} from {json.dumps(str(SCHEMA_CHECK / 'dashboard'))};\n\n"
            f"export const dashboard = {json.dumps(dashboard, indent=2)} satisfies FleetmonDashboard;\n")
    (directory / "tsconfig.json").write_text(json.dumps({"extends": str(SCHEMA_CHECK / "tsconfig.json"),
                                                         "include": ["*.ts"]}))
    return subprocess.run([str(TSC), "--noEmit", "--pretty", "false", "-p", "tsconfig.json"], cwd=directory,
                          capture_output=True, text=True, timeout=180, check=False)


def test_dashboards_type_check_against_grafanas_schema(rendered, provisioned, tmp_path):
    dashboards = {f"{kind}-{name[:-len('.json')]}": json.loads((out / "grafana" / name).read_text())
                  for kind, out in (("plain", rendered), ("provisioned", provisioned)) for name in DASHBOARDS}
    done = type_check(dashboards, tmp_path / "check")
    assert done.returncode == 0, done.stdout + done.stderr


def renamed(dashboard: dict, where, old: str, new: str) -> dict:
    """A copy of ``dashboard`` with the field ``old`` of the object ``where(copy)`` picks spelt ``new``."""
    copy = json.loads(json.dumps(dashboard))
    target = where(copy)
    target[new] = target.pop(old)
    return copy


def first_panel(kind: str, with_overrides: bool = False):
    def pick(dashboard: dict) -> dict:
        return next(p for p in dashboard["panels"] if p["type"] == kind
                    and (not with_overrides or p["fieldConfig"]["overrides"]))
    return pick


# A misspelling at each level of a dashboard: (where, the field, its misspelling).
MISSPELLINGS = {
    "dashboard": (lambda d: d, "graphTooltip", "graphToolTip"),
    "variable": (lambda d: d["templating"]["list"][-1], "includeAll", "includeALL"),
    "link": (lambda d: d["links"][0], "keepTime", "keeptime"),
    "row": (first_panel("row"), "collapsed", "colapsed"),
    "panel": (first_panel("timeseries"), "gridPos", "gridpos"),
    "query": (lambda d: first_panel("timeseries")(d)["targets"][0], "legendFormat", "legendFromat"),
    "time series legend": (lambda d: first_panel("timeseries")(d)["options"]["legend"], "showLegend", "showLegnd"),
    "custom field option": (lambda d: first_panel("timeseries")(d)["fieldConfig"]["defaults"]["custom"],
                            "lineWidth", "lineWidht"),
    "bar gauge option": (lambda d: first_panel("bargauge")(d)["options"], "displayMode", "displayMod"),
    "threshold step": (lambda d: first_panel("bargauge")(d)["fieldConfig"]["defaults"]["thresholds"]["steps"][0],
                       "color", "colour"),
    "override matcher": (lambda d: first_panel("bargauge", True)(d)["fieldConfig"]["overrides"][0]["matcher"],
                         "options", "option"),
    "stat option": (lambda d: first_panel("stat")(d)["options"], "colorMode", "colourMode"),
    "state timeline option": (lambda d: first_panel("state-timeline")(d)["options"], "mergeValues", "mergeValue"),
    "table option": (lambda d: first_panel("table")(d)["options"], "showHeader", "showHeaders"),
}


def test_a_misspelt_field_fails_the_schema_check(rendered, tmp_path):
    """Each misspelling, anywhere in a dashboard, is an error of tsc naming it (one file per misspelling,
    checked in one run): the schema check catches what Grafana would silently ignore."""
    overview = json.loads((rendered / "grafana" / "fleetmon-overview.json").read_text())
    mutants = {f"misspelt-{i}": renamed(overview, where, old, new)
               for i, (where, old, new) in enumerate(MISSPELLINGS.values())}
    done = type_check(mutants, tmp_path / "check")
    assert done.returncode != 0
    errors = done.stdout.splitlines()
    for i, (level, (_where, _old, new)) in enumerate(MISSPELLINGS.items()):
        mine = [line for line in errors if line.startswith(f"misspelt-{i}.ts(")]
        assert len(mine) == 1 and f"'\"{new}\"' does not exist" in mine[0], (level, mine or done.stdout[-3000:])


def test_a_value_outside_the_schemas_choices_fails_the_schema_check(rendered, tmp_path):
    overview = json.loads((rendered / "grafana" / "fleetmon-overview.json").read_text())
    first_panel("timeseries")(overview)["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] = "dotted"
    done = type_check({"bad-value": overview}, tmp_path / "check")
    assert done.returncode != 0 and "Type '\"dotted\"' is not assignable" in done.stdout, done.stdout


# Grafana's provisioning --------------------------------------------------------------------------------

PROMETHEUS_URL = "https://prometheus.example:9090"


@pytest.fixture(scope="module")
def provisioned(ansible_inventory, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("provisioned")
    done = fleetmon("render", "dashboards", "-i", str(INVENTORY), "--out", str(out), "--ansible-inventory",
                    ansible_inventory, "--grafana-prometheus-url", PROMETHEUS_URL, "--grafana-dashboards-path",
                    "/srv/grafana/fleetmon", "--grafana-scrape-interval", "30s")
    assert done.returncode == 0, done.stderr
    return out


def test_provisioning_files_have_what_grafanas_provisioning_requires(provisioned):
    """The keys Grafana's provisioning docs mark required (apiVersion; a data source's name, type and access;
    a provider's name and, for type file, options.path), with the values given."""
    sources = yaml.safe_load((provisioned / "grafana-provisioning" / "datasources" / "fleetmon.yaml").read_text())
    assert sources["apiVersion"] == 1
    (source,) = sources["datasources"]
    assert {key: source[key] for key in ("name", "type", "access", "url", "uid")} == {
        "name": "fleetmon Prometheus", "type": "prometheus", "access": "proxy", "url": PROMETHEUS_URL,
        "uid": "fleetmon-prometheus"}
    assert source["jsonData"]["timeInterval"] == "30s" and source["isDefault"] is False
    providers = yaml.safe_load((provisioned / "grafana-provisioning" / "dashboards" / "fleetmon.yaml").read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["name"] == "fleetmon" and provider["type"] == "file" and provider["folder"] == "fleetmon"
    assert provider["options"]["path"] == "/srv/grafana/fleetmon"
    assert provider["options"]["foldersFromFilesStructure"] is False  # a folder is named: the two exclude each other


def test_provisioned_dashboards_start_on_the_provisioned_data_source(provisioned, rendered):
    for name in DASHBOARDS:
        ours = {v["name"]: v for v in json.loads((provisioned / "grafana" / name).read_text())["templating"]["list"]}
        assert ours["datasource"]["current"] == {"text": "fleetmon Prometheus", "value": "fleetmon-prometheus"}
        plain = {v["name"]: v for v in json.loads((rendered / "grafana" / name).read_text())["templating"]["list"]}
        assert "current" not in plain["datasource"]  # Grafana starts on its default Prometheus
    assert not (rendered / "grafana-provisioning").exists()


@pytest.mark.parametrize(("option", "value", "error"), [
    ("--grafana-prometheus-url", "prometheus:9090", "expected http(s)://HOST[:PORT]"),
    ("--grafana-scrape-interval", "15 seconds", "expected a Prometheus duration"),
    ("--grafana-dashboards-path", "dashboards", "expected an absolute path"),
])
def test_provisioning_options_are_checked(ansible_inventory, tmp_path, option, value, error):
    options = {"--grafana-prometheus-url": PROMETHEUS_URL, option: value}
    done = fleetmon("render", "dashboards", "-i", str(INVENTORY), "--out", str(tmp_path / "out"),
                    "--ansible-inventory", ansible_inventory, *[item for pair in options.items() for item in pair])
    assert done.returncode == 2 and error in done.stderr and not (tmp_path / "out").exists()


def playbook(ansible_inventory: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """playbooks/dashboards.yml on the controller alone (localhost), with the deploy venv's Ansible."""
    password = out.parent / "vault-password"
    password.write_text("fleetmon-example\n")  # tests/data/inventory's vault (see its hosts.yml)
    binaries = str(Path(ansible_inventory).parent)
    return subprocess.run([str(Path(binaries) / "ansible-playbook"), "-i", str(INVENTORY), "--vault-password-file",
                           str(password), str(ROOT / "playbooks" / "dashboards.yml"), "-e",
                           f"fleetmon_dashboards_dir={out}", *extra], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PATH=f"{binaries}:{os.environ['PATH']}"), check=False)


def test_the_playbook_writes_provisioning_files_only_when_asked(ansible_inventory, tmp_path):
    done = playbook(ansible_inventory, tmp_path / "plain")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "plain" / "grafana" / "fleetmon-overview.json").is_file()
    assert not (tmp_path / "plain" / "grafana-provisioning").exists()
    done = playbook(ansible_inventory, tmp_path / "provisioned", "-e", "fleetmon_dashboards_grafana_provisioning=true",
                    "-e", f"fleetmon_dashboards_grafana_prometheus_url={PROMETHEUS_URL}")
    assert done.returncode == 0, done.stdout + done.stderr
    directory = tmp_path / "provisioned" / "grafana-provisioning"
    (source,) = yaml.safe_load((directory / "datasources" / "fleetmon.yaml").read_text())["datasources"]
    assert source["url"] == PROMETHEUS_URL and source["jsonData"]["timeInterval"] == "15s"
    (provider,) = yaml.safe_load((directory / "dashboards" / "fleetmon.yaml").read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/fleetmon"


# Prometheus ---------------------------------------------------------------------------------------------

def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    if not os.path.exists(PROMTOOL):
        pytest.fail("promtool is not installed: run `make deps` (Debian package prometheus)")
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_rules_and_scrape_config(rendered):
    directory = rendered / "prometheus"
    done = promtool("check", "rules", "--lint-fatal", "rules.yml", cwd=directory)
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr
    scrape = yaml.safe_load((directory / "scrape.yml").read_text())
    assert scrape["scrape_configs"] == [{"job_name": "fleetmon-hub", "honor_labels": True, "metrics_path": "/metrics",
                                         "static_configs": [{"targets": ["10.20.0.2:9180"]}]}]
    (directory / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": ["rules.yml"], **scrape}))
    done = promtool("check", "config", "prometheus.yml", cwd=directory)
    assert done.returncode == 0, done.stdout + done.stderr


def test_scrape_config_for_a_hub_that_serves_https(ansible_inventory, tmp_path):
    """The hub serves HTTPS (the role's default off the loopback): Prometheus checks it with the fleet CA."""
    ca = tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-keyout", str(tmp_path / "ca.key"), "-out", str(ca),
                    "-days", "1", "-subj", "/CN=test CA"], check=True, capture_output=True)
    done = fleetmon("render", "dashboards", "-i", str(INVENTORY), "--out", str(tmp_path / "out"),
                    "--ansible-inventory", ansible_inventory, "--hub-ca-file", str(ca))
    assert done.returncode == 0, done.stderr
    directory = tmp_path / "out" / "prometheus"
    scrape = yaml.safe_load((directory / "scrape.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["scheme"] == "https" and job["tls_config"] == {"ca_file": str(ca)}
    assert job["static_configs"] == [{"targets": ["10.20.0.2:9180"]}]
    (directory / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "15s"}, **scrape}))
    done = promtool("check", "config", "prometheus.yml", cwd=directory)
    assert done.returncode == 0, done.stdout + done.stderr


def expected(rule: str, labels: dict, value: str, threshold: str, series: str = "") -> dict:
    """An alert as the agent labels it, with the annotations the rendered templates produce."""
    return {"exp_labels": labels,
            "exp_annotations": {"summary": f"{rule} on {labels['host']}{series}: {value} is above the "
                                           f"{labels['severity']} level {threshold}",
                                "value": value, "threshold": threshold, "rule": rule}}


def disk(host: str, mount: str, severity: str, value: str, threshold: str) -> dict:
    labels = {"host": host, "mount": mount, "device": "/dev/sda1", "fstype": "ext4", "severity": severity}
    return expected("disk", labels, value, threshold, f" (device=/dev/sda1, fstype=ext4, mount={mount})")


def disk_series(host: str, mount: str, values: str) -> dict:
    return {"series": f'fleetmon_filesystem_usage_ratio{{host="{host}", mount="{mount}", device="/dev/sda1", '
                      'fstype="ext4"}', "values": values}


CPU_WARNING = {"host": "srv-berlin-01", "site": "berlin", "severity": "warning"}

PROMTOOL_TESTS = {
    "rule_files": ["rules.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {   # a CPU breach fires after `for` (5m) with the agent's labels, and holds within the hysteresis band
            "interval": "1m",
            "input_series": [{"series": 'fleetmon_cpu_usage_ratio{host="srv-berlin-01", site="berlin"}',
                              "values": "0.5 0.9x10 0.83x5 0.79x5"}],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "HostCpuHigh", "exp_alerts": []},
                {"eval_time": "7m", "alertname": "HostCpuHigh",
                 "exp_alerts": [expected("cpu", CPU_WARNING, "90%", "85.0%")]},
                {"eval_time": "15m", "alertname": "HostCpuHigh",
                 "exp_alerts": [expected("cpu", CPU_WARNING, "83%", "85.0%")]},
                {"eval_time": "20m", "alertname": "HostCpuHigh", "exp_alerts": []},
            ],
        },
        {   # per-host levels: critical at 95% on srv-berlin-01, at 98% on srv-munich-01 (its host_vars);
            # only / and /data are watched (match from group all)
            "interval": "1m",
            "input_series": [disk_series("srv-berlin-01", "/data", "0.96x10"),
                             disk_series("srv-munich-01", "/data", "0.96x10"),
                             disk_series("srv-munich-01", "/", "0.985x10"),
                             disk_series("srv-munich-01", "/scratch", "0.99x10")],
            "alert_rule_test": [{"eval_time": "6m", "alertname": "HostDiskUsageHigh", "exp_alerts": [
                disk("srv-berlin-01", "/data", "warning", "96%", "80.0%"),
                disk("srv-berlin-01", "/data", "critical", "96%", "95.0%"),
                disk("srv-munich-01", "/data", "warning", "96%", "80.0%"),
                disk("srv-munich-01", "/", "warning", "98.5%", "80.0%"),
                disk("srv-munich-01", "/", "critical", "98.5%", "98.0%")]}],
        },
        {   # rule labels and `for` (15m) from host_vars
            "interval": "1m",
            "input_series": [{"series": 'fleetmon_cpu_usage_ratio{host="srv-berlin-02", site="berlin"}',
                              "values": "0.93x20"}],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "HostCpuHigh", "exp_alerts": []},
                {"eval_time": "16m", "alertname": "HostCpuHigh", "exp_alerts": [expected(
                    "cpu", {"host": "srv-berlin-02", "site": "berlin", "team": "batch", "severity": "warning"},
                    "93%", "92.0%")]}],
        },
    ],
}


def test_promtool_unit_tests_fire_the_agents_alerts(rendered):
    directory = rendered / "prometheus"
    (directory / "tests.yml").write_text(yaml.safe_dump(PROMTOOL_TESTS))
    done = promtool("test", "rules", "tests.yml", cwd=directory)
    assert done.returncode == 0, done.stdout + done.stderr
