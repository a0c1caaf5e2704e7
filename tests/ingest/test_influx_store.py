"""The InfluxDB store against a real InfluxDB 1.x: round trips, duplicates and conflicts, late
readings, hourly energy equal to a recomputation for any arrival order, and a leaderboard equal
to the SQLite store's for the same readings."""

from __future__ import annotations

import base64
import hashlib
import math
import random
import time
from datetime import datetime

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.scoreboard import Scoreboard
from ingest.hourly_energy import site_hours
from ingest.rollup import cells_from_readings, combine_chains
from ingest.store import open_store
from ingest.store.base import Message, Rejected, StoredReading
from ingest.store.influx import MARKER_DELAY_S, InfluxStore
from ingest.store.sqlite import SQLiteStore
from tests import fixtures
from tests.ingest.test_rollup import _assert_same_cells, meter_streams

T0 = 1_300_000_000
HOUR = 3600


@pytest.fixture
def store(influxd, influx_database):
    s = open_store(influxd.url(influx_database()))
    assert isinstance(s, InfluxStore)
    yield s
    s.close()


def _msg(*readings, topic="t", received_ms=1_000, source="mqtt"):
    return Message(topic, received_ms, source, [StoredReading(*r) for r in readings])


def _cells(store, meters) -> dict:
    """Every stored hourly cell: (meter, hour_s) → [reg_kwh, reg_s, pow_kwh, pow_s]."""
    out = {}
    for meter, h in store.read_hourly(meters, 0, 2e9).items():
        for i, hour in enumerate(h.hour_s.tolist()):
            out[(meter, hour)] = [h.reg_kwh[i], h.reg_s[i], h.pow_kwh[i], h.pow_s[i]]
    return out


def test_an_empty_store_reads_as_empty(store):
    assert store.read_series(["m"], 0, 2e9) == {}
    assert store.read_hourly(["m"], 0, 2e9) == {}
    assert store.meter_states() == {}
    assert store.quarantine_counts() == {}
    assert store.list_quarantine() == []
    assert store.count_readings() == 0


def test_readings_round_trip(store):
    t = T0 * 1000
    result = store.write(
        [
            _msg(("m1", t, 100.0, 500.0), ("m1", t + 600_000, 100.5, 600.0), received_ms=t + 5),
            _msg(("m2", t + 1000, None, 1200.0), received_ms=t + 1005, topic="t2", source="http"),
        ]
    )
    assert (result.inserted, result.duplicates, result.conflicts, result.spooled) == (3, 0, 0, 0)
    assert store.count_readings() == 3
    series = store.read_series(["m1", "m2", "absent"], T0, T0 + HOUR)
    assert set(series) == {"m1", "m2"}
    assert series["m1"].ts_s.tolist() == [T0, T0 + 600]
    assert series["m1"].energy_kwh.tolist() == [100.0, 100.5]
    assert series["m1"].power_w.tolist() == [500.0, 600.0]
    assert series["m2"].ts_s.tolist() == [T0 + 1]
    assert np.isnan(series["m2"].energy_kwh[0]) and series["m2"].power_w.tolist() == [1200.0]
    # start inclusive, end exclusive
    assert store.read_series(["m1"], T0 + 600, T0 + 601)["m1"].ts_s.tolist() == [T0 + 600]
    assert store.read_series(["m1"], T0, T0 + 600)["m1"].ts_s.tolist() == [T0]

    states = store.meter_states()
    assert set(states) == {"m1", "m2"}
    assert states["m1"].last_ts_s == T0 + 600 and states["m1"].received_s == (t + 5) / 1000
    assert states["m1"].energy_kwh == 100.5 and states["m1"].power_w == 600.0
    assert states["m2"].energy_kwh is None and states["m2"].power_w == 1200.0


