"""Figures the API has no endpoint for: weekly sums and competition totals, by hand."""

from __future__ import annotations

from api.reports.figures import competition_totals, week_sums
from api.reports.texts import num, with_unit


def _day(d: str, actual: float, base: float, hours: int = 24, matched: int = 24) -> dict:
    return {
        "date": d,
        "actual_kwh": actual,
        "baseline_kwh": base,
        "hours": hours,
        "hours_measured": matched,
        "hours_baseline": hours,
        "matched_actual_kwh": actual,
        "matched_baseline_kwh": base,
        "hours_matched": matched,
    }


def test_week_sums_split_at_iso_weeks():
    # Sunday 2011-03-06 ends week 9; Monday 2011-03-07 starts week 10
    days = [
        _day("2011-03-05", 10.04, 12.0),
        _day("2011-03-06", 10.04, 12.0),
        _day("2011-03-07", 9.0, 12.0),
    ]
    w9, w10 = week_sums(days)
    assert (w9["week"], w9["first"], w9["last"], w9["days"]) == (
        "2011-W09",
        "2011-03-05",
        "2011-03-06",
        2,
    )
    assert (w9["actual_kwh"], w9["baseline_kwh"], w9["saved_kwh"]) == (20.1, 24.0, 3.9)
    assert w9["reduction_pct"] == round(100 * (24.0 - 20.08) / 24.0, 2) == 16.33
    assert (w10["week"], w10["actual_kwh"], w10["reduction_pct"]) == ("2011-W10", 9.0, 25.0)


def test_week_without_matched_hours_has_no_figures():
    (w,) = week_sums([_day("2011-03-07", 0.0, 12.0, matched=0)])
    assert w["hours_matched"] == 0
    assert (w["actual_kwh"], w["saved_kwh"], w["reduction_pct"]) == (None, None, None)


def test_competition_totals_sum_the_shown_values():
    entries = [
        {
            "saved_kwh": 336.0,
            "actual_kwh": 1344.0,
            "baseline_kwh": 1680.0,
            "saved_money": 403.2,
            "saved_co2_kg": 15.12,
            "hours_matched": 168,
            "uncertainty_kwh": 30.0,
        },
        {
            "saved_kwh": 84.0,
            "actual_kwh": 756.0,
            "baseline_kwh": 840.0,
            "saved_money": 100.8,
            "saved_co2_kg": 3.78,
            "hours_matched": 168,
            "uncertainty_kwh": 40.0,
        },
        {
            "saved_kwh": 0.0,
            "actual_kwh": 0.0,
            "baseline_kwh": 0.0,
            "saved_money": 0.0,
            "saved_co2_kg": 0.0,
            "hours_matched": 0,
        },
    ]
    tot = competition_totals(entries)
    assert tot["saved_kwh"] == 420.0 and tot["baseline_kwh"] == 2520.0
    assert tot["reduction_pct"] == 16.67  # 100 x 420 / 2520
    assert tot["saved_money"] == 504.0 and tot["sites_with_data"] == 2
    # independent sites: uncertainties add in quadrature (30² + 40² = 50²)
    assert tot["uncertainty_kwh"] == 50.0 and tot["uncertainty_pct_points"] == 1.98
    assert tot["significant"] is True


def test_numbers_keep_the_api_digits():
    assert num(336.0, 1, "sv") == "336,0" and num(336.0, 1, "en") == "336.0"
    assert num(-0.5, 2, "sv") == "-0,50"
    assert num(None, 1, "sv") == "–" and with_unit(None, 1, "kWh", "sv") == "–"
    assert with_unit(1.344, 3, "kWh/m²", "sv") == "1,344 kWh/m²"
