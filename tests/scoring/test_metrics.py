"""Tests for per-site competition metrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.metrics import HOURS_PER_YEAR, MEASURED_HOUR_S, SiteMetrics, site_metrics

NAN = np.nan
FULL = 3600.0

# Two sites x six hours; hours 0..4 have elapsed, hour 5 has not.
#
# Site 0 (area 50 m², target 20 %):
#   actual     1.0   2.0   0.5   3.0   4.0   100.0
#   measured_s 3600  3600  1000  3600  1800  3600    -> hour 2 missing (< 1800 s)
#   baseline   2.0   3.0   7.0   5.0   NaN   50.0    -> hour 4 baseline unknown
#   measured (elapsed, >= 1800 s): hours 0, 1, 3, 4 -> 4 hours, 1 + 2 + 3 + 4 = 10 kWh
#   matched (measured, baseline known): hours 0, 1, 3 -> 3 hours
#   actual 1 + 2 + 3 = 6; baseline 2 + 3 + 5 = 10; saved 4; reduction 100 * 4 / 10 = 40 %
#   kwh_per_m2 = 10 kWh / 4 h * 5 elapsed h / 50 m² = 0.25
#   completeness 3 / 5 = 0.6; target_progress 40 / 20 = 2.0
#
# Site 1 (area 20 m², target 10 %): every hour measured, baseline known
#   actual 2.0 x 5 elapsed (+ 0.0 in hour 5), baseline 1.6 x 5 (+ 9.0 in hour 5)
#   actual 10, baseline 8, saved -2, reduction 100 * -2 / 8 = -25 %
#   kwh_per_m2 = 10 / 5 * 5 / 20 = 0.5; completeness 5 / 5 = 1.0; progress -25 / 10 = -2.5
ACTUAL = np.array([[1.0, 2.0, 0.5, 3.0, 4.0, 100.0], [2.0, 2.0, 2.0, 2.0, 2.0, 0.0]])
MEASURED_S = np.array([[FULL, FULL, 1000.0, FULL, 1800.0, FULL], [FULL] * 6])
BASELINE = np.array([[2.0, 3.0, 7.0, 5.0, NAN, 50.0], [1.6, 1.6, 1.6, 1.6, 1.6, 9.0]])
BASELINE_OK = np.isfinite(BASELINE)
ELAPSED = np.array([True, True, True, True, True, False])
AREA = np.array([50.0, 20.0])
TARGET = np.array([20.0, 10.0])


def hand_case(**overrides):
    args = {
        "actual_kwh": ACTUAL,
        "actual_measured_s": MEASURED_S,
        "baseline_kwh": BASELINE,
        "baseline_ok": BASELINE_OK,
        "elapsed": ELAPSED,
        "area_m2": AREA,
        "target_pct": TARGET,
        "min_completeness": 0.5,
    }
    args.update(overrides)
    return site_metrics(**args)


def test_measured_hour_threshold_is_half_an_hour():
    assert MEASURED_HOUR_S == 1800.0


def test_actual_and_baseline_are_summed_over_matched_hours():
    m = hand_case()
    np.testing.assert_allclose(m.actual_kwh, [6.0, 10.0])
    np.testing.assert_allclose(m.baseline_kwh, [10.0, 8.0])


def test_saved_is_baseline_minus_actual():
    np.testing.assert_allclose(hand_case().saved_kwh, [4.0, -2.0])


def test_reduction_pct():
    np.testing.assert_allclose(hand_case().reduction_pct, [40.0, -25.0])


def test_kwh_per_m2_scales_measured_energy_to_elapsed_hours():
    np.testing.assert_allclose(hand_case().kwh_per_m2, [0.25, 0.5])


def test_hours_elapsed_and_matched():
    m = hand_case()
    assert m.hours_elapsed == 5
    np.testing.assert_array_equal(m.hours_matched, [3, 5])


def test_completeness_is_matched_over_elapsed():
    np.testing.assert_allclose(hand_case().completeness, [0.6, 1.0])


def test_target_progress_is_reduction_over_target():
    np.testing.assert_allclose(hand_case().target_progress, [2.0, -2.5])


def test_eligibility_follows_min_completeness():
    # completeness 0.6 and 1.0
    np.testing.assert_array_equal(hand_case(min_completeness=0.5).eligible, [True, True])
    np.testing.assert_array_equal(hand_case(min_completeness=0.6).eligible, [True, True])
    np.testing.assert_array_equal(hand_case(min_completeness=0.9).eligible, [False, True])


def test_default_min_completeness_is_90_percent():
    args = {
        "actual_kwh": ACTUAL,
        "actual_measured_s": MEASURED_S,
        "baseline_kwh": BASELINE,
        "baseline_ok": BASELINE_OK,
        "elapsed": ELAPSED,
        "area_m2": AREA,
        "target_pct": TARGET,
    }
    np.testing.assert_array_equal(site_metrics(**args).eligible, [False, True])


def test_exactly_1800_measured_seconds_counts_and_1799_does_not():
    # site 0 hour 4 had 1800 s: at 1799 s it is no longer measured:
    # measured hours 0, 1, 3 -> 6 kWh / 3 h * 5 h / 50 m² = 0.2 (matched hours unchanged)
    measured_s = MEASURED_S.copy()
    measured_s[0, 4] = 1799.0
    m = hand_case(actual_measured_s=measured_s)
    assert m.kwh_per_m2[0] == pytest.approx(0.2)
    assert m.reduction_pct[0] == pytest.approx(40.0)


def test_non_elapsed_hours_are_ignored():
    actual, baseline = ACTUAL.copy(), BASELINE.copy()
    actual[:, 5] = 1e9
    baseline[:, 5] = 7e9
    m = hand_case(actual_kwh=actual, baseline_kwh=baseline)
    np.testing.assert_allclose(m.actual_kwh, [6.0, 10.0])
    np.testing.assert_allclose(m.baseline_kwh, [10.0, 8.0])
    np.testing.assert_allclose(m.kwh_per_m2, [0.25, 0.5])


def test_unknown_baseline_value_does_not_leak_into_sums():
    # site 0 hour 4 is not ok; whatever number is stored there must not count
    baseline = BASELINE.copy()
    baseline[0, 4] = 1e6
    m = hand_case(baseline_kwh=baseline)
    assert m.baseline_kwh[0] == pytest.approx(10.0)


def test_missing_hour_with_energy_is_not_counted_as_actual():
    # site 0 hour 2 (1000 s measured): 0.5 kWh -> 50 kWh changes nothing
    actual = ACTUAL.copy()
    actual[0, 2] = 50.0
    m = hand_case(actual_kwh=actual)
    assert m.actual_kwh[0] == pytest.approx(6.0)
    assert m.kwh_per_m2[0] == pytest.approx(0.25)


def test_zero_baseline_gives_nan_reduction_and_not_eligible():
    # one site, 2 elapsed hours fully measured, baseline 0: 100 * (0 - 1) / 0 is undefined
    m = site_metrics(
        np.array([[0.5, 0.5]]),
        np.full((1, 2), FULL),
        np.zeros((1, 2)),
        np.ones((1, 2), dtype=bool),
        np.array([True, True]),
        np.array([10.0]),
        np.array([10.0]),
    )
    assert np.isnan(m.reduction_pct[0])
    assert np.isnan(m.target_progress[0])
    assert not m.eligible[0]
    assert m.completeness[0] == 1.0
    assert m.saved_kwh[0] == pytest.approx(-1.0)  # 0 - (0.5 + 0.5)


def test_zero_target_gives_nan_progress():
    m = hand_case(target_pct=np.array([0.0, 10.0]))
    assert np.isnan(m.target_progress[0])
    assert m.target_progress[1] == pytest.approx(-2.5)


def test_no_elapsed_hours():
    m = hand_case(elapsed=np.zeros(6, dtype=bool))
    assert m.hours_elapsed == 0
    np.testing.assert_array_equal(m.completeness, [0.0, 0.0])
    np.testing.assert_array_equal(m.actual_kwh, [0.0, 0.0])
    assert np.isnan(m.reduction_pct).all()
    assert np.isnan(m.kwh_per_m2).all()
    assert not m.eligible.any()


def test_site_without_measured_hours_has_nan_intensity():
    measured_s = MEASURED_S.copy()
    measured_s[1] = 0.0
    m = hand_case(actual_measured_s=measured_s)
    assert np.isnan(m.kwh_per_m2[1])
    assert m.completeness[1] == 0.0
    assert not m.eligible[1]
    assert m.kwh_per_m2[0] == pytest.approx(0.25)  # the other site is unaffected


# --- annualised intensity, money and CO₂ ---------------------------------------------------


def test_hours_per_year_is_8760():
    assert HOURS_PER_YEAR == 8760.0


def test_kwh_per_m2_annual_without_a_baseline_year_is_a_flat_year():
    # kwh_per_m2 over 5 elapsed hours x 8,760 / 5: site 0 0.25 x 1752 = 438, site 1 0.5 x 1752
    # = 876
    np.testing.assert_allclose(hand_case().kwh_per_m2_annual, [438.0, 876.0])


def test_kwh_per_m2_annual_follows_the_baseline_years_seasons():
    # Site 0: baseline year 50,000 kWh at the period's actual / baseline = 6 / 10:
    #   50,000 x 0.6 / 50 m² = 600 kWh/m²; site 1's year is unknown (NaN): flat year 876
    m = hand_case(baseline_year_kwh=np.array([50_000.0, np.nan]))
    np.testing.assert_allclose(m.kwh_per_m2_annual, [600.0, 876.0])


def test_kwh_per_m2_annual_with_zero_baseline_falls_back_to_a_flat_year():
    # one site, 2 elapsed hours fully measured at 0.5 kWh, baseline 0, area 10 m²:
    # kwh_per_m2 = 1 / 10 = 0.1 -> 0.1 x 8,760 / 2 = 438
    m = site_metrics(
        np.array([[0.5, 0.5]]),
        np.full((1, 2), FULL),
        np.zeros((1, 2)),
        np.ones((1, 2), dtype=bool),
        np.array([True, True]),
        np.array([10.0]),
        np.array([10.0]),
        baseline_year_kwh=np.array([1000.0]),
    )
    assert m.kwh_per_m2_annual[0] == pytest.approx(438.0)


def test_money_and_co2_of_the_saving():
    # saved 4 and -2 kWh; 1.2 SEK/kWh -> 4.8 and -2.4 SEK; 45 g/kWh -> 0.18 and -0.09 kg
    m = hand_case(price_per_kwh=1.2, co2_g_per_kwh=45.0)
    np.testing.assert_allclose(m.saved_money, [4.8, -2.4])
    np.testing.assert_allclose(m.saved_co2_kg, [0.18, -0.09])


def test_money_and_co2_per_site():
    # 1.0 and 2.0 SEK/kWh -> 4 and -4 SEK; 100 and 0 g/kWh -> 0.4 and 0 kg
    m = hand_case(price_per_kwh=np.array([1.0, 2.0]), co2_g_per_kwh=np.array([100.0, 0.0]))
    np.testing.assert_allclose(m.saved_money, [4.0, -4.0])
    np.testing.assert_allclose(m.saved_co2_kg, [0.4, 0.0])


def test_money_and_co2_are_unknown_without_price_and_factor():
    m = hand_case()
    assert np.isnan(m.saved_money).all() and np.isnan(m.saved_co2_kg).all()


def test_site_metrics_can_still_be_built_with_the_original_fields():
    m = SiteMetrics(*(np.zeros(1) for _ in range(7)), 0, np.zeros(1), np.zeros(1, dtype=bool))
    assert m.kwh_per_m2_annual is None and m.saved_money is None and m.saved_co2_kg is None


# --- properties ------------------------------------------------------------------------------

N_SITES, N_HOURS = 3, 12
positive = st.floats(0.01, 1000.0, allow_nan=False, allow_infinity=False)


@st.composite
def metric_inputs(draw):
    shape = (N_SITES, N_HOURS)
    cells = N_SITES * N_HOURS
    actual = np.array(draw(st.lists(positive, min_size=cells, max_size=cells))).reshape(shape)
    baseline = np.array(draw(st.lists(positive, min_size=cells, max_size=cells))).reshape(shape)
    measured_s = np.array(
        draw(
            st.lists(st.sampled_from([0.0, 900.0, 1800.0, 3600.0]), min_size=cells, max_size=cells)
        )
    ).reshape(shape)
    ok = np.array(draw(st.lists(st.booleans(), min_size=cells, max_size=cells))).reshape(shape)
    elapsed = np.array(draw(st.lists(st.booleans(), min_size=N_HOURS, max_size=N_HOURS)))
    area = np.array(draw(st.lists(positive, min_size=N_SITES, max_size=N_SITES)))
    target = np.array(draw(st.lists(positive, min_size=N_SITES, max_size=N_SITES)))
    site = draw(st.integers(0, N_SITES - 1))
    return actual, measured_s, baseline, ok, elapsed, area, target, site


def assert_same_or_both_nan(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(metric_inputs())
def test_property_doubling_consumption_and_baseline_keeps_reduction(data):
    actual, measured_s, baseline, ok, elapsed, area, target, site = data
    before = site_metrics(actual, measured_s, baseline, ok, elapsed, area, target)
    actual2, baseline2 = actual.copy(), baseline.copy()
    actual2[site] *= 2.0
    baseline2[site] *= 2.0
    after = site_metrics(actual2, measured_s, baseline2, ok, elapsed, area, target)
    assert_same_or_both_nan(after.reduction_pct, before.reduction_pct)
    assert_same_or_both_nan(after.target_progress, before.target_progress)
    np.testing.assert_array_equal(after.eligible, before.eligible)
    np.testing.assert_allclose(after.saved_kwh[site], 2.0 * before.saved_kwh[site], rtol=1e-9)


@settings(max_examples=150, deadline=None)
@given(metric_inputs())
def test_property_doubling_area_halves_kwh_per_m2(data):
    actual, measured_s, baseline, ok, elapsed, area, target, site = data
    before = site_metrics(actual, measured_s, baseline, ok, elapsed, area, target)
    area2 = area.copy()
    area2[site] *= 2.0
    after = site_metrics(actual, measured_s, baseline, ok, elapsed, area2, target)
    expected = before.kwh_per_m2.copy()
    expected[site] /= 2.0
    assert_same_or_both_nan(after.kwh_per_m2, expected)
    expected_annual = before.kwh_per_m2_annual.copy()
    expected_annual[site] /= 2.0
    assert_same_or_both_nan(after.kwh_per_m2_annual, expected_annual)
    assert_same_or_both_nan(after.reduction_pct, before.reduction_pct)
    np.testing.assert_array_equal(after.eligible, before.eligible)


def test_adding_hours_one_by_one_gives_the_same_totals_as_the_whole_period():
    from scoring.metrics import add_hour, metrics_from_totals, period_totals

    rng = np.random.default_rng(7)
    sites, hours = 5, 48
    actual = rng.uniform(1, 10, (sites, hours))
    measured = rng.choice([0.0, 900.0, 1800.0, 3600.0], (sites, hours))
    base = rng.uniform(1, 10, (sites, hours))
    ok = rng.random((sites, hours)) > 0.1
    elapsed = np.zeros(hours, dtype=bool)
    elapsed[:40] = True
    whole = period_totals(actual, measured, base, ok, elapsed)
    running = period_totals(actual[:, :0], measured[:, :0], base[:, :0], ok[:, :0], elapsed[:0])
    for h in range(40):
        running = add_hour(running, actual[:, h], measured[:, h], base[:, h], ok[:, h])
    for name in ("actual_kwh", "baseline_kwh", "hours_matched", "measured_kwh", "hours_measured"):
        np.testing.assert_allclose(getattr(running, name), getattr(whole, name), rtol=1e-12)
    area, target = np.full(sites, 100.0), np.full(sites, 10.0)
    a = metrics_from_totals(running, area, target)
    b = metrics_from_totals(whole, area, target)
    np.testing.assert_allclose(a.reduction_pct, b.reduction_pct, rtol=1e-12)
    assert running.hours_elapsed == whole.hours_elapsed == 40
