"""email_configs' ``force_implicit_tls`` (and the global ``smtp_force_implicit_tls``) and ``threading``.

Implicit TLS or STARTTLS is decided as Alertmanager decides it (a table without I/O), then tried against a real
aiosmtpd server that speaks TLS from the first byte on a port other than 465, and against one that speaks
STARTTLS. Threading's headers come from mails the real dispatcher sends for two groups. Alertmanager 0.25
(Debian's) has none of these keys: its amtool refuses them, as docs/alerting.md says.
"""

import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from fleetmon.hub.alerting.receivers import DeliveryError
from fleetmon.hub.alerting.receivers.email import implicit_tls, thread_root
from tests.conftest import free_port
from tests.hub.alerting.conftest import SmtpSink
from tests.hub.alerting.test_receivers import GROUP_KEY, alert, batch, config_errors, integration, send
from tests.hub.alerting.test_receivers_slack_api import Hub

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


# --- implicit TLS or STARTTLS, without I/O ----------------------------------------------------------------

class TlsChoice(NamedTuple):
    name: str
    why: str
    force: bool | None  # force_implicit_tls as it ends up for the entry (its own, else the global one)
    port: int
    implicit: bool


TLS_CHOICES = [
    TlsChoice("465 alone", "unset: port 465 speaks TLS from the start, as it always did", None, 465, True),
    TlsChoice("587 alone", "unset: any other port speaks plain SMTP first (then STARTTLS with require_tls)", None, 587,
              False),
    TlsChoice("forced on 2465", "true: implicit TLS on any port", True, 2465, True),
    TlsChoice("forced on 465", "true on 465 is what 465 does anyway", True, 465, True),
    TlsChoice("forced off on 465", "false: plain SMTP first even on 465 (a server that speaks STARTTLS there)",
              False, 465, False),
    TlsChoice("forced off on 587", "false elsewhere changes nothing", False, 587, False),
]


@pytest.mark.parametrize("case", TLS_CHOICES, ids=[c.name for c in TLS_CHOICES])
def test_implicit_tls_is_decided_as_alertmanager_decides_it(case):
    assert implicit_tls(case.force, case.port) is case.implicit, case.why


class Inherited(NamedTuple):
    name: str
    why: str
    glob: dict
    entry: dict
    implicit: bool


INHERITED = [
    Inherited("global forces", "an entry without the key takes the global one", {"smtp_force_implicit_tls": True},
              {"smarthost": "mail.example.net:2465"}, True),
    Inherited("entry beats global", "the entry's own false wins over the global true",
              {"smtp_force_implicit_tls": True}, {"smarthost": "mail.example.net:2465", "force_implicit_tls": False},
              False),
    Inherited("global false on 465", "a global false is set, not unset: plain SMTP on 465 too",
              {"smtp_force_implicit_tls": False}, {"smarthost": "mail.example.net:465"}, False),
    Inherited("neither on 465", "neither set: the port decides", {}, {"smarthost": "mail.example.net:465"}, True),
]


@pytest.mark.parametrize("case", INHERITED, ids=[c.name for c in INHERITED])
def test_an_entry_takes_the_global_smtp_force_implicit_tls_unless_it_sets_its_own(case):
    mailer = integration("email", {"to": "ops@example.com", "from": "hub@example.com", **case.entry}, glob=case.glob)
    assert mailer.implicit_tls is case.implicit, case.why


# --- a real server ----------------------------------------------------------------------------------------

@dataclass
class ImplicitTlsSink(SmtpSink):
    """SmtpSink that speaks TLS from the first byte (SMTPS) with ``certificate``, on a free port and ``host``;
    ``Mail.tls`` says whether the mail came over TLS."""

    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        options = {"ssl_context": self.certificate.server_context()}
        if self.users:
            options.update(authenticator=self._authenticate, auth_require_tls=False)
        self.controller = Controller(self, hostname=self.host, port=self.port, **options)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        # aiosmtpd sets session.ssl only after STARTTLS; over SMTPS the transport itself is the TLS one
        self.mails[-1].tls = server.transport.get_extra_info("ssl_object") is not None
        return answer


