"""Hourly energy kept incrementally equals a recomputation, whatever the arrival order."""

from __future__ import annotations

import random
import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.rollup import cells_from_readings, combine_chains
from ingest.store.base import Message, StoredReading
from ingest.store.sqlite import SQLiteStore

T0 = 1_300_000_000


@st.composite
def meter_streams(draw):
    """Readings of 1-3 meters: gaps from seconds to hours, registers with resets, power."""
    readings = []
    for meter in ("m1", "m2", "m3")[: draw(st.integers(1, 3))]:
        t, register = T0 + draw(st.integers(0, 3600)), draw(st.floats(0, 1e5))
        for _ in range(draw(st.integers(2, 40))):
            t += draw(st.sampled_from([10, 60, 300, 900, 1800, 3600, 5000, 20000]))
            register += draw(st.floats(0, 20))
            if draw(st.integers(0, 30)) == 0:
                register = draw(st.floats(0, 0.5))  # a reset
            kind = draw(st.sampled_from(["both", "reg", "pow"]))
            energy = register if kind != "pow" else None
            power = draw(st.floats(0, 50_000)) if kind != "reg" else None
            readings.append((meter, t, energy, power))
    return readings


def _hourly_rows(store: SQLiteStore) -> dict:
    conn = sqlite3.connect(store.path)
    rows = conn.execute("SELECT meter_id, hour_s, reg_kwh, reg_s, pow_kwh, pow_s FROM hourly")
    out = {(m, float(h)): [a, b, c, d] for m, h, a, b, c, d in rows}
    conn.close()
    return out


def _assert_same_cells(stored: dict, expected: dict) -> None:
    keys = {k for k, v in expected.items() if any(abs(x) > 1e-9 for x in v)}
    keys |= {k for k, v in stored.items() if any(abs(x) > 1e-9 for x in v)}
    for key in keys:
        got, want = stored.get(key, [0.0] * 4), expected.get(key, [0.0] * 4)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6, err_msg=str(key))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(readings=meter_streams(), seed=st.integers(0, 2**32 - 1))
def test_any_arrival_order_and_batching_gives_the_same_hours(tmp_path_factory, readings, seed):
    rng = random.Random(seed)
    shuffled = readings[:]
    rng.shuffle(shuffled)
    store = SQLiteStore(tmp_path_factory.mktemp("rollup") / "r.db")
    i = 0
    while i < len(shuffled):
        n = rng.randint(1, 8)
        batch = shuffled[i : i + n]
        i += n
        store.write(
            [
                Message(
                    "t", 0, "test", [StoredReading(m, int(t * 1000), e, p) for m, t, e, p in batch]
                )
            ]
        )
    # some redeliveries change nothing
    store.write(
        [
            Message(
                "t",
                0,
                "test",
                [StoredReading(m, int(t * 1000), e, p) for m, t, e, p in shuffled[:5]],
            )
        ]
    )
    _assert_same_cells(_hourly_rows(store), cells_from_readings(readings))
    store.close()


def test_late_reading_splits_its_interval_and_lands_in_the_right_hour(tmp_path):
    store = SQLiteStore(tmp_path / "late.db")
    hour = 3600
    base = T0 - T0 % hour

    def write(*readings):
        store.write(
            [
                Message(
                    "t",
                    0,
                    "test",
                    [StoredReading("m", (base + t) * 1000, e, None) for t, e in readings],
                )
            ]
        )

    write((0, 100.0), (2 * hour, 104.0))  # 4 kWh spread over two hours: 2 + 2
    write((hour - 900, 103.5))  # late: 3.5 kWh in the first 45 min, 0.5 kWh after
    hours = store.read_hourly(["m"], base, base + 2 * hour)["m"]
    energy, measured = combine_chains(hours.reg_kwh, hours.reg_s, hours.pow_kwh, hours.pow_s)
    # [0, 2700 s] holds 3.5 kWh; [2700, 7200 s] holds 0.5 kWh over 4500 s:
    # hour 0 = 3.5 + 0.5 * 900/4500 = 3.6; hour 1 = 0.5 * 3600/4500 = 0.4
    assert energy.tolist() == pytest.approx([3.6, 0.4])
    # the 2 h span (> 65 min) was not measured; after the split the 2700 s span counts, the
    # 4500 s one is still too long
    assert measured.tolist() == pytest.approx([2700, 0])
    store.close()


def test_late_reading_in_a_month_long_gap_splits_it_exactly(tmp_path):
    store = SQLiteStore(tmp_path / "gap.db")
    base = T0 - T0 % 3600
    month = 30 * 86400

    def write(*readings):
        store.write(
            [
                Message(
                    "t",
                    0,
                    "test",
                    [StoredReading("m", (base + t) * 1000, e, None) for t, e in readings],
                )
            ]
        )

    write((0, 100.0), (month, 820.0))  # 720 kWh spread over 720 hours: 1 kWh each
    write((month // 2, 400.0))  # late, half way: 300 kWh in the first half, 420 in the second
    hours = store.read_hourly(["m"], base, base + month)["m"]
    assert hours.reg_kwh.sum() == pytest.approx(720.0)
    assert hours.reg_kwh[:360].sum() == pytest.approx(300.0)
    store.close()
