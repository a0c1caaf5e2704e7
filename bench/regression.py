"""Regression-baseline benchmark: our CalTRACK fit of all sites against eemeter 4.1.1, per meter.

Usage (from the repository root): python -m bench.regression [--sites 10000] [--sample 5]

Builds N synthetic town halls (heating, cooling, mixed, flat and noisy meters with weekends and
about 1 % missing days, spread over 50 weather stations) with a baseline year and a 92-day
reporting period. Times ``fit_daily`` + ``predict_daily`` for all N sites at once (best of 3),
then eemeter ``DailyModel(model="legacy")`` (data objects, fit and predict) one meter at a time
on the first ``--sample`` meters after a warm-up fit, both on one BLAS thread (our fit's
compiled Subplex runs one site per numba thread, one per core; eemeter fits one meter at a time
by design); a fit of 20 sites first loads (or compiles) the numba code. Prints sites
fitted per second for both, their ratio (goal: at least 1000x) and how far the sample's
predictions differ (period total, daily CV(RMSE), model kind) and, where the model kinds
differ, how our fit's baseline RMSE compares with eemeter's (equal within optimiser noise).
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from datetime import date, timedelta

import numpy as np
from threadpoolctl import threadpool_limits

from scoring.caltrack.daily import MODEL_NAMES, fit_daily, predict_daily

BASELINE_DAYS = 365
REPORTING_DAYS = 92
FIRST_DAY = date(2022, 10, 1)
STATIONS = 50


def synthetic_sites(n_sites: int, seed: int = 1):
    """Daily temperatures [°C] (sites x days) and energy [kWh/day] of N town halls."""
    rng = np.random.default_rng(seed)
    n_days = BASELINE_DAYS + REPORTING_DAYS
    season = 7 + 11 * np.sin(2 * np.pi * (np.arange(n_days) + 273 - 110) / 365.25)
    weather = np.zeros((STATIONS, n_days))
    for i in range(1, n_days):
        weather[:, i] = 0.7 * weather[:, i - 1] + rng.normal(0, 2.2, STATIONS)
    stations = season + rng.normal(0, 2, (STATIONS, 1)) + weather
    temp_c = stations[rng.integers(0, STATIONS, n_sites)]
    base = rng.uniform(200, 4000, (n_sites, 1))
    scale = base / 800
    kind = rng.integers(0, 5, (n_sites, 1))
    hdd = np.maximum(rng.uniform(10, 17, (n_sites, 1)) - temp_c, 0)
    cdd = np.maximum(temp_c - rng.uniform(15, 21, (n_sites, 1)), 0)
    heat = scale * rng.uniform(10, 60, (n_sites, 1)) * hdd
    cool = scale * rng.uniform(20, 80, (n_sites, 1)) * cdd
    usage = base + np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [heat, cool, 0.5 * heat + 0.5 * cool, 0 * heat],
        default=0.5 * heat,
    )
    first = FIRST_DAY.toordinal()
    days = np.arange(first, first + n_days)
    weekend = ((days - 1) % 7) >= 5
    usage = usage * np.where(weekend, rng.uniform(0.45, 0.8, (n_sites, 1)), 1.0)
    noise = np.where(kind == 4, 0.15, rng.uniform(0.01, 0.06, (n_sites, 1)))
    usage = usage * (1 + noise * rng.standard_normal(usage.shape))
    usage[:, :BASELINE_DAYS][rng.random((n_sites, BASELINE_DAYS)) < 0.01] = np.nan
    return days, temp_c, usage


def _best_of(n: int, func):
    best, result = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def numpy_fit(days, temp_c, usage, method="caltrack"):
    b = BASELINE_DAYS
    weekday = (days - 1) % 7
    day_type = np.where(weekday == 6, 2, np.where(weekday == 5, 1, 0))
    models = fit_daily(usage[:, :b], temp_c[:, :b], days[:b], day_type=day_type[:b], method=method)
    return models, predict_daily(models, temp_c[:, b:], day_type[b:])


def eemeter_fit(days, temp_c, usage):
    """One meter through eemeter.

    Returns (model kind, reporting prediction, phase times, baseline prediction); the baseline
    prediction (for comparing in-sample fits) is made after the timed phases.
    """
    import pandas as pd
    from eemeter.eemeter import DailyBaselineData, DailyModel, DailyReportingData

    start = date.fromordinal(int(days[0]))
    index = pd.date_range(start, start + timedelta(days=days.size - 1), tz="Europe/Stockholm")
    frame = pd.DataFrame({"observed": usage, "temperature": temp_c * 9 / 5 + 32}, index=index)
    t0 = time.perf_counter()
    baseline = DailyBaselineData(frame.iloc[:BASELINE_DAYS], is_electricity_data=True)
    reporting = DailyReportingData(
        frame.iloc[BASELINE_DAYS:][["temperature"]], is_electricity_data=True
    )
    t1 = time.perf_counter()
    model = DailyModel(model="legacy").fit(baseline, ignore_disqualification=True)
    t2 = time.perf_counter()
    predicted = model.predict(reporting, ignore_disqualification=True).predicted.values
    t3 = time.perf_counter()
    in_sample = model.predict(
        DailyReportingData(frame.iloc[:BASELINE_DAYS][["temperature"]], is_electricity_data=True),
        ignore_disqualification=True,
    ).predicted.values
    (sub,) = model.params.submodels.values()
    return sub.model_type.value, predicted, (t1 - t0, t2 - t1, t3 - t2), in_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=5, help="meters fitted with eemeter")
    args = parser.parse_args()
    compare(args.sites, args.sample)


def compare(n_sites: int, n_sample: int) -> None:
    """Print the figures of the module docstring for ``n_sites`` sites and ``n_sample``
    eemeter meters."""
    days, temp_c, usage = synthetic_sites(n_sites)
    print(f"sites: {n_sites:,}; days per site: {BASELINE_DAYS} baseline + {REPORTING_DAYS}")

    with threadpool_limits(limits=1):
        numpy_fit(days, temp_c[:20], usage[:20])  # loads (or compiles) the numba code
        t_np, (models, ours) = _best_of(3, lambda: numpy_fit(days, temp_c, usage))
        t_dt, _ = _best_of(3, lambda: numpy_fit(days, temp_c, usage, "daytype"))
        logging.disable(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            eemeter_fit(days, temp_c[0], usage[0])  # warm-up: numba compiles on first use
            warm = time.perf_counter() - t0
            sample = [eemeter_fit(days, temp_c[i], usage[i]) for i in range(n_sample)]
        logging.disable(logging.NOTSET)

    phases = np.array([s[2] for s in sample])
    t_ee = phases.sum(axis=1).mean()
    rate_np, rate_ee = n_sites / t_np, 1 / t_ee
    data_ms, fit_ms, pred_ms = 1000 * phases.mean(axis=0)
    print(f"caltrack, all sites:        {t_np * 1000:9.1f} ms  {rate_np:12,.0f} sites/s")
    print(f"daytype, all sites:         {t_dt * 1000:9.1f} ms  {n_sites / t_dt:12,.0f} sites/s")
    print(
        f"eemeter per meter (n={n_sample}):  {t_ee * 1000:9.1f} ms  {rate_ee:12,.1f} sites/s"
        f"  (data {data_ms:.0f} + fit {fit_ms:.0f} + predict {pred_ms:.0f} ms;"
        f" warm-up {warm:.1f} s)"
    )
    print(f"ratio:                      {rate_np / rate_ee:9,.0f} x  (goal >= 1000 x)")
    print(f"sufficient sites:           {models.sufficient.sum():,} of {n_sites:,}")

    b = BASELINE_DAYS
    ours_baseline = predict_daily(models, temp_c[:, :b])[:n_sample]
    totals, cvs, same, tie_rmse = [], [], 0, []
    for i, (kind, predicted, _, in_sample) in enumerate(sample):
        totals.append(100 * (ours[i].sum() / predicted.sum() - 1))
        cvs.append(100 * np.sqrt(np.mean((ours[i] - predicted) ** 2)) / predicted.mean())
        if kind == MODEL_NAMES[models.model_type[i]]:
            same += 1
            continue
        # kinds differ: how much better or worse our fit is on the baseline days
        measured = np.isfinite(usage[i, :b])
        rmse_ours = np.sqrt(np.mean((usage[i, :b] - ours_baseline[i])[measured] ** 2))
        rmse_ee = np.sqrt(np.mean((usage[i, :b] - in_sample)[measured] ** 2))
        tie_rmse.append(100 * (rmse_ours / rmse_ee - 1))
    within = sum(abs(t) < 1 and cv < 3 for t, cv in zip(totals, cvs, strict=True))
    print(
        f"sample agreement:           max period-total diff {max(map(abs, totals)):.2f} %,"
        f" max daily CV(RMSE) {max(cvs):.2f} %; within 1 % / 3 %: {within}/{n_sample}"
    )
    print(
        f"same model kind:            {same}/{n_sample} ({100 * same / n_sample:.1f} %)",
        end="",
    )
    if tie_rmse:
        print(
            f"; where kinds differ, our baseline RMSE vs eemeter's {min(tie_rmse):+.2f} %"
            f" .. {max(tie_rmse):+.2f} % (lower on {sum(t < 0 for t in tie_rmse)}"
            f" of {len(tie_rmse)})"
        )
    else:
        print()


if __name__ == "__main__":
    main()
