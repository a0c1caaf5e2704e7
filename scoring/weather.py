"""Outdoor temperature samples → daily mean temperature per local day of an hour grid."""

from __future__ import annotations

import numpy as np

from scoring.calendar import LocalHours


def daily_mean_temp_c(ts_s: np.ndarray, temp_c: np.ndarray, grid: LocalHours) -> np.ndarray:
    """Mean temperature of each local day of ``grid``, in date order.

    Parameters
    ----------
    ts_s : array
        Sample times [Unix s].
    temp_c : array
        Outdoor temperature [°C].
    grid : LocalHours
        The days to average over (each sample counts for the local day its hour belongs to).

    Returns
    -------
    array (days,)
        Daily mean [°C]; NaN for a day without samples.

    Notes
    -----
    A plain mean of the samples in the day: stations report hourly (SMHI) or more often; a day
    with samples only at some hours is still averaged over what there is.
    """
    days = np.unique(grid.day_ordinal)
    hour, inside = _hour_of(ts_s, temp_c, grid)
    return _group_mean(
        np.searchsorted(days, grid.day_ordinal[hour[inside]]),
        np.asarray(temp_c, dtype=float)[inside],
        days.size,
    )


def hourly_mean_temp_c(ts_s: np.ndarray, temp_c: np.ndarray, grid: LocalHours) -> np.ndarray:
    """Mean temperature of each hour of ``grid``.

    Parameters
    ----------
    ts_s : array
        Sample times [Unix s].
    temp_c : array
        Outdoor temperature [°C].
    grid : LocalHours
        The hours to average over; a sample counts for the hour ``[start, start + 3600 s)``
        it falls in.

    Returns
    -------
    array (hours,)
        Hourly mean [°C]; NaN for an hour without samples.

    Notes
    -----
    A plain mean of the samples in the hour. SMHI stations report once an hour, on the hour,
    so each hour usually holds the one sample taken at its start. Hours are not interpolated.
    """
    hour, inside = _hour_of(ts_s, temp_c, grid)
    return _group_mean(
        hour[inside], np.asarray(temp_c, dtype=float)[inside], grid.hour_start_s.size
    )


def _hour_of(
    ts_s: np.ndarray, temp_c: np.ndarray, grid: LocalHours
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the grid hour each sample falls in, and which samples fall in the grid."""
    ts_s = np.asarray(ts_s, dtype=float)
    if grid.hour_start_s.size == 0:
        return np.zeros(ts_s.size, dtype=np.int64), np.zeros(ts_s.size, dtype=bool)
    hour = np.searchsorted(grid.hour_start_s, ts_s, side="right") - 1
    inside = (
        (hour >= 0)
        & (ts_s < grid.hour_start_s[-1] + 3600.0)
        & np.isfinite(np.asarray(temp_c, dtype=float))
    )
    return hour, inside


def _group_mean(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of ``values`` per group index; NaN for an empty group."""
    out = np.full(n_groups, np.nan)
    sums = np.bincount(group, weights=values, minlength=n_groups)
    counts = np.bincount(group, minlength=n_groups)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out
