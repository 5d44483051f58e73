"""``http_config.http_headers``: headers prometheus/common (v0.70) adds to every request of a receiver.

::

    http_headers:
      X-Scope-OrgID: {values: [fleet]}
      X-Api-Key: {secrets: [s3cret]}
      X-Tenant: {files: [/etc/fleetmon/tenant]}

Each header takes any number of ``values`` (plain text), ``secrets`` (the same, but never shown: the config
dumps them as ``<secret>``) and ``files`` (each file's content without surrounding whitespace, read at each
request, so a rotated file is picked up), added in that order to whatever the receiver sends under that
name. As in prometheus/common, a header the HTTP client sets itself or that changes the connection is
refused (``ReservedHeaders``: Authorization, Host, Content-Type, User-Agent, the SigV4 headers, ...), names
compared in Go's canonical form (``x-api-key`` is ``X-Api-Key``).

Go sends one header line per value; the hub sends one line with the values joined by commas, which RFC 9110
§5.3 makes the same field. On a redirect to another site the sensitive ones (Cookie, Cookie2,
Www-Authenticate) are left out, as Go strips them (receivers.redirects). The oauth2 token request does not
carry them, as in prometheus/common.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers.base import DeliveryError

HEADER_KEYS = ("values", "secrets", "files")
#: prometheus/common's ReservedHeaders, in Go's canonical form.
RESERVED = frozenset({
    "Authorization", "Host", "Content-Encoding", "Content-Length", "Content-Type", "User-Agent", "Connection",
    "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Www-Authenticate", "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version", "X-Prometheus-Remote-Read-Version", "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's field-name
_BAD_VALUE = re.compile(r"[\x00\r\n]")


def canonical(name: str) -> str:
    """Go's http.CanonicalHeaderKey: each hyphen-separated word capitalized; a name that is no token unchanged."""
    if not _TOKEN.fullmatch(name):
        return name
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


@dataclass(slots=True, frozen=True)
class Header:
    name: str  # canonical
    texts: tuple[str, ...] = field(default=(), repr=False)  # values, then secrets
    files: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class HttpHeaders:
    headers: tuple[Header, ...]

    def values(self) -> dict[str, list[str]]:
        """Each header's values for one request, its files read now; DeliveryError when one cannot be read."""
        found: dict[str, list[str]] = {}
        for header in self.headers:
            values = found.setdefault(header.name, [])
            values.extend(header.texts)
            for path in header.files:
                try:
                    values.append(Path(path).read_text(encoding="utf-8").strip())
                except (OSError, UnicodeDecodeError) as exc:
                    raise DeliveryError(f"unable to read headers file {path}: {exc}", retryable=True) from exc
        return found

    def added_to(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with these added: after the value a header has already, comma-separated."""
        merged = dict(headers)
        for name, values in self.values().items():
            if not values:
                continue
            present = next((key for key in merged if key.lower() == name.lower()), None)
            if present is None:
                merged[name] = ", ".join(values)
            else:
                merged[present] = ", ".join((merged[present], *values))
        return merged


def _strings(node: Node, what: str) -> list[str]:
    texts = node.string_list()
    for index, text in enumerate(texts):
        if _BAD_VALUE.search(text):
            Node(text, f"{node.path}[{index}]", node.errors).fail(f"a header {what} cannot hold a line break or NUL")
    return texts


def parse_headers(node: Node) -> HttpHeaders | None:
    """The ``http_headers`` mapping (None when absent); a reserved or malformed name fails at its key."""
    if node.missing:
        return None
    headers = []
    for name, item in node.items():
        spelled = canonical(name)
        if not _TOKEN.fullmatch(name):
            item.fail(f"{name!r} is not a valid header name")
        elif spelled in RESERVED:
            item.fail(f'setting header "{spelled}" is not allowed')
        item = item.mapping(HEADER_KEYS)
        files = _strings(item.child("files"), "file name")
        for index, path in enumerate(files):
            if not Path(path).is_file():
                Node(path, f"{item.child('files').path}[{index}]", item.errors).fail(f"cannot read {path}")
        texts = (*_strings(item.child("values"), "value"), *_strings(item.child("secrets"), "secret"))
        headers.append(Header(spelled, texts, tuple(files)))
    return HttpHeaders(tuple(headers))
