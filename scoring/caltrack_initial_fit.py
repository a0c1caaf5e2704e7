"""eemeter's initial fit of the CalTRACK daily model, compiled: its loss and Subplex for each site.

The initial fit (step 2 of ``scoring.caltrack_daily.fit_daily``) decides the model kind: the
slopes still non-zero where eemeter's Subplex stops are the model's terms. Following that search
step for step is what makes the kind eemeter's.

``scoring.subplex`` emulates nlopt's Subplex for many sites in numpy lockstep: cheap while all
sites need few evaluations, but a round costs as much for one site as for thousands, and
eemeter's search takes up to 2,000 evaluations on some meters. Here each site runs to its end in
compiled code, sites in parallel, with the same steps as ``scoring.subplex.subplex`` (tests
compare them bit for bit), on ``initial_loss``: ``caltrack_daily._InitialLoss`` for one site and
one point, with the same arithmetic and so the same values to the last bit.

The Subplex functions call ``initial_loss`` by name rather than taking the objective as an
argument: numba cannot cache a function that takes another as an argument, and compiling this
module takes about 20 s.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scoring.subplex import _NSMAX, _NSMIN, _OMEGA, _PSI

_LASSO = 0.001  # eemeter regularization_alpha (percent lasso 1)
_SEGMENT_MIN_DAYS = 10  # eemeter segment_minimum_count

# how a Nelder-Mead run on a subspace ended
_CONVERGED, _FAILED, _BUDGET = 0, 1, 2


@njit(cache=True, error_model="numpy")
def _square_stds(sums, m):
    """(std of T, std of E) of m days from their sums (Σt, Σt², Σy, Σy², Σty), centred."""
    mean_t = sums[0] / m
    mean_y = sums[2] / m
    return (
        np.sqrt(max(sums[1] / m - mean_t * mean_t, 0.0)),
        np.sqrt(max(sums[3] / m - mean_y * mean_y, 0.0)),
    )


@njit(cache=True, error_model="numpy")
def initial_loss(x, data):
    """eemeter's initial-fit loss of one site at x = (hdd_bp, hdd_beta, cdd_bp, cdd_beta,
    intercept), breakpoints in either order.

    ``data`` = (prefix (days + 1, 5): sums over the k lowest days of centred T, T², E, E², TE;
    t: the site's temperatures sorted [°F]; n days; the means t0, y0; T_min, T_max; the sums
    over all days; std(T) / std(E) over all days).
    """
    prefix, t, n, t0, y0, lo, hi, total, norm_all = data
    h_raw, bh_raw, c_raw, bc_raw, a = x[0], x[1], x[2], x[3], x[4]
    swap = c_raw < h_raw
    h = c_raw if swap else h_raw
    c = h_raw if swap else c_raw
    bh = bc_raw if swap else bh_raw
    bc = bh_raw if swap else bc_raw
    left_h = np.searchsorted(t, h_raw, side="left")  # days with T < h_raw
    right_h = np.searchsorted(t, h_raw, side="right")  # days with T <= h_raw
    left_c = np.searchsorted(t, c_raw, side="left")
    right_c = np.searchsorted(t, c_raw, side="right")
    below_h = left_c if swap else left_h
    upto_c = right_h if swap else right_c
    # a term without slope predicts the intercept: its days join the middle segment
    nh = below_h if bh != 0 else 0
    ncut = upto_c if bc != 0 else n
    ph, pc = prefix[nh], prefix[ncut]
    a_c = a - y0
    big_b = a_c + bh * (h - t0)
    big_c = a_c - bc * (c - t0)
    heat_sse = (
        nh * big_b * big_b
        + bh * bh * ph[1]
        + ph[3]
        - 2 * big_b * bh * ph[0]
        - 2 * big_b * ph[2]
        + 2 * bh * ph[4]
    )
    cool_sse = (
        (n - ncut) * big_c * big_c
        + bc * bc * (total[1] - pc[1])
        + (total[3] - pc[3])
        + 2 * big_c * bc * (total[0] - pc[0])
        - 2 * big_c * (total[2] - pc[2])
        - 2 * bc * (total[4] - pc[4])
    )
    mid_sse = (ncut - nh) * a_c * a_c - 2 * a_c * (pc[2] - ph[2]) + (pc[3] - ph[3])
    total_sse = heat_sse + cool_sse + mid_sse
    if total_sse < 0.0:  # np.maximum(..., 0.0), NaN passing through
        total_sse = 0.0
    loss = total_sse / n
    # elastic net (lasso) on the breakpoints and the normalised slopes, as eemeter adds it
    scale = np.sqrt(loss) / (hi - lo)
    half = (c_raw - h_raw) / 2
    pen_h = (min(abs(h_raw - lo), abs(h_raw - hi)) + half) * scale
    pen_c = (min(abs(c_raw - lo), abs(c_raw - hi)) + half) * scale
    # eemeter's segments for the slope penalty use the breakpoints as given
    k = _SEGMENT_MIN_DAYS
    len_h, len_c = left_h, n - right_c
    len_t = max(right_c - left_h, 0)
    end_h = left_h + (len_t if len_h < k and len_c >= k else 0)
    start_c = right_c - (len_t if len_h >= k and len_c < k else 0)
    size_c = n - start_c
    split = end_h >= k and size_c >= k
    norm_h = norm_c = norm_all
    if split:
        t_h, y_h = _square_stds(prefix[end_h], max(end_h, 1))
        t_c, y_c = _square_stds(total - prefix[start_c], max(size_c, 1))
        norm_h, norm_c = t_h / y_h, t_c / y_c
    pen_bh = bh_raw * norm_h
    if (len_h if split else len_t) < k:
        pen_bh = pen_bh * 1e30
    pen_bc = bc_raw * norm_c
    if (len_c if split else len_t) < k:
        pen_bc = pen_bc * 1e30
    penalty = _LASSO * (abs(pen_h) + abs(pen_bh) + abs(pen_c) + abs(pen_bc))
    return loss + penalty


@njit(cache=True)
def _width(n):
    """The largest subspace sbplx forms in n dimensions (``scoring.subplex._width``)."""
    return n if n <= _NSMIN else max(_NSMIN, min(_NSMAX, n - _NSMIN))


@njit(cache=True, error_model="numpy")
def _close(a, b):
    """nldrmd ``close``: equal up to floating-point precision."""
    return abs(a - b) <= 1e-13 * (abs(a) + abs(b))


@njit(cache=True, error_model="numpy")
def _reflect(c, scale, xold, lb, ub, ns, out):
    """nldrmd ``reflectpt`` into ``out`` (which may not be ``xold``): c + scale (c - xold)
    pinned to the bounds. True where the new point differs from both c and xold."""
    same_c = True
    same_old = True
    for j in range(ns):
        v = c[j] + scale * (c[j] - xold[j])
        # np.minimum(np.maximum(v, lb), ub), NaN passing through as in numpy
        if v < lb[j]:
            v = lb[j]
        if v > ub[j]:
            v = ub[j]
        out[j] = v
        same_c = same_c and _close(v, c[j])
        same_old = same_old and _close(v, xold[j])
    return not (same_c or same_old)


@njit(cache=True, error_model="numpy")
def _evaluate(data, point, idx, ns, xs_new, best):
    """The loss at ``point`` with the subspace coordinates ``idx[:ns]`` set to ``xs_new``;
    nldrmd's CHECK_EVAL: count it and keep it in ``best`` = [value, evaluations] if no worse
    (the caller copies the point)."""
    for j in range(ns):
        point[idx[j]] = xs_new[j]
    f = initial_loss(point, data)
    best[1] += 1
    return f


@njit(cache=True, error_model="numpy")
def _nelder_mead(data, point, idx, ns, xs, step, lbs, ubs, best, maxeval):
    """nlopt ``nldrmd_minimize_`` on one subspace, from xs with value ``best[0]``.

    ``point`` holds the full x (other coordinates fixed); xs becomes the best point found,
    ``best`` = [its value, evaluations so far]. Returns (how it ended, the last f spread).
    """
    m = ns + 1
    pts = np.zeros((m, ns))
    vals = np.zeros(m)
    c = np.zeros(ns)
    xcur = np.zeros(ns)
    tmp = np.zeros(ns)
    pts[0, :] = xs[:ns]
    vals[0] = best[0]
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
        pts[k + 1, :] = xs[:ns]
        pts[k + 1, k] = v
        if _close(v, xi):
            return _FAILED, fdiff
        f = _evaluate(data, point, idx, ns, pts[k + 1], best)
        if f <= best[0]:
            best[0] = f
            xs[:ns] = pts[k + 1]
        if best[1] >= maxeval:
            return _BUDGET, fdiff
        vals[k + 1] = f

    while True:
        # best point: the first lowest; worst: the last highest (nlopt's tree order)
        lo, hi = 0, 0
        for i in range(1, m):
            if vals[i] < vals[lo]:
                lo = i
            if vals[i] >= vals[hi]:
                hi = i
        fdiff = vals[hi] - vals[lo]
        diam = 0.0
        for j in range(ns):
            diam = diam + abs(pts[lo, j] - pts[hi, j])
        if init_diam == 0:
            init_diam = diam
        c[:] = 0.0
        for i in range(m):
            if i != hi:
                for j in range(ns):
                    c[j] = c[j] + pts[i, j]
        inv = 1.0 / ns
        for j in range(ns):
            c[j] = c[j] * inv
        ok = _reflect(c, 1.0, pts[hi], lbs, ubs, ns, xcur)
        if diam < _PSI * init_diam or not ok:
            return _CONVERGED, fdiff
        fr = _evaluate(data, point, idx, ns, xcur, best)
        if fr <= best[0]:
            best[0] = fr
            xs[:ns] = xcur
        if best[1] >= maxeval:
            return _BUDGET, fdiff
        second = -np.inf
        for i in range(m):
            if i != hi and vals[i] > second:
                second = vals[i]
        f_hi = vals[hi]
        if fr < vals[lo]:  # expand
            ok = _reflect(c, 2.0, pts[hi], lbs, ubs, ns, tmp)
            pts[hi, :] = tmp
            if not ok:
                return _CONVERGED, fdiff
            fe = _evaluate(data, point, idx, ns, tmp, best)
            if fe <= best[0]:
                best[0] = fe
                xs[:ns] = tmp
            if best[1] >= maxeval:
                return _BUDGET, fdiff
            if fe >= fr:
                vals[hi] = fr
                pts[hi, :] = xcur
            else:
                vals[hi] = fe
        elif fr < second:  # accept the reflection
            vals[hi] = fr
            pts[hi, :] = xcur
        else:  # contract, outside or inside
            scale = -0.5 if f_hi <= fr else 0.5
            ok = _reflect(c, scale, pts[hi], lbs, ubs, ns, xcur)
            if not ok:
                return _CONVERGED, fdiff
            fc = _evaluate(data, point, idx, ns, xcur, best)
            if fc <= best[0]:
                best[0] = fc
                xs[:ns] = xcur
            if best[1] >= maxeval:
                return _BUDGET, fdiff
            if fc < fr and fc < f_hi:
                vals[hi] = fc
                pts[hi, :] = xcur
            else:  # shrink towards the best point
                for k in range(m):
                    if k == lo:
                        continue
                    ok = _reflect(pts[lo], -0.5, pts[k], lbs, ubs, ns, tmp)
                    pts[k, :] = tmp
                    if not ok:
                        return _CONVERGED, fdiff
                    f = _evaluate(data, point, idx, ns, tmp, best)
                    if f <= best[0]:
                        best[0] = f
                        xs[:ns] = tmp
                    if best[1] >= maxeval:
                        return _BUDGET, fdiff
                    vals[k] = f


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
    """Minimise ``initial_loss(x, data)`` from x0 within [lb, ub] by nlopt's Subplex.

    Parameters as ``scoring.subplex.subplex`` for one row (no ``max_rounds``). Returns
    (x, minf, nevals).
    """
    n = x0.size
    w = _width(n)
    x = x0.copy()
    point = x0.copy()
    minf = initial_loss(point, data)
    best = np.array([minf, 1.0])  # best value so far, evaluations
    if maxeval <= 1:
        return x, minf, 1
    xstep = step0.copy()
    dx = np.zeros(n)
    xprev = x.copy()
    idx = np.zeros(w, dtype=np.int64)
    xs = np.zeros(w)
    steps = np.zeros(w)
    lbs = np.zeros(w)
    ubs = np.zeros(w)
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
            how, fdiff = _nelder_mead(data, point, idx, ns, xs, steps, lbs, ubs, best, maxeval)
            for j in range(ns):
                x[idx[j]] = xs[j]
            if how != _CONVERGED:
                return x, best[0], int(best[1])
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
            return x, best[0], int(best[1])
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
def initial_fits(
    prefix, t, n, t0, y0, lo, hi, total, norm_all, x0, lb, ub, step, maxeval, tol
):  # pragma: no cover - compiled
    """Subplex on ``initial_loss`` for every site, in parallel (arguments per site, as in
    ``initial_loss``; x0, lb, ub, step (sites, 5)). Returns (x (sites, 5), evaluations)."""
    n_sites = x0.shape[0]
    out = np.empty_like(x0)
    nevals = np.zeros(n_sites, dtype=np.int64)
    for s in prange(n_sites):
        data = (prefix[s], t[s, : n[s]], n[s], t0[s], y0[s], lo[s], hi[s], total[s], norm_all[s])
        x, _, evals = minimize(data, x0[s], lb[s], ub[s], step[s], maxeval, tol, tol)
        out[s] = x
        nevals[s] = evals
    return out, nevals
