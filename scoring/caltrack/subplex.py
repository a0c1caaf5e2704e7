"""nlopt's Subplex on eemeter's loss, compiled (numba): the initial and final fits of the
CalTRACK daily (legacy) model, one site per thread.

eemeter 4.1.1 fits the legacy daily model with nlopt ``LN_SBPLX`` twice: the initial fit over
both balance points, both slopes and the intercept with an elastic-net penalty, and the final
fit of the model kind it found, without. ``minimize`` follows nlopt 2.11's ``sbplx_minimize``
and ``nldrmd_minimize_`` step for step (Nelder-Mead on subspaces of 2 to 5 coordinates picked
by the latest progress, bounds by pinning reflected points, ties broken as nlopt's red-black
tree breaks them) on ``eemeter_loss.exact_loss``, so it evaluates the same points as eemeter
and stops where eemeter stops. ``subplex_fits`` runs it for many sites in parallel.

The functions call ``exact_loss`` by name rather than taking the objective as an argument:
numba cannot cache a function that takes another one. Compiling ``eemeter_loss`` and this
module takes about a minute (once per machine: numba caches it, ``scoring.compile_ahead``).

Glossary
--------
==========================  ==================================================================
here                        nlopt 2.11 (``src/algs/neldermead/sbplx.c``, ``nldrmd.c``)
==========================  ==================================================================
``x``, ``xprev``            sbplx ``x`` and ``xprev`` (x at the start of the sweep)
``xstep``, ``dx``           sbplx ``xstep`` (step per coordinate) and ``dx`` (last progress)
``perm``, ``starts``,       sbplx's coordinate order (``p``), subspace bounds and ``nsubs``
``n_subs``
``ns``, ``idx``             a subspace's dimension (sbplx ``ns``) and its coordinates
``xs``, ``steps``,          the subspace's point, steps and bounds (sbplx ``xs``, ``lbs``,
``lbs``, ``ubs``            ``ubs``)
``point``                   the full x with the subspace's coordinates set (sbplx
                            ``subspace_func``)
``ws``                      nldrmd ``pts``: the simplex, one vertex per row, its value in the
                            last column (``val``), then rows ``c`` (centroid), ``xcur``,
                            ``tmp``
``lo``, ``hi``              nldrmd ``low`` and ``high``: the best and worst vertex
``fr``, ``fe``, ``fc``      nldrmd's values at the reflected, expanded and contracted points
``fdiff``, ``init_diam``    nldrmd ``fdiff`` and ``init_diam``
``best``                    [``*minf``, ``stop->nevals``]: the best value and evaluations
``_PSI``, ``_OMEGA``,       sbplx ``psi``, ``omega``, ``nsmin``, ``nsmax``
``_NSMIN``, ``_NSMAX``
``maxeval``, ``ftol_rel``,  ``nlopt_set_maxeval``, ``nlopt_set_ftol_rel``,
``xtol_rel``, ``step0``     ``nlopt_set_xtol_rel``, ``nlopt_set_initial_step``
``x0``, ``lb``, ``ub``      eemeter's ``x0`` and ``bnds`` (``NLoptOptimizer``)
``penalised``               the initial fit (elastic net on) or the final fit (off)
==========================  ==================================================================

References
----------
.. [1] T. H. Rowan, "Functional stability analysis of numerical algorithms", PhD thesis,
   University of Texas at Austin, 1990.
.. [2] S. G. Johnson, The NLopt nonlinear-optimization package, version 2.11,
   ``src/algs/neldermead/sbplx.c`` and ``nldrmd.c``, https://github.com/stevengj/nlopt
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scoring.caltrack.eemeter_loss import ONE_SLOPE, ONE_SLOPE_FIXED, exact_data, exact_loss
from scoring.caltrack.exact_numpy import unowned

# nlopt sbplx.c / nldrmd.c constants
_PSI, _OMEGA = 0.25, 0.1
_NSMIN, _NSMAX = 2, 5

# how a Nelder-Mead run on a subspace ended
_CONVERGED, _FAILED, _BUDGET = 0, 1, 2


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
    # references to (``unowned``): they live as long as this call, as arguments of _sbplx
    vectors = np.zeros((10, max(n, w)))
    ws = np.zeros((w + 4, w + 1))  # _nelder_mead's workspace
    idx = np.zeros(w, dtype=np.int64)
    return _sbplx(data, x0, lb, ub, step0, maxeval, ftol_rel, xtol_rel, vectors, ws, idx)


@njit(cache=True, error_model="numpy")
def _sbplx(data, x0, lb, ub, step0, maxeval, ftol_rel, xtol_rel, vectors, ws, idx):
    """``minimize`` on work arrays the caller owns."""
    n = x0.size
    data = (unowned(data[0]), unowned(data[1])) + data[2:]  # noqa: RUF005 - numba tuples
    v, ws, idx = unowned(vectors), unowned(ws), unowned(idx)
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
