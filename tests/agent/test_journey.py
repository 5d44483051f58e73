"""Journeys against a real web application written for the test: login form -> token -> API call -> logout.

The application is tests/agent/journey_shop.py's ``ShopApp``; the agent's end-to-end tests and the hub's
multi-location test drive it too.
"""

import json
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any, Dict, List, NamedTuple
from urllib.parse import parse_qs

import jsonschema
import pytest

from fleetmon.agent.checks.journey import REDACTED, redactor
from fleetmon.agent.checks.journey_spec import parse_json_path
from fleetmon.agent.checks.probes import run_check
from fleetmon.agent.checks.spec import parse_checks
from fleetmon.config_reader import Errors, Node
from fleetmon.protocol.check_results import result_metrics, result_to_json
from fleetmon.protocol.metricset import MetricSet
from tests.agent.journey_shop import PASSWORD, ShopApp, shop_journey

SCHEMAS = Path(__file__).resolve().parents[2] / "agent" / "fleetmon" / "protocol" / "schemas"
@pytest.fixture
def shop():
    app = ShopApp().start()
    yield app
    app.stop()


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "journey.pass"
    path.write_text(PASSWORD + "\n")
    return path


def check(settings: Dict[str, Any], name: str = "shop"):
    """A CheckSpec read through the real config schema, so tests use what users write."""
    errors = Errors()
    specs = parse_checks(Node({name: settings}, "checks", errors))
    assert not errors, errors
    return specs[0]


def statuses(result) -> List[tuple]:
    return [(step.index, step.name, step.status) for step in result.steps]


# --- the journey ---------------------------------------------------------------------------------


def test_a_passing_journey_walks_from_the_login_form_to_logout_with_each_steps_timings(shop, password_file):
    result = run_check(check(shop_journey(shop.url, password_file)))
    assert result.ok, result.message
    assert result.type == "journey" and result.message.startswith("4 steps passed in ")
    assert statuses(result) == [(1, "form", "ok"), (2, "token", "ok"), (3, "orders", "ok"), (4, "logout", "ok")]
    for step in result.steps:
        timings = step.timings
        assert None not in (timings.dns, timings.connect, timings.first_byte, timings.total), step
        assert timings.tls is None  # plain http: no handshake
        assert timings.dns + timings.connect + timings.first_byte <= timings.total
    assert [step.http_status for step in result.steps] == [200, 200, 200, 204]
    assert result.steps[1].message == f"POST {shop.url}/login: 200 in {result.steps[1].timings.total * 1000:.0f} ms"
    assert result.value == pytest.approx(sum(step.timings.total for step in result.steps))
    assert shop.logouts == [""]


def test_a_journey_broken_at_step_2_names_step_2_and_the_reason(shop, password_file):
    shop.login_down = True
    result = run_check(check(shop_journey(shop.url, password_file)))
    assert not result.ok
    assert result.message.startswith(f"step 2 (token) failed: POST {shop.url}/login: 503 in ")
    assert result.message.endswith(", expected status 2xx: login service down")
    assert result.failed_step.index == 2 and result.failed_step.http_status == 503
    # orders is skipped for the failure; logout (always) for want of the token step 2 never extracted
    assert statuses(result) == [(1, "form", "ok"), (2, "token", "fail"), (3, "orders", "skipped"),
                                (4, "logout", "skipped")]
    assert result.steps[2].message == "not run: step 2 failed"
    assert result.steps[3].message == "not run: ${token} never set"
    assert shop.logouts == []


def test_a_slow_step_fails_on_its_latency_bound(shop, password_file):
    journey = shop_journey(shop.url, password_file)
    journey["steps"][2]["max_latency"] = "100ms"
    shop.orders_delay = 0.4
    result = run_check(check(journey))
    assert not result.ok
    assert result.failed_step.name == "orders"
    assert result.message.endswith(", slower than 0.1s")
    assert result.failed_step.timings.total >= 0.4
    assert result.steps[3].status == "ok"  # logout still ran: it is an always step


def test_always_steps_run_after_a_failure_and_say_so(shop, password_file):
    shop.failing_probes = {"probe-a"}
    result = run_check(check(shop_journey(shop.url, password_file, probe="probe-a")))
    assert statuses(result) == [(1, "form", "ok"), (2, "token", "ok"), (3, "orders", "fail"), (4, "logout", "ok")]
    assert result.steps[3].always and not result.steps[2].always
    assert "orders backend unavailable for probe-a" in result.message
    assert shop.logouts == ["probe-a"]  # the session was closed although the journey failed


def test_every_extraction_kind_carries_its_value_into_later_steps(shop, password_file):
    result = run_check(check(shop_journey(shop.url, password_file)))
    assert result.ok, result.message
    [orders] = shop.seen["GET /api/orders"]
    assert orders["Authorization"] == "Bearer " + shop.issued["token"]  # json: $.token
    assert orders["X-Request"] == shop.issued["request_id"]  # header: X-Request-Id
    assert orders["X-Session"] == shop.issued["session"]  # cookie: session
    assert f"session={shop.issued['session']}" in orders["Cookie"]  # and the jar sent the cookie itself
    assert [step.extracted for step in result.steps] == [("csrf", "sid"), ("token", "request_id"), ("order",), ()]
    # regex: the csrf of the form reached the login (else the shop answers 403); names only are published
    assert result.steps[1].http_status == 200