def test_meter_states_of_live_silent_and_long_silent_meters(store):
    """The last reading is found however old it is: minutes, hours, or years."""
    now_ms = int(time.time() * 1000)
    ages_ms = {"live": 5_000, "hours": 5 * 3_600_000, "years": now_ms - T0 * 1000}
    for meter, age_ms in ages_ms.items():
        ts_ms = now_ms - age_ms
        store.write([_msg((meter, ts_ms - 60_000, 1.0, 10.0), (meter, ts_ms, 2.0, 20.0))])
    store.write([_msg(("live", now_ms - 2_000, None, 30.0))])  # newest lacks the register
    states = store.meter_states()
    assert set(states) == set(ages_ms)
    for meter, age_ms in ages_ms.items():
        if meter != "live":
            assert states[meter].last_ts_s == (now_ms - age_ms) / 1000
            assert (states[meter].energy_kwh, states[meter].power_w) == (2.0, 20.0)
    assert states["live"].last_ts_s == (now_ms - 2_000) / 1000
    assert (states["live"].energy_kwh, states["live"].power_w) == (None, 30.0)


def test_hourly_energy_round_trip(store):
    base = T0 - T0 % HOUR
    # register 1 kWh over 10 min across an hour boundary; power 3600 W for the same 10 min
    store.write(
        [_msg(("m", (base + 3300) * 1000, 10.0, 3600.0), ("m", (base + 3900) * 1000, 11.0, 3600.0))]
    )
    hours = store.read_hourly(["m", "other"], base, base + 2 * HOUR)
    assert set(hours) == {"m"}
    h = hours["m"]
    assert h.hour_s.tolist() == [base, base + HOUR]
    assert h.reg_kwh.tolist() == pytest.approx([0.5, 0.5])
    assert h.reg_s.tolist() == pytest.approx([300, 300])
    assert h.pow_kwh.tolist() == pytest.approx([0.3, 0.3])
    assert h.pow_s.tolist() == pytest.approx([300, 300])
    # the range selects hours by their start
    assert store.read_hourly(["m"], base + HOUR, base + 2 * HOUR)["m"].hour_s.tolist() == [
        base + HOUR
    ]


def test_quarantine_round_trip_by_reason_and_ids(store):
    rejected = [
        Rejected("undecodable", "not JSON", "a/b", b"\xff\x00{", 5_000),
        Rejected("unknown_topic", "no meter on x/y", "x/y", b"{}", 6_000, "http"),
        Rejected("undecodable", "still not JSON", "a/b", b"[", 7_000),
    ]
    result = store.write([Message("a/b", 5_000, "mqtt", rejected=rejected)])
    assert (result.inserted, result.quarantined) == (0, 3)
    assert store.quarantine_counts() == {"undecodable": 2, "unknown_topic": 1}
    rows = store.list_quarantine()
    assert [r["received_ms"] for r in rows] == [7_000, 6_000, 5_000]  # most recent first
    by_detail = {r["detail"]: r for r in rows}
    assert by_detail["not JSON"] | {"id": 0} == {
        "id": 0,
        "received_ms": 5_000,
        "source": "mqtt",
        "topic": "a/b",
        "reason": "undecodable",
        "detail": "not JSON",
        "payload": b"\xff\x00{",
        "payload_bytes": 3,
        "payload_sha256": hashlib.sha256(b"\xff\x00{").hexdigest(),
        "payload_truncated": False,
    }
    assert by_detail["no meter on x/y"]["source"] == "http"
    assert len({r["id"] for r in rows}) == 3
    undecodable = store.list_quarantine(reason="undecodable")
    assert [r["detail"] for r in undecodable] == ["still not JSON", "not JSON"]
    assert store.list_quarantine(reason="undecodable", limit=1)[0]["detail"] == "still not JSON"
    assert store.list_quarantine(reason="no_such_reason") == []
    ids = [by_detail["not JSON"]["id"], by_detail["no meter on x/y"]["id"]]
    assert {r["detail"] for r in store.list_quarantine(ids=ids)} == {"not JSON", "no meter on x/y"}
    assert [r["detail"] for r in store.list_quarantine(ids=ids, reason="undecodable")] == [
        "not JSON"
    ]
    assert store.list_quarantine(ids=[]) == []


