"""Held data of both stores: items held by organisers' tools and by ingest come back whole,
are decided once, and a message's held items are stored with its readings or not at all, also
through InfluxDB's spool and when InfluxDB refuses the message."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

import ingest.store.influx as influx_module
import ingest.store.sqlite as sqlite_module
from ingest.isolating_write import write_isolating
from ingest.store import open_store
from ingest.store.base import Message, StoredReading
from ingest.store.held import HELD_MAX_ROWS, HeldDecided, HeldItem, UnknownHeld
from ingest.store.influx import InfluxStore
from ingest.store.influx_held import HeldDamaged
from ingest.store.spool import decode_messages, encode_messages
from ingest.store.sqlite import SQLiteStore
from tests.influx_proxy import InfluxProxy
from tests.services import wait_until

H0_MS = 1_300_003_200_000  # an hour start (2011-03-13 08:00 UTC)
BASELINE_MS = H0_MS - 14 * 86_400_000  # in the locked pre-period
BAD_POWER_W = 4242.0  # the proxy refuses a reading with this power, as a type conflict


def _held(meter: str = "soder-main", kind: str = "readings", rows: int = 4, **changes) -> HeldItem:
    payloads = {
        "readings": [[BASELINE_MS + i * 900_000, 1000.0 + i + 50, None] for i in range(rows)],
        "import": [[BASELINE_MS + i * 3_600_000, None, 9000.0 + i] for i in range(rows)],
        "bills": [[BASELINE_MS, BASELINE_MS + 30 * 86_400_000, 7200.5]],
        "temperatures": [[BASELINE_MS + i * 3_600_000, -3.5 + i] for i in range(rows)],
    }
    payload = payloads.get(kind, payloads["readings"])
    values = {
        "competition": "kommunhus-2011",
        "site": "soderhamn",
        "meter": meter,
        "kind": kind,
        "source": "mqtt",
        "received_ms": H0_MS + 5_000,
        "first_ts_ms": payload[0][0],
        "last_ts_ms": payload[-1][1] if kind == "bills" else payload[-1][0],
        "payload": payload,
        "what_if": {"baseline_kwh": [960.0, 1010.0], "reduction_pct": [10.0, 91.8]},
    }
    return HeldItem(**{**values, **changes})


def _readings(meter: str, n: int = 3, power_w: float = 500.0) -> list[StoredReading]:
    return [StoredReading(meter, H0_MS + i * 10_000, 1000.0 + i / 100, power_w) for i in range(n)]


# -- held by organisers' tools -------------------------------------------------------------


def test_held_items_come_back_whole(any_store):
    organiser = any_store.organiser
    items = [
        _held(),
        _held(kind="import", source="import", rows=300),
        _held(kind="bills", site="bollnas", source="import"),
        _held(meter="smhi-gavle", kind="temperatures", source="import", topic="import:weather"),
    ]
    ids = organiser.hold(items)
    assert len(set(ids)) == 4
    held = organiser.list_held("kommunhus-2011")
    assert [h.id for h in held] == ids  # in id order, the order they were held
    for item, back, held_id in zip(items, held, ids, strict=True):
        assert back == HeldItem(**{**_fields(item), "id": held_id})
        assert organiser.get_held(held_id) == back
    assert [h.id for h in organiser.list_held("kommunhus-2011", site="bollnas")] == [ids[2]]
    assert organiser.list_held("annan") == []
    assert organiser.get_held(12345) is None
    assert isinstance(held[0].payload[0][0], int) and held[0].payload[0][2] is None


def _fields(item: HeldItem) -> dict:
    return {name: getattr(item, name) for name in HeldItem.__dataclass_fields__}


def test_a_held_item_is_decided_once(any_store):
    organiser = any_store.organiser
    first, second = organiser.hold([_held(), _held(meter="soder-sub")])
    with pytest.raises(ValueError, match="accepted or rejected"):
        organiser.decide(first, "approved", "anna", "ok", H0_MS)
    with pytest.raises(ValueError, match="reason must not be empty"):
        organiser.decide(first, "accepted", "anna", "", H0_MS)
    changed = organiser.set_what_if(first, {"reduction_pct": [10.0, 12.5]})
    assert changed.what_if == {"reduction_pct": [10.0, 12.5]}
    decided = organiser.decide(first, "accepted", "anna", "mätaren byttes", H0_MS + 60_000)
    assert (decided.status, decided.decided_by, decided.decided_ms, decided.reason) == (
        "accepted",
        "anna",
        H0_MS + 60_000,
        "mätaren byttes",
    )
    assert organiser.get_held(first) == decided
    with pytest.raises(HeldDecided, match=r"already accepted by anna.*only a pending item"):
        organiser.decide(first, "rejected", "bo", "nej", H0_MS + 120_000)
    with pytest.raises(HeldDecided):
        organiser.set_what_if(first, {})
    with pytest.raises(UnknownHeld, match="no held item 999"):
        organiser.decide(999, "rejected", "bo", "nej", H0_MS)
    organiser.decide(second, "rejected", "bo", "gateway replayed its buffer", H0_MS + 1)
    assert organiser.get_held(first) == decided  # unchanged by the failed attempts
    assert organiser.list_held("kommunhus-2011") == []
    assert [h.status for h in organiser.list_held("kommunhus-2011", status=None)] == [
        "accepted",
        "rejected",
    ]
    assert [h.id for h in organiser.list_held("kommunhus-2011", status="rejected")] == [second]


def test_the_same_data_is_held_once_while_pending(any_store):
    organiser = any_store.organiser
    (first,) = organiser.hold([_held()])
    # again, received later with other figures: the pending item's id
    again = organiser.hold([_held(received_ms=H0_MS + 99_000, what_if={}), _held(rows=5)])
    assert again[0] == first and again[1] != first
    organiser.decide(first, "rejected", "anna", "no", H0_MS)
    (third,) = organiser.hold([_held()])  # decided: the data is held anew
    assert third not in (first, again[1])
    assert len(organiser.list_held("kommunhus-2011", status=None)) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "weather"}, "kind must be one of readings, import, bills, temperatures"),
        ({"payload": [[BASELINE_MS, 1.0]]}, r"row 0 of a held readings item must be \[ts_ms"),
        ({"payload": [[BASELINE_MS, float("inf"), None]]}, "finite number or null"),
        ({"payload": [[1.5, 1.0, None]]}, "integer"),
        ({"what_if": [1, 2]}, "JSON object"),
        ({"last_ts_ms": BASELINE_MS - 1}, "before its first_ts_ms"),
        ({"status": "accepted"}, "pending"),
        ({"id": 5}, "the store's"),
    ],
)
def test_an_item_the_store_cannot_keep_is_refused(any_store, changes, message):
    with pytest.raises(ValueError, match=message):
        any_store.organiser.hold([_held(meter="other"), _held(**changes)])
    assert any_store.organiser.list_held("kommunhus-2011", status=None) == []  # nor the other


def test_a_payload_of_the_most_rows_round_trips_and_one_more_is_refused(any_store):
    organiser = any_store.organiser
    with pytest.raises(ValueError, match=r"100,001 rows; at most 100,000.*several items"):
        organiser.hold([_held(rows=HELD_MAX_ROWS + 1)])
    (held_id,) = organiser.hold([_held(rows=HELD_MAX_ROWS)])
    back = organiser.get_held(held_id)
    assert back.payload == _held(rows=HELD_MAX_ROWS).payload


def test_sqlite_keeps_what_was_held_and_decided(tmp_path):
    path = tmp_path / "held.db"
    store = SQLiteStore(path)
    try:
        first, second = store.organiser.hold([_held(), _held(meter="soder-sub")])
        store.organiser.decide(first, "accepted", "anna", "ok", H0_MS)
        conn = sqlite3.connect(path)
        for sql, message in (
            (f"UPDATE held SET status = 'rejected' WHERE id = {first}", "decision is final"),
            (f"UPDATE held SET payload = '[]' WHERE id = {second}", "cannot change"),
            (f"DELETE FROM held WHERE id = {second}", "are kept"),
        ):
            with pytest.raises(sqlite3.IntegrityError, match=message):
                conn.execute(sql)
        conn.close()
    finally:
        store.close()


def test_influx_refuses_to_read_a_damaged_payload(influxd, influx_database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    try:
        (held_id,) = store.organiser.hold([_held(rows=20_000)])
        parts = influxd.count_points(db, "held_payload")
        assert parts > 1  # a payload larger than a string field: in parts
        influxd.query(db, f'DELETE FROM "held_payload" WHERE "part" = \'1\' AND time = {held_id}')
        with pytest.raises(
            HeldDamaged, match=f"held item {held_id}.*{parts - 1} of its {parts} parts"
        ):
            store.organiser.get_held(held_id)
    finally:
        store.close()


# -- held by ingest, with its message's readings -------------------------------------------


def test_a_messages_held_items_are_stored_with_its_readings(any_store):
    msg = Message(
        "wattleague/kommunhus-2011/soderhamn/soder-main",
        H0_MS + 5_000,
        "mqtt",
        _readings("soder-main"),
        payload=b"{}",
        held=[_held(), _held(kind="temperatures", meter="smhi", topic="weather/smhi")],
    )
    written = write_isolating(any_store, [(msg, msg.payload)])  # as the ingest worker writes
    assert (written.inserted, written.held, written.isolated) == (3, 2, 0)
    assert any_store.read_series(["soder-main"], 0, 2e9)["soder-main"].ts_s.size == 3
    readings, temperatures = any_store.organiser.list_held("kommunhus-2011")
    assert readings.topic == msg.topic  # from the message
    assert temperatures.topic == "weather/smhi"  # its own
    assert readings.payload == _held().payload
    # the message delivered again (the worker was stopped before its acknowledgement)
    again = Message(msg.topic, H0_MS + 9_000, "mqtt", _readings("soder-main"), held=[_held()])
    result = any_store.write([again])
    assert (result.inserted, result.duplicates, result.held) == (0, 3, 1)
    assert len(any_store.organiser.list_held("kommunhus-2011")) == 2


def test_sqlite_stores_neither_when_the_write_fails(tmp_path, monkeypatch):
    store = SQLiteStore(tmp_path / "atomic.db")
    real = sqlite_module.insert_held

    def insert_then_fail(cur, items):
        real(cur, items)
        raise sqlite3.OperationalError("disk I/O error")

    try:
        monkeypatch.setattr(sqlite_module, "insert_held", insert_then_fail)
        msg = Message("t/soder-main", H0_MS, "mqtt", _readings("soder-main"), held=[_held()])
        with pytest.raises(sqlite3.OperationalError):
            store.write([msg])
        assert store.count_readings() == 0
        assert store.organiser.list_held("kommunhus-2011", status=None) == []
        monkeypatch.setattr(sqlite_module, "insert_held", real)
        assert store.write([msg]).held == 1  # the same message again, once the disk is back
        assert store.count_readings() == 3
        assert len(store.organiser.list_held("kommunhus-2011")) == 1
    finally:
        store.close()


def test_sqlite_refuses_a_message_with_an_item_it_cannot_keep(tmp_path):
    store = SQLiteStore(tmp_path / "refused.db")
    try:
        bad = Message("t/m", H0_MS, "mqtt", _readings("m"), held=[_held(kind="weather")])
        good = Message("t/n", H0_MS, "mqtt", _readings("n"), payload=b"n", held=[_held("n")])
        written = write_isolating(store, [(bad, b"raw"), (good, good.payload)])
        assert (written.inserted, written.held, written.isolated) == (3, 1, 1)
        assert set(store.meter_states()) == {"n"}
        (entry,) = store.list_quarantine()
        assert entry["reason"] == "store_rejected" and "kind must be one of" in entry["detail"]
    finally:
        store.close()


@pytest.fixture
def proxy(influxd):
    p = InfluxProxy(influxd.base_url).start()
    yield p
    p.stop()


@pytest.fixture
def _short_backoff(monkeypatch):
    monkeypatch.setattr(influx_module, "REPLAY_BACKOFF_MAX_S", 1.0)


def test_influx_posts_held_items_with_the_first_readings(influxd, influx_database, proxy):
    db = influx_database()
    store = InfluxStore(proxy.url(db, f"{influxd.workdir}/spool-{db}.db"))
    posted: list[tuple[str, list[str]]] = []
    real = store.http.write

    def recording(lines, precision="ms", **kwargs):
        posted.append((precision, list(lines)))
        return real(lines, precision=precision, **kwargs)

    store.http.write = recording
    try:
        msg = Message("t/soder-main", H0_MS, "mqtt", _readings("soder-main"), held=[_held()])
        assert store.write([msg]).held == 1
        (request,) = [(p, lines) for p, lines in posted if any("held" in x for x in lines)]
        precision, lines = request
        assert precision == "ns"
        assert [line.split(",")[0] for line in lines].count("reading") == 3  # the same request
        assert any(line.startswith("held_payload,") for line in lines)
        stored = store.read_series(["soder-main"], 0, 2e9)["soder-main"]
        assert stored.ts_s.tolist() == [r.ts_ms / 1000 for r in _readings("soder-main")]
    finally:
        store.close()


def test_influx_stores_neither_of_a_refused_message(influxd, influx_database, proxy):
    db = influx_database()
    store = InfluxStore(proxy.url(db, f"{influxd.workdir}/spool-{db}.db"))
    try:
        proxy.refuse = lambda line: f"power_w={BAD_POWER_W!r}," in line
        bad = Message(
            "t/bad",
            H0_MS,
            "mqtt",
            _readings("bad", power_w=BAD_POWER_W),
            payload=b"raw",
            held=[_held("b")],
        )
        good = Message("t/good", H0_MS, "mqtt", _readings("good"), payload=b"ok", held=[_held("g")])
        result = store.write([bad, good])
        assert proxy.answered["partial"] >= 1  # the first request held both messages' items
        assert (result.store_rejected, result.held, result.inserted) == (1, 1, 3)
        proxy.clear()
        (held,) = store.organiser.list_held("kommunhus-2011", status=None)
        assert held.meter == "g"
        assert influxd.count_points(db, "held") == 1
        assert set(store.meter_states()) == {"good"}
        (entry,) = store.list_quarantine()
        assert (entry["reason"], entry["payload"]) == ("store_rejected", b"raw")
    finally:
        store.close()


@pytest.mark.usefixtures("_short_backoff")
def test_influx_spools_held_items_and_replays_them(influxd, influx_database, proxy):
    db = influx_database()
    store = InfluxStore(proxy.url(db, f"{influxd.workdir}/spool-{db}.db"), replay_interval_s=0.1)
    try:
        proxy.fail(500)
        msg = Message("t/soder-main", H0_MS, "mqtt", _readings("soder-main"), held=[_held()])
        result = store.write([msg])
        assert (result.spooled, result.held) == (3, 1)
        assert store.spool_depth() == 1
        (spooled_id,) = [item.id for item in msg.held]  # given before it was spooled
        assert influxd.count_points(db, "held") == 0
        proxy.clear()
        wait_until(lambda: store.spool_depth() == 0)
        (held,) = store.organiser.list_held("kommunhus-2011")
        assert held.id == spooled_id and held.payload == _held().payload
        assert held.topic == "t/soder-main"
        assert store.count_readings() == 3
        # the batch written again (as a replay after a part of it was written): a decision
        # taken meanwhile stays, and the item is not held twice
        store.organiser.decide(spooled_id, "rejected", "anna", "a replayed buffer", H0_MS)
        assert store.write([msg]).held == 1
        (back,) = store.organiser.list_held("kommunhus-2011", status=None)
        assert (back.id, back.status) == (spooled_id, "rejected")
    finally:
        store.close()


def test_the_spool_keeps_held_items_and_reads_batches_without(tmp_path):
    item = _held(id=7_000_001, topic="t/a")
    msg = Message("t/a", H0_MS, "mqtt", _readings("a"), payload=b"x", held=[item])
    assert decode_messages(encode_messages([msg])) == [msg]
    old = orjson.dumps(  # a batch spooled before held data
        [
            {
                "topic": "t/a",
                "received_ms": 1,
                "source": "mqtt",
                "readings": [["a", 7, 1.0, None]],
                "rejected": [],
                "temperatures": [],
                "payload": "",
            }
        ]
    )
    (back,) = decode_messages(old)
    assert back.held == [] and back.readings == [StoredReading("a", 7, 1.0, None)]


def test_held_data_survives_a_restart(store_url):
    store = open_store(store_url)
    (held_id,) = store.organiser.hold([_held()])
    store.close()
    store = open_store(store_url)
    try:
        assert store.organiser.get_held(held_id).payload == _held().payload
        store.organiser.decide(held_id, "accepted", "anna", "ok", H0_MS)
    finally:
        store.close()
