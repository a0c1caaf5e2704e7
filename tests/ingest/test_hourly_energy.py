"""Store → hourly site energy: outages in power meters are holes, not savings."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.hourly_energy import site_hours
from ingest.store.base import Message, StoredReading
from ingest.store.sqlite import SQLiteStore

T0 = 1_300_000_000 - 1_300_000_000 % 3600  # an hour boundary [Unix s]


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "h.db")
    yield s
    s.close()


def _power(store, meter, times_s, power_w):
    store.write(
        [
            Message(
                "t",
                0,
                "test",
                [StoredReading(meter, int(t * 1000), None, power_w) for t in times_s],
            )
        ]
    )


def test_power_outage_inside_a_counted_hour_is_not_a_saving(store):
    # 1000 W every 10 s, silent from T0+1000 to T0+5000: hour 0 has 1000 s measured (< half),
    # hour 1 has 2200 s measured (counted), hour 2 is complete.
    times = [t for t in range(T0, T0 + 3 * 3600 + 1, 10) if not T0 + 1000 < t < T0 + 5000]
    _power(store, "p", times, 1000.0)
    hours = site_hours(store, [["p"]], np.array([T0, T0 + 3600, T0 + 7200], dtype=float))
    assert hours.measured_s[0].tolist() == pytest.approx([1000, 2200, 3600])
    # the counted, partly measured hour is scaled to the whole hour: 1 kWh, as measured load
    assert hours.energy_kwh[0][1:].tolist() == pytest.approx([1.0, 1.0])


def test_site_energy_is_the_sum_of_its_meters_and_measured_as_far_as_all_are(store):
    store.write(
        [
            Message(
                "t",
                0,
                "test",
                [StoredReading("a", (T0 + k * 900) * 1000, 10.0 + k, None) for k in range(9)],
            )
        ]
    )
    store.write(
        [
            Message(
                "t",
                0,
                "test",
                [StoredReading("b", (T0 + k * 900) * 1000, 5.0 + 0.5 * k, None) for k in range(5)],
            )
        ]
    )
    hours = site_hours(store, [["a", "b"]], np.array([T0, T0 + 3600], dtype=float))
    # a: 1 kWh per 15 min → 4 kWh per hour; b: 2 kWh in hour 0 and nothing after
    assert hours.energy_kwh[0].tolist() == pytest.approx([6.0, 4.0])
    assert hours.measured_s[0].tolist() == pytest.approx([3600, 0])


def test_a_site_without_readings_has_nothing_measured(store):
    hours = site_hours(store, [["ghost"]], np.array([T0], dtype=float))
    assert hours.energy_kwh.tolist() == [[0.0]] and hours.measured_s.tolist() == [[0.0]]
