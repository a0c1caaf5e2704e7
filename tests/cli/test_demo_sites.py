"""Tests for the SYNTHETIC demo town halls: site table, load model and energy registers."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pytest

from wattleague import demo_sites
from wattleague.demo_sites import DEMO_SITES, DemoSite, power_kw, register_kwh

TZ = ZoneInfo("Europe/Stockholm")
DAY = 86400.0
WEEK = 364 * DAY  # a year earlier, same weekday
SITES = {s.id: s for s in DEMO_SITES}


def local(y: int, mo: int, d: int, h: int = 0) -> float:
    """Unix time [s] of a local Stockholm wall-clock time."""
    return datetime(y, mo, d, h, tzinfo=TZ).timestamp()


def hours(start_s: float, days: float) -> np.ndarray:
    return np.arange(start_s, start_s + days * DAY, 3600.0)


def measured_reduction_pct(site: DemoSite, start_s: float, days: int = 91) -> float:
    """Saving over ``days`` from ``start_s`` against the same period 364 days earlier [%]."""
    t = hours(start_s, days)
    now = power_kw(site, t, TZ, start_s).sum()
    before = power_kw(site, t - WEEK, TZ, None).sum()
    return 100.0 * (1.0 - now / before)


def working_days(first: date, days: int) -> int:
    """Swedish working days (oracle straight from the holidays package)."""
    cal = holidays.country_holidays(
        "SE", years=range(first.year, first.year + 2), categories=("public", "de_facto")
    )
    span = (first + timedelta(i) for i in range(days))
    return sum(d.weekday() < 5 and d not in cal for d in span)


# --- site table -------------------------------------------------------------------------------


def test_table_is_labelled_synthetic():
    assert demo_sites.SYNTHETIC is True
    assert "SYNTHETIC" in (demo_sites.__doc__ or "")


def test_24_unique_valid_ids():
    ids = [s.id for s in DEMO_SITES]
    assert len(ids) == 24 == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9_-]*", i) for i in ids)
    assert len({s.seed for s in DEMO_SITES}) == 24


def test_named_sites():
    soderhamn, pitea = SITES["soderhamn"], SITES["pitea"]
    assert (soderhamn.municipality, soderhamn.name) == ("Söderhamns kommun", "Söderhamns kommunhus")
    assert (pitea.municipality, pitea.name) == ("Piteå kommun", "Piteå kommunhus")
    assert SITES["alvdalen"].municipality == "Älvdalens kommun"
    assert SITES["osteraker"].municipality == "Österåkers kommun"
    assert all(
        s.municipality.endswith(" kommun") or s.municipality.startswith("Region ")
        for s in DEMO_SITES
    )


def test_sites_are_frozen():
    with pytest.raises(AttributeError):
        DEMO_SITES[0].area_m2 = 1.0  # type: ignore[misc]


def test_areas_and_table_reductions():
    assert all(1500 <= s.area_m2 <= 12000 for s in DEMO_SITES)
    assert max(s.area_m2 for s in DEMO_SITES) - min(s.area_m2 for s in DEMO_SITES) > 8000
    typical = [s for s in DEMO_SITES if 5 <= s.reduction_pct <= 10]
    assert len(typical) >= 18
    assert SITES["soderhamn"].reduction_pct == pytest.approx(22, abs=1)
    assert SITES["pitea"].reduction_pct == pytest.approx(19, abs=1)


# --- load model -------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [(2026, 1, 1), (2026, 6, 1), (2025, 10, 1)])
def test_period_intensity_within_2_to_14_kwh_per_m2(start):
    t = hours(local(*start), 91)
    for s in DEMO_SITES:
        kwh_m2 = power_kw(s, t, TZ, None).sum() / s.area_m2  # hourly kW -> kWh
        assert 2.0 <= kwh_m2 <= 14.0, s.id


def test_yearly_mean_matches_intensity():
    t = hours(local(2025, 1, 1), 365)
    for s in DEMO_SITES:
        expected_kw = s.intensity_kwh_m2_year * s.area_m2 / 8760.0
        assert power_kw(s, t, TZ, None).mean() == pytest.approx(expected_kw, rel=0.03), s.id


def test_weekday_day_above_night_above_zero():
    for s in DEMO_SITES:
        day = power_kw(s, np.array([local(2026, 3, 11, 11)]), TZ, None)[0]  # Wednesday 11:00
        night = power_kw(s, np.array([local(2026, 3, 11, 2)]), TZ, None)[0]
        assert day > 1.8 * night > 0, s.id
        assert 0.3 < night / day < 0.55, s.id


@pytest.mark.parametrize(
    "day_off, workday",
    [
        ((2026, 4, 3), (2026, 3, 27)),  # Good Friday vs an ordinary Friday
        ((2026, 12, 24), (2026, 12, 17)),  # Christmas Eve (Thursday) vs a Thursday
        ((2026, 3, 14), (2026, 3, 11)),  # Saturday vs Wednesday
    ],
)
def test_weekends_and_holidays_stay_at_base_load(day_off, workday):
    for s in DEMO_SITES:
        off = power_kw(s, np.array([local(*day_off, h) for h in (10, 13)]), TZ, None)
        night = power_kw(s, np.array([local(*day_off, h) for h in (2, 3)]), TZ, None)
        work = power_kw(s, np.array([local(*workday, h) for h in (10, 13)]), TZ, None)
        assert off.mean() == pytest.approx(night.mean(), rel=0.12), s.id
        assert work.mean() > 1.6 * off.mean(), s.id


@pytest.mark.parametrize(
    "week_before, week_after",
    [((2026, 3, 23), (2026, 4, 13)), ((2026, 10, 19), (2026, 10, 26))],  # no holidays inside
)
def test_office_hours_follow_local_clock_across_dst(week_before, week_after):
    def profile(site, monday):
        days = [date(*monday) + timedelta(i) for i in range(5)]
        grid = np.array([[local(d.year, d.month, d.day, h) for h in range(24)] for d in days])
        p = power_kw(site, grid, TZ, None)
        return (p / p[:, 11:12]).mean(axis=0)  # relative to local 11:00

    for s in DEMO_SITES[:6]:
        before, after = profile(s, week_before), profile(s, week_after)
        assert before[9] == pytest.approx(1.0, abs=0.1) and after[9] == pytest.approx(1, abs=0.1)
        # The ramps (06-08 up, 16-19 down) sit at the same local hours on both sides.
        np.testing.assert_allclose(before, after, atol=0.1)
        assert after[5] < after[6] < after[7] < after[9]
        assert after[16] > after[17] > after[18] > after[19]


def test_dark_months_use_more_than_summer():
    s = SITES["mora"]
    jan = power_kw(s, hours(local(2026, 1, 5), 28), TZ, None).mean()
    jul = power_kw(s, hours(local(2026, 7, 6), 28), TZ, None).mean()
    assert 1.15 < jan / jul < 1.40


def test_noise_is_small_and_deterministic():
    s = SITES["sala"]
    t = hours(local(2026, 2, 7), 1)  # Saturday: flat base load apart from noise
    p = power_kw(s, t, TZ, None)
    assert p.max() / p.min() < 1.12 and p.max() / p.min() > 1.01
    np.testing.assert_array_equal(p, power_kw(s, t, TZ, None))


def test_single_element_equals_value_inside_bigger_array():
    s = SITES["haninge"]
    t = hours(local(2026, 3, 1), 60) + 1234.5
    big = power_kw(s, t, TZ, local(2026, 3, 20))
    for i in (0, 17, 500, len(t) - 1):
        one = power_kw(s, t[i : i + 1], TZ, local(2026, 3, 20))
        assert one.shape == (1,) and one[0] == big[i]
    assert power_kw(s, t.reshape(-1, 24), TZ, None).shape == (60, 24)


def test_power_constant_within_utc_hour():
    s = SITES["trosa"]
    h0 = 3600.0 * 493_000
    p = power_kw(s, h0 + np.array([0.0, 1.0, 1799.0, 3599.9, 3600.0]), TZ, None)
    assert p[0] == p[1] == p[2] == p[3] != p[4]


# --- reductions -------------------------------------------------------------------------------


def test_no_reduction_before_start_then_ramp_and_hold():
    s = SITES["soderhamn"]
    start = local(2026, 2, 2)
    t = hours(start - 14 * DAY, 60)
    ratio = power_kw(s, t, TZ, start) / power_kw(s, t, TZ, None)
    assert np.all(ratio[t < start] == 1.0)
    d = (t - start) / DAY
    assert np.all(np.diff(ratio[(d >= 0) & (d <= 7)][::24]) < 0)  # deepening over 7 days
    held = ratio[d >= 7]
    assert np.ptp(held) < 0.25 and held.max() < 1.0


def test_reduction_acts_mostly_on_base_load():
    s = SITES["pitea"]
    start = local(2026, 2, 2)
    night, day = local(2026, 3, 4, 2), local(2026, 3, 4, 11)
    t = np.array([night, day])
    saved = 1 - power_kw(s, t, TZ, start) / power_kw(s, t, TZ, None)
    assert saved[0] > 1.5 * saved[1] > 0
    kw_saved = power_kw(s, t, TZ, None) - power_kw(s, t, TZ, start)
    # Most of the daytime saving is the same base-load cut as at night (the energy traps).
    assert 0 < kw_saved[1] - kw_saved[0] < 0.6 * kw_saved[0]


@pytest.mark.parametrize("start", [(2026, 2, 2), (2025, 9, 1), (2026, 8, 31)])
def test_measured_reductions_match_table(start):
    start_s = local(*start)
    first = date(*start)
    assert working_days(first, 91) == working_days(first - timedelta(364), 91)
    measured = {s.id: measured_reduction_pct(s, start_s) for s in DEMO_SITES}
    for s in DEMO_SITES:
        assert measured[s.id] == pytest.approx(s.reduction_pct, abs=1.0), s.id
    assert measured["soderhamn"] == pytest.approx(22, abs=1.5)
    assert measured["pitea"] == pytest.approx(19, abs=1.5)
    assert sum(5 <= m <= 10 for m in measured.values()) >= 18


def test_reductions_within_1pp_whenever_calendars_align():
    """Every 4 weeks over a year; moving holidays (Easter) only widen the error when the two
    windows hold different numbers of working days, as they would for a real baseline."""
    for k in range(13):
        first = date(2026, 1, 5) + timedelta(28 * k)
        start_s = local(first.year, first.month, first.day)
        aligned = working_days(first, 91) == working_days(first - timedelta(364), 91)
        tol = 1.0 if aligned else 2.5
        for s in (SITES["soderhamn"], SITES["pitea"], SITES["avesta"], SITES["timra"]):
            assert measured_reduction_pct(s, start_s) == pytest.approx(s.reduction_pct, abs=tol)


# --- registers --------------------------------------------------------------------------------


def test_register_starts_at_offset_and_is_monotonic():
    s = SITES["karlskrona"]
    origin = local(2026, 1, 1) + 1000.0
    rng = np.random.default_rng(1)
    t = np.sort(origin + rng.uniform(0, 120 * DAY, 3000))
    r = register_kwh(s, t, TZ, local(2026, 2, 2), origin)
    assert register_kwh(s, np.array([origin]), TZ, None, origin)[0] == 10_000 + 1_000 * s.seed
    assert np.all(np.diff(r) >= 0) and r[0] >= 10_000


def test_register_is_additive_and_exact():
    s = SITES["lerum"]
    origin, start = local(2026, 1, 1), local(2026, 2, 2)
    t1, t2, t3 = origin + 5 * DAY + 1234.5, origin + 33 * DAY + 17.25, origin + 90 * DAY + 3599.0
    r1, _r2, r3 = register_kwh(s, np.array([t1, t2, t3]), TZ, start, origin)
    part_a = np.diff(register_kwh(s, np.array([t1, t2]), TZ, start, origin))[0]
    part_b = np.diff(register_kwh(s, np.array([t2, t3]), TZ, start, t2))[0]  # another origin
    assert r3 - r1 == pytest.approx(part_a + part_b, abs=1e-6)
    # Against a brute-force integral of the hourly power (sampled well inside each hour).
    edges = np.concatenate(([t1], np.arange(np.ceil(t1 / 3600) * 3600, t3, 3600.0), [t3]))
    brute = np.sum(power_kw(s, (edges[:-1] + edges[1:]) / 2, TZ, start) * np.diff(edges) / 3600)
    assert r3 - r1 == pytest.approx(brute, abs=1e-6)


def test_register_value_independent_of_other_query_times():
    s = SITES["gotland"]
    origin = local(2025, 12, 1)
    t = np.array([local(2026, 3, 1) + 1800.0])
    alone = register_kwh(s, t, TZ, None, origin)[0]
    many = register_kwh(s, np.array([origin - 5 * DAY, t[0], local(2026, 6, 1)]), TZ, None, origin)
    assert many[1] == pytest.approx(alone, abs=1e-6)
    assert many[0] < 10_000 + 1_000 * s.seed < many[1] < many[2]
