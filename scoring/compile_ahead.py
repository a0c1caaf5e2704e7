"""Compile the CalTRACK daily regression's numba code ahead of its first use.

Usage: python -m scoring.compile_ahead

The first ``fit_daily(method="caltrack")`` on a machine compiles the code it runs
(``scoring.caltrack``: ``direct``, ``subplex``, ``eemeter_loss``, ``exact_numpy``,
``daily_tables``), about a minute on a 2-core machine; numba caches the result beside the
modules (or, where that is not writable, in the user's cache directory) for every later
process. Run this once
after installing, as the user that will serve, so that the first leaderboard with a
``regression`` baseline does not wait for it. Prints how long it took.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np

from scoring.caltrack.daily import fit_daily, predict_daily

_SITES = 8
_DAYS = 365


def compile_ahead() -> float:
    """Fit a few synthetic meters once; returns the seconds it took."""
    rng = np.random.default_rng(0)
    first = date(2023, 1, 1).toordinal()
    days = np.arange(first, first + _DAYS)
    temp_c = 7 + 11 * np.sin(2 * np.pi * (np.arange(_DAYS) - 110) / 365.25)
    temp_c = temp_c + rng.normal(0, 2, (_SITES, _DAYS))
    # heating and cooling, and heating alone: both kinds of final fit
    cooling = np.where(np.arange(_SITES)[:, None] % 2 == 0, 30.0, 0.0)
    usage = 500 + 20 * np.maximum(14 - temp_c, 0) + cooling * np.maximum(temp_c - 19, 0)
    usage = usage * (1 + 0.05 * rng.standard_normal(usage.shape))
    usage[:, ::40] = np.nan  # missing days, as real meters have
    t0 = time.perf_counter()
    models = fit_daily(usage, temp_c, days)
    predict_daily(models, temp_c)
    return time.perf_counter() - t0


def main() -> None:
    seconds = compile_ahead()
    print(f"CalTRACK daily regression ready ({seconds:.1f} s; under 2 s means it was cached)")


if __name__ == "__main__":
    main()
