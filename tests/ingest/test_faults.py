"""Fault tolerance of the ingest path with real processes: kill -9, broker restarts, shared
subscriptions.

Every test starts its own Mosquitto (persistence in its workdir) on a free port and runs
``wattleague ingest`` as subprocesses, so that a worker can be killed with SIGKILL and the broker
restarted. One meter publishes a cumulative register, one reading a minute; every published
reading must end up stored exactly once, with exactly the published values, and the store's
hourly energy must add up to the register's total advance.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable

import orjson
import pytest

from ingest.mqtt_worker import RECEIVE_MAXIMUM
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import one_site_toml
from tests.services import IngestProcess, PersistentMosquitto, ReliablePublisher, wait_until

pytestmark = pytest.mark.timeout(150)

COMPETITION = one_site_toml("faults", "Fault tolerance", ["m1"])
METER = "m1"
TOPIC = "wattleague/faults/alfa/m1"

Reading = tuple[int, float]  # (ts [Unix s], register [kWh])


def _register(n: int) -> list[Reading]:
    """``n`` register readings a minute apart, ending a day ago (inside the worker's limits).

    Steps of 1/8 kWh are exact in binary floating point, so sums compare exactly.
    """
    first = int(time.time()) - 86400 - 60 * n
    return [(first + 60 * i, 1000.0 + 0.125 * i) for i in range(n)]


def _messages(
    readings: list[Reading], batch_every: int = 0, batch_size: int = 100
) -> list[tuple[str, bytes]]:
    """One reading per message; with ``batch_every``, a message of ``batch_size`` readings
    after every ``batch_every`` single ones."""
    out, i, singles = [], 0, 0
    while i < len(readings):
        if batch_every and singles == batch_every:
            chunk, singles = readings[i : i + batch_size], 0
            payload = orjson.dumps([{"ts": ts, "energy_kwh": e} for ts, e in chunk])
        else:
            chunk, singles = readings[i : i + 1], singles + 1
            payload = orjson.dumps({"ts": chunk[0][0], "energy_kwh": chunk[0][1]})
        out.append((TOPIC, payload))
        i += len(chunk)
    return out


class _Background(threading.Thread):
    """Runs ``fn`` in a thread; ``result()`` re-raises what it raised."""

    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.fn, self.error = fn, None

    def run(self) -> None:
        try:
            self.fn()
        except BaseException as exc:
            self.error = exc

    def result(self, timeout_s: float) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), f"still running after {timeout_s} s"
        if self.error is not None:
            raise self.error


@pytest.fixture
def lab(tmp_path):
    """A private broker, the competition file, and cleanup of every process started."""

    class Lab:
        def __init__(self) -> None:
            self.broker = PersistentMosquitto(tmp_path / "broker")
            self.config = tmp_path / "faults.toml"
            self.config.write_text(COMPETITION)
            self.workers: list[IngestProcess] = []
            self.stores: list[SQLiteStore] = []

        def store(self, name: str) -> tuple[SQLiteStore, str]:
            path = tmp_path / f"{name}.db"
            store = SQLiteStore(path)  # creates the schema before any worker runs
            self.stores.append(store)
            return store, f"sqlite:///{path}"

        def worker(self, store_url: str, client_id: str, group: str | None = None):
            """Start ``wattleague ingest`` and wait until it has subscribed."""
            log = tmp_path / f"{client_id}-{len(self.workers)}.log"
            w = IngestProcess(self.config, store_url, self.broker.url, client_id, log, group)
            self.workers.append(w)
            w.start().wait_subscribed()
            return w

    lab = Lab()
    lab.broker.start()
    yield lab
    for w in lab.workers:
        w.kill()
    for s in lab.stores:
        s.close()
    lab.broker.stop()


def _assert_stored_exactly(store: SQLiteStore, readings: list[Reading]) -> None:
    """The store holds exactly ``readings``, and its hourly energy adds up to their total."""
    first_ts, last_ts = readings[0][0], readings[-1][0]
    assert store.count_readings() == len(readings)
    series = store.read_series([METER], first_ts, last_ts + 1)[METER]
    assert series.ts_s.tolist() == [float(ts) for ts, _ in readings]
    assert series.energy_kwh.tolist() == [e for _, e in readings]
    hours = store.read_hourly([METER], first_ts - 3600, last_ts + 3600)[METER]
    total_kwh = readings[-1][1] - readings[0][1]
    assert hours.reg_kwh.sum() == pytest.approx(total_kwh, rel=1e-9, abs=1e-9)
    assert hours.reg_s.sum() == pytest.approx(last_ts - first_ts)


def _query(store: SQLiteStore, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        return conn.execute(sql).fetchall()


def _messages_rows(store: SQLiteStore) -> int:
    """Rows of the store's ``messages`` table: one per stored message with readings."""
    return _query(store, "SELECT count(*) FROM messages")[0][0]


def test_kill_9_mid_stream_loses_and_doubles_nothing(lab):
    """SIGKILL the worker while readings are in flight; the same client id resumes the session.

    Proves: the broker keeps the dead worker's unacknowledged and queued messages, the worker
    acknowledges only committed messages, and redelivered readings are not stored (or counted
    in the hourly energy) twice.
    """
    readings = _register(20_000)
    messages = _messages(readings, batch_every=200, batch_size=100)  # 13,400 x 1 + 66 x 100
    store, url = lab.store("kill")
    lab.worker(url, "faults-kill")
    publisher = ReliablePublisher(lab.broker.port, "faults-kill-publisher")
    stream = _Background(lambda: publisher.publish_all(messages, timeout_s=120))
    stream.start()
    wait_until(lambda: store.count_readings() >= 0.3 * len(readings), 60, interval_s=0.002)
    lab.workers[0].kill()
    at_kill = store.count_readings()
    assert at_kill < len(readings), "the worker was killed after everything was stored"

    restarted = lab.worker(url, "faults-kill")
    stream.result(timeout_s=120)
    wait_until(lambda: store.count_readings() >= len(readings), timeout_s=60)
    stats = restarted.stop()

    _assert_stored_exactly(store, readings)
    assert store.quarantine_counts() == {}  # a redelivery is a duplicate, not a conflict
    # Messages committed but not acknowledged before the kill come back: each is stored as a
    # `messages` row again, its readings counted as duplicates, none inserted twice.
    redelivered_rows = _messages_rows(store) - len(messages)
    assert redelivered_rows >= 0
    assert stats["duplicates"] >= redelivered_rows
    assert stats["readings_stored"] == len(readings) - at_kill


def test_broker_restart_mid_stream_loses_nothing(lab):
    """SIGTERM Mosquitto mid-stream and start it again (same port, same persistence).

    Proves: the broker's persistence keeps the worker's session and queue; the worker
    reconnects by itself and resumes its session; a publisher that re-sends what was not
    acknowledged (ReliablePublisher) loses nothing; re-sent readings are stored once.
    """
    readings = _register(20_000)
    messages = _messages(readings)
    store, url = lab.store("restart")
    worker = lab.worker(url, "faults-restart")
    publisher = ReliablePublisher(lab.broker.port, "faults-restart-publisher", window=500)
    stream = _Background(lambda: publisher.publish_all(messages, timeout_s=120))
    stream.start()
    # Mid-stream for the publisher too: 70 % of its messages are still to go.
    wait_until(lambda: publisher.acked >= 0.3 * len(messages), 60, interval_s=0.002)
    lab.broker.stop()  # SIGTERM: Mosquitto writes its persistence file and exits
    down_at = store.count_readings()
    assert lab.broker.persistence_file.exists()
    lab.broker.start()

    stream.result(timeout_s=120)
    wait_until(lambda: store.count_readings() >= len(readings), timeout_s=60)
    assert worker.alive(), worker.log()
    stats = worker.stop()

    assert down_at < len(readings), "the broker stopped after everything was stored"
    assert publisher.connections >= 2, "the publisher never saw the outage"
    assert "disconnected from broker" in worker.log()
    assert "did not keep our session" not in worker.log()  # resumed from the persistence file
    _assert_stored_exactly(store, readings)
    assert store.quarantine_counts() == {}
    assert stats["readings_stored"] == len(readings)


def test_shared_subscription_worker_killed_resumed_loses_and_doubles_nothing(lab):
    """Two workers share ``$share/g/...`` (MQTT 5); one is killed with SIGKILL half way.

    The real guarantee on Mosquitto 2.0: it hands shared-subscription messages round-robin to
    every *session* in the group, connected or not. A killed worker's persistent session
    keeps its unacknowledged messages and goes on receiving its share of new ones (every
    other message with two workers) until it is resumed or expires (SESSION_EXPIRY_S, a
    week); the surviving worker does not take them over. So readings are delayed, not lost:
    nothing is missing once the dead worker's client id connects again, and no message goes
    to two workers. A dead worker must therefore be restarted with its client id: if its
    session expires instead, Mosquitto drops what it held and the group never gets it
    (checked by hand on 2.0.11; cf. eclipse-mosquitto/mosquitto#2662).

    Each worker writes its own SQLite file here, so that a message delivered to both workers
    would show up in both files instead of being absorbed by the primary key.
    """
    readings = _register(12_000)
    messages = _messages(readings)
    store_a, url_a = lab.store("share-a")
    store_b, url_b = lab.store("share-b")
    worker_a = lab.worker(url_a, "faults-share-a", group="g")
    worker_b = lab.worker(url_b, "faults-share-b", group="g")

    def stored() -> int:
        return store_a.count_readings() + store_b.count_readings()

    publisher = ReliablePublisher(lab.broker.port, "faults-share-publisher")
    stream = _Background(lambda: publisher.publish_all(messages[:-2], timeout_s=120))
    stream.start()
    wait_until(lambda: stored() >= 0.4 * len(readings), 60, interval_s=0.002)
    worker_a.kill()
    a_at_kill = store_a.count_readings()
    stream.result(timeout_s=120)

    # Round-robin over two sessions: of the last two messages one goes to the live worker,
    # and a session's messages arrive in order, so once it stored that one it has stored
    # everything it will get while its peer is down.
    publisher.publish_all(messages[-2:])
    last_two = {ts * 1000 for ts, _ in readings[-2:]}
    wait_until(lambda: last_two & _stored_ts_ms(store_b), timeout_s=60)
    held_for_dead_session = len(readings) - a_at_kill - store_b.count_readings()
    # More than the dead worker can have had in flight: its session went on being handed
    # new messages after the kill, and the live worker did not take them over.
    assert held_for_dead_session > RECEIVE_MAXIMUM
    assert worker_b.alive()

    restarted_a = lab.worker(url_a, "faults-share-a", group="g")
    wait_until(lambda: stored() >= len(readings), timeout_s=60)
    stats_a = restarted_a.stop()
    stats_b = worker_b.stop()

    in_a, in_b = _stored_ts_ms(store_a), _stored_ts_ms(store_b)
    assert not in_a & in_b, "a message went to both workers"
    assert in_a | in_b == {ts * 1000 for ts, _ in readings}
    assert stored() == len(readings)
    assert stats_a["readings_stored"] == held_for_dead_session  # all of it came to "a"
    assert stats_b["duplicates"] == 0
    assert store_a.quarantine_counts() == {} and store_b.quarantine_counts() == {}


def _stored_ts_ms(store: SQLiteStore) -> set[int]:
    return {ts for (ts,) in _query(store, "SELECT ts_ms FROM readings")}
