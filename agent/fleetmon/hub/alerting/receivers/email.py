"""email_configs: one mail per notification over SMTP, with Alertmanager's keys and TLS rules.

- ``require_tls`` (default: the global smtp_require_tls, itself true) demands STARTTLS; a server that
  does not offer it fails the attempt for good rather than getting the mail in clear text. Without
  require_tls the mail goes out in clear text, as in Alertmanager. Port 465 speaks TLS from the start.
- With ``auth_username`` the hub authenticates with the first mechanism of the server's AUTH list it holds
  the credential for, as Alertmanager does (receivers.smtp_auth): CRAM-MD5 with ``auth_secret``, PLAIN or
  LOGIN with ``auth_password``; PLAIN only over TLS or to localhost. A server that offers no AUTH at that
  point, or none of those, fails the attempt for good.
- ``to``, ``from``, every header, ``text`` and ``html`` are Go templates, as in Alertmanager; ``html``
  with html/template's escaping. Left out, the Subject is ``{{ template "email.default.subject" . }}``
  and the HTML ``{{ template "email.default.html" . }}``; there is a plain-text part only when ``text``
  is set (multipart/alternative when both are). An incident's change has no Alertmanager default: its
  subject and parts come from receivers.text unless the config sets them.

4xx SMTP answers and connection trouble are worth another try; 5xx answers are not.
"""

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import text
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, secret, template, template_map
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields, parse_smtp_tls
from fleetmon.hub.alerting.receivers.smtp_auth import Credentials, authenticate
from fleetmon.hub.alerting.receivers.tls import TlsSettings, system_tls
from fleetmon.hub.alerting.templates import Field

KEYS = ("to", "from", "smarthost", "hello", "auth_username", "auth_password", "auth_password_file", "auth_secret",
        "auth_secret_file", "auth_identity", "require_tls", "tls_config", "headers", "html", "text", "send_resolved",
        "timeout")
_SMARTHOST = re.compile(r"^(?:\[(?P<ip6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\s\[\]]+)):(?P<port>\d{1,5})$")
SMTPS_PORT = 465
DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'
DEFAULT_HTML = '{{ template "email.default.html" . }}'


def _header_name(name: str) -> str:
    """Header names as Go's textproto writes them ('message-id' -> 'Message-Id'), so a configured header
    replaces the default one whatever its case."""
    return "-".join(part.capitalize() for part in name.split("-"))


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
    tls: TlsSettings | None = None
    headers: dict[str, Field] = field(default_factory=dict)  # canonical names; they win over the defaults
    html: Field | None = None  # None: no HTML part
    text: Field | None = None  # None: no plain-text part
    configured: frozenset[str] = frozenset()  # "Subject", "html", "text" where the config sets them

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
        context = (self.tls or system_tls()).context
        try:
            if self.port == SMTPS_PORT:
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
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{where}: {exc or type(exc).__name__}", retryable=True) from exc
        if refused:  # some recipients got it: a retry would mail them twice, so this failure is final
            raise DeliveryError(f"{where} refused some recipients: {_refusals(refused)}", retryable=False)

    def _session(self, smtp: smtplib.SMTP, context: ssl.SSLContext, where: str) -> None:
        smtp.ehlo()
        encrypted = self.port == SMTPS_PORT
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
    headers = {_header_name(name): value for name, value in template_map(node.child("headers"), templates).items()}
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
                 tls=glob.smtp_tls if tls_node.missing else parse_smtp_tls(tls_node), headers=headers,
                 html=html, text=template(text_node, templates) if text_node.string() else None,
                 configured=configured)
