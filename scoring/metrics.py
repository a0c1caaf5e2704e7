"""Per-site competition metrics from hourly actual and baseline energy.

Every figure is computed over the *matched* hours: elapsed hours where both the actual energy
was measured and the baseline is known. That keeps saved = baseline - actual exact and stops a
meter outage from counting as a saving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEASURED_HOUR_S = 1800.0  # an hour counts as measured when at least half of it is covered
HOURS_PER_YEAR = 8760.0


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
    kwh_per_m2_annual: np.ndarray | None = None  # [kWh/m² per year]
    saved_money: np.ndarray | None = None  # [currency]
    saved_co2_kg: np.ndarray | None = None  # [kg CO₂]


def site_metrics(
    actual_kwh: np.ndarray,
    actual_measured_s: np.ndarray,
    baseline_kwh: np.ndarray,
    baseline_ok: np.ndarray,
    elapsed: np.ndarray,
    area_m2: np.ndarray,
    target_pct: np.ndarray,
    min_completeness: float = 0.9,
    *,
    baseline_year_kwh: np.ndarray | None = None,
    price_per_kwh: float | np.ndarray | None = None,
    co2_g_per_kwh: float | np.ndarray | None = None,
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
    baseline_year_kwh : array (sites,), optional
        Each site's energy over a whole baseline year [kWh] (NaN where unknown), for the
        seasonal annualisation of kWh/m².
    price_per_kwh : float or array (sites,), optional
        Energy price [currency/kWh]; without it ``saved_money`` is NaN.
    co2_g_per_kwh : float or array (sites,), optional
        Emission factor [g CO₂/kWh]; without it ``saved_co2_kg`` is NaN.

    Returns
    -------
    SiteMetrics

    Notes
    -----
    reduction_pct = 100 * (B - A) / B over matched hours; kwh_per_m2 is the measured energy per
    measured hour scaled to all elapsed hours, divided by the area; completeness = matched
    hours / elapsed hours; target_progress = reduction_pct / target_pct.

    kwh_per_m2_annual, with A and B the actual and baseline energy over the matched hours and
    Y = ``baseline_year_kwh``: Y x (A / B) / area, i.e. the baseline year at this period's
    actual-to-baseline ratio, which weights the elapsed weeks by their share of the baseline
    year (a winter month is more than 1/12 of a Swedish town hall's year). Where Y is unknown
    or B = 0: kwh_per_m2 x 8,760 / elapsed hours, a flat year.

    saved_money = saved_kwh x price_per_kwh; saved_co2_kg = saved_kwh x co2_g_per_kwh / 1000.
    """
    totals = period_totals(actual_kwh, actual_measured_s, baseline_kwh, baseline_ok, elapsed)
    return metrics_from_totals(
        totals,
        area_m2,
        target_pct,
        min_completeness,
        baseline_year_kwh=baseline_year_kwh,
        price_per_kwh=price_per_kwh,
        co2_g_per_kwh=co2_g_per_kwh,
    )


@dataclass(frozen=True)
class PeriodTotals:
    """Running sums per site over the elapsed hours: all that the metrics need.

    Adding an hour (``add_hour``) costs one pass over the sites, which is what lets the
    leaderboard follow each new hour without going back over the period.
    """

    actual_kwh: np.ndarray  # over matched hours [kWh]
    baseline_kwh: np.ndarray  # over matched hours [kWh]
    hours_matched: np.ndarray
    measured_kwh: np.ndarray  # over measured hours [kWh]
    hours_measured: np.ndarray
    hours_elapsed: int


def period_totals(
    actual_kwh: np.ndarray,
    actual_measured_s: np.ndarray,
    baseline_kwh: np.ndarray,
    baseline_ok: np.ndarray,
    elapsed: np.ndarray,
) -> PeriodTotals:
    """Sums over the elapsed hours (arrays as for ``site_metrics``)."""
    measured = actual_measured_s >= MEASURED_HOUR_S
    measured &= elapsed
    matched = measured & baseline_ok
    return PeriodTotals(
        actual_kwh=_row_sums(actual_kwh, matched),
        baseline_kwh=_row_sums(baseline_kwh, matched),
        hours_matched=np.count_nonzero(matched, axis=1),
        measured_kwh=_row_sums(actual_kwh, measured),
        hours_measured=np.count_nonzero(measured, axis=1),
        hours_elapsed=int(np.count_nonzero(elapsed)),
    )


