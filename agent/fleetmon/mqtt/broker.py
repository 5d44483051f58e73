"""The broker connection settings the agent and the hub both read: one shape, one parser (docs/agent.md,
"broker"; the hub config's ``broker`` section is the same)."""

from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urlsplit

from fleetmon.config_reader import Node, readable_file
from fleetmon.protocol import DEFAULT_PREFIX

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


@dataclass
class TlsConfig:
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    insecure: bool = False  # skip hostname verification (lab use only)


@dataclass
class BrokerConfig:
    url: str = DEFAULT_BROKER
    protocol: str = "5"  # "5" or "3.1.1"
    username: Optional[str] = None
    password: Optional[str] = None
    tls: TlsConfig = field(default_factory=TlsConfig)
    keepalive: float = 30.0
    topic_prefix: str = DEFAULT_PREFIX
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = 60.0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"



def parse_broker(node: Node) -> BrokerConfig:
    """The broker section; the hub config reads the same shape."""
    node = node.mapping(("url", "protocol", "username", "password", "password_file", "tls", "keepalive",
                         "topic_prefix", "reconnect"))
    default = BrokerConfig()
    url_node = node.child("url")
    url = url_node.string(default.url)
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        url_node.fail(f"must look like mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (got {url!r})")
    else:
        try:
            parts.port  # noqa: B018 -- raises on a bad port
        except ValueError:
            url_node.fail(f"has a bad port: {url!r}")
    protocol_node = node.child("protocol")
    protocol = "5" if protocol_node.missing else str(protocol_node.value)
    if protocol not in ("5", "3.1.1", "5.0"):
        protocol_node.fail(f"must be 5 or 3.1.1 (got {protocol!r})")
    password = node.child("password").string(None)
    password_file_node = node.child("password_file")
    password_file = password_file_node.string(None)
    if password_file:
        try:
            with open(password_file, encoding="utf-8") as handle:
                password = handle.read().strip()
        except OSError as exc:
            password_file_node.fail(f"cannot read {password_file}: {exc.strerror}")
    tls_node = node.child("tls").mapping(("ca_file", "cert_file", "key_file", "insecure"))
    tls = TlsConfig(*(readable_file(tls_node.child(key)) for key in ("ca_file", "cert_file", "key_file")),
                    insecure=tls_node.child("insecure").boolean(False))
    if bool(tls.cert_file) != bool(tls.key_file):
        tls_node.fail("cert_file and key_file go together")
    reconnect = node.child("reconnect").mapping(("min_delay", "max_delay"))
    config = BrokerConfig(
        url=url, protocol="5" if protocol == "5.0" else protocol,
        username=node.child("username").string(None), password=password, tls=tls,
        keepalive=node.child("keepalive").duration(30.0, minimum=5),
        topic_prefix=node.child("topic_prefix").string(DEFAULT_PREFIX),
        reconnect_min_delay=reconnect.child("min_delay").duration(1.0, minimum=0.05),
        reconnect_max_delay=reconnect.child("max_delay").duration(60.0, minimum=0.05),
    )
    if any(c in config.topic_prefix for c in "+#") or config.topic_prefix.endswith("/"):
        node.child("topic_prefix").fail("must not contain + or # nor end in /")
    return config
