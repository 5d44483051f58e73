"""SMTP AUTH for email_configs: the mechanism the hub picks from what the server offers, as Alertmanager picks it
(the first of the server's list it holds the credential for), CRAM-MD5 with ``auth_secret``, and PLAIN refused
in clear text except to localhost.

The choice is a table without I/O (``choose``); the exchanges run against a real aiosmtpd server that offers
the mechanisms in the order a case asks and checks CRAM-MD5 as RFC 2195 describes; one test has the real
Alertmanager pick from the same servers.
"""

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import pytest
import yaml
from aiosmtpd.smtp import MISSING, AuthResult, auth_mechanism

from fleetmon.hub.alerting.receivers import DeliveryError
from fleetmon.hub.alerting.receivers.smtp_auth import Credentials, choose
from tests.conftest import free_port
from tests.hub.alerting.conftest import SmtpSink, start_alertmanager
from tests.hub.alerting.test_receivers import alert, batch, config_errors, integration, send

USER, PASSWORD, SECRET = "hub", "s3cret", "cram-shared-secret"


# --- the choice, without I/O ------------------------------------------------------------------------------

class Choice(NamedTuple):
    name: str
    why: str
    offered: str  # the server's AUTH list, in its order
    credentials: Credentials
    chosen: str | None
    passed_over: list[str] = []


BOTH = Credentials(USER, PASSWORD, SECRET)
CHOICES = [
    Choice("secret first", "CRAM-MD5 comes first in the server's list and a secret is set", "CRAM-MD5 PLAIN LOGIN",
           BOTH, "CRAM-MD5"),
    Choice("server order wins", "the server lists LOGIN first: Alertmanager has no preference of its own",
           "LOGIN CRAM-MD5 PLAIN", BOTH, "LOGIN"),
    Choice("PLAIN before CRAM-MD5", "with a password and a secret, the first offered is taken", "PLAIN CRAM-MD5",
           BOTH, "PLAIN"),
    Choice("no password", "PLAIN is passed over without a password; CRAM-MD5 serves with the secret",
           "PLAIN CRAM-MD5", Credentials(USER, secret=SECRET), "CRAM-MD5",
           ["missing password for PLAIN auth mechanism"]),
    Choice("no secret", "CRAM-MD5 is passed over without a secret", "CRAM-MD5 LOGIN", Credentials(USER, PASSWORD),
           "LOGIN", ["missing secret for CRAM-MD5 auth mechanism"]),
    Choice("unknown first", "a mechanism Alertmanager does not speak is passed over", "XOAUTH2 PLAIN", BOTH, "PLAIN",
           ["unknown auth mechanism: XOAUTH2"]),
    Choice("lowercase", "mechanism names are case-insensitive (RFC 4954)", "cram-md5", BOTH, "CRAM-MD5"),
    Choice("nothing serves", "only CRAM-MD5 offered and no secret: no mechanism, every reason named",
           "XOAUTH2 CRAM-MD5", Credentials(USER, PASSWORD), None,
           ["unknown auth mechanism: XOAUTH2", "missing secret for CRAM-MD5 auth mechanism"]),
    Choice("empty list", "an AUTH line without mechanisms leaves nothing to pick", "", BOTH, None),
]


@pytest.mark.parametrize("case", CHOICES, ids=[c.name for c in CHOICES])
def test_the_mechanism_is_the_first_the_server_offers_that_the_credentials_serve(case):
    assert choose(case.offered, case.credentials) == (case.chosen, case.passed_over), case.why


# --- a real server ----------------------------------------------------------------------------------------

