"""Baselines: the consumption each site would have had without the competition.

All functions take a sites x hours matrix of history and return a sites x hours matrix aligned
with the competition's hour grid, plus a mask of hours where the baseline is known.

- ``previous_year``: the same local hour 52 weeks (364 days) earlier, so weekdays line up.
- ``pre_period``: the mean of each hour of the week over the N weeks before the start.
"""

from __future__ import annotations

import numpy as np

from scoring.calendar import LocalHours

WEEKS_PER_YEAR_DAYS = 364  # 52 weeks: Monday maps to Monday


def previous_year(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    target: LocalHours,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline from the same local hour 364 days earlier.

    Parameters
    ----------
    history_kwh : array (sites, history hours)
        Hourly energy a year earlier [kWh].
    history_ok : array of bool (sites, history hours)
        Hours whose energy was measured.
    history, target : LocalHours
        Calendars of the history and the competition grid.

    Returns
    -------
    baseline_kwh : array (sites, target hours) [kWh]
    baseline_ok : array of bool (sites, target hours)

    Notes
    -----
    Hours are matched on (local date - 364 days, local hour, fold). Where the history day lacks
    that hour (the hour skipped at the spring DST change), the next local hour stands in; the
    repeated autumn hour falls back to its first occurrence.
    """
    if history_kwh.shape[1] == 0:
        shape = (history_kwh.shape[0], target.hour.size)
        return np.full(shape, np.nan), np.zeros(shape, dtype=bool)
    key_hist = _key(history.day_ordinal, history.hour, history.fold)
    day = target.day_ordinal - WEEKS_PER_YEAR_DAYS
    index = _lookup(key_hist, _key(day, target.hour, target.fold))
    missing = index < 0
    index[missing] = _lookup(key_hist, _key(day, target.hour, 0))[missing]
    missing = index < 0
    index[missing] = _lookup(key_hist, _key(day, target.hour + 1, 0))[missing]
    found = index >= 0
    safe = np.where(found, index, 0)
    baseline = np.where(found, history_kwh[:, safe], np.nan)
    ok = found & history_ok[:, safe]
    return np.where(ok, baseline, np.nan), ok


def pre_period(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    target: LocalHours,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline from the mean of each local hour of the week over the history weeks.

    Returns the same shapes as ``previous_year``; an hour of the week with no measured
    history hour has no baseline.
    """
    slots = 168
    hist_slot = history.hour_of_week
    weights = history_ok.astype(float)
    sums = np.zeros((history_kwh.shape[0], slots))
    counts = np.zeros((history_kwh.shape[0], slots))
    if hist_slot.size:
        order = np.argsort(hist_slot, kind="stable")
        sorted_slot = hist_slot[order]
        present, starts = np.unique(sorted_slot, return_index=True)
        values = np.where(history_ok, history_kwh, 0.0)[:, order]
        sums[:, present] = np.add.reduceat(values, starts, axis=1)
        counts[:, present] = np.add.reduceat(weights[:, order], starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(counts > 0, sums / counts, np.nan)
    baseline = profile[:, target.hour_of_week]
    return baseline, np.isfinite(baseline)


def _key(day: np.ndarray, hour: np.ndarray, fold: np.ndarray | int) -> np.ndarray:
    return (np.asarray(day, dtype=np.int64) * 25 + hour) * 2 + fold


def _lookup(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of each wanted key in ``keys`` (unique), or -1."""
    if keys.size == 0:
        return np.full(wanted.shape, -1, dtype=np.int64)
    order = np.argsort(keys)
    pos = np.clip(np.searchsorted(keys, wanted, sorter=order), 0, keys.size - 1)
    hit = keys[order[pos]] == wanted
    return np.where(hit, order[pos], -1)
