"""The numpy CalTRACK daily method against the reference, eemeter 4.1.1 DailyModel("legacy").

Synthetic town-hall meters in a Swedish climate (daily means about -15..+25 °C) are fitted on a
baseline year (2022-10-01..2023-09-30) and predict the following three months, once with
eemeter and once with ``scoring.caltrack_daily``. Requirements: same data-sufficiency verdict,
period totals within 1 % and daily CV(RMSE) between the two prediction series under 3 %, and
the same model kind unless both kinds fit the baseline equally well (RMSEs within 1 %).

The optimisers eemeter's kind depends on are checked step for step: ``scoring.subplex``
against nlopt's Subplex (on eemeter's own objective and on a plain bounded function) and
against SciPy's Brent, and the numpy initial-fit loss against eemeter's objective.

eemeter compiles numba code on its first fit (20-35 s without a numba cache), so all eemeter
fits happen once, in a module-scoped fixture.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import nlopt
    from eemeter.eemeter import DailyBaselineData, DailyModel, DailyReportingData
    from eemeter.eemeter.models.daily import optimize as ee_optimize
    from eemeter.eemeter.models.daily.base_models import hdd_tidd_cdd as ee_hdd_tidd_cdd
    from eemeter.eemeter.models.daily.utilities.settings import (
        DailyLegacySettings,
        update_daily_settings,
    )

from scipy.optimize import minimize_scalar

from scoring import caltrack_daily as cd
from scoring import subplex
from scoring.caltrack_daily import MODEL_NAMES, fit_daily, predict_daily

INDEX = pd.date_range("2022-10-01", "2023-12-31", freq="D", tz="Europe/Stockholm")
BASELINE_DAYS = 365  # 2022-10-01..2023-09-30; the remaining 92 days are the reporting period
DAYS = np.array([d.toordinal() for d in INDEX.date])
MAX_TOTAL_PCT = 1.0
MAX_CVRMSE_PCT = 3.0
MAX_BALANCE_POINT_DIFF_F = 2.0
MAX_KIND_TIE_RMSE_PCT = 1.0  # where the model kinds differ (see the kind test)


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


class _RecordObjective(ee_hdd_tidd_cdd.InitialGuessOptimizer):
    """eemeter's DIRECT runner, keeping the objective it was given."""

    last = None

    def __init__(self, obj_fcn, x0, bnds, settings):
        _RecordObjective.last = obj_fcn
        super().__init__(obj_fcn, x0, bnds, settings)


class _RecordSubplex(ee_optimize.NLoptOptimizer):
    """eemeter's nlopt runner, keeping its first Subplex run (the initial fit): objective,
    start, bounds, every point evaluated with its value, and the result."""

    first = None

    def run(self):
        if _RecordSubplex.first is not None or self.settings.algorithm != "nlopt_sbplx":
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
        _RecordSubplex.first = {
            "objective": objective,
            "x0": np.array(self.x0, dtype=float),
            "bounds": np.array(self.bnds, dtype=float),
            "trace": trace,
            "x": np.array(result.x, dtype=float),
        }
        return result


def eemeter_fit(usage, temp_f, baseline_days=BASELINE_DAYS) -> Reference:
    frame = pd.DataFrame({"observed": usage, "temperature": temp_f}, index=INDEX)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baseline = DailyBaselineData(frame.iloc[:baseline_days], is_electricity_data=True)
        reporting = DailyReportingData(
            frame.iloc[BASELINE_DAYS:][["temperature"]], is_electricity_data=True
        )
        _RecordSubplex.first = None
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
        initial_fit=_RecordSubplex.first,
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
    """The DIRECT search over both balance points lands on eemeter's points.

    Where two DIRECT points score within 1e-8 of each other eemeter's choice depends on its
    approximate slope fits (Brent, tolerance 0.1), so a point eemeter's own objective rates
    equal to its pick also counts.
    """
    names, matrix, temp_c, _, _, reference = comparison
    temp_f = temp_c[:BASELINE_DAYS] * 9 / 5 + 32
    usage = matrix[:, :BASELINE_DAYS]
    ok = np.isfinite(usage)
    data = cd._Sorted(np.broadcast_to(temp_f, usage.shape), usage, ok)
    xa, xb = cd._direct(data)
    sites = np.arange(len(names))
    h0, _, c0, _, _ = cd._x0_loss(data, sites, xa, xb, full=True)
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
    assert exact >= len(names) - 1


