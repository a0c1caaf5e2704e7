"""The numpy CalTRACK daily method against the reference, eemeter 4.1.1 DailyModel("legacy").

Synthetic town-hall meters in a Swedish climate (daily means about -15..+25 °C) are fitted on a
baseline year (2022-10-01..2023-09-30) and predict the following three months, once with
eemeter and once with ``scoring.caltrack.daily``. Requirements: same data-sufficiency verdict,
period totals within 1 % and daily CV(RMSE) between the two prediction series under 3 %, and
the same model kind.

The optimisers eemeter's kind depends on are checked step for step against eemeter's own runs:
the compiled loss (``scoring.caltrack.eemeter_loss``) against eemeter's objective at every
point its Subplex evaluated, the compiled start against eemeter's, the compiled Subplex
(``scoring.caltrack.subplex``) against nlopt's path (same evaluations, same end point, to the
last bit) in the initial and the final fit, and the compiled Brent against SciPy's.

eemeter compiles numba code on its first fit (20-35 s without a numba cache), so all eemeter
fits happen once, in a module-scoped fixture.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from eemeter.eemeter import DailyBaselineData, DailyModel, DailyReportingData
    from eemeter.eemeter.models.daily import optimize as ee_optimize
    from eemeter.eemeter.models.daily.base_models import hdd_tidd_cdd as ee_hdd_tidd_cdd
    from eemeter.eemeter.models.daily.utilities.settings import (
        DailyLegacySettings,
        update_daily_settings,
    )

from scipy.optimize import minimize_scalar

from scoring.caltrack import eemeter_daily, eemeter_loss, subplex
from scoring.caltrack.daily import MODEL_NAMES, fit_daily, predict_daily
from scoring.caltrack.sorted_days import SortedDays

INDEX = pd.date_range("2022-10-01", "2023-12-31", freq="D", tz="Europe/Stockholm")
BASELINE_DAYS = 365  # 2022-10-01..2023-09-30; the remaining 92 days are the reporting period
DAYS = np.array([d.toordinal() for d in INDEX.date])
MAX_TOTAL_PCT = 1.0
MAX_CVRMSE_PCT = 3.0
MAX_BALANCE_POINT_DIFF_F = 2.0


def swedish_weather(rng) -> np.ndarray:
    """Daily mean temperature [°C]: seasonal cycle from 1 October plus AR(1) weather."""
    n = INDEX.size
    weather = np.zeros(n)
    for i in range(1, n):
        weather[i] = 0.7 * weather[i - 1] + rng.normal(0, 2.2)
    return 7 + 11 * np.sin(2 * np.pi * (np.arange(n) + 273 - 110) / 365.25) + weather


def town_hall_meters(rng, temp_c):
    """Daily kWh of town halls: weekends at 55 %, 3 % noise unless stated."""
    weekend = np.where(INDEX.dayofweek >= 5, 0.55, 1.0)

    def hdd(bp):
        return np.maximum(bp - temp_c, 0)

    def cdd(bp):
        return np.maximum(temp_c - bp, 0)

    kinds = {
        "heating": (700 + 30 * hdd(14), 0.03),
        "heating_strong": (500 + 60 * hdd(16), 0.03),
        "cooling": (900 + 60 * cdd(17), 0.03),
        "mixed": (600 + 20 * hdd(12) + 40 * cdd(18), 0.03),
        "flat": (800 + 0 * temp_c, 0.03),
        "noisy_heating": (700 + 30 * hdd(14), 0.15),
        "heating_missing": (1200 + 45 * hdd(15), 0.03),
        "mixed_missing": (400 + 15 * hdd(11) + 35 * cdd(17), 0.03),
        "cooling_missing": (1500 + 80 * cdd(19), 0.03),
        "noisy_mixed": (900 + 25 * hdd(13) + 50 * cdd(18), 0.12),
        "weak_cooling": (1000 + 35 * hdd(15) + 4 * cdd(20), 0.03),
        "flat_noisy": (600 + 0 * temp_c, 0.15),
    }
    usage = {
        name: base * weekend * (1 + rng.normal(0, noise, INDEX.size))
        for name, (base, noise) in kinds.items()
    }
    for name in ("heating_missing", "mixed_missing", "cooling_missing"):
        usage[name][rng.choice(BASELINE_DAYS, 12, replace=False)] = np.nan
    return usage


@dataclass
class Reference:
    model_type: str
    hdd_bp_f: float
    cdd_bp_f: float
    hdd_slope: float  # [kWh/(°F·day)]
    cdd_slope: float
    predicted_kwh: np.ndarray
    baseline_kwh: np.ndarray  # the fit's prediction on the baseline days
    disqualified: set[str]
    x0_bp_f: tuple[float, float]
    x0_objective: object  # eemeter's initial-guess loss of a breakpoint pair [°F]
    initial_fit: dict  # eemeter's Subplex run of the initial fit (see _RecordSubplex)
    final_fit: dict | None  # its run of the final fit, where it has one


class _RecordObjective(ee_hdd_tidd_cdd.InitialGuessOptimizer):
    """eemeter's DIRECT runner, keeping the objective it was given."""

    last = None

    def __init__(self, obj_fcn, x0, bnds, settings):
        _RecordObjective.last = obj_fcn
        super().__init__(obj_fcn, x0, bnds, settings)


