"""eemeter's optimiser steps of the CalTRACK daily model, compiled (numba), for each site.

eemeter 4.1.1 ``DailyModel(model="legacy")`` decides the model kind by where two searches stop:
the initial fit (nlopt Subplex over both balance points, both slopes and the intercept, with an
elastic-net penalty) and the final fit of the kind it found (Subplex again, without penalty);
a slope still non-zero there is a term of the model. The searches stop short of the minimum on a
flat loss, and where they stop depends on every rounding of the loss. So this module does
eemeter's own arithmetic, to the last bit (tests compare it with eemeter's objective and paths):

- ``initial_guess``: eemeter's start at the DIRECT point: the intercept (mean of the days
  between the balance points, else of the 19 around them, else the 20 % quantile), each slope
  by SciPy's Brent to 10 % (``_brent_slope``), the mean residual moved into the intercept;
- ``exact_loss``: the loss, residuals day by day in date order summed as numpy sums
  (``pairwise_sum``), the penalty's standard deviations as ``np.std`` computes them;
- ``minimize``: nlopt 2.11's Subplex (``LN_SBPLX``: Nelder-Mead on subspaces of 2 to 5
  coordinates picked by the latest progress, bounds by pinning reflected points);
- ``initial_guesses``, ``subplex_fits`` and ``single_slope_starts`` (the single-slope final
  fit's restart) run them for all sites, in parallel.

The functions call ``exact_loss`` by name rather than taking the objective as an argument:
numba cannot cache a function that takes another one, and compiling this module takes about a
minute (once per machine: numba caches it in ``__pycache__``).

References
----------
.. [1] T. H. Rowan, "Functional stability analysis of numerical algorithms", PhD thesis,
   University of Texas at Austin, 1990.
.. [2] S. G. Johnson, The NLopt nonlinear-optimization package, version 2.11,
   ``src/algs/neldermead/sbplx.c`` and ``nldrmd.c``, https://github.com/stevengj/nlopt
.. [3] R. P. Brent, "Algorithms for Minimization without Derivatives", Prentice-Hall, 1973.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_LASSO = 0.001  # eemeter regularization_alpha (percent lasso 1)
_SEGMENT_MIN_DAYS = 10  # eemeter segment_minimum_count
_SLOPE_TOL = 0.1  # eemeter get_slope: minimize_scalar(method="brent", tol=0.1)
_GOLD, _TINY, _GROW = 1.618034, 1e-21, 110.0  # scipy.optimize.bracket
_CGOLD, _MINTOL, _BRENT_MAXITER = 0.3819660, 1.0e-11, 500  # scipy.optimize.Brent

# nlopt sbplx.c / nldrmd.c constants
_PSI, _OMEGA = 0.25, 0.1
_NSMIN, _NSMAX = 2, 5

# what exact_loss's x holds (exact_data)
FIVE, ONE_SLOPE, ONE_SLOPE_FIXED = 0, 1, 2

# rows of exact_data's array: the days in date order, sorted as eemeter sorts them, the std
# ratios of the segments by their end (head) or start (tail), scratch, partial sums
_T, _E, _T_SORTED, _E_SORTED, _HEAD_NORM, _TAIL_NORM, _WORK, _PARTIAL = range(8)

# how a Nelder-Mead run on a subspace ended
_CONVERGED, _FAILED, _BUDGET = 0, 1, 2


@intrinsic
def _void_pointer(typingctx, address):
    """The integer address as a void pointer (for ``carray``)."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@njit(cache=True)
def _unowned(a):
    """A view of the C-contiguous array a that numba keeps no reference count for: numba
    counts references to every array it passes or views, atomically, which was a fifth of
    the Subplex time. The view must not outlive a (callers keep a as an argument)."""
    return carray(_void_pointer(a.ctypes.data), a.shape, a.dtype)