def test_release_ids_remove_quarantine_entries_with_the_write(store):
    store.write(
        [
            Message(
                "a/b", 5_000, "mqtt", rejected=[Rejected("unknown_meter", "?", "a/b", b"1", 5_000)]
            )
        ]
    )
    (entry,) = store.list_quarantine()
    result = store.write([_msg(("m", T0 * 1000, 1.0, None))], release_ids=[entry["id"]])
    assert result.inserted == 1
    assert store.list_quarantine() == [] and store.quarantine_counts() == {}


def test_a_1mb_message_with_many_bad_readings_stores_its_payload_once_and_cut(store, influxd):
    payload = b'[{"meter": "nobody", "ts": 1300000000, "power_w": 1}' + b" " * (10**6 - 53) + b"]"
    bad = [Rejected("unknown_meter", f"reading[{i}]", "a/b", payload, 5_000) for i in range(500)]
    result = store.write([Message("a/b", 5_000, "mqtt", rejected=bad)])
    assert result.quarantined == 500
    assert store.quarantine_counts() == {"unknown_meter": 500}
    entries = store.list_quarantine(limit=1_000)
    holders = [e for e in entries if e["payload"]]
    assert [(e["detail"], e["payload"]) for e in holders] == [("reading[0]", payload[:49152])]
    sha = hashlib.sha256(payload).hexdigest()
    assert {(e["payload_bytes"], e["payload_sha256"], e["payload_truncated"]) for e in entries} == {
        (10**6, sha, True)
    }
    # what InfluxDB holds: one base64 payload of 48 KiB, not 500 of 1 MB
    (answer,) = influxd.query(store.target.database, 'SELECT "payload_b64" FROM "quarantine"')
    stored = [row[1] for row in answer["series"][0]["values"]]
    assert sorted(len(b) for b in stored)[-2:] == [0, len(base64.b64encode(payload[:49152]))]


def test_entries_written_before_payload_lengths_were_recorded_still_list(store, influxd):
    db = store.target.database
    influxd.create_database(db)
    old = base64.b64encode(b"{oops").decode()
    line = (
        f'quarantine,reason=undecodable detail="old",topic="a/b",source="mqtt",'
        f'payload_b64="{old}",received_ms=2i 2000000000'
    )
    assert influxd.write_lines(db, line, precision="ns").status_code == 204
    (entry,) = store.list_quarantine()  # the measurement has no such fields yet
    assert (entry["payload_bytes"], entry["payload_sha256"], entry["payload_truncated"]) == (
        None,
        None,
        False,
    )
    store.write([Message("a/b", 1, rejected=[Rejected("undecodable", "new", "a/b", b"{", 1)])])
    entries = {e["detail"]: e for e in store.list_quarantine()}
    assert entries["old"]["payload"] == b"{oops"
    assert (entries["old"]["payload_bytes"], entries["old"]["payload_sha256"]) == (None, None)
    assert not entries["old"]["payload_truncated"]
    assert entries["new"]["payload_bytes"] == 1
    assert store.quarantine_counts() == {"undecodable": 2}


def test_reprocessing_in_another_process_keeps_a_message_that_is_quarantined_again(
    influxd, influx_database
):
    db = influx_database()
    url = influxd.url(db)
    ingest, serve = open_store(url), None
    try:
        rejected = Rejected("unknown_meter", "no meter on x/y", "x/y", b"{}", 5_000)
        ingest.write([Message("x/y", 5_000, "mqtt", rejected=[rejected])])
        serve = open_store(influxd.url(db, owner="serve"))  # the API process: its own spool
        (entry,) = serve.list_quarantine()
        # reprocessed with the competition file still unfixed: quarantined anew, old released
        result = serve.write(
            [Message("x/y", 5_000, "mqtt", rejected=[rejected])], release_ids=[entry["id"]]
        )
        assert result.quarantined == 1
        assert serve.quarantine_counts() == {"unknown_meter": 1}
    finally:
        ingest.close()
        if serve is not None:
            serve.close()


