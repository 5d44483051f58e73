"""Alertmanager's API v2 served by a real hub process (real mosquitto), driven by the real amtool (Debian's 0.25)
as its users run it: ``--alertmanager.url`` at the hub and ``--http.config.file`` with basic auth (a hub user's
name and password) or a bearer token. Alerts are added, queried with matchers and state flags, silenced,
the silences queried, updated and expired, and the config shown and its routing tree read back — each output
checked as amtool prints it. Refusals: a viewer cannot add a silence, nobody without credentials reads a hub
that has users."""

import base64
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.hub.auth.visitor import TOKEN_OF, password_of, users
from tests.polling import wait_until

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
API_TOKEN = "amtool-api-token-0123456789"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ALERTING = {
    "route": {"receiver": "team", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s",
              "routes": [{"matchers": ['severity="critical"'], "receiver": "pager", "continue": True,
                          "escalation": [{"after": "1h", "receivers": ["team"]}]},
                         {"matchers": ['host="h1"'], "receiver": "hosts"},
                         {"matchers": ['team="nobody"'], "receiver": "mail"}]},
    "receivers": [{"name": "team"}, {"name": "pager"}, {"name": "hosts"},
                  {"name": "mail", "email_configs": [{"to": "ops@example.com", "from": "hub@example.com",
                                                      "smarthost": "127.0.0.1:25", "auth_username": "hub",
                                                      "auth_password": "hunter2-smtp"}]}],
    "inhibit_rules": [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
                       "equal": ["host"]}],
    "flapping": {"enabled": False},
}


@pytest.fixture
def hub(start_hub):
    if not os.path.exists(AMTOOL):
        pytest.fail("amtool is not installed: run `make deps`")
    return start_hub({"api": {"token": API_TOKEN}, "auth": {"users": users()}, "alerting": ALERTING})


class Amtool:
    """amtool at the hub, with one http config (or none); its own HOME, so no amtool.yml of the machine counts."""

    def __init__(self, hub, home: Path, http_config: dict | None, name: str) -> None:
        self.hub, self.home = hub, home
        self.args = [f"--alertmanager.url=http://127.0.0.1:{hub.port}"]
        if http_config is not None:
            path = home / f"{name}.yml"
            path.write_text(yaml.safe_dump(http_config))
            self.args.append(f"--http.config.file={path}")

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin"), "TZ": "UTC", "USER": "tester"}
        done = subprocess.run([AMTOOL, *self.args, *args], capture_output=True, text=True, timeout=30, env=env)
        assert (done.returncode == 0) == ok, \
            f"amtool {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done


def basic(name: str) -> dict:
    return {"basic_auth": {"username": name, "password": password_of(name)}}


def bearer(token: str) -> dict:
    return {"authorization": {"type": "Bearer", "credentials": token}}


@pytest.fixture
def amtool(hub, tmp_path):
    def make(http_config: dict | None, name: str = "http") -> Amtool:
        return Amtool(hub, tmp_path, http_config, name)

    return make


