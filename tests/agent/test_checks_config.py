"""The checks: section of the agent config: a good one reads into typed specs, each mistake names its key."""

import textwrap

import pytest
import yaml

from fleetmon.agent.checks.spec import (
    CommandSettings,
    DnsSettings,
    HttpSettings,
    PingSettings,
    ProcessSettings,
    SystemdSettings,
    TcpSettings,
    TlsSettings,
    parse_checks,
)
from fleetmon.agent.checks.status_codes import status_matches
from fleetmon.agent.config import parse_config
from fleetmon.config_reader import ConfigError, Errors, Node

GOOD = textwrap.dedent("""
    checks:
      nginx:
        type: systemd
        unit: nginx.service
        interval: 1m
        recovery:
          action: restart_unit
          after: 2
          max_actions: 1
          window: 30m
      inference:
        type: process
        pattern: 'python3 .*serve\\.py'
        min_count: 2
      mqtt:
        type: tcp
        port: 1883
      api:
        type: http
        url: https://127.0.0.1:8443/healthz
        method: HEAD
        expect_status: [200, 3xx]
        body_match: 'ok'
        verify_tls: false
        headers: {Authorization: Bearer x}
        max_latency: 500ms
        recovery:
          action: command
          command: [/usr/local/bin/restart-api, --soft]
      cert:
        type: tls
        host: example.org
        min_days: 14
      resolver:
        type: dns
        name: localhost
        record: AAAA
        expect: ['::1']
      gateway:
        type: ping
        host: 192.168.1.1
        count: 3
        timeout: 2s
      disk-ok:
        type: command
        command: test -w /var/lib/fleetmon-agent
        ok_exit_codes: [0, 1]
        recovery:
          action: restart_unit
          unit: fleetmon-agent.service
""")


def checks_by_name(text):
    config = parse_config(yaml.safe_load(text))
    return {check.name: check for check in config.checks}


def test_a_good_config_reads_every_type_with_its_defaults():
    checks = checks_by_name(GOOD)

    assert checks["nginx"].settings == SystemdSettings(unit="nginx.service")
    assert (checks["nginx"].interval, checks["nginx"].timeout) == (60.0, 5.0)
    nginx_recovery = checks["nginx"].recovery
    assert nginx_recovery.target == "nginx.service"  # taken from the check's unit
    assert nginx_recovery.argv == ("systemctl", "restart", "--", "nginx.service")
    assert (nginx_recovery.after, nginx_recovery.max_actions, nginx_recovery.window) == (2, 1, 1800.0)
    assert nginx_recovery.timeout == 60.0

    assert checks["inference"].settings == ProcessSettings(
        name=None, pattern=r"python3 .*serve\.py", min_count=2)
    assert checks["mqtt"].settings == TcpSettings(port=1883, host="127.0.0.1")
    assert checks["mqtt"].recovery is None
    assert checks["api"].settings == HttpSettings(
        url="https://127.0.0.1:8443/healthz", method="HEAD", expect_status=("200", "3xx"), body_match="ok",
        verify_tls=False, headers={"Authorization": "Bearer x"}, max_latency=0.5)
    assert checks["api"].recovery.argv == ("/usr/local/bin/restart-api", "--soft")
    assert checks["api"].recovery.target == "/usr/local/bin/restart-api --soft"
    assert checks["cert"].settings == TlsSettings(host="example.org", port=443, server_name="example.org",
                                                  min_days=14, verify=True, ca_file=None)
    assert checks["resolver"].settings == DnsSettings(name="localhost", record="AAAA", expect=("::1",))
    assert checks["gateway"].settings == PingSettings(host="192.168.1.1", count=3)
    assert checks["gateway"].timeout == 2.0
    assert checks["disk-ok"].settings == CommandSettings(
        argv=("/bin/sh", "-c", "test -w /var/lib/fleetmon-agent"), ok_exit_codes=(0, 1))
    assert checks["disk-ok"].settings.display == "test -w /var/lib/fleetmon-agent"
    assert checks["disk-ok"].recovery.target == "fleetmon-agent.service"


def test_no_checks_section_means_no_checks():
    assert parse_config({}).checks == []


def errors_for(checks):
    errors = Errors()
    specs = parse_checks(Node(checks, "checks", errors))
    return errors, specs