class _RecordSubplex(ee_optimize.NLoptOptimizer):
    """eemeter's nlopt runner, keeping its Subplex runs (the initial fit, then the final fit):
    objective, start, bounds, every point evaluated with its value, and the result."""

    runs: ClassVar[list] = []

    def run(self):
        if self.settings.algorithm != "nlopt_sbplx":
            return super().run()
        objective = self.obj_fcn
        trace = []

        def traced(x, *args, **kwargs):
            value = objective(x, *args, **kwargs)
            if kwargs.get("optimize_flag", True):
                trace.append((np.array(x, dtype=float), value))
            return value

        self.obj_fcn = traced
        result = super().run()
        _RecordSubplex.runs.append(
            {
                "objective": objective,
                "x0": np.array(self.x0, dtype=float),
                "bounds": np.array(self.bnds, dtype=float),
                "trace": trace,
                "x": np.array(result.x, dtype=float),
            }
        )
        return result


def eemeter_fit(usage, temp_f, baseline_days=BASELINE_DAYS) -> Reference:
    frame = pd.DataFrame({"observed": usage, "temperature": temp_f}, index=INDEX)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baseline = DailyBaselineData(frame.iloc[:baseline_days], is_electricity_data=True)
        reporting = DailyReportingData(
            frame.iloc[BASELINE_DAYS:][["temperature"]], is_electricity_data=True
        )
        _RecordSubplex.runs = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ee_optimize, "NLoptOptimizer", _RecordSubplex)
            model = DailyModel(model="legacy").fit(baseline, ignore_disqualification=True)
        predicted = model.predict(reporting, ignore_disqualification=True)
        baseline_temps = frame.iloc[:baseline_days][["temperature"]]
        in_sample = model.predict(
            DailyReportingData(baseline_temps, is_electricity_data=True),
            ignore_disqualification=True,
        )
        # eemeter's own initial guess (DIRECT over both balance points)
        settings = update_daily_settings(
            DailyLegacySettings(),
            {
                "DEVELOPER_MODE": True,
                "SILENT_DEVELOPER_MODE": True,
                "ALPHA_FINAL_TYPE": None,
                "FINAL_BOUNDS_SCALAR": None,
            },
        )
        data = baseline.df.dropna()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ee_hdd_tidd_cdd, "InitialGuessOptimizer", _RecordObjective)
            x0 = ee_hdd_tidd_cdd._hdd_tidd_cdd_smooth_x0(
                data.temperature.values, data.observed.values, 2.0, settings, False
            )
    (sub,) = model.params.submodels.values()
    coef = sub.coefficients
    return Reference(
        model_type=sub.model_type.value,
        hdd_bp_f=np.nan if coef.hdd_bp is None else coef.hdd_bp,
        cdd_bp_f=np.nan if coef.cdd_bp is None else coef.cdd_bp,
        hdd_slope=0.0 if coef.hdd_beta is None else abs(coef.hdd_beta),
        cdd_slope=0.0 if coef.cdd_beta is None else coef.cdd_beta,
        predicted_kwh=predicted.predicted.values,
        baseline_kwh=in_sample.predicted.values,
        disqualified={w.qualified_name.rsplit(".", 1)[-1] for w in model.disqualification},
        x0_bp_f=(x0.hdd_bp, x0.cdd_bp),
        x0_objective=_RecordObjective.last,
        initial_fit=_RecordSubplex.runs[0],
        final_fit=_RecordSubplex.runs[1] if len(_RecordSubplex.runs) > 1 else None,
    )