def test_same_reading_twice_is_stored_once(store):
    t = T0 * 1000
    first = store.write([_msg(("m1", t, 5.0, 100.0), ("m1", t + 10_000, 6.0, None))])
    again = store.write([_msg(("m1", t, 5.0, 100.0)), _msg(("m1", t + 10_000, 6.0, None))])
    within = store.write([_msg(("m2", t, 1.0, None)), _msg(("m2", t, 1.0, None))])
    assert (first.inserted, first.duplicates) == (2, 0)
    assert (again.inserted, again.duplicates, again.conflicts) == (0, 2, 0)
    assert (within.inserted, within.duplicates) == (1, 1)
    assert store.count_readings() == 3
    assert store.quarantine_counts() == {}


def test_conflicting_duplicate_is_quarantined_not_overwritten(store):
    t = T0 * 1000
    store.write([_msg(("m1", t, 5.0, None), ("m1", t + 60_000, 6.0, None))])
    result = store.write([_msg(("m1", t, 7.5, None), topic="meters/m1", received_ms=5)])
    within = store.write([_msg(("m2", t, 1.0, None)), _msg(("m2", t, 2.0, None))])
    assert (result.inserted, result.conflicts, result.quarantined) == (0, 1, 1)
    assert (within.inserted, within.conflicts) == (1, 1)
    assert store.read_series(["m1"], T0, T0 + 60)["m1"].energy_kwh.tolist() == [5.0]
    assert store.read_series(["m2"], T0, T0 + 60)["m2"].energy_kwh.tolist() == [1.0]
    assert store.quarantine_counts() == {"conflicting_duplicate": 2}
    (row,) = [r for r in store.list_quarantine() if r["topic"] == "meters/m1"]
    assert row["reason"] == "conflicting_duplicate" and row["received_ms"] == 5
    assert "energy_kwh=5" in row["detail"] and "energy_kwh=7.5" in row["detail"]
    # the hourly energy still follows the stored reading: 1 kWh between the two
    assert sum(store.read_hourly(["m1"], 0, 2e9)["m1"].reg_kwh) == pytest.approx(1.0)


def test_late_reading_splits_its_interval_and_lands_in_the_right_hour(store):
    """The SQLite store's test of the same name, against InfluxDB."""
    base = T0 - T0 % HOUR
    store.write(
        [_msg(("m", base * 1000, 100.0, None), ("m", (base + 2 * HOUR) * 1000, 104.0, None))]
    )
    store.write([_msg(("m", (base + HOUR - 900) * 1000, 103.5, None))])
    hours = store.read_hourly(["m"], base, base + 2 * HOUR)["m"]
    energy, measured = combine_chains(hours.reg_kwh, hours.reg_s, hours.pow_kwh, hours.pow_s)
    assert energy.tolist() == pytest.approx([3.6, 0.4])
    assert measured.tolist() == pytest.approx([2700, 0])


def test_late_readings_in_one_batch_and_before_the_first(store):
    base = T0 - T0 % HOUR
    readings = [
        ("m", base + 600, 10.0, 1000.0),
        ("m", base + 3 * HOUR, 13.0, 2000.0),
        ("m", base + 5 * HOUR, 14.0, None),
    ]
    late = [
        ("m", base + 2 * HOUR, 12.5, 500.0),
        ("m", base + HOUR + 60, 11.0, 1500.0),
        ("m", base, 9.75, 800.0),  # before the first reading
        ("m", base + 4 * HOUR, None, 100.0),
    ]
    store.write([_msg(*[(m, int(t * 1000), e, p) for m, t, e, p in readings])])
    store.write([_msg(*[(m, int(t * 1000), e, p) for m, t, e, p in late])])
    _assert_same_cells(_cells(store, ["m"]), cells_from_readings(readings + late))


