"""The client side of a SOCKS5 ``CONNECT`` (RFC 1928), with RFC 1929 username/password authentication, on
a socket already connected to the proxy.

As Go's ``net/http`` (its internal copy of ``x/net/internal/socks``) asks: "no authentication" is offered,
and username/password beside it when the proxy URL has a userinfo; the target goes as a name (address
type 3), resolved by the proxy, unless it is an IP address. Every refusal is a
``ProxyError`` saying what the proxy answered, and whether another attempt may get through: a refused
login, a rule that forbids the target or a command the proxy does not know stays refused; an unreachable
or refusing target may come back.
"""

import ipaddress
import socket
import struct

from fleetmon.hub.alerting.receivers.proxy import Proxy, ProxyError

VERSION, AUTH_VERSION = 5, 1
NO_AUTHENTICATION, USERNAME_PASSWORD, NO_ACCEPTABLE_METHOD = 0x00, 0x02, 0xFF
CONNECT = 0x01
IPV4, DOMAIN, IPV6 = 0x01, 0x03, 0x04
#: RFC 1928 §6's reply codes, each with whether a later attempt may succeed.
REPLIES = {
    0x01: ("general SOCKS server failure", True),
    0x02: ("connection not allowed by ruleset", False),
    0x03: ("network unreachable", True),
    0x04: ("host unreachable", True),
    0x05: ("connection refused", True),
    0x06: ("TTL expired", True),
    0x07: ("command not supported", False),
    0x08: ("address type not supported", False),
}


def _exactly(sock: socket.socket, size: int, proxy: Proxy) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ProxyError(f"the SOCKS5 proxy {proxy.where()} closed the connection mid-handshake", retryable=True)
        data += chunk
    return data


def _address(host: str) -> bytes:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("idna")
        if len(name) > 255:
            raise ProxyError(f"the host name {host[:40]}… is too long for SOCKS5", retryable=False) from None
        return bytes((DOMAIN, len(name))) + name
    return bytes((IPV4 if address.version == 4 else IPV6,)) + address.packed


def _authenticate(sock: socket.socket, proxy: Proxy) -> None:
    """RFC 1929: the username and password, answered by a status byte, 0 for success."""
    username, password = (proxy.username or "").encode(), proxy.password.encode()
    if not 0 < len(username) < 256 or len(password) > 255:
        raise ProxyError(f"the SOCKS5 proxy {proxy.where()} needs a username of 1 to 255 bytes and a password of "
                         f"at most 255", retryable=False)
    sock.sendall(bytes((AUTH_VERSION, len(username))) + username + bytes((len(password),)) + password)
    _, status = _exactly(sock, 2, proxy)
    if status != 0:
        raise ProxyError(f"the SOCKS5 proxy {proxy.where()} refused the username and password", retryable=False)


def connect(sock: socket.socket, host: str, port: int, proxy: Proxy) -> None:
    """Ask the SOCKS5 proxy at the other end of ``sock`` to connect it to ``host:port``."""
    methods = bytes((NO_AUTHENTICATION,) if proxy.username is None else (NO_AUTHENTICATION, USERNAME_PASSWORD))
    sock.sendall(bytes((VERSION, len(methods))) + methods)
    version, method = _exactly(sock, 2, proxy)
    if version != VERSION:
        raise ProxyError(f"{proxy.where()} does not speak SOCKS5 (it answered version {version})", retryable=False)
    if method not in methods and method != NO_ACCEPTABLE_METHOD:
        raise ProxyError(f"the SOCKS5 proxy {proxy.where()} chose method {method}, which was not offered",
                         retryable=False)
    if method == NO_ACCEPTABLE_METHOD:
        offered = "no authentication (the proxy URL has no user:password@)" if proxy.username is None else \
            "no authentication, username/password"
        raise ProxyError(f"the SOCKS5 proxy {proxy.where()} refused every method offered: {offered}", retryable=False)
    if method == USERNAME_PASSWORD:
        _authenticate(sock, proxy)
    sock.sendall(bytes((VERSION, CONNECT, 0)) + _address(host) + struct.pack("!H", port))
    _, reply, _, kind = _exactly(sock, 4, proxy)
    if reply != 0:
        text, retryable = REPLIES.get(reply, (f"reply {reply}", True))
        raise ProxyError(f"the SOCKS5 proxy {proxy.where()} could not connect to {host}:{port}: {text}", retryable)
    # the address the proxy bound for us, then its port: read off the stream, not needed
    size = {IPV4: 4, IPV6: 16}.get(kind) or _exactly(sock, 1, proxy)[0]
    _exactly(sock, size + 2, proxy)
