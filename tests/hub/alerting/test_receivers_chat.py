"""The chat-style receivers (Discord, Teams, Telegram, Webex, Rocket.Chat, Mattermost, Pushover) against
local stand-ins of their services.

Each stand-in is a real HTTP server (HttpSink) that answers as the service documents it: it refuses a
request that breaks the service's rules (wrong path or token, a missing field, a text over the limit)
with the service's own kind of error, so a payload that the service would refuse fails the test twice:
at the delivery and at the assertions on the recorded request.
"""

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import DeliveryError
from tests.hub.alerting.conftest import Received
from tests.hub.alerting.test_receivers import GROUP_KEY, alert, batch, config_errors, integration, load, send

SUBJECT = "[FIRING:1] HighCPU (prod)"
ALERTS_URL = "http://hub.example:9180/#/alerts?receiver=team%5C.ops"


def _list(host: str, indent: str = " ", gap: str = "") -> str:
    """__text_alert_list (or, with gap "\\n" and indent "  ", its Markdown form) of one test alert."""
    return (f"{gap}Labels:\n{indent}- alertname = HighCPU\n{indent}- env = prod\n{indent}- host = {host}\n"
            f"{gap}Annotations:\n{indent}- summary = CPU above 90% on {host}\n"
            f"{gap}Source: http://hub.example/hosts/{host}\n")


#: telegram/discord.default.message for a firing "a" and a resolved "b" (Alertmanager's default.tmpl, by hand).
PLAIN_MESSAGE = f"\n\nAlerts Firing:\n{_list('a')}\n\n\nAlerts Resolved:\n{_list('b')}\n\n"
#: msteams/msteamsv2/mattermost.default.text for the same batch.
MARKDOWN_TEXT = (f"\n\n# Alerts Firing:\n{_list('a', '  ', chr(10))}\n\n\n\n# Alerts Resolved:\n"
                 f"{_list('b', '  ', chr(10))}\n\n\n")


def mixed() -> Notification:
    return batch(alert("a"), alert("b", resolved=True))


def resolved() -> Notification:
    return batch(alert("a", resolved=True))


def body_of(received: Received) -> dict:
    return json.loads(received.body)


def refuse(status: int, payload: dict) -> tuple[int, bytes]:
    return status, json.dumps(payload).encode()


def incident() -> Notification:
    return Notification("team.ops", GROUP_KEY, {"alertname": "HighCPU"}, [alert("a")],
                        external_url="http://hub.example:9180", incident_change="opened",
                        incident={"id": "INC-7", "title": "Disk <full>", "severity": "critical"})


# --- the stand-ins ----------------------------------------------------------------------------------------

def discord_service(request: Received) -> tuple[int, bytes]:
    """Discord's execute-webhook endpoint: embed and content limits, 204 without ?wait=true."""
    if request.method != "POST" or not request.path.startswith("/api/webhooks/123/"):
        return refuse(404, {"message": "Unknown Webhook", "code": 10015})
    if request.headers["Content-Type"] != "application/json":
        return refuse(400, {"message": "Cannot send an empty message", "code": 50006})
    body = body_of(request)
    embeds = body.get("embeds", [])
    if not body.get("content") and not embeds:
        return refuse(400, {"message": "Cannot send an empty message", "code": 50006})
    too_long = (len(body.get("content", "")) > 2000 or len(embeds) > 10
                or any(len(e.get("title", "")) > 256 or len(e.get("description", "")) > 4096 for e in embeds)
                or sum(len(e.get("title", "")) + len(e.get("description", "")) for e in embeds) > 6000)
    if too_long or "discord" in body.get("username", "").lower():
        return refuse(400, {"message": "Invalid Form Body", "code": 50035})
    return 204, b""


def teams_connector(request: Received) -> tuple[int, bytes]:
    """An Office 365 connector: a MessageCard needs a summary or a text; it answers 200 "1"."""
    body = body_of(request)
    if body.get("@type", body.get("type")) != "MessageCard":
        return 400, b"Bad payload received by generic incoming webhook."
    if not body.get("summary") and not body.get("text"):
        return 400, b"Summary or Text is required."
    return 200, b"1"


def teams_workflow(request: Received) -> tuple[int, bytes]:
    """A Workflows "post to a channel when a webhook request is received" flow: a message of Adaptive Cards."""
    body = body_of(request)
    cards = [a for a in body.get("attachments", [])
             if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]
    if body.get("type") != "message" or not cards or any(c["content"].get("type") != "AdaptiveCard" for c in cards):
        return refuse(400, {"error": {"code": "TriggerInputSchemaMismatch"}})
    return 202, b""


