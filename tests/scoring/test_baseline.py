"""Tests for the previous-year and pre-period baselines.

History values encode their own index (site 0: i, site 1: 1000 + i) so the history hour each
competition hour was mapped to can be read straight off the baseline.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from scoring.baseline import WEEKS_PER_YEAR_DAYS, pre_period, previous_year
from scoring.calendar import LocalHours, hour_grid, local_hours

TZ = ZoneInfo("Europe/Stockholm")


def calendar(first: date, last: date) -> LocalHours:
    return local_hours(hour_grid(first, last, TZ), TZ)


def indexed_history(n_hours: int) -> np.ndarray:
    """2 sites x n hours: site 0 holds i, site 1 holds 1000 + i at history hour i."""
    i = np.arange(n_hours, dtype=float)
    return np.vstack([i, 1000.0 + i])


def run_previous_year(history: LocalHours, target: LocalHours, ok=None):
    n = history.hour.size
    kwh = indexed_history(n)
    ok = np.ones((2, n), dtype=bool) if ok is None else ok
    return previous_year(kwh, ok, history, target)


def assert_maps_to(baseline: np.ndarray, ok: np.ndarray, history_index: list[int]):
    expected = np.array(history_index, dtype=float)
    np.testing.assert_array_equal(baseline[0], expected)
    np.testing.assert_array_equal(baseline[1], 1000.0 + expected)
    assert ok.all()


# --- previous_year ---------------------------------------------------------------------------


def test_364_days_is_52_weeks():
    assert WEEKS_PER_YEAR_DAYS == 52 * 7


def test_ordinary_week_maps_to_same_hour_364_days_earlier():
    # Mon 2011-03-07 - 364 days = Mon 2010-03-08. History starts a day earlier (2010-03-07),
    # no DST change in either range, so target hour j -> history hour j + 24.
    assert date(2011, 3, 7) - timedelta(days=364) == date(2010, 3, 8)
    target = calendar(date(2011, 3, 7), date(2011, 3, 13))
    history = calendar(date(2010, 3, 7), date(2010, 3, 15))
    baseline, ok = run_previous_year(history, target)
    assert baseline.shape == ok.shape == (2, 168)
    assert_maps_to(baseline, ok, list(range(24, 24 + 168)))


def test_previous_year_keeps_weekday_and_local_hour():
    target = calendar(date(2011, 3, 7), date(2011, 3, 13))
    history = calendar(date(2010, 3, 7), date(2010, 3, 15))
    baseline, _ = run_previous_year(history, target)
    mapped = baseline[0].astype(int)
    np.testing.assert_array_equal(history.weekday[mapped], target.weekday)
    np.testing.assert_array_equal(history.hour[mapped], target.hour)
    np.testing.assert_array_equal(history.day_ordinal[mapped], target.day_ordinal - 364)


def test_history_across_winter_to_summer_time_maps_by_local_hour():
    # Target Mon 2011-04-04 (CEST) <- history Mon 2010-04-05 (CEST), history grid starting
    # Sat 2010-03-27 with the 23 h DST Sunday 03-28 inside it:
    # 03-27 (24) + 03-28 (23) + 03-29 .. 04-04 (7 x 24 = 168) = 215 hours before 04-05.
    target = calendar(date(2011, 4, 4), date(2011, 4, 4))
    history = calendar(date(2010, 3, 27), date(2010, 4, 5))
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, list(range(215, 215 + 24)))


def test_23_hour_competition_day_against_24_hour_history_day():
    # 2013-03-31 (spring change, 23 h) - 364 days = 2012-04-01 (ordinary Sunday, 24 h).
    # Target local hours 0, 1, 3..23 -> history hours (= indices) 0, 1, 3..23; hour 2 unused.
    assert date(2013, 3, 31) - timedelta(days=364) == date(2012, 4, 1)
    target = calendar(date(2013, 3, 31), date(2013, 3, 31))
    history = calendar(date(2012, 4, 1), date(2012, 4, 1))
    assert (target.hour.size, history.hour.size) == (23, 24)
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, [0, 1, *range(3, 24)])


def test_24_hour_competition_day_against_23_hour_history_day_uses_next_hour():
    # 2013-03-24 (24 h) - 364 days = 2012-03-25 (spring change, 23 h).
    # History indices: 0 -> h0, 1 -> h1, 2 -> h3, ..., 22 -> h23 (hour h >= 3 at index h - 1).
    # Target h0 -> 0, h1 -> 1, h2 (missing) -> next hour h3 -> 2, h3 -> 2, h4 -> 3 ... h23 -> 22.
    assert date(2013, 3, 24) - timedelta(days=364) == date(2012, 3, 25)
    target = calendar(date(2013, 3, 24), date(2013, 3, 24))
    history = calendar(date(2012, 3, 25), date(2012, 3, 25))
    assert (target.hour.size, history.hour.size) == (24, 23)
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, [0, 1, 2, *range(2, 23)])


def test_25_hour_competition_day_against_24_hour_history_day_repeats_hour_2():
    # 2010-10-31 (autumn change, 25 h) - 364 days = 2009-11-01 (24 h).
    # Target indices: h0, h1, h2 fold 0, h2 fold 1, h3..h23. The fold 1 hour falls back to
    # fold 0: -> history 0, 1, 2, 2, 3..23.
    assert date(2010, 10, 31) - timedelta(days=364) == date(2009, 11, 1)
    target = calendar(date(2010, 10, 31), date(2010, 10, 31))
    history = calendar(date(2009, 11, 1), date(2009, 11, 1))
    assert (target.hour.size, history.hour.size) == (25, 24)
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, [0, 1, 2, 2, *range(3, 24)])


def test_24_hour_competition_day_against_25_hour_history_day_uses_first_hour_2():
    # 2010-10-24 (24 h) - 364 days = 2009-10-25 (autumn change, 25 h).
    # History indices: 0 h0, 1 h1, 2 h2 fold 0, 3 h2 fold 1, 4 h3, ..., 24 h23.
    # Target h0..h2 -> 0..2; h3..h23 -> 4..24; the repeated history hour (3) is unused.
    assert date(2010, 10, 24) - timedelta(days=364) == date(2009, 10, 25)
    target = calendar(date(2010, 10, 24), date(2010, 10, 24))
    history = calendar(date(2009, 10, 25), date(2009, 10, 25))
    assert (target.hour.size, history.hour.size) == (24, 25)
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, [0, 1, 2, *range(4, 25)])


def test_25_hour_days_on_both_sides_map_fold_to_fold():
    # 2011-10-30 - 364 days = 2010-10-31: both autumn-change days, identity mapping 0..24
    assert date(2011, 10, 30) - timedelta(days=364) == date(2010, 10, 31)
    target = calendar(date(2011, 10, 30), date(2011, 10, 30))
    history = calendar(date(2010, 10, 31), date(2010, 10, 31))
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, list(range(25)))


def test_history_hour_not_ok_gives_nan_and_not_ok_for_that_site_only():
    # Identity mapping on Mon 2011-03-07 <- Mon 2010-03-08; site 0 lacks history hour 5,
    # site 1 lacks history hours 0 and 23.
    target = calendar(date(2011, 3, 7), date(2011, 3, 7))
    history = calendar(date(2010, 3, 8), date(2010, 3, 8))
    history_ok = np.ones((2, 24), dtype=bool)
    history_ok[0, 5] = False
    history_ok[1, [0, 23]] = False
    baseline, ok = run_previous_year(history, target, history_ok)
    expected_ok = history_ok  # identity mapping
    np.testing.assert_array_equal(ok, expected_ok)
    assert np.isnan(baseline[0, 5])
    assert np.isnan(baseline[1, 0]) and np.isnan(baseline[1, 23])
    assert baseline[0, 4] == 4.0 and baseline[1, 5] == 1005.0


def test_missing_spring_hour_fallback_inherits_not_ok_of_next_hour():
    # 2013-03-24 <- 2012-03-25 (23 h): target h2 and h3 both read history index 2 (h3).
    target = calendar(date(2013, 3, 24), date(2013, 3, 24))
    history = calendar(date(2012, 3, 25), date(2012, 3, 25))
    history_ok = np.ones((2, 23), dtype=bool)
    history_ok[0, 2] = False
    baseline, ok = run_previous_year(history, target, history_ok)
    assert not ok[0, 2] and not ok[0, 3]
    assert np.isnan(baseline[0, 2]) and np.isnan(baseline[0, 3])
    assert ok[1].all()


def test_target_hours_outside_history_are_not_ok():
    # Target Mon 2011-03-07 .. Tue 03-08 <- history only Mon 2010-03-08: Tuesday has none
    target = calendar(date(2011, 3, 7), date(2011, 3, 8))
    history = calendar(date(2010, 3, 8), date(2010, 3, 8))
    baseline, ok = run_previous_year(history, target)
    assert ok[:, :24].all()
    assert not ok[:, 24:].any()
    assert np.isnan(baseline[:, 24:]).all()


def test_history_from_wrong_year_matches_nothing():
    # 2011-03-07 - 364 = 2010-03-08; a history of 2010-03-01 is a week off
    target = calendar(date(2011, 3, 7), date(2011, 3, 7))
    history = calendar(date(2010, 3, 1), date(2010, 3, 1))
    baseline, ok = run_previous_year(history, target)
    assert not ok.any()
    assert np.isnan(baseline).all()


def test_previous_year_with_empty_history_has_no_baseline():
    target = calendar(date(2011, 3, 7), date(2011, 3, 7))
    history = local_hours(np.zeros(0), TZ)
    baseline, ok = previous_year(np.zeros((2, 0)), np.zeros((2, 0), dtype=bool), history, target)
    assert baseline.shape == ok.shape == (2, 24)
    assert not ok.any()


# --- pre_period ------------------------------------------------------------------------------

# Two history weeks Mon 2011-02-21 .. Sun 2011-03-06 (no DST), target week Mon 2011-03-07.
HIST_FIRST, HIST_LAST = date(2011, 2, 21), date(2011, 3, 6)
TARGET_FIRST, TARGET_LAST = date(2011, 3, 7), date(2011, 3, 13)


def two_week_history():
    """Site 0: 1.0 in week 1, 3.0 in week 2. Site 1: how in week 1, how + 10 in week 2."""
    how = np.arange(168, dtype=float)
    site0 = np.concatenate([np.full(168, 1.0), np.full(168, 3.0)])
    site1 = np.concatenate([how, how + 10.0])
    return np.vstack([site0, site1]), np.ones((2, 336), dtype=bool)


def test_pre_period_is_the_hour_of_week_mean_over_the_weeks():
    history = calendar(HIST_FIRST, HIST_LAST)
    target = calendar(TARGET_FIRST, TARGET_LAST)
    kwh, ok_in = two_week_history()
    baseline, ok = pre_period(kwh, ok_in, history, target)
    # site 0: (1 + 3) / 2 = 2 everywhere; site 1: (how + how + 10) / 2 = how + 5
    np.testing.assert_allclose(baseline[0], np.full(168, 2.0))
    np.testing.assert_allclose(baseline[1], np.arange(168) + 5.0)
    assert ok.all()


def test_pre_period_skips_hours_not_ok():
    history = calendar(HIST_FIRST, HIST_LAST)
    target = calendar(TARGET_FIRST, TARGET_LAST)
    kwh, ok_in = two_week_history()
    kwh[1, 8] = 1e6  # week 1, Monday 08:00 of site 1 is garbage ...
    ok_in[1, 8] = False  # ... and not measured: only week 2 counts, 8 + 10 = 18
    ok_in[0, 168 + 33] = False  # site 0 week 2, Tuesday 09:00 (24 + 9 = 33): only week 1 -> 1.0
    baseline, ok = pre_period(kwh, ok_in, history, target)
    assert baseline[1, 8] == pytest.approx(18.0)
    assert baseline[0, 33] == pytest.approx(1.0)
    assert baseline[0, 8] == pytest.approx(2.0)
    assert baseline[1, 33] == pytest.approx(38.0)  # (33 + 43) / 2
    assert ok.all()


def test_pre_period_slot_without_any_measured_hour_is_not_ok():
    history = calendar(HIST_FIRST, HIST_LAST)
    target = calendar(TARGET_FIRST, TARGET_LAST)
    kwh, ok_in = two_week_history()
    ok_in[0, [50, 168 + 50]] = False  # site 0 Wednesday 02:00 (2 * 24 + 2 = 50) in both weeks
    baseline, ok = pre_period(kwh, ok_in, history, target)
    assert not ok[0, 50] and np.isnan(baseline[0, 50])
    assert ok[1, 50] and baseline[1, 50] == pytest.approx(55.0)  # (50 + 60) / 2
    assert ok[0].sum() == 167


def test_pre_period_slots_absent_from_history_are_not_ok():
    # History Mon 2011-02-28 .. Wed 03-02 only: Thursday .. Sunday slots (72..167) are empty
    history = calendar(date(2011, 2, 28), date(2011, 3, 2))
    target = calendar(TARGET_FIRST, TARGET_LAST)
    kwh = np.vstack([np.full(72, 4.0), np.arange(72, dtype=float)])
    baseline, ok = pre_period(kwh, np.ones((2, 72), dtype=bool), history, target)
    assert ok[:, :72].all() and not ok[:, 72:].any()
    np.testing.assert_allclose(baseline[0, :72], 4.0)
    np.testing.assert_allclose(baseline[1, :72], np.arange(72))
    assert np.isnan(baseline[:, 72:]).all()


def test_pre_period_maps_target_hours_by_hour_of_week_not_position():
    # Target starting on Wednesday 2011-03-09: first target hour is slot 48
    history = calendar(HIST_FIRST, HIST_LAST)
    target = calendar(date(2011, 3, 9), date(2011, 3, 9))
    kwh, ok_in = two_week_history()
    baseline, _ = pre_period(kwh, ok_in, history, target)
    np.testing.assert_allclose(baseline[1], np.arange(48, 72) + 5.0)


def test_pre_period_repeated_autumn_hour_counts_twice_in_its_slot():
    # History Sun 2011-10-30 (25 h) only: slot 146 (Sunday 02:00) gets indices 2 and 3.
    # Values = index: slot 146 mean = (2 + 3) / 2 = 2.5; slot 147 (03:00) = index 4.
    history = calendar(date(2011, 10, 30), date(2011, 10, 30))
    target = calendar(date(2011, 11, 6), date(2011, 11, 6))  # the next Sunday, 24 h
    kwh = indexed_history(25)
    baseline, ok = pre_period(kwh, np.ones((2, 25), dtype=bool), history, target)
    assert baseline[0, 2] == pytest.approx(2.5)
    assert baseline[0, 3] == pytest.approx(4.0)
    assert baseline[1, 2] == pytest.approx(1002.5)
    assert ok.all()


def test_pre_period_with_empty_history_is_not_ok():
    target = calendar(TARGET_FIRST, TARGET_FIRST)
    history = local_hours(np.zeros(0), TZ)
    baseline, ok = pre_period(np.zeros((2, 0)), np.zeros((2, 0), dtype=bool), history, target)
    assert baseline.shape == ok.shape == (2, 24)
    assert not ok.any()
