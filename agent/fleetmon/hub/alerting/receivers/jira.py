"""jira_configs: one Jira issue per alert group, found again by a label, as Alertmanager's notifier keeps it.

Each notification first searches the project for the group's issue: the label ``ALERT{<SHA-256 of the group
key>}``, not in a done status (or, with ``reopen_transition`` and ``reopen_duration``, resolved at most that
many minutes ago; with ``wont_fix_resolution``, not resolved so). None found: a firing group creates the issue
(``POST issue``), a resolved one sends nothing. Found: the issue's fields are updated (``PUT issue/<key>``;
``summary``/``description`` with ``enable_update: false`` are left as they are), then a firing group on a
done issue takes ``reopen_transition`` and a resolved group on an open one ``resolve_transition``, by name
(``GET`` then ``POST issue/<key>/transitions``).

The search goes to ``search/jql`` of API v3 on Jira Cloud (``api_type: cloud``, or ``auto`` and a host under
atlassian.net) and to ``search`` elsewhere. With an ``api_url`` ending in ``/3`` the description is
Atlassian Document Format: the rendered text must be JSON. Summary and description are cut to 255 and 32767
characters. ``fields`` values are templates at any depth; a rendered value that reads as YAML structure (a
number, a list, a mapping) is sent as that structure, as Alertmanager does. Credentials come from
``http_config`` (basic_auth with the account's e-mail and an API token on Jira Cloud, a bearer token on Data
Center).
"""

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import template
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.opsgenie import cut
from fleetmon.hub.alerting.receivers.pagerduty import dedup_key as group_key_hash
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.template_tree import parse_tree, render, render_tree
from fleetmon.hub.alerting.receivers.webhook import encode
from fleetmon.hub.alerting.templates import Data, Field, TemplateSet, from_notification

DEFAULTS = {"summary": '{{ template "jira.default.summary" . }}',
            "description": '{{ template "jira.default.description" . }}',
            "priority": '{{ template "jira.default.priority" . }}'}
KEYS = ("api_url", "api_type", "project", "issue_type", "summary", "description", "labels", "priority", "fields",
        "reopen_transition", "resolve_transition", "wont_fix_resolution", "reopen_duration", "send_resolved",
        "timeout", "http_config")
API_TYPES = ("auto", "cloud", "datacenter")
MAX_SUMMARY = 255  # characters (runes)
MAX_DESCRIPTION = 32767
HEADERS = {"Accept-Language": "en"}


def go_quote(text: str) -> str:
    """A JQL string literal, as Go's %q writes it for the text a label or a project key holds."""
    return json.dumps(text, ensure_ascii=False)


