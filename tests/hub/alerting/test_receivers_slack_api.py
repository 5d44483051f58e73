"""Slack's Web API for slack_configs, against a local stand-in that answers as Slack documents chat.postMessage
and chat.update: a bot token as ``Authorization: Bearer``, Slack's ``ok: false`` answers, ``update_message``
editing a group's message (through a restart of the dispatcher, and of a real hub), and the config errors of
every combination Alertmanager refuses.
"""

import json
import sqlite3
import time
import urllib.request

import pytest
import yaml

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.config import parse_alerting
from fleetmon.hub.alerting.delivery import Attempt, Deliverer
from fleetmon.hub.alerting.dispatch import Dispatcher
from fleetmon.hub.alerting.journal import AlertJournal
from fleetmon.hub.alerting.nflog import LogEntry
from fleetmon.hub.alerting.receivers import DeliveryError
from fleetmon.protocol.messages import rfc3339
from tests.hub.alerting.conftest import HttpSink, Received
from tests.hub.alerting.test_receivers import alert, batch, config_errors, integration, send
from tests.polling import wait_until

TOKEN = "xoxb-17-test-token"
CHANNELS = {"#ops": "C0OPS", "#team": "C0TEAM"}  # what Slack answers for a channel name: the channel's ID


class SlackStandIn:
    """Slack's chat.postMessage and chat.update on an HttpSink, as api.slack.com describes them: a JSON body
    (Content-Type application/json) with the bot token in ``Authorization: Bearer``; HTTP 200 either way, with
    ``ok``. postMessage answers the channel's ID and the new message's ts; update needs that ID and ts."""

    def __init__(self, sink: HttpSink, token: str = TOKEN) -> None:
        self.sink, self.token = sink, token
        self.messages: dict[tuple[str, str], dict] = {}  # (channel ID, ts): the message as last posted or edited
        self.calls: list[tuple[str, str, str]] = []  # (method, channel ID, ts) of every call Slack accepted
        self.refuse_edits = ""  # set: every chat.update is refused with this error (edit_window_closed, ...)
        self._posted = 0
        sink.answer = self.answer

    def url(self, method: str = "chat.postMessage") -> str:
        return self.sink.url(f"/api/{method}")

    def answer(self, request: Received) -> tuple[int, bytes]:
        def reply(**fields) -> tuple[int, bytes]:
            return 200, json.dumps(fields).encode()

        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return reply(ok=False, error="invalid_auth")
        if not request.headers.get("Content-Type", "").startswith("application/json"):
            return reply(ok=False, error="invalid_form_data")
        body, method = request.json(), request.path.split("?")[0].rsplit("/", 1)[-1]
        if method == "chat.postMessage":
            channel = CHANNELS.get(body.get("channel", ""))
            if channel is None:
                return reply(ok=False, error="channel_not_found")
            self._posted += 1
            ts = f"{1_700_000_000 + self._posted}.000100"
        elif method == "chat.update":
            channel, ts = body.get("channel", ""), body.get("ts", "")
            if self.refuse_edits:
                return reply(ok=False, error=self.refuse_edits)
            if (channel, ts) not in self.messages:
                return reply(ok=False, error="message_not_found")
        else:
            return reply(ok=False, error="unknown_method")
        self.messages[(channel, ts)] = body
        self.calls.append((method, channel, ts))
        return reply(ok=True, channel=channel, ts=ts, message={"attachments": body.get("attachments", [])})


@pytest.fixture
def slack(make_http_sink) -> SlackStandIn:
    return SlackStandIn(make_http_sink())


def title(message: dict) -> str:
    return message["attachments"][0]["title"]


# --- where a message goes, with which token ---------------------------------------------------------------

def test_an_app_token_posts_json_to_the_web_api_with_a_bearer_token(slack, tmp_path):
    glob = {"slack_app_token": TOKEN, "slack_app_url": slack.url()}
    send(integration("slack", {"channel": "#ops"}, glob=glob), batch(alert("a")))
    (request,) = slack.sink.wait()
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json()["channel"] == "#ops" and title(request.json()) == "[FIRING:1] HighCPU (prod a)"
    assert slack.calls == [("chat.postMessage", "C0OPS", "1700000001.000100")]

    (tmp_path / "token").write_text("xoxb-own\n")
    own = SlackStandIn(slack.sink, token="xoxb-own")  # the entry's own token and URL win over the global ones
    send(integration("slack", {"channel": "#team", "app_token_file": str(tmp_path / "token"),
                               "app_url": own.url() + "?via=entry"}, glob=glob), batch(alert("a")))
    request = slack.sink.wait(2)[1]
    assert request.path == "/api/chat.postMessage?via=entry" and request.headers["Authorization"] == "Bearer xoxb-own"
    assert "xoxb" not in repr(integration("slack", {"channel": "#ops"}, glob=glob))


