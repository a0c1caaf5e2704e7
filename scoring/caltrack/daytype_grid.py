"""CalTRACK 2.0's daily candidate grid with one intercept per day type, for a chunk of sites.

``E = a_k + b_h HDD(T_h) + b_c CDD(T_c)`` with k the day type (working day, Saturday, Sunday
or holiday): town halls use about half as much at weekends, which the CalTRACK daily model
does not see. Every candidate of CalTRACK 2.0's grid (balance points 30-90 °F in 1 °F steps,
T_h <= T_c) is fitted by ordinary least squares at once, from prefix sums over each site's
days sorted by temperature; ``daily.fit_daily`` (Notes) gives the selection rules.

Glossary
--------
Units: temperatures [°F], energy [kWh/day], slopes [kWh/(°F·day)]. ``g`` is a day type
(0 working day, 1 Saturday, 2 Sunday or holiday), ``q_*`` a (site, balance point) query.

==========================  ==================================================================
here                        meaning
==========================  ==================================================================
``sd``                      the chunk's days (``sorted_days.SortedDays``)
``grid``                    ``rules.GRID_F``, the candidate balance points
``nh``, ``ncut``, ``nc``    days with T < each grid point (HDD > 0), with T <= it, and above
``pre``, ``c1 ct ct2 cy     running sums over the sorted days of 1, T, T², E, T·E for one
cty``                       day type
``hdd[g]``, ``cdd[g]``      per day type, over the grid: (Σ DD, Σ DD², Σ DD·E)
``n_g sy_g syy_g``          days, Σ E and Σ E² per day type
``sh hh hy``, ``sc cc cy``  the degree days' sums, centred within the day types (the
                            intercepts partialled out, Frisch-Waugh-Lovell): Σ x, Σ x², Σ x·E
``hc``                      Σ HDD·CDD, centred, for the two-slope candidates
``yy``, ``tss``             the within-day-type and the total sum of squares of E
``k0``                      the intercepts fitted (day types present)
``h_ok``, ``c_ok``          grid points whose slope may qualify (CalTRACK's degree-day counts)
``ih``, ``ic``              the winning grid points; ``bh_best``, ``bc_best`` its slopes
``a_g``                     the intercept of each day type
==========================  ==================================================================

References
----------
.. [1] CalTRACK Technical Appendix, daily methods (CalTRACK 2.0), section 3.2,
   https://docs.caltrack.org
"""

from __future__ import annotations

import numpy as np
from scipy.special import stdtrit

from scoring.caltrack.rules import (
    CDD_ONLY,
    GRID_F,
    HDD_CDD,
    HDD_ONLY,
    MAX_P_VALUE,
    MIN_NONZERO_DD_DAYS,
    MIN_TOTAL_DD_F,
)
from scoring.caltrack.sorted_days import SortedDays


