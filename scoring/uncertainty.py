"""Savings uncertainty: ASHRAE Guideline 14 fractional savings uncertainty, per site.

A site's saving is only worth announcing when it is larger than the noise of its baseline.
Guideline 14 gives that noise at a confidence level from the baseline model's residuals. The
previous-year and pre-period baselines are not fitted regressions, so their residuals are
built here from the baseline period itself (``previous_year_residuals``,
``pre_period_residuals``); a regression baseline passes its own residuals.

All residuals are daily: a day is one point, complete when all its local hours were measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from scoring.calendar import LocalHours

FSU_CORRECTION = 1.26  # Guideline 14's empirical factor for the simplified formula
DEFAULT_CONFIDENCE = 0.90
MATCHED_DAY_LAG_DAYS = 7  # previous-year residuals: a day against the same weekday before


@dataclass(frozen=True)
class Residuals:
    """Baseline-model residuals of each site, one point per local day.

    Attributes
    ----------
    residual_kwh : array (sites, points)
        Actual minus predicted energy of each point [kWh]; NaN where there is none.
    ok : array of bool (sites, points)
        Points that have a residual.
    mean_kwh : array (sites,)
        Mean actual energy per point over the points behind the residuals [kWh]: the
        denominator of CV(RMSE).
    n_params : array of int (sites,)
        Parameters the baseline model fitted (p).
    """

    residual_kwh: np.ndarray
    ok: np.ndarray
    mean_kwh: np.ndarray
    n_params: np.ndarray


@dataclass(frozen=True)
class SavingsUncertainty:
    """Savings uncertainty of each site (arrays of one value per site).

    Attributes
    ----------
    uncertainty_kwh : array
        Half-width of the saving's confidence interval, ΔE_save [kWh].
    uncertainty_pct : array
        ΔE_save as a share of the baseline energy: the ± on ``reduction_pct``
        [percentage points].
    fsu_pct : array
        Fractional savings uncertainty ΔE_save / E_save [% of the saving]; NaN when nothing
        was saved.
    significant : array of bool
        The saving exceeds its uncertainty (E_save > ΔE_save, i.e. FSU < 100 %).
    cv_rmse : array
        Coefficient of variation of the baseline residuals [-].
    rho : array
        Lag-1 autocorrelation of the residuals, clipped to [0, 1) [-].
    n : array
        Residual points (n).
    n_effective : array
        Independent points after autocorrelation, n' = n (1 - ρ) / (1 + ρ).
    t : array
        Student's t at the confidence level with n - p degrees of freedom.
    """

    uncertainty_kwh: np.ndarray
    uncertainty_pct: np.ndarray
    fsu_pct: np.ndarray
    significant: np.ndarray
    cv_rmse: np.ndarray
    rho: np.ndarray
    n: np.ndarray
    n_effective: np.ndarray
    t: np.ndarray


def fractional_savings_uncertainty(
    cv_rmse: np.ndarray,
    rho: np.ndarray,
    n: np.ndarray,
    reporting_points: np.ndarray,
    baseline_kwh: np.ndarray,
    saved_kwh: np.ndarray,
    n_params: np.ndarray | int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    correction: float = FSU_CORRECTION,
) -> SavingsUncertainty:
    """Savings uncertainty by the ASHRAE Guideline 14 formula.

    Parameters
    ----------
    cv_rmse : array (sites,)
        CV(RMSE) of the baseline model's residuals [-].
    rho : array (sites,)
        Lag-1 autocorrelation of the residuals [-]; negative values count as 0.
    n : array (sites,)
        Baseline points behind the residuals.
    reporting_points : array (sites,)
        Reporting-period points the saving is summed over (m), in the residuals' unit of time
        (days: matched hours / 24).
    baseline_kwh, saved_kwh : array (sites,)
        Baseline energy E_baseline and saving E_save over the reporting period [kWh].
    n_params : int or array (sites,)
        Parameters of the baseline model (p).
    confidence : float
        Two-sided confidence level [0..1].
    correction : float
        Empirical factor of the formula (1.26 in Guideline 14).

    Returns
    -------
    SavingsUncertainty

    Notes
    -----
    .. math::

        \\frac{\\Delta E_{save}}{E_{save}} = \\frac{1.26\\, t\\, CV
            \\sqrt{\\frac{n}{n'} \\left(1 + \\frac{2}{n'}\\right) \\frac{1}{m}}}{F},
        \\qquad n' = n \\frac{1 - \\rho}{1 + \\rho},
        \\qquad F = \\frac{E_{save}}{E_{baseline}}

    so ΔE_save = 1.26 t CV sqrt((n/n')(1 + 2/n')(1/m)) E_baseline, which needs no division
    by F. t is Student's t at the two-sided ``confidence`` with n - p degrees of freedom. ρ is
    clipped to [0, 1): a negative autocorrelation would claim more independent points than
    there are. Where n - p < 1, n' <= 0, m <= 0 or CV is not finite the uncertainty is NaN and
    the saving is not significant.

    References
    ----------
    .. [1] ASHRAE Guideline 14-2014, Measurement of Energy, Demand, and Water Savings,
       Annex B (savings uncertainty of a baseline model with autocorrelated residuals).
    .. [2] T. A. Reddy and D. E. Claridge, "Uncertainty of 'measured' energy savings from
       statistical baseline models", HVAC&R Research 6(1), 2000.
    .. [3] CalTRACK Methods 2.0, section 4.3.2.4 (the same formula with n' in 1 + 2/n').
    """
    cv = np.asarray(cv_rmse, dtype=float)
    n = np.asarray(n, dtype=float)
    m = np.asarray(reporting_points, dtype=float)
    base = np.asarray(baseline_kwh, dtype=float)
    saved = np.asarray(saved_kwh, dtype=float)
    p = np.asarray(n_params, dtype=float)
    r = np.clip(np.nan_to_num(np.asarray(rho, dtype=float)), 0.0, 1.0 - 1e-12)
    n_eff = n * (1.0 - r) / (1.0 + r)
    df = n - p
    usable = (df >= 1) & (n_eff > 0) & (m > 0) & np.isfinite(cv) & np.isfinite(base)
    t = student_t_quantile(0.5 + confidence / 2.0, np.where(usable, df, 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt((n / n_eff) * (1.0 + 2.0 / n_eff) / m)
        uncertainty = np.where(usable, correction * t * cv * spread * np.abs(base), np.nan)
        pct = np.where(base > 0, 100.0 * uncertainty / base, np.nan)
        fsu = np.where(saved != 0, 100.0 * uncertainty / np.abs(saved), np.nan)
    return SavingsUncertainty(
        uncertainty_kwh=uncertainty,
        uncertainty_pct=pct,
        fsu_pct=fsu,
        significant=usable & (saved > uncertainty),
        cv_rmse=cv,
        rho=r,
        n=n,
        n_effective=n_eff,
        t=np.where(usable, t, np.nan),
    )


def savings_uncertainty(
    residuals: Residuals,
    reporting_points: np.ndarray,
    baseline_kwh: np.ndarray,
    saved_kwh: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    correction: float = FSU_CORRECTION,
) -> SavingsUncertainty:
    """Savings uncertainty of each site from its baseline residuals.

    Parameters
    ----------
    residuals : Residuals
        Daily baseline residuals (``previous_year_residuals``, ``pre_period_residuals`` or a
        regression's own).
    reporting_points : array (sites,)
        Reporting days the saving covers (m): matched hours / 24.
    baseline_kwh, saved_kwh : array (sites,)
        Baseline energy and saving over the matched reporting hours [kWh].
    confidence, correction : float
        See ``fractional_savings_uncertainty``.

    Returns
    -------
    SavingsUncertainty

    Notes
    -----
    CV(RMSE) and ρ come from ``residual_statistics``; the rest is
    ``fractional_savings_uncertainty``.
    """
    cv, rho, n = residual_statistics(
        residuals.residual_kwh, residuals.ok, residuals.mean_kwh, residuals.n_params
    )
    return fractional_savings_uncertainty(
        cv,
        rho,
        n,
        reporting_points,
        baseline_kwh,
        saved_kwh,
        residuals.n_params,
        confidence,
        correction,
    )


def residual_statistics(
    residual_kwh: np.ndarray,
    ok: np.ndarray,
    mean_kwh: np.ndarray,
    n_params: np.ndarray | int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CV(RMSE), lag-1 autocorrelation and count of each site's residuals.

    Parameters
    ----------
    residual_kwh : array (sites, points)
        Residuals in time order [kWh].
    ok : array of bool (sites, points)
        Points that have a residual; a gap breaks the chain of lag-1 pairs.
    mean_kwh : array (sites,)
        Mean actual energy per point [kWh].
    n_params : int or array (sites,)
        Parameters of the model (p).

    Returns
    -------
    cv_rmse : array (sites,) [-]
    rho : array (sites,) [-]
    n : array of int (sites,)

    Notes
    -----
    .. math::

        CV(RMSE) = \\frac{\\sqrt{\\sum_i r_i^2 / (n - p)}}{\\bar{y}}, \\qquad
        \\rho = \\frac{\\sum_{i} (r_i - \\bar{r})(r_{i+1} - \\bar{r})}
                     {\\sum_i (r_i - \\bar{r})^2}

    with the lag-1 sum over consecutive pairs that both have a residual.

    References
    ----------
    .. [1] ASHRAE Guideline 14-2014, Annex B.
    .. [2] NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.5.12 Autocorrelation.
    """
    r = np.where(ok, residual_kwh, 0.0)
    n = ok.sum(axis=1)
    p = np.asarray(n_params, dtype=float)
    mean_r = r.sum(axis=1) / np.maximum(n, 1)
    centred = np.where(ok, r - mean_r[:, None], 0.0)
    pairs = ok[:, 1:] & ok[:, :-1]
    lagged = np.where(pairs, centred[:, 1:] * centred[:, :-1], 0.0).sum(axis=1)
    spread = (centred**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmse = np.sqrt((r**2).sum(axis=1) / (n - p))
        cv = np.where((n - p > 0) & (np.asarray(mean_kwh) > 0), rmse / mean_kwh, np.nan)
        rho = np.where(spread > 0, lagged / spread, 0.0)
    return cv, rho, n


def daily_energy(
    kwh: np.ndarray, ok: np.ndarray, calendar: LocalHours
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy of each local day of an hour grid.

    Parameters
    ----------
    kwh : array (sites, hours)
        Hourly energy [kWh].
    ok : array of bool (sites, hours)
        Hours whose energy is known.
    calendar : LocalHours
        Calendar of the hours.

    Returns
    -------
    day_ordinal : array of int (days,)
        Every local day from the first to the last of the grid, as ``date.toordinal()``.
    day_kwh : array (sites, days)
        Energy of each day [kWh]; NaN unless every hour of the day is known.
    day_ok : array of bool (sites, days)
        Days whose hours are all known (a day absent from the grid is not).
    """
    if calendar.day_ordinal.size == 0:
        empty = np.zeros((kwh.shape[0], 0))
        return np.zeros(0, dtype=np.int64), empty, empty.astype(bool)
    first = int(calendar.day_ordinal.min())
    days = np.arange(first, int(calendar.day_ordinal.max()) + 1)
    column = calendar.day_ordinal - first
    totals = np.zeros((kwh.shape[0], days.size))
    missing = np.zeros((kwh.shape[0], days.size))
    present = np.bincount(column, minlength=days.size) > 0
    np.add.at(totals.T, column, np.where(ok, kwh, 0.0).T)
    np.add.at(missing.T, column, (~ok).astype(float).T)
    day_ok = (missing == 0) & present
    return days, np.where(day_ok, totals, np.nan), day_ok


def previous_year_residuals(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    lag_days: int = MATCHED_DAY_LAG_DAYS,
) -> Residuals:
    """Residuals of the "matched day" predictor within the baseline year.

    Parameters
    ----------
    history_kwh : array (sites, history hours)
        Hourly energy of the baseline year [kWh].
    history_ok : array of bool (sites, history hours)
        Hours whose energy was measured.
    history : LocalHours
        Calendar of the history.
    lag_days : int
        The matched day is this many days earlier (7: the same weekday a week before).

    Returns
    -------
    Residuals
        One point per history day; p = 0.

    Notes
    -----
    The previous-year baseline predicts a day by one matched day of another year, with no
    fitted parameter. Its error cannot be measured without a second baseline year, so the same
    kind of prediction is made inside the baseline year: r_d = E_d - E_(d-7), a day against
    the same weekday a week earlier, for complete, non-holiday pairs (the baseline never
    matches a holiday with an ordinary day). Each residual is the difference of two noisy days,
    as the real prediction error is (a baseline day against a competition day), and the
    one-week lag leaves out the slow seasonal drift that a year-earlier day of the same ISO
    week shares with the competition. Year-to-year changes (a new tenant, a new heat pump)
    are not in it: the uncertainty is a lower bound. CV's denominator is the mean of E_d over
    the residual days.
    """
    days, day_kwh, day_ok = daily_energy(history_kwh, history_ok, history)
    holiday_days = np.unique(history.day_ordinal[history.holiday])
    usable = day_ok & ~np.isin(days, holiday_days)
    residual = np.full(day_kwh.shape, np.nan)
    ok = np.zeros(day_kwh.shape, dtype=bool)
    if days.size > lag_days:
        ok[:, lag_days:] = usable[:, lag_days:] & usable[:, :-lag_days]
        residual[:, lag_days:] = day_kwh[:, lag_days:] - day_kwh[:, :-lag_days]
    residual = np.where(ok, residual, np.nan)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(ok, day_kwh, 0.0).sum(axis=1) / n, np.nan)
    return Residuals(
        residual_kwh=residual,
        ok=ok,
        mean_kwh=mean,
        n_params=np.zeros(day_kwh.shape[0], dtype=np.int64),
    )


def pre_period_residuals(
    history_kwh: np.ndarray, history_ok: np.ndarray, history: LocalHours
) -> Residuals:
    """In-sample residuals of the pre-period day-type model, one point per day.

    Parameters
    ----------
    history_kwh : array (sites, history hours)
        Hourly energy of the weeks before the start [kWh].
    history_ok : array of bool (sites, history hours)
        Hours whose energy was measured.
    history : LocalHours
        Calendar of the history.

    Returns
    -------
    Residuals
        One point per history day; p = the day types that have a complete day.

    Notes
    -----
    Summed over a day, the pre-period profile predicts a day by the mean of the complete days
    of its day type: Monday ... Friday working days, Saturdays, Sundays/holidays (7 types, so
    at most 7 parameters). r_d = E_d - mean(E of d's type); CV's denominator is the mean of
    the complete days.
    """
    days, day_kwh, day_ok = daily_energy(history_kwh, history_ok, history)
    n_sites = day_kwh.shape[0]
    if days.size == 0:
        return Residuals(
            residual_kwh=day_kwh,
            ok=day_ok,
            mean_kwh=np.full(n_sites, np.nan),
            n_params=np.zeros(n_sites, np.int64),
        )
    weekday = (days - 1) % 7
    holiday = np.isin(days, np.unique(history.day_ordinal[history.holiday]))
    day_type = np.where(holiday | (weekday == 6), 6, weekday)  # 0..4, 5 Saturday, 6 Sun/hol
    values = np.where(day_ok, day_kwh, 0.0)
    sums = np.stack([values[:, day_type == k].sum(axis=1) for k in range(7)], axis=1)
    counts = np.stack([day_ok[:, day_type == k].sum(axis=1) for k in range(7)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        type_mean = np.where(counts > 0, sums / counts, np.nan)
        n = day_ok.sum(axis=1)
        mean = np.where(n > 0, values.sum(axis=1) / n, np.nan)
    residual = np.where(day_ok, day_kwh - type_mean[:, day_type], np.nan)
    return Residuals(
        residual_kwh=residual, ok=day_ok, mean_kwh=mean, n_params=(counts > 0).sum(axis=1)
    )


def student_t_quantile(probability: float, df: np.ndarray) -> np.ndarray:
    """Quantile of Student's t distribution.

    Parameters
    ----------
    probability : float
        Lower-tail probability, 0.5 < probability < 1 (0.95 for a two-sided 90 % interval).
    df : array
        Degrees of freedom (> 0, need not be whole).

    Returns
    -------
    array, the shape of ``df``

    Notes
    -----
    Exact for 1 and 2 degrees of freedom; otherwise the Cornish-Fisher expansion about the
    normal quantile z (terms to 1/ν⁴). At the 0.95 quantile (two-sided 90 %) it is within
    0.05 % of the exact value from 3 degrees of freedom on, 0.13 % at the 0.975 quantile, and
    within 1e-5 from 30 degrees of freedom on.

    References
    ----------
    .. [1] M. Abramowitz and I. A. Stegun, Handbook of Mathematical Functions, 26.7.5
       (expansion) and 26.7.3-4 (one and two degrees of freedom).
    """
    nu = np.asarray(df, dtype=float)
    z = NormalDist().inv_cdf(probability)
    g1 = (z**3 + z) / 4.0
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96.0
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384.0
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160.0
    with np.errstate(invalid="ignore", divide="ignore"):
        expansion = z + g1 / nu + g2 / nu**2 + g3 / nu**3 + g4 / nu**4
    one = np.tan(np.pi * (probability - 0.5))
    two = (2 * probability - 1) / np.sqrt(2 * probability * (1 - probability))
    return np.where(nu == 1, one, np.where(nu == 2, two, expansion))
