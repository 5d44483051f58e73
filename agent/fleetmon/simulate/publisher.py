"""A small pool of MQTT connections that publishes on behalf of many simulated hosts.

A real agent has one connection with its own Last Will. Thousands of simulated hosts cannot each hold a
connection, so hosts share a few (250 per connection by default) and the simulator publishes a dead host's
will itself. Each connection remembers the latest retained status of its hosts and publishes them again
after a reconnect, as every agent republishes its birth when it reconnects.

The pool runs paho's network loop in the caller's thread (``service``), not in paho's own threads: with a
network thread per connection every publish wakes that thread and the two fight over the GIL, which cut
the publish rate several times over.
"""

import logging
import select
import ssl
import time
from typing import Dict, List, NamedTuple, Optional
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger("fleetmon.simulate")

KEEPALIVE_S = 30
MAX_INFLIGHT = 1000
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.5, 10.0


class BrokerAddress(NamedTuple):
    host: str
    port: int
    tls: bool
    username: Optional[str]
    password: Optional[str]


def parse_broker_url(url: str) -> BrokerAddress:
    """mqtt://[user:password@]host[:port] or mqtts://...; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"broker URL must look like mqtt://HOST[:PORT] or mqtts://HOST[:PORT], not {url!r}")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(parts.hostname, parts.port or (8883 if tls else 1883), tls,
                         unquote(parts.username) if parts.username else None,
                         unquote(parts.password) if parts.password else None)


class _Connection:
    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self.connected = False
        self.socket_open = False  # TCP up (CONNACK may still be pending)
        self.statuses: Dict[str, bytes] = {}  # topic -> latest retained status
        self.last: Optional[mqtt.MQTTMessageInfo] = None
        self.connects = 0
        self.retry_at = 0.0
        self.delay = RECONNECT_MIN_S


class ConnectionPool:
    """``size`` connections; the caller says which one each host uses and calls ``service`` often."""

    def __init__(self, address: BrokerAddress, size: int, client_id_prefix: str, qos: int = 1,
                 ca_file: Optional[str] = None) -> None:
        self.address, self.qos = address, qos
        self.sent = 0
        self.errors: Dict[str, int] = {}
        self._closing = False
        self._connections: List[_Connection] = []
        for index in range(size):
            client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                 client_id=f"{client_id_prefix}-{index}", protocol=mqtt.MQTTv5)
            client.max_inflight_messages_set(MAX_INFLIGHT)
            if address.username:
                client.username_pw_set(address.username, address.password)
            if address.tls:
                client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
            connection = _Connection(client)
            client.on_connect = self._on_connect(connection)
            client.on_disconnect = self._on_disconnect(connection)
            self._connections.append(connection)

    @property
    def size(self) -> int:
        return len(self._connections)

    @property
    def reconnects(self) -> int:
        return sum(max(0, c.connects - 1) for c in self._connections)

    def start(self, timeout: float = 10.0) -> None:
        """Connect every connection; ConnectionError if one is not up within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        try:
            for connection in self._connections:
                self._connect(connection, first=True)
        except ConnectionError:
            self.close(0.0)
            raise
        while not all(c.connected for c in self._connections):
            if time.monotonic() >= deadline:
                self.close(0.0)
                raise ConnectionError(f"cannot connect to {self.address.host}:{self.address.port}")
            self.service(0.05)

    def publish(self, connection: int, topic: str, payload: bytes) -> bool:
        return self._publish(self._connections[connection], topic, payload, False)

    def set_status(self, connection: int, topic: str, payload: bytes) -> bool:
        """Publish a host's retained status and remember it for republishing after a reconnect."""
        conn = self._connections[connection]
        conn.statuses[topic] = payload
        return self._publish(conn, topic, payload, True)

    def _publish(self, conn: _Connection, topic: str, payload: bytes, retain: bool) -> bool:
        if not conn.connected:
            # An agent would spool the sample for back-fill; the simulator drops it and counts it.
            self.errors["not_connected"] = self.errors.get("not_connected", 0) + 1
            return False
        info = conn.client.publish(topic, payload, qos=self.qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.sent += 1
            conn.last = info
            return True
        reason = mqtt.error_string(info.rc)
        self.errors[reason] = self.errors.get(reason, 0) + 1
        return False

    def service(self, timeout: float = 0.0) -> None:
        """Read acknowledgements, write what the socket could not take yet, keep connections alive and
        reconnect lost ones; waits up to ``timeout`` seconds for the network."""
        open_connections = [c for c in self._connections if c.socket_open]
        sockets = {c.client.socket(): c for c in open_connections}
        sockets.pop(None, None)
        if sockets:
            writers = [s for s, c in sockets.items() if c.client.want_write()]
            readable, writable, _ = select.select(list(sockets), writers, [], timeout)
            for sock in readable:
                self._check(sockets[sock], sockets[sock].client.loop_read())
            for sock in writable:
                self._check(sockets[sock], sockets[sock].client.loop_write())
        elif timeout > 0:
            time.sleep(timeout)
        now = time.monotonic()
        for connection in self._connections:
            if connection.socket_open:
                self._check(connection, connection.client.loop_misc())
            elif not self._closing and now >= connection.retry_at:
                self._connect(connection, first=False)

    def close(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout``) for what was published to reach the broker, then disconnect cleanly:
        the broker keeps the retained statuses and sends no will."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
                c.connected and c.last is not None and not c.last.is_published() for c in self._connections):
            self.service(0.05)
        self._closing = True
        for connection in self._connections:
            if connection.socket_open:
                connection.client.disconnect()
        deadline = time.monotonic() + min(timeout, 2.0)
        while time.monotonic() < deadline and any(c.socket_open for c in self._connections):
            self.service(0.05)

    def _connect(self, conn: _Connection, first: bool) -> None:
        try:
            if first:
                conn.client.connect(self.address.host, self.address.port, keepalive=KEEPALIVE_S)
            else:
                conn.client.reconnect()
        except (OSError, ssl.SSLError) as exc:
            if first:
                raise ConnectionError(f"cannot connect to {self.address.host}:{self.address.port}: {exc}") from exc
            conn.retry_at = time.monotonic() + conn.delay
            conn.delay = min(RECONNECT_MAX_S, conn.delay * 2)
            return
        conn.socket_open = True

    def _check(self, conn: _Connection, rc: int) -> None:
        if rc != mqtt.MQTT_ERR_SUCCESS and conn.socket_open:
            self._lost(conn)

    def _lost(self, conn: _Connection) -> None:
        if conn.connected and not self._closing:
            log.warning("lost the broker connection; reconnecting")
        conn.connected = conn.socket_open = False
        conn.retry_at = time.monotonic() + conn.delay

    def _on_connect(self, conn: _Connection):
        def handler(client, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                log.warning("broker refused the connection: %s", reason_code)
                return
            conn.connects += 1
            conn.connected = True
            conn.delay = RECONNECT_MIN_S
            if conn.connects > 1:
                for topic, payload in conn.statuses.items():
                    client.publish(topic, payload, qos=self.qos, retain=True)
        return handler

    def _on_disconnect(self, conn: _Connection):
        def handler(client, userdata, flags, reason_code, properties) -> None:
            self._lost(conn)
        return handler
