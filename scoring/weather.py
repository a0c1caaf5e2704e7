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
    out = np.full(days.size, np.nan)
    if ts_s.size == 0 or grid.hour_start_s.size == 0:
        return out
    hour = np.searchsorted(grid.hour_start_s, ts_s, side="right") - 1
    inside = (hour >= 0) & (ts_s < grid.hour_start_s[-1] + 3600.0) & np.isfinite(temp_c)
    day_index = np.searchsorted(days, grid.day_ordinal[hour[inside]])
    sums = np.bincount(day_index, weights=temp_c[inside], minlength=days.size)
    counts = np.bincount(day_index, minlength=days.size)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


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
    ts_s = np.asarray(ts_s, dtype=float)
    temp_c = np.asarray(temp_c, dtype=float)
    n = grid.hour_start_s.size
    out = np.full(n, np.nan)
    if ts_s.size == 0 or n == 0:
        return out
    hour = np.searchsorted(grid.hour_start_s, ts_s, side="right") - 1
    inside = (hour >= 0) & (ts_s < grid.hour_start_s[-1] + 3600.0) & np.isfinite(temp_c)
    sums = np.bincount(hour[inside], weights=temp_c[inside], minlength=n)
    counts = np.bincount(hour[inside], minlength=n)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out
