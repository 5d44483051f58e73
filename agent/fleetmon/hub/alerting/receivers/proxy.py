"""The proxy keys of ``http_config`` (``proxy_url``, ``no_proxy``, ``proxy_from_environment``,
``proxy_connect_header``), as Prometheus' common HTTP client reads them.

Which proxy a request takes is decided here, per URL, without I/O (``proxy_for``); receivers.tunnel opens
the connection through it, as Go's ``net/http`` Transport does for each kind of proxy URL: ``http://`` and
``https://`` (TLS to the proxy first) proxies are asked for a plain ``http://`` target in absolute form and
open a ``CONNECT`` tunnel to an ``https://`` one, so TLS runs end to end with the receiver; ``socks5://``
(and ``socks5h://``, the same to Go) proxies connect to either, the target's name resolved by the proxy.
The proxy URL's ``user:password@`` becomes ``Proxy-Authorization: Basic …`` for an HTTP(S) proxy, the
RFC 1929 username and password for a SOCKS5 one.

``no_proxy`` and the environment follow Go's ``golang.org/x/net/http/httpproxy``, which Prometheus' client
uses for both: a comma-separated list of host names (``example.com`` also matches its subdomains,
``.example.com`` only them), IP addresses, CIDR ranges, ``host:port`` entries and ``*`` (everything); and,
as in Go, ``localhost`` and loopback addresses are never proxied once ``no_proxy`` or the environment
decides. A bare ``proxy_url`` proxies every request. ``proxy_from_environment`` reads ``HTTP_PROXY``,
``HTTPS_PROXY`` and ``NO_PROXY`` (or their lowercase forms) at each attempt; a value without a scheme is
an ``http://`` proxy, as in Go.
"""

import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from fleetmon.config_reader import Node

PROXY_KEYS = ("proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header")
#: The proxy URL schemes Go's Transport speaks, with the port each implies (its ``portMap``).
SCHEME_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}
SOCKS_SCHEMES = ("socks5", "socks5h")


class ProxyError(OSError):
    """The proxy would not, or could not, carry the request; ``status`` is an HTTP proxy's answer."""

    def __init__(self, message: str, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(slots=True, frozen=True)
class Proxy:
    """A proxy to send one request through."""

    host: str
    port: int
    authorization: str = field(default="", repr=False)  # Proxy-Authorization, from the URL's userinfo
    connect_headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # only on CONNECT
    scheme: str = "http"  # a key of SCHEME_PORTS, or what the environment named (receivers.tunnel refuses it)
    username: str | None = field(default=None, repr=False)  # the URL's userinfo, for a SOCKS5 proxy
    password: str = field(default="", repr=False)

    @property
    def socks(self) -> bool:
        return self.scheme in SOCKS_SCHEMES

    def where(self) -> str:
        """The proxy as a message names it: its URL without the userinfo."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(slots=True, frozen=True)
class ProxySettings:
    url: str = field(default="", repr=False)  # proxy_url; may carry a password
    no_proxy: str = ""
    from_environment: bool = False
    connect_headers: Mapping[str, str] = field(default_factory=dict, repr=False)


def parse_proxy(node: Node) -> ProxySettings | None:
    """The proxy keys of a mapping ``node`` (an http_config or an oauth2 block); None when none is set."""
    url = node.child("proxy_url").string()
    no_proxy = node.child("no_proxy").string()
    from_environment = node.child("proxy_from_environment").boolean(False)
    headers = node.child("proxy_connect_header")
    connect_headers = {}
    for name, values in headers.items():
        if isinstance(values.value, str):
            values.fail("must be a list of strings")
            continue
        connect_headers[name] = ", ".join(values.string_list())
    if url:
        check_proxy_url(node.child("proxy_url"), url)
    if from_environment and url:
        node.child("proxy_url").fail("set proxy_url or proxy_from_environment, not both")
    if no_proxy and not url:
        node.child("no_proxy").fail("needs proxy_url (with proxy_from_environment, NO_PROXY says it)")
    if connect_headers and not (url or from_environment):
        headers.fail("needs proxy_url or proxy_from_environment")
    if not (url or from_environment):
        return None
    return ProxySettings(url, no_proxy, from_environment, connect_headers)


def check_proxy_url(node: Node, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in SCHEME_PORTS or not parts.hostname:
        node.fail("must be the http://, https:// or socks5:// URL of a proxy")
        return
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        node.fail("has an invalid port")
    if parts.scheme in SOCKS_SCHEMES and parts.username is not None and not (
            0 < len(unquote(parts.username).encode()) < 256 and len(unquote(parts.password or "").encode()) < 256):
        node.fail("a SOCKS5 username must be 1 to 255 bytes, its password at most 255 (RFC 1929)")


def _excluded(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``host:port`` bypasses the proxy under ``no_proxy`` (httpproxy's rules, loopback included)."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and address.is_loopback:
        return True
    for entry in (part.strip().lower() for part in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if address is not None and address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, entry_port = entry, 0
        if entry.count(":") == 1 or entry.startswith("["):
            name, _, port_text = entry.rpartition(":")
            name = name.strip("[]")
            entry_port = int(port_text) if port_text.isdigit() else 0
        if entry_port and entry_port != port:
            continue
        try:
            entry_address = ipaddress.ip_address(name)
        except ValueError:
            entry_address = None
        if entry_address is not None:
            if address == entry_address:
                return True
            continue
        if name.startswith("*."):
            name = name[1:]
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def _from_url(url: str, connect_headers: Mapping[str, str]) -> Proxy | None:
    if not url:
        return None
    if "://" not in url:  # Go reads a bare host:port from the environment as http://host:port
        url = "http://" + url
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        port = parts.port or SCHEME_PORTS.get(parts.scheme, 0)
    except ValueError:
        port = 0  # an invalid port from the environment: receivers.tunnel cannot reach it and says so
    username, password, authorization = None, "", ""
    if parts.username is not None:
        username, password = unquote(parts.username), unquote(parts.password or "")
        authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return Proxy(parts.hostname, port, authorization, connect_headers, parts.scheme, username, password)


def _environment(name: str, env: Mapping[str, str]) -> str:
    return env.get(name) or env.get(name.lower()) or ""


def proxy_for(url: str, settings: ProxySettings | None, env: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy a request to ``url`` goes through; None: straight to the target."""
    if settings is None:
        return None
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if settings.from_environment:
        env = os.environ if env is None else env
        chosen = _environment("HTTPS_PROXY" if parts.scheme == "https" else "HTTP_PROXY", env)
        if not chosen or _excluded(host, port, _environment("NO_PROXY", env)):
            return None
        return _from_url(chosen, settings.connect_headers)
    if settings.no_proxy and _excluded(host, port, settings.no_proxy):
        return None
    return _from_url(settings.url, settings.connect_headers)

