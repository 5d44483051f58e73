"""``http_config.proxy_url`` with ``https://`` and ``socks5://`` proxies (receivers.tunnel, socks5,
nested_tls): webhooks delivered to ``http://`` and ``https://`` receivers through each, against real peers.

``HttpProxy`` is a threaded HTTP/1.1 forward proxy that speaks TLS to its clients when given a certificate
(an ``https://`` proxy): absolute-form requests forwarded, ``CONNECT`` tunnelled. ``Socks5Server`` is a
SOCKS5 server written from RFC 1928 (``CONNECT``, the three address types, its reply codes) and RFC 1929
(username/password), which records each handshake as it went on the wire. Both resolve the made-up names
``*.test`` to the loopback address, so a request to ``receiver.test`` can only arrive through them, and
only if the proxy, not the hub, resolved the name. Debian's microsocks, a SOCKS5 server of another hand,
checks that the hub's client agrees with it. The certificates come from a test CA made with openssl.
"""

import base64
import select
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fleetmon.hub.alerting.receivers import DeliveryError
from tests.conftest import free_port
from tests.hub.alerting.conftest import Certificate, make_ca, signed
from tests.hub.alerting.test_receivers import alert, batch, integration, send
from tests.polling import wait_until

MICROSOCKS = shutil.which("microsocks") or "/usr/bin/microsocks"


def _resolve(host: str) -> str:
    return "127.0.0.1" if host.endswith(".test") else host


