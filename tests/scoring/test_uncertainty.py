"""Tests for the ASHRAE Guideline 14 savings uncertainty and the baseline residuals."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.calendar import hour_grid, local_hours
from scoring.uncertainty import (
    DEFAULT_CONFIDENCE,
    FSU_CORRECTION,
    Residuals,
    daily_energy,
    fractional_savings_uncertainty,
    pre_period_residuals,
    previous_year_residuals,
    residual_statistics,
    savings_uncertainty,
    student_t_quantile,
)

TZ = ZoneInfo("Europe/Stockholm")


def calendar(first: date, last: date):
    return local_hours(hour_grid(first, last, TZ), TZ)


def hourly_from_daily(day_kwh: list[float]) -> np.ndarray:
    """Spread each day's energy evenly over 24 hours (days without DST change)."""
    return np.repeat(np.asarray(day_kwh, dtype=float) / 24.0, 24)[None, :]


def test_defaults_are_guideline_14s():
    assert FSU_CORRECTION == 1.26
    assert DEFAULT_CONFIDENCE == 0.90


# --- Student's t -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("df", "table"),
    # two-sided 90 % (one-sided 0.95) values from any t table
    [
        (1, 6.3138),
        (2, 2.9200),
        (3, 2.3534),
        (4, 2.1318),
        (5, 2.0150),
        (10, 1.8125),
        (30, 1.6973),
        (60, 1.6706),
        (120, 1.6577),
        (1e9, 1.6449),
    ],
)
def test_student_t_quantile_matches_the_table(df, table):
    assert student_t_quantile(0.95, np.array([df]))[0] == pytest.approx(table, rel=6e-4)


def test_student_t_quantile_is_exact_for_one_and_two_degrees_of_freedom():
    # df 1: tan(pi (p - 1/2)); p = 0.75 -> tan(pi / 4) = 1
    # df 2: (2p - 1) / sqrt(2 p (1 - p)); p = 0.9 -> 0.8 / sqrt(0.18) = 1.885618...
    assert student_t_quantile(0.75, np.array([1.0]))[0] == pytest.approx(1.0, rel=1e-12)
    assert student_t_quantile(0.9, np.array([2.0]))[0] == pytest.approx(0.8 / np.sqrt(0.18))


def test_student_t_quantile_of_a_scalar_and_of_an_array():
    assert np.shape(student_t_quantile(0.95, 10.0)) == ()
    assert student_t_quantile(0.95, np.array([[10.0, 10.0]])).shape == (1, 2)


# --- residual statistics -----------------------------------------------------------------


def test_residual_statistics_by_hand():
    # Site 0: r = 1, 1, -1, -1, mean use 10 kWh per point, p = 0.
    #   mean r = 0; sum r^2 = 4; CV = sqrt(4 / 4) / 10 = 0.1
    #   lag-1: 1*1 + 1*(-1) + (-1)*(-1) = 1 -> rho = 1 / 4 = 0.25; n = 4
    # Site 1: r = 2, (gap), 2, -2, -2, mean use 8, p = 1.
    #   n = 4, mean r = 0; sum r^2 = 16; CV = sqrt(16 / 3) / 8 = 0.288675...
    #   lag-1 pairs only across neighbours that both exist: 2*(-2) + (-2)*(-2) = 0 -> rho = 0
    r = np.array([[1.0, 1.0, -1.0, -1.0, np.nan], [2.0, 99.0, 2.0, -2.0, -2.0]])
    ok = np.array([[True, True, True, True, False], [True, False, True, True, True]])
    cv, rho, n = residual_statistics(r, ok, np.array([10.0, 8.0]), np.array([0, 1]))
    np.testing.assert_allclose(cv, [0.1, np.sqrt(16 / 3) / 8])
    np.testing.assert_allclose(rho, [0.25, 0.0])
    np.testing.assert_array_equal(n, [4, 4])


def test_residual_statistics_without_residuals_is_nan():
    cv, rho, n = residual_statistics(np.zeros((1, 3)), np.zeros((1, 3), bool), np.array([5.0]))
    assert np.isnan(cv[0]) and rho[0] == 0.0 and n[0] == 0


