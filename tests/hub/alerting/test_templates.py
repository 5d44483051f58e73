"""Go templates in the hub beyond what amtool 0.25 can check (test_templates_amtool.py does that): the
functions and names added after 0.25, the execution budget, ``templates:`` in the config, and receivers
that send what amtool renders for the same data."""

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fleetmon import cli
from fleetmon.config_reader import ConfigError
from fleetmon.hub.alerting.config import load_routing
from fleetmon.hub.alerting.delivery import Attempt, Deliverer
from fleetmon.hub.alerting.notification import AlertSnapshot, Notification
from fleetmon.hub.alerting.receivers import DeliveryError
from fleetmon.hub.alerting.templates import Budget, RenderError, TemplateSet, from_json, from_notification
from fleetmon.hub.config import load_config
from tests.polling import wait_until

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
ALERTMANAGER_DEFAULTS = ["/usr/share/prometheus/alertmanager/default.tmpl",
                         "/usr/share/prometheus/alertmanager/email.tmpl"]
START = 1704164645.0  # 2024-01-02T03:04:05Z

DATA = from_json({
    "receiver": "ops", "status": "firing", "notification_reason": "new alerts added",
    "alerts": [
        {"status": "firing", "labels": {"alertname": "Down", "severity": "warning", "job": "node"},
         "annotations": {"summary": "s1"}, "startsAt": "2024-01-02T03:04:05Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://g/1", "fingerprint": "f1"},
        {"status": "resolved", "labels": {"alertname": "Down", "severity": "critical", "job": "node"},
         "annotations": {}, "startsAt": "2024-01-02T03:04:05Z", "endsAt": "2024-01-02T04:04:05Z",
         "generatorURL": "", "fingerprint": "f2"}],
    "groupLabels": {"alertname": "Down"}, "commonLabels": {"alertname": "Down", "job": "node"},
    "commonAnnotations": {}, "routeLabels": {"team": "storage"}, "externalURL": "http://hub"})


def render(text: str, data=DATA, kind: str = "text", templates: TemplateSet | None = None) -> str:
    templates = templates or TemplateSet()
    return (templates.html(text) if kind == "html" else templates.text(text)).render(data)