@pytest.fixture
def make_tls_sink(certificate):
    sinks: list[ImplicitTlsSink] = []

    def make(**options) -> ImplicitTlsSink:
        sinks.append(ImplicitTlsSink(certificate=certificate, **options))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.stop()


def mail_config(host: str, port: int, **extra) -> dict:
    return {"to": "ops@example.com", "from": "hub@example.com", "smarthost": f"{host}:{port}", **extra}


def test_forced_implicit_tls_delivers_over_tls_on_another_port_whatever_require_tls_says(make_tls_sink, certificate):
    sink = make_tls_sink()
    assert sink.port != 465
    trusted = {"tls_config": {"ca_file": str(certificate.cert)}}
    # require_tls (the default, true) asks for STARTTLS only on a session that is not encrypted yet: this one is,
    # and the server (TLS from the start) does not offer STARTTLS at all
    send(integration("email", mail_config("127.0.0.1", sink.port, force_implicit_tls=True, **trusted)),
         batch(alert("a")))
    send(integration("email", mail_config("127.0.0.1", sink.port, force_implicit_tls=True, require_tls=False,
                                          **trusted)), batch(alert("a")))
    send(integration("email", mail_config("127.0.0.1", sink.port, **trusted),
                     glob={"smtp_force_implicit_tls": True}), batch(alert("a")))
    assert [mail.tls for mail in sink.wait(3)] == [True, True, True]
    assert sink.mails[0].message["Subject"] == "[FIRING:1] HighCPU (prod a)"


def test_implicit_tls_checks_the_certificate(make_tls_sink):
    sink = make_tls_sink()
    with pytest.raises(DeliveryError, match="certificate not trusted") as caught:
        send(integration("email", mail_config("127.0.0.1", sink.port, force_implicit_tls=True)), batch(alert("a")))
    assert not caught.value.retryable and sink.mails == []


def test_without_the_key_another_port_speaks_plain_smtp_first(make_tls_sink):
    """Port 2465 without force_implicit_tls: the hub waits for a greeting the SMTPS server never sends in clear
    text, and gives up when the attempt times out: worth another try, as a connection failure."""
    sink = make_tls_sink()
    with pytest.raises(DeliveryError) as caught:
        send(integration("email", mail_config("127.0.0.1", sink.port, require_tls=False, timeout="1s")),
             batch(alert("a")))
    assert caught.value.retryable and sink.mails == []


def test_forcing_implicit_tls_on_a_starttls_server_fails_retryably_with_a_hint(make_smtp_sink, certificate):
    sink = make_smtp_sink(certificate=certificate)  # plain SMTP, STARTTLS offered
    config = mail_config("127.0.0.1", sink.port, tls_config={"ca_file": str(certificate.cert)})
    with pytest.raises(DeliveryError) as caught:
        send(integration("email", {**config, "force_implicit_tls": True}), batch(alert("a")))
    assert caught.value.retryable, "a TLS handshake that fails is worth another try, as in Alertmanager"
    assert str(caught.value).startswith(f"127.0.0.1:{sink.port}: TLS failed: ")
    assert str(caught.value).endswith("(with implicit TLS; if the server speaks STARTTLS here, set "
                                      "force_implicit_tls: false)")
    assert sink.mails == []
    send(integration("email", {**config, "force_implicit_tls": False}), batch(alert("a")))  # STARTTLS: require_tls
    send(integration("email", {**config, "force_implicit_tls": False, "require_tls": False}), batch(alert("a")))
    assert [mail.tls for mail in sink.wait(2)] == [True, False]


