"""The routing tree: semantics, config errors, and a differential test against the real amtool."""

import random
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml

from fleetmon.config_reader import ConfigError
from fleetmon.hub.alerting.config import load_routing
from fleetmon.hub.alerting.notification import AlertSnapshot
from tests.conftest import AGENT_SRC

AMTOOL = shutil.which("amtool")

# Routing trees that exercise what is easy to get wrong: continue on several levels, inheritance, legacy
# match/match_re, negative and regex matchers, missing labels, nodes whose children all fail.
TREES = {
    "continue": """
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['team="a"']
      receiver: a
      continue: true
    - match: {team: a}
      receiver: b
    - match_re: {service: "web.*"}
      receiver: c
      routes:
        - matchers: ['env="prod"']
          receiver: d
          continue: true
        - matchers: ['env=~"prod|staging"']
    - matchers: ['severity!="info"']
      receiver: e
      continue: true
    - matchers: ['team!~"a|b"', 'severity=~".+"']
      receiver: f
""",
    "nested": """
route:
  receiver: default
  routes:
    - matchers: ['{env="prod",severity=~"critical|page"}']
      receiver: pager
      routes:
        - matchers: ['team="db"']
          receiver: db-pager
        - matchers: ['team=""']
          receiver: orphans
    - matchers: ['env="prod"']
      receiver: prod
      continue: true
      routes:
        - matchers: ['region=~"eu-.*"']
          receiver: eu
          continue: true
        - matchers: ['region=~"eu-west.*"']
          receiver: euwest
    - matchers: ['env!="prod"', 'team="db"']
      receiver: db
    - receiver: catchall
      matchers: ['service=~"(api|web)"']
""",
    "regex": """
route:
  receiver: default
  routes:
    - matchers: ['service=~"api"']
      receiver: exact
    - matchers: ['service=~"api-.*"']
      receiver: prefixed
    - matchers: ['service!~".*web.*"', 'env=~"|dev"']
      receiver: noweb
    - match_re: {region: "eu|us"}
      receiver: legacy
""",
}
RECEIVERS = ["default", "a", "b", "c", "d", "e", "f", "pager", "db-pager", "orphans", "prod", "eu", "euwest", "db",
             "catchall", "exact", "prefixed", "noweb", "legacy"]
VALUES = {"team": ["a", "b", "db", "c", None], "severity": ["info", "critical", "page", "", None],
          "service": ["web", "webshop", "api", "api-v2", "myweb", None], "env": ["prod", "staging", "dev", None],
          "region": ["eu-west-1", "eu-north", "us", "eu", None], "alertname": ["HostDown", None]}


# What most real alertmanager.yml files carry besides the tree: template files and receivers whose texts use
# them. Routing must not care, in either tool.
TEMPLATE_FILE = """{{ define "team.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}
for {{ .GroupLabels.team }}{{ end }}
{{ define "team.text" }}{{ range .Alerts }}{{ .Annotations.summary }}
{{ end }}{{ end }}
"""