# --- functions and names newer than amtool 0.25, as Alertmanager 0.34 renders them ------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ('{{ trimSpace "  a b \\n\\t" }}|', "a b|"),  # 0.26
    ('{{ urlUnescape "a%20b+c%2Fd" }}', "a b c/d"),  # 0.30
    ('{{ date "2006-01-02 15:04 MST" (index .Alerts 0).StartsAt }}', "2024-01-02 03:04 UTC"),  # 0.28
    ('{{ (index .Alerts 0).StartsAt | tz "Europe/Paris" }}', "2024-01-02 04:04:05 +0100 CET"),
    ('{{ date "15:04 MST" ((index .Alerts 0).StartsAt | tz "America/New_York") }}', "22:04 EST"),
    ('{{ humanizeDuration 0 }}|{{ humanizeDuration 1.5 }}|{{ humanizeDuration 90 }}|{{ humanizeDuration 3725 }}',
     "0s|1.5s|1m 30s|1h 2m 5s"),
    ('{{ humanizeDuration 90061 }}|{{ humanizeDuration 0.0015 }}|{{ humanizeDuration "60" }}|'
     '{{ humanizeDuration -90 }}', "1d 1h 1m 1s|1.5ms|1m 0s|-1m 30s"),
    ('{{ range .Alerts.Resolved }}{{ humanizeDuration (.EndsAt.Sub .StartsAt) }}{{ end }}', "1h 0m 0s"),
    ('{{ toJson .CommonLabels }}', '{"alertname":"Down","job":"node"}'),  # 0.30
    ('{{ toJson (stringSlice "<a>" "&") }}', '["\\u003ca\\u003e","\\u0026"]'),
    ('{{ toJson (index .Alerts 1) }}', '{"status":"resolved","labels":{"alertname":"Down","job":"node",'
     '"severity":"critical"},"annotations":{},"startsAt":"2024-01-02T03:04:05Z","endsAt":"2024-01-02T04:04:05Z",'
     '"generatorURL":"","fingerprint":"f2"}'),
    ('{{ $l := list 1 "a" }}{{ $l = append $l 2.5 }}{{ len $l }} {{ index $l 2 }} {{ $l }}', "3 2.5 [1 a 2.5]"),
    ('{{ $d := dict "k" "v" "n" 1 }}{{ $d.k }} {{ index $d "n" }}', "v 1"),  # 0.32
    ('{{ gt (now).Year 2023 }}', "true"),  # 0.33
    ('{{ toDate "2006-01-02" "2024-03-04" }}|{{ toDate "2006-01-02" "nope" }}',  # 0.34
     "2024-03-04 00:00:00 +0000 UTC|0001-01-01 00:00:00 +0000 UTC"),
    ('{{ mustToDate "2006-01-02T15:04:05Z07:00" "2024-03-04T05:06:07+02:00" }}',
     "2024-03-04 05:06:07 +0200 +0200"),
    ('{{ base64encode "??>" }}|{{ base64decode "Pz8-" }}', "Pz8-|??>"),
    ('{{ routeLabels "team" }}|{{ routeLabels "none" }}|{{ .RouteLabels.team }}', "storage||storage"),
    ('{{ .NotificationReason }}', "new alerts added"),
    # methods added after 0.25: KV.String and Pairs.String (0.26), Strings.Join
    ('{{ .CommonLabels.String }}|{{ .CommonLabels.SortedPairs.String }}|{{ .CommonLabels.Names.Join "," }}',
     "alertname=Down, job=node|alertname=Down, job=node|alertname,job"),
    # default names added after 0.25 (compared by hand with Alertmanager 0.34's default.tmpl under amtool)
    ('{{ template "slack.default.color" . }}', "danger"),
    ('{{ template "discord.default.content" . }}', ""),
    ('{{ template "jira.default.priority" . }}', "Medium"),
    ('{{ template "mattermost.default.fallback" . }}', "[FIRING:1] Down (node) | http://hub/#/alerts?receiver=ops"),
    ('{{ template "msteams.default.text" . }}',
     "\n\n# Alerts Firing:\n\nLabels:\n  - alertname = Down\n  - job = node\n  - severity = warning\n\nAnnotations:\n"
     "  - summary = s1\n\nSource: http://g/1\n\n\n\n\n# Alerts Resolved:\n\nLabels:\n  - alertname = Down\n"
     "  - job = node\n  - severity = critical\n\nAnnotations:\n\nSource: \n\n\n\n"),
])
def test_functions_and_names_newer_than_amtool_0_25(text, expected):
    assert render(text) == expected


def test_since_measures_from_now():
    started = from_notification(Notification("r", "{}:{}", {}, [AlertSnapshot({"a": "b"}, {}, time.time() - 7200,
                                                                                None)]))
    assert render('{{ range .Alerts }}{{ printf "%.0f" (since .StartsAt).Hours }}{{ end }}', started) == "2"


def test_safe_url_passes_html_escaping_only_when_asked():
    text = '<a href="{{ .CommonAnnotations.link }}">x</a><a href="{{ safeUrl .CommonAnnotations.link }}">y</a>'
    data = from_json({"commonAnnotations": {"link": "javascript:void"}})
    assert render(text, data, "html") == '<a href="#ZgotmplZ">x</a><a href="javascript:void">y</a>'


@pytest.mark.parametrize(("text", "message"), [
    ('{{ urlUnescape "%zz" }}', "invalid URL escape"),
    ('{{ mustToDate "2006-01-02" "nope" }}', "nope"),
    ('{{ dict "odd" }}', "even number of arguments"),
    ('{{ tz "No/Such_Zone" (index .Alerts 0).StartsAt }}', "unknown time zone"),
    ('{{ base64decode "***" }}', "illegal base64"),
    ('{{ template "nosuch" . }}', "nosuch"),
])
def test_function_errors_fail_the_render(text, message):
    with pytest.raises(RenderError, match=message):
        render(text)