def test_implicit_tls_counts_as_encrypted_for_plain_auth(make_tls_sink):
    """127.0.0.2 is not one of the names PLAIN trusts in clear text: over implicit TLS it goes all the same."""
    sink = make_tls_sink(host="127.0.0.2", users={"hub": "s3cret"})
    send(integration("email", mail_config("127.0.0.2", sink.port, force_implicit_tls=True, require_tls=False,
                                          auth_username="hub", auth_password="s3cret",
                                          tls_config={"insecure_skip_verify": True})), batch(alert("a")))
    (mail,) = sink.wait()
    assert mail.tls and mail.login == "hub"


# --- threading --------------------------------------------------------------------------------------------

def expected_root(group_key: str, day: str) -> str:
    """Alertmanager's thread root, written out here on its own: the first 16 hex digits of the group key's
    SHA-256, then the day (or nothing)."""
    return f"<alert-{hashlib.sha256(group_key.encode()).hexdigest()[:16]}-{day}@alertmanager>"


def test_a_groups_mails_share_one_thread_and_another_group_has_its_own(make_smtp_sink, tmp_path):
    sink = make_smtp_sink()
    hub = Hub(f"""
route: {{receiver: mail, group_by: [alertname], group_wait: 30s, group_interval: 5m, repeat_interval: 1h}}
receivers:
- name: mail
  email_configs:
  - to: ops@example.com
    from: hub@example.com
    smarthost: 127.0.0.1:{sink.port}
    require_tls: false
    headers: {{Subject: '{{{{ .GroupLabels.alertname }}}} {{{{ len .Alerts }}}}'}}
    threading: {{enabled: true, thread_by_date: none}}
""", tmp_path / "alerting.db")
    try:
        hub.fire(host="a")
        hub.fire(alertname="DiskFull", host="a")
        hub.at(30)  # both groups' first notification
        hub.fire(host="b")
        hub.at(330)  # HighCPU's second: an alert added
        mails = {mail.message["Subject"]: mail.message for mail in sink.wait(3)}
    finally:
        hub.stop()
    assert sorted(mails) == ["DiskFull 1", "HighCPU 1", "HighCPU 2"]
    cpu = expected_root('{}:{alertname="HighCPU"}', "")
    disk = expected_root('{}:{alertname="DiskFull"}', "")
    assert cpu != disk
    for subject, root in (("HighCPU 1", cpu), ("HighCPU 2", cpu), ("DiskFull 1", disk)):
        assert (mails[subject]["References"], mails[subject]["In-Reply-To"]) == (root, root), subject
    assert len({message["Message-Id"] for message in mails.values()}) == 3  # each mail its own id


def test_thread_by_date_daily_starts_a_new_thread_each_local_day(make_smtp_sink):
    sink = make_smtp_sink()
    config = mail_config("127.0.0.1", sink.port, require_tls=False)
    daily = integration("email", {**config, "threading": {"enabled": True, "thread_by_date": "daily"}})
    undated = integration("email", {**config, "threading": {"enabled": True, "thread_by_date": "none"}})
    plain = integration("email", config)
    noon = time.mktime((2024, 3, 5, 12, 0, 0, 0, 0, -1))  # local time, as Alertmanager's time.Now() formats
    for clock in (noon, noon + 11 * 3600, noon + 24 * 3600):  # morning and night of one day, then the next day
        daily.clock = undated.clock = lambda clock=clock: clock
        send(daily, batch(alert("a")))
        send(undated, batch(alert("a")))
    send(plain, batch(alert("a")))
    mails = [mail.message for mail in sink.wait(7)]
    days = ["2024-03-05", "2024-03-05", "2024-03-06"]
    assert [m["References"] for m in mails[0:6:2]] == [expected_root(GROUP_KEY, day) for day in days]
    assert [m["In-Reply-To"] for m in mails[0:6:2]] == [expected_root(GROUP_KEY, day) for day in days]
    assert [m["References"] for m in mails[1:6:2]] == [expected_root(GROUP_KEY, "")] * 3
    assert thread_root(GROUP_KEY, "") == expected_root(GROUP_KEY, "")
    assert mails[6]["References"] is None and mails[6]["In-Reply-To"] is None  # threading off: no such headers


