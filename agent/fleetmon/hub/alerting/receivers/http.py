"""The HTTP side shared by every receiver that speaks HTTP (webhook, Slack, PagerDuty, the chat, incident and
SaaS services, an Alertmanager).

``http_config`` takes Prometheus' common keys (authorization, basic_auth, bearer_token, oauth2, tls_config and
the proxy keys) so an existing alertmanager.yml works unchanged. Requests go out with http.client: one
request per attempt (two when an oauth2 token is refused with 401: a new token, one more try), through a
proxy only when the config says so (receivers.proxy: absolute-form requests for http:// targets, a CONNECT
tunnel for https:// ones), and no redirects (Go would turn a redirected POST into a GET without a body; we
report the redirect instead).

Answers are sorted as Alertmanager sorts them: 2xx delivered; 5xx, timeouts and connection errors worth
another try, and so is 429 (too many requests), which a later try may get through; anything else (a 4xx:
bad URL, bad token, bad payload) fails at once, as does a certificate we do not trust: retrying cannot
fix trust.
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
from fleetmon.hub.alerting.receivers.common import secret
from fleetmon.hub.alerting.receivers.oauth2 import TokenSource, parse_oauth2
from fleetmon.hub.alerting.receivers.proxy import PROXY_KEYS, Proxy, ProxySettings, parse_proxy, proxy_for
from fleetmon.hub.alerting.receivers.tls import TlsSettings, parse_tls, system_tls

USER_AGENT = f"fleetmon/{__version__}"
AUTH_KEYS = ("authorization", "basic_auth", "bearer_token", "bearer_token_file", "oauth2")
#: prometheus/common's transport switches: HTTP/2 (the hub speaks HTTP/1.1 whatever it says) and following
#: redirects, which the hub does not do yet: only ``false``, what it does anyway, is taken.
TRANSPORT_KEYS = ("enable_http2", "follow_redirects")
HTTP_KEYS = (*AUTH_KEYS, "tls_config", *PROXY_KEYS, *TRANSPORT_KEYS)
_MAX_ANSWER = 64 * 1024  # bytes of a response kept; enough for any error message


@dataclass(slots=True, frozen=True)
class HttpConfig:
    authorization: str = field(default="", repr=False)  # the Authorization header's value
    tls: TlsSettings | None = None  # None: system CAs, full verification
    proxy: ProxySettings | None = None  # None: straight to the target
    oauth2: TokenSource | None = None  # sets the Authorization header per request


def parse_http_config(node: Node) -> HttpConfig:
    node = node.mapping(HTTP_KEYS)
    schemes = [key for key in AUTH_KEYS if not node.child(key).missing]
    if len(schemes) > 1:
        node.fail("set at most one of {} (got {})".format(", ".join(AUTH_KEYS), ", ".join(schemes)))
    authorization, oauth2 = "", None
    if not node.child("authorization").missing:
        auth = node.child("authorization").mapping(("type", "credentials", "credentials_file"))
        kind = auth.child("type").string("Bearer")
        credentials = secret(auth, "credentials")
        if not credentials:
            auth.fail("credentials or credentials_file is required")
        authorization = f"{kind} {credentials}"
    elif not node.child("basic_auth").missing:
        basic = node.child("basic_auth").mapping(("username", "password", "password_file"))
        username = basic.child("username").string()
        if not username:
            basic.child("username").fail("required")
        authorization = basic_authorization(username, secret(basic, "password"))
    elif not node.child("oauth2").missing:
        oauth2 = parse_oauth2(node.child("oauth2"))
    elif schemes:
        authorization = "Bearer " + secret(node, "bearer_token")
    tls = None if node.child("tls_config").missing else parse_tls(node.child("tls_config"))
    node.child("enable_http2").boolean(True)
    if node.child("follow_redirects").boolean(False):
        node.child("follow_redirects").fail("following redirects is not supported yet: set false (a redirect is "
                                            "reported as the delivery's failure)")
    return HttpConfig(authorization, tls, parse_proxy(node), oauth2)


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
        name = self._tls.server_name or self._tunnel_host or self.host  # the target's, not the proxy's
        self.sock = self._tls.context.wrap_socket(self.sock, server_hostname=name)


def post(url: str, body: bytes | None, config: HttpConfig, timeout: float, content_type: str = "application/json",
         headers: Mapping[str, str] | None = None, method: str = "POST") -> bytes:
    """One POST of ``body`` (or ``method``: the Jira and WeChat receivers also GET and PUT); the answer's body
    when it is 2xx, DeliveryError otherwise.

    ``timeout`` bounds the connection and each read, not the whole exchange.
    """
    if config.oauth2 is None:
        return _exchange(url, body, config, timeout, content_type, headers, method, config.authorization)
    source = config.oauth2
    token_config = HttpConfig(tls=source.tls, proxy=source.proxy)

    def fetch(token_url: str, form: bytes, sent: Mapping[str, str]) -> bytes:
        return _exchange(token_url, form, token_config, timeout, "application/x-www-form-urlencoded", sent,
                         "POST", "")

    authorization = source.authorization(fetch)
    try:
        return _exchange(url, body, config, timeout, content_type, headers, method, authorization)
    except DeliveryError as exc:
        if exc.status != 401:
            raise
        source.drop(authorization)
    return _exchange(url, body, config, timeout, content_type, headers, method, source.authorization(fetch))


def _connection(url: str, config: HttpConfig, timeout: float) -> tuple[http.client.HTTPConnection, Proxy | None]:
    """A connection for ``url``: to the target, to the proxy (http://), or tunnelled through it (https://)."""
    parts = urlsplit(url)
    proxy = proxy_for(url, config.proxy)
    if parts.scheme == "https":
        tls = config.tls or system_tls()
        if proxy is None:
            return _TlsConnection(parts.hostname, parts.port, timeout, tls), None
        connection: http.client.HTTPConnection = _TlsConnection(proxy.host, proxy.port, timeout, tls)
        tunnel_headers = dict(proxy.connect_headers)
        if proxy.authorization:
            tunnel_headers["Proxy-Authorization"] = proxy.authorization
        connection.set_tunnel(parts.hostname, parts.port or 443, headers=tunnel_headers)
        return connection, None  # the request itself goes inside the tunnel, in origin form
    if proxy is None:
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout), None
    return http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout), proxy


