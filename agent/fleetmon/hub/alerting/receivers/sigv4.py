"""AWS Signature Version 4 for one HTTP request, as AWS documents the algorithm ("Create a signed AWS API
request": canonical request, string to sign, derived signing key, Authorization header).

Written here rather than taken from botocore, which would bring the whole AWS SDK for one function; it is
checked against AWS's published SigV4 test suite (tests/hub/alerting/test_receivers_incident.py).
"""

import hashlib
import hmac
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
_UNRESERVED = "-_.~"  # with letters and digits, what RFC 3986 leaves unencoded


@dataclass(slots=True, frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str = field(default="", repr=False)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The key of the day, region and service: an HMAC chain from ``AWS4<secret>``."""
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_path(path: str) -> str:
    """The path with dot segments and repeated slashes removed, each segment URI-encoded once."""
    path = unquote(path or "/")
    normal = posixpath.normpath(path) if path != "/" else "/"
    if normal.startswith("//"):
        normal = "/" + normal.lstrip("/")
    if path.endswith("/") and normal != "/":
        normal += "/"
    return quote(normal, safe="/" + _UNRESERVED)


def canonical_query(query: str) -> str:
    pairs = [(quote(name, safe=_UNRESERVED), quote(value, safe=_UNRESERVED))
             for name, value in parse_qsl(query, keep_blank_values=True)]
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """The canonical header block and the signed header names: lowercase names, sorted, values trimmed
    and inner runs of spaces made one."""
    merged: dict[str, list[str]] = {}
    for name, value in headers.items():
        merged.setdefault(name.strip().lower(), []).append(" ".join(str(value).split()))
    names = sorted(merged)
    return "".join(f"{name}:{','.join(merged[name])}\n" for name in names), ";".join(names)


def canonical_request(method: str, url: str, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """The canonical request and its signed header names."""
    parts = urlsplit(url)
    block, signed = canonical_headers(headers)
    lines = (method.upper(), canonical_path(parts.path), canonical_query(parts.query), block, signed,
             hashlib.sha256(body).hexdigest())
    return "\n".join(lines), signed


def authorization(method: str, url: str, headers: Mapping[str, str], body: bytes, credentials: Credentials,
                  region: str, service: str, amz_date: str) -> str:
    """The Authorization header for a request whose ``headers`` (Host and X-Amz-Date among them) are all
    signed; ``amz_date`` is X-Amz-Date's value (``20150830T123600Z``)."""
    request, signed = canonical_request(method, url, headers, body)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join((ALGORITHM, amz_date, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()))
    signature = hmac.new(signing_key(credentials.secret_key, amz_date[:8], region, service),
                         to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"


def signed_headers(method: str, url: str, headers: Mapping[str, str], body: bytes, credentials: Credentials,
                   region: str, service: str, now: datetime | None = None) -> dict[str, str]:
    """``headers`` plus Host, X-Amz-Date, X-Amz-Security-Token (with a session token) and Authorization."""
    amz_date = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname if parts.port in (None, default_port) else f"{parts.hostname}:{parts.port}"
    sent = {**headers, "Host": host or "", "X-Amz-Date": amz_date}
    if credentials.session_token:
        sent["X-Amz-Security-Token"] = credentials.session_token
    sent["Authorization"] = authorization(method, url, sent, body, credentials, region, service, amz_date)
    return sent
