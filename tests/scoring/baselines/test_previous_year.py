"""Tests for the previous-year baseline (and, in the properties, pre-period's as well).

History values encode their own index (site 0: i, site 1: 1000 + i) so the history hour each
competition hour was mapped to can be read straight off the baseline.

Swedish public holidays used below (the ``holidays`` package, checked in the tests):
2010: Good Friday 04-02, Easter Sunday 04-04, Easter Monday 04-05, May Day Sat 05-01,
Ascension Thu 05-13, Pentecost Sun 05-23, National Day Sun 06-06.
2011: Good Friday 04-22, Easter Sunday 04-24, Easter Monday 04-25, May Day Sun 05-01,
Ascension Thu 06-02, National Day Mon 06-06, Pentecost Sun 06-12.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.baselines.pre_period import pre_period
from scoring.baselines.previous_year import (
    WEEKS_PER_YEAR_DAYS,
    previous_year,
    previous_year_days,
    previous_year_detail,
    previous_year_history_days,
)
from scoring.calendar import LocalHours, hour_grid, local_hours
from scoring.metrics import site_metrics

TZ = ZoneInfo("Europe/Stockholm")


def calendar(first: date, last: date) -> LocalHours:
    return local_hours(hour_grid(first, last, TZ), TZ)


def indexed_history(n_hours: int) -> np.ndarray:
    """2 sites x n hours: site 0 holds i, site 1 holds 1000 + i at history hour i."""
    i = np.arange(n_hours, dtype=float)
    return np.vstack([i, 1000.0 + i])


def run_previous_year(history: LocalHours, target: LocalHours, ok=None, **kwargs):
    n = history.hour.size
    kwh = indexed_history(n)
    ok = np.ones((2, n), dtype=bool) if ok is None else ok
    return previous_year(kwh, ok, history, target, **kwargs)


def mapped(day: date, country: str = "SE") -> date:
    """The baseline day previous_year_days gives one competition day."""
    (out,) = previous_year_days(np.array([day.toordinal()]), country).tolist()
    return date.fromordinal(out)


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
    # Target Tue 2011-04-05 (2011-W14-2, CEST) <- history Tue 2010-04-06 (2010-W14-2, CEST),
    # history grid starting Sat 2010-03-27 with the 23 h DST Sunday 03-28 inside it:
    # 03-27 (24) + 03-28 (23) + 03-29 .. 04-05 (8 x 24 = 192) = 239 hours before 04-06.
    # (Mon 2011-04-04 would not do: its ISO day 2010-04-05 is Easter Monday.)
    assert mapped(date(2011, 4, 5)) == date(2010, 4, 6)
    target = calendar(date(2011, 4, 5), date(2011, 4, 5))
    history = calendar(date(2010, 3, 27), date(2010, 4, 6))
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, list(range(239, 239 + 24)))


def test_23_hour_competition_day_against_24_hour_history_day():
    # 2008-03-30 (spring change, 23 h; 2008-W13-7) <- 2007-04-01 (2007-W13-7, 24 h): 364 days.
    # Target local hours 0, 1, 3..23 -> history hours (= indices) 0, 1, 3..23; hour 2 unused.
    assert mapped(date(2008, 3, 30)) == date(2007, 4, 1)
    target = calendar(date(2008, 3, 30), date(2008, 3, 30))
    history = calendar(date(2007, 4, 1), date(2007, 4, 1))
    assert (target.hour.size, history.hour.size) == (23, 24)
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, [0, 1, *range(3, 24)])


def test_24_hour_competition_day_against_23_hour_history_day_uses_next_hour():
    # 2013-03-24 (24 h; 2013-W12-7) <- 2012-03-25 (2012-W12-7, spring change, 23 h).
    # History indices: 0 -> h0, 1 -> h1, 2 -> h3, ..., 22 -> h23 (hour h >= 3 at index h - 1).
    # Target h0 -> 0, h1 -> 1, h2 (missing) -> next hour h3 -> 2, h3 -> 2, h4 -> 3 ... h23 -> 22.
    assert mapped(date(2013, 3, 24)) == date(2012, 3, 25)
    target = calendar(date(2013, 3, 24), date(2013, 3, 24))
    history = calendar(date(2012, 3, 25), date(2012, 3, 25))
    assert (target.hour.size, history.hour.size) == (24, 23)
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, [0, 1, 2, *range(2, 23)])


def test_25_hour_competition_day_against_24_hour_history_day_repeats_hour_2():
    # 2005-10-30 (autumn change, 25 h; 2005-W43-7) <- 2004-10-24 (2004-W43-7, 24 h): 371 days,
    # because 2004 had an ISO week 53.
    # Target indices: h0, h1, h2 fold 0, h2 fold 1, h3..h23. The fold 1 hour falls back to
    # fold 0: -> history 0, 1, 2, 2, 3..23.
    assert mapped(date(2005, 10, 30)) == date(2004, 10, 24)
    target = calendar(date(2005, 10, 30), date(2005, 10, 30))
    history = calendar(date(2004, 10, 24), date(2004, 10, 24))
    assert (target.hour.size, history.hour.size) == (25, 24)
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, [0, 1, 2, 2, *range(3, 24)])


def test_24_hour_competition_day_against_25_hour_history_day_uses_first_hour_2():
    # 2005-11-06 (24 h; 2005-W44-7) <- 2004-10-31 (2004-W44-7, autumn change, 25 h).
    # History indices: 0 h0, 1 h1, 2 h2 fold 0, 3 h2 fold 1, 4 h3, ..., 24 h23.
    # Target h0..h2 -> 0..2; h3..h23 -> 4..24; the repeated history hour (3) is unused.
    assert mapped(date(2005, 11, 6)) == date(2004, 10, 31)
    target = calendar(date(2005, 11, 6), date(2005, 11, 6))
    history = calendar(date(2004, 10, 31), date(2004, 10, 31))
    assert (target.hour.size, history.hour.size) == (24, 25)
    baseline, ok = run_previous_year(history, target)
    assert_maps_to(baseline, ok, [0, 1, 2, *range(4, 25)])


def test_25_hour_days_on_both_sides_map_fold_to_fold():
    # 2011-10-30 (2011-W43-7) <- 2010-10-31 (2010-W43-7): both autumn-change days, identity
    # mapping 0..24
    assert mapped(date(2011, 10, 30)) == date(2010, 10, 31)
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
    baseline, ok = run_previous_year(history, target, history_ok, fill_missing=False)
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
    baseline, ok = run_previous_year(history, target, history_ok, fill_missing=False)
    assert not ok[0, 2] and not ok[0, 3]
    assert np.isnan(baseline[0, 2]) and np.isnan(baseline[0, 3])
    assert ok[1].all()


def test_target_hours_outside_history_are_not_ok():
    # Target Mon 2011-03-07 .. Tue 03-08 <- history only Mon 2010-03-08: Tuesday has none
    target = calendar(date(2011, 3, 7), date(2011, 3, 8))
    history = calendar(date(2010, 3, 8), date(2010, 3, 8))
    baseline, ok = run_previous_year(history, target, fill_missing=False)
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


# --- previous_year: which day a year earlier ---------------------------------------------


@pytest.mark.parametrize(
    ("competition", "baseline", "why"),
    [
        # Tue 2011-03-01 is 2011-W09-2; 2010-W09-2 is Tue 2010-03-02 (364 days)
        (date(2011, 3, 1), date(2010, 3, 2), "same ISO week and weekday"),
        # Mon 2021-01-04 is 2021-W01-1; 2020 had 53 ISO weeks, so 2020-W01-1 is Mon 2019-12-30
        # (371 days), not 364 days earlier (Mon 2020-01-06, which is 2020-W02-1)
        (date(2021, 1, 4), date(2019, 12, 30), "after a 53-week ISO year"),
        # Thu 2020-12-31 is 2020-W53-4; 2019 has no week 53 -> 364 days earlier, Thu 2020-01-02
        (date(2020, 12, 31), date(2020, 1, 2), "week 53 falls back to 364 days"),
    ],
)
def test_previous_year_days_align_by_iso_week(competition, baseline, why):
    assert mapped(competition) == baseline, why
    assert mapped(competition).weekday() == competition.weekday()


def test_previous_year_days_keep_the_array_shape():
    days = np.array([[date(2011, 3, 1).toordinal()] * 2, [date(2011, 3, 2).toordinal()] * 2])
    out = previous_year_days(days)
    assert out.shape == (2, 2)
    assert out[1, 0] == date(2010, 3, 3).toordinal()


def test_holidays_map_to_the_same_holiday_a_year_earlier():
    # Each 2011 holiday -> the 2010 holiday of the same name, whatever the ISO week says
    pairs = {
        date(2011, 4, 22): date(2010, 4, 2),  # Good Friday (ISO day would be Fri 2010-04-23)
        date(2011, 4, 24): date(2010, 4, 4),  # Easter Sunday
        date(2011, 4, 25): date(2010, 4, 5),  # Easter Monday
        date(2011, 6, 2): date(2010, 5, 13),  # Ascension Day (ISO day: Thu 2010-06-03)
        date(2011, 6, 12): date(2010, 5, 23),  # Pentecost
        date(2011, 5, 1): date(2010, 5, 1),  # May Day: Sunday <- Saturday, both holidays
        date(2011, 6, 6): date(2010, 6, 6),  # National Day: Monday <- Sunday
        date(2011, 1, 6): date(2010, 1, 6),  # Epiphany: Thursday <- Wednesday
    }
    for competition, baseline in pairs.items():
        assert mapped(competition) == baseline, competition


def test_ordinary_days_whose_iso_day_was_a_holiday_take_the_nearest_ordinary_day():
    # The 2011 days whose ISO-aligned 2010 day was an Easter or Ascension holiday take the same
    # weekday 7 days before that holiday (not a holiday itself), so they never get a holiday's
    # low load.
    pairs = {
        date(2011, 4, 1): date(2010, 3, 26),  # Fri, 2011-W13-5 -> Good Friday 2010-W13-5 - 7
        date(2011, 4, 3): date(2010, 3, 28),  # Sun, W13-7 -> Easter Sunday 2010-04-04 - 7
        date(2011, 4, 4): date(2010, 3, 29),  # Mon, W14-1 -> Easter Monday 2010-04-05 - 7
        date(2011, 5, 12): date(2010, 5, 6),  # Thu, W19-4 -> Ascension 2010-05-13 - 7
    }
    for competition, baseline in pairs.items():
        assert mapped(competition) == baseline, competition


def test_holiday_replacement_skips_a_stand_in_that_is_a_holiday_too():
    # Sat 2011-12-31 is 2011-W52-6 -> Sat 2011-01-01 (New Year's Day); 7 days before is Sat
    # 2010-12-25 (Christmas Day), so the next candidate, 7 days after, is taken: 2011-01-08.
    assert mapped(date(2011, 12, 31)) == date(2011, 1, 8)


def test_holiday_with_two_names_matches_either():
    # 2008-05-01 was both Ascension Day and May Day. In 2009 they fell on 05-21 and 05-01.
    assert mapped(date(2009, 5, 1)) == date(2008, 5, 1)
    assert mapped(date(2009, 5, 21)) == date(2008, 5, 1)


def test_holiday_without_a_namesake_takes_the_sunday_of_its_iso_week():
    # National Day became a public holiday in 2005 (it replaced Pentecost Monday). Mon
    # 2005-06-06 is 2005-W23-1; 2004-W23 ran Mon 05-31 (Pentecost Monday) .. Sun 06-06.
    assert mapped(date(2005, 6, 6)) == date(2004, 6, 6)
    # Juneteenth (US, first in 2021): observed Fri 2021-06-18 (W24-5) -> Sun of 2020-W24,
    # 2020-06-14 (2020-W24-1 is Mon 06-08)
    assert mapped(date(2021, 6, 18), "US") == date(2020, 6, 14)


def test_every_day_maps_to_a_day_of_the_same_kind():
    # Whole years 2009..2012: holidays -> holidays, other days -> other days of the same weekday
    for year in (2009, 2010, 2011, 2012):
        cal = holidays.country_holidays("SE", years=[year - 1, year])
        first, last = date(year, 1, 1), date(year, 12, 31)
        days = np.arange(first.toordinal(), last.toordinal() + 1)
        for day, source in zip(days.tolist(), previous_year_days(days).tolist(), strict=True):
            d, s = date.fromordinal(day), date.fromordinal(source)
            assert (d in cal) == (s in cal), (d, s)
            if d not in cal:
                assert d.weekday() == s.weekday(), (d, s)
                assert 357 <= (d - s).days <= 385, (d, s)


def test_previous_year_history_days_cover_the_holiday_shifts():
    # March..May 2011: first 2011-03-01 -> 2010-03-02; the earliest baseline day overall is
    # still 2010-03-02, the latest is Tue 2011-05-31 (W22-2) -> Tue 2010-06-01.
    assert previous_year_history_days(date(2011, 3, 1), date(2011, 5, 31)) == (
        date(2010, 3, 2),
        date(2010, 6, 1),
    )
    # June 2011 alone reaches back to Ascension 2010-05-13 and Pentecost 2010-05-23
    assert previous_year_history_days(date(2011, 6, 1), date(2011, 6, 30))[0] == date(2010, 5, 13)
    with pytest.raises(ValueError, match="before it starts"):
        previous_year_history_days(date(2011, 6, 2), date(2011, 6, 1))


def day_type_loads(grid: LocalHours) -> np.ndarray:
    """10 kWh in working-day hours, 2 on Saturdays, 1 on Sundays and public holidays."""
    return np.choose(grid.day_type, [10.0, 2.0, 1.0])


def test_spring_2011_against_2010_every_day_gets_its_own_day_types_load():
    # Competition March..May 2011 (Easter 2011-04-22..25) against 2010 (Easter 04-02..05).
    # With loads set by day type in the history, a baseline that matches holidays to holidays
    # and never gives an ordinary day a holiday has exactly the competition day type's load.
    # The plain 364-day shift would give Fri 2011-04-01 Good Friday 2010's 1 kWh, and Good
    # Friday 2011 an ordinary Friday's 10 kWh.
    target = calendar(date(2011, 3, 1), date(2011, 5, 31))
    history = calendar(*previous_year_history_days(date(2011, 3, 1), date(2011, 5, 31)))
    kwh = np.vstack([day_type_loads(history), 3.0 * day_type_loads(history)])
    baseline, ok = previous_year(kwh, np.ones(kwh.shape, dtype=bool), history, target)
    assert ok.all()
    np.testing.assert_array_equal(baseline[0], day_type_loads(target))
    np.testing.assert_array_equal(baseline[1], 3.0 * day_type_loads(target))
    good_friday = target.day_ordinal == date(2011, 4, 22).toordinal()
    friday_before = target.day_ordinal == date(2011, 4, 1).toordinal()
    assert (baseline[0, good_friday] == 1.0).all() and (baseline[0, friday_before] == 10.0).all()


def test_ascension_week_2011_against_2010():
    # Mon 2011-05-30 .. Sun 06-05 with Ascension Thu 06-02. History: ISO week 2010-W22
    # (05-31 .. 06-06) plus Ascension 2010-05-13. Values: 100 * (day of month) + hour, so the
    # day each hour came from can be read off. Thu 06-02 <- 2010-05-13 (13); the other days
    # <- 2010-05-31 .. 06-05 by weekday (Mon 31, Tue 1, Wed 2, Fri 4, Sat 5), except Sunday:
    # Sun 2010-06-06 was National Day, so Sun 06-05 <- Sun 2010-05-30 (30).
    target = calendar(date(2011, 5, 30), date(2011, 6, 5))
    history = calendar(date(2010, 5, 13), date(2010, 6, 6))
    day_of_month = np.array([date.fromordinal(int(d)).day for d in history.day_ordinal])
    kwh = (100.0 * day_of_month + history.hour)[None, :]
    baseline, ok = previous_year(kwh, np.ones(kwh.shape, dtype=bool), history, target)
    assert ok.all()
    days = baseline[0].reshape(7, 24) // 100
    np.testing.assert_array_equal(days[:, 0], [31, 1, 2, 13, 4, 5, 30])
    np.testing.assert_array_equal(baseline[0].reshape(7, 24) % 100, np.tile(np.arange(24), (7, 1)))


def test_detail_reports_source_days():
    target = calendar(date(2011, 4, 21), date(2011, 4, 22))  # Thu, Good Friday
    history = calendar(date(2010, 4, 1), date(2010, 4, 23))
    detail = previous_year_detail(
        np.ones((1, history.hour.size)), np.ones((1, history.hour.size), bool), history, target
    )
    # Thu 2011-04-21 (W16-4) <- Thu 2010-04-22; Good Friday <- Good Friday 2010-04-02
    expected = [date(2010, 4, 22).toordinal()] * 24 + [date(2010, 4, 2).toordinal()] * 24
    np.testing.assert_array_equal(detail.source_day_ordinal, expected)
    assert not detail.filled.any() and detail.coverage.tolist() == [1.0]


def test_country_comes_from_the_target_calendar():
    # In Norway (NO) 2011-05-17 (Tue, Constitution Day) is a public holiday: its namesake is
    # Mon 2010-05-17. In Sweden it is an ordinary Tuesday: ISO day Tue 2010-05-18.
    no = local_hours(hour_grid(date(2011, 5, 17), date(2011, 5, 17), TZ), TZ, "NO")
    history = local_hours(hour_grid(date(2010, 5, 17), date(2010, 5, 18), TZ), TZ, "NO")
    kwh = np.repeat([1.0, 2.0], 24)[None, :]
    ok = np.ones((1, 48), dtype=bool)
    assert no.country == "NO"
    np.testing.assert_array_equal(previous_year(kwh, ok, history, no)[0], np.ones((1, 24)))
    se = previous_year(kwh, ok, history, no, country="SE")[0]
    np.testing.assert_array_equal(se, np.full((1, 24), 2.0))


# --- previous_year: missing hours --------------------------------------------------------

# History two weeks Mon 2010-03-01 .. Sun 03-14; the target week Mon 2011-03-07 .. Sun 03-13
# maps to the second one (2010-03-08 .. 14, history indices 168..335).
FILL_TARGET = (date(2011, 3, 7), date(2011, 3, 13))
FILL_HISTORY = (date(2010, 3, 1), date(2010, 3, 14))


def fill_case():
    """Site 0: 1.0 in history week 1, 3.0 in week 2. Site 1: how + 100 * week (1 or 2)."""
    how = np.arange(168, dtype=float)
    kwh = np.vstack(
        [np.repeat([1.0, 3.0], 168), np.concatenate([how + 100.0, how + 200.0])],
    )
    return kwh, np.ones((2, 336), dtype=bool)


def test_missing_baseline_hours_are_filled_from_the_profile_slot():
    # Site 0 lacks the whole matched Wednesday (history 168 + 48 .. 168 + 71) and Monday 08:00
    # (168 + 8). Each takes the mean of its slot over the measured history hours, here week 1
    # only: 1.0 (own slot: 1 measured of 2 >= 0.5 * 2). The week's baseline total is then
    # 3.0 x (168 - 25) + 1.0 x 25 = 429 + 25 = 454 kWh, not 429 kWh with 25 hours unmatched.
    # Site 1 lacks Friday 17:00 (4 * 24 + 17 = 113): own slot, week 1: 113 + 100 = 213.
    target, history = calendar(*FILL_TARGET), calendar(*FILL_HISTORY)
    kwh, ok_in = fill_case()
    gaps0 = [168 + 8, *range(168 + 48, 168 + 72)]
    ok_in[0, gaps0] = False
    ok_in[1, 168 + 113] = False
    detail = previous_year_detail(kwh, ok_in, history, target)
    assert detail.ok.all()
    filled0 = np.zeros(168, dtype=bool)
    filled0[[8, *range(48, 72)]] = True
    np.testing.assert_array_equal(detail.filled[0], filled0)
    assert detail.filled[1].tolist() == [i == 113 for i in range(168)]
    np.testing.assert_allclose(detail.baseline_kwh[0], np.where(filled0, 1.0, 3.0))
    assert detail.baseline_kwh[0].sum() == pytest.approx(454.0)
    assert detail.baseline_kwh[1, 113] == pytest.approx(213.0)
    np.testing.assert_allclose(detail.coverage, [143 / 168, 167 / 168])


def test_fill_uses_the_working_day_mean_when_the_weekday_has_too_little():
    # Site 1 lacks Tuesday 10:00 (24 + 10 = 34) in both history weeks: 0 of 2 -> mean of the
    # measured working-day 10:00 hours, Mon/Wed/Thu/Fri (slots 10, 58, 82, 106) in both weeks:
    # (10 + 58 + 82 + 106) * 2 / 8 + (100 + 200) / 2 = 64 + 150 = 214.
    target, history = calendar(*FILL_TARGET), calendar(*FILL_HISTORY)
    kwh, ok_in = fill_case()
    ok_in[1, [34, 168 + 34]] = False
    baseline, ok = previous_year(kwh, ok_in, history, target)
    assert ok.all()
    assert baseline[1, 34] == pytest.approx(214.0)


def test_holiday_hours_are_filled_from_the_sunday_profile():
    # Good Friday 2011 <- Good Friday 2010 (04-02), which was not measured. History Mon
    # 2010-03-29 .. Sun 04-04: Good Friday and Easter Sunday are Sunday/holiday days, Sunday
    # 03-28 is outside. Values: 5.0 on working days and Saturday, 1.0 on Easter Sunday: the
    # Sunday/holiday slot's only measured day is Easter Sunday -> 1.0 for every hour.
    target = calendar(date(2011, 4, 22), date(2011, 4, 22))
    history = calendar(date(2010, 3, 29), date(2010, 4, 4))
    kwh = np.where(history.day_ordinal == date(2010, 4, 4).toordinal(), 1.0, 5.0)[None, :]
    ok_in = (history.day_ordinal != date(2010, 4, 2).toordinal())[None, :]
    # coverage is 0 for this one-day target, so allow filling from any coverage
    detail = previous_year_detail(kwh, ok_in, history, target, min_coverage=0.0)
    assert detail.filled.all()
    np.testing.assert_allclose(detail.baseline_kwh, np.ones((1, 24)))


def test_site_with_too_little_baseline_is_not_filled():
    # Site 1's matched week has only Monday and Tuesday measured: coverage 48 / 168 < 0.5, so
    # nothing is filled and its other 120 hours stay unknown. Site 0 is complete.
    target, history = calendar(*FILL_TARGET), calendar(*FILL_HISTORY)
    kwh, ok_in = fill_case()
    ok_in[1, 168 + 48 :] = False
    detail = previous_year_detail(kwh, ok_in, history, target)
    assert detail.coverage[1] == pytest.approx(48 / 168)
    assert detail.ok[1].sum() == 48 and not detail.filled.any()
    assert np.isnan(detail.baseline_kwh[1, 48:]).all()
    # ... unless the threshold allows it
    relaxed = previous_year_detail(kwh, ok_in, history, target, min_coverage=0.25)
    assert relaxed.ok.all() and relaxed.filled[1].sum() == 120


def test_fill_missing_false_keeps_gaps():
    target, history = calendar(*FILL_TARGET), calendar(*FILL_HISTORY)
    kwh, ok_in = fill_case()
    ok_in[0, 168 + 8] = False
    baseline, ok = previous_year(kwh, ok_in, history, target, fill_missing=False)
    assert not ok[0, 8] and np.isnan(baseline[0, 8]) and ok.sum() == 2 * 168 - 1


# --- properties --------------------------------------------------------------------------

SPRING_TARGET = calendar(date(2011, 4, 18), date(2011, 4, 27))  # Easter 2011 inside
SPRING_HISTORY = calendar(*previous_year_history_days(date(2011, 4, 18), date(2011, 4, 27)))
PRE_HISTORY = calendar(date(2011, 3, 28), date(2011, 4, 17))


@st.composite
def site_data(draw):
    n_hist = max(SPRING_HISTORY.hour.size, PRE_HISTORY.hour.size)
    n_target = SPRING_TARGET.hour.size
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    history = rng.uniform(0.5, 50.0, (3, n_hist))
    history_ok = rng.random((3, n_hist)) > draw(st.sampled_from([0.0, 0.1, 0.6]))
    actual = rng.uniform(0.5, 50.0, (3, n_target))
    measured_s = np.where(rng.random((3, n_target)) > 0.05, 3600.0, 0.0)
    site = draw(st.integers(0, 2))
    method = draw(st.sampled_from(["previous-year", "pre-period"]))
    return history, history_ok, actual, measured_s, site, method


def _score(history, history_ok, actual, measured_s, method):
    if method == "previous-year":
        grid = SPRING_HISTORY
        base, ok = previous_year(
            history[:, : grid.hour.size], history_ok[:, : grid.hour.size], grid, SPRING_TARGET
        )
    else:
        grid = PRE_HISTORY
        base, ok = pre_period(
            history[:, : grid.hour.size], history_ok[:, : grid.hour.size], grid, SPRING_TARGET
        )
    elapsed = np.ones(SPRING_TARGET.hour.size, dtype=bool)
    return site_metrics(actual, measured_s, base, ok, elapsed, np.full(3, 100.0), np.full(3, 10.0))


@settings(max_examples=60, deadline=None)
@given(site_data())
def test_property_doubling_history_and_competition_keeps_the_reduction(data):
    history, history_ok, actual, measured_s, site, method = data
    before = _score(history, history_ok, actual, measured_s, method)
    history2, actual2 = history.copy(), actual.copy()
    history2[site] *= 2.0
    actual2[site] *= 2.0
    after = _score(history2, history_ok, actual2, measured_s, method)
    np.testing.assert_allclose(after.reduction_pct, before.reduction_pct, rtol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(after.hours_matched, before.hours_matched)
    np.testing.assert_allclose(after.baseline_kwh[site], 2.0 * before.baseline_kwh[site], rtol=1e-9)
