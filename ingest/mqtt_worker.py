"""The MQTT ingest worker: subscribe (QoS 1, persistent session), store, then acknowledge.

paho's network thread only queues received messages. One writer thread takes them in batches,
decodes and validates them, stores readings and quarantined messages in one transaction, and
only then sends the PUBACKs (paho manual ack), in the order the messages arrived. A crash
between receive and commit therefore loses nothing: the broker redelivers the unacknowledged
messages, and the store ignores the readings it already has.

A transaction holds at most ``batch_max`` messages and ``BATCH_MAX_BYTES`` of payload, so a
backlog of large messages is stored in bounded steps. A payload that makes a decoder raise
something other than ``DecodeError`` (a decoder bug) is quarantined as ``undecodable`` with the
error in its detail instead of stopping the writer thread.

No message can block the others: a batch the store refuses is split until the refused
message is found and quarantined as ``store_rejected`` (``ingest.isolating_write``); the rest
is stored and everything is acknowledged. Only while the store is unavailable (locked, disk
full, unreachable) does the worker hold the batch unacknowledged and retry with backoff, up to
``RETRY_MAX_S`` apart; it logs what to do once a minute, and ``/healthz`` and ``/metrics`` of
the worker show the state until the store takes writes again.
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

from ingest.isolating_write import Item, StoreUnavailable, Written, write_isolating
from ingest.metrics import IngestMetrics, spool_depth_of, spool_state_of
from ingest.mqtt_url import BrokerAddress
from ingest.routing import Routing
from ingest.store.availability import HINTS, problem, what_to_do
from ingest.store.base import Message, ReadingStore, Rejected
from ingest.validation import Limits, process_message

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 86400  # the broker keeps our queue through a week-long outage
RECEIVE_MAXIMUM = 2000  # MQTT 5: unacknowledged messages the broker may send us
BATCH_MAX = 2000  # messages per store transaction
BATCH_MAX_BYTES = 4 << 20  # payload bytes per store transaction (~650 messages of 100 readings)
RETRY_FIRST_S, RETRY_MAX_S = 1.0, 30.0  # backoff while the store is unavailable
LOG_EVERY_S = 60.0  # while the store is unavailable, say so this often

_Received = tuple[str, bytes, float, int, int]  # topic, payload, receive time [s], mid, qos


class IngestWorker:
    """Subscribes to every meter topic and writes what arrives to ``store``."""

    def __init__(
        self,
        broker: BrokerAddress,
        store: ReadingStore,
        routing: Routing,
        client_id: str = "wattleague-ingest",
        protocol: int = 5,
        shared_group: str | None = None,
        clock: Callable[[], float] = time.time,
        limits: Limits = Limits(),
        batch_max: int = BATCH_MAX,
        batch_wait_s: float = 0.02,
        receive_maximum: int = RECEIVE_MAXIMUM,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self.broker, self.store, self.routing = broker, store, routing
        self.clock, self.limits = clock, limits
        self.client_id, self.shared_group = client_id, shared_group
        self.batch_max, self.batch_wait_s = batch_max, batch_wait_s
        self.receive_maximum = receive_maximum
        self.stats: Counter[str] = Counter()
        self.metrics = metrics
        self.store_error: str | None = None  # while the store is unavailable: its problem code
        self.store_unavailable_since_s: float | None = None  # monotonic time it became so
        self._store_logged_s = 0.0
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # every topic filter granted (SUBACK)
        self._connections = 0
        # SimpleQueue: a C queue, several times cheaper per message than queue.Queue
        self._queue: queue.SimpleQueue[_Received] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        if metrics is not None:
            metrics.watch(
                self.connected.is_set,
                self._queue.qsize,
                spool_depth_of(store),
                self.store_unavailable_s,
                self.writer_alive,
                self.health,
                spool_state_of(store),
            )
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
        broker.configure(self.client)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (retrying in the background if the broker is down) and start writing."""
        self._writer.start()
        kwargs: dict = {}
        if self._v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            props.ReceiveMaximum = self.receive_maximum
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
        """Store what has arrived, then disconnect; messages not stored stay unacknowledged at
        the broker, which sends them again on the next connection of this client id."""
        self._stop.set()
        self._writer.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def writer_alive(self) -> bool:
        return self._writer.is_alive()

    def store_unavailable_s(self) -> float:
        """How long the store has been refusing writes [s] (0 while it takes them)."""
        since = self.store_unavailable_since_s
        return 0.0 if since is None else time.monotonic() - since

    def health(self) -> dict:
        """The worker's state for ``/healthz``: ``ok`` only when the writer runs, the store
        takes writes, the broker is connected and (InfluxDB) the spool's replay runs."""
        problems = []
        if not self.writer_alive():
            problems.append("writer_stopped")
        if self.store_error is not None:
            problems.append("store_unavailable")
        if not self.connected.is_set():
            problems.append("broker_disconnected")
        spool_state = spool_state_of(self.store)
        spool = spool_state() if spool_state is not None else None
        if spool is not None and not spool["replay_alive"]:
            problems.append("spool_replay_stopped")
        state = {
            "status": "ok" if not problems else problems[0],
            "problems": problems,
            "writer_alive": self.writer_alive(),
            "store_available": self.store_error is None,
            "store_error": self.store_error,  # a code of HINTS, not the exception's text
            "store_hint": HINTS.get(self.store_error) if self.store_error else None,
            "store_unavailable_s": round(self.store_unavailable_s(), 3),
            "broker_connected": self.connected.is_set(),
            "backlog_messages": self._queue.qsize(),
        }
        if spool is not None:  # the InfluxDB store's spool: depth, age, the replay's state
            state["spool"] = spool
        return state

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
        if self._connections and not flags.session_present:
            # e.g. a broker restarted without persistence, or our session expired: whatever
            # was queued for us while we were away is gone.
            log.error(
                "the broker did not keep our session (client id %r): messages published "
                "while we were disconnected are lost",
                self.client_id,
            )
        self._connections += 1
        self.subscribed.clear()
        client.subscribe([(t, 1) for t in self.topic_filters()])
        self.connected.set()
        log.info("connected to %s:%s", self.broker.host, self.broker.port)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [
            (topic, str(rc))
            for topic, rc in zip(self.topic_filters(), reason_codes, strict=False)
            if rc.is_failure or rc.value < 1
        ]
        if refused:
            # e.g. an ACL, or $share/ on a broker without shared subscriptions: nothing arrives
            log.error("broker refused or downgraded subscriptions: %s", refused)
            return
        self.subscribed.set()
        log.info("subscribed to %s", ", ".join(self.topic_filters()))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self._stop.is_set():
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self._queue.put((msg.topic, bytes(msg.payload), self.clock(), msg.mid, msg.qos))

    # -- writer thread ----------------------------------------------------------------------

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self._store_batch(self._fill_batch(first))
        # Stopping: store what has already arrived (bounded: later arrivals wait for the next
        # connection), so that a clean stop leaves little for the broker to send again.
        pending = self._queue.qsize()
        while pending > 0:
            batch = [self._queue.get() for _ in range(min(pending, self.batch_max))]
            pending -= len(batch)
            self._store_batch(batch)

    def _fill_batch(self, first: _Received) -> list[_Received]:
        batch, size = [first], len(first[1])
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max and size < BATCH_MAX_BYTES:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    break
            batch.append(item)
            size += len(item[1])
        return batch

    def _store_batch(self, batch: list[_Received]) -> None:
        items: list[Item] = [
            (self._process(topic, payload, received_s), payload)
            for topic, payload, received_s, _, _ in batch
        ]
        started_s = time.perf_counter()
        written = Written()
        pending, delay_s = items, RETRY_FIRST_S
        while True:
            try:
                write_isolating(self.store, pending, written)
                break
            except StoreUnavailable as exc:
                # Not acknowledged: the broker keeps the messages not stored yet
                pending = exc.pending
                self._store_unavailable(exc.cause, len(pending))
                if self._stop.wait(delay_s):
                    return
                delay_s = min(delay_s * 2, RETRY_MAX_S)
        if self.store_error is not None:
            log.warning(
                "the store takes writes again after %.0f s; %d messages stored",
                self.store_unavailable_s(),
                len(batch),
            )
            self.store_error = self.store_unavailable_since_s = None
        if written.isolated:
            log.error(
                "the store refused %d of %d messages; quarantined as store_rejected",
                written.isolated,
                len(batch),
            )
        for _, _, _, mid, qos in batch:
            if qos > 0:
                self.client.ack(mid, qos)
        self.stats["messages"] += len(batch)
        self.stats["readings_stored"] += written.inserted
        self.stats["duplicates"] += written.duplicates
        self.stats["quarantined"] += written.quarantined
        self.stats["store_rejected"] += written.isolated
        if written.held:
            self.stats["held_items"] += written.held
            self.stats["readings_held"] += written.held_readings
            self.stats["temperatures_held"] += written.held_temperatures
        if self.metrics is not None:
            self.metrics.batch_stored(
                [msg for msg, _ in items], written, time.perf_counter() - started_s
            )

    def _store_unavailable(self, cause: BaseException, waiting: int) -> None:
        """Note that the store refuses writes; log it at once, then once a minute."""
        now = time.monotonic()
        first = self.store_error is None
        self.store_error = problem(cause)
        if first:
            self.store_unavailable_since_s = now
        if self.metrics is not None:
            self.metrics.write_failed()
        if first or now - self._store_logged_s >= LOG_EVERY_S:
            self._store_logged_s = now
            where = getattr(self.store, "path", None) or type(self.store).__name__
            log.error(
                "the store cannot take writes (%s: %s) for %.0f s; %d messages of this batch "
                "wait unacknowledged at the broker: %s",
                type(cause).__name__,
                cause,
                now - self.store_unavailable_since_s,
                waiting,
                what_to_do(cause, str(where)),
            )

    def _process(self, topic: str, payload: bytes, received_s: float) -> Message:
        received_utc = datetime.fromtimestamp(received_s, UTC)
        try:
            return process_message(topic, payload, received_utc, self.routing, self.limits)
        except Exception as exc:  # a decoder or validation bug: keep the message, keep going
            log.exception("processing a message on %r failed; quarantined", topic)
            self.stats["internal_errors"] += 1
            received_ms = int(received_s * 1000)
            detail = f"internal error while decoding: {type(exc).__name__}: {exc}"
            return Message(
                topic,
                received_ms,
                rejected=[Rejected("undecodable", detail, topic, payload, received_ms)],
                payload=payload,
            )
