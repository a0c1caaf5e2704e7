"""eemeter's loss, start and slope search of the CalTRACK daily (legacy) model, compiled (numba).

eemeter 4.1.1 ``DailyModel(model="legacy")`` reads the model kind off where its Subplex searches
stop (``subplex``), on a flat loss short of the minimum; where they stop depends on every
rounding of the loss. So this module computes eemeter's own arithmetic to the last bit (tests
compare it with eemeter's objective and search paths):

- ``exact_loss`` on ``exact_data``: eemeter's ``obj_fcn`` (weights 1), the residuals day by
  day in date order summed as ``np.sum`` sums them, plus its elastic net
  (``elastic_net_penalty``) where the fit is penalised;
- ``initial_guess``: eemeter's start at the DIRECT point (``estimate_betas_and_intercept``,
  then the mean residual moved into the intercept), each slope by ``brent_slope``: SciPy's
  ``minimize_scalar(method="brent", tol=0.1)`` as eemeter's ``get_slope`` calls it;
- ``initial_guesses`` and ``single_slope_starts`` run the starts for all sites in parallel.

Glossary
--------
Units: temperatures [°F], energy [kWh/day], slopes [kWh/(°F·day)].

==========================  ==================================================================
here                        eemeter 4.1.1 (``eemeter.eemeter.models.daily``)
==========================  ==================================================================
``t``, ``e`` / ``obs``      ``T``, ``obs``: a site's daily mean temperatures and energy
``y``                       ``obs`` sorted by temperature (with ``t`` sorted)
``n``, ``m``                the site's valid days (``len(T)``)
``h``, ``c``                ``hdd_bp``, ``cdd_bp``: heating and cooling balance points
``bh``, ``bc``              ``hdd_beta``, ``cdd_beta``, both >= 0 (the heating term is
                            ``bh · max(h - T, 0)``)
``a``                       ``intercept``
``*_raw``                   the optimiser's x before eemeter sorts the balance points
``hb``, ``cb`` and          the same after sorting, h <= c (``full_model``'s order)
``hbeta``, ``cbeta``
``bp``, ``beta``            the single-slope model (``c_hdd_tidd``): ``c_hdd_bp``,
                            ``c_hdd_beta`` (negative: heating)
``x``                       the optimiser's x; layout ``FIVE``: [hdd_bp, hdd_beta, cdd_bp,
                            cdd_beta, intercept]; ``ONE_SLOPE``: [bp, beta, intercept];
                            ``ONE_SLOPE_FIXED``: [beta, intercept] with bp fixed
``data``                    what ``obj_fcn`` closes over, from ``exact_data``: (rows, plan,
                            n, T_min, T_max, norm_all, penalised, layout, fixed bp)
``rows``                    one table: ``_T``, ``_E`` the days in date order; ``_T_SORTED``,
                            ``_E_SORTED`` sorted by ``np.argsort(T)``; ``_HEAD_NORM``,
                            ``_TAIL_NORM`` cached std ratios; ``_WORK``, ``_PARTIAL`` scratch
``norm``                    std(T) / std(obs) of a segment, the slopes' scale in
                            ``elastic_net_penalty``
``pen_h``, ``pen_c``,       the four terms of ``elastic_net_penalty``: the balance points'
``pen_bh``, ``pen_bc``      distances to the range ends and the normalised slopes
``k``                       ``segment_minimum_count`` (``rules.SEGMENT_MIN_DAYS``)
``s``, ``moments``          ``get_slope``'s candidate slope; Σu², Σuv, Σv² (u = T - bp,
                            v = obs - a) of its segment
``xa xb xc``, ``fa fb fc``  ``scipy.optimize.bracket``'s points and values
``x w v u``, ``fx fw fv     ``scipy.optimize.Brent``'s points and values (best, second,
fu``, ``lo hi``             previous, new) and bracket
``oom``                     ``OoM(x, method="exact")``
==========================  ==================================================================
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scoring.caltrack.exact_numpy import (
    count_below,
    np_std,
    pairwise_sum,
    planned_sum,
    quantile,
    sum_plan,
)
from scoring.caltrack.rules import LASSO_ALPHA, SEGMENT_MIN_DAYS

_SLOPE_TOL = 0.1  # eemeter get_slope: minimize_scalar(method="brent", tol=0.1)
_GOLD, _TINY, _GROW = 1.618034, 1e-21, 110.0  # scipy.optimize.bracket
_CGOLD, _MINTOL, _BRENT_MAXITER = 0.3819660, 1.0e-11, 500  # scipy.optimize.Brent

# what exact_loss's x holds (exact_data)
FIVE, ONE_SLOPE, ONE_SLOPE_FIXED = 0, 1, 2

# rows of exact_data's array: the days in date order, sorted as eemeter sorts them, the std
# ratios of the segments by their end (head) or start (tail), scratch, partial sums
_T, _E, _T_SORTED, _E_SORTED, _HEAD_NORM, _TAIL_NORM, _WORK, _PARTIAL = range(8)


@njit(cache=True, error_model="numpy")
def exact_data(t_date, y_date, t_sorted, y_sorted, m, penalised, layout, fixed_bp):
    """``exact_loss``'s data of one site: its m days in date order and sorted by temperature
    as eemeter sorts them (np.argsort of the date-ordered temperatures), with the elastic net
    or without, what x holds (``FIVE``, ``ONE_SLOPE``, ``ONE_SLOPE_FIXED``) and the fixed
    balance point of ``ONE_SLOPE_FIXED`` [°F]."""
    # one array for all of them: numba counts references to each array a call passes
    rows = np.full((8, m + 1), np.nan)
    rows[_T, :m], rows[_E, :m] = t_date[:m], y_date[:m]
    rows[_T_SORTED, :m], rows[_E_SORTED, :m] = t_sorted[:m], y_sorted[:m]
    ts, ys, work = rows[_T_SORTED, :m], rows[_E_SORTED, :m], rows[_WORK]
    norm_all = np_std(ts, 0, m, work) / np_std(ys, 0, m, work)
    return (rows, sum_plan(m), m, ts[0], ts[m - 1], norm_all, penalised, layout, fixed_bp)


@njit(cache=True, error_model="numpy")
def _norm(rows, cache, start, n, slot):
    """std(T) / std(E) of the sorted days start..start + n, kept in ``rows[cache, slot]``."""
    v = rows[cache, slot]
    if np.isnan(v):
        ts, ys, work = rows[_T_SORTED], rows[_E_SORTED], rows[_WORK]
        v = np_std(ts, start, n, work) / np_std(ys, start, n, work)
        rows[cache, slot] = v
    return v


@njit(cache=True, error_model="numpy")
def _day_residual(t, e, neg_hbeta, hb, cbeta, cb, a):
    """eemeter's full_model (no smoothing) minus the energy, of one day at temperature t [°F]
    with energy e: hb <= cb the balance points [°F], -neg_hbeta and cbeta the slopes, a the
    intercept.

    eemeter computes ``beta (T - bp) + a`` with the heating slope (negated) and balance
    point where T < hb, the cooling ones where T > cb, and the intercept alone elsewhere (also
    where hb = cb is at the end of the range: those days have T = bp, whose term is 0). Here
    ``-hbeta min(T - hb, 0) + cbeta max(T - cb, 0)``: the same term plus an exact 0 for the
    other side, so the same bits, without a branch or select per day (twice as fast)."""
    return ((neg_hbeta * min(t - hb, 0.0) + cbeta * max(t - cb, 0.0)) + a) - e


@njit(cache=True, error_model="numpy")
def _residuals(t, obs, n, hb, hbeta, cb, cbeta, a, out):
    """``_day_residual`` of the first n days into ``out``."""
    neg_hbeta = -hbeta
    for i in range(n):
        out[i] = _day_residual(t[i], obs[i], neg_hbeta, hb, cbeta, cb, a)


@njit(cache=True, error_model="numpy", inline="always")
def exact_loss(x, data):
    """eemeter's loss (``obj_fcn``, weights 1) of one site at x [°F, kWh/(°F·day), kWh/day]:
    SSE / N plus, where ``data`` says so, eemeter's elastic net (0.001 times the breakpoints'
    distances to the range ends and the slopes normalised by std(T) / std(E) of their
    segments, 1e30 times a slope whose segment has under 10 days). ``data`` (``exact_data``)
    also says what x holds: (hdd_bp, hdd_beta, cdd_bp, cdd_beta, intercept), breakpoints in
    either order (``FIVE``); eemeter's single-slope (c_hdd_tidd) model (bp, beta, intercept),
    beta < 0 heating (``ONE_SLOPE``); or (beta, intercept) with bp fixed (``ONE_SLOPE_FIXED``).
    """
    layout = data[7]
    if layout == FIVE:
        h, bh, c, bc, a = x[0], x[1], x[2], x[3], x[4]
    else:
        if layout == ONE_SLOPE:
            bp, beta, a = x[0], x[1], x[2]
        else:
            bp, beta, a = data[8], x[0], x[1]
        # eemeter set_full_model_coeffs: a negative slope heats, any other cools
        heat = beta < 0
        h, bh, c, bc = bp, -beta if heat else 0.0, bp, 0.0 if heat else beta
    return _loss5(h, bh, c, bc, a, data)


@njit(cache=True, error_model="numpy")
def _loss5(h_raw, bh_raw, c_raw, bc_raw, a, data):
    """``exact_loss`` at (hdd_bp, hdd_beta, cdd_bp, cdd_beta, intercept)."""
    rows, plan, n, tmin, tmax, norm_all, penalised = data[:7]
    # eemeter full_model, then resid**2 and np.sum; rows indexed in place, not by views
    if c_raw < h_raw:
        hb, hbeta, cb, cbeta = c_raw, bc_raw, h_raw, bh_raw
    else:
        hb, hbeta, cb, cbeta = h_raw, bh_raw, c_raw, bc_raw
    neg_hbeta = -hbeta
    i, end, u1 = np.uint64(0), np.uint64(n), np.uint64(1)  # unsigned, as in planned_sum
    while i < end:
        r = _day_residual(rows[_T, i], rows[_E, i], neg_hbeta, hb, cbeta, cb, a)
        rows[_WORK, i] = r * r
        i += u1
    loss = planned_sum(rows, _WORK, plan) / n
    if not penalised:  # the final fit: no regularisation
        return loss
    # elastic net, as eemeter's elastic_net_penalty computes it
    scale = np.sqrt(loss) / (tmax - tmin)
    half = (c_raw - h_raw) / 2
    pen_h = (min(abs(h_raw - tmin), abs(h_raw - tmax)) + half) * scale
    pen_c = (min(abs(c_raw - tmin), abs(c_raw - tmax)) + half) * scale
    left_h = count_below(rows, _T_SORTED, n, h_raw, True)
    right_c = count_below(rows, _T_SORTED, n, c_raw, False)
    k = SEGMENT_MIN_DAYS
    len_h, len_c = left_h, n - right_c
    len_t = max(right_c - left_h, 0)
    end_h = left_h + (len_t if len_h < k and len_c >= k else 0)
    start_c = right_c - (len_t if len_h >= k and len_c < k else 0)
    size_c = n - start_c
    split = end_h >= k and size_c >= k
    norm_h = norm_c = norm_all
    if split:
        norm_h, norm_c = rows[_HEAD_NORM, end_h], rows[_TAIL_NORM, start_c]
        if np.isnan(norm_h):  # computed once per segment (a call costs reference counts)
            norm_h = _norm(rows, _HEAD_NORM, 0, end_h, end_h)
        if np.isnan(norm_c):
            norm_c = _norm(rows, _TAIL_NORM, start_c, size_c, start_c)
    pen_bh = bh_raw * norm_h
    if (len_h if split else len_t) < k:
        pen_bh = pen_bh * 1e30
    pen_bc = bc_raw * norm_c
    if (len_c if split else len_t) < k:
        pen_bc = pen_bc * 1e30
    return loss + LASSO_ALPHA * (abs(pen_h) + abs(pen_bh) + abs(pen_c) + abs(pen_bc))


@njit(cache=True, error_model="numpy")
def _slope_loss(s, t, y, start, n, bp, a, work, moments):
    """eemeter ``get_slope``'s objective: sqrt(np.sum((y - (s (t - bp) + a))**2)) over the
    days start..start + n of the sorted arrays; or, given the segment's ``moments``
    (Σu², Σuv, Σv² with u = T - bp, v = E - a), the same from them in O(1) (equal up to
    rounding, for DIRECT's many evaluations)."""
    if moments is not None:
        uu, uv, vv = moments
        return np.sqrt(max(vv - 2 * s * uv + s * s * uu, 0.0))
    for i in range(n):
        r = y[start + i] - (s * (t[start + i] - bp) + a)
        work[i] = r * r
    return np.sqrt(pairwise_sum(work, 0, n))


@njit(cache=True, error_model="numpy")
def brent_slope(t, y, start, n, bp, a, work, moments=None):
    """``minimize_scalar(slope_loss, method="brent", tol=0.1).x`` as SciPy computes it
    (``bracket`` from 0 and 1, then ``Brent.optimize``; where no valid bracket is found, the
    best of the three bracket points, as ``minimize_scalar`` returns it). ``moments``: see
    ``_slope_loss``."""
    xa, xb = 0.0, 1.0
    fa = _slope_loss(xa, t, y, start, n, bp, a, work, moments)
    fb = _slope_loss(xb, t, y, start, n, bp, a, work, moments)
    if fa < fb:
        xa, xb = xb, xa
        fa, fb = fb, fa
    xc = xb + _GOLD * (xb - xa)
    fc = _slope_loss(xc, t, y, start, n, bp, a, work, moments)
    while fc < fb:
        tmp1 = (xb - xa) * (fb - fc)
        tmp2 = (xb - xc) * (fb - fa)
        val = tmp2 - tmp1
        denom = 2.0 * _TINY if abs(val) < _TINY else 2.0 * val
        w = xb - ((xb - xc) * tmp2 - (xb - xa) * tmp1) / denom
        wlim = xb + _GROW * (xc - xb)
        if (w - xc) * (xb - w) > 0.0:
            fw = _slope_loss(w, t, y, start, n, bp, a, work, moments)
            if fw < fc:  # minimum between b and c
                xa, xb = xb, w
                fa, fb = fb, fw
                break
            if fw > fb:  # minimum between a and w
                xc, fc = w, fw
                break
            w = xc + _GOLD * (xc - xb)
            fw = _slope_loss(w, t, y, start, n, bp, a, work, moments)
        elif (w - wlim) * (wlim - xc) >= 0.0:
            w = wlim
            fw = _slope_loss(w, t, y, start, n, bp, a, work, moments)
        elif (w - wlim) * (xc - w) > 0.0:
            fw = _slope_loss(w, t, y, start, n, bp, a, work, moments)
            if fw < fc:
                xb, xc = xc, w
                w = xc + _GOLD * (xc - xb)
                fb, fc = fc, fw
                fw = _slope_loss(w, t, y, start, n, bp, a, work, moments)
        else:
            w = xc + _GOLD * (xc - xb)
            fw = _slope_loss(w, t, y, start, n, bp, a, work, moments)
        xa, xb, xc = xb, xc, w
        fa, fb, fc = fb, fc, fw
    valid = ((fb < fc and fb <= fa) or (fb < fa and fb <= fc)) and (
        (xa < xb and xb < xc) or (xc < xb and xb < xa)
    )
    valid = valid and np.isfinite(xa) and np.isfinite(xb) and np.isfinite(xc)
    if not valid:  # no bracket: the best of the three points (the first of equals)
        if fa <= fb and fa <= fc:
            return xa
        return xb if fb <= fc else xc

    x = w = v = xb
    fx = fw = fv = fb
    lo, hi = min(xa, xc), max(xa, xc)
    deltax = 0.0
    rat = 0.0
    for _ in range(_BRENT_MAXITER):
        tol1 = _SLOPE_TOL * abs(x) + _MINTOL
        tol2 = 2.0 * tol1
        xmid = 0.5 * (lo + hi)
        if abs(x - xmid) < (tol2 - 0.5 * (hi - lo)):
            break
        if abs(deltax) <= tol1:
            deltax = lo - x if x >= xmid else hi - x
            rat = _CGOLD * deltax
        else:
            tmp1 = (x - w) * (fx - fv)
            tmp2 = (x - v) * (fx - fw)
            p = (x - v) * tmp2 - (x - w) * tmp1
            tmp2 = 2.0 * (tmp2 - tmp1)
            if tmp2 > 0.0:
                p = -p
            tmp2 = abs(tmp2)
            dx_temp = deltax
            deltax = rat
            if p > tmp2 * (lo - x) and p < tmp2 * (hi - x) and abs(p) < abs(0.5 * tmp2 * dx_temp):
                rat = p * 1.0 / tmp2
                u = x + rat
                if (u - lo) < tol2 or (hi - u) < tol2:
                    rat = tol1 if xmid - x >= 0 else -tol1
            else:
                deltax = lo - x if x >= xmid else hi - x
                rat = _CGOLD * deltax
        u = x + rat
        if abs(rat) < tol1:
            u = x + tol1 if rat >= 0 else x - tol1
        fu = _slope_loss(u, t, y, start, n, bp, a, work, moments)
        if fu > fx:
            if u < x:
                lo = u
            else:
                hi = u
            if fu <= fw or w == x:
                v, w = w, u
                fv, fw = fw, fu
            elif fu <= fv or v in (x, w):
                v, fv = u, fu
        else:
            if u >= x:
                lo = x
            else:
                hi = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
    return x


@njit(cache=True, error_model="numpy")
def initial_guess(t, y, n, h, c, work):
    """eemeter's start for the initial fit at the DIRECT point h <= c [°F] of one site
    (``estimate_betas_and_intercept``, then the mean residual into the intercept), from its
    days sorted by temperature as eemeter sorts them. Returns (h, b_h, c, b_c, intercept)."""
    k = SEGMENT_MIN_DAYS
    n_heat = np.searchsorted(t[:n], h, side="left")  # T < h
    upto_c = np.searchsorted(t[:n], c, side="right")  # T <= c
    if upto_c > n_heat:  # days h <= T <= c: their mean
        a = pairwise_sum(y, n_heat, upto_c - n_heat) / (upto_c - n_heat)
    elif n - upto_c >= k and n_heat >= k and (upto_c + k - 1) - (n_heat - k) > 0:
        m = (upto_c + k - 1) - (n_heat - k)
        a = pairwise_sum(y, n_heat - k, m) / m
    else:
        a = quantile(np.sort(y[:n]), n, 0.2)
    slope_h = brent_slope(t, y, 0, n_heat, h, a, work)
    slope_c = brent_slope(t, y, upto_c, n - upto_c, c, a, work)
    bh = 0.0 if slope_h > 0 else -slope_h
    bc = 0.0 if slope_c < 0 else slope_c
    # eemeter's full_model on the sorted days, then np.mean(model - obs)
    _residuals(t, y, n, h, bh, c, bc, a, work)
    return h, bh, c, bc, a + pairwise_sum(work, 0, n) / n


@njit(cache=True, error_model="numpy", parallel=True)
def initial_guesses(t_sorted, y_sorted, n, h, c):  # pragma: no cover - compiled
    """``initial_guess`` of every site (arrays (sites, days) and (sites,)), in parallel.
    Returns x0 (sites, 5)."""
    n_sites = n.size
    out = np.empty((n_sites, 5))
    for s in prange(n_sites):
        work = np.empty(n[s])
        out[s] = initial_guess(t_sorted[s], y_sorted[s], n[s], h[s], c[s], work)
    return out


@njit(cache=True, error_model="numpy", parallel=True)
def single_slope_starts(t_date, y_date, n, sites, x0):  # pragma: no cover - compiled
    """eemeter's start of the single-slope final fit (``_c_hdd_tidd_x0_final``) from the
    initial fit's (bp, beta, intercept) of each of the given sites (k, 3): the slope again by
    Brent's method to 10 % through the intercept, over the days with T <= bp (heating,
    beta < 0) or T >= bp (cooling) in date order, where there are at least 10."""
    out = x0.copy()
    for s in prange(x0.shape[0]):
        i = sites[s]
        m = n[i]
        bp, beta, a = x0[s, 0], x0[s, 1], x0[s, 2]
        t, y = t_date[i, :m], y_date[i, :m]
        days = np.flatnonzero(t <= bp) if beta < 0 else np.flatnonzero(t >= bp)
        if days.size >= SEGMENT_MIN_DAYS:
            out[s, 1] = brent_slope(t[days], y[days], 0, days.size, bp, a, np.empty(days.size))
    return out


@njit(cache=True, error_model="numpy")
def order_of_magnitude(x):  # pragma: no cover - compiled
    """eemeter ``OoM(x, method="exact")``: log10 |x| (1 where x is 0), computed as eemeter's
    numba code computes it."""
    out = np.empty_like(x)
    for i in range(x.size):
        out.flat[i] = 1.0 if x.flat[i] == 0.0 else np.log10(np.abs(x.flat[i]))
    return out
