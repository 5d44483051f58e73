"""``history.remote_write`` and ``history.remote_read``: where the long-term store is and how to reach it
(docs/hub.md, "Long-term store").

The config travels to the remote writer's own process (``remote_write``), so it holds only plain values:
the secret read from its file at load time (a missing file is a config error with its key path), the TLS
files as paths, turned into an ssl context by whoever makes the requests.
"""

import base64
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fleetmon.config_reader import Node, readable_file

_ENDPOINT_KEYS = ("url", "basic_auth", "bearer_token_file", "tls", "timeout")


@dataclass(slots=True, frozen=True)
class Endpoint:
    url: str
    authorization: str = field(default="", repr=False)  # the Authorization header's value, "" for none
    ca_file: str | None = None  # None: the system's CAs
    cert_file: str | None = None  # a client certificate, for receivers that ask for one
    key_file: str | None = None
    timeout: float = 30.0  # seconds a connection and each read may take

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


@dataclass(slots=True, frozen=True)
class RemoteWriteConfig:
    """A Prometheus remote-write receiver fed with every stored sample (fleetmon.hub.store.remote_write)."""

    endpoint: Endpoint
    batch_size: int = 2000  # series samples per request, at most (a host-sample is never split)
    batch_interval: float = 5.0  # longest a stored sample waits for its request to fill
    max_backlog: int = 1_000_000  # host-samples stored and not yet sent; beyond it the oldest are dropped
    min_backoff: float = 0.5  # first wait after a failed request; doubled on each failure ...
    max_backoff: float = 30.0  # ... up to this


@dataclass(slots=True, frozen=True)
class RemoteReadConfig:
    """A Prometheus-compatible query API (``<url>/api/v1/query``, ``/api/v1/query_range``) the console's
    charts read from (fleetmon.hub.store.remote_read)."""

    endpoint: Endpoint


def parse_remote_write(node: Node) -> RemoteWriteConfig | None:
    if node.missing:
        return None
    node = node.mapping((*_ENDPOINT_KEYS, "batch_size", "batch_interval", "max_backlog", "min_backoff",
                         "max_backoff"))
    defaults = RemoteWriteConfig(Endpoint(""))
    min_backoff = node.child("min_backoff").duration(defaults.min_backoff, minimum=0.01)
    max_backoff = node.child("max_backoff").duration(defaults.max_backoff, minimum=0.01)
    if isinstance(min_backoff, float) and isinstance(max_backoff, float) and max_backoff < min_backoff:
        node.child("max_backoff").fail("must not be shorter than min_backoff")
    return RemoteWriteConfig(
        _endpoint(node),
        batch_size=node.child("batch_size").number(defaults.batch_size, minimum=1, integer=True),
        batch_interval=node.child("batch_interval").duration(defaults.batch_interval, minimum=0.01),
        max_backlog=node.child("max_backlog").number(defaults.max_backlog, minimum=1, integer=True),
        min_backoff=min_backoff, max_backoff=max_backoff)


def parse_remote_read(node: Node) -> RemoteReadConfig | None:
    if node.missing:
        return None
    return RemoteReadConfig(_endpoint(node.mapping(_ENDPOINT_KEYS)))


def _endpoint(node: Node) -> Endpoint:
    url_node = node.child("url")
    url = url_node.string("")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        url_node.fail("must be an absolute http:// or https:// URL")
    authorization = ""
    basic, bearer = node.child("basic_auth"), node.child("bearer_token_file")
    if not basic.missing and not bearer.missing:
        bearer.fail("set basic_auth or bearer_token_file, not both")
    elif not basic.missing:
        basic = basic.mapping(("username", "password_file"))
        username = basic.child("username").string("")
        if not username:
            basic.child("username").fail("required")
        password = _secret(basic.child("password_file"))
        authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    elif not bearer.missing:
        authorization = "Bearer " + _secret(bearer)
    tls = node.child("tls").mapping(("ca_file", "cert_file", "key_file"))
    ca_file, cert_file, key_file = (readable_file(tls.child(key)) for key in ("ca_file", "cert_file", "key_file"))
    if bool(cert_file) != bool(key_file):
        tls.fail("cert_file and key_file go together")
    return Endpoint(url.rstrip("/"), authorization, ca_file, cert_file, key_file,
                    node.child("timeout").duration(30.0, minimum=0.1))


def _secret(node: Node) -> str:
    """The content of the file ``node`` names, without surrounding whitespace (read at load time)."""
    path = node.string("")
    if not path:
        node.fail("required")
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        node.fail(f"cannot read {path}: {exc.strerror}")
        return ""
