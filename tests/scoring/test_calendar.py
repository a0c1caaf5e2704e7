"""Tests for the local calendar of an hour grid (DST days, weekdays, holidays, day types)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from scoring.calendar import hour_grid, local_hours, local_midnight_utc_s

TZ = ZoneInfo("Europe/Stockholm")


def utc_s(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def day_hours(day: date):
    return local_hours(hour_grid(day, day, TZ), TZ)


def test_local_midnight_in_winter_is_23_utc_the_day_before():
    # CET = UTC+1: 2011-03-07 00:00 local = 2011-03-06 23:00 UTC
    assert local_midnight_utc_s(date(2011, 3, 7), TZ) == utc_s(2011, 3, 6, 23)


def test_local_midnight_in_summer_is_22_utc_the_day_before():
    # CEST = UTC+2: 2011-07-01 00:00 local = 2011-06-30 22:00 UTC
    assert local_midnight_utc_s(date(2011, 7, 1), TZ) == utc_s(2011, 6, 30, 22)


def test_ordinary_day_has_24_hourly_starts_from_local_midnight():
    grid = hour_grid(date(2011, 3, 7), date(2011, 3, 7), TZ)
    # 2011-03-06 23:00 UTC, then every 3600 s
    expected = utc_s(2011, 3, 6, 23) + 3600.0 * np.arange(24)
    np.testing.assert_array_equal(grid, expected)


def test_grid_over_several_days_is_inclusive_of_both_ends():
    # 2011-03-07 .. 2011-03-13: 7 winter days of 24 h = 168 hours
    assert hour_grid(date(2011, 3, 7), date(2011, 3, 13), TZ).size == 168


def test_grid_is_empty_when_last_day_precedes_first():
    assert hour_grid(date(2011, 3, 8), date(2011, 3, 7), TZ).size == 0


def test_spring_dst_day_has_23_hours():
    # 2011-03-27: local midnight CET = 03-26 23:00 UTC, next midnight CEST = 03-27 22:00 UTC
    grid = hour_grid(date(2011, 3, 27), date(2011, 3, 27), TZ)
    assert grid.size == 23
    assert grid[0] == utc_s(2011, 3, 26, 23)
    assert grid[-1] + 3600.0 == utc_s(2011, 3, 27, 22)


def test_spring_dst_day_skips_local_hour_2():
    lh = day_hours(date(2011, 3, 27))
    # 01:00 UTC = 02:00 CET does not exist: clocks jump to 03:00 CEST
    np.testing.assert_array_equal(lh.hour, [0, 1, *range(3, 24)])
    np.testing.assert_array_equal(lh.fold, np.zeros(23))
    assert 2 not in lh.hour


def test_autumn_dst_day_has_25_hours():
    # 2011-10-30: local midnight CEST = 10-29 22:00 UTC, next midnight CET = 10-30 23:00 UTC
    grid = hour_grid(date(2011, 10, 30), date(2011, 10, 30), TZ)
    assert grid.size == 25
    assert grid[0] == utc_s(2011, 10, 29, 22)
    assert grid[-1] + 3600.0 == utc_s(2011, 10, 30, 23)


def test_autumn_dst_day_repeats_local_hour_2_with_fold_0_then_1():
    lh = day_hours(date(2011, 10, 30))
    # 00:00 UTC = 02:00 CEST (fold 0), 01:00 UTC = 02:00 CET (fold 1)
    np.testing.assert_array_equal(lh.hour, [0, 1, 2, 2, *range(3, 24)])
    expected_fold = np.zeros(25)
    expected_fold[3] = 1
    np.testing.assert_array_equal(lh.fold, expected_fold)


def test_all_hours_of_a_dst_day_share_its_local_date():
    for day in (date(2011, 3, 27), date(2011, 10, 30)):
        lh = day_hours(day)
        assert set(lh.day_ordinal.tolist()) == {day.toordinal()}


def test_week_across_spring_change_has_167_hours():
    # Mon 2011-03-21 .. Sun 2011-03-27: 6 x 24 + 23 = 167
    assert hour_grid(date(2011, 3, 21), date(2011, 3, 27), TZ).size == 167


def test_weekday_of_known_dates():
    # 2011-03-07 Monday, 2011-03-12 Saturday, 2011-03-27 Sunday, 2011-04-22 Friday,
    # 2000-01-01 Saturday, 2024-02-29 Thursday
    known = {
        date(2011, 3, 7): 0,
        date(2011, 3, 12): 5,
        date(2011, 3, 27): 6,
        date(2011, 4, 22): 4,
        date(2000, 1, 1): 5,
        date(2024, 2, 29): 3,
    }
    for day, weekday in known.items():
        lh = day_hours(day)
        assert set(lh.weekday.tolist()) == {weekday}, day


def test_hour_start_s_is_kept():
    grid = hour_grid(date(2011, 3, 7), date(2011, 3, 7), TZ)
    np.testing.assert_array_equal(local_hours(grid, TZ).hour_start_s, grid)


def test_swedish_public_holidays_are_flagged():
    holidays_2011 = [
        date(2011, 1, 6),  # Epiphany (Thursday)
        date(2011, 4, 22),  # Good Friday
        date(2011, 4, 25),  # Easter Monday
        date(2011, 6, 2),  # Ascension Day (Thursday)
        date(2011, 6, 6),  # National Day (Monday)
        date(2011, 12, 26),  # Boxing Day (Monday)
    ]
    for day in holidays_2011:
        assert day_hours(day).holiday.all(), day


def test_ordinary_weekdays_are_not_holidays():
    for day in (date(2011, 3, 7), date(2011, 4, 21), date(2011, 4, 26), date(2011, 6, 7)):
        assert not day_hours(day).holiday.any(), day


def test_holiday_flag_follows_local_date_not_utc_date():
    # 2011-04-22 00:00 local = 04-21 22:00 UTC (CEST): the first hours are on Good Friday
    lh = local_hours(hour_grid(date(2011, 4, 21), date(2011, 4, 22), TZ), TZ)
    np.testing.assert_array_equal(lh.holiday, [False] * 24 + [True] * 24)


def test_day_type_over_easter_2011():
    # Thu 04-21 working (0), Good Friday (2), Sat 04-23 (1), Easter Sunday (2), Easter Monday (2)
    lh = local_hours(hour_grid(date(2011, 4, 21), date(2011, 4, 25), TZ), TZ)
    np.testing.assert_array_equal(lh.day_type, np.repeat([0, 2, 1, 2, 2], 24))


def test_day_type_holiday_on_saturday_is_2():
    # Midsummer Day 2011-06-25 is a Saturday and a public holiday
    lh = day_hours(date(2011, 6, 25))
    assert (lh.weekday == 5).all()
    assert (lh.day_type == 2).all()


def test_day_type_of_an_ordinary_week():
    # Mon 2011-03-07 .. Sun 2011-03-13: five working days, Saturday, Sunday
    lh = local_hours(hour_grid(date(2011, 3, 7), date(2011, 3, 13), TZ), TZ)
    np.testing.assert_array_equal(lh.day_type, np.repeat([0, 0, 0, 0, 0, 1, 2], 24))


def test_hour_of_week_of_an_ordinary_week_counts_0_to_167():
    # Mon 00:00 -> 0 ... Sun 23:00 -> 6 * 24 + 23 = 167
    lh = local_hours(hour_grid(date(2011, 3, 7), date(2011, 3, 13), TZ), TZ)
    np.testing.assert_array_equal(lh.hour_of_week, np.arange(168))


def test_hour_of_week_on_autumn_dst_sunday():
    # Sunday: 6 * 24 = 144; hours 0, 1, 2, 2, 3..23 -> 144, 145, 146, 146, 147..167
    lh = day_hours(date(2011, 10, 30))
    np.testing.assert_array_equal(lh.hour_of_week, [144, 145, 146, 146, *range(147, 168)])


def test_hour_of_week_wednesday_13():
    # Wed 2011-03-09 13:00 local = 12:00 UTC: 2 * 24 + 13 = 61
    lh = local_hours(np.array([utc_s(2011, 3, 9, 12)]), TZ)
    assert lh.hour_of_week.tolist() == [61]


def test_empty_grid_gives_empty_calendar():
    lh = local_hours(np.zeros(0), TZ)
    assert lh.hour.size == lh.weekday.size == lh.holiday.size == 0
