"""Tests for the daily regression baselines (CalTRACK as eemeter 4.1.1 legacy, and day types).

Meters are built from known models over a synthetic year of daily mean temperatures, so each
test can read the fitted balance point, slope or level straight off the model that made it.
Agreement with eemeter itself is tested in test_daily_vs_eemeter.py.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.caltrack.daily import MODEL_NAMES, daily_residuals, fit_daily, predict_daily
from scoring.caltrack.rules import (
    BASELINE_LENGTH,
    CDD_ONLY,
    HDD_CDD,
    HDD_ONLY,
    HIGH_CVRMSE,
    INTERCEPT_ONLY,
    MISSING_DAYS,
    MISSING_METER_DAYS,
    MISSING_MONTHLY_TEMPERATURE,
    MISSING_TEMPERATURE_DAYS,
    NO_DATA,
    TOO_FEW_DAYS,
)

TZ = ZoneInfo("Europe/Stockholm")
FIRST = date(2023, 1, 1)
DAYS = np.arange(FIRST.toordinal(), FIRST.toordinal() + 365)
WEEKDAY = (DAYS - 1) % 7  # 0 = Monday
DAY_TYPE = np.where(WEEKDAY == 6, 2, np.where(WEEKDAY == 5, 1, 0))


def swedish_year(seed: int = 0, n: int = 365) -> np.ndarray:
    """Daily mean temperature [°C]: a seasonal cycle (about -8..+22 °C) plus weather."""
    rng = np.random.default_rng(seed)
    weather = np.zeros(n)
    for i in range(1, n):
        weather[i] = 0.7 * weather[i - 1] + rng.normal(0, 2.0)
    return 7.0 + 11.0 * np.sin(2 * np.pi * (np.arange(n) - 110) / 365.25) + weather


T = swedish_year()


def heating(base, slope, balance_c, temp=T):
    return base + slope * np.maximum(balance_c - temp, 0.0)


def cooling(base, slope, balance_c, temp=T):
    return base + slope * np.maximum(temp - balance_c, 0.0)


# --- caltrack: recovering known models ---------------------------------------------------------


def test_pure_heating_building_recovers_balance_point_and_slope():
    usage = heating(600.0, 25.0, 15.0)  # 25 kWh per °C-day below 15 °C
    m = fit_daily(usage[None, :], T, DAYS)
    assert MODEL_NAMES[m.model_type[0]] == "hdd_tidd"
    assert m.model_type[0] == HDD_ONLY
    assert m.heating_balance_c[0] == pytest.approx(15.0, abs=0.02)
    assert m.heating_kwh_per_degc_day[0] == pytest.approx(25.0, rel=1e-3)
    assert m.intercept_kwh[0] == pytest.approx(600.0, rel=1e-4)
    assert np.isnan(m.cooling_balance_c[0]) and m.cooling_kwh_per_degc_day[0] == 0
    assert m.sufficient[0] and m.reasons[0] == 0
    assert m.r_squared_adj[0] == pytest.approx(1.0, abs=1e-6)


def test_pure_cooling_building_recovers_balance_point_and_slope():
    usage = cooling(400.0, 40.0, 16.0)
    m = fit_daily(usage[None, :], T, DAYS)
    assert m.model_type[0] == CDD_ONLY
    assert m.cooling_balance_c[0] == pytest.approx(16.0, abs=0.02)
    assert m.cooling_kwh_per_degc_day[0] == pytest.approx(40.0, rel=1e-3)
    assert m.intercept_kwh[0] == pytest.approx(400.0, rel=1e-4)


def test_heating_and_cooling_building_gets_both_terms():
    usage = heating(500.0, 20.0, 12.0) + cooling(0.0, 30.0, 18.0)
    m = fit_daily(usage[None, :], T, DAYS)
    assert m.model_type[0] == HDD_CDD
    assert m.heating_balance_c[0] == pytest.approx(12.0, abs=0.05)
    assert m.cooling_balance_c[0] == pytest.approx(18.0, abs=0.05)
    assert m.heating_kwh_per_degc_day[0] == pytest.approx(20.0, rel=2e-3)
    assert m.cooling_kwh_per_degc_day[0] == pytest.approx(30.0, rel=2e-3)


def test_no_temperature_dependence_gives_intercept_only():
    m = fit_daily(np.full((1, 365), 750.0), T, DAYS)
    assert m.model_type[0] == INTERCEPT_ONLY
    assert MODEL_NAMES[m.model_type[0]] == "tidd"
    assert m.intercept_kwh[0] == pytest.approx(750.0)
    assert np.isnan(m.heating_balance_c[0]) and np.isnan(m.cooling_balance_c[0])
    np.testing.assert_allclose(predict_daily(m, np.array([-20.0, 0.0, 30.0])), [[750.0] * 3])


def test_prediction_follows_the_model_formula():
    usage = heating(600.0, 25.0, 15.0)
    m = fit_daily(usage[None, :], T, DAYS)
    temp = np.array([-10.0, 0.0, 14.0, 15.0, 20.0, np.nan])
    pred = predict_daily(m, temp)
    a, b, bp = m.intercept_kwh[0], m.heating_kwh_per_degc_day[0], m.heating_balance_c[0]
    np.testing.assert_allclose(pred[0, :5], a + b * np.maximum(bp - temp[:5], 0.0))
    assert np.isnan(pred[0, 5])  # unknown temperature: no prediction


def test_noisy_heating_building_stays_close_to_truth():
    rng = np.random.default_rng(3)
    usage = heating(600.0, 25.0, 15.0) * (1 + rng.normal(0, 0.03, 365))
    m = fit_daily(usage[None, :], T, DAYS)
    assert m.model_type[0] in (HDD_ONLY, HDD_CDD)
    assert m.heating_balance_c[0] == pytest.approx(15.0, abs=1.0)
    assert m.heating_kwh_per_degc_day[0] == pytest.approx(25.0, rel=0.1)
    assert m.sufficient[0]


# --- data sufficiency --------------------------------------------------------------------------


def reasons_of(usage, temp=T, days=DAYS, valid=None):
    return int(fit_daily(np.atleast_2d(usage), temp, days, valid).reasons[0])


def test_full_year_is_sufficient():
    assert reasons_of(heating(600.0, 25.0, 15.0)) == 0


def test_short_baseline_is_flagged():
    usage = heating(600.0, 25.0, 15.0)
    usage[300:] = np.nan  # 300 days < 329
    assert reasons_of(usage) == BASELINE_LENGTH


def test_baseline_over_365_days_is_flagged():
    days = np.arange(FIRST.toordinal(), FIRST.toordinal() + 366)
    temp = swedish_year(n=366)
    assert reasons_of(heating(600.0, 25.0, 15.0, temp), temp, days) == BASELINE_LENGTH


def test_too_many_missing_meter_days_are_flagged():
    usage = heating(600.0, 25.0, 15.0)
    usage[10:360:7] = np.nan  # 50 of 365 days (14 %)
    assert reasons_of(usage) == MISSING_DAYS | MISSING_METER_DAYS


def test_zero_energy_counts_as_missing():
    usage = heating(600.0, 25.0, 15.0)
    usage[10:360:7] = 0.0
    assert reasons_of(usage) == MISSING_DAYS | MISSING_METER_DAYS


def test_missing_temperature_month_is_flagged():
    temp = T.copy()
    temp[31:59] = np.nan  # February: 337 of 365 days (92 %) still have temperature
    assert reasons_of(heating(600.0, 25.0, 15.0), temp) == MISSING_MONTHLY_TEMPERATURE
    temp[59:80] = np.nan  # and three weeks of March: 316 days (87 %)
    assert reasons_of(heating(600.0, 25.0, 15.0), temp) == (
        MISSING_DAYS | MISSING_TEMPERATURE_DAYS | MISSING_MONTHLY_TEMPERATURE
    )


def test_a_few_missing_temperature_days_in_a_month_are_flagged():
    temp = T.copy()
    temp[100:104] = np.nan  # 4 of April's 30 days: under 90 % for the month only
    assert reasons_of(heating(600.0, 25.0, 15.0), temp) == MISSING_MONTHLY_TEMPERATURE


def test_no_data_is_flagged_and_not_fitted():
    m = fit_daily(np.full((1, 365), np.nan), T, DAYS)
    assert m.reasons[0] & NO_DATA and m.reasons[0] & TOO_FEW_DAYS
    assert m.model_type[0] == -1 and not m.sufficient[0]
    assert "no_data" in m.reason_names(0)
    assert np.isnan(predict_daily(m, T[:5])).all()


def test_fit_worse_than_its_mean_is_flagged_by_cvrmse():
    rng = np.random.default_rng(1)
    usage = 100.0 + rng.normal(0, 300.0, 365)  # export days make the mean small
    m = fit_daily(usage[None, :], T, DAYS)
    assert m.cvrmse[0] > 1 and m.reasons[0] == HIGH_CVRMSE
    assert m.reason_names(0) == ["cvrmse"]


def test_valid_mask_drops_days():
    usage = heating(600.0, 25.0, 15.0)
    valid = np.ones(365, dtype=bool)
    valid[10:360:7] = False
    assert reasons_of(usage, valid=valid[None, :]) == MISSING_DAYS | MISSING_METER_DAYS


# --- missing days and batching -----------------------------------------------------------------


def test_missing_days_equal_masked_days():
    rng = np.random.default_rng(7)
    usage = heating(600.0, 25.0, 15.0) * (1 + rng.normal(0, 0.05, 365))
    temp = T.copy()
    holes = rng.choice(365, 20, replace=False)
    with_nan = usage.copy()
    with_nan[holes[:10]] = np.nan
    temp[holes[10:]] = np.nan
    garbage = usage.copy()
    garbage[holes[:10]] = 1e6
    valid = np.ones((1, 365), dtype=bool)
    valid[0, holes[:10]] = False
    a = fit_daily(with_nan[None, :], temp, DAYS)
    b = fit_daily(garbage[None, :], temp, DAYS, valid)
    assert a.n_days[0] == b.n_days[0] == 345
    for field in ("intercept_kwh", "heating_balance_c", "heating_kwh_per_degc_day"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.sufficient[0]


def meters(rng, n_sites):
    kinds = [
        lambda: heating(rng.uniform(300, 3000), rng.uniform(5, 60), rng.uniform(10, 17)),
        lambda: cooling(rng.uniform(300, 3000), rng.uniform(10, 90), rng.uniform(14, 20)),
        lambda: heating(rng.uniform(300, 900), 20, 13) + cooling(0, 40, 18),
        lambda: np.full(365, rng.uniform(100, 1000)),
    ]
    usage = np.array([kinds[i % len(kinds)]() for i in range(n_sites)])
    usage *= np.where(DAY_TYPE == 0, 1.0, 0.6) * (1 + rng.normal(0, 0.04, usage.shape))
    usage[rng.random(usage.shape) < 0.01] = np.nan
    return usage


@pytest.mark.parametrize("method", ["caltrack", "daytype"])
def test_batched_fit_equals_fitting_each_site_alone(method):
    rng = np.random.default_rng(11)
    usage = meters(rng, 8)
    temp = T[None, :] + rng.normal(0, 0.5, (8, 365))  # each site its own weather station
    together = fit_daily(usage, temp, DAYS, day_type=DAY_TYPE, method=method)
    for i in range(8):
        alone = fit_daily(usage[i : i + 1], temp[i], DAYS, day_type=DAY_TYPE, method=method)
        assert alone.model_type[0] == together.model_type[i]
        for field in (
            "intercept_kwh",
            "day_type_kwh",
            "heating_balance_c",
            "heating_kwh_per_degc_day",
            "cooling_balance_c",
            "cooling_kwh_per_degc_day",
            "r_squared_adj",
            "cvrmse",
        ):
            np.testing.assert_allclose(
                getattr(alone, field)[0], getattr(together, field)[i], rtol=1e-9, err_msg=field
            )


def test_sites_are_independent_of_their_order():
    rng = np.random.default_rng(12)
    usage = meters(rng, 12)
    perm = rng.permutation(12)
    a = fit_daily(usage, T, DAYS)
    b = fit_daily(usage[perm], T, DAYS)
    np.testing.assert_allclose(
        predict_daily(a, T)[perm], predict_daily(b, T), rtol=1e-9, equal_nan=True
    )


def test_empty_site_list():
    m = fit_daily(np.zeros((0, 365)), T, DAYS)
    assert m.model_type.shape == (0,)
    assert predict_daily(m, T).shape == (0, 365)


# --- daytype -----------------------------------------------------------------------------------


def test_daytype_recovers_weekday_and_weekend_levels():
    # Working days 800 kWh, Saturdays 450, Sundays/holidays 400, plus heating below 15 °C
    # (59 °F is on the CalTRACK grid).
    levels = np.array([800.0, 450.0, 400.0])
    rng = np.random.default_rng(5)
    usage = levels[DAY_TYPE] + 25.0 * np.maximum(15.0 - T, 0) + rng.normal(0, 10.0, 365)
    m = fit_daily(usage[None, :], T, DAYS, day_type=DAY_TYPE, method="daytype")
    assert m.model_type[0] == HDD_ONLY
    assert m.heating_balance_c[0] == pytest.approx(15.0, abs=1e-9)
    assert m.heating_kwh_per_degc_day[0] == pytest.approx(25.0, rel=0.02)
    np.testing.assert_allclose(m.intercept_kwh[0] + m.day_type_kwh[0], levels, atol=5.0)
    assert m.day_type_kwh[0, 0] == 0.0
    pred = predict_daily(m, T, DAY_TYPE)
    truth = levels[DAY_TYPE] + 25.0 * np.maximum(15.0 - T, 0)
    assert np.abs(pred[0] - truth).max() < 10.0
    # CalTRACK without day types leaves the weekend in the residuals
    plain = fit_daily(usage[None, :], T, DAYS)
    assert m.r_squared_adj[0] > 0.98 > plain.r_squared_adj[0]


def test_daytype_coefficients_are_ordinary_least_squares():
    rng = np.random.default_rng(6)
    usage = meters(rng, 3)[2]  # heating + cooling with a weekend effect
    ok = np.isfinite(usage)
    m = fit_daily(usage[None, :], T, DAYS, day_type=DAY_TYPE, method="daytype")
    assert m.model_type[0] == HDD_CDD
    hdd = np.maximum(m.heating_balance_c[0] - T, 0)
    cdd = np.maximum(T - m.cooling_balance_c[0], 0)
    dummies = (DAY_TYPE[:, None] == np.arange(3)[None, :]).astype(float)
    x = np.column_stack([dummies, hdd, cdd])[ok]
    coef, *_ = np.linalg.lstsq(x, usage[ok], rcond=None)
    np.testing.assert_allclose(m.intercept_kwh[0] + m.day_type_kwh[0], coef[:3], rtol=1e-9)
    np.testing.assert_allclose(
        [m.heating_kwh_per_degc_day[0], m.cooling_kwh_per_degc_day[0]], coef[3:], rtol=1e-9
    )


def test_daytype_rejects_insignificant_slopes():
    rng = np.random.default_rng(8)
    usage = np.array([800.0, 450.0, 400.0])[DAY_TYPE] + rng.normal(0, 20.0, 365)
    m = fit_daily(usage[None, :], T, DAYS, day_type=DAY_TYPE, method="daytype")
    assert m.model_type[0] == INTERCEPT_ONLY


@settings(max_examples=15, deadline=None)
@given(scale=st.floats(0.01, 1e4), seed=st.integers(0, 1000))
def test_daytype_predictions_scale_with_energy(scale, seed):
    rng = np.random.default_rng(seed)
    usage = meters(rng, 4)
    a = fit_daily(usage, T, DAYS, day_type=DAY_TYPE, method="daytype")
    b = fit_daily(usage * scale, T, DAYS, day_type=DAY_TYPE, method="daytype")
    np.testing.assert_array_equal(a.model_type, b.model_type)
    np.testing.assert_allclose(
        predict_daily(b, T, DAY_TYPE), scale * predict_daily(a, T, DAY_TYPE), rtol=1e-6
    )


# --- residuals for savings uncertainty -------------------------------------------------------


def test_residuals_of_a_noise_free_fit_are_zero():
    usage = heating(600.0, 25.0, 15.0)
    usage[[5, 50]] = np.nan
    m = fit_daily(usage[None, :], T, DAYS)
    r = daily_residuals(m, usage[None, :], T)
    assert r.ok.sum() == 363 and not r.ok[0, 5]
    np.testing.assert_allclose(r.residual_kwh[r.ok], 0.0, atol=0.05)  # balance point to 0.01 °F
    assert r.mean_kwh[0] == pytest.approx(np.nanmean(usage))
    assert r.n_params[0] == 3  # intercept, heating slope, heating balance point


def test_residuals_count_day_type_intercepts():
    rng = np.random.default_rng(5)
    usage = np.array([800.0, 450.0, 400.0])[DAY_TYPE] + 25.0 * np.maximum(15.0 - T, 0)
    usage += rng.normal(0, 10.0, 365)
    m = fit_daily(usage[None, :], T, DAYS, day_type=DAY_TYPE, method="daytype")
    r = daily_residuals(m, usage[None, :], T, day_type=DAY_TYPE)
    assert r.n_params[0] == 5  # three day-type intercepts, heating slope and balance point
    assert abs(np.nanmean(r.residual_kwh)) < 1e-6  # least squares with intercepts
    assert np.nanstd(r.residual_kwh) == pytest.approx(10.0, rel=0.15)


# --- argument errors ---------------------------------------------------------------------------


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method must be one of"):
        fit_daily(np.ones((1, 365)), T, DAYS, method="ols")


def test_daytype_needs_day_types():
    with pytest.raises(ValueError, match="needs day_type"):
        fit_daily(np.ones((1, 365)), T, DAYS, method="daytype")


def test_temperatures_in_fahrenheit_are_rejected():
    with pytest.raises(ValueError, match=r"temp_c must be daily means in °C.*convert °F"):
        fit_daily(np.ones((1, 365)), T * 9 / 5 + 32 + 40, DAYS)


def test_temperature_shape_must_match():
    with pytest.raises(ValueError, match=r"temp_c must have shape \(365,\) or \(1, 365\)"):
        fit_daily(np.ones((1, 365)), T[:100], DAYS)


def test_day_ordinal_must_match_the_days():
    with pytest.raises(ValueError, match="day_ordinal must have 365 entries"):
        fit_daily(np.ones((1, 365)), T, DAYS[:-1])
