"""Batched emulation of nlopt's Subplex (``LN_SBPLX``) and of SciPy's Brent line search.

eemeter 4.1.1 fits the CalTRACK daily model with two optimisers whose stopping points decide the
model kind: Brent's method (``scipy.optimize.minimize_scalar(method="brent", tol=0.1)``) for
the slopes of the initial guess, and nlopt's Subplex for the initial fit. Both are reproduced
here for many problems at once: each problem (row) follows its own path, step for step the one
the reference code takes, and the rows advance together in numpy, as far as each has got.

The objective ``fun(rows, x)`` takes the row indices and one point per row, (m,) and (m, n),
and returns the m values; it must be a pure function.
"""

from __future__ import annotations

import numpy as np

# nlopt sbplx.c / nldrmd.c constants
_PSI, _OMEGA = 0.25, 0.1
_NSMIN, _NSMAX = 2, 5
_REFLECT, _EXPAND, _CONTRACT, _SHRINK = 1.0, 2.0, 0.5, 0.5

# phases of a row in the lockstep Subplex
_INIT, _REFL, _EXP, _CONTR, _SHR, _TOP, _END, _START, _OUTER, _DONE = range(10)


def _close(a, b):
    """nldrmd ``close``: equal up to floating-point precision."""
    return np.abs(a - b) <= 1e-13 * (np.abs(a) + np.abs(b))


def _reflect(c, scale, xold, lb, ub):
    """nldrmd ``reflectpt``: c + scale (c - xold) pinned to the bounds, and whether the new
    point differs from both c and xold. Padding coordinates are 0 everywhere and count as
    equal."""
    new = np.minimum(np.maximum(c + scale * (c - xold), lb), ub)
    equal_c = np.all(_close(new, c), axis=-1)
    equal_old = np.all(_close(new, xold), axis=-1)
    return new, ~(equal_c | equal_old)


def _width(n: int) -> int:
    """The largest subspace sbplx forms in n dimensions."""
    return n if n <= _NSMIN else max(_NSMIN, min(_NSMAX, n - _NSMIN))


class _State:
    """Arrays of the rows still running (compacted as rows finish); ``rid`` maps them back."""

    def __init__(self, **arrays):
        self.__dict__.update(arrays)

    def keep(self, mask):
        for name, value in list(self.__dict__.items()):
            self.__dict__[name] = value[mask]


