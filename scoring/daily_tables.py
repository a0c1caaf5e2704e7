"""Each site's valid baseline days as the daily regressions read them, compiled (numba).

``date_order`` packs each site's valid days to the front, in date order; ``temperature_tables``
then builds, from those and each site's sort order, the days sorted by temperature, their
prefix sums, a bin table for counting the days below a temperature, and the energy quantiles.
Both run one site per thread; the NumPy they replace spent most of its time in temporaries of
the whole (sites x days) block.

The sort order itself stays NumPy's (``np.argsort`` of each site's valid days, as eemeter
sorts them): days of equal temperature keep NumPy's order, which eemeter's sums follow.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scoring.caltrack_initial_fit import quantile


@njit(cache=True, error_model="numpy", parallel=True)
def date_order(temp_f, usage, ok):  # pragma: no cover - compiled
    """The valid days of each site in date order, at the front of each row (sites, days):
    their temperatures [°F], energy [kWh/day] and column indices; NaN (-1) after them."""
    n_sites, n_days = ok.shape
    t_date = np.full((n_sites, n_days), np.nan)
    y_date = np.full((n_sites, n_days), np.nan)
    column = np.full((n_sites, n_days), -1, dtype=np.int64)
    for s in prange(n_sites):
        k = 0
        for d in range(n_days):
            if ok[s, d]:
                t_date[s, k], y_date[s, k], column[s, k] = temp_f[s, d], usage[s, d], d
                k += 1
    return t_date, y_date, column


@njit(cache=True, error_model="numpy", parallel=True)
def temperature_tables(t_date, y_date, order, n, grid, quantiles):  # pragma: no cover
    """Each site's n valid days (``date_order``) sorted by ``order`` (sites, width):

    - t, y (sites, width): temperature [°F] and energy [kWh/day] in that order, padded with
      inf and 0;
    - prefix (5, sites, width + 1): running sums of T, T², E, E², T·E (0 first);
    - bins (sites, grid + 2) int32: the days below each of ``grid`` equal bins over the
      site's temperature range (bin k starts at T_min + k (T_max - T_min) / grid; bin
      grid + 1 holds the padding), and the most days one bin holds;
    - q (sites, len(quantiles)): np.quantile of the energy at each of ``quantiles``.
    """
    n_sites, width = order.shape
    t = np.full((n_sites, width), np.inf)
    y = np.zeros((n_sites, width))
    prefix = np.zeros((5, n_sites, width + 1))
    bins = np.zeros((n_sites, grid + 2), dtype=np.int32)
    most = np.zeros(n_sites, dtype=np.int64)
    q = np.empty((n_sites, quantiles.size))
    for s in prange(n_sites):
        m = n[s]
        st, s2, sy, syy, sty = 0.0, 0.0, 0.0, 0.0, 0.0
        for k in range(m):
            ti, yi = t_date[s, order[s, k]], y_date[s, order[s, k]]
            t[s, k], y[s, k] = ti, yi
            st += ti
            s2 += ti * ti
            sy += yi
            syy += yi * yi
            sty += ti * yi
            prefix[0, s, k + 1], prefix[1, s, k + 1], prefix[2, s, k + 1] = st, s2, sy
            prefix[3, s, k + 1], prefix[4, s, k + 1] = syy, sty
        for k in range(m, width):  # the padding repeats the totals
            for p in range(5):
                prefix[p, s, k + 1] = prefix[p, s, m]
        # bin table, as _Sorted.count computes a query's bin
        per_bin = np.zeros(grid + 2, dtype=np.int64)
        inv = grid / (t[s, m - 1] - t[s, 0])
        if not np.isfinite(inv):
            inv = 0.0
        for k in range(m):
            b = np.floor((t[s, k] - t[s, 0]) * inv)
            per_bin[int(min(max(b, 0.0), grid))] += 1
        per_bin[grid + 1] = width - m
        below = 0
        for b in range(grid + 2):
            bins[s, b] = below
            below += per_bin[b]
            if b <= grid and per_bin[b] > most[s]:
                most[s] = per_bin[b]
        sorted_y = np.sort(y[s, :m])
        for j in range(quantiles.size):
            q[s, j] = quantile(sorted_y, m, quantiles[j])
    return t, y, prefix, bins, most, q
