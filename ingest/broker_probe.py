"""A standing MQTT connection that only tells whether the broker answers (for ``/healthz``).

``serve`` never subscribes or publishes; it keeps one clean-session connection open (paho
reconnects with back-off) so a health request answers from memory instead of dialling the
broker. Give it a user with no topic rights (``wattleague-monitor`` in the generated ACL).
"""

from __future__ import annotations

import logging
import os
import socket
import threading

import paho.mqtt.client as mqtt

from ingest.mqtt_url import BrokerAddress

log = logging.getLogger(__name__)


class BrokerProbe:
    def __init__(self, broker: BrokerAddress, client_id: str | None = None) -> None:
        self.broker = broker
        self.connected = threading.Event()
        self.last_error: str | None = "not connected yet"
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"wattleague-health-{socket.gethostname()}-{os.getpid()}",
            protocol=mqtt.MQTTv5,
        )
        broker.configure(self.client)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail

    def start(self) -> None:
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def state(self) -> dict:
        """``{"address": host:port, "connected": bool, "error": str | None}``."""
        ok = self.connected.is_set()
        return {
            "address": f"{self.broker.host}:{self.broker.port}",
            "connected": ok,
            "error": None if ok else self.last_error,
        }

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            log.warning("health probe: %s", self.last_error)
            return
        self.last_error = None
        self.connected.set()

    def _on_connect_fail(self, client, userdata) -> None:
        self.last_error = "broker not reachable"

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("health probe: lost the broker (%s)", reason_code)
        self.connected.clear()
        if self.last_error is None:
            self.last_error = f"disconnected: {reason_code}"
