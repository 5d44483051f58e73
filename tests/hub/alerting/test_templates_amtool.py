"""Go templates rendered by fleetmon and by the real amtool (Debian's Alertmanager 0.25) for the same data.

amtool loads Alertmanager's own default templates (Debian's copies, read in place) and ours loads
fleetmon's default.tmpl: every default name must render the same, as text and as HTML, over several
notifications. Custom templates (define/range/if/with, variables, every function and builtin amtool 0.25
knows, the KV methods, missing keys, time values) must render the same, or both fail. The one name that
differs by design, email.default.html, must show the same words and links in the same order.
"""

import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fleetmon.hub.alerting.templates import RenderError, TemplateSet, from_json

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
ALERTMANAGER_DEFAULTS = [Path("/usr/share/prometheus/alertmanager/default.tmpl"),
                         Path("/usr/share/prometheus/alertmanager/email.tmpl")]
# Names whose argument is a list of alerts rather than the whole data.
ALERT_LIST_NAMES = {"__text_alert_list", "__text_alert_list_markdown", "pagerduty.default.instances"}
SEPARATOR = "\n@@@ next @@@\n"


@pytest.fixture(scope="module", autouse=True)
def _amtool_is_there():
    if not Path(AMTOOL).exists() or not all(path.exists() for path in ALERTMANAGER_DEFAULTS):
        pytest.fail("amtool and Alertmanager's default templates are not installed: run `make deps`")


def alert(status, labels, annotations=None, starts="2024-01-02T03:04:05.123Z", ends=None, url="", fingerprint="f"):
    return {"status": status, "labels": labels, "annotations": annotations or {}, "startsAt": starts,
            "endsAt": ends or ("0001-01-01T00:00:00Z" if status == "firing" else "2024-01-02T04:05:06Z"),
            "generatorURL": url, "fingerprint": fingerprint}


DATA = {
    # firing and resolved mixed, HTML-special characters, a receiver name that regex-escaping changes
    "mixed": {"receiver": "team\\.ops", "status": "firing", "alerts": [
        alert("firing", {"alertname": "HighCPU", "env": "prod", "host": "a<b>", "a": "1"},
              {"summary": "CPU & load high", "description": "on \"a\""}, url="http://gen/1?a=1&b=2",
              fingerprint="0123456789abcdef"),
        alert("firing", {"alertname": "HighCPU", "env": "prod", "host": "c"}, {"summary": "CPU & load high"}),
        alert("resolved", {"alertname": "HighCPU", "env": "prod", "host": "b"})],
        "groupLabels": {"alertname": "HighCPU"}, "commonLabels": {"alertname": "HighCPU", "env": "prod"},
        "commonAnnotations": {}, "externalURL": "http://hub.example:9180"},
    # all resolved, no group labels, times with offsets, common annotations, severities
    "resolved": {"receiver": "r", "status": "resolved", "alerts": [
        alert("resolved", {"alertname": "DiskFull", "severity": "info", "zone": "b"}, {"runbook": "http://rb"},
              starts="2024-01-02T03:04:05.5+02:00", ends="2024-01-02T05:04:05+02:00"),
        alert("resolved", {"alertname": "DiskFull", "severity": "warning"}, {"runbook": "http://rb"})],
        "groupLabels": {}, "commonLabels": {"alertname": "DiskFull"}, "commonAnnotations": {"runbook": "http://rb"},
        "externalURL": "http://hub"},
    # common labels within the group labels; no external URL
    "grouped": {"receiver": "pager", "status": "firing", "alerts": [
        alert("firing", {"alertname": "Down", "severity": "critical", "job": "node"}),
        alert("firing", {"alertname": "Down", "severity": "warning", "job": "node", "x": "y"})],
        "groupLabels": {"alertname": "Down", "job": "node"}, "commonLabels": {"alertname": "Down", "job": "node"},
        "commonAnnotations": {}, "externalURL": ""},
    "empty": {},
}


def default_names() -> list[str]:
    names = []
    for path in ALERTMANAGER_DEFAULTS:
        names += re.findall(r'define "([^"]+)"', path.read_text())
    return names


def invoke(name: str) -> str:
    return f'{{{{ template "{name}" {".Alerts" if name in ALERT_LIST_NAMES else "."} }}}}'


def amtool(text: str, data: dict, tmp_path: Path, kind: str = "text", globs: tuple[str, ...] = ()) -> str | None:
    """What amtool prints, or None when it fails."""
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    args = [AMTOOL, "template", "render", f"--template.type={kind}", "--template.data", str(data_file),
            "--template.text", text]
    for glob in (*map(str, ALERTMANAGER_DEFAULTS), *globs):
        args += ["--template.glob", glob]
    run = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return run.stdout if run.returncode == 0 else None


def ours(text: str, data: dict, kind: str = "text", globs: tuple[str, ...] = ()) -> str | None:
    templates = TemplateSet.load(globs)
    try:
        field = templates.html(text) if kind == "html" else templates.text(text)
        return field.render(from_json(data))
    except RenderError:
        return None


