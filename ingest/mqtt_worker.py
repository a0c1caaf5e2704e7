"""The MQTT ingest worker: subscribe (QoS 1, persistent session), store, then acknowledge.

paho's network thread only queues received messages. One writer thread takes them in batches,
decodes and validates them, stores readings and quarantined messages in one transaction, and
only then sends the PUBACKs (paho manual ack), in the order the messages arrived. A crash
between receive and commit therefore loses nothing: the broker redelivers the unacknowledged
messages, and the store ignores the readings it already has.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.mqtt_url import BrokerAddress
from ingest.routing import Routing
from ingest.store.base import Message, Store
from ingest.validation import Limits, process_message

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 86400  # the broker keeps our queue through a week-long outage
RECEIVE_MAXIMUM = 2000  # MQTT 5: unacknowledged messages the broker may send us


class IngestWorker:
    """Subscribes to every meter topic and writes what arrives to ``store``."""

    def __init__(
        self,
        broker: BrokerAddress,
        store: Store,
        routing: Routing,
        client_id: str = "wattleague-ingest",
        protocol: int = 5,
        shared_group: str | None = None,
        clock: Callable[[], float] = time.time,
        limits: Limits = Limits(),
        batch_max: int = 2000,
        batch_wait_s: float = 0.02,
    ) -> None:
        self.broker, self.store, self.routing = broker, store, routing
        self.clock, self.limits = clock, limits
        self.shared_group = shared_group
        self.batch_max, self.batch_wait_s = batch_max, batch_wait_s
        self.stats: Counter[str] = Counter()
        self.connected = threading.Event()
        self._queue: queue.Queue[tuple[str, bytes, float, int, int]] = queue.Queue()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._v5 = protocol == 5
        if self._v5:
            self.client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        else:
            self.client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
                manual_ack=True,
            )
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (retrying in the background if the broker is down) and start writing."""
        self._writer.start()
        kwargs: dict = {}
        if self._v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            kwargs = {"clean_start": False, "properties": props}
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30, **kwargs)
        except OSError as exc:
            log.warning(
                "broker %s:%s not reachable (%s); retrying", self.broker.host, self.broker.port, exc
            )
            self.client.connect_async(self.broker.host, self.broker.port, keepalive=30, **kwargs)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect; messages not yet stored stay unacknowledged at the broker."""
        self._stop.set()
        self._writer.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def topic_filters(self) -> list[str]:
        topics = self.routing.subscriptions()
        if self.shared_group:
            return [f"$share/{self.shared_group}/{t}" for t in topics]
        return topics

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        client.subscribe([(t, 1) for t in self.topic_filters()])
        self.connected.set()
        log.info("connected to %s:%s", self.broker.host, self.broker.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self._queue.put((msg.topic, bytes(msg.payload), self.clock(), msg.mid, msg.qos))

    # -- writer thread ----------------------------------------------------------------------

    def _write_loop(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.batch_max:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._store_batch(batch)

    def _store_batch(self, batch: list[tuple[str, bytes, float, int, int]]) -> None:
        messages: list[Message] = []
        for topic, payload, received_s, _, _ in batch:
            received_utc = datetime.fromtimestamp(received_s, UTC)
            messages.append(
                process_message(topic, payload, received_utc, self.routing, self.limits)
            )
        while True:
            try:
                result = self.store.write(messages)
                break
            except Exception:
                # Not acknowledged: the broker keeps the messages; try again shortly.
                log.exception("store write failed; retrying in 1 s")
                if self._stop.wait(1.0):
                    return
        for _, _, _, mid, qos in batch:
            if qos > 0:
                self.client.ack(mid, qos)
        self.stats["messages"] += len(batch)
        self.stats["readings_stored"] += result.inserted
        self.stats["duplicates"] += result.duplicates
        self.stats["quarantined"] += result.quarantined