def test_an_entry_with_its_own_url_or_authorization_does_not_take_the_global_token(http_sink):
    glob = {"slack_app_token": TOKEN}
    send(integration("slack", {"api_url": http_sink.url("/services/T0/B0/x")}, glob=glob), batch(alert("a")))
    assert "Authorization" not in http_sink.wait()[0].headers  # an incoming webhook: the URL is the secret
    # Alertmanager's old workaround: the global API URL is the app URL, each entry brings its own bearer token
    glob = {"slack_app_token": TOKEN, "slack_api_url": http_sink.url("/api/chat.postMessage"),
            "slack_app_url": http_sink.url("/api/chat.postMessage")}
    send(integration("slack", {"http_config": {"authorization": {"credentials": "xoxb-entry"}}}, glob=glob),
         batch(alert("a")))
    request = http_sink.wait(2)[1]
    assert (request.path, request.headers["Authorization"]) == ("/api/chat.postMessage", "Bearer xoxb-entry")


# --- Slack's answers --------------------------------------------------------------------------------------

ANSWERS = [
    # (what Slack answers with HTTP 200, whether the delivery fails and may be retried, the error)
    (b"ok", None, ""),  # an incoming webhook's success
    (b'{"ok": true, "channel": "C0OPS", "ts": "1.2"}', None, ""),
    (b'{"ok": false, "error": "channel_not_found"}', False, 'channel "#ops": error response from Slack: '
                                                           'channel_not_found'),
    (b'{"ok": false, "error": "ratelimited"}', False, "error response from Slack: ratelimited"),  # as Alertmanager
    (b'{"ok": tru', True, 'channel "#ops": could not read the JSON Slack answered'),  # garbled: another try may do
    (b"invalid_token", False, 'channel "#ops": received an error response from Slack: invalid_token'),
    (b"", False, "received an error response from Slack"),
]


@pytest.mark.parametrize(("answer", "retryable", "error"), ANSWERS, ids=[a.decode() or "empty" for a, _, _ in ANSWERS])
def test_slacks_answer_decides_success_and_whether_to_retry(http_sink, answer, retryable, error):
    http_sink.answer = lambda request: (200, answer)
    slack = integration("slack", {"api_url": http_sink.url("/api/chat.postMessage"), "channel": "#ops"})
    if retryable is None:
        send(slack, batch(alert("a")))
        return
    with pytest.raises(DeliveryError) as caught:
        send(slack, batch(alert("a")))
    assert error in str(caught.value) and caught.value.retryable is retryable


def test_a_failed_status_names_the_channel_and_a_5xx_is_retried(http_sink):
    slack = integration("slack", {"app_token": TOKEN, "app_url": http_sink.url("/api/chat.postMessage"),
                                  "channel": "#ops"})
    http_sink.respond(503, 404)
    with pytest.raises(DeliveryError, match=r'^channel "#ops": POST to 127\.0\.0\.1:[0-9]+: HTTP 503') as caught:
        send(slack, batch(alert("a")))
    assert caught.value.retryable and caught.value.status == 503
    with pytest.raises(DeliveryError) as caught:
        send(slack, batch(alert("a")))
    assert not caught.value.retryable and caught.value.status == 404


# --- update_message ---------------------------------------------------------------------------------------