def baseline_rmse(usage, predicted):
    """RMSE of a fit over the baseline days with energy [kWh/day]."""
    ok = np.isfinite(usage) & (usage != 0) & np.isfinite(predicted)
    return np.sqrt(np.mean((usage[ok] - predicted[ok]) ** 2))


def test_same_model_kind_unless_both_kinds_fit_equally_well(comparison):
    """Same kind, or the two fits are equally good: baseline RMSEs within 1 % of each other.

    eemeter's initial fit is nlopt Subplex over all five parameters (stopping at a relative
    change of 1e-5); ours is a compass search with exact slopes, and eemeter's Subplex
    (emulated, at most 60 evaluations) where the initial guess and the compass disagree on
    the kind. On a flat loss surface the two stop in different places, and whether a
    near-zero slope survives decides the kind. On the first 300 meters of bench.regression the
    kinds agreed on 86 % (84 % with the compass alone; 11 of these 12 town halls), and where
    they did not, our fit's baseline RMSE was within 0.7 % of eemeter's: the term one model
    adds is not supported by the data beyond optimiser noise.
    """
    names, matrix, temp_c, models, _, reference = comparison
    ours_baseline = predict_daily(models, temp_c[:BASELINE_DAYS])
    same = 0
    for i, name in enumerate(names):
        ref = reference[name]
        if ref.model_type == MODEL_NAMES[models.model_type[i]]:
            same += 1
            continue
        usage = matrix[i, :BASELINE_DAYS]
        ours_rmse = baseline_rmse(usage, ours_baseline[i])
        ref_rmse = baseline_rmse(usage, ref.baseline_kwh)
        diff = 100 * (ours_rmse / ref_rmse - 1)
        assert abs(diff) < MAX_KIND_TIE_RMSE_PCT, (
            f"{name}: ours {MODEL_NAMES[models.model_type[i]]}, eemeter {ref.model_type},"
            f" baseline RMSE differs by {diff:+.2f} %"
        )
    assert same >= len(names) - 2


def _eemeter_steps(x0, bounds):
    """eemeter's initial Subplex steps (NLoptOptimizer): 10 % of each range, clipped to the
    farther bound, turned round where they would leave the bounds."""
    lower, upper = bounds[:, 0], bounds[:, 1]
    reach = np.max(np.abs(bounds.T - x0), axis=0)
    step = np.clip((upper - lower) * 0.1, -reach, reach)
    ahead = x0 + step
    return np.where((ahead < lower) | (ahead > upper), -step, step)


def test_subplex_takes_eemeters_path_on_its_objective(comparison):
    """On eemeter's own initial-fit objective, the batched Subplex evaluates exactly as often
    as nlopt did and ends at nlopt's point, to the last bit."""
    names, *_, reference = comparison
    runs = [reference[name].initial_fit for name in names]
    x0 = np.array([run["x0"] for run in runs])
    bounds = np.array([run["bounds"] for run in runs])
    steps = np.array([_eemeter_steps(run["x0"], run["bounds"]) for run in runs])

    def fun(rows, x):
        return np.array([runs[r]["objective"](x[k].copy()) for k, r in enumerate(rows)])

    x, _, nevals, finished = subplex.subplex(
        fun, x0, bounds[:, :, 0], bounds[:, :, 1], steps, 1999, 1e-5, 1e-5
    )
    assert finished.all()
    for i, name in enumerate(names):
        assert nevals[i] == len(runs[i]["trace"]), name
        assert np.array_equal(x[i], runs[i]["x"]), name


def test_initial_fit_loss_is_eemeters_objective(comparison):
    """The prefix-sum loss equals eemeter's objective at every point its Subplex evaluated."""
    names, matrix, temp_c, _, _, reference = comparison
    temp_f = temp_c[:BASELINE_DAYS] * 9 / 5 + 32
    usage = matrix[:, :BASELINE_DAYS]
    data = cd._Sorted(np.broadcast_to(temp_f, usage.shape), usage, np.isfinite(usage))
    loss = cd._InitialLoss(data)
    for i, name in enumerate(names):
        trace = reference[name].initial_fit["trace"]
        points = np.array([point for point, _ in trace])
        values = np.array([value for _, value in trace])
        ours = loss(np.full(len(points), i), points)
        np.testing.assert_allclose(ours, values, rtol=1e-11, err_msg=name)