def _row_sums(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sum of each row over ``mask``; NaN outside the mask does not spread. Whole rows and whole
    columns that are in the mask are summed without a masked copy (the common case)."""
    full_rows = mask.all(axis=1)
    if full_rows.all():
        return values.sum(axis=1)
    return np.sum(values, axis=1, where=mask)  # no masked copy of the whole array


def add_hour(
    totals: PeriodTotals,
    actual_kwh: np.ndarray,
    actual_measured_s: np.ndarray,
    baseline_kwh: np.ndarray,
    baseline_ok: np.ndarray,
) -> PeriodTotals:
    """Totals after one more elapsed hour (arrays of one value per site)."""
    measured = actual_measured_s >= MEASURED_HOUR_S
    matched = measured & baseline_ok
    return PeriodTotals(
        actual_kwh=totals.actual_kwh + np.where(matched, actual_kwh, 0.0),
        baseline_kwh=totals.baseline_kwh + np.where(matched, np.nan_to_num(baseline_kwh), 0.0),
        hours_matched=totals.hours_matched + matched,
        measured_kwh=totals.measured_kwh + np.where(measured, actual_kwh, 0.0),
        hours_measured=totals.hours_measured + measured,
        hours_elapsed=totals.hours_elapsed + 1,
    )


def metrics_from_totals(
    totals: PeriodTotals,
    area_m2: np.ndarray,
    target_pct: np.ndarray,
    min_completeness: float = 0.9,
    *,
    baseline_year_kwh: np.ndarray | None = None,
    price_per_kwh: float | np.ndarray | None = None,
    co2_g_per_kwh: float | np.ndarray | None = None,
) -> SiteMetrics:
    """The metrics of ``site_metrics`` (see its Notes) from running totals."""
    actual, baseline = totals.actual_kwh, totals.baseline_kwh
    hours_elapsed, hours_matched = totals.hours_elapsed, totals.hours_matched
    hours_measured, measured_kwh = totals.hours_measured, totals.measured_kwh
    with np.errstate(invalid="ignore", divide="ignore"):
        reduction = np.where(baseline > 0, 100.0 * (baseline - actual) / baseline, np.nan)
        kwh_per_m2 = np.where(
            hours_measured > 0, measured_kwh / hours_measured * hours_elapsed / area_m2, np.nan
        )
        completeness = hours_matched / hours_elapsed if hours_elapsed else np.zeros(actual.size)
        progress = np.where(target_pct > 0, reduction / target_pct, np.nan)
    eligible = (completeness >= min_completeness) & (baseline > 0)
    saved = baseline - actual
    with np.errstate(invalid="ignore", divide="ignore"):
        flat_year = np.where(
            hours_elapsed > 0, kwh_per_m2 * HOURS_PER_YEAR / max(hours_elapsed, 1), np.nan
        )
        year = np.full(actual.size, np.nan) if baseline_year_kwh is None else baseline_year_kwh
        seasonal = np.asarray(year, dtype=float) * actual / baseline / area_m2
    annual = np.where(np.isfinite(seasonal) & (baseline > 0), seasonal, flat_year)
    money = saved * (np.nan if price_per_kwh is None else np.asarray(price_per_kwh, dtype=float))
    co2 = saved * (np.nan if co2_g_per_kwh is None else np.asarray(co2_g_per_kwh, dtype=float))
    return SiteMetrics(
        actual_kwh=actual,
        baseline_kwh=baseline,
        saved_kwh=saved,
        reduction_pct=reduction,
        kwh_per_m2=kwh_per_m2,
        completeness=np.asarray(completeness, dtype=float),
        hours_matched=hours_matched,
        hours_elapsed=hours_elapsed,
        target_progress=progress,
        eligible=eligible,
        kwh_per_m2_annual=annual,
        saved_money=money,
        saved_co2_kg=co2 / 1000.0,
    )
