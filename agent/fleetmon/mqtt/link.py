"""The agent's MQTT connection: paho-mqtt with TLS, credentials, Last Will, and reconnects with backoff.

paho's own loop reconnects with a fixed doubling delay; a fleet of agents that lost the same broker would
then come back in lock-step. This module runs the network loop itself so every wait is jittered.
"""

import contextlib
import logging
import random
import ssl
import threading
from typing import Callable, Optional

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleetmon.mqtt.broker import BrokerConfig

log = logging.getLogger("fleetmon.mqtt.link")

#: A message that sits unacknowledged this long is treated as lost for the spool's drain.
PUBLISH_ACK_TIMEOUT = 10.0


class Backoff:
    """Exponential backoff with jitter: each wait is between half and all of the current delay."""

    def __init__(self, minimum: float, maximum: float, rand: Callable[[], float] = random.random) -> None:
        self.minimum, self.maximum, self._rand = minimum, max(minimum, maximum), rand
        self._delay = minimum

    def next(self) -> float:
        wait = self._delay * (0.5 + 0.5 * self._rand())
        self._delay = min(self.maximum, self._delay * 2)
        return wait

    def reset(self) -> None:
        self._delay = self.minimum


class MqttLink:
    def __init__(self, config: BrokerConfig, client_id: str, will_topic: Optional[str], will_payload: bytes,
                 on_connected: Callable[[], None], on_message: Optional[Callable[[str, bytes], None]] = None,
                 subscriptions: tuple = (), session_expiry: int = 0, max_queued: int = 1000,
                 on_disconnected: Optional[Callable[[], None]] = None) -> None:
        """``session_expiry`` > 0 asks the broker to keep the session (subscriptions and queued QoS 1
        messages) that many seconds across disconnects: the hub uses it to miss nothing while it restarts.
        ``on_disconnected`` runs in the network thread whenever an established connection ends."""
        self.config = config
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._on_connected = on_connected
        self._on_message = on_message
        self._on_disconnected = on_disconnected
        self._subscriptions = subscriptions
        self._backoff = Backoff(config.reconnect_min_delay, config.reconnect_max_delay)
        self._mqtt5 = config.protocol == "5"
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
            protocol=mqtt.MQTTv5 if self._mqtt5 else mqtt.MQTTv311,
            clean_session=None if self._mqtt5 else not session_expiry)
        self._connect_properties = None
        if self._mqtt5 and session_expiry:
            self._connect_properties = Properties(PacketTypes.CONNECT)
            self._connect_properties.SessionExpiryInterval = int(session_expiry)
        self._client.max_queued_messages_set(max_queued)
        if config.username:
            self._client.username_pw_set(config.username, config.password)
        if config.uses_tls:
            self._client.tls_set(ca_certs=config.tls.ca_file, certfile=config.tls.cert_file,
                                 keyfile=config.tls.key_file, cert_reqs=ssl.CERT_REQUIRED)
            self._client.tls_insecure_set(config.tls.insecure)
        if will_topic:
            self._client.will_set(will_topic, will_payload, qos=1, retain=True)
        # Without paho's own loop thread, publish() writes to the socket from the caller's thread, beside
        # this link's thread reading and writing it: over TLS two threads then interleave records on one SSL
        # object ("bad record mac") and the broker drops the client. With a write-registration callback
        # paho only queues and wakes the loop, so every socket write happens on the link's thread.
        self._client.on_socket_register_write = lambda client, userdata, sock: None
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self.last_error = ""

    def start(self) -> None:
        self._thread.start()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                expiry: Optional[int] = None) -> Optional[mqtt.MQTTMessageInfo]:
        """Publish if connected; None when not (the caller spools or drops)."""
        if not self.connected.is_set():
            return None
        properties = None
        if expiry and self._mqtt5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.MessageExpiryInterval = int(expiry)
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish to %s refused by the client: %s", topic, mqtt.error_string(info.rc))
            return None
        return info

    def stop(self, final_topic: Optional[str] = None, final_payload: Optional[bytes] = None) -> None:
        """Publish a last retained message (the clean 'offline'), then disconnect without the will."""
        if final_topic and self.connected.is_set():
            info = self.publish(final_topic, final_payload or b"", qos=1, retain=True)
            if info is not None:
                # Losing the connection meanwhile is fine: the broker then sends the will instead.
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(timeout=3.0)
        self._stop.set()
        self._client.disconnect()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                if first:
                    clean_start = self._connect_properties is None if self._mqtt5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY
                    self._client.connect(self.config.host, self.config.port, keepalive=int(self.config.keepalive),
                                         clean_start=clean_start, properties=self._connect_properties)
                    first = False
                else:
                    self._client.reconnect()
            except (OSError, ssl.SSLError, mqtt.WebsocketConnectionError) as exc:
                self._note_failure(f"cannot connect to {self.config.url}: {exc}")
                continue
            while not self._stop.is_set():
                rc = self._client.loop(timeout=1.0)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
            self._lost()
            if not self._stop.is_set():
                self._note_failure(f"connection to {self.config.url} lost")

    def _note_failure(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s; retrying with backoff", message)
            self.last_error = message
        self._stop.wait(self._backoff.next())

    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            log.error("%s", self.last_error)
            return
        self._backoff.reset()
        self.last_error = ""
        log.info("connected to %s", self.config.url)
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self.connected.set()
        self._on_connected()

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._lost()

    def _lost(self) -> None:
        """The connection ended (paho's callback, or its loop failing): tell the owner once per connection."""
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected and self._on_disconnected is not None:
            self._on_disconnected()

    def _handle_message(self, client, userdata, message) -> None:
        if self._on_message is not None:
            self._on_message(message.topic, message.payload)