@njit(cache=True, error_model="numpy")
def _leaf_sum(a, start, n):
    """numpy's pairwise_sum of a[start:start + n] for n <= 128: 8 accumulators, then the rest
    one by one.

    Hot, so written for what numba makes of it: unsigned indices (uint64 throughout, as numba
    turns sums with plain integer constants back into int64), since numba checks a signed
    index for wrap-around at every access, which made this three times slower."""
    u1, u2, u3, u4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
    u5, u6, u7, u8 = np.uint64(5), np.uint64(6), np.uint64(7), np.uint64(8)
    j, m = np.uint64(start), np.uint64(n)
    end = j + m
    res = 0.0
    if m >= u8:
        r0, r1, r2, r3 = a[j], a[j + u1], a[j + u2], a[j + u3]
        r4, r5, r6, r7 = a[j + u4], a[j + u5], a[j + u6], a[j + u7]
        stop = end - m % u8
        j += u8
        while j < stop:
            r0 += a[j]
            r1 += a[j + u1]
            r2 += a[j + u2]
            r3 += a[j + u3]
            r4 += a[j + u4]
            r5 += a[j + u5]
            r6 += a[j + u6]
            r7 += a[j + u7]
            j += u8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while j < end:
        res += a[j]
        j += u1
    return res


@njit(cache=True, error_model="numpy")
def _sum1(a, start, n):
    """One level of numpy's pairwise summation of a[start:start + n]."""
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _leaf_sum(a, start, n2) + _leaf_sum(a, start + n2, n - n2)


@njit(cache=True, error_model="numpy")
def _sum2(a, start, n):
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum1(a, start, n2) + _sum1(a, start + n2, n - n2)


@njit(cache=True, error_model="numpy")
def _sum3(a, start, n):
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum2(a, start, n2) + _sum2(a, start + n2, n - n2)


@njit(cache=True, error_model="numpy")
def _sum4(a, start, n):
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum3(a, start, n2) + _sum3(a, start + n2, n - n2)


@njit(cache=True, error_model="numpy")
def _sum5(a, start, n):
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum4(a, start, n2) + _sum4(a, start + n2, n - n2)


# np.sum of float64: halves (rounded down to a multiple of 8) until a block is at most 128 long;
# numba cannot cache recursion, so five levels are written out (exact up to about 4,000 days)
pairwise_sum = _sum5