def table(output: str) -> list[list[str]]:
    """amtool's simple output: the rows under the header, cells split where two spaces or more part them."""
    lines = [line for line in output.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


def api_alerts(hub) -> list[dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}/api/v2/alerts",
                                     headers={"Authorization": f"Bearer {API_TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def add_alerts(operator: Amtool, hub) -> None:
    operator.run("alert", "add", "alertname=DiskFull", "severity=critical", "host=h1",
                 "--annotation=summary=disk full on h1")
    operator.run("alert", "add", "alertname=DiskFull", "severity=warning", "host=h1",
                 "--annotation=summary=disk filling on h1")
    operator.run("alert", "add", "alertname=CpuHigh", "host=h2", "--annotation=summary=cpu busy on h2")
    wait_until(lambda: len(api_alerts(hub)) == 3, timeout=10, message="the three alerts in the hub")


def test_amtool_adds_and_queries_alerts_by_matchers_and_state(hub, amtool):
    operator, viewer = amtool(basic("otto"), "otto"), amtool(basic("vera"), "vera")
    add_alerts(operator, hub)
    silence_id = operator.run("silence", "add", "host=h2", "--comment=cpu work", "--duration=1h").stdout.strip()
    assert UUID.match(silence_id), silence_id

    # Without flags amtool asks for the active alerts only: the critical disk alert (the warning is inhibited by
    # it, the cpu alert silenced).
    rows = table(viewer.run("alert", "query").stdout)
    assert [(r[0], r[2], r[3]) for r in rows] == [("DiskFull", "disk full on h1", "active")]
    assert [r[0] for r in table(viewer.run("alert", "query", "-s").stdout)] == ["CpuHigh"]
    assert [r[2] for r in table(viewer.run("alert", "query", "-i").stdout)] == ["disk filling on h1"]
    assert sorted(r[2] for r in table(viewer.run("alert", "query", "-a", "-s", "-i").stdout)) == [
        "cpu busy on h2", "disk filling on h1", "disk full on h1"]
    # A first argument without an operator is the alertname; then matchers, regexes and the receiver regex.
    assert [r[2] for r in table(viewer.run("alert", "query", "-i", "-a", "DiskFull", "severity=~warn.*").stdout)] \
        == ["disk filling on h1"]
    assert table(viewer.run("alert", "query", "-a", "-i", "-s", "host!~h.").stdout) == []
    assert [r[0] for r in table(viewer.run("alert", "query", "-a", "--receiver=pag.*").stdout)] == ["DiskFull"]

    shown = json.loads(viewer.run("-o", "json", "alert", "query", "-a", "-s", "-i").stdout)
    by_host = {(a["labels"]["host"], a["labels"].get("severity", "")): a for a in shown}
    critical = by_host[("h1", "critical")]
    assert [r["name"] for r in critical["receivers"]] == ["pager", "hosts"]  # tree order: pager continues
    assert by_host[("h1", "warning")]["status"] == {"state": "suppressed", "silencedBy": [],  # amtool 0.25 knows
                                                     "inhibitedBy": [critical["fingerprint"]]}  # no mutedBy
    assert by_host[("h2", "")]["status"]["silencedBy"] == [silence_id]
    refused = viewer.run("alert", "query", "DiskFull", "host=~(", ok=False).stderr  # the hub's 400, as amtool says it
    assert "invalid regular expression" in refused, refused


def test_amtool_adds_queries_updates_and_expires_silences(hub, amtool):
    operator = amtool(basic("otto"), "otto")
    add_alerts(operator, hub)
    first = operator.run("silence", "add", "--author=otto", "--comment=disk swap", "--duration=2h",
                         "alertname=DiskFull", "host=~h[0-9]").stdout.strip()
    second = operator.run("silence", "add", "--author=ana", "--comment=cpu work", "--duration=1h",
                          "host=h2").stdout.strip()
    rows = table(operator.run("silence", "query").stdout)
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [  # by end: the shorter one first
        (second, 'host="h2"', "ana", "cpu work"), (first, 'alertname="DiskFull" host=~"h[0-9]"', "otto", "disk swap")]
    assert operator.run("silence", "query", "-q", "host=h2").stdout.split() == [second]
    assert operator.run("silence", "query", "-q", "DiskFull").stdout.split() == [first]  # alertname="DiskFull"
    # A filter names one of a silence's matchers as it is: host="h1" is none (the silence has host=~"h[0-9]").
    assert operator.run("silence", "query", "-q", "host=h1").stdout.split() == []
    assert operator.run("silence", "query", "-q", "host=~h[0-9]").stdout.split() == [first]
    # -s alone leaves out the inhibited warning, silenced or not; amtool lists by start.
    assert [r[2] for r in table(operator.run("alert", "query", "-s").stdout)] == ["disk full on h1", "cpu busy on h2"]

    # (amtool 0.25's update -q prints a pointer, not the id: its json output says it.)
    answer = operator.run("-o", "json", "silence", "update", "--comment=disk swap, longer", "--duration=3h", first)
    [updated] = [s["id"] for s in json.loads(answer.stdout)]
    assert UUID.match(updated)
    now_shown = {s["id"]: s for s in json.loads(operator.run("-o", "json", "silence", "query").stdout)}
    assert now_shown[updated]["comment"] == "disk swap, longer" and now_shown[updated]["status"]["state"] == "active"
    assert set(now_shown) == {updated, second}  # an update in place, or a replacement whose old one expired

    operator.run("silence", "expire", second)
    assert operator.run("silence", "query", "-q").stdout.split() == [updated]
    assert second in operator.run("silence", "query", "-q", "--expired").stdout.split()
    assert [r[0] for r in table(operator.run("alert", "query").stdout)] == ["CpuHigh"]  # no longer silenced
    operator.run("silence", "expire", second)  # expiring again changes nothing and is no error
    missing = operator.run("silence", "expire", "00000000-0000-4000-8000-000000000000", ok=False).stderr
    assert "status 404" in missing, missing  # amtool 0.25 knows no 404 here and says so


def test_amtool_shows_the_config_without_secrets_or_fleetmon_keys_and_reads_its_routes(hub, amtool):
    viewer = amtool(bearer(TOKEN_OF["vera"]), "vera-token")
    shown = viewer.run("config", "show").stdout
    assert "hunter2-smtp" not in shown and "auth_password: <secret>" in shown
    original = yaml.safe_load(shown)
    assert set(original) == {"route", "receivers", "inhibit_rules"}  # flapping is fleetmon's
    assert "escalation" not in original["route"]["routes"][0]
    assert original["route"]["routes"][0]["receiver"] == "pager"
    extended = viewer.run("-o", "extended", "config", "show").stdout
    # (amtool 0.25 prints the version fields as pointers; the uptime it prints as the hub said.)
    assert re.search(r"^uptime \d{4}-\d\d-\d\dT", extended, re.MULTILINE) and "goVersion" in extended, extended
    routes = viewer.run("config", "routes").stdout
    assert "Routing tree:" in routes and "pager" in routes and 'team="nobody"' in routes
    tested = viewer.run("config", "routes", "test", "severity=critical", "host=h1").stdout.strip()
    assert tested == "pager,hosts"  # pager continues to its next sibling
    assert viewer.run("config", "routes", "test", "team=nobody").stdout.strip() == "mail"


def test_refusals_by_role_and_without_credentials(hub, amtool):
    viewer, nobody = amtool(basic("vera"), "vera"), amtool(None)
    wrong = amtool({"basic_auth": {"username": "otto", "password": "not otto's"}}, "wrong")
    bearer_operator = amtool(bearer(TOKEN_OF["otto"]), "otto-token")
    refused = viewer.run("silence", "add", "--comment=nope", "host=h1", ok=False)
    assert "403" in refused.stderr or "Forbidden" in refused.stderr, refused.stderr
    assert nobody.run("alert", "query", ok=False).returncode != 0
    assert wrong.run("silence", "query", ok=False).returncode != 0
    assert bearer_operator.run("silence", "query", "-q").stdout.split() == []  # the viewer's try left nothing

    def status(path: str, headers: dict[str, str], method: str = "GET", body: bytes | None = None) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{hub.port}{path}", headers=headers, method=method,
                                         data=body)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status("/api/v2/alerts", {}) == 401  # a hub with users lets no anonymous reader in
    assert status("/api/v2/status", {"Authorization": "Basic bm90LWJhc2U2NA=="}) == 401  # no colon inside
    silence = json.dumps({"matchers": [{"name": "host", "value": "h1", "isRegex": False}],
                          "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z",
                          "createdBy": "otto", "comment": "form post"}).encode()
    otto = "Basic " + base64.b64encode(f"otto:{password_of('otto')}".encode()).decode()
    # A form of another site can post text/plain with basic credentials a browser kept: refused.
    assert status("/api/v2/silences", {"Authorization": otto, "Content-Type": "text/plain"}, "POST", silence) == 415
    assert status("/api/v2/silences", {"Authorization": otto, "Content-Type": "application/json"}, "POST",
                  silence) == 200
    pending = json.loads(bearer_operator.run("-o", "json", "silence", "query").stdout)
    assert [(s["comment"], s["status"]["state"]) for s in pending] == [("form post", "pending")]