def _relay(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side ends. A TLS socket may hold decrypted bytes that select
    cannot see, so those are read first."""
    sockets = [one, other]
    while True:
        readable = [s for s in sockets if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not readable:
            readable, _, _ = select.select(sockets, [], [], 10)
        if not readable:
            return
        for source in readable:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            (other if source is one else one).sendall(data)


# --- an HTTP(S) forward proxy -----------------------------------------------------------------------------

@dataclass
class Asked:
    method: str
    target: str
    headers: dict[str, str]
    tls: bool  # whether the request came over TLS to the proxy


class HttpProxy:
    """A forward proxy on a free loopback port; ``https`` with a certificate. With ``credentials``
    (``user:password``) it answers 407 to a request without them in Proxy-Authorization. ``route`` says where
    a CONNECT to (host, port) goes (by default: a ``.test`` host is 127.0.0.1); ``refuse_tunnels`` answers
    every CONNECT 403, so a test sees which host a client asked for without any being reached."""

    def __init__(self, certificate: Certificate | None = None, credentials: str = "",
                 route: Callable[[str, int], tuple[str, int]] | None = None, refuse_tunnels: bool = False) -> None:
        self.asked: list[Asked] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _admitted(self) -> bool:
                headers = dict(self.headers.items())
                proxy.asked.append(Asked(self.command, self.path, headers, isinstance(self.connection, ssl.SSLSocket)))
                wanted = "Basic " + base64.b64encode(credentials.encode()).decode() if credentials else ""
                if wanted and headers.get("Proxy-Authorization") != wanted:
                    body = b"proxy login required"
                    self.send_response(407)
                    self.send_header("Proxy-Authenticate", 'Basic realm="fleet"')
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                    return False
                return True

            def do_CONNECT(self) -> None:
                self.close_connection = True
                if not self._admitted():
                    return
                if refuse_tunnels:
                    self.send_response(403, "Forbidden")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                host, _, port = self.path.rpartition(":")
                address = (route or (lambda name, number: (_resolve(name), number)))(host.strip("[]"), int(port))
                try:
                    upstream = socket.create_connection(address, timeout=10)
                except OSError:
                    self.send_error(502)
                    return
                with upstream:
                    self.send_response(200, "Connection established")
                    self.end_headers()
                    _relay(self.connection, upstream)

            def do_POST(self) -> None:
                self.close_connection = True
                if not self._admitted():
                    return
                netloc, _, path = self.path.removeprefix("http://").partition("/")
                host, _, port = netloc.rpartition(":")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items()
                                  if name.lower() not in ("proxy-authorization", "connection"))
                with socket.create_connection((_resolve(host), int(port or 80)), timeout=10) as upstream:
                    upstream.sendall(f"{self.command} /{path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode()
                                     + body)
                    while chunk := upstream.recv(65536):
                        self.wfile.write(chunk)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "https" if certificate else "http"
        if certificate:
            self.server.socket = certificate.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, userinfo: str = "") -> str:
        return f"{self.scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- a SOCKS5 server ----------------------------------------------------------------------------------------

@dataclass
class Handshake:
    methods: list[int]  # the authentication methods the client offered
    login: tuple[str, str] | None = None  # the RFC 1929 username and password it sent
    target: tuple[int, str, int] | None = None  # address type, address, port of its CONNECT
    bytes_relayed: int = 0


@dataclass
class Socks5Server:
    """RFC 1928 on a free loopback port: with ``credentials`` it selects username/password (RFC 1929) and
    refuses other logins with status 1; without, it selects "no authentication"."""

    credentials: tuple[str, str] | None = None
    handshakes: list[Handshake] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def _read(self, size: int) -> bytes:
                data = b""
                while len(data) < size:
                    chunk = self.request.recv(size - len(data))
                    if not chunk:
                        raise ConnectionError("the client went away mid-handshake")
                    data += chunk
                return data

            def _reply(self, code: int, address: str = "0.0.0.0", port: int = 0) -> None:
                self.request.sendall(bytes((5, code, 0, 1)) + socket.inet_aton(address) + struct.pack("!H", port))

            def handle(self) -> None:
                version, count = self._read(2)
                assert version == 5
                shake = Handshake(list(self._read(count)))
                server.handshakes.append(shake)
                method = 0x02 if server.credentials else 0x00
                if method not in shake.methods:
                    self.request.sendall(bytes((5, 0xFF)))
                    return
                self.request.sendall(bytes((5, method)))
                if method == 0x02:
                    version, size = self._read(2)
                    assert version == 1
                    username = self._read(size).decode()
                    password = self._read(self._read(1)[0]).decode()
                    shake.login = (username, password)
                    accepted = shake.login == server.credentials
                    self.request.sendall(bytes((1, 0 if accepted else 1)))
                    if not accepted:
                        return
                version, command, reserved, kind = self._read(4)
                assert (version, reserved) == (5, 0)
                if kind == 1:
                    address = socket.inet_ntoa(self._read(4))
                elif kind == 3:
                    address = self._read(self._read(1)[0]).decode()
                else:
                    address = socket.inet_ntop(socket.AF_INET6, self._read(16))
                (port,) = struct.unpack("!H", self._read(2))
                shake.target = (kind, address, port)
                if command != 1:
                    self._reply(0x07)
                    return
                try:
                    upstream = socket.create_connection((_resolve(address), port), timeout=10)
                except OSError:
                    self._reply(0x05)
                    return
                with upstream:
                    self._reply(0x00, *upstream.getsockname()[:2])
                    _relay(self.request, upstream)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, userinfo: str = "", scheme: str = "socks5") -> str:
        return f"{scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- fixtures ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pki:
    ca: Path
    proxy: Certificate  # for 127.0.0.1 and proxy.test
    receiver: Certificate  # for receiver.test and 127.0.0.1


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    """A test CA and two server certificates it signed."""
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory)
    server = "extendedKeyUsage=serverAuth\nsubjectAltName="
    return Pki(ca.cert, signed(directory, ca, "proxy.test", server + "IP:127.0.0.1,DNS:proxy.test\n"),
               signed(directory, ca, "receiver.test", server + "DNS:receiver.test,IP:127.0.0.1\n"))


@pytest.fixture
def make_proxy():
    made: list[HttpProxy | Socks5Server] = []

    def make(kind: str, **options) -> HttpProxy | Socks5Server:
        made.append(HttpProxy(**options) if kind == "http" else Socks5Server(**options))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()


@pytest.fixture
def receivers(make_http_sink, pki):
    """An http:// and an https:// receiver, each known only as receiver.test."""
    return {"http": make_http_sink(), "https": make_http_sink(pki.receiver)}


def webhook(url: str, **http_config) -> object:
    return integration("webhook", {"url": url, "http_config": http_config})


def hook_url(sink) -> str:
    return f"{sink.scheme}://receiver.test:{sink.port}/hook"


def many_alerts():
    """A notification of some 200 KiB, many TLS records each way through the nested sessions."""
    return batch(*(alert(f"host-{n:04}", detail="x" * 400) for n in range(400)))


# --- https:// proxies -------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["http", "https"])
def test_an_https_proxy_carries_both_kinds_of_receiver_over_tls_with_its_credentials(target, receivers, pki,
                                                                                      make_proxy):
    proxy = make_proxy("http", certificate=pki.proxy, credentials="fleet:pr0xy pass")
    sink = receivers[target]
    send(webhook(hook_url(sink), proxy_url=proxy.url("fleet:pr0xy%20pass"), proxy_connect_header={"X-Tenant": ["a"]},
                 tls_config={"ca_file": str(pki.ca)}), many_alerts())
    (asked,) = proxy.asked
    assert asked.tls  # TLS to the proxy itself, checked against the test CA
    assert asked.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"fleet:pr0xy pass").decode()
    if target == "http":  # absolute form, no tunnel: proxy_connect_header is for CONNECT only
        assert (asked.method, asked.target) == ("POST", hook_url(sink))
        assert "X-Tenant" not in asked.headers
    else:  # a CONNECT inside the proxy's TLS, the receiver's TLS inside that
        assert (asked.method, asked.target) == ("CONNECT", f"receiver.test:{sink.port}")
        assert asked.headers["Host"] == f"receiver.test:{sink.port}" and asked.headers["X-Tenant"] == "a"
    (request,) = sink.requests
    assert request.headers["Host"] == f"receiver.test:{sink.port}" and "Proxy-Authorization" not in request.headers
    assert len(request.json()["alerts"]) == 400 and request.json()["alerts"][-1]["labels"]["host"] == "host-0399"


