"""One probe per check type, and ``run_check`` that times a probe and turns it into a CheckResult.

A probe returns a ``Probe`` for every failure it can expect (refused, timed out, bad status, no such
name, missing binary...); anything else is a bug and propagates to the scheduler, which counts it.
Every probe is bounded by the check's timeout.
"""

import calendar
import http.client
import ipaddress
import math
import os
import re
import socket
import ssl
import threading
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

import psutil

from fleetmon import __version__
from fleetmon.agent.checks.journey import run_journey
from fleetmon.agent.checks.run_program import EXCERPT_CHARS, run_argv
from fleetmon.agent.checks.spec import (
    CheckSpec,
    CommandSettings,
    DnsSettings,
    HttpSettings,
    JourneySettings,
    PingSettings,
    ProcessSettings,
    SystemdSettings,
    TcpSettings,
    TlsSettings,
)
from fleetmon.agent.checks.status_codes import status_matches
from fleetmon.protocol.check_results import CheckResult, StepResult

#: The body an http check reads (and searches with body_match): enough for a health page.
HTTP_BODY_LIMIT = 1024 * 1024



def _c_locale() -> Dict[str, str]:
    """Programs whose output we parse run in the C locale, so numbers and words are predictable."""
    return dict(os.environ, LC_ALL="C")


class Probe(NamedTuple):
    ok: bool
    message: str
    value: Optional[float] = None
    steps: Optional[Tuple[StepResult, ...]] = None  # journeys only


def run_check(spec: CheckSpec) -> CheckResult:
    started_at = time.time()
    start = time.monotonic()
    probe = _PROBES[spec.type](spec.settings, spec.timeout)
    return CheckResult(name=spec.name, type=spec.type, ok=probe.ok, message=probe.message,
                       started_at=started_at, duration_s=time.monotonic() - start, value=probe.value,
                       steps=probe.steps)


def probe_systemd(settings: SystemdSettings, timeout: float) -> Probe:
    outcome = run_argv(("systemctl", "is-active", "--", settings.unit), timeout, env=_c_locale())
    if outcome.exit_code is None:
        return Probe(False, f"cannot read the state of {settings.unit}: {outcome.error}")
    # is-active prints the state on stdout; without a running systemd it prints only an error.
    lines = outcome.output.strip().splitlines()
    state = lines[0].strip() if lines else ""
    if state == "active":
        return Probe(True, f"{settings.unit} is active")
    if re.match(r"^[a-z-]+$", state) and len(lines) == 1:
        return Probe(False, f"{settings.unit} is {state}")
    detail = "; ".join(line.strip() for line in lines if line.strip())[:EXCERPT_CHARS] or "no output"
    return Probe(False, f"cannot read the state of {settings.unit}: {detail}")


def probe_process(settings: ProcessSettings, timeout: float) -> Probe:
    pattern = re.compile(settings.pattern) if settings.pattern is not None else None
    count = 0
    for process in psutil.process_iter(["name", "cmdline"]):
        if pattern is None:
            matched = process.info["name"] == settings.name
        else:
            matched = bool(pattern.search(" ".join(process.info["cmdline"] or ())))
        if matched:
            count += 1
    what = f"name {settings.name!r}" if pattern is None else f"pattern {settings.pattern!r}"
    ok = count >= settings.min_count
    message = f"{count} process{'es' if count != 1 else ''} with {what}"
    return Probe(ok, message if ok else f"{message}, expected at least {settings.min_count}", float(count))


def probe_tcp(settings: TcpSettings, timeout: float) -> Probe:
    where = _host_port(settings.host, settings.port)
    start = time.monotonic()
    try:
        with socket.create_connection((settings.host, settings.port), timeout=timeout):
            latency = time.monotonic() - start
    except socket.timeout:
        return Probe(False, f"connect to {where} timed out after {timeout:g}s")
    except OSError as exc:
        return Probe(False, f"connect to {where} failed: {_os_reason(exc)}")
    return Probe(True, f"connected to {where} in {latency * 1000:.1f} ms", latency)