def test_change_token_changes_after_a_write(store):
    t = T0 * 1000
    tokens = [store.change_token()]

    def changed() -> bool:
        tokens.append(store.change_token())
        return tokens[-1] != tokens[-2]

    store.write([_msg(("m", t, 1.0, None), received_ms=t + 1)])
    assert changed()
    store.write([_msg(("m", t + 60_000, 2.0, None), received_ms=t + 60_001)])
    assert changed()
    store.write([_msg(("m2", t + 120_000, 2.0, None), received_ms=t + 120_001)])
    assert changed()
    assert not changed()  # nothing written: same token


def test_another_process_sees_each_write_soon(influxd, influx_database):
    """The change marker of a write goes out shortly after it (alone, or in the next batch's
    first request): a reader in another process sees every write, the last one included."""
    db = influx_database()
    writer, reader = InfluxStore(influxd.url(db)), InfluxStore(influxd.url(db, owner="reader"))
    t = T0 * 1000

    def seen_change(before: int) -> bool:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if reader.change_token() != before:
                return True
            time.sleep(0.01)
        return False

    try:
        for k in range(3):  # one after another: markers ride in the next batch
            before = reader.change_token()
            writer.write([_msg(("m", t + k * 60_000, float(k), None), received_ms=t + k)])
            assert seen_change(before), f"write {k} not seen by another reader"
        before = reader.change_token()
        writer.write([_msg(("m", t + 600_000, 9.0, None)), _msg(("n", t, 1.0, 5.0))])
        writer.write([_msg(("n", t + 60_000, 2.0, 5.0))])
        assert seen_change(before)
        assert reader.count_readings() == 6
    finally:
        writer.close()
        reader.close()


@pytest.mark.parametrize("meter", ["m", "other"])
def test_change_token_changes_after_a_reading_older_than_the_newest(store, meter):
    t = T0 * 1000
    store.write([_msg(("m", t, 1.0, None), ("m", t + 600_000, 2.0, None), received_ms=t + 600_001)])
    before = store.change_token()
    store.write([_msg((meter, t + 300_000, 1.5, None), received_ms=t + 900_000)])
    assert store.change_token() != before


def test_late_reading_in_a_gap_longer_than_the_lookback(store):
    readings = [("m", T0, 100.0, None), ("m", T0 + 20 * 86400, 300.0, None)]
    late = [("m", T0 + 19 * 86400, 290.0, None)]
    store.write([_msg(*[(m, t * 1000, e, p) for m, t, e, p in readings])])
    store.write([_msg(*[(m, t * 1000, e, p) for m, t, e, p in late])])
    _assert_same_cells(_cells(store, ["m"]), cells_from_readings(readings + late))


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(readings=meter_streams(), seed=st.integers(0, 2**32 - 1))
def test_hourly_energy_summed_by_influxdb_or_here_is_the_same(
    influxd, influx_database, readings, seed
):
    """Dense pieces are summed per hour by InfluxDB, sparse ones here: both give the hours of a
    recomputation, late readings (zeroed pieces) included."""
    rng = random.Random(seed)
    shuffled = readings[:]
    rng.shuffle(shuffled)
    store = InfluxStore(influxd.url(influx_database()))
    try:
        for lo in range(0, len(shuffled), 5):
            store.write([_msg(*[(m, int(t * 1000), e, p) for m, t, e, p in shuffled[lo : lo + 5]])])
        meters = sorted({r[0] for r in readings})
        expected = cells_from_readings(readings)
        for dense in (0, 10**9):  # always summed by InfluxDB, never
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr("ingest.store.influx.DENSE_PIECES_PER_HOUR", dense)
                _assert_same_cells(_cells(store, meters), expected)
    finally:
        store.close()