@dataclass
class AuthSink(SmtpSink):
    """SmtpSink with CRAM-MD5 (``secrets``), the AUTH list in the order ``offer`` gives (aiosmtpd sorts it),
    a listening address of choice, and every AUTH attempt recorded as (mechanism, user, accepted)."""

    secrets: dict[str, str] = field(default_factory=dict)
    offer: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    auth_require_tls: bool = False
    attempts: list[tuple[str, str, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        options = {"authenticator": self._authenticate, "auth_require_tls": self.auth_require_tls}
        if self.certificate:
            options["tls_context"] = self.certificate.server_context()
        self.controller = Controller(self, hostname=self.host, port=self.port, **options)
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        result = super()._authenticate(server, session, envelope, mechanism, auth_data)
        self.attempts.append((mechanism, auth_data.login.decode(), result.success))
        return result

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.offer:
            responses = [f"250-AUTH {' '.join(self.offer)}" if line.startswith("250-AUTH ") else line
                         for line in responses]
        return responses

    @auth_mechanism("CRAM-MD5")  # aiosmtpd finds a handler's mechanisms by their auth_ names: this one has a hyphen
    async def auth_cram_md5(self, server, args):
        """RFC 2195: a unique challenge; the client answers its user name, a space and the HMAC-MD5 of the
        challenge keyed with the shared secret, in lowercase hex."""
        if len(args) != 1:  # CRAM-MD5 has no initial response
            await server.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = f"<{secrets.token_hex(8)}.{time.time_ns()}@sink.example>".encode()
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        user, _, digest = answer.decode("utf-8", "replace").partition(" ")
        secret = self.secrets.get(user)
        ok = secret is not None and hmac.compare_digest(
            digest, hmac.new(secret.encode(), challenge, "md5").hexdigest())
        self.attempts.append(("CRAM-MD5", user, ok))
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)


@pytest.fixture
def make_auth_sink():
    sinks: list[AuthSink] = []

    def make(**options) -> AuthSink:
        options.setdefault("users", {USER: PASSWORD})
        options.setdefault("secrets", {USER: SECRET})
        sinks.append(AuthSink(**options))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.stop()


def mailer(sink: AuthSink, **extra):
    return integration("email", {"to": "ops@example.com", "from": "hub@example.com",
                                 "smarthost": f"{sink.host}:{sink.port}", "require_tls": False,
                                 "auth_username": USER, **extra})


def test_cram_md5_with_the_secret_and_the_servers_order_between_mechanisms(make_auth_sink):
    sink = make_auth_sink(offer=("CRAM-MD5", "PLAIN", "LOGIN"))
    send(mailer(sink, auth_password=PASSWORD, auth_secret=SECRET), batch(alert("a")))
    assert sink.wait()[0].login == USER
    assert sink.attempts == [("CRAM-MD5", USER, True)]
    sink.offer = ("LOGIN", "CRAM-MD5", "PLAIN")  # the server's order, not a preference of the hub's
    send(mailer(sink, auth_password=PASSWORD, auth_secret=SECRET), batch(alert("a")))
    sink.offer = ("PLAIN", "CRAM-MD5")  # no password: PLAIN is passed over
    send(mailer(sink, auth_secret=SECRET), batch(alert("a")))
    sink.wait(3)
    assert sink.attempts[1:] == [("LOGIN", USER, True), ("CRAM-MD5", USER, True)]


def test_a_wrong_secret_is_refused_for_good(make_auth_sink):
    sink = make_auth_sink(offer=("CRAM-MD5",))
    with pytest.raises(DeliveryError) as refused:
        send(mailer(sink, auth_secret="not-the-secret"), batch(alert("a")))
    assert refused.value.status == 535 and not refused.value.retryable
    assert sink.attempts == [("CRAM-MD5", USER, False)] and sink.mails == []


def test_no_supported_mechanism_names_why_each_was_passed_over(make_auth_sink):
    sink = make_auth_sink(offer=("XOAUTH2", "CRAM-MD5"))
    with pytest.raises(DeliveryError) as caught:
        send(mailer(sink, auth_password=PASSWORD), batch(alert("a")))
    assert str(caught.value) == (f"127.0.0.1:{sink.port} offers AUTH XOAUTH2 CRAM-MD5: no supported auth mechanism "
                                 "(unknown auth mechanism: XOAUTH2; missing secret for CRAM-MD5 auth mechanism)")
    assert not caught.value.retryable
    assert sink.attempts == [] and sink.mails == []


def test_plain_is_refused_in_clear_text_to_a_host_that_is_not_localhost(make_auth_sink, certificate):
    """127.0.0.2 is a loopback address but not one of the names Go's PlainAuth trusts without TLS."""
    sink = make_auth_sink(host="127.0.0.2", offer=("PLAIN", "LOGIN"))
    with pytest.raises(DeliveryError, match="PLAIN auth over an unencrypted connection refused") as caught:
        send(mailer(sink, auth_password=PASSWORD), batch(alert("a")))
    assert not caught.value.retryable  # and LOGIN, offered second, is not tried instead: Alertmanager stops too
    assert sink.attempts == [] and sink.mails == []
    sink.offer = ("CRAM-MD5", "PLAIN")  # CRAM-MD5 sends no password: it goes in clear text, as in Alertmanager
    send(mailer(sink, auth_password=PASSWORD, auth_secret=SECRET), batch(alert("a")))
    sink.offer = ("LOGIN", "PLAIN")  # so does LOGIN, which Alertmanager's own LOGIN does not guard
    send(mailer(sink, auth_password=PASSWORD), batch(alert("a")))
    assert [mail.tls for mail in sink.wait(2)] == [False, False]
    assert sink.attempts == [("CRAM-MD5", USER, True), ("LOGIN", USER, True)]

    tls_sink = make_auth_sink(host="127.0.0.2", offer=("PLAIN",), certificate=certificate, auth_require_tls=True)
    send(mailer(tls_sink, auth_password=PASSWORD, require_tls=True, tls_config={"insecure_skip_verify": True}),
         batch(alert("a")))
    (mail,) = tls_sink.wait()
    assert mail.tls and tls_sink.attempts == [("PLAIN", USER, True)]


def test_plain_goes_in_clear_text_to_localhost_with_the_identity(make_auth_sink):
    sink = make_auth_sink(offer=("PLAIN",))
    send(mailer(sink, auth_password=PASSWORD, auth_identity="ops"), batch(alert("a")))
    assert sink.wait()[0].login == USER and sink.attempts == [("PLAIN", USER, True)]


def test_the_secret_from_the_global_section_and_from_files(make_auth_sink, tmp_path):
    sink = make_auth_sink(offer=("CRAM-MD5",))
    (tmp_path / "secret").write_text(SECRET + "\n")
    glob = {"smtp_auth_secret_file": str(tmp_path / "secret"), "smtp_auth_username": USER}
    config = {"to": "ops@example.com", "from": "hub@example.com", "smarthost": f"127.0.0.1:{sink.port}",
              "require_tls": False}
    send(integration("email", config, glob=glob), batch(alert("a")))
    with pytest.raises(DeliveryError):  # the entry's own secret wins over the global one
        send(integration("email", {**config, "auth_secret": "other"}, glob=glob), batch(alert("a")))
    (tmp_path / "other").write_text(SECRET)
    send(integration("email", {**config, "auth_secret_file": str(tmp_path / "other")},
                     glob={"smtp_auth_secret": "wrong", "smtp_auth_username": USER}), batch(alert("a")))
    sink.wait(2)
    assert sink.attempts == [("CRAM-MD5", USER, True), ("CRAM-MD5", USER, False), ("CRAM-MD5", USER, True)]
    assert "cram-shared-secret" not in repr(integration("email", config, glob=glob))


def test_a_secret_given_twice_is_an_error_with_its_key_path(tmp_path):
    (tmp_path / "s").write_text(SECRET)
    errors = config_errors({"global": {"smtp_auth_secret": "a", "smtp_auth_secret_file": str(tmp_path / "s")},
                            "receivers": [{"name": "a", "email_configs": [
                                {"to": "a@b", "from": "f@b", "smarthost": "h:25", "auth_secret": "x",
                                 "auth_secret_file": str(tmp_path / "s")}]}]})
    assert errors == ["global.smtp_auth_secret_file: set smtp_auth_secret or smtp_auth_secret_file, not both",
                      "receivers[0].email_configs[0].auth_secret_file: set auth_secret or auth_secret_file, not both"]


# --- beside the real Alertmanager -------------------------------------------------------------------------

def test_alertmanager_picks_the_mechanism_the_hub_picks(make_auth_sink, tmp_path):
    """Each server offers the same mechanisms in another order; both hold a password and a secret. Alertmanager
    (0.25) and the hub authenticate to each with the same mechanism. (Alertmanager's LOGIN expects the prompt
    "Username:", which aiosmtpd does not send, so the orders here put LOGIN last.)"""
    orders = [("CRAM-MD5", "PLAIN", "LOGIN"), ("PLAIN", "CRAM-MD5", "LOGIN"), ("XOAUTH2", "CRAM-MD5", "PLAIN")]
    sinks = [make_auth_sink(offer=order) for order in orders]
    receivers = [{"name": f"mail{i}", "email_configs": [
        {"to": "ops@example.com", "from": "am@example.com", "smarthost": f"127.0.0.1:{sink.port}",
         "require_tls": False, "auth_username": USER, "auth_password": PASSWORD, "auth_secret": SECRET}]}
        for i, sink in enumerate(sinks)]
    config = {"route": {"receiver": "mail0", "group_wait": "0s", "routes": [
        {"receiver": f"mail{i}", "continue": True} for i in range(len(sinks))]}, "receivers": receivers}
    alertmanager = start_alertmanager(tmp_path / "am", yaml.safe_dump(config))
    try:
        alertmanager.post_alerts([{"labels": {"alertname": "HighCPU"}}])
        for sink in sinks:
            sink.wait(timeout=20)
    finally:
        alertmanager.stop()
    chosen_by_alertmanager = [sink.attempts[-1] for sink in sinks]
    for sink in sinks:
        send(mailer(sink, auth_password=PASSWORD, auth_secret=SECRET), batch(alert("a")))
    assert [sink.attempts[-1] for sink in sinks] == chosen_by_alertmanager == [
        ("CRAM-MD5", USER, True), ("PLAIN", USER, True), ("CRAM-MD5", USER, True)]