def test_a_secret_a_server_echoes_is_hidden_in_the_result(shop, tmp_path):
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("hunter2&co\n")
    result = run_check(check(shop_journey(shop.url, wrong)))
    assert not result.ok and result.failed_step.name == "token"
    assert result.message.endswith(f": 401 in {result.failed_step.timings.total * 1000:.0f} ms, expected status "
                                   f"2xx: wrong password {REDACTED} for alice")
    published = json.dumps(result_to_json(result, 1))
    for form in ("hunter2&co", "hunter2%26co", "hunter2"):
        assert form not in published


def test_an_unreadable_secret_fails_the_run_without_sending_anything(shop, password_file):
    spec = check(shop_journey(shop.url, password_file))
    password_file.unlink()  # readable when the config was read, gone at the run
    result = run_check(spec)
    assert not result.ok
    assert result.message == f"cannot read secret password from {password_file}: No such file or directory"
    assert {step.status for step in result.steps} == {"skipped"} and shop.seen == {}


def test_a_rotated_secret_is_read_at_the_next_run(shop, password_file):
    spec = check(shop_journey(shop.url, password_file))
    password_file.write_text("an-old-password\n")
    assert not run_check(spec).ok
    password_file.write_text(PASSWORD + "\n")
    assert run_check(spec).ok


def test_json_form_and_raw_bodies_carry_variables_and_a_literal_dollar_brace(shop, password_file):
    form_step = {"name": "form", "url": shop.url + "/login", "extract": {"csrf": {"regex": 'value="([0-9a-f]+)"'}}}
    echo = {"method": "POST", "url": shop.url + "/echo"}
    result = run_check(check({"type": "journey", "secrets": {"password": {"file": str(password_file)}}, "steps": [
        form_step,
        dict(echo, name="json", json={"csrf": "${csrf}", "nested": [1, {"k": "$${csrf}"}]},
             expect_json={"$.content_type": "application/json"}),
        dict(echo, name="form-body", form={"password": "${password}"},
             expect_json={"$.content_type": "application/x-www-form-urlencoded"}),
        dict(echo, name="raw", body="csrf=${csrf}", headers={"Content-Type": "text/plain"},
             expect_json={"$.content_type": "text/plain"})]}))
    assert result.ok, result.message
    json_body, form_body, raw_body = shop.bodies["POST /echo"]
    assert json.loads(json_body) == {"csrf": shop.issued["csrf"], "nested": [1, {"k": "${csrf}"}]}
    assert parse_qs(form_body) == {"password": [PASSWORD]}  # form values are encoded, the secret intact
    assert raw_body == "csrf=" + shop.issued["csrf"]


def test_redirects_are_followed_only_when_the_step_asks(shop):
    moved = {"name": "moved", "url": shop.url + "/moved", "body_match": "csrf"}
    reported = run_check(check({"type": "journey", "steps": [moved]}))
    assert not reported.ok and ": 302 in " in reported.message
    followed = run_check(check({"type": "journey", "steps": [dict(moved, follow_redirects=True)]}))
    assert followed.ok, followed.message
    assert followed.steps[0].message.startswith(f"GET {shop.url}/login: 200")  # the final URL
    assert len(shop.seen["GET /moved"]) == 2 and len(shop.seen["GET /login"]) == 1


def test_a_step_gives_up_at_its_timeout_with_the_phases_it_reached(shop):
    result = run_check(check({"type": "journey", "steps": [
        {"name": "hang", "url": shop.url + "/hang", "timeout": "300ms"}]}))
    assert not result.ok
    assert result.message == f"step 1 (hang) failed: GET {shop.url}/hang: no complete response within 0.3s"
    timings = result.steps[0].timings
    assert timings.connect is not None and timings.first_byte is None and timings.total >= 0.3


def test_a_refused_connection_fails_in_the_connect_phase():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_check(check({"type": "journey", "steps": [{"name": "down", "url": f"http://127.0.0.1:{port}/"}]}))
    assert result.message == f"step 1 (down) failed: GET http://127.0.0.1:{port}/: connect to 127.0.0.1:{port} " \
                             "failed: Connection refused"
    assert result.steps[0].timings.dns is not None and result.steps[0].timings.connect is None