@pytest.mark.parametrize(("checks", "expected"), [
    ({"web": {"url": "http://x/"}}, "checks.web.type: is required"),
    ({"web": {"type": "smtp"}}, "checks.web.type: must be one of"),
    ({"bad name": {"type": "tcp", "port": 1}}, "checks.bad name: check names must match"),
    ({"web": "http://x/"}, "checks.web: must be a mapping"),
    ({"web": {"type": "tcp", "port": "eighty"}}, "checks.web.port: must be an integer"),
    ({"web": {"type": "tcp", "port": 70000}}, "checks.web.port: must be at most 65535"),
    ({"web": {"type": "tcp"}}, "checks.web.port: is required"),
    ({"web": {"type": "tcp", "port": 80, "url": "http://x/"}}, "checks.web.url: unknown key"),
    ({"web": {"type": "tcp", "port": 80, "interval": "often"}}, "checks.web.interval: must be a duration"),
    ({"web": {"type": "tcp", "port": 80, "timeout": 0}}, "checks.web.timeout: must be greater than 0"),
    ({"web": {"type": "tcp", "port": 80, "interval": "50ms"}}, "checks.web.interval: must be at least 0.1"),
    ({"web": {"type": "tcp", "port": 80, "host": "-f"}}, "checks.web.host: must be a host name"),
    ({"web": {"type": "http"}}, "checks.web.url: is required"),
    ({"web": {"type": "http", "url": "ftp://x/"}}, "checks.web.url: must be an http:// or https:// URL"),
    ({"web": {"type": "http", "url": "http://x/", "expect_status": ["2x"]}},
     "checks.web.expect_status[0]: must be an HTTP status code"),
    ({"web": {"type": "http", "url": "http://x/", "expect_status": 200}},
     "checks.web.expect_status: must be a list"),
    ({"web": {"type": "http", "url": "http://x/", "body_match": "("}},
     "checks.web.body_match: bad regular expression"),
    ({"web": {"type": "http", "url": "http://x/", "method": "BREW"}}, "checks.web.method: must be one of"),
    ({"web": {"type": "http", "url": "http://x/", "verify_tls": "no"}},
     "checks.web.verify_tls: must be true or false"),
    ({"web": {"type": "http", "url": "http://x/", "headers": ["a"]}},
     "checks.web.headers: must be a mapping"),
    ({"svc": {"type": "systemd"}}, "checks.svc.unit: is required"),
    ({"svc": {"type": "systemd", "unit": "--all"}}, "checks.svc.unit: must be a systemd unit name"),
    ({"p": {"type": "process"}}, "checks.p: needs exactly one of name or pattern"),
    ({"p": {"type": "process", "name": "a", "pattern": "b"}},
     "checks.p: needs exactly one of name or pattern"),
    ({"p": {"type": "process", "name": "a", "min_count": 0}}, "checks.p.min_count: must be at least 1"),
    ({"c": {"type": "tls"}}, "checks.c.host: is required"),
    ({"c": {"type": "tls", "host": "x", "ca_file": "/nonexistent/ca.pem"}},
     "checks.c.ca_file: cannot read /nonexistent/ca.pem"),
    ({"c": {"type": "tls", "host": "x", "min_days": "soon"}}, "checks.c.min_days: must be a number"),
    ({"d": {"type": "dns", "name": "x", "record": "MX"}}, "checks.d.record: must be one of: A, AAAA"),
    ({"d": {"type": "dns", "name": "x", "expect": ["not-an-ip"]}},
     "checks.d.expect[0]: must be an IP address"),
    ({"d": {"type": "dns", "name": "x", "expect": ["::1"]}}, "checks.d.expect[0]: must be an IPv4 address"),
    ({"g": {"type": "ping", "host": "x", "count": 0}}, "checks.g.count: must be at least 1"),
    ({"k": {"type": "command"}}, "checks.k.command: is required"),
    ({"k": {"type": "command", "command": 5}}, "checks.k.command: must be a string"),
    ({"k": {"type": "command", "command": []}}, "checks.k.command: must not be empty"),
    ({"k": {"type": "command", "command": "true", "ok_exit_codes": [256]}},
     "checks.k.ok_exit_codes[0]: must be at most 255"),
    ({"k": {"type": "command", "command": "true", "recovery": {"after": 2}}},
     "checks.k.recovery.action: is required"),
    ({"k": {"type": "command", "command": "true", "recovery": {"action": "reboot"}}},
     "checks.k.recovery.action: must be one of: restart_unit, command"),
    ({"k": {"type": "command", "command": "true", "recovery": {"action": "restart_unit"}}},
     "checks.k.recovery.unit: is required"),
    ({"k": {"type": "command", "command": "true", "recovery": {"action": "command"}}},
     "checks.k.recovery.command: is required"),
    ({"k": {"type": "command", "command": "true",
            "recovery": {"action": "command", "command": "x", "unit": "u"}}},
     "checks.k.recovery.unit: unknown key"),
    ({"k": {"type": "command", "command": "true",
            "recovery": {"action": "command", "command": "x", "max_actions": 0}}},
     "checks.k.recovery.max_actions: must be at least 1"),
    ({"k": {"type": "command", "command": "true",
            "recovery": {"action": "command", "command": "x", "window": "forever"}}},
     "checks.k.recovery.window: must be a duration"),
])
def test_each_mistake_is_reported_with_its_key_path(checks, expected):
    errors, specs = errors_for(checks)
    assert any(error.startswith(expected) for error in errors), errors
    assert specs == []  # a check with errors is never run half-configured


def test_one_bad_check_does_not_hide_the_errors_of_another():
    errors, specs = errors_for({
        "a": {"type": "tcp", "port": "x"},
        "b": {"type": "http", "url": "gopher://x/"},
        "c": {"type": "tcp", "port": 22},
    })
    assert [error.split(":")[0] for error in errors] == ["checks.a.port", "checks.b.url"]
    assert [spec.name for spec in specs] == ["c"]


def test_the_agent_config_refuses_bad_checks_with_every_error():
    with pytest.raises(ConfigError) as raised:
        parse_config({"checks": {"web": {"type": "http", "url": "http://x/", "port": 80, "timeout": "slow"}}})
    assert "checks.web.port: unknown key" in str(raised.value)
    assert "checks.web.timeout: must be a duration" in str(raised.value)


@pytest.mark.parametrize(("status", "expected", "matches"), [
    (200, ("2xx",), True),
    (204, ("2xx",), True),
    (301, ("2xx",), False),
    (503, ("200", "503"), True),
    (500, ("200", "3xx"), False),
])
def test_expected_status_matches_codes_and_classes(status, expected, matches):
    assert status_matches(status, expected) is matches