# --- the Guideline 14 formula ------------------------------------------------------------

# Worked example (4 sites share n = 60 daily residuals, rho = 0.5, CV = 0.10, p = 0, a
# reporting period of m = 30 days and a baseline of 30,000 kWh):
#   n' = 60 (1 - 0.5) / (1 + 0.5) = 20
#   t = t(0.95, 60 - 0) = 1.670649 (table: 1.671)
#   sqrt((n / n') (1 + 2 / n') (1 / m)) = sqrt(3 x 1.1 / 30) = sqrt(0.11) = 0.3316625
#   dE = 1.26 x 1.670649 x 0.10 x 0.3316625 x 30,000 kWh
#      = 2.1050177 x 0.03316625 x 30,000 = 0.0698155 x 30,000 = 2,094.47 kWh
#   site 0 saves 3,000 kWh (F = 0.1): FSU = 2,094.47 / 3,000 = 69.82 %, significant
#   site 1 saves 1,500 kWh: FSU = 139.6 %, not significant
#   site 2 uses 500 kWh more: FSU = 2,094.47 / 500 = 418.9 %, not significant
#   site 3 has negative rho (-0.3): clipped to 0, n' = n = 60:
#     sqrt(1 x (1 + 2 / 60) / 30) = sqrt(0.0344444) = 0.1855921
#     dE = 2.1050177 x 0.01855921 x 30,000 = 1,172.02 kWh; saves 3,000: FSU 39.07 %
DE = 1.26 * 1.670649 * 0.10 * np.sqrt(0.11) * 30_000.0  # 2,094.47 kWh
DE_NO_RHO = 1.26 * 1.670649 * 0.10 * np.sqrt((1 + 2 / 60) / 30) * 30_000.0  # 1,172.02 kWh


def worked_example():
    return fractional_savings_uncertainty(
        cv_rmse=np.full(4, 0.10),
        rho=np.array([0.5, 0.5, 0.5, -0.3]),
        n=np.full(4, 60),
        reporting_points=np.full(4, 30.0),
        baseline_kwh=np.full(4, 30_000.0),
        saved_kwh=np.array([3000.0, 1500.0, -500.0, 3000.0]),
    )


def test_worked_example_uncertainty_kwh():
    assert abs(DE - 2094.47) < 0.01
    assert abs(DE_NO_RHO - 1172.02) < 0.01
    u = worked_example()
    np.testing.assert_allclose(u.uncertainty_kwh, [DE, DE, DE, DE_NO_RHO], rtol=1e-5)


def test_worked_example_percentages_and_significance():
    u = worked_example()
    np.testing.assert_allclose(
        u.fsu_pct, [100 * DE / 3000, 100 * DE / 1500, 100 * DE / 500, 100 * DE_NO_RHO / 3000]
    )
    assert u.fsu_pct[0] == pytest.approx(69.82, abs=0.01)
    # the ± on reduction_pct: 2,094.47 / 30,000 = 6.98 percentage points
    np.testing.assert_allclose(u.uncertainty_pct[:3], 100 * DE / 30_000)
    np.testing.assert_array_equal(u.significant, [True, False, False, True])


