"""Tests for spreading interval energy onto an hour grid."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.hourly import spread_to_hours

T0 = datetime(2011, 3, 7, 8, tzinfo=UTC).timestamp()  # grid starts at 08:00
H = 3600.0
GRID = T0 + H * np.arange(4)  # hours 08, 09, 10, 11


def at(hour: float) -> float:
    """Unix time of a (fractional) clock hour on the grid's day, e.g. 9.5 = 09:30."""
    return T0 + (hour - 8.0) * H


def spread(spans, energy, measured=None, grid=GRID):
    start = np.array([at(a) for a, _ in spans], dtype=float)
    end = np.array([at(b) for _, b in spans], dtype=float)
    energy = np.array(energy, dtype=float)
    measured = np.ones(len(spans), dtype=bool) if measured is None else np.array(measured)
    return spread_to_hours(start, end, energy, measured, grid)


def test_interval_inside_one_hour_goes_to_that_hour():
    # 09:10-09:40 (1800 s), 0.3 kWh: all in hour 09
    energy, measured_s = spread([(9 + 10 / 60, 9 + 40 / 60)], [0.3])
    np.testing.assert_allclose(energy, [0.0, 0.3, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(measured_s, [0.0, 1800.0, 0.0, 0.0], atol=1e-6)


def test_interval_across_three_hours_is_split_in_proportion_to_time():
    # 09:30-11:30, 2 kWh over 7200 s = 1 kWh per 3600 s:
    # hour 09: 1800 s -> 0.5; hour 10: 3600 s -> 1.0; hour 11: 1800 s -> 0.5
    energy, measured_s = spread([(9.5, 11.5)], [2.0])
    np.testing.assert_allclose(energy, [0.0, 0.5, 1.0, 0.5], atol=1e-12)
    np.testing.assert_allclose(measured_s, [0.0, 1800.0, 3600.0, 1800.0], atol=1e-6)


def test_interval_exactly_on_hour_boundaries():
    # 09:00-10:00, 0.7 kWh: hour 09 only
    energy, measured_s = spread([(9.0, 10.0)], [0.7])
    np.testing.assert_allclose(energy, [0.0, 0.7, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(measured_s, [0.0, 3600.0, 0.0, 0.0], atol=1e-6)


def test_several_intervals_in_one_hour_add_up():
    # 08:00-08:15 0.1 + 08:15-08:30 0.2 + 08:45-09:00 0.3 = 0.6 kWh, 2700 s measured
    energy, measured_s = spread([(8.0, 8.25), (8.25, 8.5), (8.75, 9.0)], [0.1, 0.2, 0.3])
    np.testing.assert_allclose(energy, [0.6, 0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(measured_s, [2700.0, 0.0, 0.0, 0.0], atol=1e-6)


def test_hours_outside_any_interval_are_zero():
    # 08:15-08:45 1 kWh and 10:30-10:45 0.25 kWh: hours 09 and 11 see nothing
    energy, measured_s = spread([(8.25, 8.75), (10.5, 10.75)], [1.0, 0.25])
    np.testing.assert_allclose(energy, [1.0, 0.0, 0.25, 0.0], atol=1e-12)
    np.testing.assert_allclose(measured_s, [1800.0, 0.0, 900.0, 0.0], atol=1e-6)


def test_gap_between_intervals_carries_no_energy():
    # 08:30-09:00 0.5 kWh, gap 09:00-10:00, 10:00-10:30 0.5 kWh
    energy, _ = spread([(8.5, 9.0), (10.0, 10.5)], [0.5, 0.5])
    np.testing.assert_allclose(energy, [0.5, 0.0, 0.5, 0.0], atol=1e-12)


def test_energy_is_conserved_when_grid_covers_all_intervals():
    # 0.3 + 2.0 + 0.25 + 1.45 = 4.0 kWh
    energy, _ = spread(
        [(8.1, 8.2), (8.2, 10.4), (10.4, 10.9), (11.0, 11.99)], [0.3, 2.0, 0.25, 1.45]
    )
    assert energy.sum() == pytest.approx(4.0, rel=1e-12)


def test_measured_seconds_sum_to_measured_interval_lengths():
    # 08:30-09:30 (3600 s) + 10:00-10:20 (1200 s) = 4800 s
    _, measured_s = spread([(8.5, 9.5), (10.0, 10.0 + 20 / 60)], [1.0, 1.0])
    np.testing.assert_allclose(measured_s, [1800.0, 1800.0, 1200.0, 0.0], atol=1e-6)
    assert measured_s.sum() == pytest.approx(4800.0)


def test_unmeasured_interval_carries_energy_but_no_measured_seconds():
    # long register gap 08:00-12:00 with 4 kWh: 1 kWh per hour, 0 s measured
    energy, measured_s = spread([(8.0, 12.0)], [4.0], measured=[False])
    np.testing.assert_allclose(energy, [1.0, 1.0, 1.0, 1.0], atol=1e-12)
    np.testing.assert_array_equal(measured_s, [0.0, 0.0, 0.0, 0.0])


def test_mixed_measured_and_unmeasured_intervals():
    # 08:00-08:30 measured 0.5 kWh; 08:30-10:30 unmeasured 2 kWh (1 kWh/h):
    # hour 08: 0.5 + 0.5 = 1.0 kWh, 1800 s; hour 09: 1.0, 0 s; hour 10: 0.5, 0 s
    energy, measured_s = spread([(8.0, 8.5), (8.5, 10.5)], [0.5, 2.0], measured=[True, False])
    np.testing.assert_allclose(energy, [1.0, 1.0, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(measured_s, [1800.0, 0.0, 0.0, 0.0], atol=1e-6)


def test_interval_partly_before_the_grid_contributes_only_its_overlap():
    # 07:00-09:00, 2 kWh (1 kWh/h): only 08:00-09:00 lies on the grid -> 1 kWh, 3600 s
    energy, measured_s = spread([(7.0, 9.0)], [2.0])
    np.testing.assert_allclose(energy, [1.0, 0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(measured_s, [3600.0, 0.0, 0.0, 0.0], atol=1e-6)


def test_interval_partly_after_the_grid_contributes_only_its_overlap():
    # 11:30-13:30, 4 kWh (2 kWh/h): 11:30-12:00 on the grid -> 1 kWh, 1800 s
    energy, measured_s = spread([(11.5, 13.5)], [4.0])
    np.testing.assert_allclose(energy, [0.0, 0.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(measured_s, [0.0, 0.0, 0.0, 1800.0], atol=1e-6)


def test_intervals_entirely_outside_the_grid_give_zeros():
    energy, measured_s = spread([(5.0, 6.0), (13.0, 14.0)], [1.0, 1.0])
    np.testing.assert_array_equal(energy, np.zeros(4))
    np.testing.assert_array_equal(measured_s, np.zeros(4))


def test_no_intervals_give_zeros_of_grid_length():
    e = np.zeros(0)
    energy, measured_s = spread_to_hours(e, e, e, np.zeros(0, dtype=bool), GRID)
    np.testing.assert_array_equal(energy, np.zeros(4))
    np.testing.assert_array_equal(measured_s, np.zeros(4))


def test_empty_grid_gives_empty_arrays():
    energy, measured_s = spread([(8.0, 9.0)], [1.0], grid=np.zeros(0))
    assert energy.shape == measured_s.shape == (0,)


def test_last_hour_ends_3600_s_after_its_start():
    # one-hour grid 08:00; interval 08:30-09:30 with 1 kWh -> 0.5 kWh in hour 08
    energy, measured_s = spread([(8.5, 9.5)], [1.0], grid=GRID[:1])
    np.testing.assert_allclose(energy, [0.5], atol=1e-12)
    np.testing.assert_allclose(measured_s, [1800.0], atol=1e-6)


N_HOURS = 48


@st.composite
def intervals_in_grid(draw):
    """Non-overlapping (possibly touching) intervals inside [0, N_HOURS h] with energy."""
    n = draw(st.integers(1, 30))
    points = draw(
        st.lists(st.integers(0, N_HOURS * 3600), min_size=2 * n, max_size=2 * n, unique=True).map(
            sorted
        )
    )
    touch = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    starts, ends = list(points[0::2]), list(points[1::2])
    for i in range(1, n):
        if touch[i]:
            starts[i] = ends[i - 1]  # share a knot with the previous interval
    energy = draw(
        st.lists(
            st.floats(0.0, 1000.0, allow_nan=False, allow_infinity=False),
            min_size=n,
            max_size=n,
        )
    )
    measured = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return (
        np.array(starts, dtype=float),
        np.array(ends, dtype=float),
        np.array(energy),
        np.array(measured),
    )


@settings(max_examples=200, deadline=None)
@given(intervals_in_grid())
def test_property_energy_and_measured_time_are_conserved(data):
    start, end, energy, measured = data
    grid = T0 + H * np.arange(N_HOURS)
    out_energy, out_measured = spread_to_hours(T0 + start, T0 + end, energy, measured, grid)
    total = energy.sum()
    assert out_energy.sum() == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert out_measured.sum() == pytest.approx(((end - start) * measured).sum(), abs=1e-6)
    assert (out_energy >= -1e-9).all()
    assert ((out_measured >= 0.0) & (out_measured <= 3600.0)).all()