def _exchange(url: str, body: bytes | None, config: HttpConfig, timeout: float, content_type: str,
              headers: Mapping[str, str] | None, method: str, authorization: str) -> bytes:
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {**({} if body is None else {"Content-Type": content_type}), "User-Agent": USER_AGENT, **(headers or {})}
    if authorization:
        sent["Authorization"] = authorization
    elif parts.username is not None:  # user:password@ in the URL, which Go's client also honours
        sent["Authorization"] = basic_authorization(unquote(parts.username), unquote(parts.password or ""))
    connection, proxy = _connection(url, config, timeout)
    if proxy is not None:  # absolute form, as RFC 9112 §3.2.2 asks of a request to a proxy
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        target = f"http://{netloc}{target}"
        if proxy.authorization:
            sent["Proxy-Authorization"] = proxy.authorization
    try:
        connection.request(method, target, body=body, headers=sent)
        response = connection.getresponse()
        answer = response.read(_MAX_ANSWER)
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"{method} to {where}: certificate not trusted: {exc.verify_message}",
                            retryable=False) from exc
    except TimeoutError as exc:
        raise DeliveryError(f"{method} to {where}: no answer within {timeout:g}s", retryable=True) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{method} to {where} failed: {exc or type(exc).__name__}", retryable=True) from exc
    finally:
        connection.close()
    status = response.status
    if 200 <= status < 300:
        return answer
    detail = answer[:300].decode("utf-8", "replace").strip()
    if 300 <= status < 400:
        detail = f"redirected to {response.getheader('Location', '?')}; set the final URL in the config"
    retryable = status >= 500 or status == 429
    raise DeliveryError(f"{method} to {where}: HTTP {status} {response.reason}" + (f": {detail}" if detail else ""),
                        retryable=retryable, status=status)
