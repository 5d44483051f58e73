"""``http_config.follow_redirects``: which answer sends a receiver's request on, and how, as Go's net/http
client decides (Prometheus' common HTTP client uses it; Alertmanager's default is to follow).

The decisions only, without I/O; receivers.http sends each hop:
- ``follow``: 301, 302 and 303 turn anything but GET and HEAD into a GET without a body, 307 and 308 send
  the same method and body again; other 3xx answers, and any without a ``Location``, are the answer. The
  Location is resolved against the URL that was asked for; one that is not http(s) is an error, and so is
  the 10th redirect (Go's ``stopped after 10 redirects``). Both are errors of the request, as a
  transport error is, and Alertmanager's notifiers retry those.
- ``same_site``: once a redirect leaves the first request's host for one that is neither it nor one of
  its subdomains, the rest of the chain goes without the receiver's own sensitive headers (``Authorization``,
  ``WWW-Authenticate``, ``Cookie``, ``Cookie2``: Go's list; the others travel on) and without the
  ``http_config`` credentials (prometheus/common since v0.69 leaves them off once a chain has left its
  host, even when it comes back). The port does not count: ``127.0.0.1:80`` and ``127.0.0.1:8080`` are one
  host.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from fleetmon.hub.alerting.receivers.base import DeliveryError

MAX_REDIRECTS = 10
SENSITIVE_HEADERS = frozenset({"authorization", "www-authenticate", "cookie", "cookie2"})
_METHOD_KEPT = ("GET", "HEAD")  # 301/302/303 keep these; anything else becomes a GET
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"  # what stays as it is when a Location's path and query are percent-encoded


@dataclass(slots=True, frozen=True)
class Hop:
    """One request of a chain."""

    url: str = field(repr=False)  # may carry a token or user:password@
    method: str = "POST"
    body: bytes | None = field(default=None, repr=False)


def where(url: str) -> str:
    """``host[:port]`` of ``url``, for messages: the rest of a receiver's URL may be a secret."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.hostname}:{port}" if port else str(parts.hostname)


def follow(hop: Hop, status: int, location: str, sent: int) -> Hop | None:
    """The request that answer ``status`` (with its ``location``) to ``hop`` asks for, after ``sent`` requests
    of the chain; None when this answer is the answer."""
    if status in (301, 302, 303):
        method = hop.method if hop.method in _METHOD_KEPT else "GET"
        body = None
    elif status in (307, 308):
        method, body = hop.method, hop.body
    else:
        return None
    if not location:
        return None  # Go returns such an answer as it is
    failed = f"{hop.method} to {where(hop.url)}: HTTP {status}"
    try:
        url = _resolve(hop.url, location)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:  # a bracketed host that is no IPv6 address, a port that is no number
        raise DeliveryError(f"{failed} redirects to a Location that is not a URL", retryable=True) from None
    if sent >= MAX_REDIRECTS:
        raise DeliveryError(f"{failed}: stopped after {MAX_REDIRECTS} redirects", retryable=True)
    if parts.scheme not in ("http", "https"):
        raise DeliveryError(f"{failed} redirects to a {parts.scheme or 'scheme-less'} URL, which the hub does not "
                            "follow", retryable=True)
    if not parts.hostname:
        raise DeliveryError(f"{failed} redirects to a URL without a host", retryable=True)
    return Hop(url, method, body)


def _resolve(base: str, location: str) -> str:
    """``location`` (absolute, or relative to ``base``), its path and query percent-encoded as Go writes
    them: a Location may carry spaces or non-ASCII characters that a request line cannot."""
    parts = urlsplit(urljoin(base, location.strip()))
    return urlunsplit((parts.scheme, parts.netloc, quote(parts.path, safe=_URL_SAFE),
                       quote(parts.query, safe=_URL_SAFE), ""))


def same_site(first: str, url: str) -> bool:
    """Whether ``url``'s host is the host of ``first`` (the chain's first URL) or one of its subdomains
    (Go's isDomainOrSubdomain: an IP address matches only itself)."""
    parent, host = _host(first), _host(url)
    if not parent:
        return False
    if host == parent:
        return True
    if ":" in host or "%" in host:  # an IPv6 address (or its zone) is no one's subdomain
        return False
    return host.endswith("." + parent)


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")  # compared as Go compares them: in their ASCII form
    except UnicodeError:
        return host


def forwarded(headers: Mapping[str, str], crossed: bool) -> dict[str, str]:
    """The first request's ``headers`` a hop carries: all of them until the chain has left the first
    request's site (``crossed``), then all but the sensitive ones."""
    if not crossed:
        return dict(headers)
    return {name: value for name, value in headers.items() if name.lower() not in SENSITIVE_HEADERS}