def test_tiny_and_huge_energy_pieces_round_trip(store):
    """Pieces are written with 12 significant digits, in exponent form where shorter: a
    milliwatt over 10 s and a gigawatt for an hour both come back."""
    readings = [
        ("m", T0, 1e-9, 0.001),
        ("m", T0 + 10, 2e-9, 0.001),
        ("m", T0 + 20, 1e6, 1e9),
        ("m", T0 + 3620, 1e6 + 1e6, 1e9),
    ]
    store.write([_msg(*[(m, ts * 1000, e, p) for m, ts, e, p in readings])])
    got, want = _cells(store, ["m"]), cells_from_readings(readings)
    assert set(got) == set(want)
    for key, cell in want.items():
        np.testing.assert_allclose(got[key], cell, rtol=1e-11, atol=0, err_msg=str(key))
    assert min(v for cell in got.values() for v in cell if v > 0) < 1e-8


@pytest.mark.parametrize("register_age_s", [600, 5 * 3600])  # inside, outside the lookback
def test_a_tail_value_from_before_the_last_reading(store, register_age_s):
    """The last register value is in an earlier reading than the last one (power only):
    found near the batch, or further back."""
    t = T0 + register_age_s
    readings = [
        ("m", T0, 100.0, 50.0),
        ("m", t - 20, None, 500.0),
        ("m", t - 10, None, 600.0),
    ]
    new = [("m", t, 101.0, None), ("m", t + 10, 101.5, 700.0)]
    store.write([_msg(*[(m, ts * 1000, e, p) for m, ts, e, p in readings])])
    store.write([_msg(*[(m, ts * 1000, e, p) for m, ts, e, p in new])])
    _assert_same_cells(_cells(store, ["m"]), cells_from_readings(readings + new))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(readings=meter_streams(), seed=st.integers(0, 2**32 - 1))
def test_any_arrival_order_and_batching_gives_the_same_hours(
    influxd, influx_database, readings, seed
):
    rng = random.Random(seed)
    shuffled = readings[:]
    rng.shuffle(shuffled)
    store = InfluxStore(influxd.url(influx_database()))
    try:
        i = 0
        while i < len(shuffled):
            n = rng.randint(1, 8)
            batch = shuffled[i : i + n]
            i += n
            # sometimes split over several messages of one batch, as the worker does
            cut = rng.randint(0, len(batch))
            store.write(
                [
                    _msg(*[(m, int(t * 1000), e, p) for m, t, e, p in part])
                    for part in (batch[:cut], batch[cut:])
                    if part
                ]
            )
        # some redeliveries change nothing
        again = store.write([_msg(*[(m, int(t * 1000), e, p) for m, t, e, p in shuffled[:5]])])
        assert again.inserted == 0 and again.conflicts == 0
        assert store.count_readings() == len(readings)
        meters = sorted({r[0] for r in readings})
        _assert_same_cells(_cells(store, meters), cells_from_readings(readings))
    finally:
        store.close()


def _leaderboard(store) -> dict:
    app = create_app([fixtures.competition()], store, clock=fixtures.NOW.timestamp)
    client = TestClient(app)
    board = client.get("/api/competitions/liten/leaderboard").json()
    intensity = client.get("/api/competitions/liten/leaderboard?metric=kwh_per_m2").json()
    series = client.get("/api/competitions/liten/sites/alfa/series?resolution=day").json()
    return {"reduction": board, "kwh_per_m2": intensity, "series": series}


def test_leaderboard_from_influxdb_equals_the_one_from_sqlite(influxd, influx_database, tmp_path):
    sqlite_store = SQLiteStore(tmp_path / "same.db")
    influx_store = InfluxStore(influxd.url(influx_database()))
    try:
        fixtures.seed(sqlite_store)
        fixtures.seed(influx_store)
        from_sqlite, from_influx = _leaderboard(sqlite_store), _leaderboard(influx_store)
    finally:
        sqlite_store.close()
        influx_store.close()
    entries = from_influx["reduction"]["entries"]
    assert [e["site"] for e in entries] == ["alfa", "beta", "gamma"]
    assert entries[0]["reduction_pct"] == pytest.approx(20.0)
    assert entries[0]["live_power_kw"] == pytest.approx(8.0)
    # byte for byte the same JSON: every figure to its last digit
    assert orjson.dumps(from_influx, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        from_sqlite, option=orjson.OPT_SORT_KEYS
    )