TELEGRAM_TOKEN = "123456:ABC-token"
TELEGRAM_CHAT = -1001234567890


def telegram_service(request: Received) -> tuple[int, bytes]:
    """The Bot API's sendMessage: token in the path, chat_id and text (1 to 4096 characters) required."""
    if request.path != f"/bot{TELEGRAM_TOKEN}/sendMessage":
        return refuse(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    body = body_of(request)
    if str(body.get("chat_id")) != str(TELEGRAM_CHAT):
        return refuse(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    if not 1 <= len(body.get("text", "")) <= 4096:
        return refuse(400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"})
    if body.get("parse_mode", "") not in ("", "HTML", "Markdown", "MarkdownV2"):
        return refuse(400, {"ok": False, "error_code": 400, "description": "Bad Request: unsupported parse_mode"})
    return 200, json.dumps({"ok": True, "result": {"message_id": 7, "chat": {"id": TELEGRAM_CHAT},
                                                   "date": 1700000000, "text": body["text"]}}).encode()


def webex_service(request: Received) -> tuple[int, bytes]:
    """Webex's POST /v1/messages: a bot token, a roomId, markdown up to 7439 bytes."""
    if request.headers["Authorization"] != "Bearer webex-bot-token":
        return refuse(401, {"message": "The request requires a valid access token set in the Authorization "
                                       "request header."})
    body = body_of(request)
    if not body.get("roomId") or len(body.get("markdown", "").encode()) > 7439:
        return refuse(400, {"message": "Unable to post message to room"})
    return 200, json.dumps({"id": "msg-1", "roomId": body["roomId"], "markdown": body["markdown"]}).encode()


def rocketchat_service(request: Received) -> tuple[int, bytes]:
    """Rocket.Chat's chat.postMessage: personal access token headers, a channel or roomId."""
    if not request.path.endswith("/api/v1/chat.postMessage"):
        return refuse(404, {"success": False, "error": "Not found"})
    if request.headers["X-Auth-Token"] != "rc-token" or request.headers["X-User-Id"] != "rc-user":
        return refuse(401, {"status": "error", "message": "You must be logged in to do this."})
    body = body_of(request)
    if not body.get("channel") and not body.get("roomId"):
        return refuse(400, {"success": False, "error": "[invalid-channel]", "errorType": "invalid-channel"})
    return 200, json.dumps({"success": True, "channel": body["channel"], "message": {"_id": "m1"}}).encode()


def mattermost_service(request: Received) -> tuple[int, bytes]:
    """A Mattermost incoming webhook: text or attachments, text up to 16383 characters; answers "ok"."""
    body = body_of(request)
    if not body.get("text") and not body.get("attachments"):
        return refuse(400, {"id": "web.incoming_webhook.text.app_error", "message": "No text specified"})
    if len(body.get("text", "")) > 16383:
        return refuse(400, {"id": "web.incoming_webhook.text.length.app_error", "message": "Text too long"})
    return 200, b"ok"


PUSHOVER_TOKEN, PUSHOVER_USER = "azGDORePK8gMaC0QOYAMyEEuzJnyUi", "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"


def pushover_service(request: Received) -> tuple[int, bytes]:
    """Pushover's POST /1/messages.json, as its API documents the parameters and their limits."""
    params = dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
    errors = []
    if urlsplit(request.path).path != "/1/messages.json" or request.method != "POST":
        return 404, b"not found"
    if params.get("token") != PUSHOVER_TOKEN:
        errors.append("application token is invalid")
    if params.get("user") != PUSHOVER_USER:
        errors.append("user identifier is not a valid user, group, or subscribed user key")
    if not params.get("message"):
        errors.append("message cannot be blank")
    limits = {"message": 1024, "title": 250, "url": 512, "url_title": 100}
    errors += [f"{key} is too long" for key, limit in limits.items() if len(params.get(key, "")) > limit]
    priority = int(params.get("priority") or 0)
    if priority == 2 and (int(params.get("retry", 0)) < 30 or not 0 < int(params.get("expire", 0)) <= 10800):
        errors.append("retry must be at least 30 and expire at most 10800 for emergency priority")
    if params.get("html") == "1" and params.get("monospace") == "1":
        errors.append("html and monospace are mutually exclusive")
    if errors:
        return refuse(400, {"status": 0, "errors": errors, "request": "r-1"})
    return 200, json.dumps({"status": 1, "request": "r-1"}).encode()


@pytest.fixture
def service(make_http_sink):
    """An HttpSink playing the given stand-in."""
    def make(answer):
        sink = make_http_sink()
        sink.answer = answer
        return sink
    return make


# --- registration and config errors -----------------------------------------------------------------------

def test_every_chat_kind_loads_with_alertmanagers_keys_and_defaults(tmp_path):
    (tmp_path / "token").write_text(f"{TELEGRAM_TOKEN}\n")
    (tmp_path / "chat").write_text(f"{TELEGRAM_CHAT}\n")
    receivers = load(f"""
global:
  telegram_api_url: http://127.0.0.1:9/tg
  telegram_bot_token_file: {tmp_path / "token"}
  webex_api_url: http://127.0.0.1:9/webex
  rocketchat_api_url: http://127.0.0.1:9/rc/
  rocketchat_token: rc-token
  rocketchat_token_id: rc-user
  mattermost_webhook_url: http://127.0.0.1:9/hooks/mm
receivers:
- name: chat
  discord_configs: [{{webhook_url: "http://127.0.0.1:9/api/webhooks/123/x"}}]
  msteams_configs: [{{webhook_url: "http://127.0.0.1:9/teams"}}]
  msteamsv2_configs: [{{webhook_url: "http://127.0.0.1:9/flow"}}]
  telegram_configs: [{{chat_id_file: "{tmp_path / "chat"}"}}]
  webex_configs: [{{room_id: room, http_config: {{authorization: {{credentials: x}}}}}}]
  rocketchat_configs: [{{channel: "#ops"}}]
  mattermost_configs: [{{}}]
  pushover_configs: [{{user_key: u, token: t}}]
""")
    chat = receivers["chat"].integrations
    assert [i.name for i in chat] == ["discord[0]", "msteams[0]", "msteamsv2[0]", "telegram[0]", "webex[0]",
                                      "rocketchat[0]", "mattermost[0]", "pushover[0]"]
    # Alertmanager's send_resolved defaults: only Rocket.Chat's is false (its code; its docs say true).
    assert [i.send_resolved for i in chat] == [True, True, True, True, True, False, True, True]
    telegram, webex, rocketchat, mattermost, pushover = chat[3:]
    assert (telegram.api_url, telegram.bot_token, telegram.chat_id) == ("http://127.0.0.1:9/tg", TELEGRAM_TOKEN,
                                                                        TELEGRAM_CHAT)
    assert telegram.parse_mode == "HTML" and not telegram.disable_notifications
    assert webex.api_url == "http://127.0.0.1:9/webex"
    assert (rocketchat.api_url, rocketchat.token, rocketchat.token_id) == ("http://127.0.0.1:9/rc/", "rc-token",
                                                                           "rc-user")
    assert mattermost.webhook_url == "http://127.0.0.1:9/hooks/mm"
    assert (pushover.retry, pushover.expire, pushover.ttl) == (60, 3600, 0)
    assert all(secret not in repr(chat) for secret in (TELEGRAM_TOKEN, "rc-token", "rc-user", "/hooks/mm", "/x"))


def test_alertmanagers_global_api_urls_are_the_defaults():
    telegram = integration("telegram", {"bot_token": "t", "chat_id": 1})
    webex = integration("webex", {"room_id": "r", "http_config": {"authorization": {"credentials": "c"}}})
    rocketchat = integration("rocketchat", {"token": "t", "token_id": "i"})
    assert telegram.api_url == "https://api.telegram.org"
    assert webex.api_url == "https://webexapis.com/v1/messages"
    assert rocketchat.api_url == "https://open.rocket.chat/"
    assert integration("pushover", {"user_key": "u", "token": "t"}).api_url == "https://api.pushover.net/1/messages.json"


def test_chat_config_errors_name_their_key_path(tmp_path):
    errors = config_errors({"global": {"telegram_api_url": "ftp://x", "rocketchat_token": "t"}, "receivers": [{
        "name": "a",
        "discord_configs": [{}, {"webhook_url": "http://x/", "webhook_url_file": "/f", "colour": 1}],
        "msteams_configs": [{"webhook_url": "not a url"}],
        "msteamsv2_configs": [{"text": "{{ .Status "}],
        "telegram_configs": [{"chat_id": 1}, {"bot_token": "t", "parse_mode": "html", "chat_id": "x"},
                             {"bot_token": "t", "chat_id_file": str(tmp_path / "nope")},
                             {"bot_token": "t", "chat_id": 0, "api_url": "api.telegram.org"}],
        "webex_configs": [{"message": "hi"}],
        "rocketchat_configs": [{"fields": [{"title": "t", "colour": "x"}], "actions": [{"label": "x"}]}],
        "mattermost_configs": [{"webhook_url": "http://x/", "fields": [{"title": "only"}],
                                "priority": {"level": "urgent"}}],
        "pushover_configs": [{"html": True, "monospace": True, "retry": "often"}],
    }]})
    at = "receivers[0]."
    expected = [
        "global.telegram_api_url: must be an absolute http:// or https:// URL",
        at + "discord_configs[0].webhook_url: webhook_url or webhook_url_file is required",
        at + "discord_configs[1].colour: unknown key",
        at + "discord_configs[1].webhook_url_file: set webhook_url or webhook_url_file, not both",
        at + "discord_configs[1].webhook_url_file: cannot read /f",
        at + "msteams_configs[0].webhook_url: must be an absolute http:// or https:// URL",
        at + "msteamsv2_configs[0].webhook_url: webhook_url or webhook_url_file is required",
        at + "msteamsv2_configs[0].text: template does not parse",
        at + "telegram_configs[0].bot_token: bot_token or bot_token_file or the global telegram_bot_token(_file) "
             "is required",
        at + "telegram_configs[1].parse_mode: must be one of: , Markdown, MarkdownV2, HTML (got 'html')",
        at + "telegram_configs[1].chat_id: must be an integer",
        at + "telegram_configs[3].chat_id: must not be 0",
        at + "telegram_configs[2].chat_id_file: cannot read",
        at + "telegram_configs[3].api_url: must be an absolute http:// or https:// URL",
        at + "webex_configs[0].room_id: required",
        at + "webex_configs[0].http_config.authorization: required: the bot's access token",
        at + "rocketchat_configs[0].fields[0].colour: unknown key",
        at + "rocketchat_configs[0].actions[0].label: unknown key",
        at + "rocketchat_configs[0].token_id: token_id or token_id_file or the global rocketchat_token_id(_file) "
             "is required",
        at + "mattermost_configs[0].fields[0].value: required",
        at + "mattermost_configs[0].priority.level: unknown key",
        at + "pushover_configs[0].monospace: set html or monospace, not both",
        at + "pushover_configs[0].retry: must be a duration",
        at + "pushover_configs[0].user_key: user_key or user_key_file is required",
        at + "pushover_configs[0].token: token or token_file is required",
    ]
    for prefix in expected:
        assert any(e.startswith(prefix) for e in errors), f"{prefix!r} not in {errors}"
    assert len(errors) == len(expected), errors


def test_the_chat_kinds_are_no_longer_pointed_to_apprise():
    errors = config_errors({"receivers": [{"name": "a", "telegram_configs": [{}], "pushover_configs": [{}]}]})
    assert errors and not any("apprise_configs" in e for e in errors), errors


# --- Discord ----------------------------------------------------------------------------------------------

def test_discord_posts_an_embed_with_alertmanagers_defaults(service):
    sink = service(discord_service)
    discord = integration("discord", {"webhook_url": sink.url("/api/webhooks/123/tok"), "username": "fleet",
                                      "avatar_url": "https://example.com/a.png"})
    send(discord, mixed())
    request = sink.wait()[0]
    assert (request.method, request.path) == ("POST", "/api/webhooks/123/tok")
    assert request.headers["Content-Type"] == "application/json"
    assert request.body.decode() == json.dumps({
        "content": "", "embeds": [{"title": SUBJECT, "description": PLAIN_MESSAGE, "color": 0x992D22}],
        "username": "fleet", "avatar_url": "https://example.com/a.png"}, ensure_ascii=False, separators=(",", ":"))
    send(discord, resolved())
    message = body_of(sink.wait(2)[1])
    assert message["embeds"][0]["color"] == 0x2ECC71 and message["embeds"][0]["title"] == "[RESOLVED] HighCPU (prod a)"
    assert "username" not in body_of(_sent(service, "discord", {"webhook_url": "/api/webhooks/123/t"}))


def test_discord_cuts_texts_to_its_embed_limits(service):
    sink = service(discord_service)
    long = {"webhook_url": sink.url("/api/webhooks/123/t"), "title": "é" * 300,
            "message": '{{ range (stringSlice "1" "2" "3" "4" "5") }}' + "m" * 1000 + "{{ end }}",
            "content": "c" * 2100}
    send(integration("discord", long), mixed())
    body = body_of(sink.wait()[0])
    assert body["embeds"][0]["title"] == "é" * 255 + "…"
    assert body["embeds"][0]["description"] == "m" * 4095 + "…"
    assert body["content"] == "c" * 1999 + "…"


# --- Microsoft Teams --------------------------------------------------------------------------------------

def test_msteams_posts_a_message_card(service):
    sink = service(teams_connector)
    send(integration("msteams", {"webhook_url": sink.url("/webhookb2/abc")}), mixed())
    assert body_of(sink.wait()[0]) == {"@context": "http://schema.org/extensions", "type": "MessageCard",
                                       "title": SUBJECT, "summary": SUBJECT, "text": MARKDOWN_TEXT,
                                       "themeColor": "8C1A1A"}
    send(integration("msteams", {"webhook_url": sink.url("/webhookb2/abc"), "summary": "{{ .Status }}"}), resolved())
    card = body_of(sink.wait(2)[1])
    assert (card["summary"], card["themeColor"]) == ("resolved", "2DC72D")


def test_msteamsv2_posts_an_adaptive_card(service):
    sink = service(teams_workflow)
    send(integration("msteamsv2", {"webhook_url": sink.url("/workflows/1/triggers/manual/paths/invoke?sig=s")}),
         mixed())
    request = sink.wait()[0]
    assert request.path == "/workflows/1/triggers/manual/paths/invoke?sig=s"
    assert body_of(request) == {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.2", "body": [
                {"type": "TextBlock", "text": SUBJECT, "weight": "Bolder", "size": "Medium", "wrap": True,
                 "style": "heading", "color": "Attention"},
                {"type": "TextBlock", "text": MARKDOWN_TEXT, "wrap": True}],
            "msteams": {"width": "full"}}}]}
    send(integration("msteamsv2", {"webhook_url": sink.url("/flow")}), resolved())
    assert body_of(sink.wait(2)[1])["attachments"][0]["content"]["body"][0]["color"] == "Good"


