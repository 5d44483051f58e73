"""The HTTP side shared by every receiver that speaks HTTP (webhook, Slack, PagerDuty, the chat, incident and
SaaS services, an Alertmanager).

``http_config`` takes Prometheus' common keys (authorization, basic_auth, bearer_token, oauth2, tls_config,
the proxy keys, follow_redirects, http_headers: receivers.headers) so an existing alertmanager.yml works
unchanged; their ``*_ref`` keys (secrets of a secret manager, which Alertmanager does not have) are refused
saying so. Requests go out with
http.client, each on a connection of its own, through a proxy only when the config says so per URL
(receivers.proxy picks it, receivers.tunnel connects through it: http://, https:// and socks5:// proxies).
Redirects are followed as Go's client follows them (receivers.redirects: a POST turned into a GET by
301/302/303, kept by 307/308, the 10th redirect an error), unless ``follow_redirects: false``, which makes
a 3xx the answer.

Credentials are set per request as Go's client and prometheus/common's set them: the receiver's own
headers first (Opsgenie's ``GenieKey``), then the URL's ``user:password@``, then ``authorization``,
``basic_auth`` or ``bearer_token`` when the request has no Authorization yet; an oauth2 token replaces
whatever is there. A request refused with 401 under an oauth2 token is sent once more, from its first
URL, with a new token.

Answers are sorted as Alertmanager sorts them: 2xx delivered; 5xx, timeouts and connection errors worth
another try, and so is 429 (too many requests), which a later try may get through; anything else (a 4xx:
bad URL, bad token, bad payload; a 3xx not followed) fails at once, as does a certificate we do not trust:
retrying cannot fix trust. A chain of redirects that never ends, or that leads to a URL the hub cannot
ask, is an error of the request, as in Go, and retried.
"""

import base64
import http.client
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from fleetmon import __version__
from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.receivers.common import refuse_refs, secret, secret_source
from fleetmon.hub.alerting.receivers.headers import HttpHeaders, parse_headers
from fleetmon.hub.alerting.receivers.oauth2 import TokenSource, parse_oauth2
from fleetmon.hub.alerting.receivers.proxy import PROXY_KEYS, Proxy, ProxyError, ProxySettings, parse_proxy, proxy_for
from fleetmon.hub.alerting.receivers.redirects import Hop, follow, forwarded, same_site, where
from fleetmon.hub.alerting.receivers.tls import TlsSettings, parse_tls, system_tls
from fleetmon.hub.alerting.receivers.tunnel import proxied

USER_AGENT = f"fleetmon/{__version__}"
AUTH_KEYS = ("authorization", "basic_auth", "bearer_token", "bearer_token_file", "oauth2")
#: prometheus/common's transport switches: HTTP/2 (the hub speaks HTTP/1.1 whatever it says) and following
#: redirects (default true, as there).
TRANSPORT_KEYS = ("enable_http2", "follow_redirects")
HTTP_KEYS = (*AUTH_KEYS, "tls_config", "http_headers", *PROXY_KEYS, *TRANSPORT_KEYS)
_MAX_ANSWER = 64 * 1024  # bytes of a response kept; enough for any error message


@dataclass(slots=True, frozen=True)
class HttpConfig:
    authorization: str = field(default="", repr=False)  # the Authorization header's value
    tls: TlsSettings | None = None  # None: system CAs, full verification
    proxy: ProxySettings | None = None  # None: straight to the target
    oauth2: TokenSource | None = None  # sets the Authorization header per request
    follow_redirects: bool = True  # False: a 3xx is the answer
    headers: HttpHeaders | None = None  # http_headers, added to every request


