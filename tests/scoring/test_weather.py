"""Daily mean temperature per local day."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np

from scoring.calendar import hour_grid, local_hours
from scoring.weather import daily_mean_temp_c, hourly_mean_temp_c

TZ = ZoneInfo("Europe/Stockholm")


def test_samples_count_for_their_local_day():
    grid = local_hours(hour_grid(date(2011, 3, 1), date(2011, 3, 3), TZ), TZ)
    start = grid.hour_start_s[0]  # 2011-03-01 00:00 local = 2011-02-28 23:00 UTC
    ts = np.array([start, start + 3600, start + 23.5 * 3600, start + 24 * 3600, start - 60])
    temp = np.array([-2.0, -4.0, 0.0, 5.0, 99.0])  # the last one is before the grid
    # day 1: (-2 - 4 + 0) / 3 = -2; day 2: 5; day 3: no samples
    out = daily_mean_temp_c(ts, temp, grid)
    assert out[:2].tolist() == [-2.0, 5.0] and np.isnan(out[2])


def test_samples_count_for_their_hour():
    grid = local_hours(hour_grid(date(2011, 3, 1), date(2011, 3, 1), TZ), TZ)
    start = grid.hour_start_s[0]
    ts = np.array(
        [start, start + 1800, start + 3600, start + 23.99 * 3600, start - 60, start + 86400]
    )
    temp = np.array([-2.0, -4.0, 1.5, 7.0, 99.0, 99.0])  # the last two are outside the grid
    out = hourly_mean_temp_c(ts, temp, grid)
    assert out.shape == (24,)
    assert out[[0, 1, 23]].tolist() == [-3.0, 1.5, 7.0]
    assert np.isnan(out[2:23]).all()


def test_hourly_means_of_nothing_are_nan():
    grid = local_hours(hour_grid(date(2011, 3, 1), date(2011, 3, 1), TZ), TZ)
    assert np.isnan(hourly_mean_temp_c(np.array([]), np.array([]), grid)).all()
    assert np.isnan(
        hourly_mean_temp_c(np.array([grid.hour_start_s[3]]), np.array([np.nan]), grid)
    ).all()
