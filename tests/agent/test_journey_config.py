"""The keys of a journey check: a good one reads into typed steps, each mistake names its key path."""

from typing import Any, Dict, List, NamedTuple

import pytest
import yaml

from fleetmon.agent.checks.journey_spec import Extraction, JourneySettings, JourneyStep, parse_json_path
from fleetmon.agent.checks.spec import parse_checks
from fleetmon.agent.config import parse_config
from fleetmon.config_reader import ConfigError, Errors, Node

GOOD = """
checks:
  shop:
    type: journey
    interval: 1m
    timeout: 10s
    secrets:
      password: {file: PASSWORD_FILE}
    steps:
      - name: login
        method: POST
        url: https://shop.example/login
        form: {user: probe, password: "${password}"}
        verify_tls: false
        timeout: 3s
        expect_status: [200, 3xx]
        expect_headers: {Content-Type: "^application/json"}
        expect_json: {"$.user": probe}
        max_latency: 500ms
        extract:
          token: {json: "$.token"}
          next: {header: Location}
          sid: {cookie: session}
          id: {regex: "id=(\\\\d+)"}
      - name: api
        url: "https://shop.example/api/orders/${id}"
        headers: {Authorization: "Bearer ${token}"}
        json: {session: "${sid}", items: [1, "${id}"]}
        body_match: widget
      - name: follow
        url: "${next}"
        follow_redirects: true
      - name: logout
        method: DELETE
        url: https://shop.example/session
        body: "token=${token}"
        always: true
"""


def read(text: str, password_file: str) -> JourneySettings:
    config = parse_config(yaml.safe_load(text.replace("PASSWORD_FILE", password_file)))
    [check] = config.checks
    return check.settings


def test_a_good_journey_reads_every_key(tmp_path):
    secret = tmp_path / "journey.pass"
    secret.write_text("x\n")
    settings = read(GOOD, str(secret))
    assert settings.secrets == (("password", str(secret)),)
    login, api, follow, logout = settings.steps
    assert login == JourneyStep(
        name="login", url="https://shop.example/login", method="POST", form=(("user", "probe"),
                                                                             ("password", "${password}")),
        verify_tls=False, timeout=3.0, expect_status=("200", "3xx"),
        expect_headers=(("Content-Type", "^application/json"),), expect_json=((parse_json_path("$.user"), "probe"),),
        max_latency=0.5, extract=(Extraction("token", "json", "$.token", parse_json_path("$.token")),
                                  Extraction("next", "header", "Location"), Extraction("sid", "cookie", "session"),
                                  Extraction("id", "regex", "id=(\\d+)")))
    assert api.json_body == {"session": "${sid}", "items": [1, "${id}"]} and api.variables == {"id", "sid", "token"}
    assert (api.method, api.expect_status, api.timeout, api.always) == ("GET", ("2xx",), None, False)
    assert follow.follow_redirects and follow.url == "${next}"
    assert logout.always and logout.body == "token=${token}"


def test_the_other_check_keys_still_apply_to_journeys(tmp_path):
    errors = Errors()
    [spec] = parse_checks(Node({"shop": {"type": "journey", "interval": "1m", "timeout": "10s",
                                         "steps": [{"name": "home", "url": "http://127.0.0.1/"}],
                                         "recovery": {"action": "command", "command": "true"}}}, "checks", errors))
    assert not errors
    assert (spec.type, spec.interval, spec.timeout, spec.recovery.action) == ("journey", 60.0, 10.0, "command")


class ConfigCase(NamedTuple):
    name: str
    why: str
    journey: Dict[str, Any]  # the check's keys besides type
    errors: List[str]  # every error, with its key path


def steps(*items: Dict[str, Any]) -> Dict[str, Any]:
    return {"steps": list(items)}