def parse_http_config(node: Node) -> HttpConfig:
    node = node.mapping(HTTP_KEYS)
    schemes = [key for key in AUTH_KEYS if not node.child(key).missing]
    if len(schemes) > 1:
        node.fail("set at most one of {} (got {})".format(", ".join(AUTH_KEYS), ", ".join(schemes)))
    authorization, oauth2 = "", None
    if not node.child("authorization").missing:
        auth = node.child("authorization").mapping(("type", "credentials", "credentials_file", "credentials_ref"))
        refuse_refs(auth, "credentials")
        kind = auth.child("type").string("Bearer")
        if kind.lower() == "basic":  # prometheus/common's rule and words
            auth.child("type").fail('authorization type cannot be set to "basic", use "basic_auth" instead')
        credentials = secret(auth, "credentials")
        if not credentials:
            auth.fail("credentials or credentials_file is required")
        authorization = f"{kind} {credentials}"
    elif not node.child("basic_auth").missing:
        basic = node.child("basic_auth").mapping(("username", "username_file", "username_ref", "password",
                                                  "password_file", "password_ref"))
        refuse_refs(basic, "username", "password")
        username = secret(basic, "username")
        if not username:
            secret_source(basic, "username").fail("required")
        authorization = basic_authorization(username, secret(basic, "password"))
    elif not node.child("oauth2").missing:
        oauth2 = parse_oauth2(node.child("oauth2"))
    elif schemes:
        authorization = "Bearer " + secret(node, "bearer_token")
    tls = None if node.child("tls_config").missing else parse_tls(node.child("tls_config"))
    node.child("enable_http2").boolean(True)
    return HttpConfig(authorization, tls, parse_proxy(node), oauth2, node.child("follow_redirects").boolean(True),
                      parse_headers(node.child("http_headers")))