def write_tree(tmp_path: Path, name: str, templated: bool = False) -> Path:
    path = tmp_path / f"{name}.yml"
    doc = yaml.safe_load(TREES[name])
    doc["receivers"] = [{"name": r} for r in RECEIVERS]
    if templated:
        (tmp_path / "templates").mkdir(exist_ok=True)
        (tmp_path / "templates" / "team.tmpl").write_text(TEMPLATE_FILE)
        doc["templates"] = ["templates/*.tmpl"]
        doc["receivers"][0]["slack_configs"] = [{"api_url": "https://hooks.slack.com/services/T0/B0/x",
                                                 "title": '{{ template "team.title" . }}',
                                                 "text": '{{ template "team.text" . }}'}]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def label_sets(count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    sets = []
    for _ in range(count):
        labels = {k: rng.choice(v) for k, v in VALUES.items()}
        sets.append({k: v for k, v in labels.items() if v})  # amtool, like an alert, has no empty labels
    return sets


def fleetmon_routes(config: Path, labels: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    args = [f"{k}={v}" for k, v in labels.items()]
    return subprocess.run([sys.executable, "-m", "fleetmon", "routes", "test", "--config", str(config), *extra,
                           *args], capture_output=True, text=True, env={"PYTHONPATH": str(AGENT_SRC)}, timeout=30)


@pytest.mark.skipif(AMTOOL is None, reason="amtool (Debian package prometheus-alertmanager) is not installed")
@pytest.mark.parametrize("templated", [False, True], ids=["plain", "with-templates"])
@pytest.mark.parametrize("tree", sorted(TREES))
def test_routes_agree_with_amtool(tmp_path, tree, templated):
    path = write_tree(tmp_path, tree, templated)
    config = load_routing(str(path))
    checked = 0
    # crc32, not hash(): str hashes differ per process (PYTHONHASHSEED), and the label sets must not
    for labels in label_sets(40, seed=zlib.crc32(tree.encode())):
        args = [f"{k}={v}" for k, v in labels.items()]
        amtool = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={path}", *args],
                                capture_output=True, text=True, timeout=30)
        assert amtool.returncode == 0, amtool.stderr
        expected = amtool.stdout.strip().split(",")
        ours = [route.receiver for route in config.route.match(labels)]
        assert ours == expected, f"{tree}: {labels}"
        checked += 1
    assert checked == 40


def test_the_command_prints_receivers_one_per_line_and_checks_expectations(tmp_path):
    path = write_tree(tmp_path, "continue")
    result = fleetmon_routes(path, {"team": "a", "severity": "critical"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["a", "b"]
    assert fleetmon_routes(path, {"team": "a"}, "--expect", "a,b").returncode == 0
    wrong = fleetmon_routes(path, {"team": "a"}, "--expect", "b")
    assert wrong.returncode == 1 and "expected b, got a,b" in wrong.stderr
    tree = fleetmon_routes(path, {"service": "webshop", "env": "prod"}, "--tree")
    lines = tree.stdout.splitlines()
    assert lines[0].startswith("  (default)  receiver=default  group_by=[alertname]")
    assert [line.split("receiver=")[1].split()[0] for line in lines if line.startswith("*")] == ["d", "c"]


def test_a_hub_config_works_too(tmp_path):
    doc = yaml.safe_load(TREES["nested"])
    doc["receivers"] = [{"name": r} for r in RECEIVERS]
    path = tmp_path / "hub.yml"
    path.write_text(yaml.safe_dump({"listen": "127.0.0.1:9999", "alerting": doc}))
    result = fleetmon_routes(path, {"env": "prod", "severity": "page", "team": "db"})
    assert result.stdout.split() == ["db-pager"]


def test_inheritance_and_route_keys(tmp_path):
    path = tmp_path / "am.yml"
    path.write_text("""
route:
  receiver: default
  group_by: [alertname, cluster]
  group_wait: 10s
  routes:
    - matchers: ['{owner="team-A", level!="critical"}']
      group_by: ['...']
      routes:
        - matchers: ['env="testing"']
          group_by: [service]
          repeat_interval: 1h30m
    - match_re: {service: "api"}
      group_by: []
      receiver: api
      group_interval: 1m
receivers: [{name: default}, {name: api}]
""")
    route = load_routing(str(path)).route
    team, testing = route.routes[0], route.routes[0].routes[0]
    assert team.key == '{}/{level!="critical",owner="team-A"}' and team.id == team.key + "/0"
    assert testing.key == team.key + '/{env="testing"}'
    assert team.receiver == testing.receiver == "default"  # inherited
    assert team.options.group_by_all and not testing.options.group_by_all  # an explicit list resets '...'
    assert testing.options.group_by == {"service"} and testing.options.group_wait == 10.0
    assert testing.options.repeat_interval == 5400.0
    api = route.routes[1]
    assert api.key == '{}/{service=~"^(?:api)$"}'  # match_re is stored anchored and shows so
    assert api.options.group_by == frozenset() and api.options.group_interval == 60.0
    labels = {"alertname": "X", "cluster": "c1", "service": "api", "owner": "team-B"}
    assert route.match(labels) == [api] and api.group_labels(labels) == {}
    assert route.group_labels(labels) == {"alertname": "X", "cluster": "c1"}


def test_route_labels_merge_into_children_and_a_childs_own_win(tmp_path):
    path = tmp_path / "am.yml"
    path.write_text("""
templates: [team.tmpl]
route:
  receiver: default
  labels: {team: platform, tier: '{{ template "tier" . }}'}
  routes:
    - matchers: ['service="db"']
      labels: {team: storage, db: 'yes'}
      routes:
        - matchers: ['env="prod"']
    - matchers: ['service="web"']
receivers: [{name: default}]
""")
    (tmp_path / "team.tmpl").write_text('{{ define "tier" }}gold{{ end }}')
    route = load_routing(str(path)).route
    db, prod, web = route.routes[0], route.routes[0].routes[0], route.routes[1]
    sources = {r: {name: f.source for name, f in r.options.labels} for r in (route, db, prod, web)}
    assert sources[route] == sources[web] == {"team": "platform", "tier": '{{ template "tier" . }}'}
    assert sources[db] == sources[prod] == {"db": "yes", "team": "storage", "tier": '{{ template "tier" . }}'}
    assert prod.render_labels({}, []) == {}  # nothing to render against
    snapshot = AlertSnapshot({"service": "db", "env": "prod"}, {}, 0.0, None)
    assert prod.render_labels({}, [snapshot]) == {"db": "yes", "team": "storage", "tier": "gold"}  # templates: files
    assert route.match({"service": "db", "env": "prod"}) == [prod]
    assert db.key == '{}/{service="db"}'  # labels are not part of the route's key or matching
    assert "labels{db='yes',team='storage'" in prod.describe()


@pytest.mark.parametrize("doc, message", [
    ("route: {receiver: nope}\nreceivers: [{name: a}]", "route.receiver: undefined receiver 'nope'"),
    ("route: {receiver: a, matchers: ['x=1']}\nreceivers: [{name: a}]", "route.matchers: the root route cannot"),
    ("route: {receiver: a, routes: [{matchers: ['x=~(']}]}\nreceivers: [{name: a}]",
     "route.routes[0].matchers[0]: invalid regular expression"),
    ("route: {receiver: a, routes: [{group_by: [x, x]}]}\nreceivers: [{name: a}]",
     "route.routes[0].group_by: duplicate"),
    ("route: {receiver: a, routes: [{group_by: ['...', x]}]}\nreceivers: [{name: a}]", "cannot be combined"),
    ("route: {receiver: a, group_interval: 0}\nreceivers: [{name: a}]", "route.group_interval: group_interval"),
    ("route: {receiver: a, routes: [{mute_time_intervals: [night]}]}\nreceivers: [{name: a}]",
     "route.routes[0].mute_time_intervals[0]: undefined time interval 'night'"),
    ("route: {receiver: a, routes: [{labels: {x: '{{ .Foo'}}]}\nreceivers: [{name: a}]",
     "route.routes[0].labels.x: template: line 1, column 1: unclosed action"),
    ("route: {receiver: a, routes: [{labels: {x: '{{ nosuch }}'}}]}\nreceivers: [{name: a}]",
     "route.routes[0].labels.x: template:"),
    ("route: {receiver: a, labels: {'': y}}\nreceivers: [{name: a}]", "route.labels.: invalid label name ''"),
    ("route: {receiver: a, labels: {x: [y]}}\nreceivers: [{name: a}]", "route.labels.x: must be a string"),
    ("route: {receiver: a, labels: [x]}\nreceivers: [{name: a}]", "route.labels: must be a mapping"),
    ("route: {receiver: a}\nreceivers: [{name: a}]\ntemplates: [7]", "templates[0]: must be"),
    ("route: {receiver: a, escalation: [{after: 1h, receivers: [b]}, {after: 5m, receivers: [a]}]}\n"
     "receivers: [{name: a}]", "route.escalation[0].receivers[0]: undefined receiver 'b'"),
    # Alertmanager takes these; they would mute every alert that agrees on `equal` with a firing source.
    ("route: {receiver: a}\nreceivers: [{name: a}]\ninhibit_rules: [{source_matchers: ['a=1'], equal: [x]}]",
     "inhibit_rules[0].target_matchers: an inhibit rule needs target matchers"),
    ("route: {receiver: a}\nreceivers: [{name: a}]\n"
     "inhibit_rules: [{source_match: {a: '1'}, target_matchers: [], target_match: {}}]",
     "inhibit_rules[0].target_matchers: an inhibit rule needs target matchers"),
])
def test_config_errors_name_the_key(tmp_path, doc, message):
    path = tmp_path / "am.yml"
    path.write_text(doc)
    with pytest.raises(ConfigError) as raised:
        load_routing(str(path))
    assert any(message in e for e in raised.value.errors), raised.value.errors


def test_hub_check_config_names_alerting_errors_by_key_path(tmp_path):
    path = tmp_path / "hub.yml"
    path.write_text(yaml.safe_dump({"alerting": {
        "route": {"receiver": "ops", "routes": [{"matchers": ['severity="page"'], "receiver": "pager"}]},
        "receivers": [{"name": "ops", "webhook_configs": [{"url": "http://127.0.0.1:9/hook", "retries": 3}]}]}}))
    result = subprocess.run([sys.executable, "-m", "fleetmon", "hub", "check-config", str(path)], capture_output=True,
                            text=True, env={"PYTHONPATH": str(AGENT_SRC)}, timeout=30)
    assert result.returncode == 1
    assert "alerting.route.routes[0].receiver: undefined receiver 'pager'" in result.stderr
    assert "alerting.receivers[0].webhook_configs[0].retries: unknown key" in result.stderr
    path.write_text(yaml.safe_dump({"alerting": {
        "route": {"receiver": "ops"}, "receivers": [{"name": "ops"}],
        "inhibit_rules": [{"source_matchers": ['severity="critical"'], "equal": ["host"]},
                          {"source_matchers": ['severity="critical"'], "target_match_re": {"severity": "warn.*"}}]}}))
    refused = subprocess.run([sys.executable, "-m", "fleetmon", "hub", "check-config", str(path)], capture_output=True,
                             text=True, env={"PYTHONPATH": str(AGENT_SRC)}, timeout=30)
    assert refused.returncode == 1
    assert "alerting.inhibit_rules[0].target_matchers: an inhibit rule needs target matchers" in refused.stderr
    assert "inhibit_rules[1]" not in refused.stderr
    path.write_text(yaml.safe_dump({"alerting": {"route": {"receiver": "ops"}, "receivers": [{"name": "ops"}]}}))
    ok = subprocess.run([sys.executable, "-m", "fleetmon", "hub", "check-config", str(path)], capture_output=True,
                        text=True, env={"PYTHONPATH": str(AGENT_SRC)}, timeout=30)
    assert ok.returncode == 0 and "1 alert receivers" in ok.stdout
