"""The InfluxDB hourly rollup equals a recomputation from the raw readings, whatever the
arrival order, the batching and the process writing; a store from before it is backfilled."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.rollup import cells_from_readings
from ingest.store.base import Message, StoredReading
from ingest.store.influx import InfluxStore
from tests.ingest.test_rollup import _assert_same_cells, meter_streams

T0 = 1_300_000_000


def _msg(rows) -> Message:
    return Message(
        "t", 1_000, "mqtt", [StoredReading(m, int(t * 1000), e, p) for m, t, e, p in rows]
    )


def _rollup_cells(influxd, db: str) -> dict:
    """The ``hourly`` points as InfluxDB holds them (not through the store under test)."""
    (result,) = influxd.query(
        db, 'SELECT "reg_kwh", "reg_s", "pow_kwh", "pow_s" FROM "hourly" GROUP BY "meter"'
    )
    out = {}
    for series in result.get("series", []):
        for t, *values in series["values"]:
            out[(series["tags"]["meter"], t / 1000.0)] = [v or 0.0 for v in values]
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(readings=meter_streams(), seed=st.integers(0, 2**32 - 1))
def test_the_rollup_equals_a_recomputation_whatever_the_order_and_the_writer(
    influxd, influx_database, readings, seed
):
    """Two store objects (two processes) take turns: each one's remembered tail hours go
    stale when the other writes, and late readings land anywhere."""
    rng = random.Random(seed)
    shuffled = readings[:]
    rng.shuffle(shuffled)
    db = influx_database()
    stores = [InfluxStore(influxd.url(db)), InfluxStore(influxd.url(db, owner="other"))]
    try:
        i = 0
        while i < len(shuffled):
            n = rng.randint(1, 8)
            rng.choice(stores).write([_msg(shuffled[i : i + n])])
            i += n
        stores[0].write([_msg(shuffled[:5])])  # redeliveries change nothing
        _assert_same_cells(_rollup_cells(influxd, db), cells_from_readings(readings))
    finally:
        for store in stores:
            store.close()


def test_a_batch_written_again_after_a_partial_write_keeps_the_totals(influxd, influx_database):
    """A replay writes the same pieces and totals again: nothing is counted twice."""
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    base = T0 - T0 % 3600
    try:
        store.write([_msg([("m", base + 600, 10.0, None)])])
        batch = [("m", base + 1200 + 60 * k, 10.0 + 0.1 * (k + 1), None) for k in range(40)]
        store.write([_msg(batch[:20])])
        # the same batch from a fresh process (as a replay after a crash): its first half is
        # stored, its tail hour's sum is not remembered
        again = InfluxStore(influxd.url(db, owner="replay"))
        again.write([_msg(batch)])
        again.close()
        readings = [("m", base + 600, 10.0, None), *batch]
        _assert_same_cells(_rollup_cells(influxd, db), cells_from_readings(readings))
    finally:
        store.close()


def test_deleted_readings_leave_the_rollup_equal_to_the_rest(influxd, influx_database):
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    base = T0 - T0 % 3600
    readings = [("m", base + 900 * k, 5.0 + 0.7 * k, 100.0 + k) for k in range(20)]
    try:
        store.write([_msg(readings)])
        store.delete_readings("m", (base + 3000) * 1000, (base + 9000) * 1000)
        kept = [r for r in readings if not base + 3000 <= r[1] <= base + 9000]
        _assert_same_cells(_rollup_cells(influxd, db), cells_from_readings(kept))
    finally:
        store.close()


def test_a_store_from_before_the_rollup_reads_pieces_until_backfilled(
    influxd, influx_database, caplog
):
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    base = T0 - T0 % 3600
    readings = [
        (m, base + 600 * k + j, 3.0 * k + j, 50.0 * j + k)
        for k in range(30)
        for j, m in ((0, "a"), (1, "b"))
    ]
    try:
        store.write([_msg(readings)])
        want = store.read_hourly(["a", "b"], base - 3600, base + 86400)
        # as a store written before the rollup existed: pieces, no hourly points, no marker
        influxd.query(db, 'DROP MEASUREMENT "hourly"')
        influxd.query(db, 'DROP MEASUREMENT "schema"')
        old = InfluxStore(influxd.url(db, owner="upgraded"))
        got = old.read_hourly(["a", "b"], base - 3600, base + 86400)
        assert "no complete hourly rollup" in caplog.text
        assert _rollup_cells(influxd, db) == {}
        for meter in ("a", "b"):
            assert got[meter].reg_kwh.tolist() == pytest.approx(want[meter].reg_kwh.tolist())
        meters, points = old.backfill_rollup()
        assert meters == 2 and points > 0
        _assert_same_cells(_rollup_cells(influxd, db), cells_from_readings(readings))
        fresh = InfluxStore(influxd.url(db, owner="after"))
        after = fresh.read_hourly(["a", "b"], base - 3600, base + 86400)
        fresh.close()
        old.close()
        for meter in ("a", "b"):
            assert after[meter].hour_s.tolist() == want[meter].hour_s.tolist()
            assert after[meter].pow_kwh.tolist() == pytest.approx(want[meter].pow_kwh.tolist())
    finally:
        store.close()


def test_a_short_read_of_many_meters_asks_once_and_answers_as_the_grouped_reads(
    influxd, influx_database
):
    """The hours a write changed, of more meters than a query names (``RECENT_SPAN_H``): one
    query of every meter's hours in the span, the meters not asked for left out, the same
    answer as reading them a group at a time."""
    store = InfluxStore(influxd.url(influx_database()))
    try:
        meters = [f"m{i:03d}" for i in range(150)]
        rows = [
            (m, T0 + 600 * k, 10.0 + i + 0.5 * k, None)
            for i, m in enumerate(meters)
            for k in range(30)  # five hours of readings every 10 minutes
        ]
        store.write([_msg(rows)])
        asked = meters[:120]  # more than METERS_PER_QUERY
        start_s, end_s = T0 - T0 % 3600, T0 - T0 % 3600 + 4 * 3600
        queries = []
        real_query = store.http.query
        store.http.query = lambda q, *a, **k: queries.append(q) or real_query(q, *a, **k)
        short = store.read_hourly(asked, start_s, end_s)
        assert sum('FROM "hourly"' in q for q in queries) == 1
        store.http.query = real_query
        grouped = {}
        for lo in range(0, len(asked), 40):
            grouped.update(store.read_hourly(asked[lo : lo + 40], start_s, end_s))
        assert sorted(short) == sorted(grouped) == sorted(asked)
        for meter in asked:
            for field in ("hour_s", "reg_kwh", "reg_s", "pow_kwh", "pow_s"):
                assert getattr(short[meter], field) == pytest.approx(
                    getattr(grouped[meter], field)
                ), (meter, field)
        assert short["m000"].reg_kwh.sum() > 0
    finally:
        store.close()
