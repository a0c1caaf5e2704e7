"""Tests for the pre-period baseline and the day-type profile it is made of."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from scoring.baselines.day_type_profile import day_type_profile, profile_slot
from scoring.baselines.pre_period import pre_period
from scoring.calendar import local_hours
from tests.scoring.baselines.test_previous_year import TZ, calendar, indexed_history

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


def test_pre_period_weekday_without_measured_hours_takes_the_working_day_mean():
    # Site 0 lacks Wednesday 02:00 (2 * 24 + 2 = 50) in both weeks: 0 of 2 measured < 1, so the
    # slot takes the mean of all measured working-day 02:00 hours: Mon, Tue, Thu, Fri in week 1
    # (1.0) and week 2 (3.0) -> (4 * 1 + 4 * 3) / 8 = 2.0.
    # Site 1 keeps its own slot: (50 + 60) / 2 = 55.
    history = calendar(HIST_FIRST, HIST_LAST)
    target = calendar(TARGET_FIRST, TARGET_LAST)
    kwh, ok_in = two_week_history()
    kwh[0, 50] = kwh[0, 168 + 50] = 1e6  # not measured: must not leak
    ok_in[0, [50, 168 + 50]] = False
    baseline, ok = pre_period(kwh, ok_in, history, target)
    assert baseline[0, 50] == pytest.approx(2.0)
    assert baseline[1, 50] == pytest.approx(55.0)
    assert ok.all()


def test_pre_period_weekday_slot_needs_half_its_hours_measured():
    # Four history weeks Mon 2011-02-07 .. Sun 03-06, site value = week number (1, 2, 3, 4).
    # Monday 08:00 measured in week 4 only: 1 of 4 < 0.5 * 4 = 2 -> pooled working-day 08:00
    # over the measured hours: Mon week 4 (4) + Tue weeks 3, 4 (3 + 4) + Wed, Thu, Fri weeks
    # 1..4 (3 x 10) = 41 over 1 + 2 + 12 = 15 hours -> 41 / 15.
    # Tuesday 08:00 (slot 32) measured in weeks 3 and 4: 2 >= 2 -> its own (3 + 4) / 2.
    history = calendar(date(2011, 2, 7), date(2011, 3, 6))
    target = calendar(TARGET_FIRST, TARGET_LAST)
    kwh = np.repeat(np.arange(1.0, 5.0), 168)[None, :]
    ok_in = np.ones((1, 4 * 168), dtype=bool)
    ok_in[0, [8, 168 + 8, 336 + 8]] = False
    ok_in[0, [32, 168 + 32]] = False
    baseline, ok = pre_period(kwh, ok_in, history, target)
    assert baseline[0, 8] == pytest.approx(41.0 / 15.0)
    assert baseline[0, 32] == pytest.approx(3.5)
    assert baseline[0, 9] == pytest.approx(2.5)  # (1 + 2 + 3 + 4) / 4
    assert ok.all()


def test_pre_period_weekdays_absent_from_history_take_the_working_day_mean():
    # History Mon 2011-02-28 .. Wed 03-02 only. Thursday and Friday (slots 72..119) take the
    # working-day mean of the same clock hour: site 0 -> 4.0; site 1 (value = index, Mon h =
    # h, Tue h = 24 + h, Wed h = 48 + h) -> (h + 24 + h + 48 + h) / 3 = h + 24.
    # No Saturday or Sunday in the history: those slots stay unknown.
    history = calendar(date(2011, 2, 28), date(2011, 3, 2))
    target = calendar(TARGET_FIRST, TARGET_LAST)
    kwh = np.vstack([np.full(72, 4.0), np.arange(72, dtype=float)])
    baseline, ok = pre_period(kwh, np.ones((2, 72), dtype=bool), history, target)
    assert ok[:, :120].all() and not ok[:, 120:].any()
    np.testing.assert_allclose(baseline[0, :120], 4.0)
    np.testing.assert_allclose(baseline[1, :72], np.arange(72))
    np.testing.assert_allclose(baseline[1, 72:120], np.tile(np.arange(24) + 24.0, 2))
    assert np.isnan(baseline[:, 120:]).all()


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


# --- profile slots and pre_period's day-type mix -----------------------------------------


def test_profile_slot_puts_holidays_with_sundays():
    # Thu 2011-06-02 (Ascension): 144 + h; Fri 06-03: 4 * 24 + h; Sat 06-04: 120 + h;
    # Sat 2011-06-25 (Midsummer Day, a holiday Saturday): 144 + h
    grid = calendar(date(2011, 6, 2), date(2011, 6, 4))
    h = np.arange(24)
    np.testing.assert_array_equal(profile_slot(grid), np.concatenate([144 + h, 96 + h, 120 + h]))
    np.testing.assert_array_equal(
        profile_slot(calendar(date(2011, 6, 25), date(2011, 6, 25))), 144 + h
    )


def test_pre_period_gives_a_holiday_wednesday_the_sunday_profile():
    # Target Mon 2011-05-30 .. Sun 06-05 with Ascension on Thursday 06-02 (hours 72..95).
    # History: two clean weeks Mon 05-16 .. Sun 05-29, site 1 = how in week 1, how + 10 in
    # week 2 -> ordinary slots how + 5; Thursday hour h takes the Sunday slot 144 + h:
    # 144 + h + 5 = 149 + h.
    history = calendar(date(2011, 5, 16), date(2011, 5, 29))
    target = calendar(date(2011, 5, 30), date(2011, 6, 5))
    kwh, ok_in = two_week_history()
    baseline, ok = pre_period(kwh, ok_in, history, target)
    expected = np.arange(168) + 5.0
    expected[72:96] = 149.0 + np.arange(24)
    np.testing.assert_allclose(baseline[1], expected)
    assert ok.all()


def test_pre_period_keeps_history_holidays_out_of_their_weekday():
    # History Mon 2011-04-11 .. Sun 04-24: Good Friday 04-22 and Easter Sunday 04-24 in week 2.
    # Site 0: 1.0 in week 1, 3.0 in week 2. Target Mon 2011-05-02 .. Sun 05-08 (no holiday):
    #   Friday: only week 1's Friday was a working Friday (1 of 1 >= 0.5) -> 1.0, not 2.0;
    #   Sunday/holiday: Sun 04-17 (1), Good Friday (3), Easter Sunday (3) -> 7 / 3;
    #   Mon..Thu and Saturday: (1 + 3) / 2 = 2.0.
    history = calendar(date(2011, 4, 11), date(2011, 4, 24))
    target = calendar(date(2011, 5, 2), date(2011, 5, 8))
    kwh, ok_in = two_week_history()
    baseline, ok = pre_period(kwh, ok_in, history, target)
    expected = np.repeat([2.0, 2.0, 2.0, 2.0, 1.0, 2.0, 7.0 / 3.0], 24)
    np.testing.assert_allclose(baseline[0], expected)
    assert ok.all()


def test_day_type_profile_saturday_and_sunday_stand_in_for_each_other():
    # History Sat 2011-03-05 only (value 2.0): the Sunday/holiday slots take Saturday's
    # values; no working day -> working slots unknown.
    history = calendar(date(2011, 3, 5), date(2011, 3, 5))
    profile = day_type_profile(np.full((1, 24), 2.0), np.ones((1, 24), bool), history)
    np.testing.assert_allclose(profile[0, 120:], 2.0)
    assert np.isnan(profile[0, :120]).all()
