"""Regression baselines: daily energy against outdoor temperature, fitted for all sites at once.

Two methods share one model form, ``E = a + b_h * HDD(T_h) + b_c * CDD(T_c)`` in kWh per day,
with degree days from the daily mean temperature:

- ``"caltrack"``: the CalTRACK daily method as implemented by eemeter 4.1.1
  ``DailyModel(model="legacy")``, reproduced so as to choose the same model and predict the
  same daily energy. eemeter 4.1.1 no longer fits CalTRACK 2.0's p-value / adjusted-R²
  candidate grid; it fits the change-point model with optimisers (DIRECT, then Subplex), and so
  does this module (see ``fit_daily``, Notes), compiled one site per thread: DIRECT in
  ``scoring.caltrack_direct``, Subplex in ``scoring.caltrack_initial_fit``, on the tables of
  ``scoring.daily_tables``; the chunks of sites pass through NumPy between the steps.
- ``"daytype"``: CalTRACK 2.0's balance-point grid with significance-tested slopes and selection
  by adjusted R², plus one intercept per day type (working day, Saturday, Sunday or holiday).
  Town halls use about half as much at weekends; the CalTRACK model ignores that.

``fit_daily`` fits, ``predict_daily`` predicts daily energy, ``daily_residuals`` feeds
``scoring.uncertainty``, and ``regression`` turns the daily prediction into an hourly baseline
on a ``LocalHours`` grid (same return convention as ``scoring.baseline``). Temperatures cross
the interface in °C; the fit runs in °F because eemeter's segment rules and penalties are
defined there.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import stdtrit

from scoring.calendar import LocalHours
from scoring.caltrack_direct import direct_points
from scoring.caltrack_initial_fit import (
    FIVE,
    ONE_SLOPE,
    initial_guesses,
    order_of_magnitude,
    single_slope_starts,
    subplex_fits,
)
from scoring.daily_tables import date_order, temperature_tables
from scoring.uncertainty import Residuals

METHODS = ("caltrack", "daytype")

# Model kinds (index into MODEL_NAMES; names as eemeter reports them).
INTERCEPT_ONLY, HDD_ONLY, CDD_ONLY, HDD_CDD = 0, 1, 2, 3
MODEL_NAMES = ("tidd", "hdd_tidd", "tidd_cdd", "hdd_tidd_cdd")

# Data-sufficiency reasons (bit flags in DailyModels.reasons).
NO_DATA = 1  # no day with both energy and temperature
BASELINE_LENGTH = 2  # first to last valid day outside 329..365 days
MISSING_DAYS = 4  # < 90 % of the span has both energy and temperature
MISSING_METER_DAYS = 8  # < 90 % of the span has energy
MISSING_TEMPERATURE_DAYS = 16  # < 90 % of the span has temperature
MISSING_MONTHLY_TEMPERATURE = 32  # a calendar month with < 90 % of its days' temperature
HIGH_CVRMSE = 64  # fit CV(RMSE) above 1
TOO_FEW_DAYS = 128  # under MIN_FIT_DAYS days to fit at all
REASON_NAMES = {
    NO_DATA: "no_data",
    BASELINE_LENGTH: "incorrect_number_of_total_days",
    MISSING_DAYS: "too_many_days_with_missing_data",
    MISSING_METER_DAYS: "too_many_days_with_missing_meter_data",
    MISSING_TEMPERATURE_DAYS: "too_many_days_with_missing_temperature_data",
    MISSING_MONTHLY_TEMPERATURE: "missing_monthly_temperature_data",
    HIGH_CVRMSE: "cvrmse",
    TOO_FEW_DAYS: "too_few_days_to_fit",
}

MAX_BASELINE_DAYS = 365
MIN_BASELINE_DAYS = 329  # ceil(0.9 * 365)
MIN_COVERAGE = 0.9
MAX_CVRMSE = 1.0
MIN_FIT_DAYS = 30
MIN_DAY_COVERAGE = 0.5  # hourly -> daily: a day counts above half its hours, scaled up
MIN_TEMP_C, MAX_TEMP_C = -90.0, 60.0  # plausible daily means; anything else is a unit error

# eemeter 4.1.1 DailyLegacySettings
_SEGMENT_MIN_DAYS = 10  # segment_minimum_count
_MAX_SLOPE_OOM = 2.0  # maximum_slope_oom_scalar: initial-fit slopes up to (1 + 2)x the guess
_SUBPLEX_STEP = 0.1  # initial_step_percentage
_SUBPLEX_MAXEVAL = 1999  # iteration maximum 2000, minus one
_SUBPLEX_TOL = 1e-5  # x_tol_rel and f_tol_rel

# CalTRACK 2.0 candidate rules (daytype method)
_GRID_F = np.arange(30.0, 91.0)  # balance points [°F]
_MIN_NONZERO_DD_DAYS = 10
_MIN_TOTAL_DD = 20.0  # [°F-day]
_MAX_P_VALUE = 0.1

# most sites fitted together (memory); caltrack's DIRECT runs many small numpy steps per chunk,
# so its chunks are as large as memory allows
_CHUNK_SITES = {"caltrack": 2500, "daytype": 1024}


@dataclass(frozen=True)
class DailyModels:
    """Fitted daily models of S sites (arrays of length S unless noted).

    Attributes
    ----------
    method : str
        ``"caltrack"`` or ``"daytype"``.
    model_type : array of int
        Index into ``MODEL_NAMES``; -1 where nothing could be fitted.
    intercept_kwh : array
        Base load on a working day [kWh/day].
    day_type_kwh : array (S, 3)
        Added to the intercept by day type 0 working day, 1 Saturday, 2 Sunday or holiday
        [kWh/day]; zeros for ``"caltrack"``.
    heating_balance_c, cooling_balance_c : array
        Balance points [°C]; NaN where the model has no such term.
    heating_kwh_per_degc_day, cooling_kwh_per_degc_day : array
        Slopes [kWh/(°C·day)]; 0 where the model has no such term.
    r_squared_adj : array
        Adjusted R² of the final fit.
    cvrmse : array
        CV(RMSE) of the fit that decides the model kind (eemeter's disqualification metric).
    n_days : array of int
        Baseline days with both energy and temperature.
    sufficient : array of bool
        True where no data-sufficiency rule failed.
    reasons : array of int
        Bit flags of the failed rules (``REASON_NAMES``).
    """

    method: str
    model_type: np.ndarray
    intercept_kwh: np.ndarray
    day_type_kwh: np.ndarray
    heating_balance_c: np.ndarray
    heating_kwh_per_degc_day: np.ndarray
    cooling_balance_c: np.ndarray
    cooling_kwh_per_degc_day: np.ndarray
    r_squared_adj: np.ndarray
    cvrmse: np.ndarray
    n_days: np.ndarray
    sufficient: np.ndarray
    reasons: np.ndarray

    def reason_names(self, site: int) -> list[str]:
        """Names of the failed sufficiency rules of one site."""
        return rule_names(int(self.reasons[site]), REASON_NAMES)


def rule_names(reasons: int, names: dict[int, str]) -> list[str]:
    """The names (``names``: bit -> name) of the rules whose bits are set in ``reasons``."""
    return [name for bit, name in names.items() if reasons & bit]


def fit_daily(
    usage_kwh: np.ndarray,
    temp_c: np.ndarray,
    day_ordinal: np.ndarray,
    valid: np.ndarray | None = None,
    day_type: np.ndarray | None = None,
    method: str = "caltrack",
) -> DailyModels:
    """Fit a daily temperature regression to the baseline of every site.

    Parameters
    ----------
    usage_kwh : array (S, D)
        Daily energy of each site over the baseline days [kWh/day]. Zero counts as missing, as
        in eemeter for electricity.
    temp_c : array (S, D) or (D,)
        Daily mean outdoor temperature [°C]; NaN where unknown.
    day_ordinal : array of int (D,)
        Local date of each column (``date.toordinal()``), in date order.
    valid : array of bool (S, D), optional
        Days whose energy was measured; default: finite ``usage_kwh``.
    day_type : array of int (D,), optional
        0 working day, 1 Saturday, 2 Sunday or holiday (``LocalHours.day_type``); required for
        ``method="daytype"``.
    method : {"caltrack", "daytype"}

    Returns
    -------
    DailyModels

    Notes
    -----
    Temperatures are converted to °F, ``T = T_c · 9/5 + 32``, and the model is

    .. math:: E = a + \\beta_h \\max(T_h - T, 0) + \\beta_c \\max(T - T_c, 0),
              \\quad \\beta_h, \\beta_c \\ge 0,\\ T_h \\le T_c

    ``"caltrack"`` follows eemeter 4.1.1 ``DailyModel(model="legacy")`` [2]_, whose
    settings keep one model for the whole year (no season or weekday splits), no smoothing and
    a plain squared loss. With T₍k₎ the k-th lowest baseline temperature of N days:

    1. Initial guess [3]_: DIRECT (nlopt ``GN_DIRECT``: Jones diameter, at most 199
       evaluations, stop when an iteration improves by less than half, or all divided
       rectangles are under 1e-3 of the range) over both balance points in [T₍₁₀₎,
       T₍N-9₎]. At each point the intercept is the mean energy of the days between the balance
       points (else of the 19 days around them, else the 20 % quantile) and each slope
       fitted through that intercept by Brent's method to 10 %, as eemeter fits it, set to 0
       if its sign is wrong; loss = SSE after moving the mean residual into the intercept,
       plus ``0.001 · Σ (distance to the nearer end of the range + half the gap) ·
       RMSE/range``. The sums come from prefix sums (equal to eemeter's up to rounding), so
       eemeter's own points come out but for ties to about 1e-12.
    2. Initial fit, as eemeter does it: nlopt Subplex over all five parameters from eemeter's
       start (the DIRECT point, each slope by Brent's method to 10 % through the intercept,
       the mean residual moved into the intercept), balance points in [T_min, T_max], both
       slopes in [0, 3 · the larger initial slope] (or [0, 10] if both are 0), the intercept
       within the 1-99 % quantiles of the energy; initial steps 10 % of each range,
       tolerances 1e-5, at most 1,999 evaluations; loss = SSE / N plus eemeter's elastic-net
       term ``0.001 · (β σ_T/σ_E of each slope's days + the balance-point term of step 1)``
       (a slope whose segment has under 10 days: 1e30 times that). A balance point at the
       end of the range drops its slope; the remaining slopes give the model kind.
    3. Final fit of that kind, eemeter's Subplex again on SSE / N alone (no penalty), each
       coefficient within ± 10^log10|x| of step 2 (so a slope within [0, about twice]),
       balance points within [T₍₁₁₎, T₍N-9₎], the intercept within the 1-99 % quantiles.
       One slope: eemeter first refits the slope by Brent's method over the days beyond the
       balance point (in date order); a balance point at (or within 1e-5 of) the end of the
       range makes a straight line over all days, its balance point fixed at T_max (heating)
       or T_min (cooling) and stored at the range's end. A slope the fit leaves at exactly 0
       drops its term; the intercept alone is the mean energy.

    The model kind decides the baseline's shape, and eemeter reads it off where its searches
    stop: on a flat loss surface that is short of the minimum, keeping a near-zero slope
    (seen: 0.0005-0.4 kWh/(°F·day)) or never raising one. Steps 2 and 3 therefore do
    eemeter's arithmetic to the last bit (``scoring.caltrack_initial_fit``: its loss, summed
    day by day as numpy sums; its start; nlopt's Subplex step for step), compiled and one
    site per thread: on eemeter's own runs they evaluate the same points, with the same
    values, and end at the same parameters (tests). Measured against eemeter 4.1.1 on
    ``bench.regression``'s synthetic town halls: the same model kind on all of the first 300
    meters of ``--sites 10000`` (period totals and daily CV(RMSE) within 0.01 %) and on all
    of the first 400 of two draws of 1,000 (all within 1 % and 3 %). (Before step 1 rated
    its points with eemeter's Brent slopes it used exact least squares and chose another
    point, and often another kind, on about 1 % of meters; a stand-in for step 2, a compass
    search with eemeter's Subplex emulated on 15 % of sites, agreed on 86 %.)

    ``"daytype"`` fits ``E = a_k + β_h HDD + β_c CDD`` with one intercept per day type k by
    ordinary least squares over CalTRACK 2.0's grid [1]_ (balance points 30-90 °F in 1 °F
    steps, T_h ≤ T_c). A slope qualifies when it is positive, its two-sided p-value (Student t)
    is below 0.1 and its degree days are non-zero on at least 10 days and total at least
    20 °F-days; the qualifying candidate (or the intercepts alone) with the highest adjusted R²
    wins. A day type absent from the baseline takes the other weekend type's intercept, else
    the working day's.

    Data sufficiency (both methods, eemeter 4.1.1): the span from the first to the last day
    with energy and temperature must be 329-365 days; energy, temperature and both must be
    present on at least 90 % of the span's days; every calendar month needs temperature on at
    least 90 % of its days; the CV(RMSE) of the fit that chose the model must not exceed 1.
    A 366-day (leap) baseline therefore fails, as in eemeter.

    References
    ----------
    .. [1] CalTRACK Technical Appendix, daily and billing methods (CalTRACK 2.0),
       https://docs.caltrack.org
    .. [2] OpenEEmeter eemeter 4.1.1, ``eemeter.eemeter.models.daily``,
       https://github.com/openeemeter/eemeter
    .. [3] D. R. Jones, C. D. Perttunen, B. E. Stuckman, "Lipschitzian optimization without
       the Lipschitz constant", J. Optim. Theory Appl. 79 (1993) 157-181.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    usage = np.asarray(usage_kwh, dtype=float)
    if usage.ndim != 2:
        raise ValueError(f"usage_kwh must be sites x days, got shape {usage.shape}")
    n_sites, n_days = usage.shape
    temp = np.asarray(temp_c, dtype=float)
    if temp.shape not in ((n_days,), usage.shape):
        raise ValueError(
            f"temp_c must have shape ({n_days},) or {usage.shape} like usage_kwh, got {temp.shape}"
        )
    temp = np.broadcast_to(temp, usage.shape)
    outside = np.isfinite(temp) & ((temp < MIN_TEMP_C) | (temp > MAX_TEMP_C))
    if outside.any():
        raise ValueError(
            f"temp_c must be daily means in °C within {MIN_TEMP_C}..{MAX_TEMP_C}, got "
            f"{temp[outside].flat[0]!r}; convert °F with (F - 32) * 5 / 9, K with K - 273.15"
        )
    days = np.asarray(day_ordinal, dtype=np.int64)
    if days.shape != (n_days,):
        raise ValueError(f"day_ordinal must have {n_days} entries, got shape {days.shape}")
    if method == "daytype":
        if day_type is None:
            raise ValueError('method="daytype" needs day_type (LocalHours.day_type per day)')
        day_type = np.asarray(day_type, dtype=np.int64)
        if day_type.shape != (n_days,):
            raise ValueError(f"day_type must have {n_days} entries, got shape {day_type.shape}")
    ok_usage = np.isfinite(usage) & (usage != 0)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != usage.shape:
            raise ValueError(f"valid must have shape {usage.shape}, got {valid.shape}")
        ok_usage &= valid
    ok_temp = np.isfinite(temp)
    reasons = _sufficiency(ok_usage, ok_temp, days)

    out = _empty_models(n_sites)
    temp_f = temp * 9 / 5 + 32
    ok = ok_usage & ok_temp
    counts = ok.sum(axis=1)
    reasons |= np.where(counts < MIN_FIT_DAYS, TOO_FEW_DAYS, 0)
    fit_sites = np.flatnonzero(counts >= MIN_FIT_DAYS)
    chunk = _CHUNK_SITES[method]
    for start in range(0, fit_sites.size, chunk):
        sites = fit_sites[start : start + chunk]
        if method == "caltrack":
            params = _fit_caltrack(_Sorted(temp_f[sites], usage[sites], ok[sites]))
        else:
            params = _fit_daytype(temp_f[sites], usage[sites], ok[sites], day_type)
        for name, value in params.items():
            out[name][sites] = value
    out["n_days"] = counts
    reasons |= np.where(out["cvrmse"] > MAX_CVRMSE, HIGH_CVRMSE, 0)
    out["reasons"] = reasons
    out["sufficient"] = reasons == 0
    return DailyModels(method=method, **out)


def predict_daily(
    models: DailyModels, temp_c: np.ndarray, day_type: np.ndarray | None = None
) -> np.ndarray:
    """Daily energy predicted by fitted models.

    Parameters
    ----------
    models : DailyModels
    temp_c : array (S, D') or (D',)
        Daily mean outdoor temperature [°C].
    day_type : array of int (D',), optional
        Day types (needed for ``"daytype"`` models; 0 assumed otherwise).

    Returns
    -------
    array (S, D')
        Predicted energy [kWh/day]; NaN where the temperature is unknown or no model was fitted.

    Notes
    -----
    .. math:: E = a + a_k + \\beta_h \\max(T_h - T, 0) + \\beta_c \\max(T - T_c, 0)
    """
    n_sites = models.model_type.size
    temp = np.asarray(temp_c, dtype=float)
    if temp.ndim == 1:
        temp = np.broadcast_to(temp, (n_sites, temp.size))
    if temp.ndim != 2 or temp.shape[0] != n_sites:
        raise ValueError(f"temp_c must be (days,) or ({n_sites}, days), got {temp.shape}")
    day_type = np.zeros(temp.shape[1], dtype=np.int64) if day_type is None else day_type
    day_type = np.asarray(day_type, dtype=np.int64)
    if day_type.shape != temp.shape[1:]:
        raise ValueError(f"day_type must have {temp.shape[1]} entries, got {day_type.shape}")
    energy = models.intercept_kwh[:, None] + models.day_type_kwh[:, day_type]
    for balance, slope, sign in (
        (models.heating_balance_c, models.heating_kwh_per_degc_day, 1.0),
        (models.cooling_balance_c, models.cooling_kwh_per_degc_day, -1.0),
    ):
        has = np.isfinite(balance)[:, None]
        degree_days = np.maximum(sign * (np.nan_to_num(balance)[:, None] - temp), 0.0)
        energy = energy + np.where(has, slope[:, None] * degree_days, 0.0)
    fitted = (models.model_type >= 0)[:, None]
    return np.where(np.isfinite(temp) & fitted, energy, np.nan)


def daily_residuals(
    models: DailyModels,
    usage_kwh: np.ndarray,
    temp_c: np.ndarray,
    valid: np.ndarray | None = None,
    day_type: np.ndarray | None = None,
) -> Residuals:
    """In-sample residuals of fitted models on their baseline days, for savings uncertainty.

    Parameters
    ----------
    models : DailyModels
    usage_kwh : array (S, D)
        The daily energy the models were fitted on [kWh/day].
    temp_c : array (S, D) or (D,)
        The baseline's daily mean temperatures [°C].
    valid : array of bool (S, D), optional
        As passed to ``fit_daily``.
    day_type : array of int (D,), optional
        As passed to ``fit_daily``.

    Returns
    -------
    Residuals
        One point per baseline day with energy and temperature; ``scoring.uncertainty``.

    Notes
    -----
    r_d = E_d - Ê_d. The parameter count p is the distinct intercepts plus, per temperature
    term, its slope and its balance point (both are fitted).
    """
    usage = np.asarray(usage_kwh, dtype=float)
    predicted = predict_daily(models, temp_c, day_type)
    ok = np.isfinite(usage) & (usage != 0) & np.isfinite(predicted)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    residual = np.where(ok, usage - predicted, np.nan)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(ok, usage, 0.0).sum(axis=1) / n, np.nan)
    off = models.day_type_kwh
    intercepts = 1 + (off[:, 1] != 0) + ((off[:, 2] != 0) & (off[:, 2] != off[:, 1]))
    terms = np.isfinite(models.heating_balance_c).astype(int) + np.isfinite(
        models.cooling_balance_c
    )
    return Residuals(residual, ok, mean, (intercepts + 2 * terms).astype(np.int64))


def regression(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    target: LocalHours,
    history_temp_c: np.ndarray,
    target_temp_c: np.ndarray,
    method: str = "caltrack",
    require_sufficient: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly baseline from a daily temperature regression fitted on the history.

    Parameters
    ----------
    history_kwh : array (sites, history hours)
        Hourly energy of the baseline period [kWh].
    history_ok : array of bool (sites, history hours)
        Hours whose energy was measured.
    history, target : LocalHours
        Calendars of the baseline period and the competition grid.
    history_temp_c : array (sites, history days) or (history days,)
        Daily mean temperature of each local day of ``history`` in date order [°C].
    target_temp_c : array (sites, target days) or (target days,)
        Daily mean temperature of each local day of ``target`` in date order [°C].
    method : {"caltrack", "daytype"}
    require_sufficient : bool
        If True, sites failing a data-sufficiency rule get no baseline.

    Returns
    -------
    baseline_kwh : array (sites, target hours) [kWh]
    baseline_ok : array of bool (sites, target hours)

    Notes
    -----
    A history day counts when over half of its hours were measured; its energy is the measured
    sum divided by that fraction (eemeter's hourly-to-daily rule). Each predicted day is spread
    over its hours by the site's own load shape: the mean share ``s`` of each local hour in the
    day's energy over fully measured 24-hour history days of the same day type k,

    .. math:: E_{d,h} = E_d \\, s_{k(d),h}, \\quad \\sum_{h=0}^{23} s_{k,h} = 1

    On the day the clocks skip an hour, that hour's share is missing from the day; the repeated
    autumn hour gets its share twice, as the meter measures it twice. Without a full day of
    the type the shape of all day types is used, and without any full day a flat shape.
    """
    if np.any(np.diff(target.day_ordinal) < 0):
        raise ValueError("history and target hours must be in time order (use hour_grid)")
    fit = fit_history(history_kwh, history_ok, history, history_temp_c, method)
    return predict_hours(fit, target, target_temp_c, require_sufficient)


@dataclass(frozen=True)
class HistoryFit:
    """Daily models fitted on a history, with what predicting and residuals need."""

    models: DailyModels | None  # None for an empty history
    daily_kwh: np.ndarray  # (sites, history days): the energy the models were fitted on
    temp_c: np.ndarray  # the history's daily mean temperatures, as passed in
    day_type: np.ndarray  # (history days,)
    hour_shares: np.ndarray  # (sites, 3, 24): each day type's load shape

    def residuals(self) -> Residuals:
        """In-sample daily residuals (``daily_residuals``) for savings uncertainty."""
        return daily_residuals(self.models, self.daily_kwh, self.temp_c, None, self.day_type)


def fit_history(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    history_temp_c: np.ndarray,
    method: str = "caltrack",
) -> HistoryFit:
    """The first half of ``regression``: daily energy of the history (its Notes), the fitted
    models and each site's day-type load shape. Depends on the history only, so a caller that
    predicts again and again (a scoreboard on every new hour) fits once."""
    if np.any(np.diff(history.day_ordinal) < 0):
        raise ValueError("history and target hours must be in time order (use hour_grid)")
    history_kwh = np.asarray(history_kwh, dtype=float)
    if history_kwh.shape[1] == 0:
        n_sites = history_kwh.shape[0]
        return HistoryFit(None, np.zeros((n_sites, 0)), np.zeros(0), np.zeros(0, int), None)
    hist_days, hist_start = np.unique(history.day_ordinal, return_index=True)
    measured = np.where(history_ok, history_kwh, 0.0)
    day_sum = _per_day_sum(measured, hist_start)
    day_hours = _per_day_sum(np.asarray(history_ok, dtype=bool).view(np.int8), hist_start)
    hours_in_day = np.diff(np.r_[hist_start, history.day_ordinal.size])
    coverage = day_hours / hours_in_day
    with np.errstate(invalid="ignore", divide="ignore"):
        daily_kwh = np.where(coverage > MIN_DAY_COVERAGE, day_sum / coverage, np.nan)
    hist_day_type = history.day_type[hist_start]
    models = fit_daily(daily_kwh, history_temp_c, hist_days, None, hist_day_type, method)
    complete = (day_hours == 24) & (hours_in_day == 24)  # fully measured 24-hour days
    shares = _hour_shares(measured, complete, hist_start, hist_day_type)
    return HistoryFit(models, daily_kwh, history_temp_c, hist_day_type, shares)


def predict_hours(
    fit: HistoryFit,
    target: LocalHours,
    target_temp_c: np.ndarray,
    require_sufficient: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The second half of ``regression``: each target day predicted from its temperature and
    spread over its hours by the site's load shape."""
    if fit.models is None:
        shape = (fit.daily_kwh.shape[0], target.hour.size)
        return np.full(shape, np.nan), np.zeros(shape, dtype=bool)
    _, tgt_start, tgt_index = np.unique(target.day_ordinal, return_index=True, return_inverse=True)
    tgt_day_type = target.day_type[tgt_start]
    daily_pred = predict_daily(fit.models, target_temp_c, tgt_day_type)
    share = fit.hour_shares[:, tgt_day_type[tgt_index], target.hour]
    baseline = daily_pred[:, tgt_index] * share
    ok = np.isfinite(baseline)
    if require_sufficient:
        ok &= fit.models.sufficient[:, None]
    return np.where(ok, baseline, np.nan), ok


# --- data preparation --------------------------------------------------------------------------


def _empty_models(n_sites: int) -> dict[str, np.ndarray]:
    nan = np.full(n_sites, np.nan)
    return {
        "model_type": np.full(n_sites, -1, dtype=np.int64),
        "intercept_kwh": nan.copy(),
        "day_type_kwh": np.zeros((n_sites, 3)),
        "heating_balance_c": nan.copy(),
        "heating_kwh_per_degc_day": np.zeros(n_sites),
        "cooling_balance_c": nan.copy(),
        "cooling_kwh_per_degc_day": np.zeros(n_sites),
        "r_squared_adj": nan.copy(),
        "cvrmse": nan.copy(),
    }


def _sufficiency(ok_usage: np.ndarray, ok_temp: np.ndarray, days: np.ndarray) -> np.ndarray:
    """eemeter 4.1.1 DailySufficiencyCriteria.check_sufficiency_baseline as bit flags."""
    ok = ok_usage & ok_temp
    any_ok = ok.any(axis=1)
    first = np.argmax(ok, axis=1)
    last = ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    span = np.where(any_ok, days[last] - days[first] + 1, 0)
    reasons = np.where(any_ok, 0, NO_DATA)
    reasons |= np.where((span > MAX_BASELINE_DAYS) | (span < MIN_BASELINE_DAYS), BASELINE_LENGTH, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        for count, bit in (
            (ok.sum(axis=1), MISSING_DAYS),
            (ok_usage.sum(axis=1), MISSING_METER_DAYS),
            (ok_temp.sum(axis=1), MISSING_TEMPERATURE_DAYS),
        ):
            frac = np.where(span > 0, count / np.maximum(span, 1), 0.0)
            reasons |= np.where(frac < MIN_COVERAGE, bit, 0)
    months = _months_of(days)
    present, month_of_day = np.unique(months, return_inverse=True)
    one_hot = (month_of_day[:, None] == np.arange(present.size)[None, :]).astype(float)
    per_month = ok_temp.astype(float) @ one_hot
    days_per_month = np.bincount(month_of_day, minlength=present.size)
    monthly = per_month / days_per_month
    reasons |= np.where((monthly < MIN_COVERAGE).any(axis=1), MISSING_MONTHLY_TEMPERATURE, 0)
    return reasons


def _months_of(days: np.ndarray) -> np.ndarray:
    """Calendar month (1-12) of each date ordinal."""
    epoch = np.datetime64("1970-01-01", "D")
    dates = epoch + (days - 719163).astype("timedelta64[D]")  # date(1970, 1, 1).toordinal()
    return dates.astype("datetime64[M]").astype(np.int64) % 12 + 1


def _per_day_sum(hourly: np.ndarray, day_start: np.ndarray) -> np.ndarray:
    """Sum of each local day's hours (hours in time order, days starting at day_start)."""
    return np.add.reduceat(hourly, day_start, axis=1).astype(float)


def _hour_shares(
    measured: np.ndarray,
    complete: np.ndarray,
    day_start: np.ndarray,
    day_type: np.ndarray,
) -> np.ndarray:
    """Share of each local hour in the day's energy, by day type: (sites, 3, 24).

    Built from complete 24-hour days only; a day type without one uses all day types, a site
    without any complete day a flat shape.
    """
    n_sites = measured.shape[0]
    hours = np.diff(np.r_[day_start, measured.shape[1]])
    days24 = np.flatnonzero(hours == 24)
    # (sites, days, 24): the hours of each 24-hour day are consecutive, 00:00 first
    index = (day_start[days24][:, None] + np.arange(24)[None, :]).ravel()
    by_day = np.take(measured, index, axis=1).reshape(n_sites, days24.size, 24)
    weight = complete[:, days24, None] * (day_type[days24, None] == np.arange(3))[None, :, :]
    sums = np.matmul(by_day.transpose(0, 2, 1), weight).transpose(0, 2, 1)  # (sites, 3, 24)
    totals = sums.sum(axis=2, keepdims=True)
    all_types = sums.sum(axis=1, keepdims=True)
    all_total = all_types.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        own = sums / totals
        fallback = np.where(all_total > 0, all_types / all_total, 1 / 24)
    return np.where(totals > 0, own, fallback).reshape(n_sites, 3, 24)


def _sort_days(t_date: np.ndarray, y_date: np.ndarray, n: np.ndarray):
    """The order of each site's n valid days (``date_order``) by temperature, as eemeter
    sorts them, and their energy sorted by value (NaN, no day, last).

    eemeter sorts with np.argsort (introsort) of the site's days in date order; days of equal
    temperature keep the order it gives them, so each site is sorted alone (sites with as
    many days together: NumPy sorts each row on its own). NumPy releases the GIL while it
    sorts, so the blocks are sorted on as many threads as numba uses.
    """
    width = t_date.shape[1]
    order = np.zeros(t_date.shape, dtype=np.int64)
    y_by_value = np.empty_like(y_date)
    threads = numba.get_num_threads()
    blocks = [
        (m, part)
        for m in np.unique(n).tolist()
        for part in np.array_split(np.flatnonzero(n == m), threads)
        if part.size
    ]

    def sort(block):
        m, rows = block
        order[rows, :m] = np.argsort(t_date[rows, :m], axis=1)
        order[rows, m:] = np.arange(m, width)

    def sort_energy(rows):
        y_by_value[rows] = np.sort(y_date[rows], axis=1)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(sort, blocks))
        list(pool.map(sort_energy, np.array_split(np.arange(n.size), threads)))
    return order, y_by_value


class _Sorted:
    """Each site's valid days in date order and sorted by temperature (°F and kWh), with
    what the fits look up: energy totals and quantiles, the balance-point ranges and a table
    for counting the days below a temperature (``count``)."""

    _GRID = 1024  # bins over each site's temperature range for ``count``

    def __init__(self, temp_f: np.ndarray, usage: np.ndarray, ok: np.ndarray):
        n = ok.sum(axis=1)
        width = int(n.max())
        t_date, y_date, column = date_order(temp_f, usage, ok)
        self.t_date, self.y_date = t_date[:, :width], y_date[:, :width]
        order, y_by_value = _sort_days(self.t_date, self.y_date, n)
        t, y, sums, bins, most, q = temperature_tables(
            self.t_date, self.y_date, order, n, y_by_value, self._GRID, np.array([0.01, 0.99])
        )
        self.n_sites, self.width = t.shape
        self.n = n
        rows = np.arange(self.n_sites)
        self._column, self._sorted_at = column[:, :width], order
        self.t, self.y, self.real = t, y, np.isfinite(t)
        self._quantiles = q
        # count(): the table of the days below each of _GRID bins, then a step over the few
        # days in the query's bin (exact comparisons, as eemeter's T < x)
        self._tflat = t.ravel()
        self._g_lo = t[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            self._g_inv = self._GRID / (t[rows, n - 1] - t[:, 0])
        self._g_inv = np.where(np.isfinite(self._g_inv), self._g_inv, 0.0)
        self._g_start = bins.ravel()  # row * (g + 2) + k: days in bins below k
        self._g_steps = int(most.max(initial=0)) + 1
        self.y_sum, self.y2_sum = sums  # energy [kWh/day] and its square, summed in order
        self.tmin = t[:, 0]
        self.tmax = t[rows, n - 1]
        k = _SEGMENT_MIN_DAYS
        self.seg_lo = t[rows, k]  # np.partition(T, 10)[10]
        self.seg_hi = t[rows, n - k]  # np.partition(T, -10)[-10]
        lo, hi = t[rows, k - 1], t[rows, n - k]  # DIRECT bounds T[9], T[-10]
        same = lo == hi
        lo, hi = np.where(same, self.tmin, lo), np.where(same, self.tmax, hi)
        self.direct_lo, self.direct_hi = np.minimum(lo, hi), np.maximum(lo, hi)

    @functools.cached_property
    def order(self) -> np.ndarray:
        """The column of each sorted day in the caller's arrays (0 in the padding)."""
        return np.take_along_axis(np.maximum(self._column, 0), self._sorted_at, axis=1)

    @functools.cached_property
    def energy_range(self) -> tuple[np.ndarray, np.ndarray]:
        """eemeter's intercept bounds: the 1 % and 99 % quantiles of each site's energy, moved
        apart where equal (``fix_identical_bnds``)."""
        return _widen_equal(self._quantiles[:, 0], self._quantiles[:, 1])

    def count(
        self, site: np.ndarray, x: np.ndarray, strict: bool, start: np.ndarray | None = None
    ) -> np.ndarray:
        """Number of a site's temperatures < x (strict) or <= x; ``start``: a known lower
        bound of the count (the strict count, for the non-strict one)."""
        if start is None:
            g = self._GRID
            k = np.floor((x - self._g_lo[site]) * self._g_inv[site])
            k = np.minimum(np.maximum(k, 0), g + 1)
            k = np.where(np.isnan(k), g + 1, k).astype(np.int64)  # NaN sorts last, as in numpy
            pos = self._g_start[site * (g + 2) + k].astype(np.int64)
        else:
            pos = start.copy()
        n, base, top = self.n[site], site * self.width, self.width - 1
        for _ in range(self._g_steps):
            t = self._tflat[base + np.minimum(pos, top)]
            step = (pos < n) & ((t < x) if strict else (t <= x))
            if not step.any():
                break
            pos += step
        return pos


# --- caltrack: eemeter 4.1.1 legacy daily model ----------------------------------------------


def _initial_fit(sd: _Sorted, xa: np.ndarray, xb: np.ndarray):
    """eemeter's initial fit: nlopt Subplex over (h, b_h, c, b_c, a) from the initial guess.

    Returns (h, b_h, c, b_c, a) with h <= c as eemeter reads them off (``_read_off``) and the
    sum of squared residuals.
    """
    h0, bh0, c0, bc0, a0 = initial_guesses(
        sd.t, sd.y, sd.n, np.minimum(xa, xb), np.maximum(xa, xb)
    ).T
    # bounds (fit_hdd_tidd_cdd, initial fit): slopes up to 3x the larger initial slope
    larger = np.maximum(bh0, bc0)
    with np.errstate(divide="ignore"):
        cap = larger + 10 ** (np.log10(np.abs(larger)) + np.log10(_MAX_SLOPE_OOM))
    cap = np.where(larger != 0, np.abs(cap), 10.0)
    q_lo, q_hi = sd.energy_range
    zero = np.zeros(sd.n_sites)
    lb = np.stack([sd.tmin, zero, sd.tmin, zero, q_lo], axis=1)
    ub = np.stack([sd.tmax, cap, sd.tmax, cap, q_hi], axis=1)
    x, sse = _nlopt_fit(sd, np.stack([h0, bh0, c0, bc0, a0], axis=1), lb, ub, penalised=True)
    return (*_read_off(x, sd.tmin, sd.tmax), sse)


def _read_off(x, tmin, tmax):
    """eemeter ``fix_full_model_x`` of (sites, 5) fits: (h, b_h, c, b_c, a) with h <= c, and a
    slope dropped where its balance point is at the end of the range [T_min, T_max]."""
    h_raw, bh_raw, c_raw, bc_raw, a = x.T
    swap = c_raw < h_raw
    h, c = np.where(swap, c_raw, h_raw), np.where(swap, h_raw, c_raw)
    bh, bc = np.where(swap, bc_raw, bh_raw), np.where(swap, bh_raw, bc_raw)
    distinct = h != c
    bc = np.where(distinct & (c >= tmax), 0.0, bc)
    bh = np.where(distinct & (c < tmax) & (h <= tmin), 0.0, bh)
    return h, bh, c, bc, a


def _magnitude_bounds(x):
    """eemeter ``fit_final_model``'s bounds: each coefficient within ± 10^log10 |x| (10 where
    x is 0), computed as eemeter computes them."""
    oom = 10 ** (order_of_magnitude(x) + np.log10(1.0))
    return x - oom, x + oom


def _nlopt_fit(sd: _Sorted, x0, lb, ub, penalised: bool, sites=None, layout=FIVE):
    """eemeter's NLoptOptimizer on its loss (``subplex_fits``) from x0 within [lb, ub], for
    ``sites`` of ``sd`` (default all): x0 clipped to the bounds, initial steps 10 % of each
    range, clipped to the farther bound and turned round where they would leave the bounds.
    ``layout``: what x holds (``FIVE`` or ``ONE_SLOPE``, see ``exact_loss``). Returns the end
    points (sites, 5 or 3) and their sums of squared residuals [kWh²]."""

    x0 = np.clip(x0, lb, ub)
    step = (ub - lb) * _SUBPLEX_STEP
    reach = np.maximum(np.abs(lb - x0), np.abs(ub - x0))
    step = np.clip(step, -reach, reach)
    x1 = x0 + step
    step = np.where((x1 < lb) | (x1 > ub), -step, step)
    return subplex_fits(
        sd.t_date,
        sd.y_date,
        sd.t,
        sd.y,
        sd.n,
        np.arange(sd.n_sites) if sites is None else sites,
        x0,
        lb,
        ub,
        step,
        _SUBPLEX_MAXEVAL,
        _SUBPLEX_TOL,
        penalised,
        layout,
    )


def _widen_equal(lo, hi):
    """eemeter ``fix_identical_bnds``: equal bounds b move apart by 10^floor(log10 |b|) (10
    where b is 0)."""
    same = lo == hi
    if same.any():
        mag = np.abs(lo[same])
        width = np.where(mag > 0, 10.0 ** np.floor(np.log10(np.where(mag > 0, mag, 1.0))), 10.0)
        lo, hi = lo.copy(), hi.copy()
        lo[same], hi[same] = lo[same] - width, hi[same] + width
    return lo, hi


def _final_two_slopes(sd: _Sorted, sites, h, bh, c, bc, a):
    """eemeter's final fit of the two-slope kind (``fit_final_model``): Subplex on the plain
    loss (no regularisation) from the initial fit, each coefficient within its order of
    magnitude (``10^log10 |x|``, so slopes in [0, about 2x]), balance points within
    [T₍₁₁₎, T₍N-9₎], the intercept within the 1-99 % quantiles of the energy.

    Returns (h, b_h, c, b_c, a) as eemeter reads them off (``_read_off``) and the sum of
    squared residuals."""
    x0 = np.stack([h, bh, c, bc, a], axis=1)
    lb, ub = _magnitude_bounds(x0)
    seg_lo, seg_hi = _widen_equal(sd.seg_lo[sites], sd.seg_hi[sites])
    q_lo, q_hi = sd.energy_range[0][sites], sd.energy_range[1][sites]
    lb[:, 0], ub[:, 0] = seg_lo, seg_hi
    lb[:, 2], ub[:, 2] = seg_lo, seg_hi
    lb[:, 4], ub[:, 4] = q_lo, q_hi
    lb[:, [1, 3]] = np.maximum(lb[:, [1, 3]], 0.0)
    x, sse = _nlopt_fit(sd, x0, lb, ub, penalised=False, sites=sites)
    return (*_read_off(x, sd.tmin[sites], sd.tmax[sites]), sse)


def _final_one_slope(sd: _Sorted, sites, bp, beta, a):
    """eemeter's final fit of a single-slope kind (``fit_c_hdd_tidd``, final): from the
    initial fit's balance point, slope (negative: heating) and intercept, the
    slope refitted by Brent's method (``single_slope_starts``), then Subplex on the plain loss
    with the balance point within [T₍₁₁₎, T₍N-9₎], the slope within ± 10^log10|slope| of the
    initial fit's and the intercept within the 1-99 % quantiles of the energy. A balance point
    at (or within 1e-5 of) the end of that range makes a straight line over the whole range:
    the balance point fixed at T_max (heating) or T_min (cooling), stored at the limit.

    Returns (balance point, slope, intercept, sum of squared residuals) [°F, kWh/(°F·day),
    kWh/day, kWh²]."""
    seg_lo, seg_hi = sd.seg_lo[sites], sd.seg_hi[sites]
    tmin, tmax = sd.tmin[sites], sd.tmax[sites]
    # eemeter reduce_model: the single slope's breakpoint within the segment limits
    bp = np.where(beta < 0, np.minimum(bp, seg_hi), np.maximum(bp, seg_lo))
    x = np.stack([bp, beta, a], axis=1)
    lb, ub = _magnitude_bounds(x)
    x0 = single_slope_starts(sd.t_date, sd.y_date, sd.n, sites, x)
    start_heats = x0[:, 1] < 0
    limit = np.where(start_heats, seg_hi, seg_lo)
    at_limit = np.where(start_heats, x0[:, 0] >= limit, x0[:, 0] <= limit)
    at_limit |= np.abs(x0[:, 0] - limit) <= 1e-5 * np.maximum(np.abs(x0[:, 0]), np.abs(limit))
    end = np.where(start_heats, tmax, tmin)
    x0[:, 2] = np.where(at_limit, x0[:, 2] - x0[:, 0] * end, x0[:, 2])  # as eemeter does
    x0[:, 0] = np.where(at_limit, end, x0[:, 0])
    lb[:, 0], ub[:, 0] = _widen_equal(seg_lo, seg_hi)
    lb[:, 0], ub[:, 0] = np.where(at_limit, end, lb[:, 0]), np.where(at_limit, end, ub[:, 0])
    lb[:, 1], ub[:, 1] = _widen_equal(lb[:, 1], ub[:, 1])
    lb[:, 2], ub[:, 2] = sd.energy_range[0][sites], sd.energy_range[1][sites]
    x, sse = _nlopt_fit(sd, x0, lb, ub, penalised=False, sites=sites, layout=ONE_SLOPE)
    bp, beta, a = x.T
    return np.clip(bp, seg_lo, seg_hi), beta, a, sse  # eemeter get_full_model_x clips bp


def _fit_caltrack(sd: _Sorted) -> dict[str, np.ndarray]:
    """Steps 1-3 of the caltrack method (``fit_daily``, Notes) for the sites of ``sd``."""
    h, bh, c, bc, a, sse = _initial_fit(sd, *_direct(sd))
    kind = (bh > 0) * HDD_ONLY + (bc > 0) * CDD_ONLY
    n = sd.n
    cvrmse = np.sqrt(sse / n) / (sd.y_sum / n)
    return _final_fit(sd, kind, h, c, bh, bc, a, cvrmse)


def _final_fit(sd, kind, h, c, bh, bc, a0, cvrmse) -> dict[str, np.ndarray]:
    """eemeter's final fit of each site's model kind (``_final_two_slopes``,
    ``_final_one_slope``; the intercept alone: the mean energy), as ``fit_daily``'s fields."""
    n_sites = sd.n_sites
    sites = np.arange(n_sites)
    n = sd.n
    sy, syy = sd.y_sum, sd.y2_sum
    a = sy / n  # intercept only: the mean
    sse = syy - sy * sy / n
    hf, cf = np.full(n_sites, np.nan), np.full(n_sites, np.nan)
    bhf, bcf = np.zeros(n_sites), np.zeros(n_sites)

    m = kind == HDD_CDD
    if m.any():
        idx = sites[m]
        hf[m], bhf[m], cf[m], bcf[m], a[m], sse[m] = _final_two_slopes(
            sd, idx, h[m], bh[m], c[m], bc[m], a0[m]
        )

    m = (kind == HDD_ONLY) | (kind == CDD_ONLY)
    if m.any():
        heat = kind[m] == HDD_ONLY
        bp, beta, a[m], sse[m] = _final_one_slope(
            sd, sites[m], np.where(heat, h[m], c[m]), np.where(heat, -bh[m], bc[m]), a0[m]
        )
        # eemeter reduce_model: the slope's sign says heating or cooling; 0 drops the term
        hf[m], bhf[m] = np.where(beta < 0, bp, np.nan), np.maximum(-beta, 0.0)
        cf[m], bcf[m] = np.where(beta > 0, bp, np.nan), np.maximum(beta, 0.0)

    # a slope that came out 0 in the final fit drops its term
    hf = np.where(bhf > 0, hf, np.nan)
    cf = np.where(bcf > 0, cf, np.nan)
    bhf = np.maximum(bhf, 0.0)
    bcf = np.maximum(bcf, 0.0)
    final_kind = np.isfinite(hf) * HDD_ONLY + np.isfinite(cf) * CDD_ONLY
    n_coef = 1 + np.isfinite(hf) + np.isfinite(cf)
    tss = syy - sy * sy / n
    with np.errstate(invalid="ignore", divide="ignore"):
        r2_adj = 1 - (sse / np.maximum(n - n_coef, 1)) / (tss / np.maximum(n - 1, 1))
    return {
        "model_type": final_kind,
        "intercept_kwh": a,
        "heating_balance_c": (hf - 32) * 5 / 9,
        "heating_kwh_per_degc_day": bhf * 9 / 5,
        "cooling_balance_c": (cf - 32) * 5 / 9,
        "cooling_kwh_per_degc_day": bcf * 9 / 5,
        "r_squared_adj": r2_adj,
        "cvrmse": cvrmse,
    }


def _direct(sd: _Sorted) -> tuple[np.ndarray, np.ndarray]:
    """eemeter's initial guess: DIRECT over both breakpoints (``caltrack_direct``)."""
    return direct_points(sd.t, sd.y, sd.n, sd.direct_lo, sd.direct_hi)


# --- daytype: CalTRACK 2.0 grid with day-type intercepts -------------------------------------


def _fit_daytype(
    temp_f: np.ndarray, usage: np.ndarray, ok: np.ndarray, day_type: np.ndarray
) -> dict[str, np.ndarray]:
    """CalTRACK 2.0 candidate grid with one intercept per day type (Frisch-Waugh-Lovell)."""
    sd = _Sorted(temp_f, usage, ok)
    n_sites = sd.n_sites
    sites = np.arange(n_sites)
    n = sd.n
    group = np.where(sd.real, day_type[sd.order], -1)
    grid = _GRID_F
    n_grid = grid.size
    q_site = np.repeat(sites, n_grid)
    q_bp = np.tile(grid, n_sites)
    nh = sd.count(q_site, q_bp, strict=True).reshape(n_sites, n_grid)  # HDD > 0 below
    ncut = sd.count(q_site, q_bp, strict=False).reshape(n_sites, n_grid)  # CDD > 0 above
    rows = sites[:, None]
    t = np.where(sd.real, sd.t, 0.0)
    y = sd.y
    n_g, sy_g, syy_g = [], [], []
    hdd, cdd = [], []  # per group: (sum, sum of squares, sum with energy) over the grid
    for g in range(3):
        in_g = (group == g).astype(float)
        cols = [in_g, in_g * t, in_g * t * t, in_g * y, in_g * t * y]
        pre = [np.concatenate([np.zeros((n_sites, 1)), np.cumsum(v, axis=1)], axis=1) for v in cols]
        c1, ct, ct2, cy, cty = pre
        last = n[:, None]
        n_g.append(c1[sites, n])
        sy_g.append(cy[sites, n])
        syy_g.append((in_g * y * y).sum(axis=1))
        k1, kt, kt2, ky, kty = (p_[rows, nh] for p_ in pre)
        hdd.append((grid * k1 - kt, grid**2 * k1 - 2 * grid * kt + kt2, grid * ky - kty))
        u1 = c1[rows, last] - c1[rows, ncut]
        ut = ct[rows, last] - ct[rows, ncut]
        ut2 = ct2[rows, last] - ct2[rows, ncut]
        uy = cy[rows, last] - cy[rows, ncut]
        uty = cty[rows, last] - cty[rows, ncut]
        cdd.append((ut - grid * u1, ut2 - 2 * grid * ut + grid**2 * u1, uty - grid * uy))
    n_g, sy_g, syy_g = np.array(n_g), np.array(sy_g), np.array(syy_g)  # (3, S)
    present = n_g > 0
    inv_n = np.where(present, 1 / np.maximum(n_g, 1), 0.0)
    k0 = present.sum(axis=0)
    yy = (syy_g - sy_g**2 * inv_n).sum(axis=0)  # within-day-type sum of squares

    def centred(terms):
        s_ = sum(terms[g][0] for g in range(3))
        ss = sum(terms[g][1] - terms[g][0] ** 2 * inv_n[g][:, None] for g in range(3))
        sxy = sum(terms[g][2] - terms[g][0] * (sy_g[g] * inv_n[g])[:, None] for g in range(3))
        return s_, ss, sxy

    sh, hh, hy = centred(hdd)
    sc, cc, cy = centred(cdd)
    nc = n[:, None] - ncut
    h_ok = (nh >= _MIN_NONZERO_DD_DAYS) & (sh >= _MIN_TOTAL_DD) & (hh > 0)
    c_ok = (nc >= _MIN_NONZERO_DD_DAYS) & (sc >= _MIN_TOTAL_DD) & (cc > 0)
    sy_all = sy_g.sum(axis=0)
    tss = syy_g.sum(axis=0) - sy_all**2 / n
    nf = n.astype(float)

    def adj_r2(sse, k):
        shape = (-1,) + (1,) * (np.ndim(sse) - 1)
        m_, t_ = nf.reshape(shape), tss.reshape(shape)
        return 1 - (sse / np.maximum(m_ - k, 1)) / (t_ / np.maximum(m_ - 1, 1))

    # intercepts only
    best = adj_r2(yy, k0)
    kind = np.zeros(n_sites, dtype=np.int64)
    ih = np.zeros(n_sites, dtype=np.int64)
    ic = np.zeros(n_sites, dtype=np.int64)
    bh_best = np.zeros(n_sites)
    bc_best = np.zeros(n_sites)
    sse_best = yy.copy()

    def keep(score, qualified, this_kind, i_h, i_c, b_h, b_c, sse):
        nonlocal best, kind, ih, ic, bh_best, bc_best, sse_best
        score = np.where(qualified, score, -np.inf)
        j = np.argmax(score, axis=1)
        top = score[sites, j]
        better = top > best
        best = np.where(better, top, best)
        kind = np.where(better, this_kind, kind)
        ih = np.where(better, i_h(j), ih)
        ic = np.where(better, i_c(j), ic)
        bh_best = np.where(better, b_h[sites, j], bh_best)
        bc_best = np.where(better, b_c[sites, j], bc_best)
        sse_best = np.where(better, sse[sites, j], sse_best)

    zeros = np.zeros((n_sites, n_grid))
    # two-sided p < 0.1 <=> |t| above the Student-t 95 % quantile; slopes must be positive
    dof1 = np.maximum(nf - k0 - 1, 1)[:, None]
    dof2 = np.maximum(nf - k0 - 2, 1)[:, None]
    t_crit1 = stdtrit(dof1, 1 - _MAX_P_VALUE / 2)
    t_crit2 = stdtrit(dof2, 1 - _MAX_P_VALUE / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        for this, ok_, xx, xy in ((HDD_ONLY, h_ok, hh, hy), (CDD_ONLY, c_ok, cc, cy)):
            beta = xy / xx
            sse = yy[:, None] - beta * xy
            # t = beta / se > t_crit  <=>  beta^2 xx / (sse / dof) > t_crit^2 (beta > 0)
            qualified = ok_ & (beta > 0) & (beta * beta * xx * dof1 > t_crit1**2 * sse)
            is_h = this == HDD_ONLY
            keep(
                adj_r2(sse, k0[:, None] + 1),
                qualified,
                this,
                (lambda j: j) if is_h else (lambda j: ih),
                (lambda j: ic) if is_h else (lambda j: j),
                beta if is_h else zeros,
                zeros if is_h else beta,
                sse,
            )
        crit = t_crit2**2 / dof2
        for i in range(n_grid):
            cols = slice(i, n_grid)  # cooling balance point >= heating balance point
            hc = -sum(
                hdd[g][0][:, i : i + 1] * cdd[g][0][:, cols] * inv_n[g][:, None] for g in range(3)
            )
            hh_i, hy_i = hh[:, i : i + 1], hy[:, i : i + 1]
            cc_j, cy_j = cc[:, cols], cy[:, cols]
            det = hh_i * cc_j - hc * hc
            b_h = (cc_j * hy_i - hc * cy_j) / det
            b_c = (hh_i * cy_j - hc * hy_i) / det
            sse = yy[:, None] - b_h * hy_i - b_c * cy_j
            # var(b_h) = s^2 cc / det, var(b_c) = s^2 hh / det with s^2 = sse / dof
            qualified = (
                h_ok[:, i : i + 1]
                & c_ok[:, cols]
                & (det > 0)
                & (b_h > 0)
                & (b_c > 0)
                & (b_h * b_h * det > crit * sse * cc_j)
                & (b_c * b_c * det > crit * sse * hh_i)
            )
            keep(
                adj_r2(sse, k0[:, None] + 2),
                qualified,
                HDD_CDD,
                lambda j, i=i: np.full(n_sites, i),
                lambda j, i=i: j + i,
                b_h,
                b_c,
                sse,
            )
    has_h = (kind == HDD_ONLY) | (kind == HDD_CDD)
    has_c = (kind == CDD_ONLY) | (kind == HDD_CDD)
    bh_best = np.where(has_h, bh_best, 0.0)
    bc_best = np.where(has_c, bc_best, 0.0)
    sum_h = np.array([hdd[g][0][sites, ih] for g in range(3)])  # (3, S)
    sum_c = np.array([cdd[g][0][sites, ic] for g in range(3)])
    with np.errstate(invalid="ignore", divide="ignore"):
        a_g = (sy_g - bh_best * sum_h - bc_best * sum_c) * inv_n
    a_g = np.where(present, a_g, np.nan)
    # a day type absent from the baseline borrows the other weekend type, then working days
    a_g[1] = np.where(present[1], a_g[1], a_g[2])
    a_g[2] = np.where(present[2], a_g[2], a_g[1])
    a_g[0] = np.where(present[0], a_g[0], np.nanmean(a_g[1:], axis=0))
    a_g[1:] = np.where(np.isnan(a_g[1:]), a_g[0], a_g[1:])
    return {
        "model_type": kind,
        "intercept_kwh": a_g[0],
        "day_type_kwh": (a_g - a_g[0]).T,
        "heating_balance_c": np.where(has_h, (grid[ih] - 32) * 5 / 9, np.nan),
        "heating_kwh_per_degc_day": bh_best * 9 / 5,
        "cooling_balance_c": np.where(has_c, (grid[ic] - 32) * 5 / 9, np.nan),
        "cooling_kwh_per_degc_day": bc_best * 9 / 5,
        "r_squared_adj": best,
        "cvrmse": np.sqrt(sse_best / nf) / (sy_all / nf),
    }