HOME = {"name": "home", "url": "http://127.0.0.1/"}
CASES = [
    ConfigCase("no steps", "a journey is its steps", {}, ["checks.shop.steps: is required: a list of HTTP steps"]),
    ConfigCase("empty steps", "a journey of nothing passes without checking anything", {"steps": []},
               ["checks.shop.steps: must not be empty"]),
    ConfigCase("a step that is no mapping", "each step is a request", steps("http://x/"),
               ["checks.shop.steps[0]: must be a mapping (a step: name, url, ...)"]),
    ConfigCase("no name", "names label the step metrics and the failing step", steps({"url": "http://x/"}),
               ["checks.shop.steps[0].name: is required"]),
    ConfigCase("an empty name", "as no name", steps({"name": "", "url": "http://x/"}),
               ["checks.shop.steps[0].name: step names must match [A-Za-z0-9_.-]+"]),
    ConfigCase("a name metrics cannot carry", "as check names", steps({"name": "log in", "url": "http://x/"}),
               ["checks.shop.steps[0].name: step names must match [A-Za-z0-9_.-]+"]),
    ConfigCase("two steps of one name", "their series would be one", steps(HOME, HOME),
               ["checks.shop.steps[1].name: 'home' is already the name of an earlier step"]),
    ConfigCase("no url", "a step is an HTTP request", steps({"name": "home"}),
               ["checks.shop.steps[0].url: is required"]),
    ConfigCase("not an http url", "only HTTP is spoken", steps({"name": "home", "url": "ftp://x/"}),
               ["checks.shop.steps[0].url: must be an http:// or https:// URL, or start with a ${variable} "
                "(got 'ftp://x/')"]),
    ConfigCase("a key of the http check", "the step's keys are its own; the check level takes steps and secrets",
               {"url": "http://x/", "steps": [HOME]},
               ["checks.shop.url: unknown key (expected one of: interval, recovery, secrets, steps, timeout, type)"]),
    ConfigCase("an unknown step key", "a typo must not pass unnoticed", steps(dict(HOME, expect_body="x")),
               ["checks.shop.steps[0].expect_body: unknown key (expected one of: always, body, body_match, "
                "expect_headers, expect_json, expect_status, extract, follow_redirects, form, headers, json, "
                "max_latency, method, name, timeout, url, verify_tls)"]),
    ConfigCase("two bodies", "a request has one body", steps(dict(HOME, body="a", json={"a": 1})),
               ["checks.shop.steps[0]: takes at most one of body, json and form (got body, json)"]),
    ConfigCase("a method no journey needs", "TRACE and CONNECT are not for probing services",
               steps(dict(HOME, method="TRACE")),
               ["checks.shop.steps[0].method: must be one of: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS "
                "(got 'TRACE')"]),
    ConfigCase("a variable no step extracts", "the step would send '${token}' literally",
               steps(dict(HOME, headers={"Authorization": "Bearer ${token}"})),
               ["checks.shop.steps[0].headers.Authorization: uses ${token}, which no secret and no earlier step's "
                "extract defines"]),
    ConfigCase("a variable extracted later", "steps run in order: the value does not exist yet",
               steps(dict(HOME, url="http://x/${id}"), {"name": "b", "url": "http://x/", "extract": {"id": {
                   "regex": "(\\d+)"}}}),
               ["checks.shop.steps[0].url: uses ${id}, which no secret and no earlier step's extract defines"]),
    ConfigCase("a variable in a form and a JSON body", "each key using it is named",
               steps(dict(HOME, form={"u": "${user}"}), {"name": "b", "url": "http://x/", "json": {"a": ["${v}"]}}),
               ["checks.shop.steps[0].form.u: uses ${user}, which no secret and no earlier step's extract defines",
                "checks.shop.steps[1].json: uses ${v}, which no secret and no earlier step's extract defines"]),
    ConfigCase("an invalid header name", "http.client would refuse it at every run",
               steps(dict(HOME, headers={"Bad Header": "x"})),
               ["checks.shop.steps[0].headers.Bad Header: is not a valid HTTP header name"]),
    ConfigCase("a status that is none", "codes or classes only", steps(dict(HOME, expect_status=[200, "ok"])),
               ["checks.shop.steps[0].expect_status[1]: must be an HTTP status code (like 200) or a class (like 2xx)"]),
    ConfigCase("a bad regex", "found when the config is read, not at each run", steps(dict(HOME, body_match="(")),
               ["checks.shop.steps[0].body_match: bad regular expression: missing ), unterminated subpattern at "
                "position 0"]),
    ConfigCase("a header expectation that is no regex", "its value must match a pattern",
               steps(dict(HOME, expect_headers={"Content-Type": 5})),
               ["checks.shop.steps[0].expect_headers.Content-Type: must be a regular expression the header's value "
                "must match"]),
    ConfigCase("a JSON path that does not start with $", "paths are rooted",
               steps(dict(HOME, expect_json={"token": "x"})),
               ["checks.shop.steps[0].expect_json.token: a JSON path starts with $ (like $.token or $.items[0].id)"]),
    ConfigCase("a zero timeout", "a step that cannot take any time always fails", steps(dict(HOME, timeout=0)),
               ["checks.shop.steps[0].timeout: must be greater than 0"]),
    ConfigCase("an extraction with two sources", "one value comes from one place",
               steps(dict(HOME, extract={"t": {"json": "$.t", "header": "X-T"}})),
               ["checks.shop.steps[0].extract.t: needs exactly one of: json, regex, header, cookie"]),
    ConfigCase("an extraction with no source", "where would the value come from",
               steps(dict(HOME, extract={"t": {}})),
               ["checks.shop.steps[0].extract.t: needs exactly one of: json, regex, header, cookie"]),
    ConfigCase("an unknown extraction source", "the four kinds are json, regex, header, cookie",
               steps(dict(HOME, extract={"t": {"xpath": "//a"}})),
               ["checks.shop.steps[0].extract.t.xpath: unknown key (expected one of: cookie, header, json, regex)",
                "checks.shop.steps[0].extract.t: needs exactly one of: json, regex, header, cookie"]),
    ConfigCase("an extraction from nothing", "an empty header name names no header",
               steps(dict(HOME, extract={"t": {"header": ""}})),
               ["checks.shop.steps[0].extract.t.header: must not be empty"]),
    ConfigCase("an extraction by a number", "a source names a path, pattern, header or cookie",
               steps(dict(HOME, extract={"t": {"cookie": 5}})),
               ["checks.shop.steps[0].extract.t.cookie: must be a string"]),
    ConfigCase("an extraction by a broken JSON path", "the path is read once, here",
               steps(dict(HOME, extract={"t": {"json": "$.a["}})),
               ["checks.shop.steps[0].extract.t.json: cannot read the JSON path from '[' on"]),
    ConfigCase("an extraction by a broken regex", "as body_match",
               steps(dict(HOME, extract={"t": {"regex": "[a-"}})),
               ["checks.shop.steps[0].extract.t.regex: bad regular expression: unterminated character set at "
                "position 0"]),
    ConfigCase("a variable name templates cannot use", "${my-token} is no variable",
               steps(dict(HOME, extract={"my-token": {"json": "$.t"}})),
               ["checks.shop.steps[0].extract.my-token: variable names must match [A-Za-z_][A-Za-z0-9_]* (they are "
                "used as ${name})"]),
    ConfigCase("an extraction into a secret's name", "the extracted value would replace the secret",
               {"secrets": {"password": {"file": "/dev/null"}}, "steps": [dict(HOME, extract={"password": {
                   "json": "$.p"}})]},
               ["checks.shop.steps[0].extract.password: is the name of a secret: an extracted value would take the "
                "secret's place"]),
    ConfigCase("a secret without a file", "secrets come from files, never from the config",
               {"secrets": {"password": {}}, "steps": [HOME]},
               ["checks.shop.secrets.password.file: is required: the file holding the secret (its first line is "
                "the value)"]),
    ConfigCase("a secret written into the config", "a value in the config would be world-readable and published "
               "with it", {"secrets": {"password": {"value": "hunter2"}}, "steps": [HOME]},
               ["checks.shop.secrets.password.value: unknown key (expected one of: file)",
                "checks.shop.secrets.password.file: is required: the file holding the secret (its first line is "
                "the value)"]),
    ConfigCase("a secret file the agent cannot read", "found by check-config, before the first run",
               {"secrets": {"password": {"file": "/nonexistent/journey.pass"}}, "steps": [HOME]},
               ["checks.shop.secrets.password.file: cannot read /nonexistent/journey.pass"]),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_journey_config_errors_name_their_key_path(case):
    errors = Errors()
    specs = parse_checks(Node({"shop": dict(case.journey, type="journey")}, "checks", errors))
    assert list(errors) == case.errors, case.why
    assert specs == []  # a check with errors is left out


def test_check_config_lists_journey_errors_among_the_others():
    with pytest.raises(ConfigError) as raised:
        parse_config({"interval": "x", "checks": {"shop": {"type": "journey", "steps": [{"name": "a"}]}}})
    assert raised.value.errors == ["interval: must be a duration (seconds, or a string like '30s', '5m', '1h')",
                                   "checks.shop.steps[0].url: is required"]
