"""Each site's valid baseline days as the daily regressions read them, compiled (numba).

``date_order`` packs each site's valid days to the front, in date order; ``temperature_tables``
then builds, from those and each site's sort order, the days sorted by temperature, their
energy totals, a bin table for counting the days below a temperature, and the energy
quantiles.
Both run one site per thread; the NumPy they replace spent most of its time in temporaries of
the whole (sites x days) block.

The sort order itself stays NumPy's (``np.argsort`` of each site's valid days, as eemeter
sorts them): days of equal temperature keep NumPy's order, which eemeter's sums follow.

Glossary
--------
==========================  ==================================================================
here                        eemeter 4.1.1 (legacy daily model)
==========================  ==================================================================
``temp_f``, ``usage``       ``T`` [°F] and ``obs`` [kWh/day] of every site and day
``ok``                      days with both (eemeter drops the others before fitting)
``t_date``, ``y_date``      a site's valid days in date order (eemeter's ``T``, ``obs``)
``order``                   ``np.argsort(T)`` of each site's valid days
``t``, ``y``                ``T`` and ``obs`` in that order
``n``, ``m``                valid days per site (``len(T)``)
``y_by_value``              ``np.sort(obs)``, for the quantiles
``sums``                    Σ obs and Σ obs², added one by one in ``order``
``bins``, ``most``          ours: days below each of ``grid`` temperature bins (to count
                            the days below a temperature fast), the most one bin holds
``q``                       ``np.quantile(obs, quantiles)``: eemeter's intercept bounds
==========================  ==================================================================
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scoring.caltrack.exact_numpy import quantile


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
def temperature_tables(t_date, y_date, order, n, y_by_value, grid, quantiles):
    """Each site's n valid days (``date_order``) sorted by ``order`` (sites, width), and their
    energy sorted by value (``y_by_value``, NumPy's sort being several times faster):

    - t, y (sites, width): temperature [°F] and energy [kWh/day] in that order, padded with
      inf and 0;
    - sums (2, sites): the energy and its square summed in that order;
    - bins (sites, grid + 2) int32: the days below each of ``grid`` equal bins over the
      site's temperature range (bin k starts at T_min + k (T_max - T_min) / grid; bin
      grid + 1 holds the padding), and the most days one bin holds;
    - q (sites, len(quantiles)): np.quantile of the energy at each of ``quantiles``.
    """
    n_sites, width = order.shape
    t = np.full((n_sites, width), np.inf)
    y = np.zeros((n_sites, width))
    sums = np.zeros((2, n_sites))
    bins = np.zeros((n_sites, grid + 2), dtype=np.int32)
    most = np.zeros(n_sites, dtype=np.int64)
    q = np.empty((n_sites, quantiles.size))
    for s in prange(n_sites):
        m = n[s]
        sy, syy = 0.0, 0.0
        for k in range(m):
            yi = y_date[s, order[s, k]]
            t[s, k], y[s, k] = t_date[s, order[s, k]], yi
            sy += yi
            syy += yi * yi
        sums[0, s], sums[1, s] = sy, syy
        # bin table, as _Sorted.count computes a query's bin
        inv = grid / (t[s, m - 1] - t[s, 0])
        if not np.isfinite(inv):
            inv = 0.0
        for k in range(m):  # the days in each bin, then the days below each bin in place
            b = np.floor((t[s, k] - t[s, 0]) * inv)
            bins[s, int(min(max(b, 0.0), grid))] += 1
        bins[s, grid + 1] = width - m
        below = 0
        for b in range(grid + 2):
            days = bins[s, b]
            bins[s, b] = below
            below += days
            if b <= grid and days > most[s]:
                most[s] = days
        for j in range(quantiles.size):
            q[s, j] = quantile(y_by_value[s], m, quantiles[j])
    return t, y, sums, bins, most, q