def test_teams_failures_are_retried_only_on_5xx(service):
    sink = service(teams_connector)
    teams = integration("msteams", {"webhook_url": sink.url("/hook"), "summary": "", "text": ""})
    with pytest.raises(DeliveryError) as refused:
        send(teams, mixed())
    assert refused.value.status == 400 and not refused.value.retryable
    assert "Summary or Text is required" in str(refused.value)
    for status, retryable in ((429, False), (502, True)):
        sink.respond(status)
        with pytest.raises(DeliveryError) as failed:
            send(integration("msteamsv2", {"webhook_url": sink.url("/flow")}), mixed())
        assert (failed.value.status, failed.value.retryable) == (status, retryable)


# --- Telegram ---------------------------------------------------------------------------------------------

def test_telegram_sends_html_escaped_text_as_the_bot_api_takes_it(service, tmp_path):
    sink = service(telegram_service)
    (tmp_path / "token").write_text(TELEGRAM_TOKEN + "\n")
    telegram = integration("telegram", {"api_url": sink.url(""), "bot_token_file": str(tmp_path / "token"),
                                        "chat_id": TELEGRAM_CHAT, "message_thread_id": 42,
                                        "disable_notifications": True})
    odd = alert("a", team="<ops & dev>")
    send(telegram, batch(odd))
    request = sink.wait()[0]
    assert request.path == f"/bot{TELEGRAM_TOKEN}/sendMessage"
    assert request.headers["Content-Type"] == "application/json"
    body = body_of(request)
    assert list(body) == sorted(body)  # a Go map of strings, as telebot sends it
    assert {k: v for k, v in body.items() if k != "text"} == {
        "chat_id": str(TELEGRAM_CHAT), "disable_notification": "true", "disable_web_page_preview": "true",
        "message_thread_id": "42", "parse_mode": "HTML"}
    assert " - team = &lt;ops &amp; dev&gt;\n" in body["text"]  # html/template escaped the label value
    assert body["text"].startswith("\n\nAlerts Firing:\nLabels:\n - alertname = HighCPU\n")


