"""``http_config.oauth2``: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4), as Prometheus' common HTTP
client gets its tokens (golang.org/x/oauth2/clientcredentials), or, with ``grant_type:
urn:ietf:params:oauth:grant-type:jwt-bearer``, a JWT signed with the client's key (receivers.oauth2_jwt).

The token request is a form POST to ``token_url`` with ``grant_type=client_credentials``, the ``scopes``
joined by spaces and the ``endpoint_params``, the client authenticating with HTTP basic auth (id and secret
form-encoded first, as RFC 6749 §2.3.1 says). It goes out with the block's own ``tls_config`` and proxy
keys. The token is kept until 10 s before ``expires_in`` runs out (Go's expiry margin; a token without
``expires_in`` is kept until the receiver refuses it); a receiver answering 401 makes the hub drop it and
fetch a new one for one more try of the same request. The client secret file is read at each token
request, so a rotated secret is picked up. ``grant_type`` is ``client_credentials`` (the default) or the
JWT-bearer grant; ``client_secret_ref`` and ``client_certificate_key_ref`` are refused (no secret manager).
"""

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus, urlencode, urlsplit

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.receivers.common import refuse_refs
from fleetmon.hub.alerting.receivers.oauth2_jwt import GRANT_TYPE, JWT_KEYS, JwtAssertion, parse_jwt
from fleetmon.hub.alerting.receivers.proxy import PROXY_KEYS, ProxySettings, parse_proxy
from fleetmon.hub.alerting.receivers.tls import TlsSettings, parse_tls

OAUTH2_KEYS = ("client_id", "client_secret", "client_secret_file", "client_secret_ref", "grant_type", *JWT_KEYS,
               "scopes", "token_url", "endpoint_params", "tls_config", *PROXY_KEYS)
GRANT_TYPES = ("client_credentials", GRANT_TYPE)
EXPIRY_MARGIN = 10.0  # seconds before its expiry a token counts as expired, as in golang.org/x/oauth2

# fetch(url, form body, headers) -> the answer's body; raises DeliveryError (receivers.http.post, bound to
# the token request's TLS and proxy settings).
Fetch = Callable[[str, bytes, Mapping[str, str]], bytes]


@dataclass(eq=False)
class TokenSource:
    client_id: str
    client_secret: str = field(repr=False)
    client_secret_file: str
    token_url: str
    scopes: tuple[str, ...] = ()
    endpoint_params: Mapping[str, str] = field(default_factory=dict)
    tls: TlsSettings | None = None
    proxy: ProxySettings | None = None
    jwt: JwtAssertion | None = None  # the JWT-bearer grant's assertion; None: client credentials
    clock: Callable[[], float] = time.monotonic
    _token: str = field(default="", repr=False)
    _expires: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def authorization(self, fetch: Fetch) -> str:
        """The Authorization header's value: the cached token while it is valid, else a new one."""
        with self._lock:
            if self._token and (self._expires is None or self.clock() < self._expires):
                return self._token
            self._token, self._expires = self._request(fetch)
            return self._token

    def drop(self, refused: str) -> None:
        """Forget ``refused`` (the header a receiver answered 401 to), unless another thread replaced it."""
        with self._lock:
            if self._token == refused:
                self._token, self._expires = "", None

    def _secret(self) -> str:
        if not self.client_secret_file:
            return self.client_secret
        try:
            return Path(self.client_secret_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise DeliveryError(f"oauth2: cannot read client_secret_file {self.client_secret_file}: {exc}",
                                retryable=True) from exc

    def _form(self) -> tuple[dict[str, str], dict[str, str]]:
        """The token request's form and headers: the client authenticates with its secret (client credentials)
        or by the signed assertion alone (JWT bearer)."""
        if self.jwt is not None:
            return self.jwt.form(self.endpoint_params), {}
        form = {"grant_type": "client_credentials", **({"scope": " ".join(self.scopes)} if self.scopes else {}),
                **self.endpoint_params}
        credentials = f"{quote_plus(self.client_id)}:{quote_plus(self._secret())}".encode()
        return form, {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
                      "Accept": "application/json"}

    def _request(self, fetch: Fetch) -> tuple[str, float | None]:
        form, headers = self._form()
        asked = self.clock()
        try:
            answer = fetch(self.token_url, urlencode(form).encode("ascii"), headers)
        except DeliveryError as exc:
            raise DeliveryError(f"oauth2 token request: {exc}", retryable=exc.retryable, status=exc.status) from exc
        try:
            document = json.loads(answer)
        except ValueError as exc:
            raise DeliveryError("oauth2 token request: the answer is not JSON", retryable=True) from exc
        token = document.get("access_token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token:
            raise DeliveryError("oauth2 token request: the answer has no access_token", retryable=True)
        kind = document.get("token_type") or "Bearer"
        kind = "Bearer" if str(kind).lower() == "bearer" else str(kind)  # RFC 6750: sent as "Bearer"
        expires_in = document.get("expires_in")
        expires = None
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
            expires = asked + expires_in - EXPIRY_MARGIN
        return f"{kind} {token}", expires


def parse_oauth2(node: Node) -> TokenSource:
    node = node.mapping(OAUTH2_KEYS)
    refuse_refs(node, "client_secret", "client_certificate_key")
    grant_type = node.child("grant_type").string("client_credentials", choices=GRANT_TYPES)
    client_id = node.child("client_id").string()
    if not client_id:
        node.child("client_id").fail("required")
    inline, from_file = node.child("client_secret"), node.child("client_secret_file")
    if not inline.missing and not from_file.missing:
        from_file.fail("set client_secret or client_secret_file, not both")
    secret_file = from_file.string()
    if secret_file and not Path(secret_file).is_file():
        from_file.fail(f"cannot read {secret_file}")
    token_url = node.child("token_url").string()
    if not token_url:
        node.child("token_url").fail("required")
    elif urlsplit(token_url).scheme not in ("http", "https") or not urlsplit(token_url).hostname:
        node.child("token_url").fail("must be an absolute http:// or https:// URL")
    params = node.child("endpoint_params").string_map()
    scopes = tuple(node.child("scopes").string_list())
    jwt = None
    if grant_type == GRANT_TYPE:
        jwt = parse_jwt(node, client_id, token_url, scopes, params)
    else:  # the JWT keys do nothing here, as in prometheus/common, but their types are checked all the same
        node.child("claims").mapping()
        for key in (key for key in JWT_KEYS if key != "claims"):
            node.child(key).string()
    return TokenSource(client_id, inline.string(), secret_file, token_url, scopes, params,
                       None if node.child("tls_config").missing else parse_tls(node.child("tls_config")),
                       parse_proxy(node), jwt)