def subplex(fun, x0, lb, ub, step0, maxeval, ftol_rel, xtol_rel, max_rounds=None):
    """Minimise ``fun`` from x0 within [lb, ub] by nlopt's Subplex, for every row at once.

    Parameters
    ----------
    fun : callable
        ``fun(rows, x)`` -> values, rows (m,) int and x (m, n).
    x0, lb, ub, step0 : array (rows, n)
        Start point, bounds and initial steps (``nlopt_set_initial_step``).
    maxeval : int
        Evaluation budget (``nlopt_set_maxeval``).
    ftol_rel, xtol_rel : float
        Relative tolerances (``nlopt_set_ftol_rel``, ``nlopt_set_xtol_rel``); no absolute ones.
    max_rounds : int, optional
        Stop after this many lockstep evaluations; rows still running return their best point
        so far.

    Returns
    -------
    x : array (rows, n)
        The best point of each row.
    minf : array (rows,)
        Its value.
    nevals : array of int (rows,)
    finished : array of bool (rows,)
        False where ``max_rounds`` cut the row short.

    Notes
    -----
    Follows nlopt 2.11 ``sbplx_minimize`` and ``nldrmd_minimize_`` (T. Rowan's Subplex:
    Nelder-Mead on subspaces of 2 to 5 coordinates picked by the latest progress, restarted
    until a sweep moves x by less than ``xtol_rel`` with small steps, or improves by less than
    ``ftol_rel``; bounds by pinning reflected points). The simplex keeps its points ordered by
    (value, slot), as nlopt's red-black tree does, so that ties break the same way.

    References
    ----------
    .. [1] T. H. Rowan, "Functional stability analysis of numerical algorithms", PhD thesis,
       University of Texas at Austin, 1990.
    .. [2] S. G. Johnson, The NLopt nonlinear-optimization package, version 2.11,
       ``src/algs/neldermead/sbplx.c`` and ``nldrmd.c``, https://github.com/stevengj/nlopt
    """
    x0 = np.asarray(x0, dtype=float)
    n_rows, n = x0.shape
    w = _width(n)
    n_slots = w + 1
    slots = np.arange(n_slots)
    cols_w = np.arange(w)
    ks = np.arange(n)
    out_x = x0.copy()
    out_f = np.zeros(n_rows)
    out_n = np.zeros(n_rows, dtype=np.int64)
    out_done = np.ones(n_rows, dtype=bool)

    def pad(a, value):
        return np.concatenate([a, np.full((a.shape[0], 1), value)], axis=1)

    rid = np.arange(n_rows)
    minf = fun(rid, x0)
    st = _State(
        rid=rid,
        x=pad(x0, 0.0),  # column n is scratch for padding coordinates
        lb=pad(np.asarray(lb, dtype=float), 0.0),
        ub=pad(np.asarray(ub, dtype=float), 0.0),
        xstep=np.array(step0, dtype=float),
        dx=np.zeros((n_rows, n)),
        xprev=x0.copy(),
        minf=minf,
        nevals=np.ones(n_rows, dtype=np.int64),
        perm=np.zeros((n_rows, n), dtype=np.int64),
        sub_lo=np.zeros((n_rows, n + 1), dtype=np.int64),
        n_subs=np.zeros(n_rows, dtype=np.int64),
        sub=np.zeros(n_rows, dtype=np.int64),
        fdiff_max=np.zeros(n_rows),
        ns=np.zeros(n_rows, dtype=np.int64),
        idx=np.full((n_rows, w), n, dtype=np.int64),
        xs=np.zeros((n_rows, w)),
        xsstep=np.zeros((n_rows, w)),
        lbs=np.zeros((n_rows, w)),
        ubs=np.zeros((n_rows, w)),
        pts=np.zeros((n_rows, n_slots, w)),
        vals=np.zeros((n_rows, n_slots)),
        init_diam=np.zeros(n_rows),
        fdiff=np.full(n_rows, np.inf),
        centroid=np.zeros((n_rows, w)),
        xcur=np.zeros((n_rows, w)),
        fr=np.zeros(n_rows),
        lo=np.zeros(n_rows, dtype=np.int64),
        hi=np.zeros(n_rows, dtype=np.int64),
        k=np.zeros(n_rows, dtype=np.int64),
        pend=np.zeros((n_rows, w)),
        failed=np.zeros(n_rows, dtype=bool),
        phase=np.full(n_rows, _DONE if maxeval <= 1 else _OUTER),
    )

    def scatter_xs(r):
        """x of rows r takes the subspace's best point (padding goes to the scratch column)."""
        st.x[r[:, None], st.idx[r]] = st.xs[r]

    def outer_start(r):
        """Top of the sbplx loop: order coordinates by progress and split into subspaces."""
        st.xprev[r] = st.x[r, :n]
        d = np.abs(st.dx[r])
        p = np.argsort(-d, axis=1, kind="stable")
        st.perm[r] = p
        # sbplx's running |dx| sums are left-to-right sums over the sorted order: cumsum
        norm = np.cumsum(np.take_along_axis(d, p, axis=1), axis=1)
        normdx = d[:, 0].copy()
        for j in range(1, n):
            normdx = normdx + d[:, j]
        k1 = ks + 1
        with np.errstate(divide="ignore", invalid="ignore"):
            good = np.where(
                k1 < n,
                norm / k1 - (normdx[:, None] - norm) / np.maximum(n - k1, 1),
                normdx[:, None] / n,
            )
        good = np.where(n - k1 >= _NSMIN, good, -np.inf)  # later subspaces need >= _NSMIN
        rows = np.arange(r.size)
        i = np.zeros(r.size, dtype=np.int64)
        count = np.zeros(r.size, dtype=np.int64)
        starts = np.full((r.size, n + 1), n, dtype=np.int64)
        live = i + _NSMIN < n
        while live.any():
            # the subspace from i ends at the first best k in [i + _NSMIN - 1, i + _NSMAX)
            span = (ks[None, :] >= (i + _NSMIN - 1)[:, None]) & (
                ks[None, :] < (i + _NSMAX)[:, None]
            )
            g = np.where(span, good, -np.inf)
            best = np.argmax(g, axis=1)
            size = np.where(g[rows, best] > -np.inf, best + 1 - i, _NSMIN)
            starts[rows[live], count[live]] = i[live]
            count = count + live
            i = np.where(live, i + size, i)
            live = i + _NSMIN < n
        starts[rows, count] = i  # the last subspace
        st.sub_lo[r] = starts
        st.n_subs[r] = count + 1
        st.sub[r] = 0
        st.fdiff_max[r] = 0.0
        st.phase[r] = _START

    def sub_start(r):
        """Set up Nelder-Mead on the current subspace of rows r, from its first vertex."""
        a = st.sub_lo[r, st.sub[r]]
        ns = st.sub_lo[r, st.sub[r] + 1] - a
        st.ns[r] = ns
        used = cols_w[None, :] < ns[:, None]
        pos = np.minimum(a[:, None] + cols_w[None, :], n - 1)
        idx = np.where(used, np.take_along_axis(st.perm[r], pos, axis=1), n)
        st.idx[r] = idx
        rr = r[:, None]
        st.xs[r] = np.where(used, st.x[rr, idx], 0.0)
        st.xsstep[r] = np.where(used, st.xstep[rr, np.minimum(idx, n - 1)], 0.0)
        st.lbs[r] = np.where(used, st.lb[rr, idx], 0.0)
        st.ubs[r] = np.where(used, st.ub[rr, idx], 0.0)
        st.pts[r] = 0.0
        st.pts[r, 0] = st.xs[r]
        st.vals[r] = 0.0
        st.vals[r, 0] = st.minf[r]
        st.init_diam[r] = 0.0
        st.fdiff[r] = np.inf
        st.k[r] = 0
        init_vertex(r)

    def init_vertex(r):
        """Prepare vertex k of the initial simplex (nldrmd's bound rules), or fail."""
        k = st.k[r]
        rows = np.arange(r.size)
        base = st.xs[r]
        xi = base[rows, k]
        step = st.xsstep[r, k]
        lo_b, up_b = st.lbs[r, k], st.ubs[r, k]
        size = np.abs(step)
        v = xi + step
        v = np.where(v > up_b, np.where(up_b - xi > size * 0.1, up_b, xi - size), v)
        alt = xi + size
        alt = np.where(alt > up_b, 0.5 * (np.where(up_b - xi > xi - lo_b, up_b, lo_b) + xi), alt)
        v = np.where(v < lo_b, np.where(xi - lo_b > size * 0.1, lo_b, alt), v)
        base[rows, k] = v
        st.pend[r] = base
        st.pts[r, k + 1] = base
        bad = _close(v, xi)
        st.failed[r] = bad
        st.phase[r] = np.where(bad, _END, _INIT)

    def top(r):
        """Top of the Nelder-Mead loop: order, test the diameter, reflect the worst point."""
        valid = slots[None, :] <= st.ns[r][:, None]
        v = st.vals[r]
        lo = np.argmin(np.where(valid, v, np.inf), axis=1)
        hi = n_slots - 1 - np.argmax(np.where(valid, v, -np.inf)[:, ::-1], axis=1)
        rows = np.arange(r.size)
        st.lo[r], st.hi[r] = lo, hi
        p = st.pts[r]
        xl, xh = p[rows, lo], p[rows, hi]
        st.fdiff[r] = v[rows, hi] - v[rows, lo]
        diam = np.zeros(r.size)
        for j in range(w):
            diam = diam + np.abs(xl[:, j] - xh[:, j])
        init_diam = np.where(st.init_diam[r] == 0, diam, st.init_diam[r])
        st.init_diam[r] = init_diam
        c = np.zeros((r.size, w))
        for i in range(n_slots):
            c = c + np.where(((i <= st.ns[r]) & (i != hi))[:, None], p[:, i], 0.0)
        c = c * (1.0 / st.ns[r])[:, None]
        st.centroid[r] = c
        new, ok = _reflect(c, _REFLECT, xh, st.lbs[r], st.ubs[r])
        st.xcur[r] = new
        st.pend[r] = new
        st.phase[r] = np.where((diam < _PSI * init_diam) | ~ok, _END, _REFL)

    def shrink_next(r, start):
        """Prepare the next shrunk vertex at or after slot ``start`` (the best one stays)."""
        k = start + (start == st.lo[r])
        st.k[r] = k
        more = k <= st.ns[r]
        st.phase[r[~more]] = _TOP
        r, k = r[more], k[more]
        if r.size:
            rows = np.arange(r.size)
            p = st.pts[r]
            new, ok = _reflect(p[rows, st.lo[r]], -_SHRINK, p[rows, k], st.lbs[r], st.ubs[r])
            st.pts[r, k] = new
            st.pend[r] = new
            st.phase[r] = np.where(ok, _SHR, _END)

    def sub_end(r):
        """A subspace finished: its best point into x; next subspace, or the sweep's tests."""
        st.fdiff_max[r] = np.maximum(st.fdiff_max[r], st.fdiff[r])
        scatter_xs(r)
        st.phase[r[st.failed[r]]] = _DONE
        r = r[~st.failed[r]]
        st.sub[r] += 1
        more = st.sub[r] < st.n_subs[r]
        st.phase[r[more]] = _START
        r = r[~more]
        if not r.size:
            return
        f = st.minf[r]
        old = f + st.fdiff_max[r]
        ftol = (np.abs(f - old) < ftol_rel * (np.abs(f) + np.abs(old)) * 0.5) | (f == old)
        ftol &= ~np.isinf(old)
        xr, xp, step = st.x[r, :n], st.xprev[r], st.xstep[r]
        dnorm = np.zeros(r.size)
        xnorm = np.zeros(r.size)
        stepnorm = np.zeros(r.size)
        for j in range(n):
            dnorm = dnorm + np.abs(xr[:, j] - xp[:, j])
            xnorm = xnorm + np.abs(xr[:, j])
            stepnorm = stepnorm + np.abs(step[:, j])
        big = (np.abs(step) * _PSI > 0) & (np.abs(step) * _PSI > xtol_rel * np.abs(xr))
        stop = ftol | ((dnorm < xtol_rel * xnorm) & ~big.any(axis=1))
        st.phase[r] = np.where(stop, _DONE, _OUTER)
        d = xr - xp
        st.dx[r] = d
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.clip(dnorm / stepnorm, _OMEGA, 1 / _OMEGA)
        scale = np.where(st.n_subs[r] == 1, _PSI, scale)
        s = step * scale[:, None]
        st.xstep[r] = np.where(d == 0, -s, np.copysign(s, d))

    handlers = ((_TOP, top), (_END, sub_end), (_OUTER, outer_start), (_START, sub_start))

    def settle():
        """Run the steps that need no evaluation until every live row has a point pending."""
        while True:
            moved = False
            for ph, handler in handlers:
                r = np.flatnonzero(st.phase == ph)
                if r.size:
                    moved = True
                    handler(r)
            if not moved:
                return

    def retire():
        """Move finished rows to the output and drop them from the state."""
        gone = st.phase == _DONE
        out_x[st.rid[gone]] = st.x[gone, :n]
        out_f[st.rid[gone]] = st.minf[gone]
        out_n[st.rid[gone]] = st.nevals[gone]
        st.keep(~gone)

    settle()
    retire()
    rounds = 0
    while st.rid.size:
        if max_rounds is not None and rounds >= max_rounds:
            # out of rounds: each row keeps its best point so far
            r = np.flatnonzero((st.phase != _OUTER) & (st.phase != _START))
            scatter_xs(r)
            out_done[st.rid] = False
            st.phase[:] = _DONE
            retire()
            break
        rounds += 1
        m = st.rid.size
        rows = np.arange(m)
        point = st.x.copy()
        point[rows[:, None], st.idx] = st.pend
        live = st.phase != _DONE  # finished rows wait for the next retire()
        fv = fun(st.rid, point[:, :n])
        st.nevals += live
        # CHECK_EVAL: the best point so far, within the subspace
        better = live & (fv <= st.minf)
        st.minf = np.where(better, fv, st.minf)
        st.xs = np.where(better[:, None], st.pend, st.xs)
        ph = st.phase
        hi = st.hi
        f_hi = st.vals[rows, hi]
        # initial simplex: store the value, next vertex
        m_init = ph == _INIT
        # reflection
        m_refl = ph == _REFL
        valid = slots[None, :] <= st.ns[:, None]
        f_lo = st.vals[rows, st.lo]
        second = np.max(np.where(valid & (slots[None, :] != hi[:, None]), st.vals, -np.inf), axis=1)
        st.fr = np.where(m_refl, fv, st.fr)
        expand = m_refl & (fv < f_lo)
        accept = m_refl & ~expand & (fv < second)
        contract = m_refl & ~expand & ~accept
        # expansion / contraction outcomes
        m_exp = ph == _EXP
        exp_worse = m_exp & (fv >= st.fr)
        m_con = ph == _CONTR
        con_good = m_con & (fv < st.fr) & (fv < f_hi)
        con_bad = m_con & ~con_good
        m_shr = ph == _SHR
        # new worst point: value and coordinates
        set_val = np.where(accept | exp_worse, st.fr, fv)
        upd = accept | m_exp | con_good
        at_hi = (slots[None, :] == hi[:, None]) & upd[:, None]
        st.vals = np.where(at_hi, set_val[:, None], st.vals)
        take_cur = accept | exp_worse | con_good
        st.pts = np.where(
            ((slots[None, :] == hi[:, None]) & take_cur[:, None])[:, :, None],
            st.xcur[:, None, :],
            st.pts,
        )
        at_k = slots[None, :] == np.where(m_init, st.k + 1, st.k)[:, None]
        st.vals = np.where(at_k & (m_init | m_shr)[:, None], fv[:, None], st.vals)
        st.phase = np.where(upd, _TOP, ph)
        # follow-up points
        r = np.flatnonzero(m_init)
        if r.size:
            st.k[r] += 1
            full = st.k[r] >= st.ns[r]
            st.phase[r[full]] = _TOP
            if (~full).any():
                init_vertex(r[~full])
        r = np.flatnonzero(expand)
        if r.size:
            hr = hi[r]
            new, ok = _reflect(st.centroid[r], _EXPAND, st.pts[r, hr], st.lbs[r], st.ubs[r])
            st.pts[r, hr] = new
            st.pend[r] = new
            st.phase[r] = np.where(ok, _EXP, _END)
        r = np.flatnonzero(contract)
        if r.size:
            scale = np.where(f_hi[r] <= st.fr[r], -_CONTRACT, _CONTRACT)[:, None]
            c, xh = st.centroid[r], st.pts[r, hi[r]]
            new, ok = _reflect(c, scale, xh, st.lbs[r], st.ubs[r])
            st.xcur[r] = new
            st.pend[r] = new
            st.phase[r] = np.where(ok, _CONTR, _END)
        r = np.flatnonzero(con_bad)
        if r.size:
            shrink_next(r, np.zeros(r.size, dtype=np.int64))
        r = np.flatnonzero(m_shr)
        if r.size:
            shrink_next(r, st.k[r] + 1)
        # the evaluation budget: nldrmd stops, sbplx keeps the subspace's best point
        r = np.flatnonzero(live & (st.nevals >= maxeval))
        if r.size:
            scatter_xs(r)
            st.phase[r] = _DONE
        settle()
        if (st.phase == _DONE).mean() > 0.25:
            retire()
    retire()
    return out_x, out_f, out_n, out_done