def test_telegram_plain_modes_render_text_and_cut_it(service):
    sink = service(telegram_service)
    config = {"api_url": sink.url(""), "bot_token": TELEGRAM_TOKEN, "chat_id": TELEGRAM_CHAT, "parse_mode": "",
              "message": "{{ .CommonLabels.host }} <b> " + "x" * 5000}
    send(integration("telegram", config), batch(alert("a")))
    body = body_of(sink.wait()[0])
    assert "parse_mode" not in body and "disable_notification" not in body and "message_thread_id" not in body
    assert body["text"] == ("a <b> " + "x" * 5000)[:4095] + "…"
    send(integration("telegram", {**config, "parse_mode": "MarkdownV2", "message": "*{{ .Status }}*"}), mixed())
    assert body_of(sink.wait(2)[1])["text"] == "*firing*" and body_of(sink.requests[1])["parse_mode"] == "MarkdownV2"


def test_telegram_html_too_long_becomes_alertmanagers_notice(service):
    sink = service(telegram_service)
    send(integration("telegram", {"api_url": sink.url(""), "bot_token": TELEGRAM_TOKEN, "chat_id": TELEGRAM_CHAT,
                                  "message": "<b>" + "y" * 4100 + "</b>"}), mixed())
    assert body_of(sink.wait()[0])["text"].startswith("Alertmanager notification could not be sent: message "
                                                       "length exceeds Telegram limits.")


