"""Every check type against a real peer on 127.0.0.1, and the two forms a result is published in."""

import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import psutil
import pytest

from fleetmon.agent.checks.probes import certificate_not_after, run_check
from fleetmon.agent.checks.spec import parse_checks
from fleetmon.config_reader import Errors, Node
from fleetmon.protocol.check_results import (
    CheckResult,
    next_consecutive_failures,
    result_metrics,
    result_to_json,
)
from fleetmon.protocol.metricset import MetricSet
from tests.conftest import free_port
from tests.polling import wait_until

SCHEMAS = Path(__file__).resolve().parents[2] / "agent" / "fleetmon" / "protocol" / "schemas"


def check(check_name="probe", **settings):
    """A CheckSpec read through the real config schema, so tests use what users write."""
    errors = Errors()
    specs = parse_checks(Node({check_name: settings}, "checks", errors))
    assert not errors, errors
    return specs[0]


def closed_port():
    return free_port()  # nothing listens there: the check is refused


# --- tcp -------------------------------------------------------------------------------------------


def test_tcp_passes_against_a_listening_socket_and_reports_the_connect_latency():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        result = run_check(check(type="tcp", port=server.getsockname()[1]))
    assert result.ok, result.message
    assert result.value is not None and result.value >= 0
    assert "connected to 127.0.0.1:" in result.message


def test_tcp_fails_on_a_closed_port_with_the_reason():
    port = closed_port()
    result = run_check(check(type="tcp", port=port))
    assert not result.ok
    assert result.message == f"connect to 127.0.0.1:{port} failed: Connection refused"
    assert result.value is None


# --- http ------------------------------------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    release = threading.Event()  # lets the slow page finish when the test is done

    def do_GET(self):
        if self.path == "/healthz":
            self.reply(200, b'{"status": "healthy", "models": 3}')
        elif self.path == "/broken":
            self.reply(500, b"database unavailable")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/healthz")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            self.release.wait(10)
            self.reply(200, b"finally")
        elif self.path == "/headers":
            self.reply(200, "{}|{}".format(self.headers["X-Probe"], self.headers["User-Agent"]).encode())
        else:
            self.reply(404, b"not found")

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep the test output readable


def serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def http_base():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    serve(server)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    Handler.release.set()
    server.shutdown()
    server.server_close()
    Handler.release.clear()


def test_http_passes_on_an_expected_status_and_reports_latency(http_base):
    result = run_check(check(type="http", url=http_base + "/healthz"))
    assert result.ok, result.message
    assert result.message.startswith(f"GET {http_base}/healthz: 200 in ")
    assert result.value is not None and result.value > 0


def test_http_fails_on_a_server_error(http_base):
    result = run_check(check(type="http", url=http_base + "/broken"))
    assert not result.ok
    assert "500" in result.message and "expected status 2xx" in result.message


def test_http_accepts_statuses_the_user_lists(http_base):
    assert run_check(check(type="http", url=http_base + "/broken", expect_status=[500, "2xx"])).ok
    moved = run_check(check(type="http", url=http_base + "/moved"))
    assert not moved.ok and ": 302 in " in moved.message  # redirects are reported, not followed
    assert run_check(check(type="http", url=http_base + "/moved", expect_status=["3xx"])).ok


def test_http_body_must_match_the_regex(http_base):
    assert run_check(check(type="http", url=http_base + "/healthz", body_match=r'"status": "healthy"')).ok
    result = run_check(check(type="http", url=http_base + "/healthz", body_match=r'"status": "degraded"'))
    assert not result.ok
    assert "body does not match" in result.message


def test_http_sends_the_configured_headers_and_a_user_agent(http_base):
    assert run_check(check(type="http", url=http_base + "/headers", headers={"X-Probe": "fleetmon"},
                           body_match=r"^fleetmon\|fleetmon-check/\d")).ok
    assert run_check(check(type="http", url=http_base + "/headers",
                           headers={"X-Probe": "a", "user-agent": "lab-probe"},
                           body_match=r"^a\|lab-probe$")).ok


