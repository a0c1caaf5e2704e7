"""A hostile or broken meter costs only its own quarantine entries: through one ingest worker
and a real Mosquitto, the readings of the other meters are stored while it sends whatever it
sends (issue 16).

The worker's clock gives the k-th message the receive time ``BASE + 10 k + 5`` ms, so the
quarantine and ``messages`` rows of each message can be found by its receive time.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.app import create_app
from ingest.decoders.dsmr import crc16_arc
from ingest.metrics import IngestMetrics
from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import IngestWorker
from ingest.routing import Routing
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.services import free_port, publish_all, wait_until

pytestmark = pytest.mark.timeout(240)

COMPETITION = """
[competition]
id = "hostile"
name = "Hostile meters"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-03-14
baseline = { method = "previous-year" }

[[site]]
id = "good"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "good-main"

[[site]]
id = "bad"
municipality = "Piteå kommun"
name = "Piteå kommunhus"
area_m2 = 500
  [[site.meter]]
  id = "bad-json"
  [[site.meter]]
  id = "bad-han"
  topic = "han/bad"
  format = "dsmr"
  [[site.meter]]
  id = "bad-senml"
  topic = "senml/bad"
  format = "senml"
  [[site.meter]]
  id = "bad-tasmota"
  topic = "tele/bad/SENSOR"
  format = "tasmota"
  [[site.meter]]
  id = "bad-big"
  topic = "big/bad"
  max_payload_bytes = 4194304