def test_initial_fit_starts_where_eemeter_does(comparison):
    """At eemeter's DIRECT point, Brent's slopes through eemeter's first intercept give
    eemeter's start for the initial fit."""
    names, matrix, temp_c, _, _, reference = comparison
    temp_f = temp_c[:BASELINE_DAYS] * 9 / 5 + 32
    usage = matrix[:, :BASELINE_DAYS]
    data = cd._Sorted(np.broadcast_to(temp_f, usage.shape), usage, np.isfinite(usage))
    xa, xb = cd._direct(data)
    start = np.stack(cd._x0_brent(data, cd._InitialLoss(data), xa, xb), axis=1)
    same_guess = 0
    for i, name in enumerate(names):
        ref = reference[name]
        if not np.allclose((min(xa[i], xb[i]), max(xa[i], xb[i])), ref.x0_bp_f, atol=1e-6):
            continue  # DIRECT landed elsewhere (see test_initial_balance_point_search_is_eemeters)
        same_guess += 1
        bounds = ref.initial_fit["bounds"]
        ours = np.clip(start[i], bounds[:, 0], bounds[:, 1])
        np.testing.assert_allclose(ours, ref.initial_fit["x0"], rtol=1e-9, atol=1e-9)
    assert same_guess >= len(names) - 1


def _bounded_test_function(x, target, weight):
    """A bounded, partly non-smooth test function, column by column (same arithmetic for one
    point as for many)."""
    total = weight[:, 0] * (x[:, 0] - target[:, 0]) ** 2
    for j in range(1, x.shape[1]):
        total = total + weight[:, j] * (x[:, j] - target[:, j]) ** 2
    return total + 0.3 * np.abs(x[:, 0] - x[:, 2])


@pytest.mark.parametrize("maxeval", [1999, 37])
def test_subplex_is_nlopts_on_a_bounded_function(maxeval):
    """Same evaluations and end point as nlopt's LN_SBPLX, with targets outside the bounds
    (points pinned to them), and with the budget cutting the search short."""
    rng = np.random.default_rng(5)
    rows, n = 6, 5
    target = rng.uniform(-2, 12, (rows, n))
    weight = rng.uniform(0.2, 5, (rows, n))
    lower, upper = np.zeros((rows, n)), np.full((rows, n), 10.0)
    x0 = rng.uniform(1, 9, (rows, n))
    steps = np.array(
        [_eemeter_steps(x0[i], np.stack([lower[i], upper[i]], 1)) for i in range(rows)]
    )

    def fun(r, x):
        return _bounded_test_function(x, target[r], weight[r])

    x, _, nevals, _ = subplex.subplex(fun, x0, lower, upper, steps, maxeval, 1e-5, 1e-5)
    for i in range(rows):
        calls = []

        def objective(point, grad, i=i, calls=calls):
            calls.append(1)
            return float(fun(np.array([i]), point[None, :])[0])

        opt = nlopt.opt(nlopt.LN_SBPLX, n)
        opt.set_min_objective(objective)
        opt.set_maxeval(maxeval)
        opt.set_xtol_rel(1e-5)
        opt.set_ftol_rel(1e-5)
        opt.set_lower_bounds(lower[i])
        opt.set_upper_bounds(upper[i])
        opt.set_initial_step(steps[i])
        best = opt.optimize(x0[i].copy())
        assert nevals[i] == len(calls), i
        assert np.array_equal(x[i], best), i


def test_brent_is_scipys():
    """eemeter's slope fit, minimize_scalar(method="brent", tol=0.1), to the last bit;
    including a segment without days (a flat function: no bracket)."""
    rng = np.random.default_rng(3)
    problems = []
    for size in [0, 3, 12, 40, 120, 300] * 5:
        temp = rng.uniform(-5, 25, size)
        energy = 700 + rng.uniform(-60, 60) * temp + rng.normal(0, 40, size)
        problems.append((temp, energy, rng.uniform(0, 20), rng.uniform(400, 900)))

    def slope_loss(s, temp, energy, balance, intercept):
        return np.sqrt(np.sum((energy - (s * (temp - balance) + intercept)) ** 2))

    expected = [minimize_scalar(slope_loss, method="brent", tol=0.1, args=p).x for p in problems]

    def fun(rows, s):
        return np.array([slope_loss(s[k], *problems[r]) for k, r in enumerate(rows)])

    assert np.array_equal(subplex.brent(fun, len(problems), 0.1), expected)


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


@pytest.mark.parametrize("seed", [15, 56, 107, 133, 145])
def test_same_kind_as_eemeter_where_the_compass_search_differed(seed):
    """Meters whose kind our compass search got wrong (it stood in for eemeter's Subplex
    everywhere before): where the initial guess and the compass disagree on the kind, the
    emulated Subplex now decides, and gives eemeter's kind and prediction."""
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
