"""One HTTP exchange, timed phase by phase: DNS, connect, TLS, first byte, total.

urllib and http.client do the resolving, connecting and handshaking in one call, so where the time went is
lost. Here each phase is a call of its own (getaddrinfo, connect, the TLS handshake) and http.client only
speaks HTTP over the socket they made. Every exchange opens a fresh connection, so each step of a journey
pays, and shows, what a first visit pays. The whole exchange stays within its timeout: each blocking call
gets only the time left.
"""

import http.client
import select
import socket
import ssl
import threading
import time
from email.message import Message
from typing import Any, List, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

from fleetmon.protocol.check_results import StepTimings

#: The body an exchange reads (and assertions search): enough for an API answer or a page.
BODY_LIMIT = 1024 * 1024


class Request(NamedTuple):
    method: str
    url: str  # http:// or https://, already filled in
    headers: Tuple[Tuple[str, str], ...] = ()
    body: Optional[bytes] = None
    verify_tls: bool = True


class Response(NamedTuple):
    status: int
    headers: Message  # http.client's HTTPMessage: get(), get_all()
    body: bytes  # at most BODY_LIMIT bytes
    truncated: bool  # the server sent more than BODY_LIMIT
    timings: StepTimings

    def info(self) -> Message:
        """The headers, by the name http.cookiejar asks a response for them."""
        return self.headers


class ExchangeFailed(Exception):
    """The exchange stopped in some phase; ``timings`` has the phases that completed."""

    def __init__(self, reason: str, timings: StepTimings) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timings = timings


class _Clock:
    """The phases measured so far, and the deadline every blocking call must respect."""

    def __init__(self, timeout: float, deadline: Optional[float]) -> None:
        self.timeout = timeout
        self.start = time.monotonic()
        self.deadline = self.start + timeout if deadline is None else deadline
        self.phases: List[Optional[float]] = [None] * 4  # dns, connect, tls, first_byte

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.failed(f"timed out after {self.timeout:g}s")
        return left

    def timings(self) -> StepTimings:
        return StepTimings(*self.phases, total=time.monotonic() - self.start)

    def failed(self, reason: str) -> ExchangeFailed:
        return ExchangeFailed(reason, self.timings())


def exchange(request: Request, timeout: float, deadline: Optional[float] = None) -> Response:
    """Send ``request`` and read the response; ExchangeFailed says which phase failed and why.

    The exchange ends by ``deadline`` (time.monotonic()), by default ``timeout`` from now; messages name
    ``timeout``, the bound the user set (a redirect's request gets only what its first one left)."""
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    context = _tls_context(request.verify_tls) if parts.scheme == "https" else None
    clock = _Clock(timeout, deadline)
    addresses = _resolve(host, port, clock)
    sock = _connect(addresses, where, clock)
    try:
        if context is not None:
            sock = _handshake(sock, context, host, where, clock)
        return _http(sock, request, parts, host, port, context, clock)
    finally:
        sock.close()


def _resolve(host: str, port: int, clock: _Clock) -> List[Any]:
    """An address needs no resolver. A name does, and getaddrinfo takes no timeout: it runs in a daemon
    thread, left to finish if the resolver hangs."""
    started = time.monotonic()
    try:
        answers = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        answers = []
    if answers:
        clock.phases[0] = time.monotonic() - started
        return answers
    failures: List[str] = []

    def resolve() -> None:
        try:
            answers.extend(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except socket.gaierror as exc:
            failures.append(exc.strerror or str(exc))
        except UnicodeError as exc:  # a label the IDNA codec refuses
            failures.append(str(exc))

    worker = threading.Thread(target=resolve, name=f"journey-dns-{host}", daemon=True)
    worker.start()
    worker.join(clock.remaining())
    if worker.is_alive():
        raise clock.failed(f"resolving {host} timed out after {clock.timeout:g}s")
    if failures or not answers:
        raise clock.failed(f"cannot resolve {host}: {failures[0] if failures else 'no addresses'}")
    clock.phases[0] = time.monotonic() - started
    return answers


def _connect(addresses: List[Any], where: str, clock: _Clock) -> socket.socket:
    """The first address that accepts, in the resolver's order, as socket.create_connection tries them."""
    started = time.monotonic()
    reason = "no address to connect to"
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(clock.remaining())
            sock.connect(address)
        except socket.timeout:
            sock.close()
            raise clock.failed(f"connect to {where} timed out after {clock.timeout:g}s") from None
        except ExchangeFailed:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            reason = exc.strerror or str(exc)
            continue
        clock.phases[1] = time.monotonic() - started
        return sock
    raise clock.failed(f"connect to {where} failed: {reason}")


def _handshake(sock: socket.socket, context: ssl.SSLContext, host: str, where: str, clock: _Clock) -> ssl.SSLSocket:
    started = time.monotonic()
    try:
        sock.settimeout(clock.remaining())
        tls = context.wrap_socket(sock, server_hostname=host)
    except socket.timeout:
        raise clock.failed(f"TLS handshake with {where} timed out after {clock.timeout:g}s") from None
    except ssl.SSLCertVerificationError as exc:
        raise clock.failed(f"certificate of {where} not trusted: {exc.verify_message}") from None
    except OSError as exc:
        raise clock.failed(f"TLS handshake with {where} failed: {exc.strerror or exc}") from None
    clock.phases[2] = time.monotonic() - started
    return tls


def _http(sock: socket.socket, request: Request, parts: Any, host: str, port: int,
          context: Optional[ssl.SSLContext], clock: _Clock) -> Response:
    # The connection's own class, so the Host header leaves out the scheme's default port; it never
    # connects: it is given the socket made above.
    if context is not None:
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, context=context)
    else:
        connection = http.client.HTTPConnection(host, port)
    connection.sock = sock
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    try:
        sock.settimeout(clock.remaining())
        connection.request(request.method, target, body=request.body, headers=dict(request.headers))
        sent = time.monotonic()
        _wait_readable(sock, clock)
        clock.phases[3] = time.monotonic() - sent
        sock.settimeout(clock.remaining())
        response = connection.getresponse()
        body, truncated = _read_body(response, sock, clock)
    except socket.timeout:
        raise clock.failed(f"no complete response within {clock.timeout:g}s") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise clock.failed(f"failed: {reason}") from None
    except ValueError as exc:  # http.client refusing what it was asked to send (a header value not in Latin-1)
        raise clock.failed(f"cannot send the request: {exc}") from None
    return Response(response.status, response.headers, body, truncated, clock.timings())


def _wait_readable(sock: socket.socket, clock: _Clock) -> None:
    """Until the first byte of the response is there (poll, not select: any descriptor number works)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    if not poller.poll(clock.remaining() * 1000):
        raise socket.timeout("no response")


def _read_body(response: http.client.HTTPResponse, sock: socket.socket, clock: _Clock) -> Tuple[bytes, bool]:
    chunks: List[bytes] = []
    size = 0
    while size < BODY_LIMIT:
        sock.settimeout(clock.remaining())
        chunk = response.read1(BODY_LIMIT - size)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    sock.settimeout(clock.remaining())
    return b"".join(chunks), bool(response.read1(1))


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
