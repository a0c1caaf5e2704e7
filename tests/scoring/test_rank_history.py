"""Rank history: the standings at the end of each local day."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np

from scoring.calendar import hour_grid, local_hours
from scoring.rank_history import rank_history

TZ = ZoneInfo("Europe/Stockholm")


def test_ranks_change_when_a_site_overtakes_another():
    grid = local_hours(hour_grid(date(2011, 3, 1), date(2011, 3, 3), TZ), TZ)
    hours = grid.hour_start_s.size  # 72
    baseline = np.full((2, hours), 10.0)
    actual = np.empty((2, hours))
    actual[0] = 9.0  # a saves 10 % every hour
    actual[1, :24] = 9.5  # b saves 5 % on day 1 ...
    actual[1, 24:] = 7.0  # ... then 30 %
    elapsed = np.ones(hours, dtype=bool)
    elapsed[-12:] = False  # day 3 has not ended
    h = rank_history(
        actual,
        np.full((2, hours), 3600.0),
        baseline,
        np.ones((2, hours), bool),
        elapsed,
        grid.day_ordinal,
        np.array([100.0, 100.0]),
        ["a", "b"],
    )
    assert [date.fromordinal(int(d)) for d in h.day_ordinal] == [date(2011, 3, 1), date(2011, 3, 2)]
    # day 1: a 10 %, b 5 %; after day 2: a 10 %, b (24*0.5 + 24*3) / 480 = 84/480 = 17.5 %
    np.testing.assert_allclose(h.reduction_pct, [[10.0, 5.0], [10.0, 17.5]])
    assert h.rank.tolist() == [[1, 2], [2, 1]]


def test_incomplete_sites_are_not_ranked_on_the_days_they_lack_data():
    grid = local_hours(hour_grid(date(2011, 3, 1), date(2011, 3, 2), TZ), TZ)
    hours = grid.hour_start_s.size
    measured = np.full((2, hours), 3600.0)
    measured[1, :20] = 0.0  # b misses 20 of day 1's 24 hours: 4/24 complete, then 28/48
    h = rank_history(
        np.full((2, hours), 9.0),
        measured,
        np.full((2, hours), 10.0),
        np.ones((2, hours), bool),
        np.ones(hours, bool),
        grid.day_ordinal,
        np.array([1.0, 1.0]),
        ["a", "b"],
        min_completeness=0.5,
    )
    assert h.rank.tolist() == [[1, 0], [1, 2]]
