"""One HTTP request to the long-term store, its failures sorted for the callers' retry rules.

2xx is success; 5xx, 429, timeouts and connection errors are worth another try (``retryable``); any other
answer (a 4xx: bad URL, bad credentials, samples the receiver refuses) is not: the same request would be
refused again. No proxy from the environment and no redirects: the store is reached as the config says.
"""

import http.client
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from fleetmon import __version__
from fleetmon.hub.store.remote_config import Endpoint

USER_AGENT = f"fleetmon/{__version__}"


class RemoteError(Exception):
    def __init__(self, message: str, retryable: bool, status: int = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status

    @property
    def reason(self) -> str:
        """What the failure is, without what changes from one request to the next, for "logged once"."""
        return f"HTTP {self.status}" if self.status else type(self.__cause__).__name__


class Client:
    """Requests to one endpoint; the ssl context is made once (loading CAs costs)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        parts = urlsplit(endpoint.url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._base = parts.path.rstrip("/")
        self._context = endpoint.ssl_context() if self._https else None

    def request(self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None,
                max_answer: int = 64 * 1024 * 1024) -> bytes:
        """The answer's body (at most ``max_answer`` bytes) when it is 2xx; RemoteError otherwise. ``path``
        (with its query string) is appended to the endpoint's URL."""
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        if self.endpoint.authorization:
            sent["Authorization"] = self.endpoint.authorization
        timeout = self.endpoint.timeout
        if self._https:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._context)
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        where = f"{method} {self.endpoint.url}{path.split('?')[0]}"
        try:
            connection.request(method, self._base + path, body=body, headers=sent)
            response = connection.getresponse()
            answer = response.read(max_answer)
        except ssl.SSLCertVerificationError as exc:
            raise RemoteError(f"{where}: certificate not trusted: {exc.verify_message}", retryable=False) from exc
        except TimeoutError as exc:
            raise RemoteError(f"{where}: no answer within {timeout:g}s", retryable=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(f"{where} failed: {exc or type(exc).__name__}", retryable=True) from exc
        finally:
            connection.close()
        status = response.status
        if 200 <= status < 300:
            return answer
        detail = answer[:300].decode("utf-8", "replace").strip()
        raise RemoteError(f"{where}: HTTP {status} {response.reason}" + (f": {detail}" if detail else ""),
                          retryable=status >= 500 or status == 429, status=status)