@njit(cache=True, error_model="numpy")
def sum_plan(n):
    """numpy's pairwise summation of n values as a plan for ``planned_sum``: the blocks it sums
    one by one (start, length), in order, and how many pairs of partial sums it adds after
    each block: (3, blocks). The same tree as ``pairwise_sum``, walked
    without calls (measured: the nested calls cost three times the additions)."""
    starts = np.zeros(n // 64 + 2, dtype=np.int64)
    sizes = np.zeros_like(starts)
    merges = np.zeros_like(starts)
    stack_s = np.zeros(64, dtype=np.int64)  # (start, length, children done) of open blocks
    stack_n = np.zeros_like(stack_s)
    stack_done = np.zeros_like(stack_s)
    stack_n[0] = n
    depth, blocks = 1, 0
    while depth:
        depth -= 1
        s, m, done = stack_s[depth], stack_n[depth], stack_done[depth]
        if done:  # both halves summed: add them
            merges[blocks - 1] += 1
        elif m <= 128:
            starts[blocks], sizes[blocks] = s, m
            blocks += 1
        else:  # the pair, then the second half, then the first half on top
            half = m // 2
            half -= half % 8
            stack_s[depth], stack_n[depth], stack_done[depth] = s, m, 1
            stack_s[depth + 1], stack_n[depth + 1], stack_done[depth + 1] = s + half, m - half, 0
            stack_s[depth + 2], stack_n[depth + 2], stack_done[depth + 2] = s, half, 0
            depth += 3
    plan = np.empty((3, blocks), dtype=np.int64)
    plan[0], plan[1], plan[2] = starts[:blocks], sizes[:blocks], merges[:blocks]
    return plan


@njit(cache=True, error_model="numpy", inline="always")
def planned_sum(rows, row, plan):
    """``pairwise_sum(rows[row], 0, n)`` by the plan of n (``sum_plan``), to the last bit;
    the partial sums go to ``rows[-1]`` (at least one per block). Inside Subplex the table
    is reference-count free (``_unowned``), so its row views cost nothing."""
    a, partial = rows[row], rows[rows.shape[0] - 1]
    depth = 0
    for b in range(plan.shape[1]):
        partial[depth] = _leaf_sum(a, plan[0, b], plan[1, b])
        depth += 1
        for _ in range(plan[2, b]):
            depth -= 1
            partial[depth - 1] = partial[depth - 1] + partial[depth]
    return partial[0]


@njit(cache=True, error_model="numpy")
def np_std(x, start, n, work):
    """np.std(x[start:start + n]) to the last bit (mean, squared deviations, their mean)."""
    mean = pairwise_sum(x, start, n) / n
    for i in range(n):
        d = x[start + i] - mean
        work[i] = d * d
    return np.sqrt(pairwise_sum(work, 0, n) / n)


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
def _count_below(rows, row, n, x, strict):
    """The number of rows[row, :n] (sorted) that are < x (strict) or <= x: np.searchsorted
    with side "left" or "right", by a binary search without branches."""
    base, size = np.uint64(0), np.uint64(n)
    u1, u2 = np.uint64(1), np.uint64(2)
    while size > u1:
        half = size // u2
        v = rows[row, base + half - u1]
        base = base + half if (v < x if strict else v <= x) else base
        size -= half
    if size == u1:
        v = rows[row, base]
        base += u1 if (v < x if strict else v <= x) else np.uint64(0)
    return np.int64(base)


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
    left_h = _count_below(rows, _T_SORTED, n, h_raw, True)
    right_c = _count_below(rows, _T_SORTED, n, c_raw, False)
    k = _SEGMENT_MIN_DAYS
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
    return loss + _LASSO * (abs(pen_h) + abs(pen_bh) + abs(pen_c) + abs(pen_bc))


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
def _brent_slope(t, y, start, n, bp, a, work, moments=None):
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
def quantile(ys, n, q):
    """np.quantile(ys[:n], q) (method "linear") of sorted ys, to the last bit (NumPy 2.4:
    the virtual index (n - 1) q, between the values below and above it)."""
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    gamma = virtual - prev
    i = min(max(int(prev), 0), n - 1)
    j = n - 1 if virtual >= n - 1 else min(max(int(prev) + 1, 0), n - 1)
    a, b = ys[i], ys[j]
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1 - gamma)
    return a + diff * gamma


@njit(cache=True, error_model="numpy")
def initial_guess(t, y, n, h, c, work):
    """eemeter's start for the initial fit at the DIRECT point h <= c [°F] of one site
    (``estimate_betas_and_intercept``, then the mean residual into the intercept), from its
    days sorted by temperature as eemeter sorts them. Returns (h, b_h, c, b_c, intercept)."""
    k = _SEGMENT_MIN_DAYS
    n_heat = np.searchsorted(t[:n], h, side="left")  # T < h
    upto_c = np.searchsorted(t[:n], c, side="right")  # T <= c
    if upto_c > n_heat:  # days h <= T <= c: their mean
        a = pairwise_sum(y, n_heat, upto_c - n_heat) / (upto_c - n_heat)
    elif n - upto_c >= k and n_heat >= k and (upto_c + k - 1) - (n_heat - k) > 0:
        m = (upto_c + k - 1) - (n_heat - k)
        a = pairwise_sum(y, n_heat - k, m) / m
    else:
        a = quantile(np.sort(y[:n]), n, 0.2)
    slope_h = _brent_slope(t, y, 0, n_heat, h, a, work)
    slope_c = _brent_slope(t, y, upto_c, n - upto_c, c, a, work)
    bh = 0.0 if slope_h > 0 else -slope_h
    bc = 0.0 if slope_c < 0 else slope_c
    # eemeter's full_model on the sorted days, then np.mean(model - obs)
    _residuals(t, y, n, h, bh, c, bc, a, work)
    return h, bh, c, bc, a + pairwise_sum(work, 0, n) / n