@pytest.fixture(scope="module")
def comparison():
    logging.disable(logging.WARNING)  # eemeter logs every data warning
    try:
        rng = np.random.default_rng(2023)
        temp_c = swedish_weather(rng)
        temp_f = temp_c * 9 / 5 + 32
        usage = town_hall_meters(rng, temp_c)
        names = list(usage)
        matrix = np.array([usage[name] for name in names])
        models = fit_daily(matrix[:, :BASELINE_DAYS], temp_c[:BASELINE_DAYS], DAYS[:BASELINE_DAYS])
        ours = predict_daily(models, temp_c[BASELINE_DAYS:])
        reference = {name: eemeter_fit(usage[name], temp_f) for name in names}
    finally:
        logging.disable(logging.NOTSET)
    return names, matrix, temp_c, models, ours, reference


def pct_total(ours, ref):
    return 100 * (ours.sum() / ref.sum() - 1)


def pct_cvrmse(ours, ref):
    return 100 * np.sqrt(np.mean((ours - ref) ** 2)) / ref.mean()


def test_both_find_every_meter_sufficient(comparison):
    names, _, _, models, _, reference = comparison
    for i, name in enumerate(names):
        assert reference[name].disqualified == set(), name
        assert models.sufficient[i], (name, models.reason_names(i))


def test_period_totals_agree_within_1_pct(comparison):
    names, _, _, _, ours, reference = comparison
    for i, name in enumerate(names):
        diff = pct_total(ours[i], reference[name].predicted_kwh)
        assert abs(diff) < MAX_TOTAL_PCT, f"{name}: total differs by {diff:+.2f} %"


def test_daily_predictions_agree_within_3_pct_cvrmse(comparison):
    names, _, _, _, ours, reference = comparison
    for i, name in enumerate(names):
        cv = pct_cvrmse(ours[i], reference[name].predicted_kwh)
        assert cv < MAX_CVRMSE_PCT, f"{name}: CV(RMSE) {cv:.2f} %"


def test_initial_balance_point_search_is_eemeters(comparison):
    """The DIRECT search over both balance points lands on eemeter's points, on every town
    hall. (Its objective equals eemeter's up to rounding, so a point eemeter's own objective
    rates equal to its pick to 1e-8 would also count.)"""
    names, matrix, temp_c, _, _, reference = comparison
    temp_f = temp_c[:BASELINE_DAYS] * 9 / 5 + 32
    usage = matrix[:, :BASELINE_DAYS]
    ok = np.isfinite(usage)
    data = SortedDays(np.broadcast_to(temp_f, usage.shape), usage, ok)
    xa, xb = eemeter_daily._direct(data)
    h0, c0 = np.minimum(xa, xb), np.maximum(xa, xb)
    exact = 0
    for i, name in enumerate(names):
        ref = reference[name]
        if np.allclose((h0[i], c0[i]), ref.x0_bp_f, atol=1e-6, rtol=0):
            exact += 1
            continue
        ours_loss = ref.x0_objective(np.array([xa[i], xb[i]]))
        ref_loss = min(  # DIRECT may have sampled the pair in either order
            ref.x0_objective(np.array(ref.x0_bp_f)), ref.x0_objective(np.array(ref.x0_bp_f[::-1]))
        )
        assert ours_loss == pytest.approx(ref_loss, rel=1e-8), name
    assert exact == len(names)


def test_same_model_kind(comparison):
    """eemeter's model kind on every town hall. (It is read off where eemeter's searches stop,
    which the compiled emulation follows step for step.)"""
    names, _, _, models, _, reference = comparison
    for i, name in enumerate(names):
        assert MODEL_NAMES[models.model_type[i]] == reference[name].model_type, name


def _eemeter_steps(x0, bounds):
    """eemeter's initial Subplex steps (NLoptOptimizer): 10 % of each range, clipped to the
    farther bound, turned round where they would leave the bounds."""
    lower, upper = bounds[:, 0], bounds[:, 1]
    reach = np.max(np.abs(bounds.T - x0), axis=0)
    step = np.clip((upper - lower) * 0.1, -reach, reach)
    ahead = x0 + step
    return np.where((ahead < lower) | (ahead > upper), -step, step)


def _exact_data(usage, temp_c, penalised=True, layout=eemeter_loss.FIVE, fixed_bp=0.0):
    """``exact_loss``'s data of one meter's baseline days, as eemeter sees them."""
    temp_f = temp_c[:BASELINE_DAYS] * 9 / 5 + 32
    usage = usage[:BASELINE_DAYS]
    ok = np.isfinite(usage) & (usage != 0) & np.isfinite(temp_f)
    t_date, y_date = temp_f[ok], usage[ok]
    order = np.argsort(t_date)
    return eemeter_loss.exact_data(
        t_date, y_date, t_date[order], y_date[order], ok.sum(), penalised, layout, fixed_bp
    )


