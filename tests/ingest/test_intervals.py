"""Tests for turning raw meter readings into interval energy."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.intervals import Intervals, meter_intervals, power_intervals, register_intervals

NAN = np.nan
T0 = 1_299_456_000.0  # 2011-03-07 00:00 UTC


def ts(*offsets: float) -> np.ndarray:
    return T0 + np.array(offsets, dtype=float)


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)


def assert_intervals(iv: Intervals, spans, energy, measured):
    np.testing.assert_array_equal(iv.start_s, [T0 + a for a, _ in spans])
    np.testing.assert_array_equal(iv.end_s, [T0 + b for _, b in spans])
    np.testing.assert_allclose(iv.energy_kwh, energy, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(iv.measured, measured)


# --- registers -------------------------------------------------------------------------------


def test_register_differences_are_interval_energy():
    # 100.00 -> 100.25 -> 100.75: 0.25 kWh over 0..900 s, 0.5 kWh over 900..1800 s
    iv = register_intervals(ts(0, 900, 1800), arr(100.0, 100.25, 100.75), max_gap_s=1800)
    assert_intervals(iv, [(0, 900), (900, 1800)], [0.25, 0.5], [True, True])


def test_register_unchanged_gives_zero_energy_interval():
    # 5.0 -> 5.0: 0 kWh, still a measured interval
    iv = register_intervals(ts(0, 600), arr(5.0, 5.0), max_gap_s=900)
    assert_intervals(iv, [(0, 600)], [0.0], [True])


def test_register_reset_counts_the_energy_since_the_reset():
    # 100 -> 101 (+1), 101 -> 0.5 (reset to zero, then 0.5 kWh used), 0.5 -> 1.5 (+1)
    iv = register_intervals(ts(0, 900, 1800, 2700), arr(100.0, 101.0, 0.5, 1.5), max_gap_s=1800)
    assert_intervals(iv, [(0, 900), (900, 1800), (1800, 2700)], [1.0, 0.5, 1.0], [True] * 3)


def test_register_rollover_past_a_power_of_ten():
    # a 5-digit counter: 99,998.5 -> 00,001.5 is 1.5 + 1.5 = 3 kWh
    iv = register_intervals(ts(0, 900), arr(99_998.5, 1.5), max_gap_s=1800)
    assert_intervals(iv, [(0, 900)], [3.0], [True])


def test_register_replaced_by_a_meter_with_another_count_is_unknown():
    # 50,000 -> 12,345 (not near zero, not a rollover): energy unknown, not measured
    iv = register_intervals(ts(0, 900, 1800), arr(50_000.0, 12_345.0, 12_346.0), max_gap_s=1800)
    assert_intervals(iv, [(0, 900), (900, 1800)], [0.0, 1.0], [False, True])


def test_register_spike_is_a_glitch_not_energy():
    # 500 -> 0 (glitch read as a reset: 0 kWh) -> 501: 501 kWh in 60 s is 30 MW, implausible
    iv = register_intervals(ts(0, 60, 120, 180), arr(500.0, 0.0, 501.0, 501.1), max_gap_s=1800)
    assert_intervals(iv, [(0, 60), (60, 120), (120, 180)], [0.0, 0.0, 0.1], [True, False, True])


def test_register_gap_longer_than_max_gap_keeps_energy_but_is_not_measured():
    # 0..900 s: 10 -> 10.5 (0.5 kWh); 900..8100 s (7200 s > 1800): 10.5 -> 14.5 (4 kWh)
    iv = register_intervals(ts(0, 900, 8100), arr(10.0, 10.5, 14.5), max_gap_s=1800)
    assert_intervals(iv, [(0, 900), (900, 8100)], [0.5, 4.0], [True, False])


def test_register_gap_equal_to_max_gap_is_measured():
    iv = register_intervals(ts(0, 1800), arr(1.0, 2.0), max_gap_s=1800)
    assert_intervals(iv, [(0, 1800)], [1.0], [True])


def test_register_nan_readings_are_skipped():
    # NaN at 900 s: one interval 0..1800 s with 3 - 1 = 2 kWh
    iv = register_intervals(ts(0, 900, 1800), arr(1.0, NAN, 3.0), max_gap_s=1800)
    assert_intervals(iv, [(0, 1800)], [2.0], [True])


def test_register_nan_can_turn_a_span_into_a_gap():
    # NaN at 900 s leaves a 1800 s span, longer than max_gap 1000 s: energy kept, not measured
    iv = register_intervals(ts(0, 900, 1800), arr(1.0, NAN, 3.0), max_gap_s=1000)
    assert_intervals(iv, [(0, 1800)], [2.0], [False])


def test_register_duplicate_timestamp_gives_no_zero_length_interval():
    # 0 -> 0 (dt = 0, dropped) -> 600: the second pair 2 -> 3 is 1 kWh
    iv = register_intervals(ts(0, 0, 600), arr(2.0, 2.0, 3.0), max_gap_s=900)
    assert_intervals(iv, [(0, 600)], [1.0], [True])


def test_register_fewer_than_two_readings_is_empty():
    for t, e in [(ts(), arr()), (ts(0), arr(1.0)), (ts(0, 60, 120), arr(NAN, 1.0, NAN))]:
        iv = register_intervals(t, e, max_gap_s=900)
        assert iv.start_s.size == iv.end_s.size == iv.energy_kwh.size == iv.measured.size == 0


# --- power -----------------------------------------------------------------------------------


def test_power_constant_1000_w_for_one_hour_is_1_kwh():
    # 1000 W x 3600 s = 3.6e6 J = 1 kWh
    iv = power_intervals(ts(0, 3600), arr(1000.0, 1000.0), max_gap_s=3600)
    assert_intervals(iv, [(0, 3600)], [1.0], [True])


def test_power_trapezoid_uses_mean_of_endpoints():
    # 0 W -> 2000 W over 1800 s: mean 1000 W x 1800 s = 1.8e6 J = 0.5 kWh
    iv = power_intervals(ts(0, 1800), arr(0.0, 2000.0), max_gap_s=1800)
    assert_intervals(iv, [(0, 1800)], [0.5], [True])


def test_power_several_samples():
    # (500+1500)/2 * 360 s = 360_000 J = 0.1 kWh; (1500+2500)/2 * 360 = 720_000 J = 0.2 kWh
    iv = power_intervals(ts(0, 360, 720), arr(500.0, 1500.0, 2500.0), max_gap_s=900)
    assert_intervals(iv, [(0, 360), (360, 720)], [0.1, 0.2], [True, True])


def test_power_is_never_integrated_across_a_gap():
    # emoncms#1795: 1000 W before and after a 2 h outage must not become 2 kWh of energy.
    # Kept: 0..600 s and 7800..8400 s, each 1000 W x 600 s = 6e5 J = 1/6 kWh
    iv = power_intervals(ts(0, 600, 7800, 8400), arr(1000.0, 1000.0, 1000.0, 1000.0), max_gap_s=900)
    assert_intervals(iv, [(0, 600), (7800, 8400)], [1 / 6, 1 / 6], [True, True])
    assert iv.energy_kwh.sum() == pytest.approx(1 / 3)


def test_power_span_equal_to_max_gap_is_integrated():
    iv = power_intervals(ts(0, 900), arr(400.0, 400.0), max_gap_s=900)
    # 400 W x 900 s = 360_000 J = 0.1 kWh
    assert_intervals(iv, [(0, 900)], [0.1], [True])


def test_power_nan_samples_are_skipped():
    # NaN at 300 s: 0..600 s at 1000 W -> 6e5 J = 1/6 kWh
    iv = power_intervals(ts(0, 300, 600), arr(1000.0, NAN, 1000.0), max_gap_s=900)
    assert_intervals(iv, [(0, 600)], [1 / 6], [True])


def test_power_nan_sample_can_open_a_gap():
    # NaN at 300 s leaves a 600 s span, longer than max_gap 500 s: nothing integrated
    iv = power_intervals(ts(0, 300, 600), arr(1000.0, NAN, 1000.0), max_gap_s=500)
    assert iv.start_s.size == 0


def test_power_fewer_than_two_samples_is_empty():
    for t, p in [(ts(), arr()), (ts(0), arr(100.0)), (ts(0, 60), arr(NAN, 100.0))]:
        iv = power_intervals(t, p, max_gap_s=900)
        assert iv.start_s.size == iv.energy_kwh.size == iv.measured.size == 0


# --- meter_intervals -------------------------------------------------------------------------


def test_meter_prefers_register_over_power():
    # register 1.0 -> 1.2 (0.2 kWh); power 1000 W would give 1000 x 600 / 3.6e6 = 1/6 kWh
    iv = meter_intervals(
        ts(0, 600), arr(1.0, 1.2), arr(1000.0, 1000.0), register_max_gap_s=900, power_max_gap_s=900
    )
    assert_intervals(iv, [(0, 600)], [0.2], [True])


def test_meter_falls_back_to_power_without_two_register_values():
    # one register value only: power 1800 W x 600 s = 1.08e6 J = 0.3 kWh
    iv = meter_intervals(
        ts(0, 600), arr(NAN, 5.0), arr(1800.0, 1800.0), register_max_gap_s=900, power_max_gap_s=900
    )
    assert_intervals(iv, [(0, 600)], [0.3], [True])


def test_meter_with_nothing_usable_is_empty():
    iv = meter_intervals(
        ts(0, 600), arr(NAN, NAN), arr(NAN, NAN), register_max_gap_s=900, power_max_gap_s=900
    )
    assert iv.start_s.size == 0


def test_empty_intervals_have_zero_length_arrays():
    iv = Intervals.empty()
    assert iv.start_s.size == iv.end_s.size == iv.energy_kwh.size == iv.measured.size == 0
    assert iv.measured.dtype == bool
    iv = meter_intervals(
        ts(0, 1200, 2400),
        arr(NAN, NAN, NAN),
        arr(1000.0, 1000.0, 1000.0),
        register_max_gap_s=3900,
        power_max_gap_s=900,
    )
    assert iv.energy_kwh.size == 0 and iv.from_power