# --- the budget --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "limit"), [
    ("{{ range $i := 1000000000 }}{{ end }}", "iteration budget exceeded"),
    ('{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" . }}', "template-depth budget exceeded"),
    ("{{ range $i := 1000000000 }}{{ len $.Alerts }}{{ end }}", "budget exceeded"),
])
def test_a_runaway_template_fails_fast_naming_the_limit(text, limit):
    began = time.monotonic()
    with pytest.raises(RenderError, match=limit):
        render(text)
    assert time.monotonic() - began < 10


def test_an_exponential_template_runs_out_of_time_or_output():
    doubling = "".join(f'{{{{ define "t{n}" }}}}{{{{ template "t{n + 1}" . }}}}{{{{ template "t{n + 1}" . }}}}'
                       "{{ end }}" for n in range(40)) + '{{ define "t40" }}x{{ end }}'
    templates = TemplateSet({"doubling.tmpl": doubling}, Budget(seconds=0.5))
    began = time.monotonic()
    with pytest.raises(RenderError, match=r"(time|output character) budget exceeded"):
        templates.text('{{ template "t0" . }}').render(DATA)
    assert time.monotonic() - began < 10


def test_the_time_budget_holds_when_the_other_limits_are_high():
    templates = TemplateSet(budget=Budget(seconds=0.3, iterations=10**12, function_calls=10**12,
                                          output_chars=10**12))
    began = time.monotonic()
    with pytest.raises(RenderError, match=r"time budget exceeded: the render ran longer than 0\.3s"):
        templates.text("{{ range $i := 1000000000000 }}x{{ end }}").render(DATA)
    assert time.monotonic() - began < 10


# --- templates: in the config ---------------------------------------------------------------------------------

SLACK_TEMPLATES = """\
{{ define "slack.myorg.title" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}
{{- " " }}for {{ .CommonLabels.job }}
{{- end }}
{{ define "slack.myorg.text" }}{{ range .Alerts -}}
*Alert:* {{ .Annotations.summary }}{{ if .Labels.severity }} - `{{ .Labels.severity }}`{{ end }}
*Details:*
{{ range .Labels.SortedPairs }} • *{{ .Name }}:* `{{ .Value }}`
{{ end }}{{ end }}{{ end }}
"""
EMAIL_TEMPLATES = """\
{{ define "email.myorg.subject" -}}
  [{{ .Status }}] {{ .GroupLabels.SortedPairs.Values | join " " }} ({{ len .Alerts }})
{{- end }}
{{ define "email.myorg.html" }}<h1>{{ template "email.myorg.subject" . }}</h1>
<ul>{{ range .Alerts }}
<li><b>{{ .Labels.instance }}</b>: {{ .Annotations.summary }} <a href="{{ .GeneratorURL }}">graph</a></li>
{{- end }}</ul>
{{ end }}
"""


def alertmanager_yml(folder: Path, slack_url: str, smtp_port: int) -> Path:
    """An alertmanager.yml as Alertmanager users write it: templates beside it, custom Slack and email."""
    (folder / "templates").mkdir()
    (folder / "templates" / "slack.tmpl").write_text(SLACK_TEMPLATES)
    (folder / "templates" / "email.tmpl").write_text(EMAIL_TEMPLATES)
    (folder / "alertmanager.yml").write_text(f"""\
global:
  resolve_timeout: 5m
  slack_api_url: {slack_url}
  smtp_smarthost: 127.0.0.1:{smtp_port}
  smtp_from: alertmanager@example.org
  smtp_require_tls: false
templates:
- 'templates/*.tmpl'
route:
  receiver: team
  group_by: [alertname, job]
receivers:
- name: team
  slack_configs:
  - channel: '#alerts'
    send_resolved: true
    title: '{{{{ template "slack.myorg.title" . }}}}'
    text: '{{{{ template "slack.myorg.text" . }}}}'
  email_configs:
  - to: 'oncall@example.org'
    headers:
      subject: '{{{{ template "email.myorg.subject" . }}}}'
    html: '{{{{ template "email.myorg.html" . }}}}'
""")
    return folder / "alertmanager.yml"


