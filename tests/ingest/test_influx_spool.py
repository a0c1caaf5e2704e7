"""The InfluxDB spool never stalls: a real ``influxd`` behind a real HTTP proxy
(``tests.influx_proxy``) that answers 429 with ``Retry-After``, 500, 401, 413 or a partial-write
400 when told to. Every reading ends up stored or its message quarantined with its original
bytes, the replay thread outlives every error, and the spool empties. One spool file belongs to
one process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid

import orjson
import pytest
from prometheus_client import generate_latest

import ingest.store.influx as influx_module
from ingest.metrics import IngestMetrics
from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import IngestWorker
from ingest.routing import Routing
from ingest.store import StoreURLError, open_store
from ingest.store.base import Message, StoredReading
from ingest.store.influx import InfluxStore
from ingest.store.influx_http import (
    InfluxDataRefused,
    InfluxHTTP,
    InfluxTarget,
    InfluxUnavailable,
)
from ingest.store.spool import Spool, SpoolInUse
from scoring.competition_file import parse_competition
from tests.fixtures import one_site_toml
from tests.influx_proxy import InfluxProxy
from tests.services import publish_all, wait_until

pytestmark = pytest.mark.timeout(240)

H0 = 1_300_000_000 - 1_300_000_000 % 3600 + 3600  # an hour start (2011-03-13 08:00 UTC)
METERS = [f"s{i}" for i in range(6)]
PER_MESSAGE = 12
BAD_POWER_W = 4242.0  # a reading with this power is refused by the proxy, as a type conflict
COMPETITION = one_site_toml("spool", "Spool", METERS, end="2011-03-31")


@pytest.fixture
def proxy(influxd):
    p = InfluxProxy(influxd.base_url).start()
    yield p
    p.stop()


@pytest.fixture(autouse=True)
def _short_backoff(monkeypatch):
    # the replay backs off up to a minute in service; a test waits a second at most (a server
    # Retry-After still wins)
    monkeypatch.setattr(influx_module, "REPLAY_BACKOFF_MAX_S", 1.0)


def _is_bad(line: str) -> bool:
    return line.startswith("reading,") and f"power_w={BAD_POWER_W!r}," in line


def _stored(influxd, db: str) -> dict[tuple[str, int], tuple]:
    """(meter, ts_ms) → (energy_kwh, power_w) of every stored reading, read past the proxy."""
    (result,) = influxd.query(db, 'SELECT "energy_kwh", "power_w" FROM "reading" GROUP BY "meter"')
    return {
        (series["tags"]["meter"], int(row[0])): (row[1], row[2])
        for series in result.get("series", [])
        for row in series["values"]
    }


def _message(meter: str, first: int, received_ms: int, bad: bool = False) -> Message:
    readings = [
        StoredReading(meter, (H0 + (first + j) * 10) * 1000, (first + j) / 64, 500.0 + j)
        for j in range(PER_MESSAGE)
    ]
    if bad:
        readings[-1] = readings[-1]._replace(power_w=BAD_POWER_W)
    payload = orjson.dumps(
        [
            {
                "meter": meter,
                "ts": r.ts_ms // 1000,
                "energy_kwh": r.energy_kwh,
                "power_w": r.power_w,
            }
            for r in readings
        ]
    )
    return Message(f"wattleague/spool/alfa/{meter}", received_ms, "mqtt", readings, payload=payload)


# -- what each answer means ----------------------------------------------------------------


def test_each_answer_of_the_server_has_its_meaning(influxd, influx_database, proxy, tmp_path):
    db = influx_database()
    influxd.create_database(db)
    http = InfluxHTTP(InfluxTarget.from_url(proxy.url(db, tmp_path / "unused.db")))
    line = "reading,meter=m power_w=1.0 {}"
    try:
        # rate limited, with a Retry-After longer than a write may wait: at once, for the spool
        proxy.fail(429, retry_after_s=7)
        with pytest.raises(InfluxUnavailable) as caught:
            http.write([line.format(1)])
        assert (caught.value.status, caught.value.retry_after_s) == (429, 7.0)
        assert proxy.answered["429"] == 1
        # a server error: retried, then unavailable
        proxy.fail(500)
        with pytest.raises(InfluxUnavailable) as caught:
            http.write([line.format(1)])
        assert caught.value.status == 500 and proxy.answered["500"] == 4
        with pytest.raises(InfluxUnavailable) as caught:
            http.query("SHOW MEASUREMENTS")
        assert caught.value.status == 500
        # credentials, or a 400 that does not say the data is wrong: not bad data
        for status in (401, 403, 404, 400):
            proxy.fail(status)
            with pytest.raises(InfluxUnavailable) as caught:
                http.write([line.format(1)])
            assert caught.value.status == status
            assert not isinstance(caught.value, InfluxDataRefused)
        # a partial write: refused data; the other lines are written
        proxy.clear()
        proxy.refuse = _is_bad
        bad = f"reading,meter=m power_w={BAD_POWER_W!r},received_ms=1i 2"
        with pytest.raises(InfluxDataRefused, match="partial write"):
            http.write([line.format(3), bad, line.format(4)])
        assert set(_stored(influxd, db)) == {("m", 3), ("m", 4)}
        # too large: split until it goes through, and later requests keep to that size
        proxy.clear()
        proxy.max_lines = 3
        http.write([line.format(t) for t in range(10, 20)])
        assert http.max_lines <= 3 and proxy.answered["413"] >= 2
        assert {t for _, t in _stored(influxd, db)} >= set(range(10, 20))
        # one line too large on its own is refused data
        proxy.max_lines = 0
        with pytest.raises(InfluxDataRefused, match="413"):
            http.write([line.format(30)])
    finally:
        http.close()


# -- the replay outlives every error -------------------------------------------------------


def test_replay_survives_refusals_a_server_without_delete_and_a_query_it_cannot_run(
    influxd, influx_database, proxy, tmp_path
):
    """Before: an InfluxRejected from the undo's DELETE (InfluxDB 2.x has no InfluxQL DELETE)
    or from a query ended the replay thread, and the spool grew forever."""
    db = influx_database()
    store = InfluxStore(proxy.url(db, tmp_path / "spool.db"), replay_interval_s=0.05)
    try:
        proxy.fail(401)  # a revoked token: not the data's fault
        good = [_message(m, 0, 1_000) for m in METERS[:3]]
        bad = Message(
            "wattleague/spool/alfa/s3",
            1_000,
            "mqtt",
            [StoredReading("s3", H0 * 1000, 1.0, BAD_POWER_W)],
            payload=b'{"ts": 1300003200, "energy_kwh": 1.0, "power_w": 4242.0}',
        )
        boom = _message("s4", 0, 1_000)  # a message whose tail query the server cannot run
        result = store.write([*good, bad])
        assert (result.spooled, result.quarantined) == (3 * PER_MESSAGE + 1, 0)
        store.write([boom])
        wait_until(lambda: store.replay_error == "http_401")
        assert store.spool_state()["replay_alive"] and store.spool_depth() == 2
        # the token is back, but the server has no DELETE, refuses the bad reading, and cannot
        # run the queries of meter s4
        proxy.clear()
        proxy.refuse = _is_bad
        proxy.refuse_deletes = True
        proxy.refuse_query = lambda q: "'s4'" in q
        wait_until(lambda: store.spool_depth() == 0, timeout_s=60)
        state = store.spool_state()
        assert state["replay_alive"] and state["replay_error"] is None
        assert state["replay_failures"]["http_401"] >= 1
        assert state["replay_failures"]["influxql_error"] >= influx_module.REPLAY_ISOLATE_AFTER
        assert proxy.answered["delete_refused"] >= 1
        proxy.clear()
        stored = _stored(influxd, db)
        assert {(r.meter_id, r.ts_ms) for m in good for r in m.readings} <= set(stored)
        assert ("s3", H0 * 1000) not in stored and not any(m == "s4" for m, _ in stored)
        entries = {e["topic"]: e for e in store.list_quarantine()}
        assert set(entries) == {bad.topic, boom.topic}
        assert all(e["reason"] == "store_rejected" for e in entries.values())
        assert entries[bad.topic]["payload"] == bad.payload  # the bytes it arrived with
        assert "partial write" in entries[bad.topic]["detail"]
        assert entries[boom.topic]["payload"] == boom.payload
        assert "InfluxQL failed" in entries[boom.topic]["detail"]
        # and the store writes straight through again
        assert store.write([_message("s5", 100, 2_000)]).inserted == PER_MESSAGE
    finally:
        store.close()


def test_an_unreadable_spooled_batch_is_set_aside(influxd, influx_database, tmp_path):
    db = influx_database()
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.append([_message("s0", 0, 1_000)])
    spool.close()
    with sqlite3.connect(path) as conn:  # a row no version can read, then a good batch
        conn.execute("INSERT INTO spool (batch) VALUES (x'00ff')")
    spool = Spool(path)
    spool.append([_message("s1", 0, 1_000)])
    spool.close()
    store = InfluxStore(f"influxdb://127.0.0.1:{influxd.port}/{db}?spool={path}")
    try:
        wait_until(lambda: store.spool_depth() == 0, timeout_s=30)
        assert store.spool_state()["set_aside_batches"] == 1
        assert store.count_readings() == 2 * PER_MESSAGE
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT batch FROM spool_set_aside").fetchall() == [(b"\x00\xff",)]


# -- two workers, one shared subscription, each its own spool ------------------------------


def test_two_workers_lose_nothing_through_429_500_413_and_refused_data(
    influxd, influx_database, proxy, mosquitto, tmp_path, request
):
    db = influx_database()
    routing = Routing.from_competitions([parse_competition(COMPETITION, "spool.toml")])
    published: list[tuple[str, bytes, list[tuple], bool]] = []  # topic, payload, readings, bad
    phase_messages = 10  # per meter and phase

    def phase(n: int) -> list[tuple[str, bytes]]:
        out = []
        for k in range(phase_messages):
            for i, meter in enumerate(METERS):
                first = (n * phase_messages + k) * PER_MESSAGE
                bad = (k + i + n) % 7 == 3
                msg = _message(meter, first, 0, bad)
                readings = [tuple(r) for r in msg.readings]
                # as a meter sends it: the topic names the meter
                payload = orjson.dumps(
                    [{"ts": r[1] // 1000, "energy_kwh": r[2], "power_w": r[3]} for r in readings]
                )
                published.append((msg.topic, payload, readings, bad))
                out.append((msg.topic, payload))
        return out

    total_readings = 5 * phase_messages * len(METERS) * PER_MESSAGE
    group = f"spool{uuid.uuid4().hex[:8]}"
    stores, workers, metrics = [], [], []
    for i in (1, 2):
        store = InfluxStore(proxy.url(db, tmp_path / f"spool-w{i}.db"), replay_interval_s=0.1)
        m = IngestMetrics()
        worker = IngestWorker(
            parse_mqtt_url(mosquitto.url),
            store,
            routing,
            client_id=f"{group}-w{i}",
            shared_group=group,
            clock=lambda: H0 + total_readings * 10 + 60.0,
            metrics=m,
        )
        stores.append(store)
        workers.append(worker)
        metrics.append(m)

    def processed() -> int:
        return sum(w.stats["messages"] for w in workers)

    def publish(messages: list[tuple[str, bytes]]) -> None:
        publish_all(mosquitto.port, messages)
        wait_until(lambda: processed() == len(published), timeout_s=120)

    def spooled() -> int:
        return sum(s.spool_depth() for s in stores)

    proxy.refuse = _is_bad  # bad data stays bad, in every phase
    try:
        for w in workers:
            w.start()
        for w in workers:
            assert w.subscribed.wait(15)
        publish(phase(0))  # nothing wrong but the refused readings
        assert sum(w.stats["messages"] > 0 for w in workers) == 2  # both got a share

        proxy.fail(500)  # InfluxDB answers 500 to everything: spooled, then replayed
        publish(phase(1))
        assert spooled() > 0
        wait_until(lambda: any(s.replay_error == "http_500" for s in stores), timeout_s=60)
        proxy.clear()
        proxy.refuse = _is_bad
        wait_until(lambda: spooled() == 0, timeout_s=60)

        proxy.fail(429, paths=("/write",), retry_after_s=3)  # rate limited, for 3 s at least
        publish(phase(2))
        assert spooled() > 0
        wait_until(lambda: any(s.replay_error == "http_429" for s in stores), timeout_s=60)
        proxy.clear()
        proxy.refuse = _is_bad
        wait_until(lambda: spooled() == 0, timeout_s=60)

        proxy.max_lines = 25  # a small max-body-size: requests are split, nothing refused
        publish(phase(3))
        assert proxy.answered["413"] > 0
        proxy.max_lines = None
        publish(phase(4))
        wait_until(lambda: spooled() == 0, timeout_s=60)

        for store, worker, m in zip(stores, workers, metrics, strict=True):
            state = store.spool_state()
            assert state["replay_alive"] and state["depth_batches"] == 0
            assert worker.health()["status"] == "ok"
            scraped = generate_latest(m.registry).decode()
            assert "wattleague_ingest_spool_replay_alive 1.0" in scraped
            assert "wattleague_ingest_spool_oldest_seconds 0.0" in scraped
        assert proxy.answered["partial"] > 0
    finally:
        for w in workers:
            w.stop()
        for s in stores:
            s.close()
    proxy.clear()

    # every good message's readings are stored, each with its values; nothing else but the
    # good readings of a refused message (a partial write the store could not take back)
    stored = _stored(influxd, db)
    good = {(r[0], r[1]): (r[2], r[3]) for _, _, rs, bad in published if not bad for r in rs}
    maybe = {(r[0], r[1]): (r[2], r[3]) for _, _, rs, bad in published if bad for r in rs}
    assert {k: stored[k] for k in good if k in stored} == good
    assert set(stored) <= set(good) | set(maybe)
    assert all(v[1] != BAD_POWER_W for v in stored.values())
    # every refused message is quarantined once, with its reason and the bytes it came with
    reader = InfluxStore(influxd.url(db, owner="reader"))
    try:
        entries = reader.list_quarantine(limit=1000)
    finally:
        reader.close()
    bad_payloads = sorted(p for _, p, _, bad in published if bad)
    assert len(bad_payloads) > 10
    assert sorted(e["payload"] for e in entries) == bad_payloads
    assert {e["reason"] for e in entries} == {"store_rejected"}
    assert all("partial write" in e["detail"] for e in entries)
    for i in (1, 2):  # and the spools are empty on disk
        spool = Spool(tmp_path / f"spool-w{i}.db")
        assert spool.depth() == 0
        spool.close()


# -- one spool, one process ----------------------------------------------------------------


def test_a_second_process_with_the_same_spool_is_refused(influxd, influx_database, tmp_path):
    db = influx_database()
    url = influxd.url(db)
    config = tmp_path / "spool.toml"
    config.write_text(COMPETITION)
    holder = InfluxStore(url)
    try:
        with pytest.raises(SpoolInUse):  # in this process too: the lock is per open file
            InfluxStore(url)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "wattleague",
                "ingest",
                "--config",
                str(config),
                "--store",
                url,
                "--mqtt",
                "mqtt://127.0.0.1:1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert done.returncode == 2, done.stderr
    error = " ".join(done.stderr.split())
    assert "--store" in error and "in use by another process" in error
    assert "?spool=" in error and "--mqtt-client-id" in error
    # once the first process is gone, the spool is free
    InfluxStore(url).close()


def test_default_spool_files_are_per_process_and_take_over_the_old_default(
    influxd, influx_database, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    db = influx_database()
    url = f"influxdb://127.0.0.1:{influxd.port}/{db}"
    # a spool left by a version that named it after the database only
    legacy = Spool(tmp_path / f"wattleague-spool-{db}.db")
    legacy.append([_message("s0", 0, 1_000)])
    legacy.close()
    first = open_store(url, spool_name="wattleague-ingest-1")
    second = open_store(url, spool_name="wattleague-ingest-2")
    try:
        assert first.spool.path.endswith(f"wattleague-spool-{db}-wattleague-ingest-1.db")
        assert second.spool.path != first.spool.path
        wait_until(lambda: first.spool_depth() == 0, timeout_s=30)
        assert first.count_readings() == PER_MESSAGE  # the old batch, replayed
        with pytest.raises(StoreURLError, match="in use by another process"):
            open_store(url, spool_name="wattleague-ingest-1")
    finally:
        first.close()
        second.close()
    leftover = Spool(tmp_path / f"wattleague-spool-{db}.db")
    assert leftover.depth() == 0
    leftover.close()
