"""The CalTRACK daily model as eemeter 4.1.1 ``DailyModel(model="legacy")`` fits it: its
three optimiser steps for a chunk of sites.

eemeter 4.1.1 no longer fits CalTRACK 2.0's p-value / adjusted-R² candidate grid: it fits the
change-point model ``E = a + b_h max(h - T, 0) + b_c max(T - c, 0)`` with optimisers, and the
model kind it reports is where they stop. ``fit_legacy`` runs the same steps on the same
numbers (``daily.fit_daily``, Notes, says what each does):

1. initial guess: DIRECT over both balance points (``direct``);
2. initial fit: Subplex over all five coefficients with eemeter's elastic net (``subplex`` on
   ``eemeter_loss``), read off as eemeter reads it (``_read_off``);
3. final fit of the kind found: Subplex again, without the penalty, within each coefficient's
   order of magnitude (``_final_two_slopes``, ``_final_one_slope``).

The steps are compiled and run one site per thread; between them the chunk passes through
NumPy here.

Glossary
--------
Units: temperatures [°F], energy [kWh/day], slopes [kWh/(°F·day)].

==========================  ==================================================================
here                        eemeter 4.1.1 (``eemeter.eemeter.models.daily``)
==========================  ==================================================================
``sd``                      the chunk's days (``sorted_days.SortedDays``): ``T``, ``obs``
``xa``, ``xb``              DIRECT's two balance points, in the order it found them
``h``, ``c``                ``hdd_bp`` <= ``cdd_bp``: heating and cooling balance points
``bh``, ``bc``              ``hdd_beta``, ``cdd_beta``, both >= 0
``a``                       ``intercept``
``h0 bh0 c0 bc0 a0``        the initial fit's start (``_hdd_tidd_cdd_smooth_x0`` result)
``bp``, ``beta``            a single-slope model (``c_hdd_tidd``): ``c_hdd_bp``,
                            ``c_hdd_beta``, negative for heating
``hf bhf cf bcf``           the final fit's balance points and slopes (NaN, 0 without the term)
``x0``, ``lb``, ``ub``      eemeter's ``x0`` and ``bnds`` of an ``NLoptOptimizer`` run
``step``                    ``initial_step_percentage`` of each range, nlopt's initial step
``kind``                    the model kind (``rules.HDD_ONLY`` ...), eemeter's ``model_type``
``cap``                     the initial fit's slope bound (``maximum_slope_oom_scalar``)
``oom``                     ``10^OoM(x)``: the final fit's bound around each coefficient
``sse``                     the sum of squared residuals [kWh²]
``seg_lo``, ``seg_hi``      T₍₁₁₎ and T₍N-9₎, the final fit's balance-point bounds
``q_lo``, ``q_hi``          the 1 % and 99 % quantiles of ``obs``, the intercept's bounds
==========================  ==================================================================
"""

from __future__ import annotations

import numpy as np

from scoring.caltrack.direct import direct_points
from scoring.caltrack.eemeter_loss import (
    FIVE,
    ONE_SLOPE,
    initial_guesses,
    order_of_magnitude,
    single_slope_starts,
)
from scoring.caltrack.rules import (
    CDD_ONLY,
    HDD_CDD,
    HDD_ONLY,
    MAX_SLOPE_OOM,
    SUBPLEX_MAXEVAL,
    SUBPLEX_STEP,
    SUBPLEX_TOL,
)
from scoring.caltrack.sorted_days import SortedDays, widen_equal
from scoring.caltrack.subplex import subplex_fits


def fit_legacy(sd: SortedDays) -> dict[str, np.ndarray]:
    """Steps 1-3 (module docstring; ``daily.fit_daily``, Notes) for the sites of ``sd``, as
    ``fit_daily``'s fields."""
    h, bh, c, bc, a, sse = _initial_fit(sd, *_direct(sd))
    kind = (bh > 0) * HDD_ONLY + (bc > 0) * CDD_ONLY
    n = sd.n
    cvrmse = np.sqrt(sse / n) / (sd.y_sum / n)
    return _final_fit(sd, kind, h, c, bh, bc, a, cvrmse)


def _direct(sd: SortedDays) -> tuple[np.ndarray, np.ndarray]:
    """eemeter's initial guess: DIRECT over both breakpoints (``direct``)."""
    return direct_points(sd.t, sd.y, sd.n, sd.direct_lo, sd.direct_hi)


def _initial_fit(sd: SortedDays, xa: np.ndarray, xb: np.ndarray):
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
        cap = larger + 10 ** (np.log10(np.abs(larger)) + np.log10(MAX_SLOPE_OOM))
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


def _nlopt_fit(sd: SortedDays, x0, lb, ub, penalised: bool, sites=None, layout=FIVE):
    """eemeter's NLoptOptimizer on its loss (``subplex_fits``) from x0 within [lb, ub], for
    ``sites`` of ``sd`` (default all): x0 clipped to the bounds, initial steps 10 % of each
    range, clipped to the farther bound and turned round where they would leave the bounds.
    ``layout``: what x holds (``FIVE`` or ``ONE_SLOPE``, see ``exact_loss``). Returns the end
    points (sites, 5 or 3) and their sums of squared residuals [kWh²]."""

    x0 = np.clip(x0, lb, ub)
    step = (ub - lb) * SUBPLEX_STEP
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
        SUBPLEX_MAXEVAL,
        SUBPLEX_TOL,
        penalised,
        layout,
    )


def _final_two_slopes(sd: SortedDays, sites, h, bh, c, bc, a):
    """eemeter's final fit of the two-slope kind (``fit_final_model``): Subplex on the plain
    loss (no regularisation) from the initial fit, each coefficient within its order of
    magnitude (``10^log10 |x|``, so slopes in [0, about 2x]), balance points within
    [T₍₁₁₎, T₍N-9₎], the intercept within the 1-99 % quantiles of the energy.

    Returns (h, b_h, c, b_c, a) as eemeter reads them off (``_read_off``) and the sum of
    squared residuals."""
    x0 = np.stack([h, bh, c, bc, a], axis=1)
    lb, ub = _magnitude_bounds(x0)
    seg_lo, seg_hi = widen_equal(sd.seg_lo[sites], sd.seg_hi[sites])
    q_lo, q_hi = sd.energy_range[0][sites], sd.energy_range[1][sites]
    lb[:, 0], ub[:, 0] = seg_lo, seg_hi
    lb[:, 2], ub[:, 2] = seg_lo, seg_hi
    lb[:, 4], ub[:, 4] = q_lo, q_hi
    lb[:, [1, 3]] = np.maximum(lb[:, [1, 3]], 0.0)
    x, sse = _nlopt_fit(sd, x0, lb, ub, penalised=False, sites=sites)
    return (*_read_off(x, sd.tmin[sites], sd.tmax[sites]), sse)


def _final_one_slope(sd: SortedDays, sites, bp, beta, a):
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
    lb[:, 0], ub[:, 0] = widen_equal(seg_lo, seg_hi)
    lb[:, 0], ub[:, 0] = np.where(at_limit, end, lb[:, 0]), np.where(at_limit, end, ub[:, 0])
    lb[:, 1], ub[:, 1] = widen_equal(lb[:, 1], ub[:, 1])
    lb[:, 2], ub[:, 2] = sd.energy_range[0][sites], sd.energy_range[1][sites]
    x, sse = _nlopt_fit(sd, x0, lb, ub, penalised=False, sites=sites, layout=ONE_SLOPE)
    bp, beta, a = x.T
    return np.clip(bp, seg_lo, seg_hi), beta, a, sse  # eemeter get_full_model_x clips bp


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