def test_http_gives_up_on_a_slow_handler_at_the_timeout(http_base):
    result = run_check(check(type="http", url=http_base + "/slow", timeout="300ms"))
    assert not result.ok
    assert result.message == f"GET {http_base}/slow timed out after 0.3s"
    assert result.duration_s < 10  # it did not wait for the handler


def test_http_fails_when_nothing_listens():
    result = run_check(check(type="http", url=f"http://127.0.0.1:{closed_port()}/"))
    assert not result.ok
    assert "Connection refused" in result.message


def test_http_max_latency_turns_a_slow_answer_into_a_failure(http_base):
    Handler.release.set()  # the slow page answers at once; a max_latency of 1 microsecond still trips
    result = run_check(check(type="http", url=http_base + "/slow", max_latency=0.000001))
    assert not result.ok
    assert "slower than 1e-06s" in result.message


# --- tls -------------------------------------------------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def make_certificate(directory, days, name="cert"):
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", str(days), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate valid for 30 days."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI")
    cert, key = make_certificate(tmp_path_factory.mktemp("tls"), days=30)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serve(server)
    yield server.server_address[1], str(cert)
    server.shutdown()
    server.server_close()


def test_tls_reports_the_time_left_on_a_trusted_certificate(tls_server):
    port, ca_file = tls_server
    result = run_check(check(type="tls", host="127.0.0.1", port=port, server_name="localhost",
                             ca_file=ca_file))
    assert result.ok, result.message
    assert 29 * 86400 < result.value <= 30 * 86400
    assert re.search(r"expires in (29\.\d|30\.0) days", result.message)


def test_tls_fails_when_fewer_days_are_left_than_min_days(tls_server):
    port, ca_file = tls_server
    result = run_check(check(type="tls", host="127.0.0.1", port=port, server_name="localhost",
                             ca_file=ca_file, min_days=45))
    assert not result.ok
    assert "less than 45" in result.message
    assert result.value > 29 * 86400  # the expiry is still reported, for the metric


def test_tls_refuses_an_untrusted_certificate_unless_told_not_to_verify(tls_server):
    port, _ = tls_server
    untrusted = run_check(check(type="tls", host="127.0.0.1", port=port))
    assert not untrusted.ok
    assert "not trusted" in untrusted.message and "self" in untrusted.message
    unverified = run_check(check(type="tls", host="127.0.0.1", port=port, verify=False))
    assert unverified.ok, unverified.message
    assert 29 * 86400 < unverified.value <= 30 * 86400


def test_tls_verifies_the_server_name(tls_server):
    port, ca_file = tls_server
    result = run_check(check(type="tls", host="127.0.0.1", port=port, server_name="api.example.org",
                             ca_file=ca_file))
    assert not result.ok
    assert "not trusted" in result.message and "api.example.org" in result.message


def test_tls_fails_on_a_closed_port():
    result = run_check(check(type="tls", host="127.0.0.1", port=closed_port(), verify=False))
    assert not result.ok and "Connection refused" in result.message


def test_https_checks_use_the_same_trust_rules(tls_server):
    port, _ = tls_server
    refused = run_check(check(type="http", url=f"https://localhost:{port}/healthz"))
    assert not refused.ok and "certificate not trusted" in refused.message
    assert run_check(check(type="http", url=f"https://localhost:{port}/healthz", verify_tls=False)).ok


@needs_openssl
@pytest.mark.parametrize("days", [1, 400, 30000])  # 30000 days ends after 2049: GeneralizedTime
def test_certificate_expiry_is_read_as_openssl_reads_it(tmp_path, days):
    cert, _ = make_certificate(tmp_path, days)
    end = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-enddate"], check=True,
                         capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    assert certificate_not_after(der) == ssl.cert_time_to_seconds(end)