@dataclass(eq=False, kw_only=True)
class Jira(Integration):
    kind: ClassVar[str] = "jira"
    api_url: str
    api_type: str
    http: HttpConfig
    project: Field
    issue_type: Field
    summary: Field
    description: Field
    priority: Field
    labels: list[Field] = field(default_factory=list)
    fields: dict[Field, Any] = field(default_factory=dict)  # a tree of templates
    update_summary: bool = True
    update_description: bool = True
    reopen_transition: str = ""
    resolve_transition: str = ""
    wont_fix_resolution: str = ""
    reopen_minutes: int = 0

    def url(self, path: str) -> str:
        return self.api_url.rstrip("/") + "/" + path

    def search_url(self) -> str:
        host = urlsplit(self.api_url).hostname or ""
        if self.api_type == "cloud" or (self.api_type == "auto" and host.endswith("atlassian.net")):
            return self.url("search/jql").replace("/rest/api/2/", "/rest/api/3/", 1)
        return self.url("search")

    def jql(self, project: str, group_id: str, firing: bool) -> str:
        jql = ""
        if self.wont_fix_resolution:
            # `resolution != X` alone drops the unresolved issues (resolution EMPTY) too.
            jql += f"(resolution is EMPTY or resolution != {go_quote(self.wont_fix_resolution)}) and "
        if firing and self.reopen_transition and self.reopen_minutes > 0:
            jql += f"(resolutiondate is EMPTY OR resolutiondate >= -{self.reopen_minutes}m) and "
        else:
            jql += "statusCategory != Done and "
        label = f"ALERT{{{group_id}}}"
        return jql + f"project={go_quote(project)} and labels={go_quote(label)} order by status ASC,resolutiondate DESC"

    def issue_fields(self, data: Data, group_id: str, update: bool = False) -> dict[str, Any]:
        """The issue's fields (for an ``update``, without those that must not change); Go writes them as a
        map, so sorted by name, and the configured ``fields`` win over the ones of their own keys."""
        fields: dict[str, Any] = {"project": {"key": render(self.project, data)},
                                  "issuetype": {"name": render(self.issue_type, data)}}
        if not (update and not self.update_summary):
            fields["summary"] = cut(render(self.summary, data), MAX_SUMMARY)
        description = cut(render(self.description, data), MAX_DESCRIPTION)
        if self.api_url.rstrip("/").endswith("/3"):
            description = description.strip()
            if description:
                try:
                    fields["description"] = json.loads(description)
                except ValueError:
                    raise DeliveryError("description template: invalid JSON for API v3", retryable=False) from None
        elif description:
            fields["description"] = description
        if update and not self.update_description:
            fields.pop("description", None)
        fields["labels"] = sorted([*(render(label, data) for label in self.labels), f"ALERT{{{group_id}}}"])
        priority = render(self.priority, data)
        if priority:
            fields["priority"] = {"name": priority}
        fields.update({render(key, data): render_tree(value, data) for key, value in self.fields.items()})
        return dict(sorted(fields.items()))

    def request(self, method: str, url: str, body: dict | None = None) -> bytes:
        return post(url, None if body is None else encode(body), self.http, self.timeout, headers=HEADERS,
                    method=method)

    def send(self, notification: Notification) -> None:
        data = from_notification(notification)
        group_id = group_key_hash(notification.group_key)
        firing = bool(notification.firing)
        issue = self.find_issue(render(self.project, data), group_id, firing)
        if issue is None and not firing:
            return  # no issue is opened for a group that has already resolved
        if issue is None:
            self.request("POST", self.url("issue"), {"fields": self.issue_fields(data, group_id)})
            return
        self.request("PUT", self.url(f"issue/{quote(issue['key'])}"),
                     {"fields": self.issue_fields(data, group_id, update=True)})
        self.transition(issue, firing)

    def find_issue(self, project: str, group_id: str, firing: bool) -> dict | None:
        search = {"fields": ["status"], "jql": self.jql(project, group_id, firing), "maxResults": 2}
        issues = _json(self.request("POST", self.search_url(), search), "search").get("issues") or []
        issue = issues[0] if issues else None
        if issue is not None and not (isinstance(issue, dict) and isinstance(issue.get("key"), str)):
            raise DeliveryError("Jira's search answered an issue without a key", retryable=False)
        return issue

    def transition(self, issue: dict, firing: bool) -> None:
        status = (issue.get("fields") or {}).get("status")
        if not isinstance(status, dict):
            return
        done = (status.get("statusCategory") or {}).get("key") == "done"
        if firing and done:
            name = self.reopen_transition
        elif not firing and not done:
            name = self.resolve_transition
        else:
            return  # a firing group's issue is open, a resolved group's is done: as it should be
        if not name:
            return
        path = f"issue/{quote(issue['key'])}/transitions"
        transitions = _json(self.request("GET", self.url(path)), "transitions").get("transitions") or []
        found = next((t.get("id") for t in transitions if isinstance(t, dict) and t.get("name") == name), None)
        if found is None:
            raise DeliveryError(f"Jira has no transition {name!r} for issue {issue['key']}", retryable=False)
        self.request("POST", self.url(path), {"transition": {"id": found}})


def _json(answer: bytes, what: str) -> dict:
    try:
        value = json.loads(answer)
    except ValueError:
        raise DeliveryError(f"Jira's {what} answer is not JSON", retryable=False) from None
    if not isinstance(value, dict):
        raise DeliveryError(f"Jira's {what} answer is not a JSON object", retryable=False)
    return value


def _text_field(node: Node, templates: TemplateSet, default: str) -> tuple[Field, bool]:
    """``summary``/``description``: a template, or {template, enable_update}."""
    if isinstance(node.value, dict):
        node = node.mapping(("template", "enable_update"))
        return template(node.child("template"), templates, default), node.child("enable_update").boolean(True)
    return template(node, templates, default), True


def parse(node: Node, setup: IntegrationSetup) -> Jira:
    node = node.mapping(KEYS)
    api_url = node.child("api_url").string(setup.glob.jira_api_url)
    if not api_url:
        node.child("api_url").fail("api_url or the global jira_api_url is required")
    else:
        check_url(node.child("api_url"), api_url)
    for key in ("project", "issue_type"):
        if not node.child(key).string():
            node.child(key).fail("required")
    templates = setup.templates
    summary, update_summary = _text_field(node.child("summary"), templates, DEFAULTS["summary"])
    description, update_description = _text_field(node.child("description"), templates, DEFAULTS["description"])
    fields = node.child("fields")
    return Jira(**integration_fields(node, setup, send_resolved=True), api_url=api_url,
                api_type=node.child("api_type").string("auto", choices=API_TYPES),
                http=entry_http_config(node, setup.glob.http_config),
                project=template(node.child("project"), templates),
                issue_type=template(node.child("issue_type"), templates),
                summary=summary, description=description, update_summary=update_summary,
                update_description=update_description,
                priority=template(node.child("priority"), templates, DEFAULTS["priority"]),
                labels=[template(item, templates) for item in node.child("labels").sequence()],
                fields=parse_tree(fields.mapping(), templates) if not fields.missing else {},
                reopen_transition=node.child("reopen_transition").string(),
                resolve_transition=node.child("resolve_transition").string(),
                wont_fix_resolution=node.child("wont_fix_resolution").string(),
                reopen_minutes=int(node.child("reopen_duration").duration(0, minimum=0) // 60))