def fit_daytype(
    temp_f: np.ndarray, usage: np.ndarray, ok: np.ndarray, day_type: np.ndarray
) -> dict[str, np.ndarray]:
    """CalTRACK 2.0 candidate grid with one intercept per day type (Frisch-Waugh-Lovell)."""
    sd = SortedDays(temp_f, usage, ok)
    n_sites = sd.n_sites
    sites = np.arange(n_sites)
    n = sd.n
    group = np.where(sd.real, day_type[sd.order], -1)
    grid = GRID_F
    n_grid = grid.size
    q_site = np.repeat(sites, n_grid)
    q_bp = np.tile(grid, n_sites)
    nh = sd.count(q_site, q_bp, strict=True).reshape(n_sites, n_grid)  # HDD > 0 below
    ncut = sd.count(q_site, q_bp, strict=False).reshape(n_sites, n_grid)  # CDD > 0 above
    rows = sites[:, None]
    t = np.where(sd.real, sd.t, 0.0)
    y = sd.y
    n_g, sy_g, syy_g = [], [], []
    hdd, cdd = [], []  # per group: (sum, sum of squares, sum with energy) over the grid
    for g in range(3):
        in_g = (group == g).astype(float)
        cols = [in_g, in_g * t, in_g * t * t, in_g * y, in_g * t * y]
        pre = [np.concatenate([np.zeros((n_sites, 1)), np.cumsum(v, axis=1)], axis=1) for v in cols]
        c1, ct, ct2, cy, cty = pre
        last = n[:, None]
        n_g.append(c1[sites, n])
        sy_g.append(cy[sites, n])
        syy_g.append((in_g * y * y).sum(axis=1))
        k1, kt, kt2, ky, kty = (p_[rows, nh] for p_ in pre)
        hdd.append((grid * k1 - kt, grid**2 * k1 - 2 * grid * kt + kt2, grid * ky - kty))
        u1 = c1[rows, last] - c1[rows, ncut]
        ut = ct[rows, last] - ct[rows, ncut]
        ut2 = ct2[rows, last] - ct2[rows, ncut]
        uy = cy[rows, last] - cy[rows, ncut]
        uty = cty[rows, last] - cty[rows, ncut]
        cdd.append((ut - grid * u1, ut2 - 2 * grid * ut + grid**2 * u1, uty - grid * uy))
    n_g, sy_g, syy_g = np.array(n_g), np.array(sy_g), np.array(syy_g)  # (3, S)
    present = n_g > 0
    inv_n = np.where(present, 1 / np.maximum(n_g, 1), 0.0)
    k0 = present.sum(axis=0)
    yy = (syy_g - sy_g**2 * inv_n).sum(axis=0)  # within-day-type sum of squares

    def centred(terms):
        s_ = sum(terms[g][0] for g in range(3))
        ss = sum(terms[g][1] - terms[g][0] ** 2 * inv_n[g][:, None] for g in range(3))
        sxy = sum(terms[g][2] - terms[g][0] * (sy_g[g] * inv_n[g])[:, None] for g in range(3))
        return s_, ss, sxy

    sh, hh, hy = centred(hdd)
    sc, cc, cy = centred(cdd)
    nc = n[:, None] - ncut
    h_ok = (nh >= MIN_NONZERO_DD_DAYS) & (sh >= MIN_TOTAL_DD_F) & (hh > 0)
    c_ok = (nc >= MIN_NONZERO_DD_DAYS) & (sc >= MIN_TOTAL_DD_F) & (cc > 0)
    sy_all = sy_g.sum(axis=0)
    tss = syy_g.sum(axis=0) - sy_all**2 / n
    nf = n.astype(float)

    def adj_r2(sse, k):
        shape = (-1,) + (1,) * (np.ndim(sse) - 1)
        m_, t_ = nf.reshape(shape), tss.reshape(shape)
        return 1 - (sse / np.maximum(m_ - k, 1)) / (t_ / np.maximum(m_ - 1, 1))

    # intercepts only
    best = adj_r2(yy, k0)
    kind = np.zeros(n_sites, dtype=np.int64)
    ih = np.zeros(n_sites, dtype=np.int64)
    ic = np.zeros(n_sites, dtype=np.int64)
    bh_best = np.zeros(n_sites)
    bc_best = np.zeros(n_sites)
    sse_best = yy.copy()

    def keep(score, qualified, this_kind, i_h, i_c, b_h, b_c, sse):
        nonlocal best, kind, ih, ic, bh_best, bc_best, sse_best
        score = np.where(qualified, score, -np.inf)
        j = np.argmax(score, axis=1)
        top = score[sites, j]
        better = top > best
        best = np.where(better, top, best)
        kind = np.where(better, this_kind, kind)
        ih = np.where(better, i_h(j), ih)
        ic = np.where(better, i_c(j), ic)
        bh_best = np.where(better, b_h[sites, j], bh_best)
        bc_best = np.where(better, b_c[sites, j], bc_best)
        sse_best = np.where(better, sse[sites, j], sse_best)

    zeros = np.zeros((n_sites, n_grid))
    # two-sided p < 0.1 <=> |t| above the Student-t 95 % quantile; slopes must be positive
    dof1 = np.maximum(nf - k0 - 1, 1)[:, None]
    dof2 = np.maximum(nf - k0 - 2, 1)[:, None]
    t_crit1 = stdtrit(dof1, 1 - MAX_P_VALUE / 2)
    t_crit2 = stdtrit(dof2, 1 - MAX_P_VALUE / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        for this, ok_, xx, xy in ((HDD_ONLY, h_ok, hh, hy), (CDD_ONLY, c_ok, cc, cy)):
            beta = xy / xx
            sse = yy[:, None] - beta * xy
            # t = beta / se > t_crit  <=>  beta^2 xx / (sse / dof) > t_crit^2 (beta > 0)
            qualified = ok_ & (beta > 0) & (beta * beta * xx * dof1 > t_crit1**2 * sse)
            is_h = this == HDD_ONLY
            keep(
                adj_r2(sse, k0[:, None] + 1),
                qualified,
                this,
                (lambda j: j) if is_h else (lambda j: ih),
                (lambda j: ic) if is_h else (lambda j: j),
                beta if is_h else zeros,
                zeros if is_h else beta,
                sse,
            )
        crit = t_crit2**2 / dof2
        for i in range(n_grid):
            cols = slice(i, n_grid)  # cooling balance point >= heating balance point
            hc = -sum(
                hdd[g][0][:, i : i + 1] * cdd[g][0][:, cols] * inv_n[g][:, None] for g in range(3)
            )
            hh_i, hy_i = hh[:, i : i + 1], hy[:, i : i + 1]
            cc_j, cy_j = cc[:, cols], cy[:, cols]
            det = hh_i * cc_j - hc * hc
            b_h = (cc_j * hy_i - hc * cy_j) / det
            b_c = (hh_i * cy_j - hc * hy_i) / det
            sse = yy[:, None] - b_h * hy_i - b_c * cy_j
            # var(b_h) = s^2 cc / det, var(b_c) = s^2 hh / det with s^2 = sse / dof
            qualified = (
                h_ok[:, i : i + 1]
                & c_ok[:, cols]
                & (det > 0)
                & (b_h > 0)
                & (b_c > 0)
                & (b_h * b_h * det > crit * sse * cc_j)
                & (b_c * b_c * det > crit * sse * hh_i)
            )
            keep(
                adj_r2(sse, k0[:, None] + 2),
                qualified,
                HDD_CDD,
                lambda j, i=i: np.full(n_sites, i),
                lambda j, i=i: j + i,
                b_h,
                b_c,
                sse,
            )
    has_h = (kind == HDD_ONLY) | (kind == HDD_CDD)
    has_c = (kind == CDD_ONLY) | (kind == HDD_CDD)
    bh_best = np.where(has_h, bh_best, 0.0)
    bc_best = np.where(has_c, bc_best, 0.0)
    sum_h = np.array([hdd[g][0][sites, ih] for g in range(3)])  # (3, S)
    sum_c = np.array([cdd[g][0][sites, ic] for g in range(3)])
    with np.errstate(invalid="ignore", divide="ignore"):
        a_g = (sy_g - bh_best * sum_h - bc_best * sum_c) * inv_n
    a_g = np.where(present, a_g, np.nan)
    # a day type absent from the baseline borrows the other weekend type, then working days
    a_g[1] = np.where(present[1], a_g[1], a_g[2])
    a_g[2] = np.where(present[2], a_g[2], a_g[1])
    a_g[0] = np.where(present[0], a_g[0], np.nanmean(a_g[1:], axis=0))
    a_g[1:] = np.where(np.isnan(a_g[1:]), a_g[0], a_g[1:])
    return {
        "model_type": kind,
        "intercept_kwh": a_g[0],
        "day_type_kwh": (a_g - a_g[0]).T,
        "heating_balance_c": np.where(has_h, (grid[ih] - 32) * 5 / 9, np.nan),
        "heating_kwh_per_degc_day": bh_best * 9 / 5,
        "cooling_balance_c": np.where(has_c, (grid[ic] - 32) * 5 / 9, np.nan),
        "cooling_kwh_per_degc_day": bc_best * 9 / 5,
        "r_squared_adj": best,
        "cvrmse": np.sqrt(sse_best / nf) / (sy_all / nf),
    }
