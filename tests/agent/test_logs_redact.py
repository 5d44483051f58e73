"""Redaction (fleetmon.agent.logs.redact): the built-in patterns against the secrets that show up in real
logs, configured patterns with and without groups, and lines that must stay as they are."""

from typing import NamedTuple

import pytest

from fleetmon.agent.logs.config import DEFAULT_REDACTIONS
from fleetmon.agent.logs.redact import Redactor

DEFAULTS = Redactor(DEFAULT_REDACTIONS)


class Case(NamedTuple):
    name: str
    message: str
    want: str


DEFAULT_CASES = [
    Case("password=", "login user=admin password=hunter2 from 10.0.0.5", "login user=admin password=*** from 10.0.0.5"),
    Case("password: in yaml style", "Password: s3cr3t!", "Password: ***"),
    Case("passwd in a query", "GET /login?user=bob&passwd=letmein&next=/", "GET /login?user=bob&passwd=***&next=/"),
    Case("JSON token", '{"user": "bob", "token": "eyJhbGciOi.x.y"}', '{"user": "bob", "token": "***"}'),
    Case("access_token", "refreshing access_token=ya29.a0AfH6 ok", "refreshing access_token=*** ok"),
    Case("client_secret", "oauth client_secret = abcDEF123", "oauth client_secret = ***"),
    Case("api_key", "calling with api_key=AIzaSyD-123", "calling with api_key=***"),
    Case("API-KEY header", "x-api-key: 0123456789abcdef", "x-api-key: ***"),
    Case("AWS secret", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "aws_secret_access_key=***"),
    Case("Authorization Bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
         "Authorization: Bearer ***"),
    Case("Authorization Basic", "authorization=Basic dXNlcjpwYXNz", "authorization=Basic ***"),
    Case("a bare bearer", "sent header bearer abc.def-ghi", "sent header bearer ***"),
    Case("AWS access key id", "using key AKIAIOSFODNN7EXAMPLE for s3", "using key *** for s3"),
    Case("credentials in a URL", "connecting to postgres://app:pa55w0rd@db:5432/app",
         "connecting to postgres://app:***@db:5432/app"),
    Case("two secrets in one line", "token=aaa then password=bbb", "token=*** then password=***"),
    # --- lines that stay as they are ---------------------------------------------------------------------
    Case("tokens counted", "generated 512 tokens in 1.3 s", "generated 512 tokens in 1.3 s"),
    Case("the word password", "password authentication failed for user bob",
         "password authentication failed for user bob"),
    Case("NVRM", "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.",
         "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."),
]


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda c: c.name)
def test_default_patterns(case):
    assert DEFAULTS.redact(case.message) == case.want


class Configured(NamedTuple):
    name: str
    why: str
    pattern: str
    message: str
    want: str


CONFIGURED = [
    Configured("no group", "the whole match goes", r"\b\d{4}-\d{4}-\d{4}-\d{4}\b", "card 1234-5678-9012-3456 ok",
               "card *** ok"),
    Configured("one group", "only the group goes: the reader still sees what was hidden", r"ssn=(\d+)",
               "ssn=123456789 found", "ssn=*** found"),
    Configured("two groups", "each group goes", r"user=(\w+) pin=(\d+)", "user=bob pin=1234", "user=*** pin=***"),
    Configured("nested groups", "a group inside a group is one span", r"key=((\w+)-(\w+))", "key=ab-cd",
               "key=***"),
    Configured("optional group absent", "a group that took no part replaces nothing", r"id=(\d+)(?:/(\w+))?",
               "id=7 x", "id=*** x"),
    Configured("every match", "all occurrences, not the first", r"secret-\w+", "secret-a and secret-b",
               "*** and ***"),
]


@pytest.mark.parametrize("case", CONFIGURED, ids=lambda c: c.name)
def test_configured_patterns(case):
    assert Redactor([case.pattern]).redact(case.message) == case.want, case.why
