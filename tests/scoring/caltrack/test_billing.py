"""CalTRACK billing baselines: hand-worked fits and the billing data rules."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pytest
import statsmodels.api as sm

from scoring.caltrack.billing import (
    billing_periods,
    billing_residuals,
    fit_billing,
    predict_billing,
)
from scoring.caltrack.rules import (
    BASELINE_LENGTH,
    BILLS_TOO_OLD,
    CDD_ONLY,
    HDD_ONLY,
    INTERCEPT_ONLY,
    MISSING_METER_DAYS,
    NO_BILLS,
)

START = date(2011, 3, 1).toordinal()  # the competition's first day
DAYS = np.arange(START - 430, START + 31)


def _month_starts() -> list[int]:
    firsts = [date(2010, m, 1) for m in range(3, 13)] + [date(2011, m, 1) for m in (1, 2, 3)]
    return [d.toordinal() for d in firsts]


def _f_to_c(f):
    return (np.asarray(f, dtype=float) - 32) * 5 / 9


def _bills(daily_kwh: np.ndarray, starts=None) -> np.ndarray:
    starts = _month_starts() if starts is None else starts
    return np.array(
        [(a, b, daily_kwh[a - DAYS[0] : b - DAYS[0]].sum()) for a, b in itertools.pairwise(starts)]
    )


def test_a_heating_only_building_gives_its_slope_and_balance_point_back():
    # each month at one temperature: month k of the year at 20 + 5k °F (20..75 °F)
    temp_f = np.full(DAYS.size, 50.0)
    for k, (a, b) in enumerate(zip(_month_starts(), _month_starts()[1:], strict=False)):
        temp_f[a - DAYS[0] : b - DAYS[0]] = 20.0 + 5.0 * k
    # 100 kWh/day plus 3 kWh per °F-day under 60 °F
    daily = 100.0 + 3.0 * np.maximum(60.0 - temp_f, 0.0)
    periods = billing_periods([_bills(daily)], START)
    assert periods.granularity.tolist() == ["billing_monthly"]
    models = fit_billing(periods, _f_to_c(temp_f), DAYS)
    assert models.model_type.tolist() == [HDD_ONLY]
    assert models.sufficient.tolist() == [True]
    assert models.n_periods.tolist() == [12] and models.n_days.tolist() == [365]
    assert models.intercept_kwh[0] == pytest.approx(100.0)
    assert models.heating_balance_c[0] == pytest.approx(_f_to_c(60.0))
    assert models.heating_kwh_per_degc_day[0] == pytest.approx(3.0 * 9 / 5)
    assert np.isnan(models.cooling_balance_c[0])
    # 30 °F -> 100 + 3 x 30; 70 °F -> base load only
    pred = predict_billing(models, _f_to_c([30.0, 70.0, np.nan]))
    assert pred[0, :2] == pytest.approx([190.0, 100.0])
    assert np.isnan(pred[0, 2])
    residuals, per_point = billing_residuals(models, periods, _f_to_c(temp_f), DAYS)
    assert np.nanmax(np.abs(residuals.residual_kwh)) < 1e-6
    assert per_point[0] == pytest.approx(365 / 12)


def test_the_choice_matches_a_weighted_least_squares_by_statsmodels():
    rng = np.random.default_rng(7)
    temp_c = (
        5.0 - 12.0 * np.cos(2 * np.pi * (DAYS - START + 45) / 365.0) + rng.normal(0, 3, DAYS.size)
    )
    temp_f = temp_c * 9 / 5 + 32
    daily = 80.0 + 2.0 * np.maximum(58.0 - temp_f, 0.0) + 1.5 * np.maximum(temp_f - 68.0, 0.0)
    # uneven bills, 27-34 days, with noise
    starts = [START - 365]
    while starts[-1] < START:
        starts.append(starts[-1] + int(rng.integers(27, 35)))
    starts[-1] = START
    bills = _bills(daily * rng.normal(1.0, 0.03, DAYS.size), starts)
    periods = billing_periods([bills], START)
    models = fit_billing(periods, temp_c, DAYS)
    assert models.sufficient[0]
    kind = models.model_type[0]
    ok = periods.ok[0]
    n_days = periods.days[0][ok]
    y = periods.energy_kwh[0][ok] / n_days
    columns = []
    for balance, sign in ((models.heating_balance_c[0], 1), (models.cooling_balance_c[0], -1)):
        if np.isfinite(balance):
            bp = balance * 9 / 5 + 32
            columns.append(
                [
                    np.maximum(sign * (bp - temp_f[a - DAYS[0] : b - DAYS[0]]), 0).mean()
                    for a, b in zip(periods.start_day[0][ok], periods.end_day[0][ok], strict=False)
                ]
            )
    assert kind != INTERCEPT_ONLY and len(columns) >= 1
    fit = sm.WLS(y, sm.add_constant(np.array(columns).T), weights=n_days).fit()
    assert models.intercept_kwh[0] == pytest.approx(fit.params[0], rel=1e-9)
    assert models.r_squared_adj[0] == pytest.approx(fit.rsquared_adj, rel=1e-9)
    assert (fit.pvalues[1:] < 0.1).all()


def test_a_flat_building_is_intercept_only_and_cooling_shows_as_cooling():
    temp_c = 5.0 - 12.0 * np.cos(2 * np.pi * (DAYS - START + 45) / 365.0)
    flat = billing_periods([_bills(np.full(DAYS.size, 50.0))], START)
    cool = billing_periods([_bills(40.0 + 2.0 * np.maximum(temp_c - 12.0, 0.0))], START)
    models = fit_billing(
        _two_sites(flat, cool), np.stack([temp_c, temp_c]), DAYS
    )  # two sites at once
    assert models.model_type.tolist() == [INTERCEPT_ONLY, CDD_ONLY]
    assert models.intercept_kwh[0] == pytest.approx(50.0)
    # 12 °C = 53.6 °F is between grid points and months smear the kink: near, not exact
    assert models.cooling_kwh_per_degc_day[1] == pytest.approx(2.0, rel=0.1)


def _two_sites(a, b):
    """Two sites' bills in one call, as the api passes them."""
    return billing_periods(
        [
            np.c_[a.start_day[0][a.ok[0]], a.end_day[0][a.ok[0]], a.energy_kwh[0][a.ok[0]]],
            np.c_[b.start_day[0][b.ok[0]], b.end_day[0][b.ok[0]], b.energy_kwh[0][b.ok[0]]],
        ],
        START,
    )