def notification() -> Notification:
    alerts = [AlertSnapshot({"alertname": "InstanceDown", "job": "node", "instance": f"host-{n}:9100",
                             "severity": "critical"}, {"summary": f"host-{n} <down> & out"}, START + n,
                            None if n < 2 else START + 600, f"http://prometheus/graph?g0.expr=up&n={n}")
              for n in range(3)]
    return Notification("team", '{}:{alertname="InstanceDown", job="node"}', {"alertname": "InstanceDown",
                        "job": "node"}, alerts, external_url="http://hub.example:9180")


def amtool(text: str, folder: Path, payload: dict, kind: str = "text") -> str:
    (folder / "data.json").write_text(json.dumps(payload))
    args = [AMTOOL, "template", "render", "--template.text", text, f"--template.type={kind}",
            "--template.data", str(folder / "data.json")]
    for glob in (*ALERTMANAGER_DEFAULTS, str(folder / "templates" / "*.tmpl")):
        args += ["--template.glob", glob]
    run = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return run.stdout


def test_an_alertmanager_yml_with_custom_templates_sends_what_amtool_renders(tmp_path, http_sink, make_smtp_sink,
                                                                             monkeypatch):
    sink = make_smtp_sink()
    path = alertmanager_yml(tmp_path, http_sink.url("/slack"), sink.port)
    monkeypatch.chdir(tmp_path / "templates")  # the glob is relative to the file, not to the working directory
    config = load_routing(str(path))
    slack, email = config.receivers["team"].integrations
    sent = notification()
    payload = sent.webhook_payload()
    slack.send(slack.prepare(sent))
    attachment = http_sink.wait()[0].json()["attachments"][0]
    assert attachment["title"] == amtool('{{ template "slack.myorg.title" . }}', tmp_path, payload)
    assert attachment["text"] == amtool('{{ template "slack.myorg.text" . }}', tmp_path, payload)
    assert attachment["text"].startswith("*Alert:* host-0 <down> & out - `critical`\n*Details:*\n")
    prepared = email.prepare(sent)  # send_resolved is false: the two firing alerts
    email.send(prepared)
    (mail,) = sink.wait()
    payload = prepared.webhook_payload()
    assert mail.message["Subject"] == amtool('{{ template "email.myorg.subject" . }}', tmp_path, payload)
    assert mail.message["Subject"] == "[firing] InstanceDown node (2)"
    html = mail.part("text/html").replace("\r\n", "\n")
    assert html == amtool('{{ template "email.myorg.html" . }}', tmp_path, payload, "html")
    assert "host-0 &lt;down&gt; &amp; out" in html


def test_template_files_that_do_not_parse_are_refused_with_file_and_key(tmp_path):
    (tmp_path / "good.tmpl").write_text('{{ define "ok" }}fine{{ end }}')
    (tmp_path / "bad.tmpl").write_text('{{ define "x" }}\n{{ range .Alerts }}{{ end }')
    (tmp_path / "am.yml").write_text(yaml.safe_dump({
        "templates": ["good.tmpl", "bad.tmpl", "nothing-matches-*.tmpl", 7],
        "route": {"receiver": "x"}, "receivers": [{"name": "x", "slack_configs": [
            {"api_url": "http://127.0.0.1:9/", "title": '{{ template "ok" . }}', "text": "{{ .Status | nosuch }}"}]}]}))
    with pytest.raises(ConfigError) as caught:
        load_routing(str(tmp_path / "am.yml"))
    errors = caught.value.errors
    assert any(e.startswith(f"templates[1]: {tmp_path / 'bad.tmpl'}: line 2") for e in errors), errors
    assert any(e.startswith("templates[3]: must be") for e in errors), errors
    assert any(e.startswith("receivers[0].slack_configs[0].text: template does not parse")
               and "nosuch" in e for e in errors), errors
    assert not any(e.startswith(("templates[0]", "templates[2]")) for e in errors)


