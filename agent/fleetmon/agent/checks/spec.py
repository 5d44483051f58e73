"""The ``checks:`` section of the agent config: one typed CheckSpec per named check.

Each check type has its own settings value (SystemdSettings, HttpSettings, ...) so a probe reads typed
fields instead of looking keys up in a dict; keys that belong to another type are config errors.
"""

import ipaddress
import os
import re
import shlex
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from fleetmon.agent.checks.journey_spec import JOURNEY_KEYS, JourneySettings, journey_settings
from fleetmon.agent.checks.status_codes import expect_status
from fleetmon.config_reader import Node, regex

CHECK_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 5.0


class SystemdSettings(NamedTuple):
    unit: str


class ProcessSettings(NamedTuple):
    name: Optional[str]  # exact process name
    pattern: Optional[str]  # regex searched in the full command line
    min_count: int = 1


class TcpSettings(NamedTuple):
    port: int
    host: str = "127.0.0.1"


class HttpSettings(NamedTuple):
    url: str
    method: str = "GET"
    expect_status: Tuple[str, ...] = ("2xx",)  # exact codes ("204") or classes ("2xx")
    body_match: Optional[str] = None
    verify_tls: bool = True
    headers: Dict[str, str] = {}
    max_latency: Optional[float] = None


class TlsSettings(NamedTuple):
    host: str
    port: int = 443
    server_name: str = ""  # SNI and the name verified; the config fills it with host when absent
    min_days: float = 7.0
    verify: bool = True
    ca_file: Optional[str] = None


class DnsSettings(NamedTuple):
    name: str
    record: str = "A"
    expect: Tuple[str, ...] = ()


class PingSettings(NamedTuple):
    host: str
    count: int = 1


class CommandSettings(NamedTuple):
    argv: Tuple[str, ...]
    ok_exit_codes: Tuple[int, ...] = (0,)

    @property
    def display(self) -> str:
        return command_display(self.argv)


Settings = Union[SystemdSettings, ProcessSettings, TcpSettings, HttpSettings, TlsSettings, DnsSettings,
                 PingSettings, CommandSettings, JourneySettings]


class RecoverySpec(NamedTuple):
    action: str  # "restart_unit" | "command"
    argv: Tuple[str, ...]  # what runs: systemctl restart -- UNIT, or the configured command
    target: str  # the unit, or the command as typed, for events
    after: int = 3
    max_actions: int = 2
    window: float = 3600.0
    timeout: float = 60.0


class CheckSpec(NamedTuple):
    name: str
    type: str
    settings: Settings
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    recovery: Optional[RecoverySpec] = None


COMMON_KEYS = ("type", "interval", "timeout", "recovery")
TYPE_KEYS: Dict[str, Tuple[str, ...]] = {
    "systemd": ("unit",),
    "process": ("name", "pattern", "min_count"),
    "tcp": ("host", "port"),
    "http": ("url", "method", "expect_status", "body_match", "verify_tls", "headers", "max_latency"),
    "tls": ("host", "port", "server_name", "min_days", "verify", "ca_file"),
    "dns": ("name", "record", "expect"),
    "ping": ("host", "count"),
    "command": ("command", "ok_exit_codes"),
    "journey": JOURNEY_KEYS,
}
CHECK_TYPES = tuple(TYPE_KEYS)
RECOVERY_ACTIONS = ("restart_unit", "command")
HTTP_METHODS = ("GET", "HEAD", "POST", "OPTIONS")


def command_display(argv: Sequence[str]) -> str:
    """The command as the user typed it: the script of ``sh -c``, else the quoted argv."""
    if len(argv) == 3 and tuple(argv[:2]) == ("/bin/sh", "-c"):
        return argv[2]
    return shlex.join(argv)


def parse_checks(node: Node) -> List[CheckSpec]:
    """Read the ``checks:`` mapping; a check with errors is reported and left out."""
    checks = []
    for name, item in node.items():
        if not CHECK_NAME_PATTERN.match(name):
            item.fail("check names must match [A-Za-z0-9_.-]+")
            continue
        spec = _check(name, item)
        if spec is not None:
            checks.append(spec)
    return checks


def _check(name: str, node: Node) -> Optional[CheckSpec]:
    errors_before = len(node.errors)
    node = node.mapping()
    type_node = node.child("type")
    if type_node.missing:
        type_node.fail("is required (one of: {})".format(", ".join(CHECK_TYPES)))
        return None
    check_type = type_node.string(None, choices=CHECK_TYPES)
    if check_type is None:
        return None
    node = node.mapping(COMMON_KEYS + TYPE_KEYS[check_type])
    interval = node.child("interval").duration(DEFAULT_INTERVAL, minimum=0.1)
    timeout = _positive(node.child("timeout"), DEFAULT_TIMEOUT)
    settings = _SETTINGS_READERS[check_type](node)
    recovery = _recovery(node.child("recovery"), settings)
    if len(node.errors) > errors_before:
        return None
    return CheckSpec(name=name, type=check_type, settings=settings, interval=interval, timeout=timeout,
                     recovery=recovery)


def _positive(node: Node, default: float) -> float:
    seconds = node.duration(default)
    if not node.missing and seconds <= 0:
        node.fail("must be greater than 0")
    return seconds


def _required_string(node: Node) -> str:
    if node.missing:
        node.fail("is required")
        return ""
    value = node.string("")
    if isinstance(node.value, str) and not value.strip():
        node.fail("must not be empty")
    return value


def _host(node: Node, default: Optional[str] = None) -> str:
    """A host name or address; a leading '-' would read as an option to ping or systemctl."""
    value = _required_string(node) if default is None else node.string(default)
    if value.startswith("-") or any(c.isspace() for c in value):
        node.fail(f"must be a host name or address (got {value!r})")
    return value


