"""The regression baselines as hourly baselines: a daily CalTRACK model's predicted days
spread over their hours by the site's load shape."""

from __future__ import annotations

from datetime import date

import numpy as np

from scoring.baselines.regression import regression
from scoring.calendar import hour_grid, local_hours
from tests.scoring.caltrack.test_daily import TZ, heating, swedish_year

HIST = local_hours(hour_grid(date(2022, 3, 1), date(2023, 2, 28), TZ), TZ)
TARGET = local_hours(hour_grid(date(2023, 3, 1), date(2023, 5, 31), TZ), TZ)
HIST_DAYS, HIST_INDEX = np.unique(HIST.day_ordinal, return_inverse=True)
TARGET_DAYS, TARGET_INDEX = np.unique(TARGET.day_ordinal, return_inverse=True)
HIST_TEMP = swedish_year(seed=2)
TARGET_TEMP = swedish_year(seed=3, n=TARGET_DAYS.size)


def hourly_history(daily_kwh):
    """Spread daily energy over the hours with a day profile peaking mid-day."""
    profile = 1.0 + np.sin(np.pi * HIST.hour / 24.0)
    day_profile = np.bincount(HIST_INDEX, weights=profile)
    return daily_kwh[HIST_INDEX] * profile / day_profile[HIST_INDEX]


def test_hourly_baseline_spreads_each_days_predicted_energy():
    daily = heating(600.0, 25.0, 15.0, HIST_TEMP)
    kwh = hourly_history(daily)[None, :]
    ok = np.ones_like(kwh, dtype=bool)
    base, base_ok = regression(kwh, ok, HIST, TARGET, HIST_TEMP, TARGET_TEMP)
    assert base.shape == (1, TARGET.hour.size) and base_ok.all()
    per_day = np.bincount(TARGET_INDEX, weights=base[0])
    expected = heating(600.0, 25.0, 15.0, TARGET_TEMP)
    # the day the clocks skip 02:00 loses that hour's share of the day
    spring_dst = np.searchsorted(TARGET_DAYS, date(2023, 3, 26).toordinal())
    assert (spring_dst == TARGET_INDEX).sum() == 23
    profile = 1.0 + np.sin(np.pi * np.arange(24) / 24.0)
    expected[spring_dst] *= 1 - profile[2] / profile.sum()
    np.testing.assert_allclose(per_day, expected, rtol=1e-3)


def test_hourly_baseline_follows_the_sites_hour_of_day_shape():
    kwh = hourly_history(np.full(HIST_DAYS.size, 480.0))[None, :]
    ok = np.ones_like(kwh, dtype=bool)
    base, _ = regression(kwh, ok, HIST, TARGET, HIST_TEMP, TARGET_TEMP)
    day = TARGET_INDEX == 10  # an ordinary 24-hour day
    profile = 1.0 + np.sin(np.pi * np.arange(24) / 24.0)
    np.testing.assert_allclose(base[0, day], 480.0 * profile / profile.sum(), rtol=1e-9)


def test_hourly_baseline_withholds_insufficient_sites():
    daily = heating(600.0, 25.0, 15.0, HIST_TEMP)
    kwh = np.vstack([hourly_history(daily)] * 2)
    ok = np.ones_like(kwh, dtype=bool)
    ok[1, : 24 * 60] = False  # two months without data
    base, base_ok = regression(kwh, ok, HIST, TARGET, HIST_TEMP, TARGET_TEMP)
    assert base_ok[0].all() and not base_ok[1].any()
    assert np.isnan(base[1]).all()
    _, kept = regression(kwh, ok, HIST, TARGET, HIST_TEMP, TARGET_TEMP, require_sufficient=False)
    assert kept[1].all()


def test_hourly_baseline_daytype_uses_weekend_shape_and_level():
    weekend = HIST.day_type > 0
    kwh = np.where(weekend, 10.0, 20.0 + 10.0 * (HIST.hour >= 8) * (HIST.hour < 17))[None, :]
    ok = np.ones_like(kwh, dtype=bool)
    base, base_ok = regression(kwh, ok, HIST, TARGET, HIST_TEMP, TARGET_TEMP, method="daytype")
    assert base_ok.all()
    weekend_t = TARGET.day_type > 0
    # flat weekends at 10 kWh/h, office hours on working days at 30 kWh/h (also on DST days)
    np.testing.assert_allclose(base[0, weekend_t & (TARGET.hour == 12)], 10.0, rtol=1e-6)
    np.testing.assert_allclose(base[0, ~weekend_t & (TARGET.hour == 12)], 30.0, rtol=1e-6)


def test_hourly_baseline_without_history_is_unknown():
    empty = local_hours(np.zeros(0), TZ)
    base, ok = regression(np.zeros((2, 0)), np.zeros((2, 0), bool), empty, TARGET, [], TARGET_TEMP)
    assert base.shape == ok.shape == (2, TARGET.hour.size)
    assert np.isnan(base).all() and not ok.any()