def test_scores_read_again_in_part_equal_scores_read_afresh(influxd, influx_database, monkeypatch):
    """After each write (new hours, a late reading in an earlier hour, nothing new) the
    scoreboard reads only the hours from the earliest changed one: its snapshot equals one
    computed from a full read."""
    reads: list[float] = []  # the first hour of each read (the history, then the period)

    def recorded(store, meters_by_site, hour_start_s, until_s=None):
        reads.append(float(hour_start_s[0]))
        return site_hours(store, meters_by_site, hour_start_s, until_s)

    monkeypatch.setattr("api.scoreboard.site_hours", recorded)
    db = influx_database()
    writer, reader = InfluxStore(influxd.url(db)), InfluxStore(influxd.url(db, owner="reader"))
    clock = [fixtures.NOW.timestamp() - 48 * HOUR]
    try:
        fixtures.seed(writer, until=datetime.fromtimestamp(clock[0], fixtures.TZ))
        time.sleep(MARKER_DELAY_S * 3)  # the seed's change marker goes out
        board = Scoreboard(fixtures.competition(), reader, clock=lambda: clock[0])
        board.snapshot()
        t_ms = int(clock[0] * 1000)
        steps = [
            # new readings, an hour on
            [_msg(("alfa-main", t_ms + 3_600_000 + k * 600_000, 1e5 + k, 800.0)) for k in range(3)],
            # a late reading a day back splits an interval: its hours change
            [_msg(("beta-main", t_ms - 86_400_000 - 1_800_000, None, 90_000.0))],
            # nothing stored (a duplicate): the minute turns
            [_msg(("alfa-main", t_ms + 3_600_000, 1e5, 800.0))],
        ]
        start_s = board.grid.hour_start_s[0]
        # the earliest hour each step changes: the tail, the hourly reading before the late one
        first_read = [t_ms / 1000, t_ms / 1000 - 86_400 - HOUR, t_ms / 1000]
        for messages, first_s in zip(steps, first_read, strict=True):
            writer.write(messages)
            clock[0] += 120.0
            time.sleep(MARKER_DELAY_S * 3)  # the change marker goes out
            reads.clear()
            got = board.snapshot()
            assert start_s < reads[-1] <= first_s  # only the hours a write may have changed
            fresh = Scoreboard(fixtures.competition(), reader, clock=lambda: clock[0]).snapshot()
            np.testing.assert_allclose(got.actual.energy_kwh, fresh.actual.energy_kwh)
            np.testing.assert_array_equal(got.actual.measured_s, fresh.actual.measured_s)
            np.testing.assert_allclose(got.metrics.reduction_pct, fresh.metrics.reduction_pct)
    finally:
        writer.close()
        reader.close()


def test_a_write_says_from_when_it_changed_hourly_energy(store):
    t = T0 * 1000
    store.write([_msg(("m", t, 1.0, None), ("m", t + 7_200_000, 3.0, None))])
    token = store.change_token()
    assert store.changed_since_s(token) == math.inf  # nothing since
    store.write([_msg(("m", t + 10_800_000, 4.0, None))])  # new: from the tail on
    assert store.changed_since_s(token) == (t + 7_200_000) / 1000
    token = store.change_token()
    store.write([_msg(("m", t + 3_600_000, 2.0, None))])  # late: from the pair it splits on
    assert store.changed_since_s(token) == t / 1000
    token = store.change_token()
    store.delete_readings("m", t, t)  # says nothing: read everything again
    assert store.changed_since_s(token) is None
    assert store.changed_since_s(12345) is None  # a token this store never gave