# --- dns -------------------------------------------------------------------------------------------


def test_dns_resolves_localhost_with_the_expected_address():
    result = run_check(check(type="dns", name="localhost", expect=["127.0.0.1"]))
    assert result.ok, result.message
    assert "127.0.0.1" in result.message
    assert result.value is not None


def test_dns_fails_when_an_expected_address_is_missing():
    result = run_check(check(type="dns", name="localhost", expect=["127.0.0.2"]))
    assert not result.ok
    assert "missing 127.0.0.2" in result.message


def test_dns_fails_on_a_name_that_cannot_exist():
    result = run_check(check(type="dns", name="fleetmon-check.invalid", timeout="3s"))
    assert not result.ok
    assert result.message.startswith(("cannot resolve fleetmon-check.invalid (A): ",
                                      "resolving fleetmon-check.invalid (A) timed out"))


# --- ping ------------------------------------------------------------------------------------------

needs_ping = pytest.mark.skipif(shutil.which("ping") is None,
                                reason="needs the system ping (apt-get install iputils-ping)")


@needs_ping
def test_ping_reports_the_round_trip_time_to_loopback():
    result = run_check(check(type="ping", host="127.0.0.1", count=2, timeout="5s"))
    assert result.ok, result.message
    assert result.value is not None and result.value > 0
    assert result.message.startswith("ping 127.0.0.1: ")


@needs_ping
def test_ping_fails_for_an_unknown_host():
    result = run_check(check(type="ping", host="fleetmon-check.invalid", timeout="3s"))
    assert not result.ok
    assert result.message.startswith("ping fleetmon-check.invalid: ")


