"""Per-site competition metrics from hourly actual and baseline energy.

Every figure is computed over the *matched* hours: elapsed hours where both the actual energy
was measured and the baseline is known. That keeps saved = baseline - actual exact and stops a
meter outage from counting as a saving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEASURED_HOUR_S = 1800.0  # an hour counts as measured when at least half of it is covered


@dataclass(frozen=True)
class SiteMetrics:
    """Arrays of one value per site."""

    actual_kwh: np.ndarray
    baseline_kwh: np.ndarray
    saved_kwh: np.ndarray
    reduction_pct: np.ndarray
    kwh_per_m2: np.ndarray
    completeness: np.ndarray
    hours_matched: np.ndarray
    hours_elapsed: int
    target_progress: np.ndarray
    eligible: np.ndarray


def site_metrics(
    actual_kwh: np.ndarray,
    actual_measured_s: np.ndarray,
    baseline_kwh: np.ndarray,
    baseline_ok: np.ndarray,
    elapsed: np.ndarray,
    area_m2: np.ndarray,
    target_pct: np.ndarray,
    min_completeness: float = 0.9,
) -> SiteMetrics:
    """Actual, baseline and saved energy, reduction, intensity and completeness per site.

    Parameters
    ----------
    actual_kwh, actual_measured_s : array (sites, hours)
        Hourly energy [kWh] and the seconds of each hour that were measured [s].
    baseline_kwh, baseline_ok : array (sites, hours)
        Hourly baseline [kWh] and where it is known.
    elapsed : array of bool (hours,)
        Hours of the competition that have passed.
    area_m2 : array (sites,)
        Heated floor area [m²].
    target_pct : array (sites,)
        Reduction target [%].
    min_completeness : float
        Share of matched hours a site needs to be ranked [0..1].

    Returns
    -------
    SiteMetrics

    Notes
    -----
    reduction_pct = 100 * (B - A) / B over matched hours; kwh_per_m2 is the measured energy per
    measured hour scaled to all elapsed hours, divided by the area; completeness = matched
    hours / elapsed hours; target_progress = reduction_pct / target_pct.
    """
    measured = (actual_measured_s >= MEASURED_HOUR_S) & elapsed
    matched = measured & baseline_ok
    actual = np.where(matched, actual_kwh, 0.0).sum(axis=1)
    baseline = np.where(matched, np.nan_to_num(baseline_kwh), 0.0).sum(axis=1)
    hours_elapsed = int(np.count_nonzero(elapsed))
    hours_matched = matched.sum(axis=1)
    hours_measured = measured.sum(axis=1)
    measured_kwh = np.where(measured, actual_kwh, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        reduction = np.where(baseline > 0, 100.0 * (baseline - actual) / baseline, np.nan)
        kwh_per_m2 = np.where(
            hours_measured > 0, measured_kwh / hours_measured * hours_elapsed / area_m2, np.nan
        )
        completeness = hours_matched / hours_elapsed if hours_elapsed else np.zeros(actual.size)
        progress = np.where(target_pct > 0, reduction / target_pct, np.nan)
    eligible = (completeness >= min_completeness) & (baseline > 0)
    return SiteMetrics(
        actual_kwh=actual,
        baseline_kwh=baseline,
        saved_kwh=baseline - actual,
        reduction_pct=reduction,
        kwh_per_m2=kwh_per_m2,
        completeness=np.asarray(completeness, dtype=float),
        hours_matched=hours_matched,
        hours_elapsed=hours_elapsed,
        target_progress=progress,
        eligible=eligible,
    )