@njit(cache=True)
def _width(n):
    """The largest subspace sbplx forms in n dimensions."""
    return n if n <= _NSMIN else max(_NSMIN, min(_NSMAX, n - _NSMIN))


@njit(cache=True, error_model="numpy")
def _close(a, b):
    """nldrmd ``close``: equal up to floating-point precision."""
    return abs(a - b) <= 1e-13 * (abs(a) + abs(b))


@njit(cache=True, error_model="numpy")
def _reflect(ws, c, scale, old, lb, ub, ns, out):
    """nldrmd ``reflectpt`` of the rows of the workspace ``ws`` (``_nelder_mead``): row
    ``out`` (not ``old``) becomes c + scale (c - old) pinned to the bounds. True where the new
    point differs from both c and old."""
    same_c = True
    same_old = True
    for j in range(ns):
        v = ws[c, j] + scale * (ws[c, j] - ws[old, j])
        # np.minimum(np.maximum(v, lb), ub), NaN passing through as in numpy
        if v < lb[j]:
            v = lb[j]
        if v > ub[j]:
            v = ub[j]
        ws[out, j] = v
        same_c = same_c and _close(v, ws[c, j])
        same_old = same_old and _close(v, ws[old, j])
    return not (same_c or same_old)


@njit(cache=True, error_model="numpy", inline="always")
def _evaluate(data, point, idx, ns, ws, row, xs, best, maxeval):
    """The loss at ``point`` with the subspace coordinates ``idx[:ns]`` set to ``ws[row]``,
    and nldrmd's CHECK_EVAL: count it in ``best`` = [best value, evaluations], and where it is
    no worse keep it there and the point in xs. Returns (the loss, whether the budget is
    spent)."""
    for j in range(ns):
        point[idx[j]] = ws[row, j]
    f = exact_loss(point, data)
    best[1] += 1
    if f <= best[0]:
        best[0] = f
        for j in range(ns):
            xs[j] = ws[row, j]
    return f, best[1] >= maxeval


@njit(cache=True, error_model="numpy")
def _copy_row(ws, src, dst, ns):
    for j in range(ns):
        ws[dst, j] = ws[src, j]