"""
GOOD = "wattleague/hostile/good/good-main"
BAD_JSON = "wattleague/hostile/bad/bad-json"
HAN, SENML, TASMOTA, BIG = "han/bad", "senml/bad", "tele/bad/SENSOR", "big/bad"
BASE_MS = int(datetime(2011, 3, 8, tzinfo=UTC).timestamp() * 1000)  # the worker's "now"
STEP_MS = 10
NOW_S = BASE_MS // 1000


def telegram(*lines: str, clock: str = "110308000000W") -> bytes:
    """A HAN telegram with a valid CRC (anyone can compute one)."""
    body = "\r\n".join(["/ELL5\\253833635_A", "", f"0-0:1.0.0({clock})", *lines, "!"])
    data = body.encode("latin-1")
    return data + b"%04X\r\n" % crc16_arc(data)


# a 200 KB base name, then 5,000 records of the same meter and time
SENML_FLOOD = b'[{"bn": "' + b"b" * 200_000 + b'", "bu": "W", "v": 1}' + b',{"v":1}' * 5_000 + b"]"


def _clock(start_k: int = 0):
    counter = itertools.count(start_k)
    return lambda: (BASE_MS + STEP_MS * next(counter) + STEP_MS // 2) / 1000


@pytest.fixture
def competition():
    return parse_competition(COMPETITION, "hostile.toml")


def _worker(mosquitto, store, competition, client_id: str, **kwargs) -> IngestWorker:
    w = IngestWorker(
        parse_mqtt_url(mosquitto.url),
        store,
        Routing.from_competitions([competition]),
        client_id=client_id,
        clock=kwargs.pop("clock", _clock()),
        **kwargs,
    )
    w.start()
    assert w.subscribed.wait(10)
    return w


@pytest.fixture
def worker(request, mosquitto, tmp_path, competition):
    store = SQLiteStore(tmp_path / "hostile.db")
    w = _worker(mosquitto, store, competition, f"hostile-{request.node.name}"[:60])
    yield w
    w.stop()
    store.close()


def _good_messages(first_s: int, n: int) -> list[tuple[str, bytes]]:
    """``n`` register readings of the good meter, 10 s apart from ``first_s``."""
    return [
        (GOOD, orjson.dumps({"ts": first_s + 10 * i, "energy_kwh": 100.0 + 0.01 * i}))
        for i in range(n)
    ]


def _quarantine(store: SQLiteStore) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        return conn.execute(
            "SELECT received_ms, topic, reason, detail FROM quarantine ORDER BY id"
        ).fetchall()


def _strict_json(text: str) -> object:
    """JSON as a strict parser reads it: NaN and Infinity are not JSON."""

    def refuse(constant: str):
        raise AssertionError(f"the API emitted {constant}")

    return json.loads(text, parse_constant=refuse)


def _leaderboard(store, competition) -> dict:
    app = create_app([competition], store, clock=lambda: NOW_S)
    with TestClient(app) as client:
        response = client.get("/api/competitions/hostile/leaderboard")
        assert response.status_code == 200
        board = _strict_json(response.text)
        for sid in ("good", "bad"):
            site = client.get(f"/api/competitions/hostile/sites/{sid}")
            assert site.status_code == 200
            _strict_json(site.text)
    return board


# -- regression tests, one per case of the issue ------------------------------------------


def test_a_han_telegram_with_a_flood_of_spaces_does_not_stall_the_others(mosquitto, worker):
    """400,000 spaces in 1-0:1.7.0 with a valid CRC kept the writer busy for minutes."""
    flood = telegram("1-0:1.8.0(00006678.394*kWh)", "1-0:1.7.0(1" + " " * 400_000 + "x*kW)")
    # the same attack within the telegram cap (8 KiB) reaches the value parser
    at_cap = telegram("1-0:1.8.0(00006678.394*kWh)", "1-0:1.7.0(1" + " " * 7_900 + "x*kW)")
    assert len(at_cap) <= 8 * 1024
    publish_all(mosquitto.port, [(HAN, flood), (HAN, at_cap), *_good_messages(NOW_S - 3600, 300)])
    wait_until(lambda: worker.store.count_readings() == 300, timeout_s=30)
    reasons = {row[2]: row[3] for row in _quarantine(worker.store)}
    assert set(reasons) == {"too_large", "non_numeric"}
    assert f"payload is {len(flood):,} bytes; the dsmr limit is 8,192 bytes" in reasons["too_large"]
    assert "expected value*unit" in reasons["non_numeric"]
    assert len(reasons["non_numeric"]) < 500  # the spaces are not echoed
    assert worker.writer_alive()


def test_absurd_power_is_refused_and_sums_stay_finite(mosquitto, worker, competition):
    """Two readings of 1.7e308 W made an hourly sum +inf, a late one between them NULL."""
    t = NOW_S - 7200
    hostile = [
        (BAD_JSON, orjson.dumps({"ts": t, "power_w": 1.7e308})),
        (BAD_JSON, orjson.dumps({"ts": t + 2, "power_w": 1.7e308})),
        (BAD_JSON, orjson.dumps({"ts": t + 1, "power_w": 1.7e308})),  # late, between them
        (BAD_JSON, orjson.dumps({"ts": t + 3, "power_w": 10_000_001})),  # just above 10 MW
        (BAD_JSON, orjson.dumps({"ts": t + 4, "power_w": 2000.0})),  # a good one of its own
    ]
    publish_all(mosquitto.port, [*hostile, *_good_messages(t, 50)])
    wait_until(lambda: worker.store.count_readings() == 51)
    reasons = [row[2] for row in _quarantine(worker.store)]
    assert reasons == ["power_above_max"] * 4
    hours = worker.store.read_hourly(["bad-json", "good-main"], t - 3600, t + 7200)
    for h in hours.values():
        for column in (h.reg_kwh, h.reg_s, h.pow_kwh, h.pow_s):
            assert all(math.isfinite(v) for v in column.tolist())
    _leaderboard(worker.store, competition)


def test_a_meter_may_set_a_power_limit_above_10_mw(mosquitto, tmp_path):
    text = COMPETITION.replace('id = "bad-json"', 'id = "bad-json"\n  max_power_w = 5e7')
    comp = parse_competition(text, "hostile.toml")
    store = SQLiteStore(tmp_path / "big.db")
    w = _worker(mosquitto, store, comp, "hostile-big-power")
    try:
        publish_all(mosquitto.port, [(BAD_JSON, orjson.dumps({"ts": NOW_S, "power_w": 2e7}))])
        wait_until(lambda: store.count_readings() == 1)
        assert _quarantine(store) == []
    finally:
        w.stop()
        store.close()


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "says"),
    [
        (BAD_JSON, b"[" * 100_000 + b"]" * 100_000, "too_complex", "200,000 bytes"),
        (BAD_JSON, b'{"abcdefghijklmn":' * 2000 + b"1" + b"}" * 2000, "too_deep", "nests too deep"),
        (BAD_JSON, b'{"ts": 1, "power_w": "' + b"x" * 1_000_000 + b'"}', "non_numeric", "chars)"),
        (
            BAD_JSON,
            b'{"ts": 1, "meter": "' + b"m" * 1_000_000 + b'", "power_w": 1}',
            "meter_mismatch",
            "(1,000,000 chars)",
        ),
        (BAD_JSON, b'{"ts": 1, "power_w": 1}\xff', "bad_encoding", "UTF-8"),
        (BAD_JSON, b'{"ts": 1, "power_w": 1}\x00', "bad_encoding", "NUL byte at offset 23"),
        (BAD_JSON, b'{"ts": 1299542400, "power_w": 1e400}', "non_finite", "out of range"),
        (BAD_JSON, b"[" + b"0," * 1_000_000 + b"0]", "too_large", "2,000,003 bytes"),
        (BIG, b"[" + b"0," * 1_000_000 + b"0]", "too_many_readings", "1,000,001 items"),
        (
            SENML,
            b'[{"bn": "' + b"b" * 200_000 + b'", "bu": "W", "v": 1}' + b',{"v":1}' * 5_000 + b"]",
            "ambiguous",
            "chars)",
        ),
        (TASMOTA, b'{"ENERGY": {"Power": [' + b"1," * 20_000 + b"1]}}", "too_large", "16,384"),
        (HAN, telegram(*["1-0:1.7.0(1.0*kW)"] * 500), "too_large", "dsmr limit"),
        (HAN, telegram("1-0:1.7.0(" + "9" * 400 + "*kW)"), "non_finite", "not a finite"),
        (HAN, telegram("1-0:1.7.0(99999*kW)"), "power_above_max", "10 MW"),
    ],
    ids=[
        "nesting-bomb",
        "deep-nesting-with-keys",
        "1MB-string-value",
        "1MB-meter-name",
        "invalid-utf8",
        "nul-byte",
        "number-beyond-float",
        "million-element-array",
        "million-element-array-under-a-raised-cap",
        "senml-long-bn-many-records",
        "tasmota-channel-flood",
        "han-duplicated-lines",
        "han-400-digits",
        "han-100-MW",
    ],
)
def test_each_hostile_shape_has_its_reason(mosquitto, worker, topic, payload, reason, says):
    publish_all(mosquitto.port, [(topic, payload), *_good_messages(NOW_S - 600, 5)])
    wait_until(lambda: worker.stats["messages"] == 6, timeout_s=30)
    assert worker.store.count_readings() == 5
    rows = _quarantine(worker.store)
    assert len(rows) == 1, rows
    _, _, got_reason, detail = rows[0]
    assert got_reason == reason, detail
    assert says in detail
    assert len(detail) <= 2100  # no payload value is echoed whole
    assert worker.stats["internal_errors"] == 0


# -- a batch the store refuses ----------------------------------------------------------------


REFUSE_TRIGGER = (
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON readings WHEN NEW.energy_kwh = 666 "
    "BEGIN SELECT RAISE(ABORT, 'poisoned reading refused by the schema'); END"
)


def test_a_message_the_store_refuses_is_isolated_and_everything_acknowledged(
    mosquitto, tmp_path, competition
):
    """The store refuses one message (here a schema trigger): it is quarantined as
    store_rejected with its payload, the others are stored, and the broker redelivers none."""
    store = SQLiteStore(tmp_path / "refuse.db")
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        conn.execute(REFUSE_TRIGGER)
    good = _good_messages(NOW_S - 3600, 200)
    poison = (BAD_JSON, orjson.dumps({"ts": NOW_S - 60, "energy_kwh": 666}))
    w = _worker(mosquitto, store, competition, "hostile-refuse", batch_wait_s=0.5)
    try:
        publish_all(mosquitto.port, [*good[:100], poison, *good[100:]])
        wait_until(lambda: w.stats["messages"] == 201, timeout_s=30)
        assert store.count_readings() == 200
        rows = store.list_quarantine()
        assert [r["reason"] for r in rows] == ["store_rejected"]
        assert "poisoned reading refused by the schema" in rows[0]["detail"]
        assert rows[0]["payload"] == poison[1]  # kept whole: it can be reprocessed
        assert w.stats["store_rejected"] == 1
    finally:
        w.stop()
    # Everything was acknowledged: a new session of the same client gets only what is new.
    w = _worker(mosquitto, store, competition, "hostile-refuse", clock=_clock(1000))
    try:
        publish_all(mosquitto.port, _good_messages(NOW_S, 1))
        wait_until(lambda: w.stats["messages"] >= 1)
        time.sleep(0.5)
        assert w.stats["messages"] == 1
        assert store.count_readings() == 201
    finally:
        w.stop()
        store.close()


# -- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MB file system (tmpfs), so that the store meets a real ENOSPC."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (the test command runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder) -> None:
    """Write a filler file until the file system is full."""
    with open(folder / "filler", "wb", buffering=0) as f:
        for size in (65536, 512):  # then the last few bytes
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)


def test_a_full_disk_loses_nothing_and_recovers_by_itself(
    mosquitto, small_disk, competition, caplog
):
    store = SQLiteStore(small_disk / "store.db")
    w = _worker(mosquitto, store, competition, "hostile-full-disk", metrics=IngestMetrics())
    port = free_port()
    server = w.metrics.serve(port)

    try:
        publish_all(mosquitto.port, _good_messages(NOW_S - 86400, 20))
        wait_until(lambda: store.count_readings() == 20)
        _fill(small_disk)
        caplog.set_level(logging.ERROR, logger="ingest.mqtt_worker")
        # 60 messages of 200 readings (~1.2 MB of rows and more in the WAL): the disk is full
        messages = [
            (
                GOOD,
                orjson.dumps(
                    [
                        {"ts": NOW_S - 80_000 + 600 * m + i, "energy_kwh": 200.0 + m + i / 1000}
                        for i in range(200)
                    ]
                ),
            )
            for m in range(60)
        ]
        publish_all(mosquitto.port, messages)
        wait_until(lambda: w.health()["status"] == "store_unavailable", timeout_s=30)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 503
        assert health.json()["problems"] == ["store_unavailable"]
        assert health.json()["store_error"] == "disk_full"
        assert "free disk space" in health.json()["store_hint"]
        scrape = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "wattleague_ingest_store_available 0.0" in scrape
        time.sleep(4)  # retries at 1 s, 2 s...: one log line, not one per retry
        said = [r for r in caplog.records if "cannot take writes" in r.getMessage()]
        assert len(said) == 1, [r.getMessage() for r in said]
        assert "free disk space" in said[0].getMessage()
        stored_while_full = store.count_readings()
        assert stored_while_full < 20 + 60 * 200
        (small_disk / "filler").unlink()  # space returns
        wait_until(lambda: store.count_readings() == 20 + 60 * 200, timeout_s=60)
        wait_until(lambda: w.health()["status"] == "ok")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert store.quarantine_counts() == {}
        assert w.stats["messages"] == 80
    finally:
        server.shutdown()
        w.stop()
    # every message was acknowledged once stored: nothing comes again
    w = _worker(mosquitto, store, competition, "hostile-full-disk", clock=_clock(1000))
    try:
        publish_all(mosquitto.port, _good_messages(NOW_S, 1))
        wait_until(lambda: w.stats["messages"] >= 1)
        time.sleep(0.5)
        assert w.stats["messages"] == 1
        assert store.count_readings() == 20 + 60 * 200 + 1
    finally:
        w.stop()
        store.close()


# -- a hostile stream: hypothesis mixes attacks with good readings ------------------------------

RUNS = st.sampled_from([" ", "0", "9", "\r", "\r\n", ")(", "*", ".", "(", "\t", "\x00"])


@st.composite
def hostile_han(draw) -> tuple[str, bytes]:
    """A telegram with a valid CRC whose import power value is flooded, or that repeats a bad
    OBIS line, or that is over the cap."""
    run = draw(RUNS) * draw(st.integers(1, 7000))
    shape = draw(st.sampled_from(["value", "duplicates", "huge", "over-cap", "power"]))
    if shape == "value":
        return HAN, telegram("1-0:1.7.0(1" + run + "x*kW)")
    if shape == "duplicates":
        n = draw(st.integers(2, 300))
        return HAN, telegram(*["1-0:1.8.0(abc*kWh)"] * n, "1-0:1.7.0(1.0*kW)")
    if shape == "huge":
        return HAN, telegram("1-0:1.8.0(" + "9" * draw(st.integers(310, 5000)) + "*kWh)")
    if shape == "power":
        return HAN, telegram(f"1-0:1.7.0({draw(st.integers(10_001, 10**9))}.0*kW)")
    return HAN, telegram("1-0:1.7.0(1.0*kW)", "0-0:96.13.0(" + run * 2 + "A" * 9000 + ")")


EDGE_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00-12:00",
        "9999-12-31T23:59:59-12:00",
        "9999-12-31T23:59:59+14:00",
        -0.0,
        1e20,
        -1e20,
        2**63,
        "1970-01-01T00:00:00Z",
    ]
)


@st.composite
def hostile_json(draw) -> tuple[str, bytes]:
    shape = draw(
        st.sampled_from(
            ["bomb", "string", "inf", "1e308", "time", "utf8", "nul", "array", "commas", "cr"]
        )
    )
    ts = NOW_S - 60
    if shape == "bomb":
        depth = draw(st.integers(1025, 200_000))
        return BAD_JSON, b"[" * depth + b"]" * draw(st.integers(0, depth))
    if shape == "string":
        key = draw(st.sampled_from(["power_w", "meter", "ts", "energy_kwh"]))
        body = {"ts": ts, "power_w": 1.0, key: "x" * draw(st.integers(1000, 1_000_000))}
        return BAD_JSON, orjson.dumps(body)
    if shape == "inf":
        return BAD_JSON, b'{"ts": %d, "power_w": 1e%d}' % (ts, draw(st.integers(309, 100_000)))
    if shape == "1e308":
        field = draw(st.sampled_from(["power_w", "energy_kwh"]))
        above = 10_000_001.0 if field == "power_w" else 1.000001e12  # just past the limits
        value = draw(st.sampled_from([1.7e308, 1e308, above]))
        return BAD_JSON, orjson.dumps([{"ts": ts + i, field: value} for i in range(3)])
    if shape == "time":
        return BAD_JSON, orjson.dumps({"ts": draw(EDGE_TIMES), "power_w": 5.0})
    if shape == "utf8":
        return BAD_JSON, orjson.dumps({"ts": ts, "power_w": 1.0})[:-1] + b', "m": "\xff\xfe"}'
    if shape == "nul":
        good = orjson.dumps({"ts": ts, "power_w": 1.0})
        at = draw(st.integers(0, len(good)))
        return BAD_JSON, good[:at] + b"\x00" + good[at:]
    if shape == "array":
        return BAD_JSON, b"[" + b"0," * draw(st.integers(600_000, 1_000_000)) + b"0]"
    if shape == "commas":
        return BAD_JSON, b"[" + b"," * draw(st.integers(1, 500_000)) + b"]"
    return BAD_JSON, b'{"ts": 0,' + b"\r" * draw(st.integers(1, 500_000)) + b'"power_w": 1}'


@st.composite
def hostile_senml(draw) -> tuple[str, bytes]:
    shape = draw(st.sampled_from(["bn", "version", "records"]))
    if shape == "bn":
        bn = b"b" * draw(st.integers(1000, 200_000))
        n = draw(st.integers(1, 5000))
        return SENML, b'[{"bn": "' + bn + b'", "bu": "W", "v": 1}' + b',{"v":1}' * n + b"]"
    if shape == "version":
        return SENML, b'[{"bver": %d, "u": "W", "v": 1}]' % draw(st.integers(11, 10**9))
    return SENML, b"[" + b'{"u":"V","v":1},' * draw(st.integers(20_000, 60_000)) + b"{}]"


@st.composite
def hostile_tasmota(draw) -> tuple[str, bytes]:
    shape = draw(st.sampled_from(["channels", "negative", "nested"]))
    if shape == "channels":
        n = draw(st.integers(9000, 200_000))
        return TASMOTA, b'{"ENERGY": {"Power": [' + b"1," * n + b"1]}}"
    if shape == "negative":
        return TASMOTA, orjson.dumps({"ENERGY": {"Total": -draw(st.floats(0.001, 1e300))}})
    depth = draw(st.integers(900, 1000))  # under orjson's limit: our code must not recurse
    return TASMOTA, b'{"ENERGY": {"Total": ' + b"[" * depth + b"]" * depth + b"}}"


hostile = st.one_of(hostile_han(), hostile_json(), hostile_senml(), hostile_tasmota())


def test_a_hostile_stream_costs_only_its_own_quarantine(mosquitto, tmp_path, competition):
    store = SQLiteStore(tmp_path / "stream.db")
    w = _worker(mosquitto, store, competition, "hostile-stream")
    published = good_published = 0
    hostile_ks: list[int] = []
    first_good_s = NOW_S - 20 * 86400

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(stream=st.lists(st.tuples(st.booleans(), hostile), min_size=1, max_size=6))
    @example(stream=[(True, (HAN, telegram("1-0:1.7.0(1" + " " * 7900 + "x*kW)")))])
    @example(stream=[(False, (BAD_JSON, b"[" * 500_000 + b"]" * 500_000))])
    def publish(stream: list[tuple[bool, tuple[str, bytes]]]) -> None:
        nonlocal published, good_published
        batch = []
        for with_good, attack in stream:
            hostile_ks.append(published + len(batch))
            batch.append(attack)
            if with_good:
                batch += _good_messages(first_good_s + 10 * good_published, 1)
                good_published += 1
        publish_all(mosquitto.port, batch)
        published += len(batch)
        wait_until(lambda: w.stats["messages"] >= published, timeout_s=60)
        assert w.writer_alive()
        assert w.stats["internal_errors"] == 0

    try:
        publish()
        assert w.stats["messages"] == published
        # every good reading stored exactly once, nothing of the hostile meters stored
        series = store.read_series(["good-main", "bad-json", "bad-han", "bad-senml"], 0, 2**40)
        assert set(series) <= {"good-main"}
        got = series["good-main"].ts_s.tolist() if "good-main" in series else []
        assert got == [first_good_s + 10 * i for i in range(good_published)]
        # every hostile message quarantined with a reason
        rows = _quarantine(store)
        quarantined_ks = {(ms - BASE_MS) // STEP_MS for ms, *_ in rows}
        assert quarantined_ks == set(hostile_ks)
        assert all(reason and detail for _, _, reason, detail in rows)
        assert max(len(detail) for *_, detail in rows) <= 2100
        board = _leaderboard(store, competition)
        assert {e["site"] for e in board["entries"]} == {"good", "bad"}
    finally:
        w.stop()
        store.close()
