"""The CalTRACK daily models: daily energy against outdoor temperature, all sites at once.

Two methods share one model form, ``E = a + b_h * HDD(T_h) + b_c * CDD(T_c)`` in kWh per day,
with degree days from the daily mean temperature:

- ``"caltrack"``: the CalTRACK daily method as eemeter 4.1.1 ``DailyModel(model="legacy")``
  implements it, reproduced so as to choose the same model and predict the same daily energy
  (``eemeter_daily``, on the compiled ``direct``, ``subplex`` and ``eemeter_loss``).
- ``"daytype"``: CalTRACK 2.0's balance-point grid with significance-tested slopes and selection
  by adjusted R², plus one intercept per day type (working day, Saturday, Sunday or holiday):
  town halls use about half as much at weekends, which the CalTRACK model ignores
  (``daytype_grid``).

``fit_daily`` checks eemeter's data-sufficiency rules (``rules``) and fits, ``predict_daily``
predicts daily energy and ``daily_residuals`` gives the residuals ``scoring.uncertainty``
needs. Temperatures cross the interface in °C; the fit runs in °F because eemeter's segment
rules and penalties are defined there. Loading this module loads numba (the fits are
compiled); ``scoring.baselines.regression`` turns the daily models into an hourly baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.caltrack.daytype_grid import fit_daytype
from scoring.caltrack.eemeter_daily import fit_legacy
from scoring.caltrack.rules import (
    BASELINE_LENGTH,
    HIGH_CVRMSE,
    MAX_BASELINE_DAYS,
    MAX_CVRMSE,
    MAX_TEMP_C,
    MIN_BASELINE_DAYS,
    MIN_COVERAGE,
    MIN_FIT_DAYS,
    MIN_TEMP_C,
    MISSING_DAYS,
    MISSING_METER_DAYS,
    MISSING_MONTHLY_TEMPERATURE,
    MISSING_TEMPERATURE_DAYS,
    NO_DATA,
    TOO_FEW_DAYS,
    rule_names,
)
from scoring.caltrack.sorted_days import SortedDays
from scoring.uncertainty import Residuals

METHODS = ("caltrack", "daytype")

# names of the model kinds (rules.INTERCEPT_ONLY ... HDD_CDD) as eemeter reports them
MODEL_NAMES = ("tidd", "hdd_tidd", "tidd_cdd", "hdd_tidd_cdd")

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
        Flags of the failed rules (``rules.REASON_NAMES``).
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
        return rule_names(int(self.reasons[site]))


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
    stop: on a flat loss surface that is short of the minimum, keeping a near-zero slope or
    never raising one. Steps 2 and 3 therefore do eemeter's arithmetic to the last bit
    (``eemeter_loss``: its loss, summed day by day as NumPy sums; its start; nlopt's Subplex
    step for step in ``subplex``), compiled and one site per thread: on eemeter's own runs
    they evaluate the same points, with the same values, and end at the same parameters
    (``tests/scoring/caltrack/test_daily_vs_eemeter.py``).

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
            params = fit_legacy(SortedDays(temp_f[sites], usage[sites], ok[sites]))
        else:
            params = fit_daytype(temp_f[sites], usage[sites], ok[sites], day_type)
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
    return Residuals(
        residual_kwh=residual,
        ok=ok,
        mean_kwh=mean,
        n_params=(intercepts + 2 * terms).astype(np.int64),
    )


# --- data sufficiency ----------------------------------------------------------------------------


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
