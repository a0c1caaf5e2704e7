"""Each site's valid baseline days sorted by temperature, as both daily regressions read them.

``SortedDays`` holds a chunk of sites' days with both energy and temperature, in date order
and sorted by temperature as eemeter sorts them, with what the fits look up: energy totals and
quantiles, eemeter's balance-point ranges and a table for counting the days below a
temperature. The eemeter emulation (``eemeter_daily``) and the day-type grid
(``daytype_grid``) both fit from it.

Glossary
--------
Units: temperatures [°F], energy [kWh/day].

=============================  ===============================================================
here                           eemeter 4.1.1 (legacy daily model)
=============================  ===============================================================
``t``, ``y``                   ``T``, ``obs``: each site's valid days sorted by temperature,
                               padded with inf and 0
``t_date``, ``y_date``         the same days in date order
``n``                          valid days per site (``len(T)``)
``real``                       the cells of ``t`` that hold a day (not padding)
``order``                      the column of each sorted day in the caller's arrays
``tmin``, ``tmax``             ``T_min``, ``T_max``
``seg_lo``, ``seg_hi``         T₍₁₁₎ and T₍N-9₎: ``np.partition(T, 10)[10]`` and
                               ``np.partition(T, -10)[-10]``, the final fit's balance-point
                               bounds (``segment_minimum_count`` days each side)
``direct_lo``, ``direct_hi``   T₍₁₀₎ and T₍N-9₎: DIRECT's ``T_bnds``
``energy_range``               the 1 % and 99 % quantiles of ``obs``: the intercept's bounds
``y_sum``, ``y2_sum``          Σ obs and Σ obs²
=============================  ===============================================================
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from scoring.caltrack.daily_tables import date_order, temperature_tables
from scoring.caltrack.rules import SEGMENT_MIN_DAYS


def _sort_days(t_date: np.ndarray, y_date: np.ndarray, n: np.ndarray):
    """The order of each site's n valid days (``date_order``) by temperature, as eemeter
    sorts them, and their energy sorted by value (NaN, no day, last).

    eemeter sorts with np.argsort (introsort) of the site's days in date order; days of equal
    temperature keep the order it gives them, so each site is sorted alone (sites with as
    many days together: NumPy sorts each row on its own). NumPy releases the GIL while it
    sorts, so the blocks are sorted on as many threads as numba uses.
    """
    width = t_date.shape[1]
    order = np.zeros(t_date.shape, dtype=np.int64)
    y_by_value = np.empty_like(y_date)
    threads = numba.get_num_threads()
    blocks = [
        (m, part)
        for m in np.unique(n).tolist()
        for part in np.array_split(np.flatnonzero(n == m), threads)
        if part.size
    ]

    def sort(block):
        m, rows = block
        order[rows, :m] = np.argsort(t_date[rows, :m], axis=1)
        order[rows, m:] = np.arange(m, width)

    def sort_energy(rows):
        y_by_value[rows] = np.sort(y_date[rows], axis=1)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(sort, blocks))
        list(pool.map(sort_energy, np.array_split(np.arange(n.size), threads)))
    return order, y_by_value


class SortedDays:
    """Each site's valid days in date order and sorted by temperature (°F and kWh), with
    what the fits look up: energy totals and quantiles, the balance-point ranges and a table
    for counting the days below a temperature (``count``)."""

    _GRID = 1024  # bins over each site's temperature range for ``count``

    def __init__(self, temp_f: np.ndarray, usage: np.ndarray, ok: np.ndarray):
        n = ok.sum(axis=1)
        width = int(n.max())
        t_date, y_date, column = date_order(temp_f, usage, ok)
        self.t_date, self.y_date = t_date[:, :width], y_date[:, :width]
        order, y_by_value = _sort_days(self.t_date, self.y_date, n)
        t, y, sums, bins, most, q = temperature_tables(
            self.t_date, self.y_date, order, n, y_by_value, self._GRID, np.array([0.01, 0.99])
        )
        self.n_sites, self.width = t.shape
        self.n = n
        rows = np.arange(self.n_sites)
        self._column, self._sorted_at = column[:, :width], order
        self.t, self.y, self.real = t, y, np.isfinite(t)
        self._quantiles = q
        # count(): the table of the days below each of _GRID bins, then a step over the few
        # days in the query's bin (exact comparisons, as eemeter's T < x)
        self._tflat = t.ravel()
        self._g_lo = t[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            self._g_inv = self._GRID / (t[rows, n - 1] - t[:, 0])
        self._g_inv = np.where(np.isfinite(self._g_inv), self._g_inv, 0.0)
        self._g_start = bins.ravel()  # row * (g + 2) + k: days in bins below k
        self._g_steps = int(most.max(initial=0)) + 1
        self.y_sum, self.y2_sum = sums  # energy [kWh/day] and its square, summed in order
        self.tmin = t[:, 0]
        self.tmax = t[rows, n - 1]
        k = SEGMENT_MIN_DAYS
        self.seg_lo = t[rows, k]  # np.partition(T, 10)[10]
        self.seg_hi = t[rows, n - k]  # np.partition(T, -10)[-10]
        lo, hi = t[rows, k - 1], t[rows, n - k]  # DIRECT bounds T[9], T[-10]
        same = lo == hi
        lo, hi = np.where(same, self.tmin, lo), np.where(same, self.tmax, hi)
        self.direct_lo, self.direct_hi = np.minimum(lo, hi), np.maximum(lo, hi)

    @functools.cached_property
    def order(self) -> np.ndarray:
        """The column of each sorted day in the caller's arrays (0 in the padding)."""
        return np.take_along_axis(np.maximum(self._column, 0), self._sorted_at, axis=1)

    @functools.cached_property
    def energy_range(self) -> tuple[np.ndarray, np.ndarray]:
        """eemeter's intercept bounds: the 1 % and 99 % quantiles of each site's energy, moved
        apart where equal (``fix_identical_bnds``)."""
        return widen_equal(self._quantiles[:, 0], self._quantiles[:, 1])

    def count(
        self, site: np.ndarray, x: np.ndarray, strict: bool, start: np.ndarray | None = None
    ) -> np.ndarray:
        """Number of a site's temperatures < x (strict) or <= x; ``start``: a known lower
        bound of the count (the strict count, for the non-strict one)."""
        if start is None:
            g = self._GRID
            k = np.floor((x - self._g_lo[site]) * self._g_inv[site])
            k = np.minimum(np.maximum(k, 0), g + 1)
            k = np.where(np.isnan(k), g + 1, k).astype(np.int64)  # NaN sorts last, as in numpy
            pos = self._g_start[site * (g + 2) + k].astype(np.int64)
        else:
            pos = start.copy()
        n, base, top = self.n[site], site * self.width, self.width - 1
        for _ in range(self._g_steps):
            t = self._tflat[base + np.minimum(pos, top)]
            step = (pos < n) & ((t < x) if strict else (t <= x))
            if not step.any():
                break
            pos += step
        return pos


def widen_equal(lo, hi):
    """eemeter ``fix_identical_bnds``: equal bounds b move apart by 10^floor(log10 |b|) (10
    where b is 0)."""
    same = lo == hi
    if same.any():
        mag = np.abs(lo[same])
        width = np.where(mag > 0, 10.0 ** np.floor(np.log10(np.where(mag > 0, mag, 1.0))), 10.0)
        lo, hi = lo.copy(), hi.copy()
        lo[same], hi[same] = lo[same] - width, hi[same] + width
    return lo, hi
