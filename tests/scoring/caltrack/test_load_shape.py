"""The day → hour load shape: spreading predicted days over their hours."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from scoring.calendar import hour_grid, local_hours
from scoring.caltrack.load_shape import spread_by_level
from tests.fixtures import TZ


def test_spreading_keeps_the_period_total_and_moves_energy_to_working_days():
    first, last = date(2011, 3, 1), date(2011, 3, 31)
    grid = local_hours(hour_grid(first, last, TZ), TZ, "SE")
    n_days = 31
    daily = np.full((2, n_days), 100.0)
    profile = np.full((2, 3, 24), np.nan)
    profile[0, 0] = 2.0  # working days at 48 kWh, weekends 24 kWh, flat over the hours
    profile[0, 1:] = 1.0
    hourly = spread_by_level(daily, profile, grid)
    # the total is the model's, less the hour the clocks skip on Sunday 27 March (02:00)
    sunday = grid.day_ordinal == date(2011, 3, 27).toordinal()
    assert sunday.sum() == 23
    skipped = np.array([hourly[0, sunday].mean(), hourly[1, sunday][1]])
    assert hourly.sum(axis=1) + skipped == pytest.approx([3100.0, 3100.0])
    day_type = grid.day_type
    assert hourly[0, day_type == 0].mean() == pytest.approx(2 * hourly[0, day_type == 1].mean())
    # no metered day at all: the typical office, 07-18 at twice the night's power
    tuesday = grid.day_ordinal == date(2011, 3, 1).toordinal()
    hours = hourly[1, tuesday]
    assert hours[8] == pytest.approx(2 * hours[3])
