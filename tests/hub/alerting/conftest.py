"""Real peers for the alerting tests: an HTTP sink, an SMTP server (aiosmtpd), a TLS certificate made with
the openssl CLI, and a real Alertmanager process (Debian's prometheus-alertmanager)."""

import collections
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.polling import wait_until

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
MINIMAL_ALERTMANAGER_CONFIG = "route:\n  receiver: default\nreceivers:\n- name: default\n"


# --- HTTP -------------------------------------------------------------------------------------------------

@dataclass
class Received:
    method: str
    path: str
    headers: HTTPMessage  # case-insensitive lookups
    body: bytes
    at: float = 0.0  # unix seconds the request arrived

    def json(self):
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many notifications may come at one instant (a differential's group ticks)


class HttpSink:
    """A ThreadingHTTPServer on a free loopback port that records every request.

    ``respond(503, 200)`` makes the next requests answer 503 then 200 (later ones 200 again); ``delay``
    holds every answer that long after recording the request, to make a receiver time out. With a
    ``certificate`` it speaks HTTPS. ``answer``, when set, plays a service: it gets each request not
    answered by ``respond`` and returns the status and body to send (a body starting with ``{`` goes out
    as JSON).
    """

    def __init__(self, certificate: "Certificate | None" = None) -> None:
        self.requests: list[Received] = []
        self.delay = 0.0
        self.answer: Callable[[Received], tuple[int, bytes]] | None = None
        self._statuses: collections.deque[int] = collections.deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                sink._handle(self)

            do_GET = do_PUT = do_POST

            def log_message(self, *args) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "https" if certificate else "http"
        if certificate:
            self.server.socket = certificate.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def respond(self, *statuses: int, delay: float = 0.0) -> None:
        with self._lock:
            self._statuses = collections.deque(statuses)
            self.delay = delay

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        received = Received(handler.command, handler.path, handler.headers, body, time.time())
        with self._lock:
            self.requests.append(received)
            queued = self._statuses.popleft() if self._statuses else None
            delay, play = self.delay, self.answer
        if delay:
            self._closing.wait(delay)
        if queued is None and play is not None:
            status, answer = play(received)
        else:
            status = 200 if queued is None else queued
            answer = b"ok" if status < 300 else f"status {status} as the test asked".encode()
        try:
            handler.send_response(status)
            if answer.startswith(b"{"):
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(answer)
        except OSError:  # the client gave up waiting: what a delay is for
            pass

    def wait(self, count: int = 1, timeout: float = 10.0, path: str | None = None) -> list[Received]:
        def enough():
            with self._lock:
                found = [r for r in self.requests if path is None or r.path == path]
            return found if len(found) >= count else None

        return wait_until(enough, timeout, message=f"{count} request(s) at the HTTP sink")

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_http_sink():
    sinks: list[HttpSink] = []

    def make(certificate: "Certificate | None" = None) -> HttpSink:
        sinks.append(HttpSink(certificate))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.close()


@pytest.fixture
def http_sink(make_http_sink) -> HttpSink:
    return make_http_sink()


# --- TLS and SMTP -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def self_signed(directory: Path, name: str, alt_names: str) -> Certificate:
    """A certificate for ``alt_names`` (``IP:127.0.0.1,DNS:localhost``) that is its own CA."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    openssl("req", "-x509", *_EC_KEY, "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
            "-addext", f"subjectAltName={alt_names}")
    return Certificate(cert, key)


def make_ca(directory: Path) -> Certificate:
    """A CA's certificate and key, for ``signed``."""
    ca = Certificate(directory / "ca.pem", directory / "ca.key")
    openssl("req", "-x509", *_EC_KEY, "-days", "2", "-subj", "/CN=fleetmon test CA", "-keyout", str(ca.key),
            "-out", str(ca.cert))
    return ca



def signed(directory: Path, ca: Certificate, name: str, extensions: str) -> Certificate:
    """A certificate ``ca`` signed, with ``extensions`` (lines of openssl's extension config)."""
    cert, key, request = directory / f"{name}.pem", directory / f"{name}.key", directory / f"{name}.csr"
    openssl("req", "-new", *_EC_KEY, "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(request))
    (directory / f"{name}.ext").write_text(f"basicConstraints=CA:FALSE\n{extensions}")
    openssl("x509", "-req", "-in", str(request), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
            "-days", "2", "-extfile", str(directory / f"{name}.ext"), "-out", str(cert))
    return Certificate(cert, key)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost; it is its own CA."""
    return self_signed(tmp_path_factory.mktemp("tls"), "localhost", "IP:127.0.0.1,DNS:localhost")


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # the user that authenticated, None without AUTH
    tls: bool  # whether the session ran over TLS

    def part(self, content_type: str) -> str:
        return next(p.get_content() for p in self.message.walk() if p.get_content_type() == content_type)


@dataclass
class SmtpSink:
    """An aiosmtpd server on a free loopback port that keeps every mail it accepts.

    ``users`` turns on AUTH (LOGIN and PLAIN, allowed without TLS so AUTH without TLS can be tested);
    ``certificate`` offers STARTTLS.
    """

    users: dict[str, str] = field(default_factory=dict)
    certificate: Certificate | None = None
    mails: list[Mail] = field(default_factory=list)

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        options = {}
        if self.users:
            options.update(authenticator=self._authenticate, auth_require_tls=False)
        if self.certificate:
            options.update(tls_context=self.certificate.server_context())
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (isinstance(auth_data, LoginPassword)
              and self.users.get(auth_data.login.decode()) == auth_data.password.decode())
        # handled=False: aiosmtpd answers a refusal with 535 itself
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                               message_from_bytes(envelope.original_content, policy=policy.default),
                               session.auth_data if session.authenticated else None, session.ssl is not None))
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Mail]:
        return wait_until(lambda: self.mails if len(self.mails) >= count else None, timeout,
                        message=f"{count} mail(s) at the SMTP sink")

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def make_smtp_sink():
    sinks: list[SmtpSink] = []

    def make(**options) -> SmtpSink:
        sinks.append(SmtpSink(**options))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.stop()


# --- Alertmanager -----------------------------------------------------------------------------------------

class AlertmanagerProcess:
    """A real Alertmanager on a free loopback port, without clustering, its state under ``workdir``.

    Its external URL is its own address, so webhook payloads carry a known ``externalURL``.
    """

    def __init__(self, workdir: Path, config_text: str, extra_args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(config_text)
        self.log_path = workdir / "alertmanager.log"
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def start(self) -> "AlertmanagerProcess":
        if not os.path.exists(ALERTMANAGER):
            pytest.fail("prometheus-alertmanager is not installed: run `make deps`")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [ALERTMANAGER, f"--config.file={self.config_path}", f"--storage.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
                 f"--web.external-url={self.url}", *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout=20, message=f"Alertmanager on port {self.port}")
        return self

    def _ready(self) -> bool:
        assert self.process.poll() is None, f"Alertmanager exited:\n{self.log[-3000:]}"
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, config_text: str | None = None) -> "AlertmanagerProcess":
        """Stop, write ``config_text`` (when given) and start again on the same port and storage."""
        self.stop()
        if config_text is not None:
            self.config_path.write_text(config_text)
        return self.start()

    def api(self, path: str, body=None):
        """GET (or POST ``body`` as JSON) ``/api/v2/<path>`` and return the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/api/v2/{path}", data=data,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"Alertmanager answered {exc.code}: {exc.read().decode()}") from exc
        return json.loads(answer) if answer.strip() else None

    def post_alerts(self, alerts: list[dict]) -> None:
        self.api("alerts", alerts)

    def delete(self, path: str) -> None:
        """DELETE ``/api/v2/<path>`` (a silence: ``silence/<id>``)."""
        request = urllib.request.Request(f"{self.url}/api/v2/{path}", method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"Alertmanager answered {exc.code}: {exc.read().decode()}") from exc

    def reload(self) -> None:
        """POST /-/reload: it answers once the config is read again and a new dispatcher (with its own group
        cleanup ticker) has been started."""
        request = urllib.request.Request(f"{self.url}/-/reload", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.read()

    def metric(self, name: str) -> float | None:
        """The value of the unlabelled series ``name`` on its /metrics; None while it has none."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return None

    def alerts(self) -> list[dict]:
        """The alerts it holds that are not resolved (the API leaves resolved ones out)."""
        return self.api("alerts")


def start_alertmanager(workdir: Path, config_text: str = MINIMAL_ALERTMANAGER_CONFIG,
                       extra_args: tuple[str, ...] = ()) -> AlertmanagerProcess:
    """A started Alertmanager under ``workdir``; the caller stops it (the ``alertmanager`` fixture does)."""
    return AlertmanagerProcess(workdir, config_text, extra_args).start()


@pytest.fixture
def alertmanager(tmp_path):
    """A running Alertmanager with a do-nothing config; ``restart(config_text)`` gives it another one."""
    process = start_alertmanager(tmp_path / "alertmanager")
    yield process
    process.stop()
    print(f"--- Alertmanager log ---\n{process.log[-5000:]}")  # shown when a test fails