def _port(node: Node, default: Optional[int] = None) -> int:
    if default is None and node.missing:
        node.fail("is required")
        return 0
    return node.number(default, minimum=1, maximum=65535, integer=True)


def _unit(node: Node) -> str:
    unit = _required_string(node)
    if unit.startswith("-") or any(c.isspace() for c in unit):
        node.fail(f"must be a systemd unit name (got {unit!r})")
    return unit


def _command(node: Node) -> Tuple[str, ...]:
    """A string runs through ``/bin/sh -c``; a list is the argv itself."""
    if node.missing:
        node.fail("is required")
        return ()
    if isinstance(node.value, str):
        if not node.value.strip():
            node.fail("must not be empty")
        return ("/bin/sh", "-c", node.value)
    if isinstance(node.value, list):
        argv = tuple(node.string_list())
        if not argv:
            node.fail("must not be empty")
        return argv
    node.fail("must be a string (run with /bin/sh -c) or a list of arguments")
    return ()


def _systemd(node: Node) -> SystemdSettings:
    return SystemdSettings(unit=_unit(node.child("unit")))


def _process(node: Node) -> ProcessSettings:
    name = node.child("name").string(None)
    pattern = regex(node.child("pattern"))
    if (name is None) == (pattern is None):
        node.fail("needs exactly one of name or pattern")
    return ProcessSettings(name=name, pattern=pattern,
                           min_count=node.child("min_count").number(1, minimum=1, integer=True))


def _tcp(node: Node) -> TcpSettings:
    return TcpSettings(port=_port(node.child("port")), host=_host(node.child("host"), "127.0.0.1"))


def _http(node: Node) -> HttpSettings:
    url_node = node.child("url")
    url = _required_string(url_node)
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        url_node.fail(f"must be an http:// or https:// URL (got {url!r})")
    max_latency_node = node.child("max_latency")
    return HttpSettings(
        url=url,
        method=node.child("method").string("GET", choices=HTTP_METHODS),
        expect_status=expect_status(node.child("expect_status")),
        body_match=regex(node.child("body_match")),
        verify_tls=node.child("verify_tls").boolean(True),
        headers=node.child("headers").string_map(),
        max_latency=None if max_latency_node.missing else _positive(max_latency_node, 0.0),
    )


def _tls(node: Node) -> TlsSettings:
    host = _host(node.child("host"))
    ca_node = node.child("ca_file")
    ca_file = ca_node.string(None)
    if ca_file is not None and not os.access(ca_file, os.R_OK):
        ca_node.fail(f"cannot read {ca_file}")
    return TlsSettings(
        host=host,
        port=_port(node.child("port"), 443),
        server_name=node.child("server_name").string(host) or host,
        min_days=node.child("min_days").number(7.0, minimum=0),
        verify=node.child("verify").boolean(True),
        ca_file=ca_file,
    )


def _dns(node: Node) -> DnsSettings:
    record = node.child("record").string("A", choices=("A", "AAAA"))
    expect = []
    for item in node.child("expect").sequence():
        try:
            address = ipaddress.ip_address(item.value if isinstance(item.value, str) else "")
        except ValueError:
            item.fail("must be an IP address")
            continue
        if address.version != (4 if record == "A" else 6):
            item.fail("must be an IPv{} address for record {}".format(4 if record == "A" else 6, record))
            continue
        expect.append(str(address))
    return DnsSettings(name=_host(node.child("name")), record=record, expect=tuple(expect))


def _ping(node: Node) -> PingSettings:
    return PingSettings(host=_host(node.child("host")),
                        count=node.child("count").number(1, minimum=1, maximum=100, integer=True))


def _command_check(node: Node) -> CommandSettings:
    codes = []
    codes_node = node.child("ok_exit_codes")
    for item in codes_node.sequence():
        code = item.number(None, minimum=0, maximum=255, integer=True)
        if code is not None:
            codes.append(code)
    if isinstance(codes_node.value, list) and not codes_node.value:
        codes_node.fail("must not be empty")
    return CommandSettings(argv=_command(node.child("command")),
                           ok_exit_codes=tuple(codes) if not codes_node.missing else (0,))


_SETTINGS_READERS = {
    "systemd": _systemd,
    "process": _process,
    "tcp": _tcp,
    "http": _http,
    "tls": _tls,
    "dns": _dns,
    "ping": _ping,
    "command": _command_check,
    "journey": journey_settings,
}


def _recovery(node: Node, settings: Settings) -> Optional[RecoverySpec]:
    if node.missing:
        return None
    node = node.mapping()
    action = node.child("action")
    if action.missing:
        action.fail("is required (one of: {})".format(", ".join(RECOVERY_ACTIONS)))
        return None
    kind = action.string(None, choices=RECOVERY_ACTIONS)
    if kind is None:
        return None
    target_key = "unit" if kind == "restart_unit" else "command"
    node = node.mapping(("action", target_key, "after", "max_actions", "window", "timeout"))
    if kind == "restart_unit":
        unit_node = node.child("unit")
        unit = settings.unit if unit_node.missing and isinstance(settings, SystemdSettings) else _unit(unit_node)
        argv: Tuple[str, ...] = ("systemctl", "restart", "--", unit)
        target = unit
    else:
        argv = _command(node.child("command"))
        target = command_display(argv) if argv else ""
    return RecoverySpec(
        action=kind, argv=argv, target=target,
        after=node.child("after").number(3, minimum=1, integer=True),
        max_actions=node.child("max_actions").number(2, minimum=1, integer=True),
        window=node.child("window").duration(3600.0, minimum=1),
        timeout=_positive(node.child("timeout"), 60.0),
    )