def entry_http_config(node: Node, fallback: HttpConfig) -> HttpConfig:
    """A receiver entry's own ``http_config``, else ``fallback`` (the global section's)."""
    own = node.child("http_config")
    return fallback if own.missing else parse_http_config(own)


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def check_url(node: Node, url: str) -> None:
    """Fail ``node`` unless ``url`` is an absolute http(s) URL; the value stays out of the message, since
    webhook URLs often carry a token."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        node.fail("must be an absolute http:// or https:// URL")
        return
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        node.fail("has an invalid port")


class _TlsConnection(http.client.HTTPSConnection):
    """HTTPS whose certificate is checked against ``server_name`` when the config names one."""

    def __init__(self, host: str, port: int | None, timeout: float, tls: TlsSettings) -> None:
        super().__init__(host, port, timeout=timeout, context=tls.context)
        self._tls = tls

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        name = self._tls.server_name or self.host
        self.sock = self._tls.context.wrap_socket(self.sock, server_hostname=name)


@dataclass(slots=True, frozen=True)
class _Answer:
    """The last answer of a chain of requests."""

    hop: Hop
    status: int
    reason: str
    location: str = field(repr=False)
    body: bytes = field(repr=False)
    authorized: bool  # it answered a request that carried the http_config credentials
    redirects: int = 0


def post(url: str, body: bytes | None, config: HttpConfig, timeout: float, content_type: str = "application/json",
         headers: Mapping[str, str] | None = None, method: str = "POST") -> bytes:
    """One POST of ``body`` (or ``method``: the Jira and WeChat receivers also GET and PUT), redirects followed
    as ``config`` says; the last answer's body when it is 2xx, DeliveryError otherwise.

    ``timeout`` bounds each connection and each read, not the whole exchange.
    """
    first = Hop(url, method, body)
    request_headers = {**({} if body is None else {"Content-Type": content_type}), "User-Agent": USER_AGENT,
                       **(headers or {})}
    if config.headers is not None:  # its files are read for each attempt
        request_headers = config.headers.added_to(request_headers)
    if config.oauth2 is None:
        return _verdict(_chain(first, request_headers, config, timeout, config.authorization, replaces=False))
    source = config.oauth2
    token_config = HttpConfig(tls=source.tls, proxy=source.proxy)

    def fetch(token_url: str, form: bytes, token_headers: Mapping[str, str]) -> bytes:
        return post(token_url, form, token_config, timeout, "application/x-www-form-urlencoded", token_headers)

    authorization = source.authorization(fetch)
    answer = _chain(first, request_headers, config, timeout, authorization, replaces=True)
    if answer.status == 401 and answer.authorized:  # the token was refused, not merely missing
        source.drop(authorization)
        answer = _chain(first, request_headers, config, timeout, source.authorization(fetch), replaces=True)
    return _verdict(answer)


def _chain(first: Hop, headers: Mapping[str, str], config: HttpConfig, timeout: float, authorization: str,
           replaces: bool) -> _Answer:
    """Send ``first``, then the requests its redirects ask for, as prometheus/common's client would: the
    http_config ``authorization`` on each hop while the chain stays on its first site, where it takes the
    place of an Authorization the request has when it ``replaces`` (an oauth2 token), else only fills its
    absence."""
    hop, crossed, redirects = first, False, 0
    while True:
        answer = _exchange(hop, forwarded(headers, crossed), config, timeout, "" if crossed else authorization,
                           replaces, redirects)
        if not config.follow_redirects:
            return answer
        following = follow(hop, answer.status, answer.location, redirects + 1)
        if following is None:
            return answer
        hop, redirects = following, redirects + 1
        crossed = crossed or not same_site(first.url, hop.url)


def _connection(url: str, config: HttpConfig, timeout: float) -> tuple[http.client.HTTPConnection, Proxy | None]:
    """A connection for ``url``: to the target, or through the proxy the config picks for it (receivers.tunnel);
    with the proxy when the request goes to it in absolute form."""
    parts = urlsplit(url)
    proxy = proxy_for(url, config.proxy)
    tls = config.tls or system_tls()
    if proxy is not None:
        return proxied(proxy, parts.hostname, parts.port, parts.scheme == "https", tls, timeout)
    if parts.scheme == "https":
        return _TlsConnection(parts.hostname, parts.port, timeout, tls), None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout), None


def _has(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name.lower() for key in headers)


def _exchange(hop: Hop, headers: Mapping[str, str], config: HttpConfig, timeout: float, authorization: str,
              replaces: bool, redirects: int) -> _Answer:
    """One request on a connection of its own (the next hop may need another host, proxy or tunnel)."""
    parts = urlsplit(hop.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = dict(headers)
    if parts.username is not None and not _has(sent, "Authorization"):  # user:password@, as Go's client does
        sent["Authorization"] = basic_authorization(unquote(parts.username), unquote(parts.password or ""))
    authorized = bool(authorization) and (replaces or not _has(sent, "Authorization"))
    if authorized:
        sent = {key: value for key, value in sent.items() if key.lower() != "authorization"}
        sent["Authorization"] = authorization
    connection, proxy = _connection(hop.url, config, timeout)
    if proxy is not None:  # absolute form, as RFC 9112 §3.2.2 asks of a request to a proxy
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        target = f"http://{netloc}{target}"
        if proxy.authorization:
            sent["Proxy-Authorization"] = proxy.authorization
    failed = f"{hop.method} to {where(hop.url)}"
    try:
        connection.request(hop.method, target, body=hop.body, headers=sent)
        response = connection.getresponse()
        body = response.read(_MAX_ANSWER)
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"{failed}: certificate not trusted: {exc.verify_message}", retryable=False) from exc
    except ProxyError as exc:
        raise DeliveryError(f"{failed}: {exc}", retryable=exc.retryable, status=exc.status) from exc
    except TimeoutError as exc:
        raise DeliveryError(f"{failed}: no answer within {timeout:g}s", retryable=True) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{failed} failed: {exc or type(exc).__name__}", retryable=True) from exc
    finally:
        connection.close()
    return _Answer(hop, response.status, response.reason, response.getheader("Location", ""), body, authorized,
                   redirects)


def _verdict(answer: _Answer) -> bytes:
    """The answer's body when it is 2xx; else the DeliveryError Alertmanager's notifiers would see."""
    status = answer.status
    if 200 <= status < 300:
        return answer.body
    detail = answer.body[:300].decode("utf-8", "replace").strip()
    if 300 <= status < 400 and answer.location:
        detail = f"redirected to {answer.location}; set the final URL in the config"
    after = f" (after {answer.redirects} redirect{'s' if answer.redirects > 1 else ''})" if answer.redirects else ""
    retryable = status >= 500 or status == 429
    raise DeliveryError(f"{answer.hop.method} to {where(answer.hop.url)}{after}: HTTP {status} {answer.reason}"
                        + (f": {detail}" if detail else ""), retryable=retryable, status=status)
