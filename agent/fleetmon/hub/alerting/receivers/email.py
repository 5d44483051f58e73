"""email_configs: one mail per notification over SMTP, with Alertmanager's keys and TLS rules.

- Implicit TLS (TLS from the first byte) when ``force_implicit_tls`` (else the global
  smtp_force_implicit_tls, Alertmanager 0.31+) says so, and without either on port 465 alone, as
  Alertmanager decides it (``implicit_tls``); ``force_implicit_tls: false`` speaks plain SMTP on 465 too.
- Otherwise ``require_tls`` (default: the global smtp_require_tls, itself true) demands STARTTLS; a server
  that does not offer it fails the attempt for good rather than getting the mail in clear text. Without
  require_tls the mail goes out in clear text, as in Alertmanager. Over implicit TLS require_tls has no
  part to play: the session is encrypted already.
- ``tls_config`` (else the global smtp_tls_config) takes Prometheus' common TLS keys; the server's certificate
  is checked against its ``server_name`` when set, else against the smarthost's host, as in Alertmanager.
- With ``auth_username`` the hub authenticates with the first mechanism of the server's AUTH list it holds
  the credential for, as Alertmanager does (receivers.smtp_auth): CRAM-MD5 with ``auth_secret``, PLAIN or
  LOGIN with ``auth_password``; PLAIN only over TLS or to localhost. A server that offers no AUTH at that
  point, or none of those, fails the attempt for good.
- ``to``, ``from``, every header, ``text`` and ``html`` are Go templates, as in Alertmanager; ``html``
  with html/template's escaping. Left out, the Subject is ``{{ template "email.default.subject" . }}``
  and the HTML ``{{ template "email.default.html" . }}``; there is a plain-text part only when ``text``
  is set (multipart/alternative when both are). An incident's change has no Alertmanager default: its
  subject and parts come from receivers.text unless the config sets them.
- ``threading`` (Alertmanager 0.30+): with ``enabled``, every mail of a group names one thread root that
  no mail is, in ``References`` and ``In-Reply-To``, so mail clients show the group as a thread:
  ``<alert-HASH-DAY@alertmanager>``, HASH the first 16 hex digits of the SHA-256 of the group key, DAY the
  hub's local date (``thread_by_date: daily``, a new thread each day) or nothing (``none``). Alertmanager
  refuses threading beside a References or In-Reply-To header of the config's, and since 0.31 takes only
  those two values for thread_by_date once threading is enabled (its docs give daily as the default; its
  code refuses the key left out).

4xx SMTP answers and connection trouble are worth another try; 5xx answers are not.
"""

import hashlib
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import text
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, secret, template, template_map
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.smtp_auth import Credentials, authenticate
from fleetmon.hub.alerting.receivers.tls import TlsSettings, parse_tls, system_tls
from fleetmon.hub.alerting.templates import Field

KEYS = ("to", "from", "smarthost", "hello", "auth_username", "auth_password", "auth_password_file", "auth_secret",
        "auth_secret_file", "auth_identity", "require_tls", "force_implicit_tls", "tls_config", "headers", "html",
        "text", "threading", "send_resolved", "timeout")
THREADING_KEYS = ("enabled", "thread_by_date")
THREAD_BY_DATE = ("none", "daily")
THREAD_HEADERS = ("References", "In-Reply-To")
_SMARTHOST = re.compile(r"^(?:\[(?P<ip6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\s\[\]]+)):(?P<port>\d{1,5})$")
SMTPS_PORT = 465
DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'
DEFAULT_HTML = '{{ template "email.default.html" . }}'


def _header_name(name: str) -> str:
    """Header names as Go's textproto writes them ('message-id' -> 'Message-Id'), so a configured header
    replaces the default one whatever its case."""
    return "-".join(part.capitalize() for part in name.split("-"))


def implicit_tls(force: bool | None, port: int) -> bool:
    """Whether the session speaks TLS from the start: as ``force_implicit_tls`` says when it is set (the
    entry's, else the global one), else on port 465 only (Alertmanager's rule)."""
    return port == SMTPS_PORT if force is None else force


def thread_root(group_key: str, day: str) -> str:
    """The Message-Id of the thread a group's mails reply to (no mail carries it), as Alertmanager writes it;
    ``day`` is YYYY-MM-DD, or empty with ``thread_by_date: none``."""
    return f"<alert-{hashlib.sha256(group_key.encode()).hexdigest()[:16]}-{day}@alertmanager>"


