"""Rank history: each site's reduction and rank at the end of every elapsed local day."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.metrics import MEASURED_HOUR_S
from scoring.ranking import rank_sites


@dataclass(frozen=True)
class RankHistory:
    """Arrays (days, sites) of the standings at the end of each day, and the days' ordinals."""

    day_ordinal: np.ndarray
    reduction_pct: np.ndarray
    rank: np.ndarray


def rank_history(
    actual_kwh: np.ndarray,
    actual_measured_s: np.ndarray,
    baseline_kwh: np.ndarray,
    baseline_ok: np.ndarray,
    elapsed: np.ndarray,
    day_ordinal: np.ndarray,
    area_m2: np.ndarray,
    site_ids: list[str],
    min_completeness: float = 0.9,
) -> RankHistory:
    """Standings after each complete local day, with the leaderboard's rules.

    Parameters
    ----------
    actual_kwh, actual_measured_s, baseline_kwh, baseline_ok : array (sites, hours)
        As for ``metrics.site_metrics``.
    elapsed : array of bool (hours,)
        Hours that have passed.
    day_ordinal : array (hours,)
        Local date of each hour (``date.toordinal()``).
    area_m2 : array (sites,)
        Floor area [m²], for the kWh/m² tie-break.
    site_ids : list of str
    min_completeness : float
        Share of matched hours needed to be ranked [0..1].

    Notes
    -----
    Cumulative sums over the hours give every day's totals in one pass: for day d ending at hour
    h, reduction = 100 (1 - A[h] / B[h]) with A, B the running sums over matched hours.
    """
    measured = (actual_measured_s >= MEASURED_HOUR_S) & elapsed
    matched = measured & baseline_ok
    cum_actual = np.cumsum(np.where(matched, actual_kwh, 0.0), axis=1)
    cum_base = np.cumsum(np.where(matched, np.nan_to_num(baseline_kwh), 0.0), axis=1)
    cum_matched = np.cumsum(matched, axis=1)
    cum_measured_kwh = np.cumsum(np.where(measured, actual_kwh, 0.0), axis=1)
    cum_measured = np.cumsum(measured, axis=1)
    cum_elapsed = np.cumsum(elapsed)
    # the last hour of each local day that has fully elapsed
    last_of_day = np.flatnonzero(np.r_[day_ordinal[1:] != day_ordinal[:-1], True])
    last_of_day = last_of_day[elapsed[last_of_day]]
    days = day_ordinal[last_of_day]
    reductions = np.full((days.size, len(site_ids)), np.nan)
    ranks = np.zeros((days.size, len(site_ids)), dtype=np.int64)
    for k, h in enumerate(last_of_day):
        a, b = cum_actual[:, h], cum_base[:, h]
        with np.errstate(invalid="ignore", divide="ignore"):
            reduction = np.where(b > 0, 100.0 * (b - a) / b, np.nan)
            intensity = cum_measured_kwh[:, h] / cum_measured[:, h] * cum_elapsed[h] / area_m2
        completeness = cum_matched[:, h] / cum_elapsed[h]
        eligible = (completeness >= min_completeness) & (b > 0)
        reductions[k] = reduction
        ranks[k] = rank_sites(reduction, intensity, completeness, site_ids, eligible)
    return RankHistory(day_ordinal=days, reduction_pct=reductions, rank=ranks)