class Hub:
    """The dispatcher with the real deliverer and the alert journal on a file, on a controlled clock: what
    the hub runs, minus MQTT and HTTP. ``restart()`` is a hub stopped and started on the same journal.

    The clock starts at the real time and only moves forward from it: the deliverer's deadlines are real
    times (a round's deadline is its clock time plus the group interval)."""

    def __init__(self, config_text: str, path, t0: float | None = None, offset: float = 0.0) -> None:
        errors = Errors()
        config = parse_alerting(Node(yaml.safe_load(config_text), "", errors))
        assert not errors, errors
        self.config_text, self.path = config_text, path
        self.t0 = time.time() if t0 is None else t0
        self.now = self.t0 + offset
        self.attempts: list[Attempt] = []
        self.journal = AlertJournal(str(path))
        self.deliverer = Deliverer(on_attempt=self.attempts.append, initial_backoff=0.01, max_backoff=0.05)
        self.dispatcher = Dispatcher(config, self.deliverer, self.journal, clock=lambda: self.now)
        self.dispatcher.restore(**self.journal.load())

    def at(self, offset: float) -> None:
        """Run the round due at t0 + ``offset`` and wait until its deliveries are done."""
        self.now = self.t0 + offset
        self.dispatcher.process(self.now)
        wait_until(lambda: self.deliverer.pending == 0, message="the round's deliveries")
        self.dispatcher.process(self.now)  # the finished deliveries' bookkeeping

    def fire(self, **labels) -> None:
        assert not self.dispatcher.put([{"labels": {"alertname": "HighCPU", **labels},
                                         "startsAt": rfc3339(self.now)}])

    def resolve(self, **labels) -> None:
        assert not self.dispatcher.put([{"labels": {"alertname": "HighCPU", **labels},
                                         "startsAt": rfc3339(self.t0), "endsAt": rfc3339(self.now)}])

    def restart(self) -> "Hub":
        self.deliverer.stop()
        self.journal.close()
        return Hub(self.config_text, self.path, self.t0, self.now - self.t0)

    def stop(self) -> None:
        self.deliverer.stop()
        self.journal.close()


def config(slack: SlackStandIn) -> str:
    return f"""
global: {{slack_app_token: {TOKEN}, slack_app_url: '{slack.url()}'}}
route: {{receiver: slack, group_by: [alertname], group_wait: 30s, group_interval: 5m, repeat_interval: 1h}}
receivers:
- name: slack
  slack_configs:
  - {{channel: '#ops', update_message: true, send_resolved: true}}
  - {{channel: '#team', update_message: true}}
"""


def test_update_message_edits_the_groups_message_across_a_restart_until_the_group_resolves(slack, tmp_path):
    hub = Hub(config(slack), tmp_path / "alerting.db")
    hub.fire(host="a")
    hub.at(30)
    assert sorted(method for method, _, _ in slack.calls) == ["chat.postMessage"] * 2
    posted = {channel: ts for _, channel, ts in slack.calls}
    ops, team = ("C0OPS", posted["C0OPS"]), ("C0TEAM", posted["C0TEAM"])
    hub.fire(host="b")
    hub.at(330)  # new alerts added: each integration edits its own message
    assert sorted(slack.calls[2:]) == [("chat.update", *ops), ("chat.update", *team)]
    update = next(r for r in slack.sink.requests if r.path == "/api/chat.update")
    assert update.headers["Authorization"] == f"Bearer {TOKEN}" and list(update.json())[:2] == ["channel", "ts"]

    hub = hub.restart()  # the ts is in the notification log, which the journal keeps
    hub.at(331)  # the restored group: nothing new to tell
    hub.resolve(host="a")
    hub.fire(host="c")
    hub.at(631)  # the restored group ticks on from 331. #team, without send_resolved, gets the firing alerts
    # only (a copy of the notification): it still edits its own message
    assert sorted(slack.calls[4:]) == [("chat.update", *ops), ("chat.update", *team)]
    assert title(slack.messages[ops]) == title(slack.messages[team]) == "[FIRING:2] HighCPU "  # __subject's space
    hub.resolve(host="b")
    hub.resolve(host="c")
    hub.at(931)  # all resolved: #ops's message says so, #team is not told
    assert slack.calls[6:] == [("chat.update", *ops)] and title(slack.messages[ops]).startswith("[RESOLVED] HighCPU")
    assert title(slack.messages[team]) == "[FIRING:2] HighCPU "

    hub.fire(host="a")
    hub.at(1231)  # firing again after the resolution: a first notification, so new messages
    again = slack.calls[7:]
    assert sorted((method, channel) for method, channel, _ in again) == [("chat.postMessage", "C0OPS"),
                                                                          ("chat.postMessage", "C0TEAM")]
    assert {ts for _, _, ts in again} == {"1700000003.000100", "1700000004.000100"}
    hub.stop()
    assert all(attempt.ok for attempt in hub.attempts)