_GOLD, _TINY, _GROW = 1.618034, 1e-21, 110.0  # scipy.optimize.bracket
_CGOLD, _MINTOL = 0.3819660, 1.0e-11  # scipy.optimize.Brent


def brent(fun, n_rows: int, tol: float, maxiter: int = 500):
    """Minimise ``fun(rows, s)`` over scalars s by ``minimize_scalar(method="brent", tol=tol)``.

    Parameters
    ----------
    fun : callable
        ``fun(rows, s)`` -> values, rows (m,) int and s (m,).
    n_rows : int
    tol : float
        Brent's relative tolerance.

    Returns
    -------
    array (n_rows,)
        The minimiser each row's run returns.

    Notes
    -----
    Follows SciPy's ``bracket`` (from 0 and 1, growth limit 110) and ``Brent.optimize``; where
    no valid bracket is found, the best of the three bracket points, as ``minimize_scalar``
    returns it.

    References
    ----------
    .. [1] R. P. Brent, "Algorithms for Minimization without Derivatives", Prentice-Hall, 1973,
       chapter 5.
    """
    rows = np.arange(n_rows)
    xa, xb = np.zeros(n_rows), np.ones(n_rows)
    fa, fb = fun(rows, xa), fun(rows, xb)
    swap = fa < fb
    xa, xb = np.where(swap, xb, xa), np.where(swap, xa, xb)
    fa, fb = np.where(swap, fb, fa), np.where(swap, fa, fb)
    xc = xb + _GOLD * (xb - xa)
    fc = fun(rows, xc)
    live = fc < fb
    while live.any():
        r = np.flatnonzero(live)
        a_, b_, c_ = xa[r], xb[r], xc[r]
        fa_, fb_, fc_ = fa[r], fb[r], fc[r]
        tmp1 = (b_ - a_) * (fb_ - fc_)
        tmp2 = (b_ - c_) * (fb_ - fa_)
        val = tmp2 - tmp1
        denom = np.where(np.abs(val) < _TINY, 2.0 * _TINY, 2.0 * val)
        w = b_ - ((b_ - c_) * tmp2 - (b_ - a_) * tmp1) / denom
        wlim = b_ + _GROW * (c_ - b_)
        fw = np.zeros(r.size)
        stop = np.zeros(r.size, dtype=bool)
        inner = (w - c_) * (b_ - w) > 0.0
        at_lim = ~inner & ((w - wlim) * (wlim - c_) >= 0.0)
        beyond = ~inner & ~at_lim & ((w - wlim) * (c_ - w) > 0.0)
        plain = ~inner & ~at_lim & ~beyond
        if inner.any():
            i = np.flatnonzero(inner)
            fwi = fun(r[i], w[i])
            lower = fwi < fc_[i]
            higher = ~lower & (fwi > fb_[i])
            j = i[lower]  # minimum between b and c
            a_[j], b_[j], fa_[j], fb_[j] = b_[j], w[j], fb_[j], fwi[lower]
            j = i[higher]  # minimum between a and w
            c_[j], fc_[j] = w[j], fwi[higher]
            stop[i[lower | higher]] = True
            j = i[~(lower | higher)]
            w[j] = c_[j] + _GOLD * (c_[j] - b_[j])
            fw[j] = fun(r[j], w[j])
        if at_lim.any():
            i = np.flatnonzero(at_lim)
            w[i] = wlim[i]
            fw[i] = fun(r[i], w[i])
        if beyond.any():
            i = np.flatnonzero(beyond)
            fwi = fun(r[i], w[i])
            fw[i] = fwi
            lower = fwi < fc_[i]
            j = i[lower]
            if j.size:
                b_[j], c_[j] = c_[j], w[j]
                w[j] = c_[j] + _GOLD * (c_[j] - b_[j])
                fb_[j], fc_[j] = fc_[j], fwi[lower]
                fw[j] = fun(r[j], w[j])
        if plain.any():
            i = np.flatnonzero(plain)
            w[i] = c_[i] + _GOLD * (c_[i] - b_[i])
            fw[i] = fun(r[i], w[i])
        go = ~stop
        a_[go], b_[go], c_[go] = b_[go], c_[go], w[go]
        fa_[go], fb_[go], fc_[go] = fb_[go], fc_[go], fw[go]
        xa[r], xb[r], xc[r], fa[r], fb[r], fc[r] = a_, b_, c_, fa_, fb_, fc_
        live[r] = go & (fc_ < fb_)
    valid = ((fb < fc) & (fb <= fa)) | ((fb < fa) & (fb <= fc))
    valid &= ((xa < xb) & (xb < xc)) | ((xc < xb) & (xb < xa))
    valid &= np.isfinite(xa) & np.isfinite(xb) & np.isfinite(xc)
    # no bracket: the best of the three points (the first of equals)
    pick = np.argmin(np.stack([fa, fb, fc]), axis=0)
    result = np.choose(pick, [xa, xb, xc])

    x = w_ = v = xb.copy()
    fx = fw_ = fv = fb.copy()
    a = np.minimum(xa, xc)
    b = np.maximum(xa, xc)
    deltax = np.zeros(n_rows)
    rat = np.zeros(n_rows)
    live = valid.copy()
    for _ in range(maxiter):
        tol1 = tol * np.abs(x) + _MINTOL
        tol2 = 2.0 * tol1
        xmid = 0.5 * (a + b)
        live &= ~(np.abs(x - xmid) < (tol2 - 0.5 * (b - a)))
        if not live.any():
            break
        golden = np.abs(deltax) <= tol1
        # parabolic step
        tmp1 = (x - w_) * (fx - fv)
        tmp2 = (x - v) * (fx - fw_)
        p = (x - v) * tmp2 - (x - w_) * tmp1
        tmp2 = 2.0 * (tmp2 - tmp1)
        p = np.where(tmp2 > 0.0, -p, p)
        tmp2 = np.abs(tmp2)
        dx_temp = deltax
        use_par = (
            ~golden
            & (p > tmp2 * (a - x))
            & (p < tmp2 * (b - x))
            & (np.abs(p) < np.abs(0.5 * tmp2 * dx_temp))
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            rat_par = p * 1.0 / tmp2
        u_par = x + rat_par
        near_end = ((u_par - a) < tol2) | ((b - u_par) < tol2)
        rat_par = np.where(near_end, np.where(xmid - x >= 0, tol1, -tol1), rat_par)
        gold_dx = np.where(x >= xmid, a - x, b - x)
        new_deltax = np.where(golden, gold_dx, np.where(use_par, rat, gold_dx))
        new_rat = np.where(use_par, rat_par, _CGOLD * gold_dx)
        deltax = np.where(live, new_deltax, deltax)
        rat = np.where(live, new_rat, rat)
        u = np.where(np.abs(rat) < tol1, np.where(rat >= 0, x + tol1, x - tol1), x + rat)
        r = np.flatnonzero(live)
        fu = np.full(n_rows, np.inf)
        fu[r] = fun(r, u[r])
        worse = live & (fu > fx)
        better = live & ~worse
        # worse: shrink the bracket towards x, keep u as w or v
        a = np.where(worse & (u < x), u, a)
        b = np.where(worse & (u >= x), u, b)
        to_w = worse & ((fu <= fw_) | (w_ == x))
        to_v = worse & ~to_w & ((fu <= fv) | (v == x) | (v == w_))
        v_new = np.where(to_w, w_, np.where(to_v, u, v))
        fv_new = np.where(to_w, fw_, np.where(to_v, fu, fv))
        w_new = np.where(to_w, u, w_)
        fw_new = np.where(to_w, fu, fw_)
        # better: u becomes x
        a = np.where(better & (u >= x), x, a)
        b = np.where(better & (u < x), x, b)
        v = np.where(better, w_, v_new)
        fv = np.where(better, fw_, fv_new)
        w_ = np.where(better, x, w_new)
        fw_ = np.where(better, fx, fw_new)
        x = np.where(better, u, x)
        fx = np.where(better, fu, fx)
    return np.where(valid, x, result)
