"""The JWT-bearer grant of ``http_config.oauth2`` (RFC 7523 §2.1), as prometheus/common v0.70 asks for a token
with ``grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer``.

Instead of a client secret the hub signs a JWT with the client's RSA private key (``client_certificate_key``,
PEM text, or ``client_certificate_key_file``, read again at each token request so a rotated key is picked up;
PKCS #1 or PKCS #8, not encrypted) and posts it to ``token_url`` as ``assertion``, beside
``grant_type`` and the ``scopes`` (``scope``), with no client authentication. The JWT is signed with
``signature_algorithm`` (RS256, the default, RS384 or RS512; ``kid`` in its header is
``client_certificate_key_id`` when set) and claims ``iss`` (``iss``, else ``client_id``), ``sub``
(``client_id``), ``aud`` (``audience``, else ``token_url``), a random ``jti``, ``iat`` now and ``exp`` ten
minutes on, ``scope`` with the scopes; ``claims`` are added last and win over those. ``endpoint_params`` may
replace ``grant_type`` (for servers that want another name), not ``assertion`` nor ``scope``.
"""

import base64
import datetime
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.receivers.base import DeliveryError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_KEYS = ("client_certificate_key", "client_certificate_key_file", "client_certificate_key_ref",
            "client_certificate_key_id", "signature_algorithm", "iss", "audience", "claims")
ALGORITHMS = {"RS256": "SHA256", "RS384": "SHA384", "RS512": "SHA512"}  # the hash of each, by its class name
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

ASSERTION_LIFETIME = 600  # seconds, as prometheus/common's JWT source makes them


def load_key(pem: str) -> "RSAPrivateKey":
    """The RSA private key in ``pem``; ValueError saying why it is not one."""
    # Imported here: only a hub with a JWT-bearer client pays for the cryptography library's memory.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except TypeError as exc:  # an encrypted key: there is no passphrase to give
        raise ValueError("the key is encrypted; give it without a passphrase") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("key is not a valid RSA private key")
    return key


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(eq=False)
class JwtAssertion:
    issuer: str
    subject: str
    audience: str
    key: str = field(default="", repr=False)  # inline PEM
    key_file: str = ""
    key_id: str = ""
    algorithm: str = "RS256"
    scopes: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def _private_key(self) -> "RSAPrivateKey":
        if not self.key_file:
            return load_key(self.key)
        try:
            return load_key(Path(self.key_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DeliveryError(f"oauth2: cannot use client_certificate_key_file {self.key_file}: {exc}",
                                retryable=True) from exc

    def assertion(self) -> str:
        """A freshly signed JWT."""
        now = int(self.clock())
        header = {"alg": self.algorithm, "typ": "JWT", **({"kid": self.key_id} if self.key_id else {})}
        claims: dict[str, Any] = {"iss": self.issuer, "sub": self.subject, "aud": self.audience,
                                  "jti": str(uuid.uuid4()), "iat": now, "exp": now + ASSERTION_LIFETIME}
        if self.scopes:
            claims["scope"] = " ".join(self.scopes)
        claims.update(self.claims)
        signing_input = f"{_segment(_json(header))}.{_segment(_json(claims))}".encode("ascii")
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = self._private_key().sign(signing_input, padding.PKCS1v15(),
                                             getattr(hashes, ALGORITHMS[self.algorithm])())
        return f"{signing_input.decode('ascii')}.{_segment(signature)}"

    def form(self, endpoint_params: Mapping[str, str]) -> dict[str, str]:
        """The token request's form: the grant, the assertion, the scopes, then ``endpoint_params``."""
        form = {"grant_type": GRANT_TYPE, "assertion": self.assertion()}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        return {**form, **endpoint_params}


def _claim(node: Node) -> Any:
    """A claim's value as JSON carries it; a YAML date (an unquoted 2026-01-31) as its text, as Go reads it."""
    value = node.value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_claim(item) for item in node.sequence()]
    if isinstance(value, dict):
        return {name: _claim(item) for name, item in node.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    node.fail("must be a string, number, boolean, list or mapping")
    return None


def parse_jwt(node: Node, client_id: str, token_url: str, scopes: tuple[str, ...],
              endpoint_params: Mapping[str, str]) -> JwtAssertion:
    """The JWT-bearer keys of the oauth2 block ``node`` (already checked for unknown keys)."""
    inline, from_file = node.child("client_certificate_key"), node.child("client_certificate_key_file")
    key, key_file = inline.string(), from_file.string()
    if key and key_file:
        from_file.fail("at most one of oauth2 client_certificate_key, client_certificate_key_file & "
                       "client_certificate_key_ref must be configured using grant-type=" + GRANT_TYPE)
    elif not (key or key_file) and node.child("client_certificate_key_ref").missing:  # a ref is refused already
        inline.fail(f"client_certificate_key or client_certificate_key_file is required with grant_type {GRANT_TYPE}")
    try:
        if key:
            load_key(key)
        elif key_file:
            load_key(Path(key_file).read_text(encoding="utf-8"))
    except OSError as exc:
        from_file.fail(f"cannot read {key_file}: {exc.strerror}")
    except (UnicodeDecodeError, ValueError) as exc:
        (inline if key else from_file).fail(str(exc))
    algorithm = node.child("signature_algorithm")
    if algorithm.string() and algorithm.string() not in ALGORITHMS:
        algorithm.fail("valid signature algorithms are RS256, RS384 and RS512")
    params = node.child("endpoint_params")
    for name in ("assertion", *(("scope",) if scopes else ())):
        if name in endpoint_params:
            params.child(name).fail(f'oauth2: cannot overwrite parameter "{name}"')
    claims = node.child("claims")
    return JwtAssertion(node.child("iss").string() or client_id, client_id,
                        node.child("audience").string() or token_url, key, key_file,
                        node.child("client_certificate_key_id").string(),
                        algorithm.string() if algorithm.string() in ALGORITHMS else "RS256", scopes,
                        {name: _claim(item) for name, item in claims.items()})
