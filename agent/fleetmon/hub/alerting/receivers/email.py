"""email_configs: one mail per notification over SMTP, with Alertmanager's keys and TLS rules.

- ``require_tls`` (default: the global smtp_require_tls, itself true) demands STARTTLS; a server that
  does not offer it fails the attempt for good rather than getting the mail in clear text. Without
  require_tls the mail goes out in clear text, as in Alertmanager. Port 465 speaks TLS from the start.
- With ``auth_username`` the hub authenticates (smtplib picks CRAM-MD5, PLAIN or LOGIN, PLAIN when an
  ``auth_identity`` is set); a server that offers no AUTH at that point fails the attempt for good.
- The mail is multipart/alternative: plain text and a small HTML page, each from fleetmon's default
  rendering unless ``text`` / ``html`` give a literal one.

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
from fleetmon.hub.alerting.receivers.common import TEMPLATE_ERROR, literal, secret
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields, parse_smtp_tls
from fleetmon.hub.alerting.receivers.tls import TlsSettings, system_tls

KEYS = ("to", "from", "smarthost", "hello", "auth_username", "auth_password", "auth_password_file",
        "auth_identity", "require_tls", "tls_config", "headers", "html", "text", "send_resolved", "timeout")
_SMARTHOST = re.compile(r"^(?:\[(?P<ip6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\s\[\]]+)):(?P<port>\d{1,5})$")
SMTPS_PORT = 465


def _header_name(name: str) -> str:
    """Header names as Go's textproto writes them ('message-id' -> 'Message-Id'), so a configured header
    replaces the default one whatever its case."""
    return "-".join(part.capitalize() for part in name.split("-"))


@dataclass(eq=False, kw_only=True)
class Email(Integration):
    kind: ClassVar[str] = "email"
    to: str
    sender: str  # the config's `from`
    host: str
    port: int
    hello: str = "localhost"
    username: str = ""
    password: str = field(default="", repr=False)
    identity: str = ""
    require_tls: bool = True
    tls: TlsSettings | None = None
    headers: dict[str, str] = field(default_factory=dict)  # canonical names; they win over the defaults
    html: str = ""  # "": the default rendering
    text: str = ""

    @property
    def recipients(self) -> list[str]:
        return [address for _, address in getaddresses([self.to]) if address]

    def message(self, notification: Notification) -> EmailMessage:
        message = EmailMessage()
        headers = {"From": self.sender, "To": self.to, "Subject": text.title(notification),
                   "Date": formatdate(localtime=False), "Message-Id": make_msgid(domain=self.hello), **self.headers}
        for name, value in headers.items():
            message[name] = value
        message.set_content(self.text or text.body(notification))
        message.add_alternative(self.html or text.html_body(notification), subtype="html")
        return message

    def send(self, notification: Notification) -> None:
        message = self.message(notification)
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
                refused = smtp.send_message(message, parseaddr(self.sender)[1], self.recipients)
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
        if self.require_tls and self.port != SMTPS_PORT:
            if not smtp.has_extn("starttls"):
                raise DeliveryError(f"require_tls is set but {where} does not offer STARTTLS", retryable=False)
            smtp.starttls(context=context)
            smtp.ehlo()
        if not self.username:
            return
        if not smtp.has_extn("auth"):
            raise DeliveryError(f"auth_username is set but {where} offers no AUTH"
                                + ("" if self.require_tls else " (some servers offer it only after STARTTLS)"),
                                retryable=False)
        if self.identity:
            smtp.auth("PLAIN", lambda challenge=None: f"{self.identity}\0{self.username}\0{self.password}")
        else:
            smtp.login(self.username, self.password)


def _refusals(recipients: dict) -> str:
    return ", ".join(f"{address} ({code})" for address, (code, _) in recipients.items())


def parse(node: Node, setup: IntegrationSetup) -> Email:
    glob = setup.glob
    node = node.mapping(KEYS)
    to = literal(node.child("to"))
    if not to:
        node.child("to").fail("required: one or more addresses, comma-separated")
    sender = literal(node.child("from")) or glob.smtp_from
    if not sender:
        node.child("from").fail("required here or as the global smtp_from")
    smarthost_node = node.child("smarthost")
    smarthost = smarthost_node.string(glob.smtp_smarthost)
    match = _SMARTHOST.match(smarthost)
    if not smarthost:
        smarthost_node.fail("required here or as the global smtp_smarthost (host:port)")
    elif not match or not 0 < int(match["port"]) < 65536:
        smarthost_node.fail(f"must be host:port (got {smarthost!r})")
    headers = {}
    for name, value in node.child("headers").string_map().items():
        if "{{" in value:
            node.child("headers").child(name).fail(TEMPLATE_ERROR)
        headers[_header_name(name)] = value
    tls_node = node.child("tls_config")
    username = node.child("auth_username").string(glob.smtp_auth_username)
    return Email(**integration_fields(node, setup, send_resolved=False), to=to, sender=sender,
                 host=(match["ip6"] or match["host"]) if match else "", port=int(match["port"]) if match else 0,
                 hello=node.child("hello").string(glob.smtp_hello), username=username,
                 password=secret(node, "auth_password") or glob.smtp_auth_password,
                 identity=node.child("auth_identity").string(glob.smtp_auth_identity),
                 require_tls=node.child("require_tls").boolean(glob.smtp_require_tls),
                 tls=glob.smtp_tls if tls_node.missing else parse_smtp_tls(tls_node), headers=headers,
                 html=literal(node.child("html")), text=literal(node.child("text")))
