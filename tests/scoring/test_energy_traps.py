"""Tests for night and weekend base loads, the after-hours share and action effects."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from scoring.calendar import LocalHours, hour_grid, local_hours
from scoring.energy_traps import (
    NIGHT_HOURS,
    OFFICE_HOURS,
    action_effect,
    energy_traps,
    trap_changes,
)

TZ = ZoneInfo("Europe/Stockholm")


def calendar(first: date, last: date) -> LocalHours:
    return local_hours(hour_grid(first, last, TZ), TZ)


def town_hall(grid: LocalHours, night_kwh: float = 2.0) -> np.ndarray:
    """A synthetic town hall, per hour [kWh]:

    working days: 00-05 `night_kwh`, 05-07 3, 07-18 10 (office), 18-24 4;
    Saturdays, Sundays and holidays: 1.5 all day.
    """
    h = grid.hour
    working = np.select(
        [h < 5, h < 7, h < 18], [night_kwh, 3.0, 10.0], default=4.0
    )  # fmt: skip
    return np.where(grid.day_type == 0, working, 1.5)


# An ordinary week Mon 2011-03-07 .. Sun 03-13 (no holiday, no DST change):
#   a working day: 5 x 2 + 2 x 3 + 11 x 10 + 6 x 4 = 10 + 6 + 110 + 24 = 150 kWh, of which
#   110 in office hours and 40 after hours; a weekend day: 24 x 1.5 = 36 kWh.
#   total 5 x 150 + 2 x 36 = 822 kWh; after hours 5 x 40 + 72 = 272 kWh
#   -> night 2.0 kW, weekend 1.5 kW, after-hours share 100 x 272 / 822 = 33.09 %
WEEK = calendar(date(2011, 3, 7), date(2011, 3, 13))


def test_hours_of_night_and_office():
    assert NIGHT_HOURS == (0, 5) and OFFICE_HOURS == (7, 18)


def test_traps_of_an_ordinary_week():
    kwh = town_hall(WEEK)[None, :]
    traps = energy_traps(kwh, np.ones(kwh.shape, bool), WEEK)
    assert traps.night_base_kw[0] == pytest.approx(2.0)
    assert traps.weekend_base_kw[0] == pytest.approx(1.5)
    assert traps.after_hours_share_pct[0] == pytest.approx(100 * 272 / 822)
    assert traps.after_hours_share_pct[0] == pytest.approx(33.09, abs=0.005)
    assert (traps.night_hours[0], traps.weekend_hours[0], traps.hours[0]) == (25, 48, 168)


def test_a_holiday_counts_as_a_weekend_day():
    # Mon 2011-05-30 .. Sun 06-05 with Ascension on Thursday (closed: 1.5 kWh all day).
    # 4 working days: night 2.0; weekend Thu + Sat + Sun: 1.5;
    # total 4 x 150 + 3 x 36 = 708; after hours 4 x 40 + 108 = 268 -> 100 x 268 / 708 = 37.85 %
    grid = calendar(date(2011, 5, 30), date(2011, 6, 5))
    kwh = town_hall(grid)[None, :]
    traps = energy_traps(kwh, np.ones(kwh.shape, bool), grid)
    assert traps.night_base_kw[0] == pytest.approx(2.0)
    assert traps.weekend_base_kw[0] == pytest.approx(1.5)
    assert traps.after_hours_share_pct[0] == pytest.approx(100 * 268 / 708)
    assert (traps.night_hours[0], traps.weekend_hours[0]) == (20, 72)


def test_unknown_hours_are_left_out():
    # Site 1 is site 0 with a 100 kWh glitch at Monday 03:00 that is not ok, and with its
    # Saturday unknown: same night and weekend loads; share over Mon..Fri + Sunday without
    # Monday 03:00 (a 2 kWh night hour): total 750 + 36 - 2 = 784, after hours
    # 200 + 36 - 2 = 234 -> 100 x 234 / 784
    kwh = np.vstack([town_hall(WEEK), town_hall(WEEK)])
    ok = np.ones(kwh.shape, bool)
    kwh[1, 3] = 100.0
    ok[1, 3] = False
    ok[1, 120:144] = False
    traps = energy_traps(kwh, ok, WEEK)
    np.testing.assert_allclose(traps.night_base_kw, [2.0, 2.0])
    np.testing.assert_allclose(traps.weekend_base_kw, [1.5, 1.5])
    assert traps.after_hours_share_pct[1] == pytest.approx(100 * 234 / 784)
    assert traps.night_hours.tolist() == [25, 24]


def test_no_known_hours_gives_nan():
    kwh = town_hall(WEEK)[None, :]
    traps = energy_traps(kwh, np.zeros(kwh.shape, bool), WEEK)
    assert np.isnan(traps.night_base_kw[0]) and np.isnan(traps.weekend_base_kw[0])
    assert np.isnan(traps.after_hours_share_pct[0])


def test_other_office_hours():
    # Office 08-17: a working day's after hours grow by the 07 and 17 hours (10 kWh each):
    # 40 + 20 = 60 -> (5 x 60 + 72) / 822 = 372 / 822
    kwh = town_hall(WEEK)[None, :]
    traps = energy_traps(kwh, np.ones(kwh.shape, bool), WEEK, office_hours=(8, 17))
    assert traps.after_hours_share_pct[0] == pytest.approx(100 * 372 / 822)


def test_trap_changes_after_a_night_walk():
    # Actual: nights at 1.5 instead of 2.0 kWh. Night change 100 x (1.5 / 2 - 1) = -25 %.
    # Actual total 822 - 25 x 0.5 = 809.5, after hours 272 - 12.5 = 259.5.
    # Share change 100 x 259.5 / 809.5 - 100 x 272 / 822 = 32.057 - 33.090 = -1.033 pp.
    actual = town_hall(WEEK, night_kwh=1.5)[None, :]
    baseline = town_hall(WEEK)[None, :]
    ok = np.ones(actual.shape, bool)
    changes = trap_changes(actual, ok, baseline, ok, WEEK)
    assert changes.night_base_change_pct[0] == pytest.approx(-25.0)
    assert changes.weekend_base_change_pct[0] == pytest.approx(0.0)
    expected = 100 * 259.5 / 809.5 - 100 * 272 / 822
    assert changes.after_hours_share_change_pp[0] == pytest.approx(expected)
    assert expected == pytest.approx(-1.033, abs=5e-4)
    assert changes.baseline.night_base_kw[0] == pytest.approx(2.0)
    assert changes.actual.night_base_kw[0] == pytest.approx(1.5)


def test_trap_changes_compare_the_same_hours():
    # Baseline unknown on Monday night (hours 0..4): the actual's Monday night (1.5 kWh, here
    # deliberately 50 kWh) is left out too, so both nights are Tue..Fri: 1.5 vs 2.0 -> -25 %.
    actual = town_hall(WEEK, night_kwh=1.5)[None, :]
    actual[0, :5] = 50.0
    baseline = town_hall(WEEK)[None, :]
    baseline_ok = np.ones(baseline.shape, bool)
    baseline_ok[0, :5] = False
    changes = trap_changes(actual, np.ones(actual.shape, bool), baseline, baseline_ok, WEEK)
    assert changes.night_base_change_pct[0] == pytest.approx(-25.0)
    assert changes.actual.night_hours[0] == changes.baseline.night_hours[0] == 20


# --- action effect -----------------------------------------------------------------------

# Two weeks Mon 2011-03-07 .. Sun 03-20 (336 hours, no DST change). Baseline 10 kWh every
# hour. Site 0 uses 9 kWh in week 1 and 7 in week 2; site 1 9 up to Wed 03-16 00:00 (hour
# 216), 7 after.
TWO_WEEKS = calendar(date(2011, 3, 7), date(2011, 3, 20))
BASE = np.full((2, 336), 10.0)
ACTUAL = np.vstack(
    [np.where(np.arange(336) < 168, 9.0, 7.0), np.where(np.arange(336) < 216, 9.0, 7.0)]
)
OK = np.ones((2, 336), bool)
MONDAY_WEEK_2 = datetime(2011, 3, 14, tzinfo=TZ).timestamp()  # = start of hour 168


def test_action_at_a_week_boundary():
    # Site 0, action Mon 03-14 00:00: before = hours 0..167 at 9 / 10, after 168..335 at 7 / 10
    # -> 0.9, 0.7, change 100 x (0.7 - 0.9) = -20 percentage points
    effect = action_effect(ACTUAL, OK, BASE, OK, TWO_WEEKS, MONDAY_WEEK_2)
    assert effect.ratio_before[0] == pytest.approx(0.9)
    assert effect.ratio_after[0] == pytest.approx(0.7)
    assert effect.change_pct_points[0] == pytest.approx(-20.0)
    assert (effect.hours_before[0], effect.hours_after[0]) == (168, 168)
    assert effect.window_s[0] == 7 * 86400


def test_actions_at_different_times_per_site_with_windows_cut_equal():
    # Site 1 acts on Wed 03-16 00:00 (hour 216): 9 days of grid before, 5 after -> both windows
    # 5 days = 120 hours: before = hours 96..215, after = 216..335.
    # Before: site 1 uses 9 in all of it -> 0.9; after 0.7 -> -20 pp.
    # Site 0 (same time): before 96..167 at 9 (72 h) and 168..215 at 7 (48 h):
    #   (72 x 9 + 48 x 7) / (120 x 10) = (648 + 336) / 1200 = 0.82; after 0.7 -> -12 pp.
    wednesday = datetime(2011, 3, 16, tzinfo=TZ).timestamp()
    effect = action_effect(ACTUAL, OK, BASE, OK, TWO_WEEKS, np.array([wednesday, wednesday]))
    np.testing.assert_allclose(effect.ratio_before, [0.82, 0.9])
    np.testing.assert_allclose(effect.change_pct_points, [-12.0, -20.0])
    np.testing.assert_array_equal(effect.hours_before, [120, 120])
    np.testing.assert_array_equal(effect.window_s, [5 * 86400, 5 * 86400])


def test_the_hour_of_the_action_belongs_to_neither_window():
    # Action at 00:30 on Monday 03-14: w = min(7 d, 168.5 h, 167.5 h) = 167.5 h; before holds
    # the whole hours in [00:30 - 167.5 h, 00:30) = hours 1..167, after those in
    # [00:30, 00:30 + 167.5 h) = hours 169..335: 167 hours each; the ratios stay 0.9 and 0.7.
    effect = action_effect(ACTUAL, OK, BASE, OK, TWO_WEEKS, MONDAY_WEEK_2 + 1800.0)
    assert (effect.hours_before[0], effect.hours_after[0]) == (167, 167)
    assert effect.change_pct_points[0] == pytest.approx(-20.0)


def test_action_effect_on_night_hours_only_and_until_now():
    # Night walk at Mon 03-14 00:00, data until Thu 03-17 00:00 (3 days after): w = 3 days.
    # Site 0's nights: 9 before, 7 after -> -20 pp over 3 nights x 5 hours each side.
    # Night hours before: Fri 03-11, Sat, Sun (5 each) = 15; after: Mon, Tue, Wed = 15.
    until = datetime(2011, 3, 17, tzinfo=TZ).timestamp()
    nights = TWO_WEEKS.hour < 5
    effect = action_effect(
        ACTUAL, OK, BASE, OK, TWO_WEEKS, MONDAY_WEEK_2, hours=nights, until_s=until
    )
    assert (effect.hours_before[0], effect.hours_after[0]) == (15, 15)
    assert effect.change_pct_points[0] == pytest.approx(-20.0)


def test_action_effect_uses_matched_hours_only():
    # Site 0's baseline is unknown on the first day after the action (hours 168..191), and its
    # actual there is absurd: left out, the after ratio is still 0.7.
    actual = ACTUAL.copy()
    actual[0, 168:192] = 1e6
    base_ok = OK.copy()
    base_ok[0, 168:192] = False
    effect = action_effect(actual, OK, BASE, base_ok, TWO_WEEKS, MONDAY_WEEK_2)
    assert effect.ratio_after[0] == pytest.approx(0.7)
    assert effect.hours_after[0] == 144


def test_action_at_the_start_of_the_grid_has_no_effect_figure():
    start = TWO_WEEKS.hour_start_s[0]
    effect = action_effect(ACTUAL, OK, BASE, OK, TWO_WEEKS, start)
    assert np.isnan(effect.ratio_before).all() and np.isnan(effect.change_pct_points).all()
    assert effect.window_s.tolist() == [0.0, 0.0]