@njit(cache=True, error_model="numpy")
def _nelder_mead(data, point, idx, ns, xs, step, lbs, ubs, best, maxeval, ws):
    """nlopt ``nldrmd_minimize_`` on one subspace, from xs with value ``best[0]``.

    ``point`` holds the full x (other coordinates fixed); xs becomes the best point found,
    ``best`` = [its value, evaluations so far]. ``ws``: a workspace of at least (ns + 4, ns)
    whose rows 0..ns hold the simplex and its values the last column (numba counts references
    to every view, atomically, and allocates slowly in threads, so the rows are passed by
    number). Returns (how it ended, the last f spread).
    """
    m = ns + 1
    val = ws.shape[1] - 1  # the column of each vertex's value
    c, xcur, tmp = m, m + 1, m + 2  # rows: centroid, trial point, second trial point
    for j in range(ns):
        ws[0, j] = xs[j]
    ws[0, val] = best[0]
    init_diam = 0.0
    fdiff = np.inf

    # the initial simplex: one step along each coordinate, from the best point so far
    for k in range(ns):
        xi = xs[k]
        size = abs(step[k])
        lo_b, up_b = lbs[k], ubs[k]
        v = xi + step[k]
        if v > up_b:
            v = up_b if up_b - xi > size * 0.1 else xi - size
        if v < lo_b:
            if xi - lo_b > size * 0.1:
                v = lo_b
            else:
                alt = xi + size
                if alt > up_b:
                    alt = 0.5 * ((up_b if up_b - xi > xi - lo_b else lo_b) + xi)
                v = alt
        for j in range(ns):
            ws[k + 1, j] = xs[j]
        ws[k + 1, k] = v
        if _close(v, xi):
            return _FAILED, fdiff
        f, spent = _evaluate(data, point, idx, ns, ws, k + 1, xs, best, maxeval)
        if spent:
            return _BUDGET, fdiff
        ws[k + 1, val] = f

    while True:
        # best point: the first lowest; worst: the last highest (nlopt's tree order)
        lo, hi = 0, 0
        for i in range(1, m):
            if ws[i, val] < ws[lo, val]:
                lo = i
            if ws[i, val] >= ws[hi, val]:
                hi = i
        fdiff = ws[hi, val] - ws[lo, val]
        diam = 0.0
        for j in range(ns):
            diam = diam + abs(ws[lo, j] - ws[hi, j])
        if init_diam == 0:
            init_diam = diam
        for j in range(ns):
            ws[c, j] = 0.0
        for i in range(m):
            if i != hi:
                for j in range(ns):
                    ws[c, j] = ws[c, j] + ws[i, j]
        inv = 1.0 / ns
        for j in range(ns):
            ws[c, j] = ws[c, j] * inv
        ok = _reflect(ws, c, 1.0, hi, lbs, ubs, ns, xcur)
        if diam < _PSI * init_diam or not ok:
            return _CONVERGED, fdiff
        fr, spent = _evaluate(data, point, idx, ns, ws, xcur, xs, best, maxeval)
        if spent:
            return _BUDGET, fdiff
        second = -np.inf
        for i in range(m):
            if i != hi and ws[i, val] > second:
                second = ws[i, val]
        f_hi = ws[hi, val]
        if fr < ws[lo, val]:  # expand
            ok = _reflect(ws, c, 2.0, hi, lbs, ubs, ns, tmp)
            _copy_row(ws, tmp, hi, ns)
            if not ok:
                return _CONVERGED, fdiff
            fe, spent = _evaluate(data, point, idx, ns, ws, tmp, xs, best, maxeval)
            if spent:
                return _BUDGET, fdiff
            if fe >= fr:
                ws[hi, val] = fr
                _copy_row(ws, xcur, hi, ns)
            else:
                ws[hi, val] = fe
        elif fr < second:  # accept the reflection
            ws[hi, val] = fr
            _copy_row(ws, xcur, hi, ns)
        else:  # contract, outside or inside
            scale = -0.5 if f_hi <= fr else 0.5
            ok = _reflect(ws, c, scale, hi, lbs, ubs, ns, xcur)
            if not ok:
                return _CONVERGED, fdiff
            fc, spent = _evaluate(data, point, idx, ns, ws, xcur, xs, best, maxeval)
            if spent:
                return _BUDGET, fdiff
            if fc < fr and fc < f_hi:
                ws[hi, val] = fc
                _copy_row(ws, xcur, hi, ns)
            else:  # shrink towards the best point
                for k in range(m):
                    if k == lo:
                        continue
                    ok = _reflect(ws, lo, -0.5, k, lbs, ubs, ns, tmp)
                    _copy_row(ws, tmp, k, ns)
                    if not ok:
                        return _CONVERGED, fdiff
                    f, spent = _evaluate(data, point, idx, ns, ws, tmp, xs, best, maxeval)
                    if spent:
                        return _BUDGET, fdiff
                    ws[k, val] = f


