"""CalTRACK hourly baseline: the time-of-week-and-temperature (TOWT) model, all sites at once.

The model is CalTRACK 2.0's hourly method as eemeter 4.1.1 implements it
(``eemeter.eemeter.models.hourly_caltrack``, ``HourlyModel`` with the default
``"three_month_weighted"`` segmentation): one weighted least-squares model per calendar month
with one coefficient per hour of the week and piecewise-linear temperature terms, separate for
"occupied" and "unoccupied" hours of the week. ``fit_towt`` fits one month's model,
``predict_towt`` predicts with it, and ``regression_hourly`` fits one model per target month on
the history (``fit_hourly``) and predicts an hourly baseline on a ``LocalHours`` grid
(``predict_hourly``; baseline kWh and a mask of known hours, as every baseline method returns).
Temperatures cross the interface in °C; the model runs in °F because CalTRACK's bin endpoints
and degree-day balance points are defined there. The rules and reason flags are ``rules``'.
No numba here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from scoring.calendar import LocalHours
from scoring.caltrack.rules import (
    BASELINE_LENGTH,
    BIN_ENDPOINTS_F,
    MAX_BASELINE_DAYS,
    MAX_TEMP_C,
    MIN_BASELINE_DAYS,
    MIN_BIN_HOURS,
    MIN_COVERAGE,
    MIN_TEMP_C,
    MISSING_DAYS,
    MISSING_METER_DAYS,
    MISSING_MONTHLY_METER,
    MISSING_MONTHLY_TEMPERATURE,
    MISSING_TEMPERATURE_DAYS,
    NEIGHBOUR_MONTH_WEIGHT,
    NO_DATA,
    OCCUPANCY_CDD_BALANCE_F,
    OCCUPANCY_HDD_BALANCE_F,
    OCCUPANCY_THRESHOLD,
    rule_names,
)

HOURS_OF_WEEK = 168
_N_BINS = BIN_ENDPOINTS_F.size + 1


@dataclass(frozen=True)
class TowtModels:
    """Fitted TOWT models of S sites for one month.

    Attributes
    ----------
    occupied : array of bool (S, 168)
        Hours of the week classed "occupied" (Monday 00-01 is 0, local time).
    hour_of_week_kwh : array (S, 168)
        Energy of each hour of the week before the temperature terms [kWh]; NaN for an hour
        of the week with no fitting data (no prediction there).
    slope_kwh_per_degf : array (S, 2, 7)
        Slope of each temperature bin, [occupied, unoccupied] [kWh/°F]; 0 for unused bins.
    bin_low_f, bin_high_f : array (S, 2, 7)
        Bin edges after merging sparse bins [°F]; bins at and after the last used one have
        ``bin_low_f = inf``.
    n_hours : array of int (S,)
        History hours that entered the fit (with weight 1 or 0.5).
    """

    occupied: np.ndarray
    hour_of_week_kwh: np.ndarray
    slope_kwh_per_degf: np.ndarray
    bin_low_f: np.ndarray
    bin_high_f: np.ndarray
    n_hours: np.ndarray


def fit_towt(
    usage_kwh: np.ndarray,
    valid: np.ndarray,
    hour_of_week: np.ndarray,
    temp_c: np.ndarray,
    weight: np.ndarray,
) -> TowtModels:
    """Fit CalTRACK's time-of-week-and-temperature model to every site.

    Parameters
    ----------
    usage_kwh : array (S, H)
        Hourly energy [kWh]. Zero counts as missing, as in eemeter for electricity.
    valid : array of bool (S, H)
        Hours whose energy was measured.
    hour_of_week : array of int (H,)
        Local hour of the week, 0..167 (``LocalHours.hour_of_week``).
    temp_c : array (H,) or (S, H)
        Hourly mean outdoor temperature [°C]; NaN where unknown.
    weight : array (H,)
        Regression weight of each hour [-]; 0 leaves the hour out.

    Returns
    -------
    TowtModels

    Notes
    -----
    With T the temperature in °F (``T = T_c · 9/5 + 32``) and w the weights, as eemeter 4.1.1
    [2]_ implements CalTRACK 2.0 [1]_:

    1. Occupancy: weighted least squares ``E = a + b_c max(T - 65, 0) + b_h max(50 - T, 0)``
       over all hours; an hour of the week is occupied when more than 65 % of its hours have
       a positive residual (counted unweighted). An hour of the week without data counts as
       occupied, as in eemeter (it gets no prediction anyway).
    2. Temperature bins, separately over the occupied and the unoccupied hours: start from
       the endpoints 30, 45, 55, 65, 75, 90 °F (bins closed on the right); while the lowest
       bin has under 20 hours drop its upper endpoint and while the highest has, its lower
       one; when both ends are full, drop the upper endpoint of every sparse middle bin.
    3. The model, by weighted least squares:

       .. math:: E = \\alpha_{how} + \\sum_k \\beta^{occ(how)}_k B_k(T)

       with ``B_0 = min(T, e_1)``, ``B_k = clip(T - e_k, 0, e_{k+1} - e_k)`` and the last bin
       ``max(T - e_K, 0)``, so that ``Σ B_k = T``. The occupied terms are 0 in unoccupied
       hours and the unoccupied terms in occupied ones. Solved by partialling out the 168
       indicators (Frisch-Waugh-Lovell) and a pseudo-inverse of the small bin system (as
       statsmodels' pinv, a bin without data gets slope 0).

    References
    ----------
    .. [1] CalTRACK Technical Appendix, hourly methods (CalTRACK 2.0), section 3,
       https://docs.caltrack.org
    .. [2] OpenEEmeter eemeter 4.1.1, ``eemeter.eemeter.models.hourly_caltrack`` and
       ``eemeter.eemeter.common.features`` (``estimate_hour_of_week_occupancy``,
       ``fit_temperature_bins``, ``compute_temperature_bin_features``),
       https://github.com/openeemeter/eemeter
    """
    usage = np.asarray(usage_kwh, dtype=float)
    if usage.ndim != 2:
        raise ValueError(f"usage_kwh must be sites x hours, got shape {usage.shape}")
    n_sites, n_hours = usage.shape
    how = np.asarray(hour_of_week, dtype=np.int64)
    w = np.asarray(weight, dtype=float)
    if how.shape != (n_hours,) or w.shape != (n_hours,):
        raise ValueError(
            f"hour_of_week and weight must have {n_hours} entries, got {how.shape}, {w.shape}"
        )
    temp_f = _temp_f(temp_c, usage.shape, "temp_c")
    ok = np.asarray(valid, dtype=bool) & np.isfinite(usage) & (usage != 0)
    ok &= np.isfinite(temp_f) & (w > 0)
    y = np.where(ok, usage, 0.0)
    t = np.where(ok, temp_f, 0.0)
    omega = np.where(ok, w, 0.0)

    occupied = _occupancy(y, t, ok, omega, how)
    occ_hour = occupied[:, how]  # (S, H)
    lows, highs = [], []
    for cls in (occ_hour, ~occ_hour):
        low, high = _fit_bins(t, ok & cls)
        lows.append(low)
        highs.append(high)
    bin_low, bin_high = np.stack(lows, axis=1), np.stack(highs, axis=1)  # (S, 2, 7)
    x = _bin_features(t, occ_hour, bin_low, bin_high)  # (S, H, 14)

    sw = _per_hour_of_week(omega, how)  # (S, 168)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = _per_hour_of_week(omega[..., None] * x, how) / sw[..., None]
        y_mean = _per_hour_of_week(omega * y, how) / sw
    x_mean = np.nan_to_num(x_mean)
    y_mean_0 = np.nan_to_num(y_mean)
    xt = np.where(ok[..., None], x - x_mean[:, how], 0.0)
    yt = np.where(ok, y - y_mean_0[:, how], 0.0)
    a = np.einsum("sh,shi,shj->sij", omega, xt, xt)
    b = np.einsum("sh,shi,sh->si", omega, xt, yt)
    beta = np.einsum("sij,sj->si", np.linalg.pinv(a), b)
    alpha = y_mean - np.einsum("sgk,sk->sg", x_mean, beta)
    return TowtModels(
        occupied=occupied,
        hour_of_week_kwh=alpha,
        slope_kwh_per_degf=beta.reshape(n_sites, 2, _N_BINS),
        bin_low_f=bin_low,
        bin_high_f=bin_high,
        n_hours=ok.sum(axis=1),
    )


def predict_towt(models: TowtModels, hour_of_week: np.ndarray, temp_c: np.ndarray) -> np.ndarray:
    """Hourly energy predicted by fitted TOWT models.

    Parameters
    ----------
    models : TowtModels
    hour_of_week : array of int (H',)
        Local hour of the week, 0..167.
    temp_c : array (H',) or (S, H')
        Hourly mean outdoor temperature [°C].

    Returns
    -------
    array (S, H')
        Predicted energy [kWh]; NaN where the temperature is unknown or the hour of the week
        had no data in the fit.

    Notes
    -----
    .. math:: E = \\alpha_{how} + \\sum_k \\beta^{occ(how)}_k B_k(T)
    """
    how = np.asarray(hour_of_week, dtype=np.int64)
    n_sites = models.occupied.shape[0]
    temp_f = _temp_f(temp_c, (n_sites, how.size), "temp_c")
    occ_hour = models.occupied[:, how]
    x = _bin_features(np.nan_to_num(temp_f), occ_hour, models.bin_low_f, models.bin_high_f)
    slopes = models.slope_kwh_per_degf.reshape(n_sites, 2 * _N_BINS)
    energy = models.hour_of_week_kwh[:, how] + np.einsum("shk,sk->sh", x, slopes)
    return np.where(np.isfinite(temp_f), energy, np.nan)


@dataclass(frozen=True)
class HourlyFit:
    """TOWT models of S sites fitted on a history, one per target month (``fit_hourly``).

    Attributes
    ----------
    models : dict of int to TowtModels
        Calendar month (1-12) of the target to the models of all sites.
    sufficient : array of bool (S,)
        True where no data-sufficiency rule (``hourly_sufficiency``) failed.
    reasons : array of int (S,)
        Flags of the failed rules (``rules.REASON_NAMES``).
    """

    models: dict[int, TowtModels]
    sufficient: np.ndarray
    reasons: np.ndarray

    def reason_names(self, site: int) -> list[str]:
        """Names of the failed sufficiency rules of one site."""
        return rule_names(int(self.reasons[site]))


def regression_hourly(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    target: LocalHours,
    history_temp_c: np.ndarray,
    target_temp_c: np.ndarray,
    require_sufficient: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly baseline from CalTRACK's hourly TOWT model fitted on the history.

    Parameters
    ----------
    history_kwh : array (sites, history hours)
        Hourly energy of the baseline period [kWh].
    history_ok : array of bool (sites, history hours)
        Hours whose energy was measured.
    history, target : LocalHours
        Calendars of the baseline period and the competition grid.
    history_temp_c : array (sites, history hours) or (history hours,)
        Hourly mean outdoor temperature on the ``history`` grid [°C]; NaN where unknown.
    target_temp_c : array (sites, target hours) or (target hours,)
        Hourly mean outdoor temperature on the ``target`` grid [°C]; NaN where unknown.
    require_sufficient : bool
        If True, sites failing a data-sufficiency rule (``hourly_sufficiency``) get no
        baseline.

    Returns
    -------
    baseline_kwh : array (sites, target hours) [kWh]
    baseline_ok : array of bool (sites, target hours)

    Notes
    -----
    CalTRACK's "three-month weighted" segmentation: each calendar month m of the target gets
    its own model (``fit_towt``), fitted on the history hours of local month m with weight 1
    and of months m - 1 and m + 1 (cyclically, so December neighbours January) with weight
    0.5. History hours without energy or temperature, and hours with zero energy, are left
    out. A target hour without temperature, or whose hour of the week had no data in its
    month's fit, gets no baseline.
    """
    fit = fit_hourly(history_kwh, history_ok, history, target_months(target), history_temp_c)
    return predict_hourly(fit, target, target_temp_c, require_sufficient)


def target_months(target: LocalHours) -> list[int]:
    """The calendar months (1-12) of a grid's local days: the models ``fit_hourly`` needs."""
    return np.unique(_month(target.day_ordinal)).tolist()


def fit_hourly(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    months: list[int],
    history_temp_c: np.ndarray,
) -> HourlyFit:
    """The TOWT models of ``months`` (calendar months 1-12), fitted on the history (the
    first half of ``regression_hourly``: the history changes less often than the target's
    temperatures, so a caller may keep the fit)."""
    usage = np.asarray(history_kwh, dtype=float)
    hist_temp = _temp_shape(history_temp_c, usage.shape, "history_temp_c")
    usage_ok = np.asarray(history_ok, dtype=bool)
    models: dict[int, TowtModels] = {}
    if usage.shape[1] > 0:
        hist_month = _month(history.day_ordinal)
        for month in months:
            distance = (hist_month - month) % 12
            weight = np.where(
                distance == 0,
                1.0,
                np.where((distance == 1) | (distance == 11), NEIGHBOUR_MONTH_WEIGHT, 0),
            )
            rows = weight > 0
            if rows.any():
                models[month] = fit_towt(
                    usage[:, rows],
                    usage_ok[:, rows],
                    history.hour_of_week[rows],
                    hist_temp[..., rows],
                    weight[rows],
                )
    if usage.shape[1] == 0:
        reasons = np.full(usage.shape[0], NO_DATA, dtype=np.int64)
        return HourlyFit(
            models=models, sufficient=np.zeros(usage.shape[0], dtype=bool), reasons=reasons
        )
    reasons = hourly_sufficiency(usage_ok & np.isfinite(usage), np.isfinite(hist_temp), history)
    return HourlyFit(models=models, sufficient=reasons == 0, reasons=reasons)


def predict_hourly(
    fit: HourlyFit, target: LocalHours, target_temp_c: np.ndarray, require_sufficient: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly baseline on the ``target`` grid from a ``fit_hourly`` fit (returns as
    ``regression_hourly``); a target month the fit has no model for gets no baseline."""
    shape = (fit.sufficient.size, target.hour.size)
    baseline = np.full(shape, np.nan)
    if target.hour.size == 0:
        return baseline, np.zeros(shape, dtype=bool)
    tgt_temp = _temp_shape(target_temp_c, shape, "target_temp_c")
    tgt_month = _month(target.day_ordinal)
    for month, models in fit.models.items():
        cols = tgt_month == month
        if cols.any():
            baseline[:, cols] = predict_towt(models, target.hour_of_week[cols], tgt_temp[..., cols])
    ok = np.isfinite(baseline)
    if require_sufficient:
        ok &= fit.sufficient[:, None]
    return baseline, ok


def hourly_sufficiency(
    usage_ok: np.ndarray, temp_ok: np.ndarray, history: LocalHours
) -> np.ndarray:
    """eemeter 4.1.1 HourlySufficiencyCriteria.check_sufficiency_baseline as bit flags (S,).

    On hourly data a valid hour counts as 1/24 of a valid day, so the daily rules become
    shares of hours: the span from the first to the last hour with energy and temperature is
    329-365 days; at least 90 % of its hours have both, 90 % energy and 90 % temperature; and
    every calendar month of the history has at least 90 % of its hours with temperature and
    with energy (the hourly method's own rule). Names: ``rules.REASON_NAMES``.
    """
    usage_ok = np.asarray(usage_ok, dtype=bool)
    temp_ok = np.broadcast_to(np.asarray(temp_ok, dtype=bool), usage_ok.shape)
    both = usage_ok & temp_ok
    n_hours = both.shape[1]
    if n_hours == 0:
        return np.full(both.shape[0], NO_DATA, dtype=np.int64)
    any_ok = both.any(axis=1)
    first = np.argmax(both, axis=1)
    last = n_hours - 1 - np.argmax(both[:, ::-1], axis=1)
    span_h = np.where(any_ok, last - first + 1, 0)
    reasons = np.where(any_ok, 0, NO_DATA).astype(np.int64)
    span_days = span_h / 24.0
    reasons |= np.where(
        any_ok & ((span_days > MAX_BASELINE_DAYS) | (span_days < MIN_BASELINE_DAYS)),
        BASELINE_LENGTH,
        0,
    )
    in_span = (np.arange(n_hours)[None, :] >= first[:, None]) & (
        np.arange(n_hours)[None, :] <= last[:, None]
    )
    denominator = np.maximum(span_h, 1)
    for ok, bit in (
        (both, MISSING_DAYS),
        (usage_ok, MISSING_METER_DAYS),
        (temp_ok, MISSING_TEMPERATURE_DAYS),
    ):
        share = (ok & in_span).sum(axis=1) / denominator
        reasons |= np.where(any_ok & (share < MIN_COVERAGE), bit, 0)
    month = _month(history.day_ordinal)
    for m in np.unique(month).tolist():
        cols = month == m
        for ok, bit in ((temp_ok, MISSING_MONTHLY_TEMPERATURE), (usage_ok, MISSING_MONTHLY_METER)):
            share = ok[:, cols].mean(axis=1)
            reasons |= np.where(share < MIN_COVERAGE, bit, 0)
    return reasons


# --- steps -----------------------------------------------------------------------------------


def _occupancy(y, t, ok, omega, how):
    """eemeter's estimate_hour_of_week_occupancy: (S, 168) bool."""
    x = np.stack(
        [
            np.ones_like(t),
            np.maximum(t - OCCUPANCY_CDD_BALANCE_F, 0.0),
            np.maximum(OCCUPANCY_HDD_BALANCE_F - t, 0.0),
        ],
        axis=-1,
    )
    a = np.einsum("sh,shi,shj->sij", omega, x, x)
    b = np.einsum("sh,shi,sh->si", omega, x, y)
    coef = np.einsum("sij,sj->si", np.linalg.pinv(a), b)
    residual = y - np.einsum("shi,si->sh", x, coef)
    positive = _per_hour_of_week((ok & (residual > 0)).astype(float), how)
    count = _per_hour_of_week(ok.astype(float), how)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = positive / count
    return np.where(count > 0, share > OCCUPANCY_THRESHOLD, True)


def _fit_bins(t, use):
    """eemeter's _fit_temperature_bins per site: bin edges (S, 7) low and high [°F]."""
    n_sites = t.shape[0]
    ends = BIN_ENDPOINTS_F
    interval = np.searchsorted(ends, t, side="left")  # (e_{j-1}, e_j] -> j
    counts = np.zeros((n_sites, _N_BINS))
    site = np.broadcast_to(np.arange(n_sites)[:, None], t.shape)
    np.add.at(counts, (site[use], interval[use]), 1.0)
    keep = np.ones((n_sites, ends.size), dtype=bool)
    rows = np.arange(n_sites)
    while True:
        bin_of = np.concatenate([np.zeros((n_sites, 1), int), np.cumsum(keep, axis=1)], axis=1)
        merged = np.zeros((n_sites, _N_BINS))
        np.add.at(merged, (np.repeat(rows, _N_BINS), bin_of.ravel()), counts.ravel())
        n_bins = keep.sum(axis=1) + 1
        sparse = merged < MIN_BIN_HOURS
        kept_idx = np.argsort(~keep, axis=1, kind="stable")  # kept endpoints first, in order
        first_bad = sparse[:, 0] & (n_bins > 1)
        last_bad = sparse[rows, n_bins - 1] & (n_bins > 1)
        drop = np.zeros_like(keep)
        drop[rows[first_bad], kept_idx[first_bad, 0]] = True
        drop[rows[last_bad], kept_idx[last_bad, n_bins[last_bad] - 2]] = True
        middle = ~(first_bad | last_bad) & (n_bins > 2)
        for k in range(1, _N_BINS - 1):  # middle bin k's upper endpoint is kept endpoint k
            hit = middle & (k < n_bins - 1) & sparse[:, k]
            drop[rows[hit], kept_idx[hit, k]] = True
        if not drop.any():
            break
        keep &= ~drop
    kept_idx = np.argsort(~keep, axis=1, kind="stable")
    padded = np.where(np.take_along_axis(keep, kept_idx, axis=1), ends[kept_idx], np.inf)
    low = np.concatenate([np.full((n_sites, 1), -np.inf), padded], axis=1)
    high = np.concatenate([padded, np.full((n_sites, 1), np.inf)], axis=1)
    n_bins = keep.sum(axis=1) + 1
    low = np.where(np.arange(_N_BINS)[None, :] < n_bins[:, None], low, np.inf)
    return low, high


def _bin_features(t, occ_hour, bin_low, bin_high):
    """Occupied then unoccupied bin features (S, H, 14); Σ of a class's features = T."""
    out = []
    for c, in_class in enumerate((occ_hour, ~occ_hour)):
        low = bin_low[:, c][:, None, :]
        high = bin_high[:, c][:, None, :]
        tt = t[..., None]
        with np.errstate(invalid="ignore"):
            inner = np.minimum(np.maximum(tt - low, 0.0), high - low)
        first = np.minimum(tt, high[..., :1])
        f = np.concatenate([first, inner[..., 1:]], axis=-1)
        f = np.where(np.isfinite(low) | (np.arange(_N_BINS) == 0), f, 0.0)
        out.append(np.where(in_class[..., None], f, 0.0))
    return np.concatenate(out, axis=-1)


def _per_hour_of_week(values, how):
    """Sum over the hours of each hour of the week: (S, H, ...) -> (S, 168, ...)."""
    onehot = (how[:, None] == np.arange(HOURS_OF_WEEK)[None, :]).astype(float)
    return np.einsum("sh...,hg->sg...", values, onehot)


def _month(day_ordinal):
    days, inverse = np.unique(day_ordinal, return_inverse=True)
    months = np.array([date.fromordinal(int(d)).month for d in days], dtype=np.int64)
    return months[inverse]


def _temp_shape(temp_c, shape, name):
    temp = np.asarray(temp_c, dtype=float)
    if temp.shape not in (shape[1:], shape):
        raise ValueError(f"{name} must have shape ({shape[1]},) or {shape}, got {temp.shape}")
    return temp


def _temp_f(temp_c, shape, name):
    temp = np.broadcast_to(_temp_shape(temp_c, shape, name), shape)
    outside = np.isfinite(temp) & ((temp < MIN_TEMP_C) | (temp > MAX_TEMP_C))
    if outside.any():
        raise ValueError(
            f"{name} must be hourly means in °C within {MIN_TEMP_C}..{MAX_TEMP_C}, got "
            f"{temp[outside].flat[0]!r}; convert °F with (F - 32) * 5 / 9, K with K - 273.15"
        )
    return temp * 9 / 5 + 32
