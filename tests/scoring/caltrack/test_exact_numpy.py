"""The compiled CalTRACK daily arithmetic does NumPy's and eemeter's arithmetic to the last bit.

The daily regression reproduces eemeter's searches step for step, so its sums, quantiles,
standard deviations and model residuals must equal what NumPy and eemeter compute, bit for
bit, not just closely; and the per-site tables must hold each site's days as eemeter sorts
them.
"""

from __future__ import annotations

import numpy as np
import pytest

from scoring.caltrack import eemeter_loss, exact_numpy
from scoring.caltrack.sorted_days import SortedDays

RNG_SEED = 20261128


def _values(rng, n):
    """Values of mixed magnitude and sign, where summation order shows in the last bits."""
    return rng.normal(size=n) * 10 ** rng.uniform(-3, 4, n)


@pytest.mark.parametrize("n", [*range(1, 300), 511, 512, 513, 1000, 1031, 2048, 4000])
def test_planned_sum_is_numpys_sum(n):
    rng = np.random.default_rng(RNG_SEED + n)
    a = _values(rng, n)
    rows = np.zeros((3, n + 1))
    rows[1, :n] = a
    assert exact_numpy.planned_sum(rows, 1, exact_numpy.sum_plan(n)) == np.sum(a)
    assert exact_numpy.pairwise_sum(a, 0, n) == np.sum(a)


def test_np_std_and_quantile_are_numpys():
    rng = np.random.default_rng(RNG_SEED)
    for trial in range(500):
        n = int(rng.integers(1, 400))
        y = rng.uniform(0, 5000, n)
        if trial % 2:  # ties, as metered kWh rounded to whole units have
            y = np.round(y)
        assert exact_numpy.np_std(y, 0, n, np.empty(n)) == np.std(y)
        ys = np.sort(y)
        for q in (0.0, 0.01, 0.2, 0.5, 0.99, 1.0):
            assert exact_numpy.quantile(ys, n, q) == np.quantile(y, q), (n, q)


def test_count_below_is_searchsorted():
    rng = np.random.default_rng(RNG_SEED)
    for n in [0, 1, 2, 3, 10, 64, 333, 365]:
        ts = np.sort(np.round(rng.uniform(20, 80, n)))  # whole degrees: many ties
        rows = np.vstack([ts, ts])
        probes = [*rng.uniform(10, 90, 20), *ts[:10], 20.0, 80.0]
        for x in probes:
            assert exact_numpy.count_below(rows, 0, n, x, True) == np.searchsorted(ts, x, "left")
            assert exact_numpy.count_below(rows, 1, n, x, False) == np.searchsorted(ts, x, "right")


def _eemeter_residual(t, e, hb, hbeta, cb, cbeta, a):
    """eemeter 4.1.1 full_model (no smoothing) minus the energy, as it branches per day."""
    tmin, tmax = t.min(), t.max()
    out = np.empty(t.size)
    for i, ti in enumerate(t):
        heat = ti < hb or (hb == cb and cb >= tmax)
        cool = not heat and (ti > cb or (hb == cb and hb <= tmin))
        if heat:
            model = -hbeta * (ti - hb) + a
        elif cool:
            model = cbeta * (ti - cb) + a
        else:
            model = a
        out[i] = model - e[i]
    return out


def test_day_residuals_are_eemeters_including_balance_points_at_the_ends():
    rng = np.random.default_rng(RNG_SEED)
    for trial in range(400):
        n = int(rng.integers(1, 120))
        t = np.round(rng.uniform(-10, 90, n), int(rng.integers(0, 2)))
        e = rng.uniform(10, 5000, n)
        case = trial % 5
        if case == 0:
            hb, cb = np.sort(rng.uniform(-20, 100, 2))
        elif case == 1:
            hb, cb = np.sort(rng.choice(t, 2))  # balance points on a day's temperature
        elif case == 2:
            hb = cb = t.max()  # heating over the whole range
        elif case == 3:
            hb = cb = t.min()  # cooling over the whole range
        else:
            hb = cb = rng.choice(t)
        hbeta, cbeta = (0.0 if rng.random() < 0.2 else rng.uniform(0, 80) for _ in range(2))
        a = rng.uniform(0, 5000)
        out = np.empty(n)
        eemeter_loss._residuals(t, e, n, hb, hbeta, cb, cbeta, a, out)
        expected = _eemeter_residual(t, e, hb, hbeta, cb, cbeta, a)
        assert np.array_equal(out, expected), (trial, hb, cb)


def test_site_tables_hold_each_sites_days_as_eemeter_sorts_them():
    """Sorted as np.argsort sorts each site's valid days in date order (ties included), with
    energy totals and the 1 %/99 % energy quantiles; sites of different day counts together."""
    rng = np.random.default_rng(RNG_SEED)
    n_sites, n_days = 40, 365
    temp_f = np.round(rng.uniform(10, 90, (n_sites, n_days)))  # whole °F: many ties
    usage = rng.uniform(100, 900, (n_sites, n_days))
    ok = rng.random((n_sites, n_days)) > rng.uniform(0, 0.1, (n_sites, 1))
    sd = SortedDays(temp_f, usage, ok)
    for s in range(n_sites):
        t_date, y_date = temp_f[s, ok[s]], usage[s, ok[s]]
        m = t_date.size
        order = np.argsort(t_date)
        assert sd.n[s] == m
        assert np.array_equal(sd.t_date[s, :m], t_date)
        assert np.array_equal(sd.t[s, :m], t_date[order])
        assert np.array_equal(sd.y[s, :m], y_date[order])
        assert np.array_equal(sd.order[s, :m], np.flatnonzero(ok[s])[order])
        assert sd.y_sum[s] == np.cumsum(y_date[order])[-1]
        assert sd.y2_sum[s] == np.cumsum(y_date[order] ** 2)[-1]
        lo, hi = sd.energy_range[0][s], sd.energy_range[1][s]
        assert (lo, hi) == tuple(np.quantile(y_date, [0.01, 0.99]))
    # counting the days below a temperature through the bin table
    sites = np.repeat(np.arange(n_sites), 50)
    x = rng.uniform(5, 95, sites.size)
    x[::5] = temp_f[sites[::5], 7]  # on a day's temperature
    below = sd.count(sites, x, strict=True)
    upto = sd.count(sites, x, strict=False)
    for k, s in enumerate(sites):
        ts = sd.t[s, : sd.n[s]]
        assert below[k] == np.searchsorted(ts, x[k], "left")
        assert upto[k] == np.searchsorted(ts, x[k], "right")
