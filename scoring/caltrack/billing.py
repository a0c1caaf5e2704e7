"""Billing baselines: CalTRACK 2.0's billing method, fitted for all sites at once.

A site whose history is only monthly or bimonthly bills (period start, period end, kWh) gets a
baseline from them: the usage per day of each billing period regressed on the period's mean
heating and cooling degree days per day, weighted by the period's days. The fitted model
predicts each competition day from that day's mean temperature; ``load_shape.spread_by_level``
shares each predicted day out over its hours with the site's day-type × hour shape, so that the
hourly leaderboard machinery treats it as any other baseline (``scoring.baselines.billing``).

``billing_periods`` turns stored bills into the baseline periods (the data-sufficiency rules
of eemeter 4.1.1 ``BillingBaselineData`` / ``BillingSufficiencyCriteria``), ``fit_billing``
fits, ``predict_billing`` predicts daily energy and ``billing_residuals`` feeds
``scoring.uncertainty``. Days are local dates as ``date.toordinal()``; temperatures cross the
interface in °C, the balance-point grid runs in °F as CalTRACK defines it. No numba here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit

from scoring.caltrack.rules import (
    BASELINE_LENGTH,
    BILLS_TOO_OLD,
    BIMONTHLY_DAYS,
    CDD_ONLY,
    GRID_F,
    HDD_CDD,
    HDD_ONLY,
    HIGH_CVRMSE,
    MAX_BASELINE_DAYS,
    MAX_BILL_AGE_DAYS,
    MAX_CVRMSE,
    MAX_P_VALUE,
    MIN_BASELINE_DAYS,
    MIN_COVERAGE,
    MIN_PERIODS,
    MIN_TOTAL_DD_F,
    MISSING_DAYS,
    MISSING_METER_DAYS,
    MISSING_MONTHLY_TEMPERATURE,
    MISSING_TEMPERATURE_DAYS,
    MONTHLY_DAYS,
    NO_BILLS,
    TOO_FEW_PERIODS,
    rule_names,
)
from scoring.uncertainty import Residuals

# names of the model kinds (rules.INTERCEPT_ONLY ... HDD_CDD) as CalTRACK names them
MODEL_NAMES = ("intercept_only", "hdd_only", "cdd_only", "hdd_cdd")

_CHUNK_SITES = 128  # sites fitted together (memory: sites x periods x 61 x 61)


@dataclass(frozen=True)
class BillingPeriods:
    """Baseline billing periods of S sites, padded to P periods (invalid slots masked).

    Attributes
    ----------
    start_day, end_day : array of int (S, P)
        First day and the day after the last day of each period (local date ordinals).
    energy_kwh : array (S, P)
        Billed energy of each period [kWh]; NaN in padding and dropped periods.
    ok : array of bool (S, P)
        Periods that enter the fit (on-cycle, in the baseline year, usage > 0).
    granularity : array of str (S,)
        ``"billing_monthly"``, ``"billing_bimonthly"`` or ``""`` without bills.
    offcycle : array of int (S,)
        Periods dropped as off-cycle (too short or too long for the granularity).
    reasons : array of int (S,)
        Bit flags of the rules already failed (``NO_BILLS``, ``BILLS_TOO_OLD``).
    """

    start_day: np.ndarray
    end_day: np.ndarray
    energy_kwh: np.ndarray
    ok: np.ndarray
    granularity: np.ndarray
    offcycle: np.ndarray
    reasons: np.ndarray

    @property
    def days(self) -> np.ndarray:
        """Days in each period (S, P)."""
        return self.end_day - self.start_day


@dataclass(frozen=True)
class BillingModels:
    """Fitted billing models of S sites (arrays of length S).

    Attributes
    ----------
    model_type : array of int
        Index into ``MODEL_NAMES``; -1 where nothing could be fitted.
    intercept_kwh : array
        Base load [kWh/day].
    heating_balance_c, cooling_balance_c : array
        Balance points [°C]; NaN where the model has no such term.
    heating_kwh_per_degc_day, cooling_kwh_per_degc_day : array
        Slopes [kWh/(°C·day)]; 0 where the model has no such term.
    r_squared_adj : array
        Adjusted R² of the weighted fit.
    cvrmse : array
        Weighted CV(RMSE) of the usage per day [-].
    n_periods, n_days : array of int
        Periods and their days that entered the fit.
    sufficient : array of bool
        True where no data-sufficiency rule failed.
    reasons : array of int
        Flags of the failed rules (``rules.REASON_NAMES``).
    """

    model_type: np.ndarray
    intercept_kwh: np.ndarray
    heating_balance_c: np.ndarray
    heating_kwh_per_degc_day: np.ndarray
    cooling_balance_c: np.ndarray
    cooling_kwh_per_degc_day: np.ndarray
    r_squared_adj: np.ndarray
    cvrmse: np.ndarray
    n_periods: np.ndarray
    n_days: np.ndarray
    sufficient: np.ndarray
    reasons: np.ndarray

    def reason_names(self, site: int) -> list[str]:
        """Names of the failed sufficiency rules of one site."""
        return rule_names(int(self.reasons[site]))


def billing_periods(
    bills: list[np.ndarray], before_day: int, max_bill_age_days: int = MAX_BILL_AGE_DAYS
) -> BillingPeriods:
    """Choose each site's baseline billing periods from its bills.

    Parameters
    ----------
    bills : list of S arrays (n, 3)
        Each site's bills: first day, day after the last day (local date ordinals) and energy
        [kWh]; any order. Periods shorter than 25 days (daily rows) are summed into calendar
        months first.
    before_day : int
        The competition's first day: only bills ending on or before it count.
    max_bill_age_days : int
        The last such bill must end at most this many days before ``before_day`` [days].

    Returns
    -------
    BillingPeriods

    Notes
    -----
    Following eemeter 4.1.1 ``_BillingData._compute_meter_value_df`` and
    ``clean_billing_data`` (CalTRACK 2.2.3.4/2.2.3.5): data whose median period is one day
    is summed into calendar months (a month counts only when every day of it is there); the
    granularity is monthly when the median period is at most 35 days, else bimonthly; periods
    outside 25-35 days (monthly) or 25-70 days (bimonthly), inclusive, are off-cycle and
    dropped. The baseline is the 365 days up to the end of the last bill ending on or before
    the competition's start; periods reaching further back are left out.
    """
    rows = [_as_periods(np.asarray(b, dtype=float).reshape(-1, 3)) for b in bills]
    n_sites = len(rows)
    width = max([r.shape[0] for r in rows] + [1])
    start = np.zeros((n_sites, width), dtype=np.int64)
    end = np.zeros((n_sites, width), dtype=np.int64)
    kwh = np.full((n_sites, width), np.nan)
    ok = np.zeros((n_sites, width), dtype=bool)
    granularity = np.full(n_sites, "", dtype=object)
    offcycle = np.zeros(n_sites, dtype=np.int64)
    reasons = np.zeros(n_sites, dtype=np.int64)
    for i, r in enumerate(rows):
        r = r[r[:, 1] <= before_day]
        if r.shape[0] == 0:
            reasons[i] |= NO_BILLS
            continue
        last = int(r[:, 1].max())
        if before_day - last > max_bill_age_days:
            reasons[i] |= BILLS_TOO_OLD
        r = r[r[:, 0] >= last - MAX_BASELINE_DAYS]
        days = r[:, 1] - r[:, 0]
        median = float(np.median(days))
        lo, hi = MONTHLY_DAYS if median <= MONTHLY_DAYS[1] else BIMONTHLY_DAYS
        granularity[i] = "billing_monthly" if median <= MONTHLY_DAYS[1] else "billing_bimonthly"
        on_cycle = (days >= lo) & (days <= hi)
        offcycle[i] = int((~on_cycle).sum())
        n = r.shape[0]
        start[i, :n], end[i, :n], kwh[i, :n] = r[:, 0], r[:, 1], r[:, 2]
        ok[i, :n] = on_cycle & (r[:, 2] > 0)  # zero electricity counts as missing (eemeter)
    return BillingPeriods(
        start_day=start,
        end_day=end,
        energy_kwh=np.where(ok, kwh, np.nan),
        ok=ok,
        granularity=granularity,
        offcycle=offcycle,
        reasons=reasons,
    )


def _as_periods(rows: np.ndarray) -> np.ndarray:
    """Bills sorted by start; daily rows (median under 25 days) summed into calendar months."""
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    if rows.shape[0] == 0 or np.median(rows[:, 1] - rows[:, 0]) >= MONTHLY_DAYS[0]:
        return rows
    month = _month_index(rows[:, 0].astype(np.int64))
    out = []
    for m in np.unique(month):
        part = rows[month == m]
        first, after = _month_bounds(int(m))
        days_covered = int((part[:, 1] - part[:, 0]).sum())
        if part[0, 0] == first and part[:, 1].max() == after and days_covered == after - first:
            out.append((first, after, part[:, 2].sum()))
    return np.array(out, dtype=float).reshape(-1, 3)


_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


def _month_index(days: np.ndarray) -> np.ndarray:
    dates = np.datetime64("1970-01-01", "D") + (days - _EPOCH_ORDINAL).astype("timedelta64[D]")
    return dates.astype("datetime64[M]").astype(np.int64)


def _month_bounds(month: int) -> tuple[int, int]:
    first = np.datetime64(month, "M").astype("datetime64[D]").astype(np.int64) + _EPOCH_ORDINAL
    after = np.datetime64(month + 1, "M").astype("datetime64[D]").astype(np.int64) + _EPOCH_ORDINAL
    return int(first), int(after)


def fit_billing(
    periods: BillingPeriods, temp_c: np.ndarray, day_ordinal: np.ndarray
) -> BillingModels:
    """Fit CalTRACK 2.0's billing model to every site's baseline periods.

    Parameters
    ----------
    periods : BillingPeriods
        From ``billing_periods``.
    temp_c : array (S, D) or (D,)
        Daily mean outdoor temperature [°C]; NaN where unknown.
    day_ordinal : array of int (D,)
        Consecutive local dates of the columns of ``temp_c``; must cover the periods.

    Returns
    -------
    BillingModels

    Notes
    -----
    With T_d the mean temperature of day d in °F and period i of n_i days, its usage per day
    y_i = E_i / n_i and its mean degree days per day [1]_

    .. math:: HDD_i(T_h) = \\frac{1}{n_i'} \\sum_{d \\in i} \\max(T_h - T_d, 0), \\quad
              CDD_i(T_c) = \\frac{1}{n_i'} \\sum_{d \\in i} \\max(T_d - T_c, 0)

    over the n_i' days with a temperature (a period counts when over 90 % of its days have
    one). Candidates, each by weighted least squares with weights n_i [1]_ (CalTRACK 3.4.2):
    intercept only, ``y = a + β_h HDD``, ``y = a + β_c CDD`` and ``y = a + β_h HDD + β_c CDD``
    for balance points 30-90 °F in 1 °F steps (T_h ≤ T_c). A candidate qualifies when each
    slope is positive with a two-sided p-value (Student t, n - k degrees of freedom) under 0.1
    and its degree days total at least 20 °F-days over the periods (CalTRACK 3.2.2.1, billing
    presets: no minimum count of non-zero periods). The qualifying candidate with the highest
    adjusted R² wins, R² = 1 - Σ w r² / Σ w (y - ȳ_w)², R²_adj = 1 - (1 - R²)(n - 1)/(n - k);
    the intercept-only model has R²_adj = 0, ties go to the simpler model and lower balance
    point.

    Data sufficiency (eemeter 4.1.1 ``BillingSufficiencyCriteria.check_sufficiency_baseline``):
    the span from the first to the last day of the periods with usage and temperature must be
    329-365 days; usage, temperature and both must cover at least 90 % of the span's days
    (temperature per calendar month too); off-cycle periods count as missing. A fit needs at
    least 4 periods, and its weighted CV(RMSE) of usage per day must not exceed 1 (eemeter's
    disqualification of the daily/billing fit).

    eemeter 4.1.1's ``BillingModel`` itself no longer fits this grid: it spreads each bill
    evenly over its days and fits the legacy daily optimiser to those days. This module
    follows the CalTRACK 2.0 specification instead; the data rules are eemeter's.

    References
    ----------
    .. [1] CalTRACK Technical Appendix, billing methods (CalTRACK 2.0), sections 2.2.3, 3.2,
       3.4.2, https://docs.caltrack.org
    .. [2] OpenEEmeter eemeter 4.1.1, ``eemeter.eemeter.models.billing`` and
       ``eemeter.eemeter.common.sufficiency_criteria``, https://github.com/openeemeter/eemeter
    """
    days = np.asarray(day_ordinal, dtype=np.int64)
    n_sites = periods.start_day.shape[0]
    temp = np.broadcast_to(np.asarray(temp_c, dtype=float), (n_sites, days.size))
    out = _empty(n_sites)
    reasons = periods.reasons.copy()
    if days.size == 0:
        reasons |= MISSING_TEMPERATURE_DAYS
        out["reasons"], out["sufficient"] = reasons, np.zeros(n_sites, dtype=bool)
        return BillingModels(**out)
    # index of each period's days in the temperature grid (clipped: outside means no temp)
    lo = np.clip(periods.start_day - days[0], 0, days.size)
    hi = np.clip(periods.end_day - days[0], 0, days.size)
    has_temp = np.isfinite(temp)
    temp_count = _window_sum(has_temp.astype(float), lo, hi)
    n_days = periods.days.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        temp_ok = temp_count / np.maximum(n_days, 1) > MIN_COVERAGE
    usable = periods.ok & temp_ok
    reasons |= _sufficiency(periods, usable, has_temp, days)
    counts = usable.sum(axis=1)
    reasons |= np.where(counts < MIN_PERIODS, TOO_FEW_PERIODS, 0)
    temp_f = temp * 9 / 5 + 32
    y = periods.energy_kwh / np.maximum(n_days, 1)
    for first in range(0, n_sites, _CHUNK_SITES):
        sl = slice(first, first + _CHUNK_SITES)
        params = _fit_chunk(
            temp_f[sl], has_temp[sl], lo[sl], hi[sl], temp_count[sl], y[sl], n_days[sl], usable[sl]
        )
        fit = counts[sl] >= MIN_PERIODS
        for name, value in params.items():
            out[name][sl] = np.where(fit, value, out[name][sl])
    out["n_periods"] = counts
    out["n_days"] = np.where(usable, periods.days, 0).sum(axis=1)
    reasons |= np.where(out["cvrmse"] > MAX_CVRMSE, HIGH_CVRMSE, 0)
    out["reasons"] = reasons
    out["sufficient"] = reasons == 0
    return BillingModels(**out)


def _empty(n_sites: int) -> dict[str, np.ndarray]:
    nan = np.full(n_sites, np.nan)
    return {
        "model_type": np.full(n_sites, -1, dtype=np.int64),
        "intercept_kwh": nan.copy(),
        "heating_balance_c": nan.copy(),
        "heating_kwh_per_degc_day": np.zeros(n_sites),
        "cooling_balance_c": nan.copy(),
        "cooling_kwh_per_degc_day": np.zeros(n_sites),
        "r_squared_adj": nan.copy(),
        "cvrmse": nan.copy(),
        "n_periods": np.zeros(n_sites, dtype=np.int64),
        "n_days": np.zeros(n_sites, dtype=np.int64),
        "sufficient": np.zeros(n_sites, dtype=bool),
        "reasons": np.zeros(n_sites, dtype=np.int64),
    }


def _window_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of values[s, lo:hi] (values (S, D) or (S, D, B)) for every (s, period)."""
    cum = np.concatenate([np.zeros_like(values[:, :1]), np.cumsum(values, axis=1)], axis=1)
    rows = np.arange(values.shape[0])[:, None]
    return cum[rows, hi] - cum[rows, lo]


def _sufficiency(
    periods: BillingPeriods, usable: np.ndarray, has_temp: np.ndarray, days: np.ndarray
) -> np.ndarray:
    """eemeter 4.1.1 BillingSufficiencyCriteria.check_sufficiency_baseline as bit flags."""
    n_sites = usable.shape[0]
    big = np.iinfo(np.int64).max
    first = np.where(usable, periods.start_day, big).min(axis=1)
    last = np.where(usable, periods.end_day, -big).max(axis=1)  # exclusive
    any_ok = usable.any(axis=1)
    span = np.where(any_ok, last - first, 0)
    reasons = np.where(
        (span < MIN_BASELINE_DAYS) | (span > MAX_BASELINE_DAYS), BASELINE_LENGTH, 0
    ).astype(np.int64)
    billed = np.where(periods.ok, periods.days, 0)
    both = np.where(usable, periods.days, 0)
    in_span = (days[None, :] >= first[:, None]) & (days[None, :] < last[:, None])
    temp_days = (has_temp & in_span).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        for count, bit in (
            (both.sum(axis=1), MISSING_DAYS),
            (billed.sum(axis=1), MISSING_METER_DAYS),
            (temp_days, MISSING_TEMPERATURE_DAYS),
        ):
            frac = np.where(span > 0, count / np.maximum(span, 1), 0.0)
            reasons |= np.where(frac < MIN_COVERAGE, bit, 0)
    month = _month_index(days)
    for s in range(n_sites):
        if not any_ok[s]:
            continue
        m = month[in_span[s]]
        t = has_temp[s, in_span[s]]
        if m.size:
            _, inverse = np.unique(m, return_inverse=True)
            share = np.bincount(inverse, weights=t) / np.bincount(inverse)
            if (share < MIN_COVERAGE).any():
                reasons[s] |= MISSING_MONTHLY_TEMPERATURE
    return reasons


def _fit_chunk(temp_f, has_temp, lo, hi, temp_count, y, n_days, usable) -> dict[str, np.ndarray]:
    """Grid search of one chunk of sites: (sites, periods) inputs, per-site outputs."""
    n_sites = y.shape[0]
    t = np.where(has_temp, temp_f, 0.0)[:, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        count = np.maximum(temp_count, 1)[:, :, None]
        hdd = _window_sum(np.where(has_temp[:, :, None], np.maximum(GRID_F - t, 0), 0), lo, hi)
        cdd = _window_sum(np.where(has_temp[:, :, None], np.maximum(t - GRID_F, 0), 0), lo, hi)
    hdd, cdd = hdd / count, cdd / count  # (S, P, B) mean degree days per day
    w = np.where(usable, n_days, 0.0)
    yv = np.where(usable, y, 0.0)
    n = usable.sum(axis=1).astype(float)
    wsum = np.maximum(w.sum(axis=1), 1e-300)
    ybar = (w * yv).sum(axis=1) / wsum
    yc = np.where(usable, yv - ybar[:, None], 0.0)
    syy = (w * yc**2).sum(axis=1)  # (S,)

    def centred(x):
        x = np.where(usable[:, :, None], x, 0.0)
        xbar = (w[:, :, None] * x).sum(axis=1) / wsum[:, None]
        return np.where(usable[:, :, None], x - xbar[:, None, :], 0.0)

    xh, xc = centred(hdd), centred(cdd)
    wx_h, wx_c = w[:, :, None] * xh, w[:, :, None] * xc
    shh = (wx_h * xh).sum(axis=1)  # (S, B)
    scc = (wx_c * xc).sum(axis=1)
    shy = (wx_h * yc[:, :, None]).sum(axis=1)
    scy = (wx_c * yc[:, :, None]).sum(axis=1)
    shc = np.einsum("spi,spj->sij", wx_h, xc)  # (S, Bh, Bc)
    total_h = (np.where(usable, n_days, 0)[:, :, None] * np.where(usable[:, :, None], hdd, 0)).sum(
        axis=1
    )
    total_c = (np.where(usable, n_days, 0)[:, :, None] * np.where(usable[:, :, None], cdd, 0)).sum(
        axis=1
    )

    def adj_r2(ssr, k):
        shape = (slice(None),) + (None,) * (np.ndim(ssr) - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = 1.0 - ssr / syy[shape]
            return 1.0 - (1.0 - r2) * ((n - 1) / (n - k))[shape]

    def significant(beta, var_inv, ssr, k):
        """Two-sided p < MAX_P_VALUE, as |t| above Student's t quantile (n - k d.o.f.)."""
        shape = (slice(None),) + (None,) * (np.ndim(beta) - 1)
        df = n - k
        t_crit = np.where(df >= 1, stdtrit(np.maximum(df, 1), 1 - MAX_P_VALUE / 2), np.inf)
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.sqrt(np.maximum(ssr, 0) / df[shape] * var_inv)
            return np.abs(beta) > t_crit[shape] * se

    # single-term candidates
    best_score = np.zeros(n_sites)  # intercept only: adjusted R² 0
    best = {
        "kind": np.zeros(n_sites, dtype=np.int64),
        "a": ybar.copy(),
        "bh": np.zeros(n_sites),
        "bc": np.zeros(n_sites),
        "th": np.full(n_sites, np.nan),
        "tc": np.full(n_sites, np.nan),
    }
    bar_h = _weighted_mean(hdd, w, usable, wsum)
    bar_c = _weighted_mean(cdd, w, usable, wsum)
    for kind, sxx, sxy, total, bar in (
        (HDD_ONLY, shh, shy, total_h, bar_h),
        (CDD_ONLY, scc, scy, total_c, bar_c),
    ):
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = sxy / sxx
            ssr = syy[:, None] - beta * sxy
            sig = significant(beta, 1.0 / sxx, ssr, 2)
        score = adj_r2(ssr, 2)
        good = (sxx > 1e-12) & (beta > 0) & sig & (total >= MIN_TOTAL_DD_F)
        score = np.where(good & np.isfinite(score), score, -np.inf)
        j = np.argmax(score, axis=1)
        s = score[np.arange(n_sites), j]
        better = s > best_score
        b = beta[np.arange(n_sites), j]
        a = ybar - b * bar[np.arange(n_sites), j]
        best_score = np.where(better, s, best_score)
        best["kind"] = np.where(better, kind, best["kind"])
        best["a"] = np.where(better, a, best["a"])
        key_b, key_t = ("bh", "th") if kind == HDD_ONLY else ("bc", "tc")
        best[key_b] = np.where(better, b, best[key_b])
        best[key_t] = np.where(better, GRID_F[j], best[key_t])
    # HDD + CDD candidates
    hh, cc = shh[:, :, None], scc[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        det = hh * cc - shc**2
        b_h = (cc * shy[:, :, None] - shc * scy[:, None, :]) / det
        b_c = (hh * scy[:, None, :] - shc * shy[:, :, None]) / det
        ssr = syy[:, None, None] - b_h * shy[:, :, None] - b_c * scy[:, None, :]
        sig_h = significant(b_h, cc / det, ssr, 3)
        sig_c = significant(b_c, hh / det, ssr, 3)
    score = adj_r2(ssr, 3)
    order = GRID_F[:, None] <= GRID_F[None, :]
    good = (
        order[None]
        & (det > 1e-12 * np.maximum(hh * cc, 1e-300))
        & (b_h > 0)
        & (b_c > 0)
        & sig_h
        & sig_c
        & (total_h[:, :, None] >= MIN_TOTAL_DD_F)
        & (total_c[:, None, :] >= MIN_TOTAL_DD_F)
    )
    score = np.where(good & np.isfinite(score), score, -np.inf).reshape(n_sites, -1)
    flat = np.argmax(score, axis=1)
    s = score[np.arange(n_sites), flat]
    jh, jc = np.unravel_index(flat, (GRID_F.size, GRID_F.size))
    better = s > best_score
    rows = np.arange(n_sites)
    bh, bc = b_h[rows, jh, jc], b_c[rows, jh, jc]
    a = ybar - bh * bar_h[rows, jh] - bc * bar_c[rows, jc]
    best["kind"] = np.where(better, HDD_CDD, best["kind"])
    best["a"] = np.where(better, a, best["a"])
    best["bh"] = np.where(better, bh, best["bh"])
    best["bc"] = np.where(better, bc, best["bc"])
    best["th"] = np.where(better, GRID_F[jh], best["th"])
    best["tc"] = np.where(better, GRID_F[jc], best["tc"])
    best_score = np.where(better, s, best_score)
    # the winner's residuals: weighted CV(RMSE) of usage per day
    kind = best["kind"]
    th_i = np.searchsorted(GRID_F, np.nan_to_num(best["th"]))
    tc_i = np.searchsorted(GRID_F, np.nan_to_num(best["tc"]))
    xh_w = hdd[rows, :, np.clip(th_i, 0, GRID_F.size - 1)]
    xc_w = cdd[rows, :, np.clip(tc_i, 0, GRID_F.size - 1)]
    fitted = best["a"][:, None] + best["bh"][:, None] * xh_w + best["bc"][:, None] * xc_w
    resid = np.where(usable, yv - fitted, 0.0)
    k = np.array([1, 2, 2, 3])[kind]
    with np.errstate(invalid="ignore", divide="ignore"):
        rmse = np.sqrt((w * resid**2).sum(axis=1) / wsum * n / (n - k))
        cvrmse = np.where((n > k) & (ybar > 0), rmse / ybar, np.nan)
    to_c = 5.0 / 9.0
    return {
        "model_type": kind,
        "intercept_kwh": best["a"],
        "heating_balance_c": (best["th"] - 32) * to_c,
        "heating_kwh_per_degc_day": best["bh"] / to_c,
        "cooling_balance_c": (best["tc"] - 32) * to_c,
        "cooling_kwh_per_degc_day": best["bc"] / to_c,
        "r_squared_adj": best_score,
        "cvrmse": cvrmse,
    }


def _weighted_mean(x, w, usable, wsum):
    x = np.where(usable[:, :, None], x, 0.0)
    return (w[:, :, None] * x).sum(axis=1) / wsum[:, None]


def predict_billing(models: BillingModels, temp_c: np.ndarray) -> np.ndarray:
    """Daily energy predicted by fitted billing models.

    Parameters
    ----------
    models : BillingModels
    temp_c : array (S, D') or (D',)
        Daily mean outdoor temperature [°C].

    Returns
    -------
    array (S, D')
        Predicted energy [kWh/day]; NaN where the temperature is unknown or nothing was fitted.

    Notes
    -----
    .. math:: E_d = a + \\beta_h \\max(T_h - T_d, 0) + \\beta_c \\max(T_d - T_c, 0)
    """
    n_sites = models.model_type.size
    temp = np.broadcast_to(np.asarray(temp_c, dtype=float), (n_sites, np.shape(temp_c)[-1]))
    energy = np.broadcast_to(models.intercept_kwh[:, None], temp.shape).copy()
    for balance, slope, sign in (
        (models.heating_balance_c, models.heating_kwh_per_degc_day, 1.0),
        (models.cooling_balance_c, models.cooling_kwh_per_degc_day, -1.0),
    ):
        has = np.isfinite(balance)[:, None]
        dd = np.maximum(sign * (np.nan_to_num(balance)[:, None] - temp), 0.0)
        energy = energy + np.where(has, slope[:, None] * dd, 0.0)
    fitted = (models.model_type >= 0)[:, None]
    return np.where(np.isfinite(temp) & fitted, energy, np.nan)


def billing_residuals(
    models: BillingModels, periods: BillingPeriods, temp_c: np.ndarray, day_ordinal: np.ndarray
) -> tuple[Residuals, np.ndarray]:
    """Residuals of each fitted model on its billing periods, for savings uncertainty.

    Parameters
    ----------
    models : BillingModels
    periods : BillingPeriods
    temp_c : array (S, D) or (D,)
        The daily temperatures the models were fitted with [°C].
    day_ordinal : array of int (D,)

    Returns
    -------
    residuals : Residuals
        One point per billing period, r_i = E_i - Σ_{d∈i} Ê_d [kWh] (the period's predicted
        energy from its days with a temperature, scaled to all its days).
    days_per_point : array (S,)
        Mean days per period, to express the reporting period in periods (m = days / this).
    """
    days = np.asarray(day_ordinal, dtype=np.int64)
    daily = predict_billing(models, np.broadcast_to(temp_c, (models.model_type.size, days.size)))
    lo = np.clip(periods.start_day - days[0], 0, days.size)
    hi = np.clip(periods.end_day - days[0], 0, days.size)
    known = np.isfinite(daily)
    total = _window_sum(np.where(known, daily, 0.0), lo, hi)
    count = _window_sum(known.astype(float), lo, hi)
    n_days = periods.days.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = total / count * n_days
        ok = periods.ok & (count / np.maximum(n_days, 1) > MIN_COVERAGE)
    residual = np.where(ok, periods.energy_kwh - predicted, np.nan)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(ok, periods.energy_kwh, 0).sum(axis=1) / n, np.nan)
        per_point = np.where(n > 0, np.where(ok, n_days, 0).sum(axis=1) / n, np.nan)
    params = (
        1 + 2 * np.isfinite(models.heating_balance_c) + 2 * np.isfinite(models.cooling_balance_c)
    )
    fitted = Residuals(
        residual_kwh=residual, ok=ok, mean_kwh=mean, n_params=params.astype(np.int64)
    )
    return fitted, per_point