def _runs(comparison, which):
    """eemeter's Subplex runs of one fit: (meter, the loss's data, the run, the coefficients it
    optimised). A single-slope final fit has three coefficients, two where the balance point
    is fixed (its bounds are equal)."""
    names, matrix, temp_c, _, _, reference = comparison
    for i, name in enumerate(names):
        run = getattr(reference[name], which)
        if run is None or run["x0"].size == 1:  # the intercept alone: its mean
            continue
        free = run["bounds"][:, 0] < run["bounds"][:, 1]
        layout = eemeter_loss.FIVE if run["x0"].size == 5 else eemeter_loss.ONE_SLOPE
        if not free.all():
            layout = eemeter_loss.ONE_SLOPE_FIXED
        data = _exact_data(matrix[i], temp_c, which == "initial_fit", layout, run["x0"][0])
        yield name, data, run, free


@pytest.mark.parametrize("which", ["initial_fit", "final_fit"])
def test_loss_is_eemeters_objective(comparison, which):
    """The compiled loss equals eemeter's objective, to the last bit, at every point its
    Subplex evaluated: with the elastic net (initial fit) and without (final fit)."""
    runs = list(_runs(comparison, which))
    assert len(runs) >= 10
    for name, data, run, _ in runs:
        for point, value in run["trace"]:
            assert eemeter_loss.exact_loss(point, data) == value, name


@pytest.mark.parametrize("which", ["initial_fit", "final_fit"])
def test_subplex_takes_eemeters_path(comparison, which):
    """From eemeter's start, bounds and steps, the compiled Subplex evaluates exactly as often
    as nlopt did and ends at nlopt's point, to the last bit."""
    for name, data, run, free in _runs(comparison, which):
        x0, bounds = run["x0"][free], run["bounds"][free]
        steps = _eemeter_steps(x0, bounds)
        x, _, nevals = subplex.minimize(
            data, x0, bounds[:, 0], bounds[:, 1], steps, 1999, 1e-5, 1e-5
        )
        assert nevals == len(run["trace"]), name
        assert np.array_equal(x, run["x"][free]), name


def test_initial_fit_starts_where_eemeter_does(comparison):
    """At eemeter's DIRECT point, the compiled initial guess (Brent's slopes through eemeter's
    first intercept, the mean residual moved into the intercept) is eemeter's start."""
    names, matrix, temp_c, _, _, reference = comparison
    for i, name in enumerate(names):
        ref = reference[name]
        rows, _, m, *_ = _exact_data(matrix[i], temp_c)
        ts, ys = rows[eemeter_loss._T_SORTED, :m], rows[eemeter_loss._E_SORTED, :m]
        h, c = ref.x0_bp_f
        start = eemeter_loss.initial_guess(ts, ys, ts.size, h, c, np.empty(ts.size))
        bounds = ref.initial_fit["bounds"]
        ours = np.clip(np.array(start), bounds[:, 0], bounds[:, 1])
        assert np.array_equal(ours, ref.initial_fit["x0"]), name


def test_fit_ends_where_eemeter_does(comparison):
    """The whole fit, DIRECT included: where eemeter's model has two slopes and our DIRECT
    found its point, the coefficients are eemeter's (up to the °C conversion)."""
    names, _, _, models, _, reference = comparison
    checked = 0
    for i, name in enumerate(names):
        ref = reference[name]
        if ref.model_type != "hdd_tidd_cdd":
            continue
        checked += 1
        ours = (models.heating_balance_c[i], models.cooling_balance_c[i])
        np.testing.assert_allclose(
            np.array(ours) * 9 / 5 + 32, (ref.hdd_bp_f, ref.cdd_bp_f), rtol=1e-12, err_msg=name
        )
        slopes = (models.heating_kwh_per_degc_day[i], models.cooling_kwh_per_degc_day[i])
        np.testing.assert_allclose(
            np.array(slopes) * 5 / 9, (ref.hdd_slope, ref.cdd_slope), rtol=1e-12, err_msg=name
        )
    assert checked >= 3


def test_brent_is_scipys():
    """eemeter's slope fit, minimize_scalar(method="brent", tol=0.1), to the last bit;
    including a segment without days (a flat function: no bracket)."""
    rng = np.random.default_rng(3)
    for size in [0, 3, 12, 40, 120, 300] * 5:
        temp = np.sort(rng.uniform(-5, 25, size))
        energy = 700 + rng.uniform(-60, 60) * temp + rng.normal(0, 40, size)
        balance, intercept = rng.uniform(0, 20), rng.uniform(400, 900)

        def slope_loss(s, temp=temp, energy=energy, balance=balance, intercept=intercept):
            return np.sqrt(np.sum((energy - (s * (temp - balance) + intercept)) ** 2))

        expected = minimize_scalar(slope_loss, method="brent", tol=0.1).x
        ours = eemeter_loss.brent_slope(temp, energy, 0, size, balance, intercept, np.empty(size))
        assert ours == expected, size