def test_the_tls_handshake_is_a_phase_of_its_own(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
    app = ShopApp()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    app.server.socket = context.wrap_socket(app.server.socket, server_side=True)
    app.start()
    try:
        url = f"https://127.0.0.1:{app.server.server_address[1]}/login"
        untrusted = run_check(check({"type": "journey", "steps": [{"name": "form", "url": url}]}))
        trusting = run_check(check({"type": "journey", "steps": [{"name": "form", "url": url, "verify_tls": False}]}))
    finally:
        app.stop()
    assert not untrusted.ok and "certificate of 127.0.0.1:" in untrusted.message and "not trusted" in untrusted.message
    assert untrusted.steps[0].timings.tls is None and untrusted.steps[0].timings.connect is not None
    assert trusting.ok, trusting.message
    assert trusting.steps[0].timings.tls is not None and trusting.steps[0].timings.tls > 0


# --- published forms -----------------------------------------------------------------------------


def test_a_journey_result_becomes_step_metrics_and_a_checks_message_of_the_schema(shop, password_file):
    shop.failing_probes = {"probe-a"}
    result = run_check(check(shop_journey(shop.url, password_file, probe="probe-a")))
    out = MetricSet()
    result_metrics(result, 1, out)
    assert out.get("fleetmon_check_up", check="shop", type="journey") == 0
    assert out.get("fleetmon_journey_step_up", check="shop", step="token") == 1
    assert out.get("fleetmon_journey_step_up", check="shop", step="orders") == 0
    for phase in ("dns", "connect", "first_byte", "total"):
        assert out.get("fleetmon_journey_step_duration_seconds", check="shop", step="form", phase=phase) >= 0
    assert out.get("fleetmon_journey_step_duration_seconds", check="shop", step="form", phase="tls") is None
    entry = result_to_json(result, 1)
    assert entry["steps"][2] == {"index": 3, "name": "orders", "status": "fail", "message": result.steps[2].message,
                                 "http_status": 503, "timings_s": entry["steps"][2]["timings_s"], "extracted": [],
                                 "always": False}
    assert set(entry["steps"][0]["timings_s"]) == {"dns", "connect", "first_byte", "total"}
    message = {"v": 1, "type": "checks", "host": "probe-a", "session": 1, "seq": 1, "ts": 1700000001.0,
               "results": [entry]}
    jsonschema.Draft202012Validator(json.loads((SCHEMAS / "checks.json").read_text())).validate(message)


def test_a_skipped_step_publishes_no_series():
    from fleetmon.protocol.check_results import CheckResult, StepResult

    steps = (StepResult(1, "login", "fail", "500"), StepResult(2, "api", "skipped", "not run: step 1 failed"))
    out = MetricSet()
    result_metrics(CheckResult("shop", "journey", False, "step 1 (login) failed: 500", 0.0, 0.1, 0.1, steps), 1, out)
    assert out.get("fleetmon_journey_step_up", check="shop", step="login") == 0
    assert out.get("fleetmon_journey_step_up", check="shop", step="api") is None


# --- the small grammars --------------------------------------------------------------------------


class PathCase(NamedTuple):
    path: str
    why: str
    found: bool
    value: Any = None


DOCUMENT = {"token": "t0k", "items": [{"id": 7, "tags": ["a", "b"]}, {"id": 8}], "odd key": {"x.y": 1},
            "empty": None}
PATHS = [
    PathCase("$.token", "a key of the top object", True, "t0k"),
    PathCase("$.items[0].id", "a key inside a list item", True, 7),
    PathCase("$.items[-1].id", "negative indices count from the end, as in Python", True, 8),
    PathCase("$.items[0].tags[1]", "lists inside lists", True, "b"),
    PathCase("$['odd key'][\"x.y\"]", "quoted keys hold dots and spaces", True, 1),
    PathCase("$.empty", "a key whose value is null is found", True, None),
    PathCase("$", "the whole document", True, DOCUMENT),
    PathCase("$.missing", "an absent key", False),
    PathCase("$.items[2]", "an index past the end", False),
    PathCase("$.token[0]", "an index into a string is no list index", False),
    PathCase("$.items.id", "a key of a list", False),
]


@pytest.mark.parametrize("case", PATHS, ids=[case.path for case in PATHS])
def test_json_paths(case):
    assert parse_json_path(case.path).find(DOCUMENT) == (case.found, case.value), case.why


@pytest.mark.parametrize("text", ["token", "$.", "$.a[", "$[x]", "$.a b"])
def test_json_paths_that_do_not_parse(text):
    with pytest.raises(ValueError):
        parse_json_path(text)


class RedactCase(NamedTuple):
    text: str
    why: str
    expected: str


REDACTIONS = [
    RedactCase('wrong password s3cret&pa55 "word"/x', "the value as it is", f"wrong password {REDACTED}"),
    RedactCase("password=s3cret%26pa55+%22word%22%2Fx", "as a form encodes it", f"password={REDACTED}"),
    RedactCase("/login?p=s3cret%26pa55%20%22word%22%2Fx", "as a URL quotes it", f"/login?p={REDACTED}"),
    RedactCase('{"p": "s3cret&pa55 \\"word\\"/x"}', "inside a JSON string", f'{{"p": "{REDACTED}"}}'),
    RedactCase("nothing to hide", "other text is left alone", "nothing to hide"),
]


@pytest.mark.parametrize("case", REDACTIONS, ids=[case.why for case in REDACTIONS])
def test_secrets_are_hidden_in_every_quoted_form(case):
    assert redactor([PASSWORD])(case.text) == case.expected