def test_a_message_deleted_in_slack_is_posted_anew_and_later_notifications_edit_the_new_one(slack, tmp_path):
    """Alertmanager fails every later notification of the group on its edit of the deleted message (none is
    seen again); the hub posts the notification as a new message instead, and edits that one from then on."""
    hub = Hub(config(slack).replace("\n  - {channel: '#team', update_message: true}", ""), tmp_path / "alerting.db")
    hub.fire(host="a")
    hub.at(30)
    slack.messages.clear()  # someone deleted the message
    hub.fire(host="b")
    hub.at(330)
    hub.fire(host="c")
    hub.at(630)
    hub.stop()
    assert all(attempt.ok for attempt in hub.attempts)
    assert [r.path for r in slack.sink.requests] == ["/api/chat.postMessage", "/api/chat.update",
                                                     "/api/chat.postMessage", "/api/chat.update"]
    (ts,) = {ts for method, _, ts in slack.calls[2:]}  # the new message's: posted, then edited
    assert title(slack.messages[("C0OPS", ts)]) == "[FIRING:3] HighCPU "


def test_an_edit_slack_refuses_for_another_reason_fails_for_good(slack, tmp_path):
    hub = Hub(config(slack).replace("\n  - {channel: '#team', update_message: true}", ""), tmp_path / "alerting.db")
    hub.fire(host="a")
    hub.at(30)
    slack.refuse_edits = "cant_update_message"
    hub.fire(host="b")
    hub.at(330)
    hub.stop()
    (failed,) = [(a.ok, a.final, a.error) for a in hub.attempts[1:]]
    assert failed == (False, True, 'channel "C0OPS": error response from Slack: cant_update_message')
    assert [r.path for r in slack.sink.requests] == ["/api/chat.postMessage", "/api/chat.update"]


def test_a_restarted_hub_edits_the_message_it_posted_before(start_hub, slack):
    """The real hub process: its alert journal keeps the ts through a stop and a start."""
    token = "alerting-hub-test-token-0123456789"
    alerting = yaml.safe_load(config(slack).replace("group_wait: 30s, group_interval: 5m",
                                                    "group_wait: 0s, group_interval: 1s"))
    hub = start_hub({"alerting": alerting, "api": {"token": token}})

    def post(host: str) -> None:
        alerts = [{"labels": {"alertname": "HighCPU", "host": host}, "startsAt": rfc3339(time.time())}]
        request = urllib.request.Request(f"http://127.0.0.1:{hub.port}/api/v2/alerts", method="POST",
                                         data=json.dumps(alerts).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    post("a")
    wait_until(lambda: len(slack.calls) == 2, timeout=20, message="the two first messages")
    posted = {channel: ts for _, channel, ts in slack.calls}
    hub.stop()
    hub.start()
    post("b")
    wait_until(lambda: len(slack.calls) == 4, timeout=20, message="the two edits after the restart")
    assert sorted(slack.calls[2:]) == sorted(("chat.update", channel, ts) for channel, ts in posted.items())
    assert [title(slack.messages[(channel, ts)]) for channel, ts in posted.items()] == ["[FIRING:2] HighCPU "] * 2


def test_a_journal_written_before_entries_kept_receiver_data_loads_and_keeps_it_from_then_on(tmp_path):
    path = tmp_path / "alerting.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE nflog (group_key TEXT, receiver TEXT, integration TEXT, firing TEXT, resolved TEXT, "
               "at REAL, PRIMARY KEY (group_key, receiver, integration))")
    db.execute("INSERT INTO nflog VALUES ('g', 'slack', 'slack[0]', '[\"f1\"]', '[]', 1.0)")
    db.commit()
    db.close()
    journal = AlertJournal(str(path))
    assert journal.load()["nflog"] == {("g", "slack", "slack[0]"): LogEntry(frozenset({"f1"}), frozenset(), 1.0)}
    journal.log_entry(("g", "slack", "slack[0]"), LogEntry(frozenset({"f1"}), frozenset(), 2.0,
                                                            {"threadTs": "1.2", "channelId": "C0OPS"}))
    journal.close()
    journal = AlertJournal(str(path))
    assert journal.load()["nflog"][("g", "slack", "slack[0]")].data == {"threadTs": "1.2", "channelId": "C0OPS"}
    journal.close()


# --- config errors ----------------------------------------------------------------------------------------

def slack_errors(entry: dict, glob: dict | None = None) -> list[str]:
    return config_errors({"global": glob or {}, "receivers": [{"name": "a", "slack_configs": [entry]}]})