@pytest.mark.parametrize(("target", "message"), [
    ("http", "HTTP 407 Proxy Authentication Required"),  # the proxy's answer to the request itself
    ("https", "refused the tunnel to receiver.test:"),  # its answer to the CONNECT
])
def test_an_https_proxy_refusing_the_credentials_fails_for_good(target, message, receivers, pki, make_proxy):
    proxy = make_proxy("http", certificate=pki.proxy, credentials="fleet:pr0xy pass")
    sink = receivers[target]
    with pytest.raises(DeliveryError, match=message) as refused:
        send(webhook(hook_url(sink), proxy_url=proxy.url("fleet:wrong"), tls_config={"ca_file": str(pki.ca)}),
             batch(alert("a")))
    assert (refused.value.retryable, refused.value.status) == (False, 407)
    assert "407" in str(refused.value) and "pr0xy" not in str(refused.value) and not sink.requests


def test_a_proxy_certificate_the_hub_does_not_trust_fails_for_good(receivers, pki, certificate, make_proxy):
    proxy = make_proxy("http", certificate=certificate)  # self-signed, not from the CA tls_config trusts
    with pytest.raises(DeliveryError, match=rf"the proxy https://127.0.0.1:{proxy.port}: certificate not trusted")\
            as refused:
        send(webhook(hook_url(receivers["https"]), proxy_url=proxy.url(), tls_config={"ca_file": str(pki.ca)}),
             batch(alert("a")))
    assert not refused.value.retryable and not proxy.asked and not receivers["https"].requests


def test_the_receivers_certificate_is_checked_through_the_tunnels_too(receivers, pki, certificate, make_proxy):
    proxy = make_proxy("http", certificate=certificate)
    tls_config = {"ca_file": str(certificate.cert), "server_name": "localhost"}  # trusts the proxy, not the receiver
    with pytest.raises(DeliveryError, match="certificate not trusted") as refused:
        send(webhook(hook_url(receivers["https"]), proxy_url=proxy.url(), tls_config=tls_config), batch(alert("a")))
    assert not refused.value.retryable and proxy.asked[0].method == "CONNECT" and not receivers["https"].requests


@pytest.mark.parametrize("scheme", ["http", "https", "socks5"])
def test_a_proxy_nobody_listens_on_is_worth_another_attempt(scheme, receivers):
    port = free_port()  # nothing listens there
    with pytest.raises(DeliveryError, match=rf"cannot reach the proxy {scheme}://127.0.0.1:{port}") as failed:
        send(webhook(hook_url(receivers["https"]), proxy_url=f"{scheme}://127.0.0.1:{port}"), batch(alert("a")))
    assert failed.value.retryable


# --- socks5:// proxies ------------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
@pytest.mark.parametrize("target", ["http", "https"])
def test_a_socks5_proxy_logs_in_and_connects_to_the_receiver_by_name(scheme, target, receivers, pki, make_proxy):
    proxy = make_proxy("socks", credentials=("fleet", "s0cks pass"))
    sink = receivers[target]
    send(webhook(hook_url(sink), proxy_url=proxy.url("fleet:s0cks%20pass", scheme),
                 tls_config={"ca_file": str(pki.ca)}), many_alerts())
    (shake,) = proxy.handshakes
    assert shake.methods == [0x00, 0x02]  # no authentication, username/password: as Go offers them
    assert shake.login == ("fleet", "s0cks pass")
    assert shake.target == (3, "receiver.test", sink.port)  # the name, for the proxy to resolve
    (request,) = sink.requests
    assert request.path == "/hook" and request.headers["Host"] == f"receiver.test:{sink.port}"
    assert "Proxy-Authorization" not in request.headers and len(request.json()["alerts"]) == 400


def test_a_socks5_proxy_url_without_userinfo_offers_no_authentication_and_an_ip_goes_as_one(http_sink, make_proxy):
    proxy = make_proxy("socks")
    send(webhook(http_sink.url(), proxy_url=proxy.url()), batch(alert("a")))  # proxy_url alone proxies loopback
    assert proxy.handshakes[0].methods == [0x00] and proxy.handshakes[0].login is None
    assert proxy.handshakes[0].target == (1, "127.0.0.1", http_sink.port) and http_sink.requests