def bench_like_meter(seed: int):
    """One town hall as bench.regression draws them: heating, cooling, both, flat or noisy,
    weekends at 45-80 %, 1-6 % noise (15 % for the noisy kind), 1 % of baseline days missing.
    Returns daily mean temperature [°C] and energy [kWh/day]."""
    rng = np.random.default_rng(seed)
    temp_c = swedish_weather(rng)
    base = rng.uniform(200, 4000)
    scale = base / 800
    kind = rng.integers(0, 5)
    heat = scale * rng.uniform(10, 60) * np.maximum(rng.uniform(10, 17) - temp_c, 0)
    cool = scale * rng.uniform(20, 80) * np.maximum(temp_c - rng.uniform(15, 21), 0)
    usage = base + [heat, cool, 0.5 * heat + 0.5 * cool, 0 * heat, 0.5 * heat][kind]
    usage = usage * np.where(INDEX.dayofweek >= 5, rng.uniform(0.45, 0.8), 1.0)
    noise = 0.15 if kind == 4 else rng.uniform(0.01, 0.06)
    usage = usage * (1 + noise * rng.standard_normal(INDEX.size))
    usage[:BASELINE_DAYS][rng.random(BASELINE_DAYS) < 0.01] = np.nan
    return temp_c, usage


@pytest.mark.parametrize("seed", [15, 56, 107, 133, 145, 53, 87, 148, 208])
def test_same_kind_as_eemeter_where_a_stand_in_search_differed(seed):
    """Meters whose kind earlier stand-ins got wrong (for eemeter's Subplex: a compass search
    with exact slopes, the emulation with a prefix-sum loss; for its DIRECT, 53-208: rating
    the points with least-squares slopes): eemeter's kind and prediction."""
    temp_c, usage = bench_like_meter(seed)
    logging.disable(logging.WARNING)
    try:
        reference = eemeter_fit(usage, temp_c * 9 / 5 + 32)
    finally:
        logging.disable(logging.NOTSET)
    models = fit_daily(usage[None, :BASELINE_DAYS], temp_c[:BASELINE_DAYS], DAYS[:BASELINE_DAYS])
    assert MODEL_NAMES[models.model_type[0]] == reference.model_type
    ours = predict_daily(models, temp_c[BASELINE_DAYS:])[0]
    assert abs(pct_total(ours, reference.predicted_kwh)) < MAX_TOTAL_PCT
    assert pct_cvrmse(ours, reference.predicted_kwh) < MAX_CVRMSE_PCT


def test_same_balance_points(comparison):
    names, _, _, models, _, reference = comparison
    for i, name in enumerate(names):
        ref = reference[name]
        for ours_c, ref_f in (
            (models.heating_balance_c[i], ref.hdd_bp_f),
            (models.cooling_balance_c[i], ref.cdd_bp_f),
        ):
            if np.isfinite(ours_c) and np.isfinite(ref_f):
                diff = abs(ours_c * 9 / 5 + 32 - ref_f)
                assert diff < MAX_BALANCE_POINT_DIFF_F, f"{name}: balance points {diff:.2f} °F"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("short", {"incorrect_number_of_total_days"}),
        (
            "missing_days",
            {"too_many_days_with_missing_data", "too_many_days_with_missing_meter_data"},
        ),
        ("missing_temperature_month", {"missing_monthly_temperature_data"}),
    ],
)
def test_same_sufficiency_reasons(case, expected):
    rng = np.random.default_rng(7)
    temp_c = swedish_weather(rng)
    usage = (700 + 30 * np.maximum(14 - temp_c, 0)) * (1 + rng.normal(0, 0.03, INDEX.size))
    baseline_days = BASELINE_DAYS
    if case == "short":
        baseline_days = 300
    elif case == "missing_days":
        usage[rng.choice(BASELINE_DAYS, 45, replace=False)] = np.nan
    else:
        temp_c[(INDEX.month == 2) & (INDEX.year == 2023)] = np.nan
    logging.disable(logging.WARNING)
    try:
        reference = eemeter_fit(usage, temp_c * 9 / 5 + 32, baseline_days)
    finally:
        logging.disable(logging.NOTSET)
    ours = fit_daily(usage[None, :baseline_days], temp_c[:baseline_days], DAYS[:baseline_days])
    assert reference.disqualified == expected
    assert set(ours.reason_names(0)) == expected
