"""eemeter's initial guess of the CalTRACK daily (legacy) model, compiled (numba): DIRECT over
both balance points, one site per thread.

eemeter 4.1.1 (``fit_hdd_tidd_cdd``, initial guess) searches the heating and cooling balance
points with nlopt ``GN_DIRECT`` before its Subplex fits (``subplex``). ``direct_points``
follows nlopt's ``cdirect`` step for step on the unit square: the Jones diameter (rounded to
float32, as cdirect keeps it), every longest side trisected, every point of the lower convex
hull potentially optimal (magic epsilon 0), at most 199 evaluations, stopping when an iteration
improves by less than half or every divided rectangle is under 1e-3 of the range. Its
objective, ``x0_loss``, rates a pair of balance points as eemeter's ``bp_obj_fcn`` does:
eemeter's intercept, each slope by SciPy's Brent to 10 % as eemeter fits it
(``eemeter_loss.brent_slope``), the mean residual moved into the intercept, SSE plus the
balance-point penalty. The sums come from prefix sums, so each evaluation is O(log days)
instead of eemeter's O(days) per Brent step; they equal eemeter's up to rounding, which can only
matter where two points tie to about 1e-12.

Glossary
--------
Units: temperatures [°F], energy [kWh/day], slopes [kWh/(°F·day)].

=========================  ===================================================================
here                       eemeter 4.1.1 / nlopt 2.11 ``src/algs/cdirect/cdirect.c``
=========================  ===================================================================
``xa``, ``xb``             DIRECT's x: the two balance points in the order it finds them
                           (eemeter ``bp_obj_fcn`` sorts them into ``hdd_bp``, ``cdd_bp``)
``h``, ``c``               ``hdd_bp`` <= ``cdd_bp``
``a``, ``bh``, ``bc``      ``intercept``, ``hdd_beta``, ``cdd_beta`` (both slopes >= 0)
``t``, ``y``               ``T``, ``obs``: the site's days sorted by temperature
``p``                      running sums over those days: rows ``_PT`` Σ T, ``_PT2`` Σ T²,
                           ``_PY`` Σ E, ``_PY2`` Σ E², ``_PTY`` Σ T·E (prefix k: the k coldest)
``nh``, ``ncut``           days with T < h, and with T <= c; ``nc`` = days above c,
``nc``, ``nt``             ``nt`` = days between (``idx_hdd``, ``idx_tidd``, ``idx_cdd``)
``th t2h yh tyh``          Σ T, Σ T², Σ E, Σ T·E over the heating days (T < h)
``tc t2c yc tyc``          the same over the cooling days (T > c)
``sh shh shy``             Σ (h - T), Σ (h - T)², Σ (h - T)·E over the heating days
``sc scc scy``             Σ (T - c), Σ (T - c)², Σ (T - c)·E over the cooling days
``q20``                    the 20 % quantile of the energy, eemeter's last-resort intercept
``lo``, ``hi``, ``span``   the search range [T₍₁₀₎, T₍N-9₎] (eemeter ``T_bnds``)
``ux``, ``uy``             a point of the unit square (cdirect works on [0, 1]²)
``rects``                  cdirect's rectangles: centre ``_RX``, ``_RY``, trisections of each
                           side ``_RKX``, ``_RKY`` (cdirect's side widths), value ``_RF``
``w[k]``                   a side's width after k trisections
``state``                  ``minf``, the best point, ``nevals``, done, rectangle count
``pt_*``, ``hull_*``       cdirect ``convex_hull``'s points (one per size) and the hull
``_diameter``              cdirect ``rect_diameter`` (Jones)
``DIRECT_*``              eemeter's DIRECT settings (``rules``)
=========================  ===================================================================

References
----------
.. [1] D. R. Jones, C. D. Perttunen, B. E. Stuckman, "Lipschitzian optimization without the
   Lipschitz constant", J. Optim. Theory Appl. 79 (1993) 157-181.
.. [2] S. G. Johnson, The NLopt nonlinear-optimization package, version 2.11,
   ``src/algs/cdirect/cdirect.c``, https://github.com/stevengj/nlopt
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scoring.caltrack.eemeter_loss import brent_slope
from scoring.caltrack.exact_numpy import count_below, quantile
from scoring.caltrack.rules import (
    DIRECT_FTOL_REL,
    DIRECT_MAXEVAL,
    DIRECT_XTOL_REL,
    LASSO_ALPHA,
    SEGMENT_MIN_DAYS,
)

_THIRD = 0.3333333333333333333333
_TIE = 1e-12  # relative difference below which two values count as equal (eemeter's Brent)
_LEVELS = 64  # trisections of a side at most (its width 3^-k underflows long before)

# rows of the per-site prefix table: running sums over the days sorted by temperature
_PT, _PT2, _PY, _PY2, _PTY = range(5)


@njit(cache=True, error_model="numpy")
def _widths():
    """The width of a side trisected k times, as cdirect computes it (repeated products)."""
    w = np.empty(_LEVELS)
    w[0] = 1.0
    for k in range(1, _LEVELS):
        w[k] = w[k - 1] * _THIRD
    return w


@njit(cache=True, error_model="numpy")
def _diameter(wx, wy):
    """cdirect rect_diameter (Jones): half the diagonal, rounded to float32."""
    return float(np.float32(np.sqrt(wx * wx + wy * wy) * 0.5))


@njit(cache=True, error_model="numpy")
def _below(a, b):
    """a < b beyond rounding: values equal in eemeter can differ here in the last digits."""
    if np.isfinite(b):
        return a < b - _TIE * abs(b)
    return a < b


@njit(cache=True, error_model="numpy")
def _nan_min(a, b):
    """np.minimum of two scalars (NaN wins)."""
    if np.isnan(a) or np.isnan(b):
        return np.nan
    return a if a <= b else b


@njit(cache=True, error_model="numpy")
def _fmax(a, b):
    """np.fmax of two scalars (NaN loses)."""
    if np.isnan(b):
        return a
    if np.isnan(a):
        return b
    return a if a >= b else b


@njit(cache=True, error_model="numpy")
def prefix_table(t, y, n):
    """Running sums (5, n + 1) of T, T², E, E², T·E over the days sorted by temperature."""
    p = np.zeros((5, n + 1))
    st, s2, sy, syy, sty = 0.0, 0.0, 0.0, 0.0, 0.0
    for k in range(n):
        st += t[k]
        s2 += t[k] * t[k]
        sy += y[k]
        syy += y[k] * y[k]
        sty += t[k] * y[k]
        p[_PT, k + 1], p[_PT2, k + 1], p[_PY, k + 1] = st, s2, sy
        p[_PY2, k + 1], p[_PTY, k + 1] = syy, sty
    return p


@njit(cache=True, error_model="numpy")
def x0_loss(t, y, site, n, p, q20, xa, xb):
    """eemeter's initial-guess objective (hdd_tidd_cdd ``bp_obj_fcn``) of one site at balance
    points (xa, xb) [°F]: the intercept is the mean energy of the days between them, else of
    the 19 days around them, else the 20 % quantile (kept in ``q20[0]``); each slope fitted
    through it over its side's days by Brent's method to 10 % (0 where its sign is wrong);
    SSE after moving the mean residual into the intercept, plus eemeter's balance-point
    penalty. ``t[site]``,
    ``y[site]``: the days sorted by temperature; ``p``: their ``prefix_table``."""
    h, c = min(xa, xb), max(xa, xb)
    nh = count_below(t, site, n, h, True)
    ncut = count_below(t, site, n, c, False)
    nc, nt = n - ncut, ncut - nh
    th, t2h, yh, tyh = p[_PT, nh], p[_PT2, nh], p[_PY, nh], p[_PTY, nh]
    t_n, t2_n, sy, syy, ty_n = p[_PT, n], p[_PT2, n], p[_PY, n], p[_PY2, n], p[_PTY, n]
    ycut = p[_PY, ncut]
    tc = t_n - p[_PT, ncut]
    t2c = t2_n - p[_PT2, ncut]
    yc = sy - ycut
    tyc = ty_n - p[_PTY, ncut]
    sh = nh * h - th
    shh = nh * h * h - 2 * h * th + t2h
    shy = h * yh - tyh
    sc = tc - nc * c
    scc = t2c - 2 * c * tc + nc * c * c
    scy = tyc - c * yc
    # the intercept
    k = SEGMENT_MIN_DAYS
    if nt > 0:
        a = (ycut - yh) / nt
    elif nc >= k and nh >= k:
        a = (p[_PY, min(ncut + k - 1, n)] - p[_PY, max(nh - k, 0)]) / (nt + 2 * k - 1)
    else:
        if np.isnan(q20[0]):
            q20[0] = quantile(np.sort(y[site, :n]), n, 0.2)
        a = q20[0]
    # each slope as eemeter fits it: Brent's method to 10 % on the root of the side's SSE
    # through the intercept, from the side's moments (u = T - bp, v = E - a)
    vv_h = p[_PY2, nh] - 2 * a * yh + nh * a * a
    # (the work array is unused when the moments are given)
    slope = brent_slope(t[site], y[site], 0, nh, h, a, t[site], (shh, a * sh - shy, vv_h))
    bh = 0.0 if slope > 0 else -slope
    vv_c = (syy - p[_PY2, ncut]) - 2 * a * yc + nc * a * a
    slope = brent_slope(t[site], y[site], ncut, nc, c, a, t[site], (scc, scy - a * sc, vv_c))
    bc = 0.0 if slope < 0 else slope
    ss_a = n * a * a - 2 * a * sy + syy  # sum (a - y)^2
    sr2 = ss_a + bh * bh * shh + bc * bc * scc + 2 * bh * (a * sh - shy) + 2 * bc * (a * sc - scy)
    sr = n * a - sy + bh * sh + bc * sc
    sse = max(sr2 - sr * sr / n, 0.0)
    lo, hi = t[site, 0], t[site, n - 1]
    scale = np.sqrt(sse / n) / (hi - lo)
    half_gap = (xb - xa) / 2
    pa = (min(abs(xa - lo), abs(xa - hi)) + half_gap) * scale
    pb = (min(abs(xb - lo), abs(xb - hi)) + half_gap) * scale
    return sse + LASSO_ALPHA * (abs(pa) + abs(pb))


# cdirect's state (``_direct``): best value and point, evaluations, finished, rectangles
_MINF, _BEST_X, _BEST_Y, _EVALS, _DONE, _COUNT = range(6)
# rectangles (``_direct``): centre, trisections of each side, value
_RX, _RY, _RKX, _RKY, _RF = range(5)


@njit(cache=True, error_model="numpy", inline="always")
def _evaluate(t, y, site, n, p, q20, lo, span, ux, uy, state):
    """``x0_loss`` at the point (ux, uy) of the unit square, and cdirect's bookkeeping in
    ``state``: count it against the budget and keep it where it is the best so far."""
    f = x0_loss(t, y, site, n, p, q20, lo + ux * span, lo + uy * span)
    if not state[_DONE]:
        state[_EVALS] += 1
        if _below(f, state[_MINF]):
            state[_MINF], state[_BEST_X], state[_BEST_Y] = f, ux, uy
        state[_DONE] = state[_EVALS] >= DIRECT_MAXEVAL
    return f


@njit(cache=True, error_model="numpy", inline="always")
def _add(rects, state, ux, uy, kx, ky, f):
    """A new rectangle, unless the search is finished (its rectangles no longer matter)."""
    if not state[_DONE]:
        k = int(state[_COUNT])
        rects[_RX, k], rects[_RY, k], rects[_RKX, k], rects[_RKY, k], rects[_RF, k] = (
            ux,
            uy,
            kx,
            ky,
            f,
        )
        state[_COUNT] += 1


@njit(cache=True, error_model="numpy", inline="always")
def _level(rects, i):
    """How often rectangle i has been trisected, both sides together."""
    return int(rects[_RKX, i]) + int(rects[_RKY, i])


@njit(cache=True, error_model="numpy")
def _direct(t, y, site, n, lo, hi):
    """cdirect over [lo, hi]² for one site (module docstring); returns its best point."""
    w = _widths()
    p = prefix_table(t[site], y[site], n)
    q20 = np.full(1, np.nan)
    span = hi - lo
    rects = np.zeros((5, DIRECT_MAXEVAL + 1))  # one rectangle per evaluation at most
    state = np.zeros(6)
    state[_MINF] = np.inf
    # the lower hull: points per size level and the hull itself
    pt_f = np.empty(2 * _LEVELS)
    pt_i = np.empty(2 * _LEVELS, dtype=np.int64)
    pt_d = np.empty(2 * _LEVELS)
    hull_r = np.empty(2 * _LEVELS + 1, dtype=np.int64)
    hull_d = np.empty(2 * _LEVELS + 1)
    hull_f = np.empty(2 * _LEVELS + 1)
    fv = np.empty(4)
    sides = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])  # cube's new points

    f = _evaluate(t, y, site, n, p, q20, lo, span, 0.5, 0.5, state)
    _add(rects, state, 0.5, 0.5, 0, 0, f)
    first_pass = True
    while first_pass or not state[_DONE]:
        n_go = 1
        if not first_pass:
            minf0 = state[_MINF]
            count = int(state[_COUNT])
            # --- cdirect convex_hull of (diameter, value), smallest rectangles first
            top = 0
            for i in range(count):
                top = max(top, _level(rects, i))
            n_lev = top + 1
            for col in range(n_lev):
                lev = top - col
                pt_f[col], pt_i[col] = np.inf, -1
                pt_d[col] = _diameter(w[(lev + 1) // 2], w[lev // 2])
            for i in range(count):  # each level's lowest value, the first of equals
                col = top - _level(rects, i)
                if pt_i[col] < 0 or rects[_RF, i] < pt_f[col]:
                    pt_f[col], pt_i[col] = rects[_RF, i], i
            first, last = -1, -1
            for col in range(n_lev):
                if pt_i[col] >= 0:
                    if first < 0:
                        first = col
                    last = col
            xmin, ymin = pt_d[first], pt_f[first]
            minslope = (pt_f[last] - ymin) / (pt_d[last] - xmin)
            size = 1
            hull_r[0], hull_d[0], hull_f[0] = pt_i[first], xmin, ymin
            if first != last:
                for col in range(first + 1, last):
                    if pt_i[col] < 0 or pt_f[col] > ymin + (pt_d[col] - xmin) * minslope:
                        continue
                    # monotone chain: drop points that make a right turn; cdirect never
                    # drops the second hull point (its look-back stops at the first)
                    while size >= 3:
                        t1d, t1f = hull_d[size - 1], hull_f[size - 1]
                        t2d, t2f = hull_d[size - 2], hull_f[size - 2]
                        cross = (t1d - t2d) * (pt_f[col] - t2f) - (t1f - t2f) * (pt_d[col] - t2d)
                        if not cross < 0:
                            break
                        size -= 1
                    hull_r[size], hull_d[size], hull_f[size] = pt_i[col], pt_d[col], pt_f[col]
                    size += 1
                hull_r[size], hull_d[size], hull_f[size] = pt_i[last], pt_d[last], pt_f[last]
                size += 1
            n_go = size
        small = True
        for j in range(n_go):
            if first_pass:
                r = 0
            else:
                # potentially optimal: below the line to its hull neighbours, or the largest
                is_last = j + 1 >= size
                slope = -np.inf
                if j > 0:
                    slope = _fmax(slope, (hull_f[j] - hull_f[j - 1]) / (hull_d[j] - hull_d[j - 1]))
                if not is_last:
                    slope = _fmax(slope, (hull_f[j] - hull_f[j + 1]) / (hull_d[j] - hull_d[j + 1]))
                optimal = hull_f[j] - slope * hull_d[j] <= state[_MINF] or is_last
                if state[_DONE] or not optimal:
                    continue
                r = hull_r[j]
            # --- cdirect divide_rect
            kx, ky = int(rects[_RKX, r]), int(rects[_RKY, r])
            x0, y0 = rects[_RX, r], rects[_RY, r]
            if kx == ky:  # a cube: both sides, then the side with the better value first
                d = w[kx] * _THIRD
                for e in range(4):
                    fv[e] = _evaluate(
                        t, y, site, n, p, q20, lo, span,
                        x0 + sides[e, 0] * d, y0 + sides[e, 1] * d, state,
                    )  # fmt: skip
                y_first = _below(_nan_min(fv[2], fv[3]), _nan_min(fv[0], fv[1]))
                for turn in range(2):
                    along_y = y_first if turn == 0 else not y_first
                    rects[_RKY if along_y else _RKX, r] += 1
                    kx_new, ky_new = int(rects[_RKX, r]), int(rects[_RKY, r])
                    for e, sign in ((0, -1.0), (1, 1.0)):
                        if along_y:
                            ux, uy, f = x0, y0 + sign * w[ky_new], fv[2 + e]
                        else:
                            ux, uy, f = x0 + sign * w[kx_new], y0, fv[e]
                        _add(rects, state, ux, uy, kx_new, ky_new, f)
            else:  # trisect the longer side (sides differ by a factor of 3, never tie)
                along_x = kx < ky
                rects[_RKX if along_x else _RKY, r] += 1
                kx_new, ky_new = int(rects[_RKX, r]), int(rects[_RKY, r])
                for sign in (-1.0, 1.0):
                    if along_x:
                        ux, uy = x0 + sign * w[kx_new], y0
                    else:
                        ux, uy = x0, y0 + sign * w[ky_new]
                    f = _evaluate(t, y, site, n, p, q20, lo, span, ux, uy, state)
                    _add(rects, state, ux, uy, kx_new, ky_new, f)
            if not first_pass:
                # a divided rectangle shrinks; the next point's slope sees its new size
                kx_new, ky_new = int(rects[_RKX, r]), int(rects[_RKY, r])
                hull_d[j] = _diameter(w[kx_new], w[ky_new])
                small = small and w[kx_new] <= DIRECT_XTOL_REL and w[ky_new] <= DIRECT_XTOL_REL
        if not first_pass:
            minf = state[_MINF]
            change = abs(minf - minf0)
            ftol = minf < minf0 and change < DIRECT_FTOL_REL * (abs(minf) + abs(minf0)) * 0.5
            state[_DONE] = state[_DONE] or ftol or small
        first_pass = False
    return lo + state[_BEST_X] * span, lo + state[_BEST_Y] * span


@njit(cache=True, error_model="numpy", parallel=True)
def direct_points(t_sorted, y_sorted, n, lo, hi):  # pragma: no cover - compiled
    """eemeter's DIRECT point (``_direct``) of every site: days sorted by temperature as eemeter
    sorts them (sites, days), their number and the search bounds [°F] (sites,). Returns the
    two balance points (xa, xb) [°F], in the order DIRECT found them."""
    n_sites = n.size
    xa, xb = np.empty(n_sites), np.empty(n_sites)
    for s in prange(n_sites):
        xa[s], xb[s] = _direct(t_sorted, y_sorted, s, n[s], lo[s], hi[s])
    return xa, xb
