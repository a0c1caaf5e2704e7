"""Scoring benchmark: a full rescoring of N sites next to one numpy pass over the same data.

Usage (from the repository root): python -m bench.scoring [--sites 10000]

Prints the time of the full rescoring (previous-year baseline, metrics, both leagues' ranks)
for N sites x (one baseline year + three competition months) of hourly data, the time of one
``sum()`` over the same array in the same run, and their ratio; the time of one new hour; then
the regression baselines of N sites fitted per second against eemeter's per-meter rate on a
sample (``bench.regression``: daily data of N town halls; ``--eemeter-sample 0`` skips it).
Reading from the store is not included (bench/ingest.py and bench/influx.py time that path).
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import numpy as np

from bench import regression
from scoring.baselines.previous_year import previous_year
from scoring.calendar import hour_grid, local_hours
from scoring.competition import CompetitionInfo
from scoring.metrics import add_hour, metrics_from_totals, period_totals, site_metrics
from scoring.ranking import league_ranks


def _best_of(n: int, func) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument(
        "--eemeter-sample", type=int, default=5, help="meters fitted by eemeter (0: skip)"
    )
    args = parser.parse_args()
    info = CompetitionInfo(id="bench", name="bench", start=date(2011, 3, 1), end=date(2011, 5, 31))
    tz = info.tz
    comp = local_hours(hour_grid(info.start, info.end, tz), tz)
    hist = local_hours(hour_grid(date(2010, 2, 28), date(2011, 2, 28), tz), tz)
    rng = np.random.default_rng(1)
    n = args.sites
    hist_kwh = rng.uniform(5, 50, (n, hist.hour_start_s.size))
    comp_kwh = hist_kwh[:, : comp.hour_start_s.size] * 0.93
    hist_ok = np.ones_like(hist_kwh, dtype=bool)
    measured = np.full_like(comp_kwh, 3600.0)
    elapsed = np.ones(comp.hour_start_s.size, dtype=bool)
    area = rng.uniform(1500, 12000, n)
    target = np.full(n, 10.0)
    ids = [f"site-{i:05d}" for i in range(n)]
    data = np.concatenate([hist_kwh, comp_kwh], axis=1)

    def rescore() -> None:
        base, ok = previous_year(hist_kwh, hist_ok, hist, comp)
        m = site_metrics(comp_kwh, measured, base, ok, elapsed, area, target)
        league_ranks(m.reduction_pct, m.kwh_per_m2, m.completeness, ids, m.eligible)

    base, ok = previous_year(hist_kwh, hist_ok, hist, comp)
    totals = period_totals(
        comp_kwh[:, :-1], measured[:, :-1], base[:, :-1], ok[:, :-1], elapsed[:-1]
    )

    def one_new_hour() -> None:
        t = add_hour(totals, comp_kwh[:, -1], measured[:, -1], base[:, -1], ok[:, -1])
        m = metrics_from_totals(t, area, target)
        league_ranks(m.reduction_pct, m.kwh_per_m2, m.completeness, ids, m.eligible)

    t_pass = _best_of(5, data.sum)
    t_full = _best_of(3, rescore)
    t_hour = _best_of(5, one_new_hour)
    print(f"sites: {n:,}; hours per site: {data.shape[1]:,} ({data.nbytes / 1e6:,.0f} MB float64)")
    print(f"numpy pass (sum):   {t_pass * 1000:8.1f} ms")
    print(f"full rescoring:     {t_full * 1000:8.1f} ms")
    print(f"ratio:              {t_full / t_pass:8.1f} x one numpy pass  [goal <= 5]")
    print(
        f"one new hour:       {t_hour * 1000:8.1f} ms (running totals, metrics, both leagues' "
        "ranks)  [goal < 50 ms]"
    )
    if args.eemeter_sample > 0:
        print("\nregression baselines (python -m bench.regression):")
        regression.compare(args.sites, args.eemeter_sample)


if __name__ == "__main__":
    main()