def test_telegram_failures_are_all_retried_as_alertmanager_does(service):
    sink = service(telegram_service)
    wrong_chat = integration("telegram", {"api_url": sink.url(""), "bot_token": TELEGRAM_TOKEN, "chat_id": 5})
    with pytest.raises(DeliveryError) as caught:
        send(wrong_chat, mixed())
    assert caught.value.retryable and caught.value.status == 400 and "chat not found" in str(caught.value)
    assert TELEGRAM_TOKEN not in str(caught.value)
    wrong_token = integration("telegram", {"api_url": sink.url(""), "bot_token": "1:bad", "chat_id": TELEGRAM_CHAT})
    with pytest.raises(DeliveryError, match="Unauthorized") as caught:
        send(wrong_token, mixed())
    assert caught.value.retryable and "1:bad" not in str(caught.value)
    sink.answer = lambda request: (200, json.dumps({"ok": False, "error_code": 429,
                                                    "description": "Too Many Requests: retry after 5"}).encode())
    ok_config = {"api_url": sink.url(""), "bot_token": TELEGRAM_TOKEN, "chat_id": TELEGRAM_CHAT}
    with pytest.raises(DeliveryError, match="Too Many Requests") as caught:
        send(integration("telegram", ok_config), mixed())
    assert caught.value.retryable