@njit(cache=True, error_model="numpy")
def _subspaces(dx, n):
    """sbplx's split of the coordinates, most progress first, into subspaces of 2 to 5.

    Returns (perm, starts, count): subspace k is perm[starts[k]:starts[k + 1]].
    """
    d = np.abs(dx)
    perm = np.argsort(-d, kind="mergesort")  # stable, as sbplx's sort
    norm = np.zeros(n)
    running = 0.0
    for k in range(n):
        running = running + d[perm[k]]
        norm[k] = running
    normdx = d[0]
    for j in range(1, n):
        normdx = normdx + d[j]
    good = np.empty(n)
    for k in range(n):
        k1 = k + 1
        if n - k1 < _NSMIN:
            good[k] = -np.inf
        elif k1 < n:
            good[k] = norm[k] / k1 - (normdx - norm[k]) / max(n - k1, 1)
        else:
            good[k] = normdx / n
    starts = np.full(n + 1, n, dtype=np.int64)
    count = 0
    i = 0
    while i + _NSMIN < n:
        pick = -1
        top = -np.inf
        for k in range(i + _NSMIN - 1, min(i + _NSMAX, n)):
            if good[k] > top:
                top = good[k]
                pick = k
        size = pick + 1 - i if pick >= 0 else _NSMIN
        starts[count] = i
        count += 1
        i += size
    starts[count] = i
    return perm, starts, count + 1


@njit(cache=True, error_model="numpy")
def minimize(data, x0, lb, ub, step0, maxeval, ftol_rel, xtol_rel):
    """Minimise ``exact_loss(x, data)`` from x0 within [lb, ub] by nlopt's Subplex: start,
    bounds and initial steps (``nlopt_set_initial_step``) of shape (n,), the evaluation budget
    (``nlopt_set_maxeval``) and relative tolerances, no absolute ones. Returns (x, its loss,
    evaluations).

    Follows nlopt 2.11 ``sbplx_minimize`` and ``nldrmd_minimize_`` step for step: Nelder-Mead
    on subspaces of 2 to 5 coordinates, ordered by the latest progress, restarted until a sweep
    moves x by less than ``xtol_rel`` with small steps or improves by less than ``ftol_rel``;
    bounds by pinning reflected points; ties broken as nlopt's red-black tree breaks them.
    """
    n = x0.size
    w = _width(n)
    # all work arrays from three allocations, used through views that numba does not count
    # references to (``_unowned``): they live as long as this call, as arguments of _sbplx
    vectors = np.zeros((10, max(n, w)))
    ws = np.zeros((w + 4, w + 1))  # _nelder_mead's workspace
    idx = np.zeros(w, dtype=np.int64)
    return _sbplx(data, x0, lb, ub, step0, maxeval, ftol_rel, xtol_rel, vectors, ws, idx)