@dataclass(eq=False, kw_only=True)
class Email(Integration):
    kind: ClassVar[str] = "email"
    to: Field  # one or more addresses, comma-separated, once rendered
    sender: Field  # the config's `from`
    host: str
    port: int
    hello: str = "localhost"
    username: str = ""
    password: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)  # CRAM-MD5's
    identity: str = ""
    require_tls: bool = True
    implicit_tls: bool = False  # TLS from the start (port 465, or force_implicit_tls) rather than STARTTLS
    tls: TlsSettings | None = None
    headers: dict[str, Field] = field(default_factory=dict)  # canonical names; they win over the defaults
    html: Field | None = None  # None: no HTML part
    text: Field | None = None  # None: no plain-text part
    configured: frozenset[str] = frozenset()  # "Subject", "html", "text" where the config sets them
    thread_by_date: str | None = None  # with threading enabled: "daily" or "none"
    clock: Callable[[], float] = field(default=time.time, repr=False)  # the thread's day is the hub's local date

    def message(self, notification: Notification) -> tuple[EmailMessage, str, list[str]]:
        """The mail, its envelope sender and its recipients."""
        fields = {"from": self.sender, "to": self.to, **{f"headers.{name}": value for name, value in
                                                          self.headers.items()}}
        if self.text is not None:
            fields["text"] = self.text
        if self.html is not None:
            fields["html"] = self.html
        texts = render(fields, notification)
        if notification.incident is not None:
            incident = {"headers.Subject": text.title(notification), "text": text.body(notification),
                        "html": text.html_body(notification)}
            texts.update({key: value for key, value in incident.items()
                          if key.removeprefix("headers.") not in self.configured})
        given = {key.removeprefix("headers."): value for key, value in texts.items() if key.startswith("headers.")}
        headers = {"From": texts["from"], "To": texts["to"], "Date": formatdate(localtime=False),
                   "Message-Id": make_msgid(domain=self.hello), **given}
        if self.thread_by_date is not None:
            day = "" if self.thread_by_date == "none" else time.strftime("%Y-%m-%d", time.localtime(self.clock()))
            root = thread_root(notification.group_key, day)
            headers.update(dict.fromkeys(THREAD_HEADERS, root))
        message = EmailMessage()
        for name, value in headers.items():
            message[name] = value
        plain, page = texts.get("text"), texts.get("html")
        if plain is not None:
            message.set_content(plain)
            if page is not None:
                message.add_alternative(page, subtype="html")
        elif page is not None:
            message.set_content(page, subtype="html")
        recipients = [address for _, address in getaddresses([texts["to"]]) if address]
        return message, parseaddr(texts["from"])[1], recipients

    def send(self, notification: Notification) -> None:
        message, sender, recipients = self.message(notification)
        where = f"{self.host}:{self.port}"
        tls = self.tls or system_tls()
        context: ssl.SSLContext | _NamedContext = tls.context
        if tls.server_name:
            context = _NamedContext(tls.context, tls.server_name)
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.hello,
                                                      timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.hello, timeout=self.timeout)
            with smtp:
                self._session(smtp, context, where)
                refused = smtp.send_message(message, sender, recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(f"{where} refused every recipient: {_refusals(exc.recipients)}",
                                retryable=all(400 <= code < 500 for code in codes), status=max(codes)) from exc
        except smtplib.SMTPResponseException as exc:
            answer = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise DeliveryError(f"{where} answered {exc.smtp_code} {answer}", retryable=400 <= exc.smtp_code < 500,
                                status=exc.smtp_code) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"{where}: certificate not trusted: {exc.verify_message}", retryable=False) from exc
        except ssl.SSLError as exc:  # worth another try, as in Alertmanager; the hint is for a server without SMTPS
            hint = " (with implicit TLS; if the server speaks STARTTLS here, set force_implicit_tls: false)"
            raise DeliveryError(f"{where}: TLS failed: {exc}" + (hint if self.implicit_tls else ""),
                                retryable=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{where}: {exc or type(exc).__name__}", retryable=True) from exc
        if refused:  # some recipients got it: a retry would mail them twice, so this failure is final
            raise DeliveryError(f"{where} refused some recipients: {_refusals(refused)}", retryable=False)

    def _session(self, smtp: smtplib.SMTP, context: "ssl.SSLContext | _NamedContext", where: str) -> None:
        smtp.ehlo()
        encrypted = self.implicit_tls
        if self.require_tls and not encrypted:
            if not smtp.has_extn("starttls"):
                raise DeliveryError(f"require_tls is set but {where} does not offer STARTTLS", retryable=False)
            smtp.starttls(context=context)
            smtp.ehlo()
            encrypted = True
        if not self.username:
            return
        if not smtp.has_extn("auth"):
            raise DeliveryError(f"auth_username is set but {where} offers no AUTH"
                                + ("" if self.require_tls else " (some servers offer it only after STARTTLS)"),
                                retryable=False)
        credentials = Credentials(self.username, self.password, self.secret, self.identity)
        authenticate(smtp, credentials, self.host, encrypted, where)


@dataclass(slots=True, frozen=True)
class _NamedContext:
    """An ssl context that checks the server's certificate against ``server_name`` (tls_config's), where smtplib
    would check it against the smarthost's host: as Alertmanager, which takes the smarthost's host only when
    tls_config names no server. smtplib asks of its context only ``wrap_socket``."""

    context: ssl.SSLContext
    server_name: str

    def wrap_socket(self, sock, server_side: bool = False, do_handshake_on_connect: bool = True,
                    suppress_ragged_eofs: bool = True, server_hostname: str | None = None,
                    session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
        return self.context.wrap_socket(sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
                                        self.server_name, session)


def _refusals(recipients: dict) -> str:
    return ", ".join(f"{address} ({code})" for address, (code, _) in recipients.items())


def parse(node: Node, setup: IntegrationSetup) -> Email:
    glob = setup.glob
    node = node.mapping(KEYS)
    if not node.child("to").string():
        node.child("to").fail("required: one or more addresses, comma-separated")
    if not (node.child("from").string() or glob.smtp_from):
        node.child("from").fail("required here or as the global smtp_from")
    smarthost_node = node.child("smarthost")
    smarthost = smarthost_node.string(glob.smtp_smarthost)
    match = _SMARTHOST.match(smarthost)
    if not smarthost:
        smarthost_node.fail("required here or as the global smtp_smarthost (host:port)")
    elif not match or not 0 < int(match["port"]) < 65536:
        smarthost_node.fail(f"must be host:port (got {smarthost!r})")
    templates = setup.templates
    headers = _headers(node.child("headers"), setup)
    thread_by_date = _threading(node)
    configured = frozenset(name for name in ("Subject",) if name in headers) | frozenset(
        key for key in ("html", "text") if not node.child(key).missing)
    headers.setdefault("Subject", templates.text(DEFAULT_SUBJECT))
    html_node, text_node = node.child("html"), node.child("text")
    html = template(html_node, templates, DEFAULT_HTML, html=True) if html_node.string(DEFAULT_HTML) else None
    tls_node = node.child("tls_config")
    username = node.child("auth_username").string(glob.smtp_auth_username)
    return Email(**integration_fields(node, setup, send_resolved=False), to=template(node.child("to"), templates),
                 sender=template(node.child("from"), templates, glob.smtp_from),
                 host=(match["ip6"] or match["host"]) if match else "", port=int(match["port"]) if match else 0,
                 hello=node.child("hello").string(glob.smtp_hello), username=username,
                 password=secret(node, "auth_password") or glob.smtp_auth_password,
                 secret=secret(node, "auth_secret") or glob.smtp_auth_secret,
                 identity=node.child("auth_identity").string(glob.smtp_auth_identity),
                 require_tls=node.child("require_tls").boolean(glob.smtp_require_tls),
                 implicit_tls=implicit_tls(_optional_boolean(node.child("force_implicit_tls"),
                                                             glob.smtp_force_implicit_tls),
                                           int(match["port"]) if match else 0),
                 tls=glob.smtp_tls if tls_node.missing else parse_tls(tls_node), headers=headers,
                 html=html, text=template(text_node, templates) if text_node.string() else None,
                 configured=configured, thread_by_date=thread_by_date)


def _optional_boolean(node: Node, default: bool | None) -> bool | None:
    return default if node.missing else node.boolean(False)


def _headers(node: Node, setup: IntegrationSetup) -> dict[str, Field]:
    """The configured headers by their canonical names; two names that differ only in case are an error, as in
    Alertmanager (which of them would win is up to the order YAML maps happen to keep)."""
    headers: dict[str, Field] = {}
    for name, value in template_map(node, setup.templates).items():
        canonical = _header_name(name)
        if canonical in headers:
            node.child(name).fail(f"duplicate header {canonical!r} (header names are case-insensitive)")
        headers[canonical] = value
    return headers


def _threading(node: Node) -> str | None:
    """``threading``'s thread_by_date when it is enabled, else None; Alertmanager's checks (0.34's: an unset or
    other thread_by_date is refused since 0.31)."""
    threading = node.child("threading").mapping(THREADING_KEYS)
    enabled = threading.child("enabled").boolean(False)
    by_date = threading.child("thread_by_date")
    if not enabled:
        by_date.string()
        return None
    headers = node.child("headers")
    for name in headers.value if isinstance(headers.value, dict) else ():
        if isinstance(name, str) and _header_name(name) in THREAD_HEADERS:
            headers.child(name).fail(f"threading.enabled sets {_header_name(name)} itself: leave one of them out")
    if by_date.missing:
        by_date.fail("required with threading.enabled: daily or none (Alertmanager 0.31+ refuses it left out)")
        return None
    return by_date.string("daily", choices=THREAD_BY_DATE)