# --- Webex ------------------------------------------------------------------------------------------------

def test_webex_posts_markdown_to_the_room_with_the_bot_token(service):
    sink = service(webex_service)
    webex = integration("webex", {"api_url": sink.url("/v1/messages"), "room_id": "room-{{ .CommonLabels.env }}",
                                  "http_config": {"authorization": {"credentials": "webex-bot-token"}}})
    send(webex, mixed())
    request = sink.wait()[0]
    assert (request.path, request.headers["Authorization"]) == ("/v1/messages", "Bearer webex-bot-token")
    assert body_of(request) == {"markdown": PLAIN_MESSAGE, "roomId": "room-prod"}


def test_webex_cuts_the_message_to_7439_bytes(service):
    sink = service(webex_service)
    send(integration("webex", {"api_url": sink.url("/v1/messages"), "room_id": "r", "message": "€" * 3000,
                               "http_config": {"authorization": {"credentials": "webex-bot-token"}}}), mixed())
    markdown = body_of(sink.wait()[0])["markdown"]
    assert markdown == "€" * 2478 + "…" and len(markdown.encode()) == 7437


def test_webex_wrong_token_fails_for_good(service):
    sink = service(webex_service)
    webex = integration("webex", {"api_url": sink.url("/v1/messages"), "room_id": "r",
                                  "http_config": {"authorization": {"credentials": "stale"}}})
    with pytest.raises(DeliveryError, match="valid access token") as caught:
        send(webex, mixed())
    assert caught.value.status == 401 and not caught.value.retryable


# --- Rocket.Chat ------------------------------------------------------------------------------------------

def test_rocketchat_posts_one_attachment_with_fields_and_buttons(service, tmp_path):
    sink = service(rocketchat_service)
    (tmp_path / "token").write_text("rc-token\n")
    rocketchat = integration("rocketchat", {
        "api_url": sink.url("/chat/"), "token_file": str(tmp_path / "token"), "token_id": "rc-user",
        "channel": "#{{ .CommonLabels.env }}", "emoji": ":fire:", "short_fields": True, "send_resolved": True,
        "fields": [{"title": "Host", "value": "{{ range .Alerts }}{{ .Labels.host }} {{ end }}"},
                   {"title": "Env", "value": "prod", "short": False}],
        "actions": [{"type": "link", "text": "Open", "url": "{{ .ExternalURL }}"}]})
    send(rocketchat, mixed())
    request = sink.wait()[0]
    assert request.path == "/chat/api/v1/chat.postMessage"
    assert (request.headers["X-Auth-Token"], request.headers["X-User-Id"]) == ("rc-token", "rc-user")
    assert body_of(request) == {"channel": "#prod", "emoji": ":fire:", "attachments": [{
        "title": SUBJECT, "title_link": ALERTS_URL, "color": "red",
        "fields": [{"short": True, "title": "Host", "value": "a b "},
                   {"short": False, "title": "Env", "value": "prod"}],
        "actions": [{"type": "button", "text": "Open", "url": "http://hub.example:9180", "is_webview": False,
                     "msg_in_chat_window": False}]}]}


