"""SMTP AUTH for email_configs: the mechanism picked as Alertmanager picks it, and its exchange through smtplib.

Alertmanager reads the server's AUTH list in the server's order and takes the first mechanism it holds the
credential for: CRAM-MD5 with ``auth_secret``, PLAIN (with ``auth_identity``) or LOGIN with ``auth_password``.
A mechanism it does not know, or lacks the credential for, is passed over; when none is left the attempt
fails naming why each was passed over. PLAIN is never sent in clear text except to localhost (Go's net/smtp
refuses the others, and so does the hub); LOGIN and CRAM-MD5 go in clear text too, as in Alertmanager (CRAM-MD5
sends only an HMAC of the server's challenge, never the secret; LOGIN sends the password: set ``require_tls``).

The hub hands smtplib's ``auth()`` the chosen mechanism and its own exchange, rather than letting
``login()`` pick from smtplib's preferences. smtplib sends what an exchange answers as ASCII, so a user
name or password outside ASCII fails the attempt for good (the CRAM-MD5 secret is only hashed: any text).
"""

import hmac
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetmon.hub.alerting.receivers.base import DeliveryError

#: The names Go's PlainAuth trusts without TLS (its isLocalhost).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(slots=True, frozen=True)
class Credentials:
    username: str
    password: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)  # CRAM-MD5's shared secret
    identity: str = ""  # PLAIN's authorization identity


def choose(offered: str, credentials: Credentials) -> tuple[str | None, list[str]]:
    """The first mechanism of ``offered`` (the server's AUTH list, in its order) the credentials serve, or
    None; and why each mechanism before it was passed over (Alertmanager's words)."""
    passed_over = []
    for mechanism in offered.split():
        name = mechanism.upper()
        if name == "CRAM-MD5":
            if credentials.secret:
                return name, passed_over
            passed_over.append("missing secret for CRAM-MD5 auth mechanism")
        elif name in ("PLAIN", "LOGIN"):
            if credentials.password:
                return name, passed_over
            passed_over.append(f"missing password for {name} auth mechanism")
        else:
            passed_over.append(f"unknown auth mechanism: {mechanism}")
    return None, passed_over


def authenticate(smtp: smtplib.SMTP, credentials: Credentials, host: str, encrypted: bool, where: str) -> None:
    """AUTH on a session whose EHLO offered it; ``host`` is the smarthost's, ``encrypted`` whether the session
    runs over TLS. DeliveryError (for good) when no mechanism serves or PLAIN would go in clear text; the
    server's refusal is smtplib's SMTPAuthenticationError."""
    offered = smtp.esmtp_features.get("auth", "").strip()
    mechanism, passed_over = choose(offered, credentials)
    if mechanism is None:
        raise DeliveryError(f"{where} offers AUTH {offered or '(nothing)'}: no supported auth mechanism ("
                            + "; ".join(passed_over) + ")", retryable=False)
    if mechanism == "PLAIN" and not encrypted and host not in LOCAL_HOSTS:
        raise DeliveryError(f"{where}: PLAIN auth over an unencrypted connection refused (set require_tls, or use "
                            "implicit TLS: port 465 or force_implicit_tls)", retryable=False)
    try:
        smtp.auth(mechanism, _exchange(mechanism, credentials))
    except UnicodeEncodeError as exc:
        raise DeliveryError(f"{where}: {mechanism} auth sends the user name and password as ASCII; these are not",
                            retryable=False) from exc


def _exchange(mechanism: str, credentials: Credentials) -> Callable[..., str | None]:
    """smtplib's auth object: called with no challenge for the initial response (None: none), then with each
    challenge the server sends (base64-decoded)."""
    if mechanism == "CRAM-MD5":  # RFC 2195: the user, a space, the HMAC-MD5 of the challenge in lowercase hex
        key = credentials.secret.encode()

        def cram_md5(challenge: bytes | None = None) -> str | None:
            if challenge is None:
                return None
            return f"{credentials.username} {hmac.new(key, challenge, 'md5').hexdigest()}"
        return cram_md5
    if mechanism == "PLAIN":  # RFC 4616, in the AUTH command itself as Go sends it
        plain = f"{credentials.identity}\0{credentials.username}\0{credentials.password}"
        return lambda challenge=None: plain
    answers = iter((credentials.username, credentials.password))

    def login(challenge: bytes | None = None) -> str | None:  # the user name, then the password, whatever the prompts
        return None if challenge is None else next(answers, "")
    return login