def test_hub_check_config_refuses_a_bad_template_and_a_reload_would_keep_the_running_config(tmp_path, capsys):
    (tmp_path / "t.tmpl").write_text('{{ define "x" }}{{ .Status }}{{ end }}')
    hub = tmp_path / "hub.yml"
    hub.write_text(yaml.safe_dump({"alerting": {"templates": ["*.tmpl"], "route": {"receiver": "x"},
                                                "receivers": [{"name": "x"}]}}))
    assert cli.main(["hub", "check-config", str(hub)]) == 0
    assert load_config(str(hub)).alerting.templates.text('{{ template "x" . }}').render(DATA) == "firing"
    (tmp_path / "t.tmpl").write_text('{{ define "x" }}{{ .Status ')
    assert cli.main(["hub", "check-config", str(hub)]) == 1
    assert f"alerting.templates[0]: {tmp_path / 't.tmpl'}: line 1" in capsys.readouterr().err
    with pytest.raises(ConfigError):  # what Hub.reload() calls; on ConfigError it keeps the config it runs
        load_config(str(hub))


# --- a render error at send time ---------------------------------------------------------------------------

def test_a_render_error_fails_the_attempt_for_good_and_is_reported(tmp_path, http_sink):
    (tmp_path / "am.yml").write_text(yaml.safe_dump({"route": {"receiver": "x"}, "receivers": [{
        "name": "x", "slack_configs": [{"api_url": http_sink.url("/slack"), "text": '{{ template "missing" . }}'}]}]}))
    (slack,) = load_routing(str(tmp_path / "am.yml")).receivers["x"].integrations
    with pytest.raises(DeliveryError, match=r"template of text failed: .*missing.* not defined") as caught:
        slack.send(notification())
    assert not caught.value.retryable
    attempts: list[Attempt] = []
    outcome: list[bool] = []
    deliverer = Deliverer(attempts.append, initial_backoff=0.05, max_backoff=0.1)
    try:
        deliverer.deliver(slack, notification(), time.time() + 30, outcome.append)
        wait_until(lambda: outcome, 10, message="the delivery's outcome")
    finally:
        deliverer.stop(timeout=2)
    assert outcome == [False]  # not delivered: the dispatcher logs nothing, so the next tick tries again
    (attempt,) = attempts
    assert attempt.final and not attempt.ok and "missing" in attempt.error
    assert http_sink.requests == []


# --- fleetmon alerting template render ---------------------------------------------------------------------

def test_template_render_prints_what_amtool_template_render_prints(tmp_path, capfd):
    (tmp_path / "my.tmpl").write_text('{{ define "my" }}{{ .Receiver }}: {{ .CommonLabels.SortedPairs }}{{ end }}')
    text = ('{{ template "slack.default.title" . }} {{ template "my" . }} '
            '{{ range .Alerts }}{{ .Labels.instance }}{{ end }}')
    defaults = [argument for glob in ALERTMANAGER_DEFAULTS for argument in ("--template.glob", glob)]
    (tmp_path / "data.json").write_text(json.dumps(notification().webhook_payload()))
    for extra in ([], ["--template.data", str(tmp_path / "data.json")], ["--template.type", "html"]):
        args = ["--template.glob", str(tmp_path / "*.tmpl"), "--template.text", text, *extra]
        assert cli.main(["alerting", "template", "render", *args]) == 0
        ours = capfd.readouterr().out
        theirs = subprocess.run([AMTOOL, "template", "render", *args, *defaults], capture_output=True, text=True,
                                check=True).stdout
        assert ours == theirs and ours
    assert cli.main(["alerting", "template", "render", "--template.glob", "x", "--template.text", "{{ .Nope }}"]) == 1
    assert "can't evaluate field Nope" in capfd.readouterr().err