def test_rocketchat_refusals_with_status_200_fail_for_good(service):
    sink = service(rocketchat_service)
    config = {"api_url": sink.url("/"), "token": "rc-token", "token_id": "rc-user"}
    with pytest.raises(DeliveryError) as caught:  # no channel: Rocket.Chat's 400
        send(integration("rocketchat", config), mixed())
    assert caught.value.status == 400 and not caught.value.retryable and "invalid-channel" in str(caught.value)
    sink.answer = lambda request: (200, b'{"success": false, "error": "error-not-allowed"}')
    with pytest.raises(DeliveryError, match=r"channel '#ops': Rocket\.Chat refused the message: error-not-allowed") \
            as caught:
        send(integration("rocketchat", {**config, "channel": "#ops"}), mixed())
    assert not caught.value.retryable
    sink.answer = lambda request: (200, b"<html>maintenance</html>")
    with pytest.raises(DeliveryError, match="not JSON") as caught:
        send(integration("rocketchat", {**config, "channel": "#ops"}), mixed())
    assert caught.value.retryable


# --- Mattermost -------------------------------------------------------------------------------------------

def test_mattermost_posts_alertmanagers_attachment(service):
    sink = service(mattermost_service)
    mattermost = integration("mattermost", {
        "webhook_url": sink.url("/hooks/xyz"), "channel": "town-square", "icon_emoji": ":bell:",
        "fields": [{"title": "Env", "value": "{{ .CommonLabels.env }}", "short": True}],
        "props": {"card": "**{{ .Status }}**"},
        "priority": {"priority": "Important", "requested_ack": True, "persistent_notifications": True}})
    send(mattermost, mixed())
    request = sink.wait()[0]
    assert request.path == "/hooks/xyz"
    assert request.body.decode() == json.dumps({
        "channel": "town-square", "username": "Alertmanager", "icon_emoji": ":bell:",
        "attachments": [{"fallback": f"{SUBJECT} | {ALERTS_URL}", "color": "danger", "text": MARKDOWN_TEXT,
                         "title": SUBJECT, "title_link": ALERTS_URL,
                         "fields": [{"title": "Env", "value": "prod", "short": True}]}],
        "props": {"card": "**firing**"},
        "priority": {"priority": "important", "requested_ack": True}}, separators=(",", ":"))


def test_mattermost_attachments_list_moves_text_up_and_cuts_it(service):
    sink = service(mattermost_service)
    send(integration("mattermost", {"webhook_url": sink.url("/hooks/x"), "text": "t" * 17000,
                                    "priority": {"priority": "loud", "requested_ack": True},
                                    "attachments": [{"title": "{{ .Status }}", "color": "#ff0000"}]}), resolved())
    body = body_of(sink.wait()[0])
    assert body["text"] == "t" * 16382 + "…"
    assert body["attachments"] == [{"color": "#ff0000", "title": "resolved"}]
    assert body["priority"] == {"priority": "standard"}  # an unknown priority is standard, which takes no ack


def test_mattermost_failure_names_the_channel(service):
    sink = service(mattermost_service)
    sink.respond(403)
    with pytest.raises(DeliveryError) as caught:
        send(integration("mattermost", {"webhook_url": sink.url("/hooks/x")}), mixed())
    assert caught.value.status == 403 and not caught.value.retryable


# --- Pushover ---------------------------------------------------------------------------------------------

