"""A connection to a receiver through the proxy receivers.proxy picked for its URL, made as Go's
``net/http`` Transport makes one (its ``dialConn``):

1. TCP to the proxy; for an ``https://`` proxy, TLS with it, under the receiver's ``tls_config`` (the
   same CA, client certificate, ``min_version`` and ``insecure_skip_verify``; the certificate checked for
   ``server_name`` when it is set, else for the proxy's host), as Go uses one ``TLSClientConfig`` for both.
2. For a SOCKS5 proxy, its ``CONNECT`` to the receiver (receivers.socks5); for an HTTP(S) proxy and an
   ``https://`` receiver, an HTTP ``CONNECT`` with ``proxy_connect_header`` and the proxy's
   ``Proxy-Authorization``; an answer other than 200 ends the attempt. An ``http://`` receiver behind an
   HTTP(S) proxy gets no tunnel: receivers.http sends it the request in absolute form.
3. For an ``https://`` receiver, TLS with it inside that, checked for ``server_name`` or its host; inside
   an ``https://`` proxy's TLS, that is TLS in TLS (receivers.nested_tls).

Failures the proxy causes are ``ProxyError``: an unreachable proxy and a 5xx or 429 answer are worth
another attempt; refused credentials (407), a proxy's refusal of the target and a proxy certificate not
trusted are not (retrying cannot fix them). The receiver's certificate raises
``ssl.SSLCertVerificationError`` as without a proxy.
"""

import http.client
import socket
import ssl
from collections.abc import Mapping

from fleetmon.hub.alerting.receivers import socks5
from fleetmon.hub.alerting.receivers.nested_tls import NestedTls
from fleetmon.hub.alerting.receivers.proxy import SCHEME_PORTS, Proxy, ProxyError
from fleetmon.hub.alerting.receivers.tls import TlsSettings

_MAX_CONNECT_ANSWER = 64 * 1024  # bytes of a refused CONNECT's answer read before giving up on it


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ProxiedConnection(http.client.HTTPConnection):
    """HTTP/1.1 to ``host:port`` through ``proxy``; ``https`` says whether the receiver speaks TLS."""

    def __init__(self, proxy: Proxy, host: str, port: int, https: bool, tls: TlsSettings, timeout: float) -> None:
        self.default_port = 443 if https else 80  # the port a Host header leaves out
        super().__init__(host, port, timeout=timeout)
        self._proxy, self._https, self._tls = proxy, https, tls

    @property
    def absolute_form(self) -> bool:
        """Whether requests go to the proxy itself, in absolute form (an HTTP(S) proxy, an http:// receiver)."""
        return not (self._https or self._proxy.socks)

    def connect(self) -> None:
        proxy = self._proxy
        if proxy.scheme not in SCHEME_PORTS or not proxy.port:
            raise ProxyError(f"cannot use the proxy {proxy.where()}: its URL is not that of an http://, https:// "
                             f"or socks5:// proxy with a port", retryable=False)
        try:
            sock: socket.socket | NestedTls = socket.create_connection((proxy.host, proxy.port), self.timeout)
        except TimeoutError as exc:
            raise ProxyError(f"no answer from the proxy {proxy.where()} within {self.timeout:g}s",
                             retryable=True) from exc
        except OSError as exc:
            raise ProxyError(f"cannot reach the proxy {proxy.where()}: {exc.strerror or exc}", retryable=True) from exc
        try:
            if proxy.scheme == "https":
                sock = self._tls_to_proxy(sock)
            if proxy.socks:
                socks5.connect(sock, self.host, self.port, proxy)
            elif self._https:
                headers = dict(proxy.connect_headers)
                if proxy.authorization:
                    headers["Proxy-Authorization"] = proxy.authorization
                open_tunnel(sock, _authority(self.host, self.port), headers, proxy)
            if self._https:
                name = self._tls.server_name or self.host
                if isinstance(sock, ssl.SSLSocket):
                    sock = NestedTls(sock, self._tls.context, name)
                else:
                    sock = self._tls.context.wrap_socket(sock, server_hostname=name)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def _tls_to_proxy(self, sock: socket.socket) -> ssl.SSLSocket:
        proxy = self._proxy
        try:
            return self._tls.context.wrap_socket(sock, server_hostname=self._tls.server_name or proxy.host)
        except ssl.SSLCertVerificationError as exc:
            raise ProxyError(f"the proxy {proxy.where()}: certificate not trusted: {exc.verify_message}",
                             retryable=False) from exc


def open_tunnel(sock: socket.socket, authority: str, headers: Mapping[str, str], proxy: Proxy) -> None:
    """An HTTP ``CONNECT`` to ``authority`` on ``sock``, as Go writes it (HTTP/1.1, ``Host`` the authority);
    returns once the proxy answered 200, the tunnel open."""
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", *(f"{name}: {value}" for name, value in
                                                                       headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    # The receiver says nothing before the client's TLS hello, so reading ahead takes only the proxy's answer.
    answer = http.client.HTTPResponse(sock, method="CONNECT")  # type: ignore[arg-type]
    try:
        answer.begin()
        if answer.status == 200:
            return
        detail = answer.read(_MAX_CONNECT_ANSWER)[:200].decode("utf-8", "replace").strip() if answer.length else ""
    finally:
        answer.close()
    retryable = answer.status >= 500 or answer.status == 429
    raise ProxyError(f"the proxy {proxy.where()} refused the tunnel to {authority}: HTTP {answer.status} "
                     f"{answer.reason}" + (f": {detail}" if detail else ""), retryable=retryable, status=answer.status)


def proxied(proxy: Proxy, host: str, port: int | None, https: bool, tls: TlsSettings,
            timeout: float) -> tuple[http.client.HTTPConnection, Proxy | None]:
    """The connection for a receiver at ``host:port`` behind ``proxy``, and the proxy when requests go to it
    in absolute form (None: they go in origin form, inside the tunnel)."""
    connection = ProxiedConnection(proxy, host, port or (443 if https else 80), https, tls, timeout)
    return connection, proxy if connection.absolute_form else None