def probe_http(settings: HttpSettings, timeout: float) -> Probe:
    """One request, the whole exchange within ``timeout``; redirects are not followed (a 3xx is checked)."""
    parts = urlsplit(settings.url)
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=_tls_context(settings.verify_tls, None))
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.connect()
        # Kept: getresponse() drops connection.sock when the server closes after the reply.
        sock = connection.sock
        _set_remaining(sock, deadline)
        path = parts.path or "/"
        connection.request(settings.method, path + ("?" + parts.query if parts.query else ""),
                           headers=_request_headers(settings.headers))
        _set_remaining(sock, deadline)
        response = connection.getresponse()
        body = _read_body(response, sock, deadline)
        latency = time.monotonic() - start
    except socket.timeout:
        return Probe(False, f"{settings.method} {settings.url} timed out after {timeout:g}s")
    except ssl.SSLCertVerificationError as exc:
        return Probe(False, f"{settings.method} {settings.url}: certificate not trusted: "
                            f"{exc.verify_message}")
    except (OSError, http.client.HTTPException) as exc:
        return Probe(False, f"{settings.method} {settings.url} failed: {_os_reason(exc)}")
    finally:
        connection.close()
    summary = f"{settings.method} {settings.url}: {response.status} in {latency * 1000:.0f} ms"
    if not status_matches(response.status, settings.expect_status):
        return Probe(False, f"{summary}, expected status {' or '.join(settings.expect_status)}", latency)
    if settings.body_match is not None:
        text = body.decode(response.headers.get_content_charset() or "utf-8", errors="replace")
        if not re.search(settings.body_match, text):
            return Probe(False, f"{summary}, body does not match {settings.body_match!r}", latency)
    if settings.max_latency is not None and latency > settings.max_latency:
        return Probe(False, f"{summary}, slower than {settings.max_latency:g}s", latency)
    return Probe(True, summary, latency)


def _request_headers(configured: Dict[str, str]) -> Dict[str, str]:
    """The configured headers, plus a User-Agent unless set: some servers refuse requests without one."""
    if any(name.lower() == "user-agent" for name in configured):
        return dict(configured)
    return dict(configured, **{"User-Agent": f"fleetmon-check/{__version__}"})