# --- config errors ----------------------------------------------------------------------------------------

ENTRY = {"to": "a@example.com", "from": "hub@example.com", "smarthost": "mail.example.net:25"}


@pytest.mark.parametrize(("entry", "errors"), [
    ({"threading": {"enabled": True}},
     ["threading.thread_by_date: required with threading.enabled: daily or none (Alertmanager 0.31+ refuses it "
      "left out)"]),
    ({"threading": {"enabled": True, "thread_by_date": "weekly"}},
     ["threading.thread_by_date: must be one of: none, daily (got 'weekly')"]),
    ({"threading": {"enabled": True, "thread_by_date": "daily"},
      "headers": {"references": "<x@y>", "In-Reply-To": "x"}},
     ["headers.references: threading.enabled sets References itself: leave one of them out",
      "headers.In-Reply-To: threading.enabled sets In-Reply-To itself: leave one of them out"]),
    ({"threading": {"enabled": "yes", "by_day": True}},
     ["threading.by_day: unknown key (expected one of: enabled, thread_by_date)",
      "threading.enabled: must be true or false"]),
    ({"force_implicit_tls": "yes"}, ["force_implicit_tls: must be true or false"]),
    ({"headers": {"X-Team": "ops", "x-team": "dev"}},
     ["headers.x-team: duplicate header 'X-Team' (header names are case-insensitive)"]),
], ids=["thread_by_date left out", "thread_by_date weekly", "own threading headers", "threading keys",
        "force_implicit_tls type", "duplicate header"])
def test_config_errors_name_their_key(entry, errors):
    doc = {"receivers": [{"name": "a", "email_configs": [{**ENTRY, **entry}]}]}
    assert config_errors(doc) == [f"receivers[0].email_configs[0].{error}" for error in errors]


def test_threading_off_takes_any_thread_by_date_and_the_global_key_is_a_boolean():
    """As in Alertmanager, thread_by_date is checked only once threading is enabled."""
    off = integration("email", {**ENTRY, "threading": {"enabled": False, "thread_by_date": "weekly"},
                                "headers": {"References": "<x@y>"}})
    assert off.thread_by_date is None
    assert config_errors({"global": {"smtp_force_implicit_tls": 1}, "receivers": []}) == [
        "global.smtp_force_implicit_tls: must be true or false"]


# --- beside Alertmanager 0.25 -----------------------------------------------------------------------------

def amtool_check(tmp_path: Path, doc: dict) -> str:
    """amtool check-config's verdict on ``doc``: "" when it accepts it, else what it says."""
    if not Path(AMTOOL).exists():
        pytest.fail("amtool is not installed: run `make deps`")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump({"route": {"receiver": "a"}, **doc}))
    checked = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=30)
    return "" if checked.returncode == 0 else checked.stdout + checked.stderr


def test_debians_alertmanager_is_older_than_these_keys_and_refuses_duplicate_headers_as_the_hub_does(tmp_path):
    """force_implicit_tls and smtp_force_implicit_tls came with Alertmanager 0.31, threading with 0.30: 0.25
    does not know them. The duplicate header check is older, and 0.25 has it too."""
    def receivers(**keys) -> dict:
        return {"receivers": [{"name": "a", "email_configs": [{**ENTRY, **keys}]}]}

    assert amtool_check(tmp_path, receivers()) == ""
    assert "field force_implicit_tls not found" in amtool_check(tmp_path, receivers(force_implicit_tls=True))
    assert "field threading not found" in amtool_check(tmp_path, receivers(
        threading={"enabled": True, "thread_by_date": "daily"}))
    assert "field smtp_force_implicit_tls not found" in amtool_check(
        tmp_path, {"global": {"smtp_force_implicit_tls": True}, **receivers()})
    duplicate = receivers(headers={"X-Team": "ops", "x-team": "dev"})
    assert 'duplicate header "X-Team" in email config' in amtool_check(tmp_path, duplicate)
    assert config_errors(duplicate)