def test_pushover_sends_every_parameter_in_the_query_string(service, tmp_path):
    sink = service(pushover_service)
    (tmp_path / "user").write_text(PUSHOVER_USER + "\n")
    pushover = integration("pushover", {"api_url": sink.url("/1/messages.json"), "token": PUSHOVER_TOKEN,
                                        "user_key_file": str(tmp_path / "user"), "sound": "siren", "ttl": "2h",
                                        "retry": "30s", "expire": "90m", "monospace": True})
    send(pushover, mixed())
    request = sink.wait()[0]
    query = urlsplit(request.path).query
    assert request.body == b"" and request.headers["Content-Type"] == "text/plain"
    pairs = parse_qsl(query, keep_blank_values=True)
    assert [key for key, _ in pairs] == sorted(key for key, _ in pairs)  # url.Values.Encode sorts
    assert dict(pairs) == {"device": "", "expire": "5400", "message": PLAIN_MESSAGE.strip(), "monospace": "1",
                           "priority": "2", "retry": "30", "sound": "siren", "title": SUBJECT,
                           "token": PUSHOVER_TOKEN, "ttl": "7200", "url": ALERTS_URL, "url_title": "",
                           "user": PUSHOVER_USER}
    send(integration("pushover", {"api_url": sink.url("/1/messages.json"), "token": PUSHOVER_TOKEN,
                                  "user_key": PUSHOVER_USER}), resolved())
    params = dict(parse_qsl(urlsplit(sink.wait(2)[1].path).query, keep_blank_values=True))
    assert (params["priority"], "ttl" in params, "monospace" in params) == ("0", False, False)


def test_pushover_cuts_to_its_limits_and_never_sends_an_empty_message(service):
    sink = service(pushover_service)
    config = {"api_url": sink.url("/1/messages.json"), "token": PUSHOVER_TOKEN, "user_key": PUSHOVER_USER,
              "title": "T" * 300, "url": "http://x/" + "u" * 600, "message": "  {{ .CommonLabels.nothing }} ",
              "html": True}
    send(integration("pushover", config), mixed())
    params = dict(parse_qsl(urlsplit(sink.wait()[0].path).query, keep_blank_values=True))
    assert params["title"] == "T" * 249 + "…" and len(params["url"]) == 512 and params["url"].endswith("…")
    assert params["message"] == "(no details)" and params["html"] == "1"
    send(integration("pushover", {**config, "title": "t", "url": "", "message": "m" * 2000}), mixed())
    assert dict(parse_qsl(urlsplit(sink.wait(2)[1].path).query))["message"] == "m" * 1023 + "…"


def test_pushover_refusal_fails_for_good_and_keeps_the_token_out_of_the_error(service):
    sink = service(pushover_service)
    pushover = integration("pushover", {"api_url": sink.url("/1/messages.json"), "token": "wrong-token",
                                        "user_key": PUSHOVER_USER})
    with pytest.raises(DeliveryError, match="application token is invalid") as caught:
        send(pushover, mixed())
    assert caught.value.status == 400 and not caught.value.retryable and "wrong-token" not in str(caught.value)
    sink.respond(503)
    with pytest.raises(DeliveryError) as caught:
        send(pushover, mixed())
    assert caught.value.retryable


# --- what they share --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "config", "field"), [
    ("discord", {}, lambda b: b["embeds"][0]["title"]),
    ("msteams", {}, lambda b: b["title"]),
    ("webex", {"room_id": "r", "http_config": {"authorization": {"credentials": "webex-bot-token"}}},
     lambda b: b["markdown"]),
    ("mattermost", {}, lambda b: b["attachments"][0]["title"]),
])
def test_an_incidents_change_carries_fleetmons_texts(make_http_sink, kind, config, field):
    sink = make_http_sink()
    url_key = {"webex": "api_url"}.get(kind, "webhook_url")
    send(integration(kind, {url_key: sink.url("/x"), **config}), incident())
    assert field(body_of(sink.wait()[0])).startswith("[INCIDENT INC-7 OPENED] Disk <full> (critical)")


def test_an_incidents_change_to_telegram_html_is_escaped(service):
    sink = service(telegram_service)
    send(integration("telegram", {"api_url": sink.url(""), "bot_token": TELEGRAM_TOKEN, "chat_id": TELEGRAM_CHAT}),
         incident())
    assert body_of(sink.wait()[0])["text"].startswith("[INCIDENT INC-7 OPENED] Disk &lt;full&gt; (critical)\n\n")


def test_global_http_config_applies_to_the_chat_kinds(make_http_sink):
    sink = make_http_sink()
    send(integration("discord", {"webhook_url": sink.url("/d")}, glob={"http_config": {"bearer_token": "g"}}),
         mixed())
    assert sink.wait()[0].headers["Authorization"] == "Bearer g"


def _sent(service, kind: str, config: dict) -> Received:
    """What ``kind`` posts for a firing batch to a fresh plain sink (``config``'s URL values are paths)."""
    sink = service(lambda request: (200, b"ok"))
    config = {key: sink.url(value) if key == "webhook_url" else value for key, value in config.items()}
    send(integration(kind, config), batch(alert("a")))
    return sink.wait()[0]