def _read_body(response: http.client.HTTPResponse, sock: socket.socket, deadline: float) -> bytes:
    chunks: List[bytes] = []
    size = 0
    while size < HTTP_BODY_LIMIT:
        _set_remaining(sock, deadline)
        chunk = response.read1(HTTP_BODY_LIMIT - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _set_remaining(sock: socket.socket, deadline: float) -> None:
    """Give the next blocking step only the time left, so slow steps cannot add up past the timeout."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise socket.timeout("deadline passed")
    sock.settimeout(remaining)


def probe_tls(settings: TlsSettings, timeout: float) -> Probe:
    where = _host_port(settings.host, settings.port)
    context = _tls_context(settings.verify, settings.ca_file)
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((settings.host, settings.port), timeout=timeout) as raw:
            _set_remaining(raw, deadline)
            with context.wrap_socket(raw, server_hostname=settings.server_name) as tls:
                der = tls.getpeercert(binary_form=True)
    except socket.timeout:
        return Probe(False, f"TLS handshake with {where} timed out after {timeout:g}s")
    except ssl.SSLCertVerificationError as exc:
        return Probe(False, f"certificate of {where} not trusted: {exc.verify_message}")
    except OSError as exc:
        return Probe(False, f"TLS connection to {where} failed: {_os_reason(exc)}")
    if not der:
        return Probe(False, f"{where} sent no certificate")
    try:
        not_after = certificate_not_after(der)
    except ValueError as exc:
        return Probe(False, f"cannot read the certificate of {where}: {exc}")
    seconds_left = not_after - time.time()
    days_left = seconds_left / 86400
    expiry = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(not_after))
    if seconds_left <= 0:
        return Probe(False, f"certificate of {where} expired on {expiry}", seconds_left)
    message = f"certificate of {where} expires in {days_left:.1f} days ({expiry})"
    if days_left < settings.min_days:
        return Probe(False, f"{message}, less than {settings.min_days:g}", seconds_left)
    return Probe(True, message, seconds_left)


def _tls_context(verify: bool, ca_file: Optional[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        # Still read the certificate's dates; only trust and the host name are not checked.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def certificate_not_after(der: bytes) -> float:
    """notAfter of a DER X.509 certificate, as unix seconds.

    The ssl module parses certificates only when it verified them; a check with ``verify: false``
    still needs the expiry, so this walks the few DER fields in front of it
    (Certificate > TBSCertificate > [version] serial signature issuer validity).
    """
    _, certificate = _der_element(der, 0, 0x30)
    _, tbs = _der_element(der, certificate[0], 0x30)
    position = tbs[0]
    tag, field = _der_element(der, position)
    if tag == 0xA0:  # explicit version, absent in v1 certificates
        position = field[1]
    for expected in (0x02, 0x30, 0x30):  # serial, signature algorithm, issuer
        _, field = _der_element(der, position, expected)
        position = field[1]
    _, validity = _der_element(der, position, 0x30)
    _, not_before = _der_element(der, validity[0])
    tag, not_after = _der_element(der, not_before[1])
    return _asn1_time(tag, der[not_after[0]:not_after[1]])


def _der_element(der: bytes, position: int, expected: Optional[int] = None) -> Tuple[int, Tuple[int, int]]:
    """The tag at ``position`` and the (start, end) of its contents."""
    if position + 2 > len(der):
        raise ValueError("truncated certificate")
    tag, length = der[position], der[position + 1]
    if expected is not None and tag != expected:
        raise ValueError(f"unexpected DER tag 0x{tag:02x} at offset {position}")
    start = position + 2
    if length & 0x80:
        octets = length & 0x7F
        if octets == 0 or octets > 4 or start + octets > len(der):
            raise ValueError("bad DER length")
        length = int.from_bytes(der[start:start + octets], "big")
        start += octets
    if start + length > len(der):
        raise ValueError("truncated certificate")
    return tag, (start, start + length)


def _asn1_time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii", errors="replace")
    if tag == 0x17 and re.match(r"^\d{12}Z$", text):  # UTCTime: YYMMDDHHMMSSZ, 1950..2049
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    elif not (tag == 0x18 and re.match(r"^\d{14}Z$", text)):  # GeneralizedTime: YYYYMMDDHHMMSSZ
        raise ValueError(f"unsupported notAfter {text!r}")
    fields = (int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
              int(text[12:14]))
    return float(calendar.timegm((*fields, 0, 0, 0)))


def probe_dns(settings: DnsSettings, timeout: float) -> Probe:
    """Resolve through the system resolver (getaddrinfo: /etc/hosts, nsswitch, DNS) like applications do."""
    family = socket.AF_INET if settings.record == "A" else socket.AF_INET6
    answers: List[str] = []
    failures: List[str] = []

    def resolve() -> None:
        try:
            infos = socket.getaddrinfo(settings.name, None, family, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            failures.append(exc.strerror or str(exc))
        except UnicodeError as exc:  # a label the IDNA codec refuses
            failures.append(str(exc))
        else:
            # A scope (fe80::1%eth0) is not part of the address users write in expect.
            answers.extend(str(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in infos)

    # getaddrinfo takes no timeout; a resolver that hangs is left to finish in its daemon thread.
    start = time.monotonic()
    worker = threading.Thread(target=resolve, name=f"dns-check-{settings.name}", daemon=True)
    worker.start()
    worker.join(timeout)
    elapsed = time.monotonic() - start
    if worker.is_alive():
        return Probe(False, f"resolving {settings.name} ({settings.record}) timed out after {timeout:g}s")
    if failures:
        return Probe(False, f"cannot resolve {settings.name} ({settings.record}): {failures[0]}", elapsed)
    addresses = sorted(set(answers))
    missing = [address for address in settings.expect if address not in addresses]
    found = ", ".join(addresses)
    if missing:
        return Probe(False, f"{settings.name} resolves to {found}, missing {', '.join(missing)}", elapsed)
    return Probe(True, f"{settings.name} resolves to {found}", elapsed)


_RTT_LINE = re.compile(r"min/avg/max(?:/[a-z]+)? = [\d.]+/([\d.]+)/")
_LOSS = re.compile(r"([\d.]+)% packet loss")


def probe_ping(settings: PingSettings, timeout: float) -> Probe:
    """The system ping (setuid or capability-enabled), so the agent needs no raw-socket privilege."""
    wait = str(max(1, math.ceil(timeout)))
    argv = ("ping", "-c", str(settings.count), "-W", wait, "-n", settings.host)
    outcome = run_argv(argv, timeout, env=_c_locale())
    if outcome.exit_code is None:
        return Probe(False, f"ping {settings.host}: {outcome.error}")
    rtt = _RTT_LINE.search(outcome.output)
    if outcome.exit_code != 0 or rtt is None:
        loss = _LOSS.search(outcome.output)
        reason = f"{loss.group(1)}% packet loss" if loss else outcome.excerpt or f"exit {outcome.exit_code}"
        return Probe(False, f"ping {settings.host}: {reason}")
    seconds = float(rtt.group(1)) / 1000
    return Probe(True, f"ping {settings.host}: {seconds * 1000:.2f} ms average", seconds)


def probe_command(settings: CommandSettings, timeout: float) -> Probe:
    outcome = run_argv(settings.argv, timeout)
    if outcome.exit_code is None:
        return Probe(False, outcome.summary)
    return Probe(outcome.exit_code in settings.ok_exit_codes, outcome.summary, float(outcome.exit_code))


def probe_journey(settings: JourneySettings, timeout: float) -> Probe:
    return Probe(*run_journey(settings, timeout))


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _os_reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


_PROBES: Dict[str, Callable[..., Probe]] = {
    "systemd": probe_systemd,
    "process": probe_process,
    "tcp": probe_tcp,
    "http": probe_http,
    "tls": probe_tls,
    "dns": probe_dns,
    "ping": probe_ping,
    "command": probe_command,
    "journey": probe_journey,
}