def test_socks5_refusals_say_what_the_proxy_answered(receivers, make_proxy):
    proxy = make_proxy("socks", credentials=("fleet", "s0cks pass"))
    hook = hook_url(receivers["http"])
    with pytest.raises(DeliveryError, match="refused the username and password") as refused:
        send(webhook(hook, proxy_url=proxy.url("fleet:wrong")), batch(alert("a")))
    assert not refused.value.retryable and proxy.handshakes[-1].target is None
    with pytest.raises(DeliveryError, match=r"refused every method offered: no authentication \(the proxy URL has"
                                            r" no user:password@\)") as refused:
        send(webhook(hook, proxy_url=proxy.url()), batch(alert("a")))
    assert not refused.value.retryable
    closed = free_port()
    with pytest.raises(DeliveryError, match=f"could not connect to receiver.test:{closed}: connection refused") \
            as refused:
        send(webhook(f"http://receiver.test:{closed}/hook", proxy_url=proxy.url("fleet:s0cks%20pass")),
             batch(alert("a")))
    assert refused.value.retryable  # the receiver may be back by the next attempt
    assert not receivers["http"].requests


def test_no_proxy_still_sends_loopback_straight_to_the_receiver(http_sink, make_proxy):
    proxy = make_proxy("socks")
    send(webhook(http_sink.url(), proxy_url=proxy.url(), no_proxy="example.com"), batch(alert("a")))
    assert http_sink.requests and not proxy.handshakes


def test_proxy_from_environment_takes_https_and_socks5_proxies(receivers, pki, make_proxy, monkeypatch):
    https_proxy = make_proxy("http", certificate=pki.proxy)
    socks = make_proxy("socks")
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", https_proxy.url())
    monkeypatch.setenv("https_proxy", socks.url())
    monkeypatch.setenv("NO_PROXY", "other.test")
    for target in ("http", "https"):
        send(webhook(hook_url(receivers[target]), proxy_from_environment=True, tls_config={"ca_file": str(pki.ca)}),
             batch(alert(target)))
    assert [(a.method, a.target, a.tls) for a in https_proxy.asked] == [("POST", hook_url(receivers["http"]), True)]
    assert [s.target for s in socks.handshakes] == [(3, "receiver.test", receivers["https"].port)]
    assert receivers["http"].requests and receivers["https"].requests


def test_proxy_url_takes_https_and_socks5_and_refuses_other_schemes():
    from tests.hub.alerting.test_receivers import config_errors

    for url in ("https://proxy.test", "socks5://u:p@proxy.test:1080", "socks5h://proxy.test"):
        assert webhook("http://receiver.test/hook", proxy_url=url).http.proxy.url == url
    errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
        {"url": "http://h/", "http_config": {"proxy_url": "socks4://proxy.test:1080"}},
        {"url": "http://h/", "http_config": {"proxy_url": f"socks5://{'u' * 256}:p@proxy.test"}}]}]})
    prefix = "receivers[0].webhook_configs"
    assert errors == [
        f"{prefix}[0].http_config.proxy_url: must be the http://, https:// or socks5:// URL of a proxy",
        f"{prefix}[1].http_config.proxy_url: a SOCKS5 username must be 1 to 255 bytes, its password at most 255 "
        f"(RFC 1929)"]


# --- interoperation with Debian's microsocks ---------------------------------------------------------------

@pytest.fixture
def microsocks():
    port = free_port()
    process = subprocess.Popen([MICROSOCKS, "-i", "127.0.0.1", "-p", str(port), "-u", "fleet", "-P", "s0cks"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        assert process.poll() is None, "microsocks exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return False
        return True

    wait_until(listening, message="microsocks listening")
    yield port
    process.terminate()
    process.wait(10)


@pytest.mark.parametrize("target", ["http", "https"])
def test_microsocks_carries_both_kinds_of_receiver_and_refuses_a_wrong_password(target, receivers, pki,
                                                                                microsocks):
    sink = receivers[target]
    url = f"{sink.scheme}://127.0.0.1:{sink.port}/hook"  # microsocks resolves names itself: an address here
    send(webhook(url, proxy_url=f"socks5://fleet:s0cks@127.0.0.1:{microsocks}", tls_config={"ca_file": str(pki.ca)}),
         many_alerts())
    assert len(sink.requests[0].json()["alerts"]) == 400
    with pytest.raises(DeliveryError, match="refused the username and password") as refused:
        send(webhook(url, proxy_url=f"socks5://fleet:wrong@127.0.0.1:{microsocks}",
                     tls_config={"ca_file": str(pki.ca)}), batch(alert("b")))
    assert not refused.value.retryable and len(sink.requests) == 1