HOOK = "https://hooks.slack.com/services/T0/B0/x"
TOKEN_FILE = "<a readable token file>"  # the test writes one: a file that cannot be read is an error of its own
POST = "https://slack.com/api/chat.postMessage"
ENTRY = "receivers[0].slack_configs[0]"
INVALID = [
    # (the entry, the global section, the one error it gets)
    ({"api_url": HOOK, "app_token": TOKEN}, {},
     f"{ENTRY}.app_token: set api_url(_file) or app_token(_file), not both"),
    ({"app_token": TOKEN, "app_token_file": TOKEN_FILE}, {},
     f"{ENTRY}.app_token_file: set app_token or app_token_file, not both"),
    ({"channel": "#ops"}, {"slack_app_token": TOKEN, "slack_app_token_file": TOKEN_FILE},
     "global.slack_app_token_file: set slack_app_token or slack_app_token_file, not both"),
    ({"channel": "#ops"}, {"slack_app_token": TOKEN, "slack_api_url": HOOK},
     "global.slack_app_token: set slack_app_token(_file) or slack_api_url(_file), not both (unless slack_api_url "
     "is slack_app_url)"),
    ({"app_token": TOKEN, "http_config": {"authorization": {"credentials": "x"}}}, {},
     f"{ENTRY}.http_config: its http_config sets an authorization, which the app token replaces: leave it out"),
    ({"channel": "#ops"}, {"slack_app_token": TOKEN, "http_config": {"basic_auth": {"username": "u"}}},
     f"{ENTRY}.http_config: the global http_config sets an authorization, which the app token replaces: give "
     "this entry an http_config of its own"),
    ({"api_url": HOOK, "update_message": True}, {},
     f"{ENTRY}.update_message: needs Slack's Web API: the URL it posts to (api_url, or app_url with an app token) "
     "must be a chat.postMessage URL such as https://slack.com/api/chat.postMessage; a webhook cannot edit its "
     "messages"),
    ({"app_token": TOKEN, "app_url": "https://slack.example/api/chat.update", "update_message": True}, {},
     f"{ENTRY}.update_message: needs Slack's Web API"),
    ({"app_token": TOKEN, "app_url": "ftp://slack.example/"}, {},
     f"{ENTRY}.app_url: must be an absolute http:// or https:// URL"),
    ({"channel": "#ops"}, {"slack_app_token": TOKEN, "slack_app_url": "slack.com/api"},
     "global.slack_app_url: must be an absolute http:// or https:// URL"),
    ({"channel": "#ops"}, {},
     f"{ENTRY}.api_url: api_url, api_url_file or the global slack_api_url is required (or a bot token: app_token, "
     "app_token_file or the global slack_app_token)"),
]


@pytest.mark.parametrize(("entry", "glob", "error"), INVALID, ids=[e.split(":")[0] for _, _, e in INVALID])
def test_each_combination_alertmanager_refuses_is_an_error_with_its_key_path(entry, glob, error, tmp_path):
    (tmp_path / "token").write_text(TOKEN)

    def real(section: dict) -> dict:
        return {key: str(tmp_path / "token") if value == TOKEN_FILE else value for key, value in section.items()}
    errors = slack_errors(real(entry), real(glob))
    assert len(errors) == 1 and errors[0].startswith(error), errors


VALID = [
    # (the entry, the global section, where it posts, its Authorization, update_message): what Alertmanager takes,
    # and the Web API edits fleetmon takes besides
    ({"api_url": POST, "update_message": True, "http_config": {"authorization": {"credentials": TOKEN}}}, {},
     POST, f"Bearer {TOKEN}", True),  # Alertmanager's documented way
    ({"app_token": TOKEN, "update_message": True}, {}, POST, f"Bearer {TOKEN}", True),  # alertmanager#5164
    ({"update_message": True}, {"slack_app_token": TOKEN, "slack_api_url": POST}, POST, f"Bearer {TOKEN}", True),
    ({"api_url": HOOK}, {"slack_app_token": TOKEN}, HOOK, "", False),
    ({"channel": "#ops"}, {"slack_api_url": HOOK}, HOOK, "", False),
]


@pytest.mark.parametrize(("entry", "glob", "url", "authorization", "update"), VALID)
def test_the_combinations_taken(entry, glob, url, authorization, update):
    slack = integration("slack", entry, glob=glob)
    assert (slack.api_url, slack.http.authorization, slack.update_message) == (url, authorization, update)