def test_worked_example_intermediate_values():
    u = worked_example()
    np.testing.assert_allclose(u.n_effective, [20.0, 20.0, 20.0, 60.0])
    np.testing.assert_allclose(u.rho, [0.5, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(u.t, 1.670649, rtol=1e-5)


def test_uncertainty_scales_with_the_baseline_and_not_with_the_saving():
    # dE is proportional to E_baseline (CV is relative): doubling a site's energy doubles dE
    # and leaves FSU and the significance flag alone
    one = worked_example()
    two = fractional_savings_uncertainty(
        np.full(4, 0.10),
        np.array([0.5, 0.5, 0.5, -0.3]),
        np.full(4, 60),
        np.full(4, 30.0),
        np.full(4, 60_000.0),
        2 * np.array([3000.0, 1500.0, -500.0, 3000.0]),
    )
    np.testing.assert_allclose(two.uncertainty_kwh, 2 * one.uncertainty_kwh)
    np.testing.assert_allclose(two.fsu_pct, one.fsu_pct)
    np.testing.assert_array_equal(two.significant, one.significant)


def test_more_reporting_days_narrow_the_uncertainty_by_the_square_root():
    # m = 30 -> 120: sqrt(1/m) halves; the other factors are unchanged
    wide = worked_example()
    narrow = fractional_savings_uncertainty(
        np.full(4, 0.10),
        np.array([0.5, 0.5, 0.5, -0.3]),
        np.full(4, 60),
        np.full(4, 120.0),
        np.full(4, 30_000.0),
        np.array([3000.0, 1500.0, -500.0, 3000.0]),
    )
    np.testing.assert_allclose(narrow.uncertainty_kwh, wide.uncertainty_kwh / 2)


def test_unusable_inputs_give_nan_and_not_significant():
    # n - p = 0; no reporting days; CV unknown; zero saving (FSU undefined)
    u = fractional_savings_uncertainty(
        cv_rmse=np.array([0.1, 0.1, np.nan, 0.1]),
        rho=np.zeros(4),
        n=np.array([3, 60, 60, 60]),
        reporting_points=np.array([30.0, 0.0, 30.0, 30.0]),
        baseline_kwh=np.full(4, 1000.0),
        saved_kwh=np.array([500.0, 500.0, 500.0, 0.0]),
        n_params=np.array([3, 0, 0, 0]),
    )
    assert np.isnan(u.uncertainty_kwh[:3]).all() and np.isfinite(u.uncertainty_kwh[3])
    assert np.isnan(u.fsu_pct).all()
    assert not u.significant.any()


def test_savings_uncertainty_from_residuals_by_hand():
    # Residuals 1, 1, -1, -1 (mean use 10 kWh/day, p = 0): CV 0.1, rho 0.25, n 4
    #   n' = 4 x 0.75 / 1.25 = 2.4; t(0.95, 4) = 2.131847 (table 2.132)
    #   sqrt((4 / 2.4)(1 + 2 / 2.4)(1 / 10)) = sqrt(1.6667 x 1.8333 x 0.1) = sqrt(0.305556)
    #     = 0.552771
    #   dE = 1.26 x 2.131847 x 0.1 x 0.552771 x 1,000 kWh = 148.48 kWh
    #   saving 200 kWh: FSU = 74.24 %, significant
    residuals = Residuals(
        np.array([[1.0, 1.0, -1.0, -1.0]]), np.ones((1, 4), bool), np.array([10.0]), np.zeros(1)
    )
    u = savings_uncertainty(residuals, np.array([10.0]), np.array([1000.0]), np.array([200.0]))
    expected = 1.26 * 2.131847 * 0.1 * np.sqrt((4 / 2.4) * (1 + 2 / 2.4) / 10) * 1000
    assert abs(expected - 148.48) < 0.01
    assert u.uncertainty_kwh[0] == pytest.approx(expected, rel=3e-4)
    assert u.fsu_pct[0] == pytest.approx(74.24, abs=0.05)
    assert u.significant[0]


def test_confidence_level_changes_t():
    # 95 % two-sided: t(0.975, 60) = 2.000 (table) instead of 1.671 at 90 %; dE grows by the
    # same ratio
    args = (np.array([0.1]), np.array([0.0]), np.array([60]), np.array([30.0]))
    energy = (np.array([1000.0]), np.array([100.0]))
    u90 = fractional_savings_uncertainty(*args, *energy)
    u95 = fractional_savings_uncertainty(*args, *energy, confidence=0.95)
    assert u95.t[0] == pytest.approx(2.000, abs=1e-3)
    assert u95.uncertainty_kwh[0] / u90.uncertainty_kwh[0] == pytest.approx(
        2.000 / 1.6706, rel=1e-3
    )


# --- daily energy and residuals of the baselines -----------------------------------------


def test_daily_energy_over_a_dst_day():
    # Sat 2011-03-26 (24 h) and Sun 03-27 (23 h), 1 kWh per hour. Site 1 misses one hour of
    # Sunday: its Sunday is not complete.
    grid = calendar(date(2011, 3, 26), date(2011, 3, 27))
    kwh = np.ones((2, 47))
    ok = np.ones((2, 47), dtype=bool)
    ok[1, 30] = False
    days, day_kwh, day_ok = daily_energy(kwh, ok, grid)
    assert days.tolist() == [date(2011, 3, 26).toordinal(), date(2011, 3, 27).toordinal()]
    np.testing.assert_array_equal(day_ok, [[True, True], [True, False]])
    assert day_kwh[0].tolist() == [24.0, 23.0]
    assert day_kwh[1, 0] == 24.0 and np.isnan(day_kwh[1, 1])


def test_daily_energy_of_an_empty_grid():
    days, day_kwh, day_ok = daily_energy(
        np.zeros((2, 0)), np.zeros((2, 0), bool), calendar(date(2011, 3, 2), date(2011, 3, 1))
    )
    assert days.size == 0 and day_kwh.shape == day_ok.shape == (2, 0)


def test_previous_year_residuals_by_hand():
    # 15 days Mon 2011-03-07 .. Mon 03-21: week 1 100 kWh/day, week 2 110, then 100.
    # r_d = E_d - E_(d-7): days 7..13 -> 10 each, day 14 -> 100 - 110 = -10; days 0..6 none.
    # CV: sqrt((7 x 100 + 100) / 8) = 10 over mean E_d of the residual days
    #     (7 x 110 + 100) / 8 = 108.75 -> 0.0919540
    # rho: mean r = (70 - 10) / 8 = 7.5; centred 2.5 (x7), -17.5; sum c^2 = 43.75 + 306.25
    #      = 350; lag-1: 6 x 6.25 + 2.5 x (-17.5) = 37.5 - 43.75 = -6.25 -> -6.25 / 350
    grid = calendar(date(2011, 3, 7), date(2011, 3, 21))
    kwh = hourly_from_daily([100.0] * 7 + [110.0] * 7 + [100.0])
    res = previous_year_residuals(kwh, np.ones(kwh.shape, bool), grid)
    assert res.ok[0].tolist() == [False] * 7 + [True] * 8
    np.testing.assert_allclose(res.residual_kwh[0, 7:], [10.0] * 7 + [-10.0])
    assert res.mean_kwh[0] == pytest.approx(108.75)
    assert res.n_params.tolist() == [0]
    cv, rho, n = residual_statistics(res.residual_kwh, res.ok, res.mean_kwh, res.n_params)
    assert cv[0] == pytest.approx(10.0 / 108.75)
    assert rho[0] == pytest.approx(-6.25 / 350.0)
    assert n[0] == 8


def test_previous_year_residuals_leave_holidays_and_incomplete_days_out():
    # Mon 2011-04-11 .. Fri 04-29: Good Friday 04-22, Easter Sunday 04-24, Easter Monday 04-25.
    # Residual days are 04-18 .. 04-29 (index 7..18) whose day and day - 7 are both ordinary
    # and complete: out are 04-22, 04-24, 04-25 (holidays) and 04-29 (04-22 a week earlier).
    # An incomplete Tue 04-12 (one hour missing) takes out 04-19 as well.
    grid = calendar(date(2011, 4, 11), date(2011, 4, 29))
    kwh = np.ones((1, grid.hour.size))
    ok = np.ones_like(kwh, dtype=bool)
    ok[0, 24 + 5] = False
    res = previous_year_residuals(kwh, ok, grid)
    days_with_residual = [
        date.fromordinal(int(d)).day for d in range(grid.day_ordinal[0], grid.day_ordinal[-1] + 1)
    ]
    got = [d for d, has in zip(days_with_residual, res.ok[0].tolist(), strict=True) if has]
    assert got == [18, 20, 21, 23, 26, 27, 28]


def test_pre_period_residuals_by_hand():
    # Two weeks Mon 2011-03-07 .. Sun 03-20, day totals
    #   week 1: Mon..Sun 100 100 100 100 100  20 10
    #   week 2:          120 100 100 100  80  40 10
    # Day-type means: Mon 110, Tue..Thu 100, Fri 90, Sat 30, Sun 10 (p = 7)
    # Residuals: -10 0 0 0 10 -10 0 | 10 0 0 0 -10 10 0
    # CV = sqrt(600 / (14 - 7)) / (1080 / 14) = 9.258201 / 77.142857 = 0.120014
    # rho: lag-1 products 10 x (-10) and (-10) x 10 -> -200 / 600 = -1/3
    grid = calendar(date(2011, 3, 7), date(2011, 3, 20))
    kwh = hourly_from_daily([100, 100, 100, 100, 100, 20, 10, 120, 100, 100, 100, 80, 40, 10])
    res = pre_period_residuals(kwh, np.ones(kwh.shape, bool), grid)
    np.testing.assert_allclose(
        res.residual_kwh[0], [-10, 0, 0, 0, 10, -10, 0, 10, 0, 0, 0, -10, 10, 0], atol=1e-9
    )
    assert res.n_params.tolist() == [7]
    assert res.mean_kwh[0] == pytest.approx(1080 / 14)
    cv, rho, n = residual_statistics(res.residual_kwh, res.ok, res.mean_kwh, res.n_params)
    assert cv[0] == pytest.approx(np.sqrt(600 / 7) / (1080 / 14))
    assert cv[0] == pytest.approx(0.120014, abs=1e-6)
    assert rho[0] == pytest.approx(-1 / 3)
    assert n[0] == 14


def test_pre_period_residuals_put_holidays_with_sundays():
    # Mon 2011-05-30 .. Sun 06-05 with Ascension on Thursday: Thu (10) and Sun (20) form one
    # type, mean 15 -> residuals -5 and +5; the other days are alone in their type -> 0.
    # p = Mon, Tue, Wed, Fri, Sat, Sun/holiday = 6.
    grid = calendar(date(2011, 5, 30), date(2011, 6, 5))
    kwh = hourly_from_daily([100, 100, 100, 10, 100, 50, 20])
    res = pre_period_residuals(kwh, np.ones(kwh.shape, bool), grid)
    np.testing.assert_allclose(res.residual_kwh[0], [0, 0, 0, -5, 0, 0, 5], atol=1e-9)
    assert res.n_params.tolist() == [6]


def test_residual_constructors_with_empty_history():
    grid = calendar(date(2011, 3, 2), date(2011, 3, 1))
    for build in (previous_year_residuals, pre_period_residuals):
        res = build(np.zeros((2, 0)), np.zeros((2, 0), bool), grid)
        assert res.residual_kwh.shape == (2, 0) and not res.ok.any()
        u = savings_uncertainty(res, np.full(2, 10.0), np.full(2, 100.0), np.full(2, 10.0))
        assert np.isnan(u.uncertainty_kwh).all() and not u.significant.any()


# --- properties --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["previous-year", "pre-period"]))
def test_property_doubling_a_sites_energy_keeps_its_fsu(seed, method):
    # CV is relative and dE proportional to the baseline: doubling a site's history, baseline
    # and saving doubles dE and keeps CV, rho, FSU and the flag
    rng = np.random.default_rng(seed)
    grid = calendar(date(2011, 2, 7), date(2011, 3, 20))
    kwh = rng.uniform(1.0, 20.0, (2, grid.hour.size))
    ok = rng.random(kwh.shape) > 0.002
    build = previous_year_residuals if method == "previous-year" else pre_period_residuals
    base, saved, days = np.array([900.0, 800.0]), np.array([90.0, -10.0]), np.array([20.0, 20.0])
    one = savings_uncertainty(build(kwh, ok, grid), days, base, saved)
    two = savings_uncertainty(build(2 * kwh, ok, grid), days, 2 * base, 2 * saved)
    np.testing.assert_allclose(two.cv_rmse, one.cv_rmse, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(two.rho, one.rho, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(two.uncertainty_kwh, 2 * one.uncertainty_kwh, rtol=1e-9)
    np.testing.assert_allclose(two.fsu_pct, one.fsu_pct, rtol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(two.significant, one.significant)