@pytest.mark.parametrize("kind", ["text", "html"])
@pytest.mark.parametrize("data", DATA, ids=str)
def test_every_default_template_renders_as_alertmanagers(data, kind, tmp_path):
    names = [name for name in default_names() if name != "email.default.html"]
    assert len(names) > 30 and "slack.default.title" in names and "__subject" in names
    text = SEPARATOR.join(f"{name}={invoke(name)}" for name in names)
    expected = amtool(text, DATA[data], tmp_path, kind)
    assert expected is not None
    for want, got in zip(expected.split(SEPARATOR), ours(text, DATA[data], kind).split(SEPARATOR), strict=True):
        assert got == want


class _Visible(html.parser.HTMLParser):
    """The words a reader sees and the links they can follow, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag == "style"
        if tag == "a":
            self.links.append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        self._skip -= tag == "style"

    def handle_data(self, data):
        if not self._skip:
            self.words += data.split()


def visible(page: str) -> tuple[list[str], list[str]]:
    parser = _Visible()
    parser.feed(page)
    return parser.words, parser.links


@pytest.mark.parametrize("data", DATA, ids=str)
def test_email_html_shows_what_alertmanagers_mail_shows(data, tmp_path):
    """Our own markup, the same words and links in the same order (the words of <title> included)."""
    text = '{{ template "email.default.html" . }}'
    expected = amtool(text, DATA[data], tmp_path, "html")
    got = ours(text, DATA[data], "html")
    assert expected is not None and got is not None
    assert visible(got) == visible(expected)
    assert got.startswith("<!DOCTYPE html>") and "Mailgun" not in got


USER_TEMPLATES = r"""
{{ define "my.title" -}}
  [{{ .Status | toUpper }}{{ if .Alerts.Firing }}:{{ len .Alerts.Firing }}{{ end }}] {{ .CommonLabels.alertname }}
{{- end }}
{{ define "my.list" }}{{ range . }}* {{ .Labels.alertname }} on {{ .Labels.host }}: {{ .Annotations.summary }}
{{ end }}{{ end }}
{{ define "my.countdown" }}{{ if . }}{{ len . }} {{ template "my.countdown" (slice . 1) }}{{ end }}{{ end }}
"""

OVERRIDES = r"""
{{ define "__subject" }}{{ .Status }} for {{ .Receiver }}{{ end }}
{{ define "__text_alert_list" }}{{ range . }}- {{ .Labels.SortedPairs }}
{{ end }}{{ end }}
"""

CUSTOM = [
    '{{ template "my.title" . }}',
    '{{ template "my.list" .Alerts }}',
    '{{ template "my.list" .Alerts.Resolved }}',
    '{{ template "my.countdown" .Alerts }}',
    '{{ define "inline" }}<{{ .Status }}>{{ end }}{{ template "inline" . }}{{ template "inline" . }}',
    '{{ template "nosuch" . }}',
    # range, if, with, variables, whitespace control, comments
    '{{ range .Alerts }}{{ .Status }} {{ .Labels.alertname }} {{ .Fingerprint }};{{ end }}',
    '{{ range $i, $a := .Alerts.Firing }}{{ $i }}={{ $a.Labels.host }} {{ else }}none{{ end }}',
    '{{ range $k, $v := .CommonLabels }}{{ $k }}:{{ $v }},{{ end }}',
    '{{ if gt (len .Alerts.Firing) 1 }}many{{ else if .Alerts.Firing }}one{{ else }}none{{ end }}',
    '{{ with .CommonAnnotations.summary }}S={{ . }}{{ else }}no summary{{ end }}',
    '{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join "," }}{{ else }}-{{ end }}',
    '{{ $n := 0 }}{{ range .Alerts }}{{ $n = len .Labels }}{{ end }}{{ $n }} {{ $.Receiver }}',
    '{{- range .Alerts -}}\n  [{{ .Status -}}  ]\n{{- end -}}',
    '{{/* a comment */}}a{{- /* trimmed */ -}} b',
    '{{ range .Alerts }}{{ if eq .Status "resolved" }}{{ break }}{{ end }}{{ .Labels.host }}{{ end }}',
    '{{ range .Alerts }}{{ if not .Labels.host }}{{ continue }}{{ end }}{{ .Labels.host }}|{{ end }}',
    # KV and Pairs methods; alertname sorts first
    '{{ .CommonLabels.SortedPairs }} {{ .CommonLabels.Names }} {{ .CommonLabels.Values }}',
    '{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}|{{ end }}',
    '{{ range .Alerts }}{{ .Labels.SortedPairs.Names }}{{ .Labels.SortedPairs.Values }}{{ end }}',
    '{{ (.CommonLabels.Remove (stringSlice "env" "nosuch")).SortedPairs.Values }}',
    '{{ .GroupLabels.Names | join "+" }}',
    # missing keys are "", missing fields are errors
    '[{{ .CommonLabels.nosuch }}][{{ index .CommonLabels "nosuch" }}][{{ len .CommonAnnotations.nosuch }}]',
    '{{ .NoSuchField }}',
    '{{ range .Alerts }}{{ .NoSuchField }}{{ end }}',
    # values printed whole
    '{{ .CommonLabels }} {{ .GroupLabels }} {{ .Alerts.Firing | len }}',
    '{{ range .Alerts }}{{ . }}{{ end }}',
    '{{ .Alerts.Resolved }}',
    '{{ . }}',
    # time.Time
    '{{ range .Alerts }}{{ .StartsAt }}|{{ .EndsAt }}|{{ .EndsAt.IsZero }};{{ end }}',
    '{{ range .Alerts }}{{ .StartsAt.Format "2006-01-02T15:04:05.000Z07:00 Mon Jan _2 3PM MST" }};{{ end }}',
    '{{ range .Alerts }}{{ .StartsAt.Unix }} {{ .StartsAt.UnixNano }} {{ .StartsAt.UTC }}|{{ end }}',
    '{{ range .Alerts }}{{ .StartsAt.Year }} {{ .StartsAt.Month }} {{ .StartsAt.Weekday }}|{{ end }}',
    '{{ range .Alerts.Resolved }}{{ .EndsAt.Sub .StartsAt }} {{ .StartsAt.Before .EndsAt }};{{ end }}',
    # Alertmanager 0.25's functions
    '{{ toUpper "héllo ß" }} {{ toLower "HÉLLO" }} {{ .Status | toUpper }}',
    '{{ title "hELLO wORLD" }}|{{ title "foo\'s bar-baz x_y 1st" }}|{{ title "élan vital" }}',
    '{{ join ", " (stringSlice "a" "b" "c") }}|{{ join "" (stringSlice) }}',
    '{{ match "^High" .CommonLabels.alertname }} {{ match "cpu$" "HighCPU" }} {{ match "(?i)cpu$" "HighCPU" }}',
    '{{ match "[" "x" }}',
    '{{ reReplaceAll "(\\\\w+)-(\\\\d+)" "$2:$1" "host-12 db-3" }}|{{ reReplaceAll "a" "" "banana" }}',
    '{{ reReplaceAll "(?P<first>\\\\w+) (\\\\w+)" "${first}!" "hello world" }}',
    '{{ safeHtml "<b>bold</b>" }}',
    # text/template builtins
    '{{ printf "%s|%d|%q|%v|%5.1f|%x" "a" 42 "q\\"" .GroupLabels 3.14159 255 }}',
    '{{ print "a" 1 2 "b" }}|{{ println "x" 1 }}|{{ len "héllo" }}',
    '{{ index .Alerts 0 | printf "%v" }}',
    '{{ eq .Status "firing" "resolved" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }}',
    '{{ and 1 0 "x" }} {{ or 0 "" "y" }} {{ not .Alerts }} {{ and .Alerts .Receiver }}',
    '{{ html "<a href=\\"x\\">&</a>" }} {{ js "it\'s <b>" }} {{ urlquery "a b&c/d" }}',
    '{{ slice "abcdef" 1 3 }} {{ len (slice .Alerts 1) }}',
]

CUSTOM_HTML = [
    '<p title="{{ .CommonLabels.alertname }}">{{ range .Alerts }}{{ .Annotations.summary }} {{ end }}</p>',
    '<a href="{{ .ExternalURL }}/x?q={{ .Receiver }}&h={{ .CommonLabels.host }}">{{ .Receiver }}</a>',
    '{{ safeHtml "<b>bold</b>" }} {{ "<b>escaped</b>" }}',
    '<script>var r = {{ .Receiver }};</script>',
    '{{ template "my.list" .Alerts }}',
]


@pytest.fixture(scope="module")
def user_globs(tmp_path_factory) -> tuple[str, ...]:
    folder = tmp_path_factory.mktemp("templates")
    (folder / "custom.tmpl").write_text(USER_TEMPLATES)
    return (str(folder / "*.tmpl"),)


@pytest.mark.parametrize("text", CUSTOM)
@pytest.mark.parametrize("data", ["mixed", "resolved"])
def test_custom_templates_render_as_amtool_renders_them(text, data, user_globs, tmp_path):
    assert ours(text, DATA[data], globs=user_globs) == amtool(text, DATA[data], tmp_path, globs=user_globs)


@pytest.mark.parametrize("text", CUSTOM_HTML)
def test_custom_html_templates_escape_as_amtool_escapes(text, user_globs, tmp_path):
    expected = amtool(text, DATA["mixed"], tmp_path, "html", globs=user_globs)
    assert expected is not None
    assert ours(text, DATA["mixed"], "html", globs=user_globs) == expected


def test_overriding_a_shared_default_changes_every_name_that_uses_it(tmp_path):
    (tmp_path / "overrides.tmpl").write_text(OVERRIDES)
    globs = (str(tmp_path / "overrides.tmpl"),)
    names = ["slack.default.title", "slack.default.fallback", "email.default.subject", "pagerduty.default.instances",
             "opsgenie.default.description", "pushover.default.message"]
    text = SEPARATOR.join(invoke(name) for name in names)
    expected = amtool(text, DATA["mixed"], tmp_path, globs=globs)
    assert expected is not None and expected.startswith("firing for team\\.ops")
    assert ours(text, DATA["mixed"], globs=globs) == expected