@njit(cache=True, error_model="numpy")
def _sbplx(data, x0, lb, ub, step0, maxeval, ftol_rel, xtol_rel, vectors, ws, idx):
    """``minimize`` on work arrays the caller owns."""
    n = x0.size
    data = (_unowned(data[0]), _unowned(data[1])) + data[2:]  # noqa: RUF005 - numba tuples
    v, ws, idx = _unowned(vectors), _unowned(ws), _unowned(idx)
    x, point, xstep, dx, xprev = v[0, :n], v[1, :n], v[2, :n], v[3, :n], v[4, :n]
    xs, steps, lbs, ubs, best = v[5], v[6], v[7], v[8], v[9, :2]
    x[:] = x0
    point[:] = x0
    minf = exact_loss(point, data)
    best[0], best[1] = minf, 1.0  # best value so far, evaluations
    if maxeval <= 1:
        return x.copy(), minf, 1
    xstep[:] = step0
    while True:
        xprev[:] = x
        perm, starts, n_subs = _subspaces(dx, n)
        fdiff_max = 0.0
        for sub in range(n_subs):
            a = starts[sub]
            ns = starts[sub + 1] - a
            for j in range(ns):
                k = perm[a + j]
                idx[j] = k
                xs[j] = x[k]
                steps[j] = xstep[k]
                lbs[j] = lb[k]
                ubs[j] = ub[k]
            point[:] = x
            how, fdiff = _nelder_mead(data, point, idx, ns, xs, steps, lbs, ubs, best, maxeval, ws)
            for j in range(ns):
                x[idx[j]] = xs[j]
            if how != _CONVERGED:
                return x.copy(), best[0], int(best[1])
            fdiff_max = max(fdiff_max, fdiff)
        # the sweep's stopping tests, then the next steps from its progress
        f = best[0]
        old = f + fdiff_max
        stop = (abs(f - old) < ftol_rel * (abs(f) + abs(old)) * 0.5 or f == old) and not (
            np.isinf(old)
        )
        dnorm = 0.0
        xnorm = 0.0
        stepnorm = 0.0
        big = False
        for j in range(n):
            dnorm = dnorm + abs(x[j] - xprev[j])
            xnorm = xnorm + abs(x[j])
            stepnorm = stepnorm + abs(xstep[j])
            s = abs(xstep[j]) * _PSI
            big = big or (s > 0 and s > xtol_rel * abs(x[j]))
        if stop or (dnorm < xtol_rel * xnorm and not big):
            return x.copy(), best[0], int(best[1])
        scale = dnorm / stepnorm
        if scale < _OMEGA:  # np.clip, NaN passing through
            scale = _OMEGA
        if scale > 1 / _OMEGA:
            scale = 1 / _OMEGA
        if n_subs == 1:
            scale = _PSI
        for j in range(n):
            d = x[j] - xprev[j]
            dx[j] = d
            s = xstep[j] * scale
            xstep[j] = -s if d == 0 else np.copysign(s, d)


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


@njit(cache=True, error_model="numpy", parallel=True)
def subplex_fits(
    t_date, y_date, t_sorted, y_sorted, n, sites, x0, lb, ub, step, maxeval, tol, penalised, layout
):  # pragma: no cover - compiled
    """eemeter's Subplex on its loss for the given sites, in parallel: days in date order and
    sorted as eemeter sorts them (all sites, days), their number (all sites,), the sites to fit
    (k,) and their start, bounds and initial steps (k, p); ``penalised``: with the elastic net
    (initial fit) or without it (final fit); ``layout``: ``FIVE`` (p = 5) or ``ONE_SLOPE``
    (p = 3) for all of them, where a site whose balance-point bounds are equal keeps it fixed
    (eemeter optimises only the coefficients whose bounds differ). Returns (x (k, p), its sum
    of squared residuals (k,))."""
    n_fits = x0.shape[0]
    out = np.empty_like(x0)
    sse = np.zeros(n_fits)
    for s in prange(n_fits):
        i = sites[s]
        m = n[i]
        fixed = layout == ONE_SLOPE and lb[s, 0] == ub[s, 0]
        own = ONE_SLOPE_FIXED if fixed else layout
        free = 1 if fixed else 0
        data = exact_data(
            t_date[i], y_date[i], t_sorted[i], y_sorted[i], m, penalised, own, x0[s, 0]
        )
        x, _, _ = minimize(
            data, x0[s, free:], lb[s, free:], ub[s, free:], step[s, free:], maxeval, tol, tol
        )
        out[s, :free] = x0[s, :free]
        out[s, free:] = x
        plain = data[:6] + (False,) + data[7:]  # noqa: RUF005 - numba builds tuples by +
        sse[s] = exact_loss(x, plain) * m
    return out, sse


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
        if days.size >= _SEGMENT_MIN_DAYS:
            out[s, 1] = _brent_slope(t[days], y[days], 0, days.size, bp, a, np.empty(days.size))
    return out


@njit(cache=True, error_model="numpy")
def order_of_magnitude(x):  # pragma: no cover - compiled
    """eemeter ``OoM(x, method="exact")``: log10 |x| (1 where x is 0), computed as eemeter's
    numba code computes it."""
    out = np.empty_like(x)
    for i in range(x.size):
        out.flat[i] = 1.0 if x.flat[i] == 0.0 else np.log10(np.abs(x.flat[i]))
    return out