def test_ping_without_the_ping_binary_fails_clearly(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_check(check(type="ping", host="127.0.0.1"))
    assert not result.ok
    assert result.message == "ping 127.0.0.1: ping: command not found"


# --- process ---------------------------------------------------------------------------------------


def test_process_finds_this_test_run_by_pattern():
    own_command_line = " ".join(psutil.Process().cmdline())
    result = run_check(check(type="process", pattern=re.escape(own_command_line)))
    assert result.ok, result.message
    assert result.value >= 1


def test_process_finds_a_process_by_exact_name():
    own_name = psutil.Process().name()
    assert run_check(check(type="process", name=own_name)).ok
    assert not run_check(check(type="process", name=own_name[:-1])).ok  # matched whole, not as a prefix


def test_process_fails_when_too_few_run():
    missing = run_check(check(type="process", name="no-such-daemon-xyz"))
    assert not missing.ok
    assert missing.message == "0 processes with name 'no-such-daemon-xyz', expected at least 1"
    assert missing.value == 0
    own_command_line = " ".join(psutil.Process().cmdline())
    assert not run_check(check(type="process", pattern=re.escape(own_command_line), min_count=1000)).ok


# --- command ---------------------------------------------------------------------------------------


def test_command_passes_on_exit_zero_and_shows_its_output():
    result = run_check(check(type="command", command="echo all good"))
    assert result.ok
    assert result.message == "all good"
    assert result.value == 0


def test_command_fails_on_another_exit_code_unless_allowed():
    failed = run_check(check(type="command", command="echo degraded >&2; exit 3"))
    assert not failed.ok
    assert (failed.message, failed.value) == ("degraded", 3)
    allowed = run_check(check(type="command", command="exit 3", ok_exit_codes=[0, 3]))
    assert allowed.ok and allowed.message == "exit 3"


def test_command_output_is_cut_to_200_characters():
    result = run_check(check(type="command", command=[sys.executable, "-c", "print('x' * 5000)"]))
    assert result.ok and result.message == "x" * 200


def test_command_is_killed_at_the_timeout_with_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    result = run_check(check(type="command", timeout="2s",
                             command=f"sleep 60 & echo $! > {pid_file}; echo waiting; wait"))
    assert not result.ok
    assert result.message == "timed out after 2s: waiting"
    assert result.value is None
    child = int(pid_file.read_text())

    def dead() -> bool:
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    # The check returns at the pipe's end of file, which the child's exit closes a moment before the
    # kernel has finished that exit (its state reads "running" meanwhile): wait for the death itself.
    wait_until(dead, timeout=5, message="the child killed with its group")


def test_command_that_does_not_exist_fails_clearly():
    result = run_check(check(type="command", command=["/nonexistent/healthcheck"]))
    assert not result.ok
    assert result.message == "/nonexistent/healthcheck: command not found"


# --- systemd ---------------------------------------------------------------------------------------

systemd_runs = os.path.isdir("/run/systemd/system")


@pytest.mark.skipif(systemd_runs, reason="this host runs systemd; the next test covers it")
def test_systemd_fails_clearly_when_the_unit_state_cannot_be_read():
    result = run_check(check(type="systemd", unit="fleetmon-test.service"))
    assert not result.ok
    assert result.message.startswith("cannot read the state of fleetmon-test.service: ")


@pytest.mark.skipif(not systemd_runs, reason="needs systemd as the init system (lab hosts)")
def test_systemd_reports_the_state_of_a_unit_that_is_not_active():
    result = run_check(check(type="systemd", unit="fleetmon-no-such-unit.service"))
    assert not result.ok
    assert result.message == "fleetmon-no-such-unit.service is inactive"


# --- results ---------------------------------------------------------------------------------------


def test_a_result_carries_its_name_type_and_timing():
    before = time.time()
    result = run_check(check(check_name="mqtt-port", type="tcp", port=closed_port()))
    assert (result.name, result.type) == ("mqtt-port", "tcp")
    assert before <= result.started_at <= time.time()
    assert result.duration_s >= 0


def test_results_become_catalogue_metrics():
    out = MetricSet()
    result_metrics(CheckResult("cert", "tls", False, "expires soon", 1700000000.0, 0.25, 86400.0), 3, out)
    result_metrics(CheckResult("web", "http", True, "200", 1700000000.0, 0.5, 0.5), 0, out)
    assert out.get("fleetmon_check_up", check="cert", type="tls") == 0
    assert out.get("fleetmon_check_up", check="web", type="http") == 1
    assert out.get("fleetmon_check_duration_seconds", check="web", type="http") == 0.5
    assert out.get("fleetmon_check_consecutive_failures", check="cert", type="tls") == 3
    assert out.get("fleetmon_check_cert_expiry_seconds", check="cert") == 86400
    assert out.get("fleetmon_check_cert_expiry_seconds", check="web") is None


def test_results_become_the_checks_message():
    failed = CheckResult("web", "http", False, "GET http://x/: 500", 1700000000.1234567, 0.0123456789, None)
    assert json.loads(json.dumps(result_to_json(failed, 2))) == {
        "name": "web", "type": "http", "ok": False, "status": "fail", "message": "GET http://x/: 500",
        "started_at": 1700000000.123, "duration_s": 0.012346, "value": None, "consecutive_failures": 2,
    }
    passed = result_to_json(failed._replace(ok=True, value=0.5), 0)
    assert (passed["status"], passed["value"]) == ("ok", 0.5)
    message = {"v": 1, "type": "checks", "host": "jetson-01", "session": 1, "seq": 1, "ts": 1700000001.0,
               "results": [result_to_json(failed, 2), passed]}
    schema = json.loads((SCHEMAS / "checks.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(message)  # the published contract


def test_the_failure_streak_grows_on_failure_and_resets_on_success():
    failed = CheckResult("a", "tcp", False, "", 0.0, 0.0)
    streak = 0
    for _ in range(3):
        streak = next_consecutive_failures(streak, failed)
    assert streak == 3
    assert next_consecutive_failures(streak, failed._replace(ok=True)) == 0
