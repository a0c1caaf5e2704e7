"""Tests for the CalTRACK hourly (time-of-week-and-temperature) baseline.

The synthetic town hall is occupied 08-17 on weekdays, when it heats with a known slope, and
draws a flat base load otherwise; the model should find those hours and that slope.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from scoring.calendar import hour_grid, local_hours
from scoring.caltrack.hourly import (
    HOURS_OF_WEEK,
    fit_towt,
    hourly_sufficiency,
    predict_towt,
    regression_hourly,
)
from scoring.caltrack.rules import (
    BASELINE_LENGTH,
    BIN_ENDPOINTS_F,
    MISSING_MONTHLY_METER,
    MISSING_MONTHLY_TEMPERATURE,
    NO_DATA,
    REASON_NAMES,
)

TZ = ZoneInfo("Europe/Stockholm")
HISTORY = local_hours(hour_grid(date(2010, 3, 1), date(2011, 2, 28), TZ), TZ)
TARGET = local_hours(hour_grid(date(2011, 3, 1), date(2011, 3, 31), TZ), TZ)
BASE_KWH = 4.0  # unoccupied [kWh/h]
OCCUPIED_KWH = 20.0  # occupied at 18 °C [kWh/h]
HEATING_KWH_PER_DEGC = 1.5  # occupied, per °C below 18 °C


def _temp_c(grid, seed):
    """Seasonal (-7 °C mid-January, +17 °C mid-July) and daily swing, plus weather noise."""
    days = (grid.hour_start_s - grid.hour_start_s[0]) / 86400.0
    first = date.fromordinal(int(grid.day_ordinal[0])).timetuple().tm_yday
    season = 5.0 - 12.0 * np.cos(2 * np.pi * (days + first - 15) / 365.0)
    daily = -3.0 * np.cos(2 * np.pi * (grid.hour - 4) / 24.0)
    return season + daily + np.random.default_rng(seed).normal(0.0, 2.0, days.size)


def _occupied(grid):
    return (grid.weekday < 5) & (grid.hour >= 8) & (grid.hour < 17)


def _load_kwh(grid, temp_c, seed, noise=0.01):
    occupied = OCCUPIED_KWH + HEATING_KWH_PER_DEGC * np.maximum(18.0 - temp_c, 0.0)
    load = np.where(_occupied(grid), occupied, BASE_KWH)
    return load * (1 + np.random.default_rng(seed).normal(0.0, noise, load.size))


@pytest.fixture(scope="module")
def town_hall():
    hist_t, tgt_t = _temp_c(HISTORY, 1), _temp_c(TARGET, 2)
    return hist_t, tgt_t, _load_kwh(HISTORY, hist_t, 3), _load_kwh(TARGET, tgt_t, 4)


def test_a_held_out_month_is_predicted_within_two_percent(town_hall):
    hist_t, tgt_t, hist_kwh, tgt_kwh = town_hall
    ok = np.ones((1, hist_kwh.size), dtype=bool)
    base, base_ok = regression_hourly(hist_kwh[None], ok, HISTORY, TARGET, hist_t, tgt_t)
    assert base.shape == base_ok.shape == (1, TARGET.hour.size) and base_ok.all()
    assert base.sum() == pytest.approx(tgt_kwh.sum(), rel=0.02)
    # hour by hour too: the 1 % meter noise plus a small model error
    assert np.sqrt(np.mean((base[0] - tgt_kwh) ** 2)) / tgt_kwh.mean() < 0.05


def test_occupied_hours_and_heating_slope_are_found(town_hall):
    hist_t, _, hist_kwh, _ = town_hall
    in_feb = np.array([date.fromordinal(int(d)).month == 2 for d in HISTORY.day_ordinal])
    weight = in_feb.astype(float)
    models = fit_towt(
        hist_kwh[None], np.ones((1, hist_kwh.size), bool), HISTORY.hour_of_week, hist_t, weight
    )
    how = np.arange(HOURS_OF_WEEK)
    expected = (how // 24 < 5) & (how % 24 >= 8) & (how % 24 < 17)
    assert (models.occupied[0] == expected).all()
    # in February it is below 18 °C: every used occupied bin slopes -1.5 kWh/°C = -5/6 kWh/°F
    used = np.isfinite(models.bin_low_f[0, 0])
    assert models.slope_kwh_per_degf[0, 0, used] == pytest.approx(
        -HEATING_KWH_PER_DEGC * 5 / 9, rel=0.05
    )
    assert np.abs(models.slope_kwh_per_degf[0, 1]).max() < 0.02  # unoccupied: flat
    assert models.n_hours[0] == in_feb.sum()


def test_sites_batched_equal_sites_alone(town_hall):
    hist_t, tgt_t, hist_kwh, _ = town_hall
    rng = np.random.default_rng(5)
    kwh = np.stack([hist_kwh, 0.5 * hist_kwh + 1.0, rng.permutation(hist_kwh)])
    ok = rng.random(kwh.shape) > 0.05
    temps = np.stack([hist_t, hist_t + 1.0, hist_t - 2.0])
    tgt = np.stack([tgt_t, tgt_t + 1.0, tgt_t - 2.0])
    both, both_ok = regression_hourly(kwh, ok, HISTORY, TARGET, temps, tgt)
    for s in range(3):
        one, one_ok = regression_hourly(
            kwh[s : s + 1], ok[s : s + 1], HISTORY, TARGET, temps[s], tgt[s]
        )
        assert (one_ok[0] == both_ok[s]).all()
        np.testing.assert_allclose(one[0], both[s], rtol=1e-9, equal_nan=True)


def test_missing_temperature_gives_no_baseline_and_is_left_out_of_the_fit(town_hall):
    hist_t, tgt_t, hist_kwh, _ = town_hall
    ok = np.ones((1, hist_kwh.size), dtype=bool)
    full, _ = regression_hourly(hist_kwh[None], ok, HISTORY, TARGET, hist_t, tgt_t)
    tgt_gap = tgt_t.copy()
    tgt_gap[100:130] = np.nan
    hist_gap = hist_t.copy()
    hist_gap[::7] = np.nan
    spoiled = hist_kwh.copy()
    spoiled[::7] = 1e6  # ignored: their temperature is missing
    base, base_ok = regression_hourly(
        spoiled[None], ok, HISTORY, TARGET, hist_gap, tgt_gap, require_sufficient=False
    )  # a seventh of the temperatures missing fails sufficiency: the fit itself is tested here
    assert not base_ok[0, 100:130].any() and np.isnan(base[0, 100:130]).all()
    assert base_ok[0, :100].all() and base_ok[0, 130:].all()
    np.testing.assert_allclose(base[0, :100], full[0, :100], rtol=0.02)


def test_unmeasured_and_zero_hours_are_left_out(town_hall):
    hist_t, tgt_t, hist_kwh, _ = town_hall
    ok = np.ones((1, hist_kwh.size), dtype=bool)
    full, _ = regression_hourly(hist_kwh[None], ok, HISTORY, TARGET, hist_t, tgt_t)
    spoiled = hist_kwh.copy()
    spoiled[::5] = 1e6
    ok[0, ::5] = False
    spoiled[1::11] = 0.0  # zero counts as missing, as in eemeter
    base, base_ok = regression_hourly(
        spoiled[None], ok, HISTORY, TARGET, hist_t, tgt_t, require_sufficient=False
    )
    assert base_ok.all()
    np.testing.assert_allclose(base, full, rtol=0.02)


def test_an_hour_of_the_week_without_history_gets_no_baseline(town_hall):
    hist_t, tgt_t, hist_kwh, _ = town_hall
    ok = np.ones((1, hist_kwh.size), dtype=bool)
    ok[0, HISTORY.hour_of_week == 30] = False  # Tuesday 06-07 never measured
    base, base_ok = regression_hourly(hist_kwh[None], ok, HISTORY, TARGET, hist_t, tgt_t)
    assert not base_ok[0, TARGET.hour_of_week == 30].any()
    assert np.isnan(base[0, TARGET.hour_of_week == 30]).all()
    assert base_ok[0, TARGET.hour_of_week != 30].all()


def test_temperature_bins_merge_sparse_ends():
    # a mild month: 40-60 °F only, so the bins below 45 and above 65 °F are dropped
    n = 24 * 7 * 4
    how = np.arange(n) % HOURS_OF_WEEK
    temp_f = np.linspace(40.0, 60.0, n)
    usage = 5.0 + 0.1 * temp_f
    models = fit_towt(usage[None], np.ones((1, n), bool), how, (temp_f - 32) * 5 / 9, np.ones(n))
    assert not models.occupied.any()  # a flat week: every hour unoccupied
    assert models.bin_low_f[0, 1, :4].tolist() == [-np.inf, 45.0, 55.0, np.inf]
    assert models.bin_high_f[0, 1, :3].tolist() == [45.0, 55.0, np.inf]
    assert models.bin_low_f[0, 0, :2].tolist() == [-np.inf, np.inf]  # no occupied hours
    predicted = predict_towt(models, how, (temp_f - 32) * 5 / 9)
    np.testing.assert_allclose(predicted[0], usage, rtol=1e-9)
    assert BIN_ENDPOINTS_F.tolist() == [30.0, 45.0, 55.0, 65.0, 75.0, 90.0]


def test_shapes_units_and_errors(town_hall):
    hist_t, tgt_t, hist_kwh, _ = town_hall
    ok = np.ones((2, hist_kwh.size), dtype=bool)
    kwh = np.stack([hist_kwh, hist_kwh])
    base, base_ok = regression_hourly(kwh, ok, HISTORY, TARGET, hist_t, np.stack([tgt_t, tgt_t]))
    assert base.shape == (2, TARGET.hour.size) and base_ok.dtype == bool
    with pytest.raises(ValueError, match="°C"):
        regression_hourly(kwh, ok, HISTORY, TARGET, hist_t * 9 / 5 + 32 + 100, tgt_t)
    with pytest.raises(ValueError, match="history_temp_c must have shape"):
        regression_hourly(kwh, ok, HISTORY, TARGET, hist_t[:-1], tgt_t)
    # an empty target
    empty = local_hours(np.array([]), TZ)
    base, base_ok = regression_hourly(kwh, ok, HISTORY, empty, hist_t, np.array([]))
    assert base.shape == base_ok.shape == (2, 0)


def test_data_sufficiency_rules_of_the_hourly_method(town_hall):
    hist_t, tgt_t, hist_kwh, _ = town_hall
    n = hist_kwh.size
    ok = np.ones((5, n), dtype=bool)
    month = np.array([date.fromordinal(int(d)).month for d in HISTORY.day_ordinal])
    ok[1, month == 7] &= np.arange(n)[month == 7] % 8 != 0  # July: 12.5 % of hours missing
    ok[2, month == 7] &= np.arange(n)[month == 7] % 20 != 0  # July: 5 % missing — fine
    ok[3, : n // 2] = False  # half a year of data: too short a baseline
    ok[4] = False
    temp = np.broadcast_to(np.isfinite(hist_t), ok.shape).copy()
    temp[0, month == 11] = False  # no temperature in November for site 0
    reasons = hourly_sufficiency(ok, temp, HISTORY)
    assert reasons[0] & MISSING_MONTHLY_TEMPERATURE and not reasons[0] & MISSING_MONTHLY_METER
    assert reasons[1] == MISSING_MONTHLY_METER
    assert reasons[2] == 0
    assert reasons[3] & BASELINE_LENGTH and reasons[3] & MISSING_MONTHLY_METER
    assert reasons[4] & NO_DATA
    assert REASON_NAMES[MISSING_MONTHLY_METER] == "missing_monthly_meter_data"

    kwh = np.broadcast_to(hist_kwh, ok.shape)
    _, base_ok = regression_hourly(kwh, ok, HISTORY, TARGET, hist_t, tgt_t)
    assert base_ok[2].all()  # sufficient: a baseline for every hour
    assert not base_ok[[1, 3, 4]].any()  # insufficient: none
    _, loose_ok = regression_hourly(
        kwh, ok, HISTORY, TARGET, hist_t, tgt_t, require_sufficient=False
    )
    assert loose_ok[1].all()  # the fit itself works; the rule is what withholds it