def test_insufficient_bills_say_why():
    temp_c = np.full(DAYS.size, 0.0)
    daily = np.full(DAYS.size, 100.0)
    starts = _month_starts()
    six_months = _bills(daily, starts[-7:])
    old = _bills(daily, [s - 365 for s in starts])  # a year ending 365 days before the start
    gappy = np.delete(_bills(daily), [3, 4], axis=0)  # two bills missing
    offcycle = _bills(daily, [*starts[:6], starts[6] - 20, *starts[6:]])  # a 10-day read
    periods = billing_periods([six_months, old, gappy, offcycle, np.zeros((0, 3))], START)
    models = fit_billing(periods, temp_c, DAYS)
    assert models.sufficient.tolist() == [False, False, False, True, False]
    assert models.reasons[0] & BASELINE_LENGTH
    assert models.reasons[1] & BILLS_TOO_OLD
    assert models.reasons[2] & MISSING_METER_DAYS
    assert periods.offcycle.tolist() == [0, 0, 0, 2, 0]  # the 10-day and the 20-day reads
    assert models.reasons[4] & NO_BILLS
    assert "no_bills_before_the_start" in models.reason_names(4)


def test_daily_rows_are_summed_into_calendar_months():
    rows = np.array([(d, d + 1, 10.0) for d in range(START - 365, START)])
    periods = billing_periods([rows], START)
    assert periods.ok.sum() == 12
    assert periods.energy_kwh[0][periods.ok[0]][0] == pytest.approx(310.0)  # March 2010
